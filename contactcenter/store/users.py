"""Users (logins with a role) and agent profiles (team, skills, channel capacity)."""

from __future__ import annotations

import asyncio
import functools
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime
from typing import Any, Protocol, TypeVar

import asyncpg
from pydantic import BaseModel, ConfigDict, Field, StrictInt, field_validator

from contactcenter.auth import Role, hash_password, needs_rehash, verify_password
from contactcenter.store.db import Queryable, transaction
from contactcenter.store.sessions import revoke_user_sessions

T = TypeVar("T")


class HashRunner(Protocol):
    """Where scrypt runs (contactcenter.sessions.PasswordHasher: a bounded pool of its
    own); without one, the default executor."""

    def run(self, fn: Callable[[], T]) -> Awaitable[T]: ...


async def _hash_work(runner: HashRunner | None, fn: Callable[[], T]) -> T:
    if runner is None:
        return await asyncio.to_thread(fn)
    return await runner.run(fn)


USERNAME_PATTERN = r"^[A-Za-z0-9_.@-]{1,64}$"
USER_ID_PATTERN = r"^[A-Za-z0-9_.:@-]{1,64}$"
MAX_CAPACITY = 100


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the username does not exist, so a failed login takes as long
    whether or not the name is real (no user enumeration by timing)."""
    return hash_password(secrets.token_urlsafe(16))


class UserExists(ValueError):
    """The username (compared case-insensitively) or id is taken."""


class UnknownUser(LookupError):
    """No user (or no agent profile) with this id."""


class User(BaseModel):
    id: str
    username: str
    display_name: str
    role: Role
    disabled: bool
    created_at: datetime
    updated_at: datetime


def _check_skills(skills: Mapping[str, int]) -> dict[str, int]:
    for name, level in skills.items():
        if not name:
            raise ValueError("skill names must be non-empty")
        if isinstance(level, bool) or not isinstance(level, int) or not 1 <= level <= 10:
            raise ValueError(
                f"proficiency of skill {name!r} is {level!r}; use a whole number from 1 to 10"
            )
    return dict(skills)


def _check_capacity(capacity: Mapping[str, int]) -> dict[str, int]:
    for channel, count in capacity.items():
        if not channel:
            raise ValueError("channel names must be non-empty")
        if isinstance(count, bool) or not isinstance(count, int) or not 0 <= count <= MAX_CAPACITY:
            raise ValueError(
                f"capacity for {channel!r} is {count!r}; use a whole number "
                f"from 0 to {MAX_CAPACITY}"
            )
    return dict(capacity)


_LANGUAGE = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,8})?")


class AgentProfileIn(BaseModel):
    """An agent's routing attributes, as saved (replacing what was there)."""

    model_config = ConfigDict(extra="forbid")

    team: str | None = Field(None, min_length=1, max_length=64)
    skills: dict[str, StrictInt] = {}
    capacity: dict[str, StrictInt] = {"voice": 1}
    extension: str | None = Field(None, min_length=1, max_length=64)
    languages: list[str] = Field(default_factory=list, max_length=20)
    """Language codes the agent speaks (e.g. "en", "fr"), lower case."""

    @field_validator("languages")
    @classmethod
    def _valid_languages(cls, languages: list[str]) -> list[str]:
        for code in languages:
            if not _LANGUAGE.fullmatch(code):
                raise ValueError(
                    f"language {code!r} is not a language code: use lower-case letters such as "
                    "'en' or 'pt-br'"
                )
        return list(dict.fromkeys(languages))

    @field_validator("skills")
    @classmethod
    def _valid_skills(cls, skills: dict[str, int]) -> dict[str, int]:
        return _check_skills(skills)

    @field_validator("capacity")
    @classmethod
    def _valid_capacity(cls, capacity: dict[str, int]) -> dict[str, int]:
        return _check_capacity(capacity)


class AgentProfile(BaseModel):
    agent_id: str
    username: str
    display_name: str
    role: Role
    disabled: bool
    team: str | None
    skills: dict[str, int]
    capacity: dict[str, int]
    extension: str | None
    languages: list[str] = []


