"""An agent whose console drops keeps its place for a grace period, then is logged out and
its offers go back to the queue; reconnecting in time keeps everything. The app runs on a
ManualScheduler with the hub's real grace period: the test moves the clock across it."""

from __future__ import annotations

import asyncpg

from contactcenter.appkeys import NODE
from contactcenter.clock import ManualScheduler
from contactcenter.hub import DROP_GRACE_S
from contactcenter.settings import Settings
from tests.contactcenter.server_support import (
    add_agent,
    armed,
    console,
    gateway_headers,
    running_app,
    until,
)
from tests.contactcenter.test_server_timers import FAST

# offers that outlast the grace period: only the drop takes the call back
SLOW_OFFERS = FAST.model_copy(
    update={"queues": tuple(q.model_copy(update={"offer_timeout_s": 120.0}) for q in FAST.queues)}
)
BEFORE = 0.25  # "just before" the grace ends (a binary fraction: the sums stay exact)


async def test_dropped_console_logs_out_after_grace_and_offer_goes_back(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "kim", {"fast": 3})
    await add_agent(db, "lee", {"fast": 3})
    scheduler = ManualScheduler()
    async with running_app(cc_settings, db, SLOW_OFFERS, scheduler=scheduler) as client:
        async with console(client, cc_settings, "kim") as kim:
            await kim.command("set_status", status="available")
            resp = await client.post(
                "/gateway/calls",
                headers=gateway_headers(cc_settings),
                json={"call_id": "d-1", "queue": "fast"},
            )
            assert (await resp.json())["state"] == "offered"
            await kim.next("offer", contact_id="d-1")
        # kim's socket is closed; within the grace period nothing changes
        await armed(scheduler, DROP_GRACE_S, "the reconnect grace")
        engine = client.app[NODE].services.hub.acd.engine
        assert engine.contact("d-1").agent_id == "kim"
        await scheduler.advance(DROP_GRACE_S - BEFORE)
        assert engine.agent("kim").status == "available"
        assert engine.contact("d-1").agent_id == "kim"
        await scheduler.advance(BEFORE)
        await until(lambda: engine.agent("kim").status == "offline", what="kim's logout")
        assert engine.contact("d-1").state == "queued"
        # the call waited at its place and goes to the next agent who comes
        async with console(client, cc_settings, "lee") as lee:
            await lee.command("set_status", status="available")
            await lee.next("offer", contact_id="d-1")


async def test_reconnect_within_grace_keeps_the_agent_and_its_offer(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "kim", {"fast": 3})
    scheduler = ManualScheduler()
    async with running_app(cc_settings, db, SLOW_OFFERS, scheduler=scheduler) as client:
        async with console(client, cc_settings, "kim") as kim:
            await kim.command("set_status", status="available")
            await client.post(
                "/gateway/calls",
                headers=gateway_headers(cc_settings),
                json={"call_id": "d-2", "queue": "fast"},
            )
            await kim.next("offer", contact_id="d-2")
        await armed(scheduler, DROP_GRACE_S, "the reconnect grace")
        await scheduler.advance(DROP_GRACE_S - BEFORE)
        async with console(client, cc_settings, "kim") as kim:
            await kim.command("hello")  # back on the server before the grace ends
            await scheduler.advance(2 * DROP_GRACE_S)
            engine = client.app[NODE].services.hub.acd.engine
            assert engine.agent("kim").status == "available"
            assert engine.contact("d-2").agent_id == "kim"
            assert (await kim.command("accept", contact_id="d-2"))["type"] == "reply"
