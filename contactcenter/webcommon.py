"""What every HTTP and websocket module shares: authentication of requests, JSON error
responses and bounded JSON bodies, and the two application keys that exist before any
service (settings, the database pool). The services' own keys are in appkeys.py."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Collection
from typing import Any, NoReturn

import asyncpg
from aiohttp import WSMsgType, web

from contactcenter import jsonin
from contactcenter import protocol as p
from contactcenter.auth import RoleError, TokenClaims, TokenError, require_role, verify_token
from contactcenter.clock import Scheduler
from contactcenter.sessions import SessionRegistry
from contactcenter.settings import Settings

SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
POOL: web.AppKey[asyncpg.Pool] = web.AppKey("pool")

MAX_JSON_BODY = 64 * 1024
RETRY_AFTER_S = 2
"""What a 503 advises (its Retry-After header): the node rebuilds within seconds."""


def json_error(status: int, code: str, message: str, **extra: Any) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message, **extra}}, status=status)


def fail(status: int, code: str, message: str) -> NoReturn:
    """Abort the request with a JSON error body (aiohttp exceptions carry a response)."""
    kinds: dict[int, type[web.HTTPException]] = {
        400: web.HTTPBadRequest,
        401: web.HTTPUnauthorized,
        403: web.HTTPForbidden,
        404: web.HTTPNotFound,
        409: web.HTTPConflict,
        413: web.HTTPRequestEntityTooLarge,
        429: web.HTTPTooManyRequests,
        503: web.HTTPServiceUnavailable,
    }
    cls = kinds.get(status, web.HTTPBadRequest)
    body = json_error(status, code, message).text
    if cls is web.HTTPRequestEntityTooLarge:
        raise web.HTTPRequestEntityTooLarge(
            MAX_JSON_BODY, 0, text=body, content_type="application/json"
        )
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if status == 503:
        # The service will be back (a fail-stop rebuild, a database restart): say when
        # to try again RETRY_AFTER_S.
        headers = {"Retry-After": str(RETRY_AFTER_S)}
    raise cls(text=body, content_type="application/json", headers=headers)


class AuthFailure(Exception):
    """A token refused: HTTP ``status`` (401, 403) and a stable ``code``."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class Authenticator:
    """Checks a bearer token: the server's secret, its expiry, its session (revoked
    sessions and disabled users are refused, contactcenter/sessions.py) and the roles
    allowed."""

    def __init__(self, settings: Settings, registry: SessionRegistry) -> None:
        self._secret = settings.token_secret_bytes()
        self.registry = registry

    def verify(self, token: str | None, roles: Collection[str]) -> TokenClaims:
        """The token's claims, or ``AuthFailure`` (401 ``token_<reason>``, 403 ``forbidden``)."""
        try:
            claims = verify_token(self._secret, token)
            self.registry.check(claims)
        except TokenError as exc:
            raise AuthFailure(401, f"token_{exc.reason}", str(exc)) from None
        try:
            require_role(claims, roles)
        except RoleError as exc:
            raise AuthFailure(403, "forbidden", str(exc)) from None
        return claims

    def check(
        self, request: web.Request, roles: Collection[str], *, query_token: bool = False
    ) -> TokenClaims:
        """The caller's claims from ``Authorization: Bearer``; 401 / 403 JSON errors
        otherwise. ``query_token``: also ``?token=`` (only the gateway's socket still
        takes it; the access log redacts it, contactcenter/accesslog.py)."""
        token = bearer_of(request)
        if token is None and query_token:
            token = request.query.get("token")
        try:
            return self.verify(token, roles)
        except AuthFailure as exc:
            fail(exc.status, exc.code, exc.message)


AUTHENTICATOR: web.AppKey[Authenticator] = web.AppKey("authenticator", Authenticator)
"""Set by the composition root (app.py): the one authenticator, with the session registry."""


