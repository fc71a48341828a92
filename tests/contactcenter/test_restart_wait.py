"""A restart does not reset a waiting caller's clock (issue 13: a call that had waited
21.7 s was logged as 6.2 s after a restart, which flattered the service level).

A caller waits 20 s on the fake clock with nobody logged in; the server is replaced by a
new one on the same database; 5 s later an agent takes the call. The wait the offer, the
answer event and the call log report is 25 s (20 + 5, by hand), not 5 s.
"""

from __future__ import annotations

import asyncpg
import pytest

from contactcenter.clock import ManualScheduler
from contactcenter.settings import Settings
from contactcenter.store.events import read_contact
from contactcenter.store.interactions import get_interaction
from tests.contactcenter.server_support import (
    add_agent,
    console,
    gateway_headers,
    running_app,
)


async def test_the_wait_survives_a_restart(db: asyncpg.Pool, cc_settings: Settings) -> None:
    await add_agent(db, "alice", {"sales": 8})
    scheduler = ManualScheduler()
    arrived = scheduler.now()
    async with running_app(cc_settings, db, scheduler=scheduler) as client:
        resp = await client.post(
            "/gateway/calls",
            headers=gateway_headers(cc_settings),
            json={"call_id": "w-1", "queue": "sales"},
        )
        assert resp.status == 201, await resp.text()
        await scheduler.advance(20.0)

    later = ManualScheduler(start=scheduler.now())
    async with running_app(cc_settings, db, scheduler=later) as client:
        await later.advance(5.0)
        async with console(client, cc_settings, "alice") as alice:
            assert (await alice.command("set_status", status="available"))["type"] == "reply"
            offer = await alice.next("offer", contact_id="w-1")
            assert offer["data"]["enqueued_at"] == pytest.approx(arrived, abs=1e-3)
            assert (await alice.command("accept", contact_id="w-1"))["type"] == "reply"
            await alice.next("contact_state", contact_id="w-1", state="connected")

    offered = [e for e in await read_contact(db, "w-1") if e.type == "contact.offered"]
    assert [e.data["wait_s"] for e in offered] == [pytest.approx(25.0)]
    row = await get_interaction(db, "w-1")
    assert row is not None and row.wait_s == pytest.approx(25.0)
