"""Sessions, login throttling and the password-hashing pool: no web-framework code.

A login creates a stored session (table ``sessions``, contactcenter/store/sessions.py);
its short access tokens carry the session's id (``sid``) and are renewed with the
session's refresh token. ``SessionRegistry`` is the server's in-memory view of the
sessions that may still be used, loaded at start and changed only together with the
database, so every token check (HTTP and sockets) is a dictionary look-up: a revoked
session's tokens stop working at once, everywhere on this node.

Session-less tokens (minted with the server's secret by a tool or a test, no ``sid``) are
accepted only when they live no longer than an access token and were issued after the
user's last revocation (a password change, a disable), and never for a disabled user; so
the old 8-hour and 365-day tokens of earlier versions stop working.

``LoginThrottle`` counts failed (and in-flight) logins per username and per client
address in a sliding window: past the limit a login is answered 429 with Retry-After
before any password is hashed. ``PasswordHasher`` runs scrypt in its own bounded thread
pool with a bounded queue, so bogus logins can neither starve the event loop nor the
default executor, and a login beyond the queue is refused at once (503 busy).
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from collections.abc import Callable, Collection, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

from contactcenter.auth import TokenClaims, TokenRevoked, TokenRole

SessionKind = Literal["login", "wallboard"]
T = TypeVar("T")


@dataclass(slots=True)
class SessionEntry:
    id: str
    user_id: str
    role: TokenRole
    kind: SessionKind
    expires_at: float
    """Unix time the session ends (no refresh after it; its sockets are closed)."""


@dataclass(frozen=True, slots=True)
class EndedSessions:
    """What sockets to close: those of these sessions, and (for session-less tokens)
    those of these users."""

    session_ids: frozenset[str]
    user_ids: frozenset[str]
    code: str
    """``session_revoked`` or ``session_expired``: the error frame's code."""
    message: str


class SessionSockets(Protocol):
    """A service holding authenticated sockets (the hub, the wallboard): closes those of
    ended sessions within a second."""

    def end_sessions(self, ended: EndedSessions) -> None: ...


class SessionRegistry:
    """The sessions that may be used now, and each user's revocation state."""

    def __init__(self, *, sessionless_max_ttl_s: int) -> None:
        self.sessionless_max_ttl_s = sessionless_max_ttl_s
        self.sessions: dict[str, SessionEntry] = {}
        self.disabled: set[str] = set()
        self.valid_after: dict[str, int] = {}
        """user id -> tokens issued before this second are refused (password change)."""

    def load(
        self,
        sessions: Iterable[SessionEntry],
        disabled: Iterable[str],
        valid_after: Iterable[tuple[str, int]],
    ) -> None:
        self.sessions = {s.id: s for s in sessions}
        self.disabled = set(disabled)
        self.valid_after = dict(valid_after)

    def add(self, entry: SessionEntry) -> None:
        self.sessions[entry.id] = entry

    def get(self, session_id: str) -> SessionEntry | None:
        return self.sessions.get(session_id)

    def of_user(self, user_id: str) -> list[SessionEntry]:
        return [s for s in self.sessions.values() if s.user_id == user_id]

    def remove(self, session_ids: Collection[str]) -> None:
        for sid in session_ids:
            self.sessions.pop(sid, None)

    def revoke_user(self, user_id: str, *, valid_after: int, disabled: bool | None) -> list[str]:
        """Forget the user's sessions; its older session-less tokens stop working too.
        The ids of the sessions ended."""
        ended = [s.id for s in self.of_user(user_id)]
        self.remove(ended)
        self.valid_after[user_id] = max(valid_after, self.valid_after.get(user_id, 0))
        if disabled is True:
            self.disabled.add(user_id)
        elif disabled is False:
            self.disabled.discard(user_id)
        return ended

    def enable(self, user_id: str) -> None:
        self.disabled.discard(user_id)

    def expired(self, now: float) -> list[SessionEntry]:
        return [s for s in self.sessions.values() if s.expires_at <= now]

    def check(self, claims: TokenClaims, now: float | None = None) -> None:
        """Raise ``TokenRevoked`` unless the (signature- and expiry-checked) token may be
        used now."""
        current = time.time() if now is None else now
        if claims.user_id in self.disabled:
            raise TokenRevoked("the account is disabled")
        if claims.session_id is not None:
            entry = self.sessions.get(claims.session_id)
            if entry is None or entry.user_id != claims.user_id or entry.role != claims.role:
                raise TokenRevoked("the session of this token has ended; log in again")
            if entry.expires_at <= current:
                raise TokenRevoked("the session has expired; log in again")
            return
        if claims.expires_at - claims.issued_at > self.sessionless_max_ttl_s:
            raise TokenRevoked(
                "a token without a session may live at most "
                f"{self.sessionless_max_ttl_s} s; log in to get a session"
            )
        if claims.issued_at < self.valid_after.get(claims.user_id, 0):
            raise TokenRevoked("the token was issued before the user's sessions were ended")


