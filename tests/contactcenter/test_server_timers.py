"""Engine timers run on the server's scheduler and come back through the same commit
path. The app runs on a ManualScheduler: the test moves its clock, to just before each
timer and to it."""

from __future__ import annotations

import asyncpg

from contactcenter.clock import ManualScheduler
from contactcenter.settings import Settings
from contactcenter.store.events import read_contact
from contactcenter.store.interactions import get_interaction
from routing.policy import parse_routing_config
from tests.contactcenter.server_support import (
    Console,
    add_agent,
    console,
    gateway_headers,
    running_app,
)

OFFER_TIMEOUT_S = 15.0
WRAP_UP_S = 30.0
BEFORE = 0.25  # "just before" a timer (a binary fraction: the sums stay exact)
FAST = parse_routing_config(
    f"""
queues:
  - id: fast
    channel: voice
    skills: {{fast: 1}}
    offer_timeout_s: {OFFER_TIMEOUT_S}
    wrap_up: {{mode: timed, seconds: {WRAP_UP_S}}}
  - id: other
    channel: voice
    skills: {{other: 1}}
""",
    "test config",
)


async def nothing_pushed(agent: Console, kind: str, **match: str) -> None:
    """No message of this kind reached the agent: a command's reply comes after whatever
    the server pushed before it, so the inbox holds everything sent so far."""
    await agent.command("hello")
    assert not [
        m
        for m in agent.inbox
        if m["type"] == kind and all(m["data"].get(k) == v for k, v in match.items())
    ]


async def test_offer_times_out_and_timed_wrapup_ends(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "kim", {"fast": 3})
    await add_agent(db, "lee", {"fast": 3})
    scheduler = ManualScheduler()
    async with (
        running_app(cc_settings, db, FAST, scheduler=scheduler) as client,
        console(client, cc_settings, "kim") as kim,
        console(client, cc_settings, "lee") as lee,
    ):
        await kim.command("set_status", status="available")
        await lee.command("set_status", status="available")
        resp = await client.post(
            "/gateway/calls",
            headers=gateway_headers(cc_settings),
            json={"call_id": "t-1", "queue": "fast"},
        )
        assert (await resp.json())["state"] == "offered"
        # kim (longest idle) lets it ring: the offer times out and goes to lee
        await kim.next("offer", contact_id="t-1")
        await scheduler.advance(OFFER_TIMEOUT_S - BEFORE)
        await nothing_pushed(kim, "contact_state", contact_id="t-1", state="offer_timed_out")
        await scheduler.advance(BEFORE)
        await kim.next("contact_state", contact_id="t-1", state="offer_timed_out")
        await kim.next("agent_state", activity="not_responding")
        await lee.next("offer", contact_id="t-1")
        assert (await lee.command("accept", contact_id="t-1"))["type"] == "reply"
        # the caller hangs up; wrap-up ends on its own
        resp = await client.post("/gateway/calls/t-1/hangup", headers=gateway_headers(cc_settings))
        assert resp.status == 200
        await lee.next("contact_state", contact_id="t-1", state="wrap_up")
        await scheduler.advance(WRAP_UP_S - BEFORE)
        await nothing_pushed(lee, "contact_state", contact_id="t-1", state="done")
        await scheduler.advance(BEFORE)
        await lee.next("contact_state", contact_id="t-1", state="done")
        await lee.next("agent_state", activity="idle")
    story = [e.type for e in await read_contact(db, "t-1")]
    assert story == [
        "contact.arrived",
        "contact.queued",
        "contact.offered",
        "offer.timed_out",
        "contact.offered",
        "contact.answered",
        "contact.ended",
        "wrapup.completed",
    ]
    row = await get_interaction(db, "t-1")
    assert row is not None and row.agent_id == "lee" and row.offers == 2


async def test_caller_leaving_rescinds_the_offer_and_transfer_requeues(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "max", {"fast": 3})
    await add_agent(db, "ned", {"other": 3})
    async with (
        running_app(cc_settings, db, FAST) as client,
        console(client, cc_settings, "max") as mx,
        console(client, cc_settings, "ned") as ned,
    ):
        await mx.command("set_status", status="available")
        await client.post(
            "/gateway/calls",
            headers=gateway_headers(cc_settings),
            json={"call_id": "r-1", "queue": "fast"},
        )
        await mx.next("offer", contact_id="r-1")
        await client.post("/gateway/calls/r-1/hangup", headers=gateway_headers(cc_settings))
        rescinded = await mx.next("offer_rescinded", contact_id="r-1")
        assert rescinded["data"]["reason"] == "caller_left"

        await mx.next("agent_state", activity="idle")
        await client.post(
            "/gateway/calls",
            headers=gateway_headers(cc_settings),
            json={"call_id": "r-2", "queue": "fast"},
        )
        await mx.next("offer", contact_id="r-2")
        await mx.command("accept", contact_id="r-2")
        wrong = await mx.command("transfer", contact_id="r-2", to_queue="nowhere")
        assert wrong["data"]["code"] == "unknown_queue"
        await ned.command("set_status", status="available")
        moved = await mx.command("transfer", contact_id="r-2", to_queue="other")
        assert moved["type"] == "reply"
        await ned.next("offer", contact_id="r-2")
        await ned.command("accept", contact_id="r-2")
    row = await get_interaction(db, "r-2")
    assert row is not None
    assert (row.queue_id, row.agent_id, row.transfers) == ("other", "ned", 1)
    left = await get_interaction(db, "r-1")
    assert left is not None and left.outcome == "abandoned"
