"""Consult (warm) transfer and conference end to end: two agents' websockets, the gateway
commands reaching the simulated carrier (who is on the line with whom), the event log and
the call log. Real PostgreSQL, the real app, the carrier as a websockets client."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from contactcenter.clock import ManualScheduler
from contactcenter.settings import Settings
from contactcenter.store.events import read_contact
from contactcenter.store.interactions import get_interaction
from tests.contactcenter.server_support import Console, until
from tests.contactcenter.test_voice_controls import _ok, _refused, connected_call


async def _consult(alice: Console, bob: Console, cid: str) -> dict[str, Any]:
    """Bob made available, Alice asks him for a consult; Bob's offer, checked."""
    _ok(await bob.command("set_status", status="available"))
    await bob.next("agent_state", activity="idle")
    reply = _ok(await alice.command("consult", contact_id=cid, agent_id="bob"))
    assert reply["agent_id"] == "bob" and reply["contact_id"] == cid
    offer = await bob.next("consult_offer", contact_id=cid)
    data: dict[str, Any] = offer["data"]
    assert data["from_agent"] == "alice" and data["channel"] == "voice"
    assert data["expires_at"] == reply["expires_at"]
    assert "known" in data["screen_pop"], "the caller's screen pop comes with the offer"
    await alice.next("consult_state", contact_id=cid, state="offered")
    await alice.next("agent_state", activity="on_hold")
    await bob.next("agent_state", activity="offered")
    return data