_USER_COLUMNS = "id, username, display_name, role, disabled, created_at, updated_at"
_AGENT_SELECT = """
    SELECT a.agent_id, u.username, u.display_name, u.role, u.disabled,
           a.team, a.skills, a.capacity, a.extension, a.languages
    FROM agents a JOIN users u ON u.id = a.agent_id
"""


def _user(row: asyncpg.Record | Mapping[str, Any]) -> User:
    return User.model_validate(dict(row))


def _agent(row: asyncpg.Record | Mapping[str, Any]) -> AgentProfile:
    return AgentProfile.model_validate(dict(row))


class _NewUser(BaseModel):
    username: str = Field(pattern=USERNAME_PATTERN)
    role: Role
    display_name: str = Field(max_length=200)
    user_id: str = Field(pattern=USER_ID_PATTERN)


async def create_user(
    db: Queryable,
    *,
    username: str,
    password: str,
    role: Role,
    display_name: str | None = None,
    user_id: str | None = None,
    runner: HashRunner | None = None,
) -> User:
    """A new user; the id defaults to the lower-cased username (it appears in events)."""
    new = _NewUser(
        username=username,
        role=role,
        display_name=display_name or username,
        user_id=user_id or username.lower(),
    )
    # scrypt takes ~0.1 s of CPU: keep the event loop responsive
    password_hash = await _hash_work(runner, lambda: hash_password(password))
    try:
        row = await db.fetchrow(
            f"""INSERT INTO users (id, username, display_name, password_hash, role)
                VALUES ($1, $2, $3, $4, $5) RETURNING {_USER_COLUMNS}""",
            new.user_id,
            new.username,
            new.display_name,
            password_hash,
            new.role,
        )
    except asyncpg.UniqueViolationError:
        raise UserExists(
            f"a user named {username!r} (or with id {new.user_id!r}) already exists"
        ) from None
    assert row is not None  # INSERT ... RETURNING returns the row it inserted
    return _user(row)


async def get_user(db: Queryable, user_id: str) -> User | None:
    row = await db.fetchrow(f"SELECT {_USER_COLUMNS} FROM users WHERE id = $1", user_id)
    return None if row is None else _user(row)


async def get_user_by_username(db: Queryable, username: str) -> User | None:
    row = await db.fetchrow(
        f"SELECT {_USER_COLUMNS} FROM users WHERE lower(username) = lower($1)", username
    )
    return None if row is None else _user(row)


async def list_users(db: Queryable, *, role: Role | None = None) -> list[User]:
    rows = await db.fetch(
        f"""SELECT {_USER_COLUMNS} FROM users WHERE ($1::text IS NULL OR role = $1)
            ORDER BY lower(username)""",
        role,
    )
    return [_user(r) for r in rows]


async def verify_credentials(
    db: Queryable, username: str, password: str, *, runner: HashRunner | None = None
) -> User | None:
    """The user when the password is right and the account enabled; None otherwise."""
    row = await db.fetchrow(
        f"SELECT {_USER_COLUMNS}, password_hash FROM users WHERE lower(username) = lower($1)",
        username,
    )
    if row is None:
        await _hash_work(runner, lambda: verify_password(password, _dummy_hash()))
        return None
    stored = row["password_hash"]
    if not await _hash_work(runner, lambda: verify_password(password, stored)) or row["disabled"]:
        return None
    if needs_rehash(stored):
        # the cost parameters were raised since this hash was made (same password: the
        # user's sessions stay)
        password_hash = await _hash_work(runner, lambda: hash_password(password))
        await db.execute(
            "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1",
            row["id"],
            password_hash,
        )
    return _user({k: v for k, v in dict(row).items() if k != "password_hash"})


