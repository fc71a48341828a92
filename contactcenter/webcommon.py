"""What every HTTP and websocket module shares: authentication of requests, JSON error
responses and bounded JSON bodies, and the two application keys that exist before any
service (settings, the database pool). The services' own keys are in appkeys.py."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, NoReturn

import asyncpg
from aiohttp import web

from contactcenter import jsonin
from contactcenter.auth import RoleError, TokenClaims, TokenError, require_role, verify_token
from contactcenter.settings import Settings

SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
POOL: web.AppKey[asyncpg.Pool] = web.AppKey("pool")

MAX_JSON_BODY = 64 * 1024


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
        503: web.HTTPServiceUnavailable,
    }
    cls = kinds.get(status, web.HTTPBadRequest)
    body = json_error(status, code, message).text
    if cls is web.HTTPRequestEntityTooLarge:
        raise web.HTTPRequestEntityTooLarge(
            MAX_JSON_BODY, 0, text=body, content_type="application/json"
        )
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    raise cls(text=body, content_type="application/json", headers=headers)


class Authenticator:
    """Checks a request's bearer token against the server's secret and the roles allowed."""

    def __init__(self, settings: Settings) -> None:
        self._secret = settings.token_secret_bytes()

    def check(
        self, request: web.Request, roles: Collection[str], *, query_token: bool = False
    ) -> TokenClaims:
        """The caller's claims from ``Authorization: Bearer`` (or ``?token=`` for
        websockets, which browsers cannot give headers); 401 / 403 JSON errors otherwise."""
        header = request.headers.get("Authorization", "")
        token: str | None = None
        if header.lower().startswith("bearer "):
            token = header[7:].strip()
        elif query_token:
            token = request.query.get("token")
        try:
            claims = verify_token(self._secret, token)
        except TokenError as exc:
            fail(401, f"token_{exc.reason}", str(exc))
        try:
            require_role(claims, roles)
        except RoleError as exc:
            fail(403, "forbidden", str(exc))
        return claims


def authenticate(
    request: web.Request, roles: Collection[str], *, query_token: bool = False
) -> TokenClaims:
    """``Authenticator.check`` with the settings of the request's application."""
    return Authenticator(request.app[SETTINGS]).check(request, roles, query_token=query_token)


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
