"""``seed-demo``: the printed passwords work, agents can serve the configured queues."""

from __future__ import annotations

import asyncpg
import pytest

from contactcenter.app import load_routing_config
from contactcenter.demo import seed
from contactcenter.store.customers import find_by_ani
from contactcenter.store.users import list_agents, verify_credentials
from tests.contactcenter.server_support import CONFIG_DIR


async def test_seed_demo_prints_working_passwords(
    db: asyncpg.Pool, capsys: pytest.CaptureFixture[str]
) -> None:
    await seed(db)
    await seed(db)  # again: passwords are reset, nothing duplicates
    lines = capsys.readouterr().out.splitlines()
    last_run = lines[len(lines) // 2 :]
    passwords = {
        parts[0]: parts[2]
        for line in last_run
        if len(parts := line.split()) >= 3 and parts[1] in ("admin", "supervisor", "agent")
    }
    assert set(passwords) == {"admin", "supervisor", "alice", "bob", "carol", "dave"}
    for username, password in passwords.items():
        user = await verify_credentials(db, username, password)
        assert user is not None, username
    agents = await list_agents(db)
    assert [a.agent_id for a in agents] == ["alice", "bob", "carol", "dave"]
    queue_skills = {skill for q in load_routing_config(CONFIG_DIR).queues for skill in q.skills}
    assert queue_skills <= {s for a in agents for s in a.skills}
    [ada] = await find_by_ani(db, "+1 415 555 0101")
    assert ada.name == "Ada Lovelace"
