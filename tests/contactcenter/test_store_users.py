"""Users, credentials and agent profiles."""

from __future__ import annotations

import asyncpg
import pytest
from pydantic import ValidationError

from contactcenter import auth
from contactcenter.acd import routing_profile
from contactcenter.store.users import (
    AgentProfileIn,
    UnknownUser,
    UserExists,
    create_user,
    get_agent_profile,
    get_user,
    get_user_by_username,
    list_agents,
    list_users,
    save_agent_profile,
    set_disabled,
    set_password,
    update_skills,
    verify_credentials,
)

pytestmark = pytest.mark.full_password_cost


async def test_create_and_get_users(db: asyncpg.Pool) -> None:
    user = await create_user(
        db, username="Alice", password="pw-alice", role="agent", display_name="Alice Ng"
    )
    assert (user.id, user.username, user.role, user.disabled) == ("alice", "Alice", "agent", False)
    assert await get_user(db, "alice") == user
    assert await get_user_by_username(db, "ALICE") == user
    assert await get_user_by_username(db, "nobody") is None
    with pytest.raises(UserExists):
        await create_user(db, username="alice", password="x", role="admin", user_id="a2")
    with pytest.raises(ValidationError):
        await create_user(db, username="bad name", password="x", role="agent")
    with pytest.raises(ValidationError):
        await create_user(db, username="eve", password="x", role="root")  # type: ignore[arg-type]
    await create_user(db, username="sam", password="pw", role="supervisor")
    assert [u.id for u in await list_users(db)] == ["alice", "sam"]
    assert [u.id for u in await list_users(db, role="supervisor")] == ["sam"]
    stored = await db.fetchval("SELECT password_hash FROM users WHERE id = 'alice'")
    assert "pw-alice" not in stored and stored.startswith("scrypt$")


async def test_verify_credentials(db: asyncpg.Pool) -> None:
    await create_user(db, username="alice", password="correct horse", role="agent")
    user = await verify_credentials(db, "Alice", "correct horse")
    assert user is not None and user.id == "alice"
    assert await verify_credentials(db, "alice", "wrong") is None
    assert await verify_credentials(db, "nobody", "correct horse") is None
    await set_disabled(db, "alice", True)
    assert await verify_credentials(db, "alice", "correct horse") is None
    await set_disabled(db, "alice", False)
    await set_password(db, "alice", "new secret")
    assert await verify_credentials(db, "alice", "new secret") is not None
    with pytest.raises(UnknownUser):
        await set_password(db, "ghost", "x")


async def test_old_hash_is_upgraded_on_login(db: asyncpg.Pool) -> None:
    await create_user(db, username="alice", password="pw", role="agent")
    weak = auth.hash_password("pw", auth.ScryptParams(n=2**10))
    await db.execute("UPDATE users SET password_hash = $1 WHERE id = 'alice'", weak)
    assert await verify_credentials(db, "alice", "pw") is not None
    upgraded = await db.fetchval("SELECT password_hash FROM users WHERE id = 'alice'")
    assert upgraded != weak and not auth.needs_rehash(upgraded)


async def test_agent_profiles(db: asyncpg.Pool) -> None:
    for name in ("ann", "ben", "cat"):
        await create_user(db, username=name, password="pw", role="agent")
    ann = await save_agent_profile(
        db,
        "ann",
        AgentProfileIn(
            team="blue",
            skills={"billing": 7, "spanish": 4},
            capacity={"voice": 1, "chat": 3},
            extension="1001",
        ),
    )
    assert ann.skills == {"billing": 7, "spanish": 4}
    assert ann.capacity == {"voice": 1, "chat": 3}
    await save_agent_profile(db, "ben", AgentProfileIn(team="red"))
    await save_agent_profile(db, "cat", AgentProfileIn(team="blue"))
    assert await get_agent_profile(db, "ann") == ann
    assert await get_agent_profile(db, "nobody") is None
    assert [a.agent_id for a in await list_agents(db)] == ["ann", "ben", "cat"]
    assert [a.agent_id for a in await list_agents(db, team="blue")] == ["ann", "cat"]
    await set_disabled(db, "cat", True)
    assert [a.agent_id for a in await list_agents(db, team="blue")] == ["ann"]
    assert len(await list_agents(db, include_disabled=True)) == 3

    ann = await update_skills(db, "ann", {"billing": 9, "spanish": None, "sales": 2})
    assert ann.skills == {"billing": 9, "sales": 2}
    ann = await update_skills(db, "ann", {"tech": 5}, replace=True)
    assert ann.skills == {"tech": 5}
    with pytest.raises(ValueError, match="1 to 10"):
        await update_skills(db, "ann", {"tech": 11})
    with pytest.raises(UnknownUser):
        await update_skills(db, "ghost", {"tech": 1})
    with pytest.raises(UnknownUser):
        await save_agent_profile(db, "ghost", AgentProfileIn())
    with pytest.raises(ValueError, match="extension"):
        await save_agent_profile(db, "ben", AgentProfileIn(extension="1001"))


def test_profile_validation() -> None:
    with pytest.raises(ValidationError, match="1 to 10"):
        AgentProfileIn(skills={"billing": 0})
    with pytest.raises(ValidationError, match="0 to 100"):
        AgentProfileIn(capacity={"chat": 101})
    with pytest.raises(ValidationError):
        AgentProfileIn(skills={"billing": True})


async def test_agent_languages_reach_the_routing_profile(db: asyncpg.Pool) -> None:
    await create_user(db, username="lea", password="pw", role="agent")
    saved = await save_agent_profile(
        db, "lea", AgentProfileIn(skills={"support": 5}, languages=["fr", "en", "fr"])
    )
    assert saved.languages == ["fr", "en"]  # duplicates dropped, order kept
    stored = await get_agent_profile(db, "lea")
    assert stored is not None
    assert routing_profile(stored).languages == ("fr", "en")
    # a profile saved without languages clears them
    cleared = await save_agent_profile(db, "lea", AgentProfileIn(skills={"support": 5}))
    assert cleared.languages == []


def test_language_codes_are_validated() -> None:
    with pytest.raises(ValidationError, match="'English' is not a language code"):
        AgentProfileIn(languages=["English"])
    assert AgentProfileIn(languages=["pt-br"]).languages == ["pt-br"]
