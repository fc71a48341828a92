"""Stored sessions (migration 0008): created at login or by an admin for a wallboard
screen, renewed with a refresh token kept only as its SHA-256, revoked one by one or all
of a user's at once (a disable, a password change)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Literal

import asyncpg
from pydantic import BaseModel

from contactcenter.store.db import Queryable, transaction

Kind = Literal["login", "wallboard"]
_COLUMNS = (
    "id, user_id, role, kind, label, created_by, address, user_agent, created_at, "
    "last_used_at, expires_at, revoked_at, revoked_reason"
)


class StoredSession(BaseModel):
    id: str
    user_id: str
    role: Literal["agent", "supervisor", "admin", "wallboard"]
    kind: Kind
    label: str
    created_by: str | None
    address: str | None
    user_agent: str | None
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    revoked_reason: str | None


def refresh_digest(refresh_token: str) -> bytes:
    return hashlib.sha256(refresh_token.encode()).digest()


def _session(row: asyncpg.Record) -> StoredSession:
    return StoredSession.model_validate(dict(row))


async def create_session(
    db: Queryable,
    *,
    session_id: str,
    user_id: str,
    role: str,
    kind: Kind,
    expires_at: float,
    refresh_token: str | None = None,
    label: str = "",
    created_by: str | None = None,
    address: str | None = None,
    user_agent: str | None = None,
) -> StoredSession:
    row = await db.fetchrow(
        f"""INSERT INTO sessions (id, user_id, role, kind, label, refresh_hash, created_by,
                                  address, user_agent, expires_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {_COLUMNS}""",
        session_id,
        user_id,
        role,
        kind,
        label,
        None if refresh_token is None else refresh_digest(refresh_token),
        created_by,
        address,
        (user_agent or "")[:300] or None,
        datetime.fromtimestamp(expires_at, UTC),
    )
    assert row is not None
    return _session(row)


async def rotate_refresh(
    db: Queryable, refresh_token: str, new_refresh_token: str
) -> tuple[StoredSession | None, str | None]:
    """(the live session this refresh token belongs to, now holding the new one; None when
    the token is unknown, spent, or its session ended), (the id of a session revoked
    because its last spent refresh token was presented again: someone copied it)."""
    digest = refresh_digest(refresh_token)
    row = await db.fetchrow(
        f"""UPDATE sessions SET refresh_hash = $2, spent_hash = $1, last_used_at = now()
            WHERE refresh_hash = $1 AND revoked_at IS NULL AND expires_at > now()
            RETURNING {_COLUMNS}""",
        digest,
        refresh_digest(new_refresh_token),
    )
    if row is not None:
        return _session(row), None
    reused = await db.fetchval(
        """UPDATE sessions SET revoked_at = now(), revoked_reason = 'refresh_reused',
                  refresh_hash = NULL
           WHERE spent_hash = $1 AND revoked_at IS NULL RETURNING id""",
        digest,
    )
    return None, reused


async def get_session(db: Queryable, session_id: str) -> StoredSession | None:
    row = await db.fetchrow(f"SELECT {_COLUMNS} FROM sessions WHERE id = $1", session_id)
    return None if row is None else _session(row)


async def revoke_session(db: Queryable, session_id: str, reason: str) -> bool:
    """True when a live session was revoked (False: unknown or already ended)."""
    status = await db.execute(
        """UPDATE sessions SET revoked_at = now(), revoked_reason = $2, refresh_hash = NULL
           WHERE id = $1 AND revoked_at IS NULL""",
        session_id,
        reason,
    )
    return bool(status == "UPDATE 1")


async def revoke_user_sessions(db: Queryable, user_id: str, reason: str) -> datetime:
    """End every live session of the user and refuse its older tokens; the cut-off time."""
    async with transaction(db) as conn:
        await conn.execute(
            """UPDATE sessions SET revoked_at = now(), revoked_reason = $2, refresh_hash = NULL
               WHERE user_id = $1 AND revoked_at IS NULL""",
            user_id,
            reason,
        )
        cutoff: datetime = await conn.fetchval(
            "UPDATE users SET tokens_valid_after = now() WHERE id = $1 RETURNING now()", user_id
        ) or await conn.fetchval("SELECT now()")
    return cutoff


async def list_sessions(
    db: Queryable, *, user_id: str | None = None, kind: Kind | None = None
) -> list[StoredSession]:
    """The live sessions (not revoked, not expired), newest first."""
    rows = await db.fetch(
        f"""SELECT {_COLUMNS} FROM sessions
            WHERE revoked_at IS NULL AND expires_at > now()
              AND ($1::text IS NULL OR user_id = $1) AND ($2::text IS NULL OR kind = $2)
            ORDER BY created_at DESC""",
        user_id,
        kind,
    )
    return [_session(r) for r in rows]


async def purge_ended(db: Queryable, keep_days: int = 30) -> int:
    """Delete sessions that ended (revoked or expired) more than ``keep_days`` ago; they
    are kept that long as a record of who was signed in from where. The count deleted."""
    status = await db.execute(
        "DELETE FROM sessions WHERE coalesce(revoked_at, expires_at) < now() - make_interval("
        "days => $1)",
        keep_days,
    )
    return int(status.split()[-1])


async def user_revocations(db: Queryable) -> tuple[list[str], list[tuple[str, int]]]:
    """The disabled users, and each user's token cut-off (unix seconds)."""
    rows = await db.fetch(
        "SELECT id, disabled, tokens_valid_after FROM users "
        "WHERE disabled OR tokens_valid_after IS NOT NULL"
    )
    disabled = [r["id"] for r in rows if r["disabled"]]
    cutoffs = [
        (r["id"], int(r["tokens_valid_after"].timestamp()))
        for r in rows
        if r["tokens_valid_after"] is not None
    ]
    return disabled, cutoffs