# --- login throttling ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ThrottleLimits:
    per_user: int = 5
    """Failed logins of one username within ``window_s`` before it is throttled."""
    per_address: int = 20
    """Failed logins from one client address within ``window_s`` before it is throttled."""
    window_s: float = 300.0


class Throttled(Exception):
    def __init__(self, retry_after_s: float, what: str, *, failures: bool = True) -> None:
        reason = "failed logins" if failures else "logins in progress"
        super().__init__(f"too many {reason} for this {what}; retry in {retry_after_s:.0f} s")
        self.retry_after_s = retry_after_s
        self.what = what


class LoginThrottle:
    """Failures per key in a sliding window; logins in flight count as failures until
    they end, so many concurrent attempts are throttled before any is hashed."""

    MAX_KEYS = 100_000

    def __init__(self, limits: ThrottleLimits, clock: Callable[[], float]) -> None:
        self.limits = limits
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._in_flight: dict[str, int] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        q = self._failures.get(key)
        if q is None:
            return deque()
        while q and q[0] <= now - self.limits.window_s:
            q.popleft()
        if not q:
            del self._failures[key]
        return q

    def _wait(self, key: str, limit: int, now: float) -> tuple[float, bool] | None:
        """None: admitted; else (seconds to wait, whether failures, not logins in flight,
        are the reason)."""
        q = self._recent(key, now)
        used = len(q) + self._in_flight.get(key, 0)
        if used < limit:
            return None
        if len(q) >= limit:
            # the window frees a slot when the limit-th newest failure leaves it
            return max(1.0, q[len(q) - limit] + self.limits.window_s - now), True
        return 1.0, False  # attempts in flight: try again shortly

    def begin(self, username: str, address: str) -> tuple[str, str]:
        """Admit one login attempt, or raise ``Throttled``; ``end`` it after."""
        now = self.clock()
        user_key, addr_key = f"u:{username.lower()}", f"a:{address}"
        for key, limit, what in (
            (addr_key, self.limits.per_address, "address"),
            (user_key, self.limits.per_user, "username"),
        ):
            wait = self._wait(key, limit, now)
            if wait is not None:
                raise Throttled(math.ceil(wait[0]), what, failures=wait[1])
        for key in (user_key, addr_key):
            self._in_flight[key] = self._in_flight.get(key, 0) + 1
        return user_key, addr_key

    def end(self, keys: tuple[str, str], *, ok: bool | None) -> None:
        """The attempt is over: ``ok`` True (the password was right: the username's
        failures are forgotten), False (a failure, counted) or None (not decided, e.g.
        the hashing pool was full: nothing counted)."""
        now = self.clock()
        for key in keys:
            left = self._in_flight.get(key, 0) - 1
            if left > 0:
                self._in_flight[key] = left
            else:
                self._in_flight.pop(key, None)
        if ok is None:
            return
        if ok:
            self._failures.pop(keys[0], None)
            return
        if len(self._failures) >= self.MAX_KEYS:
            self._prune(now)
        for key in keys:
            self._failures.setdefault(key, deque()).append(now)

    def _prune(self, now: float) -> None:
        for key in list(self._failures):
            self._recent(key, now)
        if len(self._failures) >= self.MAX_KEYS:
            # a flood of distinct keys: forget the oldest half rather than grow without end
            oldest = sorted(self._failures, key=lambda k: self._failures[k][-1])
            for key in oldest[: len(oldest) // 2]:
                del self._failures[key]


# --- the password-hashing pool -------------------------------------------------------------


class HasherBusy(Exception):
    """More password checks are waiting than the pool's queue holds."""


class PasswordHasher:
    """scrypt (hashlib releases the GIL while it runs) on ``workers`` threads of its own;
    at most ``max_pending`` checks waiting or running, more are refused at once."""

    def __init__(self, *, workers: int, max_pending: int) -> None:
        self.workers = workers
        self.max_pending = max_pending
        self.pending = 0
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="scrypt")

    async def run(self, fn: Callable[[], T]) -> T:
        if self.pending >= self.max_pending:
            raise HasherBusy(f"{self.pending} password checks are waiting; retry in a second")
        self.pending += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn)
        finally:
            self.pending -= 1

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


__all__ = [
    "EndedSessions",
    "HasherBusy",
    "LoginThrottle",
    "PasswordHasher",
    "SessionEntry",
    "SessionKind",
    "SessionRegistry",
    "SessionSockets",
    "ThrottleLimits",
    "Throttled",
]