async def set_password(
    db: Queryable, user_id: str, password: str, *, runner: HashRunner | None = None
) -> None:
    """A new password; every session of the user is revoked with it (migration 0008), so
    a token taken before the change stops working. A running server must also hear of it
    (contactcenter/session_api.py does both) to close the user's open sockets."""
    password_hash = await _hash_work(runner, lambda: hash_password(password))
    async with transaction(db) as conn:
        status = await conn.execute(
            "UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1",
            user_id,
            password_hash,
        )
        if status != "UPDATE 1":
            raise UnknownUser(f"no user with id {user_id!r}")
        await revoke_user_sessions(conn, user_id, "password_changed")


async def set_disabled(db: Queryable, user_id: str, disabled: bool) -> None:
    """Disable (every session revoked with it) or enable a user."""
    async with transaction(db) as conn:
        status = await conn.execute(
            "UPDATE users SET disabled = $2, updated_at = now() WHERE id = $1", user_id, disabled
        )
        if status != "UPDATE 1":
            raise UnknownUser(f"no user with id {user_id!r}")
        if disabled:
            await revoke_user_sessions(conn, user_id, "user_disabled")


async def save_agent_profile(db: Queryable, agent_id: str, profile: AgentProfileIn) -> AgentProfile:
    """Create or replace the agent profile of an existing user."""
    async with transaction(db) as conn:
        try:
            await conn.execute(
                """INSERT INTO agents (agent_id, team, skills, capacity, extension, languages)
                   VALUES ($1, $2, $3, $4, $5, $6)
                   ON CONFLICT (agent_id) DO UPDATE
                   SET team = EXCLUDED.team, skills = EXCLUDED.skills,
                       capacity = EXCLUDED.capacity, extension = EXCLUDED.extension,
                       languages = EXCLUDED.languages, updated_at = now()""",
                agent_id,
                profile.team,
                profile.skills,
                profile.capacity,
                profile.extension,
                profile.languages,
            )
        except asyncpg.ForeignKeyViolationError:
            raise UnknownUser(f"no user with id {agent_id!r}; create the user first") from None
        except asyncpg.UniqueViolationError:
            raise ValueError(f"extension {profile.extension!r} belongs to another agent") from None
        row = await conn.fetchrow(f"{_AGENT_SELECT} WHERE a.agent_id = $1", agent_id)
    assert row is not None  # written (or found) above, in the same transaction
    return _agent(row)


async def get_agent_profile(db: Queryable, agent_id: str) -> AgentProfile | None:
    row = await db.fetchrow(f"{_AGENT_SELECT} WHERE a.agent_id = $1", agent_id)
    return None if row is None else _agent(row)


async def list_agents(
    db: Queryable, *, team: str | None = None, include_disabled: bool = False
) -> list[AgentProfile]:
    rows = await db.fetch(
        f"""{_AGENT_SELECT}
            WHERE ($1::text IS NULL OR a.team = $1) AND ($2 OR NOT u.disabled)
            ORDER BY a.agent_id""",
        team,
        include_disabled,
    )
    return [_agent(r) for r in rows]


async def update_skills(
    db: Queryable,
    agent_id: str,
    skills: Mapping[str, int | None],
    *,
    replace: bool = False,
) -> AgentProfile:
    """Merge ``skills`` into the agent's (a None proficiency removes that skill), or
    replace them all with ``replace=True``."""
    async with transaction(db) as conn:
        current = await conn.fetchval(
            "SELECT skills FROM agents WHERE agent_id = $1 FOR UPDATE", agent_id
        )
        if current is None:
            raise UnknownUser(f"agent {agent_id!r} has no profile; save one first")
        merged: dict[str, Any] = {} if replace else dict(current)
        for name, level in skills.items():
            if level is None:
                merged.pop(name, None)
            else:
                merged[name] = level
        await conn.execute(
            "UPDATE agents SET skills = $2, updated_at = now() WHERE agent_id = $1",
            agent_id,
            _check_skills(merged),
        )
        row = await conn.fetchrow(f"{_AGENT_SELECT} WHERE a.agent_id = $1", agent_id)
    assert row is not None  # written (or found) above, in the same transaction
    return _agent(row)