async def test_consult_then_complete_hands_the_caller_to_the_other_agent(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    scheduler = ManualScheduler()
    async with connected_call(db, cc_settings, "alice", "bob", scheduler=scheduler) as (
        carrier,
        consoles,
        cid,
        call,
    ):
        alice, bob = consoles["alice"], consoles["bob"]
        await _consult(alice, bob, cid)
        # only Alice may complete, and only once Bob has answered
        sent = await alice.send("consult_complete", contact_id=cid)
        _refused(await alice.next("error", id=sent), sent, "illegal_transition")
        _ok(await bob.command("consult_accept", contact_id=cid))
        await alice.next("consult_state", contact_id=cid, state="consulting")
        await bob.next("agent_state", activity="on_contact")
        await until(lambda: carrier.consult_legs.get(cid) == ("alice", "bob"))
        assert carrier.joined[cid] == {"alice"}, "the caller waits on hold meanwhile"
        await scheduler.advance(1.0)  # they talk it over for a second

        _ok(await alice.command("consult_complete", contact_id=cid))
        await alice.next("consult_state", contact_id=cid, state="completed")
        await alice.next("agent_state", activity="wrap_up")
        await bob.next("contact_state", contact_id=cid, state="connected")
        await until(lambda: carrier.joined.get(cid) == {"bob"})
        assert cid not in carrier.consult_legs
        assert carrier.legs[cid] == ["bridge:alice", "consult_bridge", "bridge:bob"]

        _ok(await alice.command("wrapup", contact_id=cid, disposition="callback"))
        await scheduler.advance(0.5)  # some talk time for Bob (a binary fraction: exact)
        _ok(await bob.command("end", contact_id=cid))
        await bob.next("agent_state", activity="wrap_up")
        record = await asyncio.wait_for(call, 5)
        assert record.ended_by == "server"
        _ok(await bob.command("wrapup", contact_id=cid, disposition="sold"))

    story = await read_contact(db, cid)
    handling = [
        (e.type, e.agent_id)
        for e in story
        if e.type
        in (
            "contact.answered",
            "consult.started",
            "consult.accepted",
            "contact.transferred",
            "contact.ended",
        )
    ]
    assert handling == [
        ("contact.answered", "alice"),
        ("consult.started", "alice"),
        ("consult.accepted", "bob"),
        ("contact.transferred", "alice"),
        ("contact.answered", "bob"),
        ("contact.ended", "bob"),
    ]
    row = await get_interaction(db, cid)
    assert row is not None
    assert (row.outcome, row.agent_id, row.transfers) == ("handled", "bob", 1)
    bob_talk = next(e for e in story if e.type == "contact.ended").data["talk_s"]
    assert bob_talk >= 0.3
    assert row.talk_s is not None and row.talk_s >= bob_talk
    assert row.hold_s > 0, "Alice's caller was on hold during the consult"


async def test_consult_cancel_gives_the_caller_back_and_frees_the_other_agent(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    async with connected_call(db, cc_settings, "alice", "bob") as (carrier, consoles, cid, call):
        alice, bob = consoles["alice"], consoles["bob"]
        await _consult(alice, bob, cid)
        _ok(await bob.command("consult_accept", contact_id=cid))
        await until(lambda: cid in carrier.consult_legs)
        _ok(await alice.command("consult_cancel", contact_id=cid))
        await alice.next("consult_state", contact_id=cid, state="cancelled")
        await bob.next("consult_state", contact_id=cid, state="cancelled")
        await alice.next("contact_state", contact_id=cid, state="connected")
        await bob.next("agent_state", activity="idle")
        await until(lambda: cid not in carrier.consult_legs)
        assert carrier.legs[cid] == ["bridge:alice", "consult_bridge", "consult_end"]
        assert carrier.joined[cid] == {"alice"}
        _ok(await alice.command("end", contact_id=cid))
        await asyncio.wait_for(call, 5)
    types = [e.type for e in await read_contact(db, cid)]
    assert "consult.cancelled" in types and "contact.transferred" not in types
    row = await get_interaction(db, cid)
    assert row is not None and (row.agent_id, row.transfers) == ("alice", 0)


async def test_consult_rejected_leaves_the_caller_on_hold_with_the_first_agent(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    async with connected_call(db, cc_settings, "alice", "bob") as (carrier, consoles, cid, call):
        alice, bob = consoles["alice"], consoles["bob"]
        # Bob is not ready: a clear error naming the command
        sent = await alice.send("consult", contact_id=cid, agent_id="bob")
        _refused(await alice.next("error", id=sent), sent, "target_unavailable")
        sent = await alice.send("consult", contact_id=cid, agent_id="nobody")
        _refused(await alice.next("error", id=sent), sent, "unknown_agent")
        await _consult(alice, bob, cid)
        sent = await alice.send("consult_accept", contact_id=cid)
        _refused(await alice.next("error", id=sent), sent, "not_your_contact")
        _ok(await bob.command("consult_reject", contact_id=cid))
        state = await alice.next("consult_state", contact_id=cid, state="rejected")
        assert state["data"]["reason"] == "rejected"
        await bob.next("agent_state", activity="idle")
        assert (await alice.command("resume_contact", contact_id=cid))["type"] == "reply"
        await alice.next("contact_state", contact_id=cid, state="connected")
        assert "consult_bridge" not in carrier.legs.get(cid, [])
        _ok(await alice.command("end", contact_id=cid))
        await asyncio.wait_for(call, 5)
    types = [e.type for e in await read_contact(db, cid)]
    assert "consult.rejected" in types


async def test_conference_first_agent_leaves_second_ends_call_log_row(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    async with connected_call(db, cc_settings, "alice", "bob") as (carrier, consoles, cid, call):
        alice, bob = consoles["alice"], consoles["bob"]
        await _consult(alice, bob, cid)
        _ok(await bob.command("consult_accept", contact_id=cid))
        _ok(await alice.command("conference", contact_id=cid))
        await alice.next("consult_state", contact_id=cid, state="conference")
        await bob.next("consult_state", contact_id=cid, state="conference")
        await until(lambda: carrier.joined.get(cid) == {"alice", "bob"})
        assert cid not in carrier.consult_legs

        # in a conference the agents leave; they neither hold nor end the call
        sent = await alice.send("end", contact_id=cid)
        _refused(await alice.next("error", id=sent), sent, "illegal_transition")
        _ok(await alice.command("leave_conference", contact_id=cid))
        left = await bob.next("consult_state", contact_id=cid, state="left")
        assert left["data"]["remaining"] == "bob"
        await alice.next("agent_state", activity="wrap_up")
        await until(lambda: carrier.joined.get(cid) == {"bob"})
        _ok(await alice.command("wrapup", contact_id=cid, disposition="callback"))

        _ok(await bob.command("end", contact_id=cid))
        record = await asyncio.wait_for(call, 5)
        assert record.ended_by == "server"
        _ok(await bob.command("wrapup", contact_id=cid, disposition="sold"))
        await bob.next("agent_state", activity="idle")

    story = await read_contact(db, cid)
    types = [e.type for e in story]
    assert (
        types.index("conference.started")
        < types.index("conference.left")
        < types.index("contact.ended")
    )
    ended = next(e for e in story if e.type == "contact.ended")
    assert ended.agent_id == "bob"
    answered = next(e for e in story if e.type == "contact.answered")
    # talk counts from the original answer (Alice's), less the hold during the consult
    span = ended.ts - answered.ts
    assert 0 < ended.data["talk_s"] <= span
    assert abs(ended.data["talk_s"] + ended.data["hold_s"] - span) < 1e-3
    row = await get_interaction(db, cid)
    assert row is not None
    assert (row.outcome, row.agent_id, row.transfers) == ("handled", "bob", 0)
    assert row.hold_s > 0 and row.talk_s is not None and row.talk_s > 0
    assert row.wrapup_ended_at is not None
