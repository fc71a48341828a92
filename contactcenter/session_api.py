"""Logins and sessions over HTTP, and ``GET /api/queues``.

``SessionService`` (built by the composition root with the registry, the throttle, the
hashing pool and the services that hold sockets):

- ``POST /api/login`` ``{"username", "password"}``: throttled per username and per client
  address (429 with Retry-After), scrypt in a bounded pool (503 ``busy`` with Retry-After
  when its queue is full). Creates a stored session; answers a short access ``token``
  (``expires_at``) and a ``refresh_token`` (until ``session_expires_at``).
- ``POST /api/session/refresh`` ``{"refresh_token"}``: a new access token and a new refresh
  token (the old one is spent; 401 ``refresh_invalid`` once used or revoked).
- ``POST /api/logout``: ends the caller's session (its sockets close).
- ``GET /api/sessions[?user_id=&kind=]`` (admin): the live sessions; ``DELETE
  /api/sessions/{session_id}`` (admin, or the session's own user) revokes one.
- ``POST /api/supervisor/wallboard-token`` (admin) ``{"name", "days"}``: a wallboard
  screen's token, itself a session (listed, revocable).
- ``POST /api/admin/users/{user_id}/disable`` ``{"disabled"}`` and
  ``POST /api/admin/users/{user_id}/password`` ``{"password"}`` (admin), ``POST
  /api/password`` ``{"current_password", "new_password"}`` (oneself): each ends the user's
  sessions and closes its sockets within a second.
"""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import Sequence
from typing import Literal

import asyncpg
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contactcenter.auth import WALLBOARD, TokenRole, issue_token
from contactcenter.clock import Scheduler, Timer
from contactcenter.limits import client_address
from contactcenter.sessions import (
    EndedSessions,
    HasherBusy,
    LoginThrottle,
    PasswordHasher,
    SessionEntry,
    SessionKind,
    SessionRegistry,
    SessionSockets,
    Throttled,
)
from contactcenter.settings import Settings
from contactcenter.store import sessions as stored
from contactcenter.store.users import (
    UnknownUser,
    User,
    get_user,
    set_disabled,
    set_password,
    verify_credentials,
)
from contactcenter.webcommon import Authenticator, authenticate, fail, json_error, read_json

log = logging.getLogger(__name__)

ANY_ROLE = frozenset({"agent", "supervisor", "admin"})
SWEEP_S = 30.0
"""How often sessions past their lifetime are dropped and their sockets closed."""
KEEP_ENDED_DAYS = 30
"""Ended sessions stay in the table this long (who was signed in, from where), then the
next start deletes them."""


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class RefreshIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=16, max_length=256)


class DisableIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    disabled: bool


class PasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    password: str = Field(min_length=8, max_length=1024)


class ChangePasswordIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=8, max_length=1024)


class SessionOut(BaseModel):
    """A live session (never its tokens)."""

    id: str
    user_id: str
    role: Literal["agent", "supervisor", "admin", "wallboard"]
    kind: Literal["login", "wallboard"]
    label: str
    created_by: str | None
    address: str | None
    created_at: str
    last_used_at: str
    expires_at: str


class SessionListOut(BaseModel):
    sessions: list[SessionOut]


def _session_out(s: stored.StoredSession) -> SessionOut:
    return SessionOut(
        id=s.id,
        user_id=s.user_id,
        role=s.role,
        kind=s.kind,
        label=s.label,
        created_by=s.created_by,
        address=s.address,
        created_at=s.created_at.isoformat(),
        last_used_at=s.last_used_at.isoformat(),
        expires_at=s.expires_at.isoformat(),
    )


class WallboardTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")
    """Which screen (shown in logs as ``wallboard:<name>``)."""
    days: int = Field(90, ge=1, le=3650)


class WallboardTokenOut(BaseModel):
    token: str
    name: str
    role: Literal["wallboard"]
    expires_at: int
    session_id: str | None = None
    """The stored session of the token: an admin lists it (``GET /api/sessions``) and
    revokes it (``DELETE /api/sessions/{session_id}``)."""


