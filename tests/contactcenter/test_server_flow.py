"""The server's core path end to end: gateway call -> offer with screen pop -> accept ->
end -> wrap-up, against real PostgreSQL, a real HTTP server and real websocket clients."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

import asyncpg

from contactcenter.settings import Settings
from contactcenter.store import EventLog, EventRecord
from contactcenter.store.customers import CustomerIn, upsert_customer
from contactcenter.store.events import read_contact
from contactcenter.store.interactions import get_interaction
from tests.contactcenter.server_support import (
    add_agent,
    bearer,
    console,
    gateway_headers,
    running_app,
)


async def seed_history(pool: asyncpg.Pool, customer_id: str) -> None:
    """One earlier call of the customer, already wrapped up (the screen pop shows it)."""
    t = 1_700_000_000.0
    story = [
        (
            "contact.arrived",
            t,
            None,
            {"channel": "voice", "ani": "+14155550101", "customer_id": customer_id},
        ),
        ("contact.queued", t + 1, None, {"channel": "voice", "priority": 0}),
        ("contact.answered", t + 5, "carol", {"wait_s": 4.0}),
        ("contact.ended", t + 65, "carol", {"talk_s": 60.0, "hold_s": 0.0}),
        (
            "wrapup.completed",
            t + 80,
            "carol",
            {"wrapup_s": 15.0, "disposition": "resolved", "notes": "router reset"},
        ),
    ]
    async with EventLog(pool) as log:
        await log.append(
            [
                EventRecord(
                    type=kind,
                    ts=ts,
                    contact_id="old-1",
                    agent_id=agent,
                    queue_id="support",
                    data=data,
                )
                for kind, ts, agent, data in story
            ]
        )


async def test_call_is_offered_with_screen_pop_then_answered_and_wrapped_up(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "bob", {"sales": 8})
    await add_agent(db, "alice", {"sales": 8})
    await add_agent(db, "carol", {"support": 5})
    ada = await upsert_customer(
        db,
        CustomerIn(name="Ada Lovelace", account_number="A-1", phones=["+14155550101"], tier="gold"),
    )
    await seed_history(db, ada.id)

    async with running_app(cc_settings, db) as client:
        gw = await client.ws_connect("/gateway/ws", headers=gateway_headers(cc_settings))
        async with (
            console(client, cc_settings, "bob") as bob,
            console(client, cc_settings, "alice") as alice,
            console(client, cc_settings, "carol") as carol,
        ):
            for c in (bob, alice, carol):  # bob has been idle longest
                first = await c.next("agent_state")
                assert first["data"]["status"] == "offline" and first["seq"] == 1
                assert (await c.command("set_status", status="available"))["type"] == "reply"
                await c.next("agent_state", activity="idle")

            resp = await client.post(
                "/gateway/calls",
                headers=gateway_headers(cc_settings),
                json={"call_id": "call-1", "ani": "+1 (415) 555-0101", "dnis": "+18005550100"},
            )
            assert resp.status == 201, await resp.text()
            body = await resp.json()
            assert body == {
                "call_id": "call-1",
                "queue": "sales",
                "state": "offered",
                "customer_id": ada.id,
            }

            offer = await bob.next("offer")
            data = offer["data"]
            assert data["contact_id"] == "call-1" and data["queue"] == "sales"
            pop = data["screen_pop"]
            assert pop["known"] is True
            assert pop["customer"]["name"] == "Ada Lovelace"
            assert pop["customer"]["tier"] == "gold"
            assert [(r["contact_id"], r["disposition"], r["notes"]) for r in pop["recent"]] == [
                ("old-1", "resolved", "router reset")
            ]

            # alice may not touch bob's contact
            refused = await alice.command("accept", contact_id="call-1")
            assert refused["type"] == "error"
            assert refused["data"]["code"] == "not_your_contact"
            assert not [m for m in alice.seen if m["type"] == "offer"]
            assert not [m for m in carol.seen if m["type"] == "offer"]

            assert (await bob.command("accept", contact_id="call-1"))["type"] == "reply"
            await bob.next("contact_state", contact_id="call-1", state="connected")
            assert (await bob.command("hold", contact_id="call-1"))["type"] == "reply"
            assert (await bob.command("resume_contact", contact_id="call-1"))["type"] == "reply"
            assert (await bob.command("end", contact_id="call-1"))["type"] == "reply"
            await bob.next("contact_state", contact_id="call-1", state="wrap_up")
            missing = await bob.command("wrapup", contact_id="call-1")
            assert missing["data"]["code"] == "disposition_required"
            done = await bob.command(
                "wrapup",
                contact_id="call-1",
                disposition="sold",
                notes="upgraded to the family plan",
            )
            assert done["type"] == "reply", done
            await bob.next("agent_state", activity="idle")

            # the gateway was told to bridge the call to bob's extension, then hang up
            commands = []
            while len(commands) < 2:
                msg = await asyncio.wait_for(gw.receive_json(), 5)
                commands.append(msg)
            assert [(m["type"], m["data"]["call_id"]) for m in commands] == [
                ("bridge", "call-1"),
                ("hangup", "call-1"),
            ]
            assert commands[0]["data"]["extension"] == "x-bob"
            seqs = [m["seq"] for m in bob.seen]
            assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)

            queues = await client.get("/api/queues", headers=bearer(cc_settings, "bob", "agent"))
            assert queues.status == 200
            sales = next(q for q in (await queues.json())["queues"] if q["queue_id"] == "sales")
            assert sales["answered"] == 1
        await gw.close()

    row = await get_interaction(db, "call-1")
    assert row is not None
    assert (row.queue_id, row.agent_id, row.customer_id) == ("sales", "bob", ada.id)
    assert (row.disposition, row.notes, row.outcome) == (
        "sold",
        "upgraded to the family plan",
        "handled",
    )
    assert row.ani == "+1 (415) 555-0101"
    times = [
        row.arrived_at,
        row.queued_at,
        row.offered_at,
        row.answered_at,
        row.ended_at,
        row.wrapup_ended_at,
    ]
    assert all(t is not None for t in times)
    assert times == sorted(times)  # type: ignore[type-var]
    story = [e.type for e in await read_contact(db, "call-1")]
    assert story == [
        "contact.arrived",
        "contact.queued",
        "contact.offered",
        "contact.answered",
        "contact.held",
        "contact.resumed",
        "contact.ended",
        "wrapup.completed",
    ]


async def test_unknown_caller_pop_says_so(db: asyncpg.Pool, cc_settings: Settings) -> None:
    await add_agent(db, "dora", {"billing": 5})
    async with running_app(cc_settings, db) as client, console(client, cc_settings, "dora") as dora:
        await dora.command("set_status", status="available")
        resp = await client.post(
            "/gateway/calls",
            headers=gateway_headers(cc_settings),
            json={"call_id": "call-u", "ani": "+442071234567", "queue": "billing"},
        )
        assert resp.status == 201
        pop = (await dora.next("offer"))["data"]["screen_pop"]
        assert pop["known"] is False and pop["customer"] is None
        assert "Unknown caller" in pop["message"] and "+442071234567" in pop["message"]


async def test_waiting_call_survives_a_restart(db: asyncpg.Pool, cc_settings: Settings) -> None:
    await add_agent(db, "erin", {"sales": 9})
    async with running_app(cc_settings, db) as client:
        resp = await client.post(
            "/gateway/calls",
            headers=gateway_headers(cc_settings),
            json={"call_id": "call-r", "queue": "sales", "ani": "+14155550199"},
        )
        assert (await resp.json())["state"] == "queued"

    async with running_app(cc_settings, db) as client:
        queues = await client.get("/api/queues", headers=bearer(cc_settings, "root", "admin"))
        assert (await queues.json())["waiting_now"]["sales"] == 1
        async with console(client, cc_settings, "erin") as erin:
            await erin.command("set_status", status="available")
            offer = await erin.next("offer")
            assert offer["data"]["contact_id"] == "call-r"
            assert (await erin.command("accept", contact_id="call-r"))["type"] == "reply"
    row = await get_interaction(db, "call-r")
    assert row is not None and row.agent_id == "erin" and row.answered_at is not None


async def test_reconnecting_console_gets_what_it_missed(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "finn", {"billing": 5})
    async with running_app(cc_settings, db) as client:
        async with console(client, cc_settings, "finn") as finn:
            await finn.command("set_status", status="available")
            last_seq = max(m["seq"] for m in finn.seen)
        # offered while the console is away
        resp = await client.post(
            "/gateway/calls",
            headers=gateway_headers(cc_settings),
            json={"call_id": "call-m", "queue": "billing"},
        )
        assert (await resp.json())["state"] == "offered"
        async with console(client, cc_settings, "finn") as finn:
            hello = await finn.command("hello", last_seq=last_seq)
            assert hello["data"]["replayed"] >= 1 and hello["data"]["gap"] is False
            offer = await finn.next("offer")
            assert offer["data"]["contact_id"] == "call-m" and offer["seq"] > last_seq


async def _error(resp: Any) -> dict[str, Any]:
    assert resp.content_type == "application/json"
    body: dict[str, Any] = (await resp.json())["error"]
    return body


async def test_concurrent_arrivals_commit_in_engine_order(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "gus", {"billing": 5})
    async with running_app(cc_settings, db) as client:
        calls = [f"burst-{i}" for i in range(30)]
        responses = await asyncio.gather(
            *(
                client.post(
                    "/gateway/calls",
                    headers=gateway_headers(cc_settings),
                    json={"call_id": cid, "queue": "billing"},
                )
                for cid in calls
            )
        )
        assert [r.status for r in responses] == [201] * 30
        queued = [
            e for cid in calls for e in await read_contact(db, cid) if e.type == "contact.queued"
        ]
        assert len(queued) == 30
        # FCFS in the engine is the order of the queued events in the log
        first = min(queued, key=lambda e: e.seq).contact_id
        by_seq = sorted(queued, key=lambda e: e.seq)
        assert all(a.ts <= b.ts for a, b in itertools.pairwise(by_seq))
        async with console(client, cc_settings, "gus") as gus:
            await gus.command("set_status", status="available")
            assert (await gus.next("offer"))["data"]["contact_id"] == first