def bearer_of(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


def authenticate(
    request: web.Request, roles: Collection[str], *, query_token: bool = False
) -> TokenClaims:
    """``Authenticator.check`` with the authenticator of the request's application."""
    return request.app[AUTHENTICATOR].check(request, roles, query_token=query_token)


def refuse_token_in_url(request: web.Request) -> None:
    """A browser socket with ``?token=``: refused (400 ``token_in_url``), so that no
    client keeps putting bearer tokens where logs and proxies record them."""
    if "token" in request.query:
        fail(
            400,
            "token_in_url",
            "tokens are not accepted in URLs; open the socket without it and send "
            '{"type": "auth", "token": ...} as the first frame',
        )


async def send_error_frame(ws: web.WebSocketResponse, code: str, message: str) -> bool:
    """An ``error`` frame (seq 0: outside any channel) naming why a socket is about to be
    closed; False when it is closed already."""
    if ws.closed:
        return False
    with contextlib.suppress(ConnectionError, RuntimeError):
        await ws.send_str(p.envelope(p.ERROR, 0, p.error_data(code, message, None)))
    return True


async def close_unauthenticated(ws: web.WebSocketResponse, code: str, message: str) -> None:
    if await send_error_frame(ws, code, message):
        await ws.close(code=p.CLOSE_UNAUTHENTICATED, message=code.encode()[:120])


async def close_forbidden(ws: web.WebSocketResponse, code: str, message: str) -> None:
    if await send_error_frame(ws, code, message):
        await ws.close(code=p.CLOSE_FORBIDDEN, message=code.encode()[:120])


async def close_session_ended(ws: web.WebSocketResponse, code: str, message: str) -> None:
    if await send_error_frame(ws, code, message):
        await ws.close(code=p.CLOSE_SESSION_ENDED, message=code.encode()[:120])


async def authenticate_socket(
    auth: Authenticator,
    request: web.Request,
    ws: web.WebSocketResponse,
    roles: Collection[str],
    scheduler: Scheduler,
    timeout_s: float = p.AUTH_TIMEOUT_S,
) -> TokenClaims | None:
    """The claims of a prepared socket: from ``Authorization: Bearer`` on the upgrade
    request, else from its first frame (``protocol.AuthFrame``) within ``timeout_s`` of
    the scheduler's clock. None when it did not authenticate: the socket is then closed
    with an error frame and ``CLOSE_UNAUTHENTICATED`` / ``CLOSE_FORBIDDEN``."""
    token = bearer_of(request)
    if token is None:
        closing: list[asyncio.Task[None]] = []

        def too_late() -> None:
            closing.append(
                asyncio.get_running_loop().create_task(
                    close_unauthenticated(
                        ws,
                        "auth_timeout",
                        f"no auth frame within {timeout_s:g} s of opening the socket",
                    )
                )
            )

        timer = scheduler.call_later(timeout_s, too_late)
        try:
            msg = await ws.receive()
        finally:
            timer.cancel()
        if closing:
            await closing[0]
            return None
        if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
            return None  # closed or failed before authenticating
        try:
            token = p.parse_auth_frame(msg.data)
        except p.ProtocolError as exc:
            await close_unauthenticated(ws, exc.code, exc.message)
            return None
    try:
        return auth.verify(token, roles)
    except AuthFailure as exc:
        if exc.status == 403:
            await close_forbidden(ws, exc.code, exc.message)
        else:
            await close_unauthenticated(ws, exc.code, exc.message)
        return None


async def read_body(request: web.Request, limit: int) -> bytes | None:
    """The request's whole body, or None as soon as it exceeds ``limit`` bytes (the rest
    is not read). A single ``read(n)`` may return only the first chunk of a chunked body:
    this reads until the end."""
    if request.content_length is not None and request.content_length > limit:
        return None
    raw = bytearray()
    while len(raw) <= limit:
        chunk = await request.content.read(limit + 1 - len(raw))
        if not chunk:
            break
        raw += chunk
    return bytes(raw) if len(raw) <= limit else None


async def read_json(request: web.Request) -> dict[str, Any]:
    """The request's JSON object body, bounded in size and decoded by ``jsonin.loads``
    (depth, finite numbers, storable text); 413, or 400 naming the ``field`` to blame."""
    raw = await read_body(request, MAX_JSON_BODY)
    if raw is None:
        fail(413, "body_too_large", f"request body exceeds {MAX_JSON_BODY} bytes")
    try:
        data = jsonin.loads(raw or b"null")
    except jsonin.BadJson as exc:
        extra = {} if exc.field is None else {"field": exc.field}
        raise web.HTTPBadRequest(
            text=json_error(400, exc.code, f"body refused: {exc.message}", **extra).text,
            content_type="application/json",
        ) from None
    if not isinstance(data, dict):
        fail(400, "bad_request", "body must be a JSON object")
    return data