class SessionService:
    """Logins, refreshes, logouts and revocations; keeps the registry and the database
    in step and closes the sockets of every session it ends."""

    def __init__(
        self,
        settings: Settings,
        pool: asyncpg.Pool,
        auth: Authenticator,
        registry: SessionRegistry,
        throttle: LoginThrottle,
        hasher: PasswordHasher,
        scheduler: Scheduler,
        sockets: Sequence[SessionSockets],
        *,
        wallboard_token_max_days: int,
    ) -> None:
        self.settings = settings
        self.pool = pool
        self.auth = auth
        self.registry = registry
        self.throttle = throttle
        self.hasher = hasher
        self.scheduler = scheduler
        self.sockets = tuple(sockets)
        self._secret = settings.token_secret_bytes()
        self._proxies = settings.trusted_proxy_networks()
        self._sweep: Timer | None = None
        self._wallboard_token_max_days = wallboard_token_max_days

    def client_address(self, request: web.Request) -> str:
        """The client's address: the TCP peer, or, when the peer is a trusted reverse
        proxy (``CC_TRUSTED_PROXIES``), the nearest ``X-Forwarded-For`` entry that is not
        one (entries further left are the client's to forge)."""
        forwarded = request.headers.getall("X-Forwarded-For", [])
        return client_address(request.remote, forwarded, self._proxies)

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the live sessions and the users' revocations; start the expiry sweep."""
        purged = await stored.purge_ended(self.pool, KEEP_ENDED_DAYS)
        if purged:
            log.info("deleted %d sessions that ended over %d days ago", purged, KEEP_ENDED_DAYS)
        live = await stored.list_sessions(self.pool)
        disabled, cutoffs = await stored.user_revocations(self.pool)
        self.registry.load(
            (SessionEntry(s.id, s.user_id, s.role, s.kind, s.expires_at.timestamp()) for s in live),
            disabled,
            cutoffs,
        )
        self._sweep = self.scheduler.call_later(SWEEP_S, self._expire)

    async def close(self) -> None:
        if self._sweep is not None:
            self._sweep.cancel()
            self._sweep = None
        self.hasher.close()

    def _expire(self) -> None:
        expired = self.registry.expired(time.time())
        if expired:
            ids = [s.id for s in expired]
            self.registry.remove(ids)
            self._end(
                EndedSessions(
                    frozenset(ids),
                    frozenset(),
                    "session_expired",
                    "the session has expired; log in again",
                )
            )
        self._sweep = self.scheduler.call_later(SWEEP_S, self._expire)

    def _end(self, ended: EndedSessions) -> None:
        for holder in self.sockets:
            holder.end_sessions(ended)

    # --- tokens ---------------------------------------------------------------------------

    def _access_token(self, entry: SessionEntry, now: float) -> tuple[str, int]:
        ttl = min(self.settings.access_token_ttl_s, max(1, int(entry.expires_at - now)))
        token = issue_token(
            self._secret,
            user_id=entry.user_id,
            role=entry.role,
            ttl_s=ttl,
            now=now,
            session_id=entry.id,
        )
        return token, int(now) + ttl

    async def _new_session(
        self,
        request: web.Request,
        *,
        user_id: str,
        role: TokenRole,
        kind: SessionKind,
        ttl_s: int,
        label: str = "",
        created_by: str | None = None,
        refresh: bool = True,
    ) -> tuple[SessionEntry, str | None]:
        now = time.time()
        sid = secrets.token_urlsafe(18)
        refresh_token = secrets.token_urlsafe(32) if refresh else None
        row = await stored.create_session(
            self.pool,
            session_id=sid,
            user_id=user_id,
            role=role,
            kind=kind,
            expires_at=now + ttl_s,
            refresh_token=refresh_token,
            label=label,
            created_by=created_by,
            address=self.client_address(request),
            user_agent=request.headers.get("User-Agent"),
        )
        entry = SessionEntry(sid, user_id, role, kind, row.expires_at.timestamp())
        self.registry.add(entry)
        return entry, refresh_token

    def _session_answer(
        self, entry: SessionEntry, refresh_token: str, display_name: str, status: int = 200
    ) -> web.Response:
        now = time.time()
        token, expires_at = self._access_token(entry, now)
        return web.json_response(
            {
                "token": token,
                "refresh_token": refresh_token,
                "session_id": entry.id,
                "user_id": entry.user_id,
                "role": entry.role,
                "display_name": display_name,
                "expires_at": expires_at,
                "session_expires_at": int(entry.expires_at),
            },
            status=status,
            headers={"Cache-Control": "no-store"},
        )

    async def _check_password(
        self, request: web.Request, username: str, password: str
    ) -> User | web.Response | None:
        """The user when the password is right (None when not), counted by the login
        throttle; or the answer to give instead: 429 when throttled, 503 when the hashing
        pool is full."""
        try:
            keys = self.throttle.begin(username, self.client_address(request))
        except Throttled as exc:
            return _retry_later(429, "too_many_attempts", str(exc), exc.retry_after_s)
        ok: bool | None = None
        try:
            user = await verify_credentials(self.pool, username, password, runner=self.hasher)
            ok = user is not None
        except HasherBusy as exc:
            return _retry_later(503, "busy", f"the server is busy checking passwords: {exc}", 1)
        finally:
            self.throttle.end(keys, ok=ok)
        return user

    # --- handlers -------------------------------------------------------------------------

    async def login(self, request: web.Request) -> web.Response:
        try:
            body = LoginIn.model_validate(await read_json(request))
        except ValidationError:
            fail(400, "invalid_login", 'send {"username": ..., "password": ...}')
        user = await self._check_password(request, body.username, body.password)
        if isinstance(user, web.Response):
            return user
        if user is None:
            fail(401, "bad_credentials", "wrong username or password, or the account is disabled")
        entry, refresh_token = await self._new_session(
            request,
            user_id=user.id,
            role=user.role,
            kind="login",
            ttl_s=self.settings.token_ttl_s,
            label="login",
        )
        assert refresh_token is not None
        log.info("user %s logged in (session %s)", user.id, entry.id[:6])
        return self._session_answer(entry, refresh_token, user.display_name)

    async def refresh(self, request: web.Request) -> web.Response:
        try:
            body = RefreshIn.model_validate(await read_json(request))
        except ValidationError:
            fail(400, "invalid_refresh", 'send {"refresh_token": ...}')
        new_refresh = secrets.token_urlsafe(32)
        row, reused = await stored.rotate_refresh(self.pool, body.refresh_token, new_refresh)
        if reused is not None:
            # a spent refresh token again: a copy is in other hands; end the session
            log.warning("session %s ended: its spent refresh token was reused", reused[:6])
            self._forget(reused, "refresh_reused")
        entry = None if row is None else self.registry.get(row.id)
        if row is None or entry is None:
            fail(
                401,
                "refresh_invalid",
                "the session has ended or the refresh token was used; log in again",
            )
        user = await get_user(self.pool, entry.user_id)
        return self._session_answer(
            entry, new_refresh, user.display_name if user else entry.user_id
        )

    async def logout(self, request: web.Request) -> web.Response:
        claims = authenticate(request, ANY_ROLE)
        if claims.session_id is not None:
            await self._revoke_one(claims.session_id, "logout")
        return web.json_response({"ok": True})

    async def list_sessions(self, request: web.Request) -> web.Response:
        authenticate(request, {"admin"})
        kind = request.query.get("kind")
        if kind not in (None, "login", "wallboard"):
            fail(400, "bad_kind", "kind is login or wallboard")
        rows = await stored.list_sessions(
            self.pool,
            user_id=request.query.get("user_id"),
            kind=kind,  # type: ignore[arg-type]
        )
        live = [r for r in rows if self.registry.get(r.id) is not None]
        out = SessionListOut(sessions=[_session_out(r) for r in live])
        return web.json_response(out.model_dump(mode="json"))

    async def revoke(self, request: web.Request) -> web.Response:
        claims = authenticate(request, {"agent", "supervisor", "admin"})
        sid = request.match_info["session_id"]
        entry = self.registry.get(sid)
        if entry is None or (claims.role != "admin" and entry.user_id != claims.user_id):
            fail(404, "unknown_session", "no live session with this id")
        await self._revoke_one(sid, f"revoked by {claims.user_id}")
        return web.json_response({"ok": True, "session_id": sid})

    async def _revoke_one(self, sid: str, reason: str) -> None:
        await stored.revoke_session(self.pool, sid, reason)
        log.info("session %s ended (%s)", sid[:6], reason)
        self._forget(sid, reason)

    def _forget(self, sid: str, reason: str) -> None:
        """The session (revoked in the database) is refused from now on; its sockets close."""
        entry = self.registry.get(sid)
        self.registry.remove([sid])
        if entry is not None:
            self._end(
                EndedSessions(
                    frozenset({sid}),
                    frozenset(),
                    "session_revoked",
                    f"the session was ended ({reason.split(' ')[0]})",
                )
            )

    async def wallboard_token(self, request: web.Request) -> web.Response:
        claims = authenticate(request, {"admin"})
        try:
            body = WallboardTokenIn.model_validate(await read_json(request))
        except ValidationError as exc:
            fail(400, "bad_request", str(exc.errors()[0]["msg"]))
        limit = self._wallboard_token_max_days
        if body.days > limit:
            fail(400, "too_long", f"a wallboard token lives at most {limit} days (config/ui.yaml)")
        ttl = body.days * 86400
        entry, _ = await self._new_session(
            request,
            user_id=f"wallboard:{body.name}",
            role=WALLBOARD,
            kind="wallboard",
            ttl_s=ttl,
            label=body.name,
            created_by=claims.user_id,
            refresh=False,
        )
        now = time.time()
        # a screen has nobody to log in again: its token lives as long as its session,
        # which an admin lists and revokes (GET/DELETE /api/sessions)
        token = issue_token(
            self._secret,
            user_id=entry.user_id,
            role=WALLBOARD,
            ttl_s=ttl,
            now=now,
            session_id=entry.id,
        )
        log.info(
            "admin %s issued wallboard token %s for %d days (session %s)",
            claims.user_id,
            body.name,
            body.days,
            entry.id[:6],
        )
        out = WallboardTokenOut(
            token=token,
            name=body.name,
            role="wallboard",
            expires_at=int(now) + ttl,
            session_id=entry.id,
        )
        return web.json_response(out.model_dump(mode="json"), status=201)

    async def disable_user(self, request: web.Request) -> web.Response:
        claims = authenticate(request, {"admin"})
        user_id = request.match_info["user_id"]
        try:
            body = DisableIn.model_validate(await read_json(request))
        except ValidationError:
            fail(400, "bad_request", 'send {"disabled": true} or {"disabled": false}')
        try:
            await set_disabled(self.pool, user_id, body.disabled)
        except UnknownUser as exc:
            fail(404, "unknown_user", str(exc))
        if body.disabled:
            self.end_user(user_id, disabled=True, reason="user_disabled")
        else:
            self.registry.enable(user_id)
        log.info(
            "admin %s %s user %s",
            claims.user_id,
            "disabled" if body.disabled else "enabled",
            user_id,
        )
        return web.json_response({"ok": True, "user_id": user_id, "disabled": body.disabled})

    async def reset_password(self, request: web.Request) -> web.Response:
        claims = authenticate(request, {"admin"})
        user_id = request.match_info["user_id"]
        try:
            body = PasswordIn.model_validate(await read_json(request))
        except ValidationError:
            fail(400, "bad_password", 'send {"password": ...} of 8 to 1024 characters')
        await self._set_password(user_id, body.password)
        log.info("admin %s set the password of user %s", claims.user_id, user_id)
        return web.json_response({"ok": True, "user_id": user_id})

    async def change_password(self, request: web.Request) -> web.Response:
        claims = authenticate(request, ANY_ROLE)
        try:
            body = ChangePasswordIn.model_validate(await read_json(request))
        except ValidationError:
            fail(
                400, "bad_password", "send current_password and new_password (8 to 1024 characters)"
            )
        user = await get_user(self.pool, claims.user_id)
        if user is None:
            fail(404, "unknown_user", "no such user")
        checked = await self._check_password(request, user.username, body.current_password)
        if isinstance(checked, web.Response):
            return checked
        if checked is None:
            fail(403, "bad_credentials", "the current password is wrong")
        await self._set_password(user.id, body.new_password)
        # every session ended, this one too: the caller gets a fresh one
        entry, refresh_token = await self._new_session(
            request,
            user_id=user.id,
            role=user.role,
            kind="login",
            ttl_s=self.settings.token_ttl_s,
            label="login",
        )
        assert refresh_token is not None
        return self._session_answer(entry, refresh_token, user.display_name)

    async def _set_password(self, user_id: str, password: str) -> None:
        try:
            await set_password(self.pool, user_id, password, runner=self.hasher)
        except UnknownUser as exc:
            fail(404, "unknown_user", str(exc))
        except HasherBusy:
            fail(503, "busy", "the server is busy checking passwords; retry in a second")
        self.end_user(user_id, disabled=None, reason="password_changed")

    def end_user(self, user_id: str, *, disabled: bool | None, reason: str) -> None:
        """Forget the user's sessions (already revoked in the database) and close its
        sockets now."""
        ended = self.registry.revoke_user(
            user_id, valid_after=math.floor(time.time()), disabled=disabled
        )
        self._end(
            EndedSessions(
                frozenset(ended),
                frozenset({user_id}),
                "session_revoked",
                f"the session was ended ({reason})",
            )
        )


def _retry_later(status: int, code: str, message: str, retry_after_s: float) -> web.Response:
    resp = json_error(status, code, message, retry_after_s=math.ceil(retry_after_s))
    resp.headers["Retry-After"] = str(math.ceil(retry_after_s))
    return resp


__all__ = [
    "ChangePasswordIn",
    "DisableIn",
    "LoginIn",
    "PasswordIn",
    "RefreshIn",
    "SessionListOut",
    "SessionOut",
    "SessionService",
    "WallboardTokenIn",
    "WallboardTokenOut",
]
