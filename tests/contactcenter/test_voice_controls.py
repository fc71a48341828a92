"""Voice controls end to end: an agent's ``mute``, ``dtmf`` and ``transfer`` to an external
number over her websocket, the gateway commands reaching the simulated carrier, the event
log and the call log. Real PostgreSQL, the real app, the carrier as a websockets client."""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import asyncpg

from contactcenter.carrier import CallRecord, Carrier, CarrierConfig
from contactcenter.clock import Scheduler
from contactcenter.settings import Settings
from contactcenter.store.events import read_contact
from contactcenter.store.interactions import get_interaction
from tests.contactcenter.server_support import (
    Console,
    add_agent,
    console,
    gateway_key,
    running_app,
    until,
)

CARD = "4111111111111111#"


@asynccontextmanager
async def connected_call(
    db: asyncpg.Pool, cc_settings: Settings, *agents: str, scheduler: Scheduler | None = None
) -> AsyncIterator[tuple[Carrier, dict[str, Console], str, asyncio.Task[CallRecord]]]:
    """A carrier call bridged to the first agent (the others logged in, not ready);
    ``scheduler``: the app's clock (a ManualScheduler for a test that moves it)."""
    for agent in agents:
        await add_agent(db, agent, {"sales": 8})
    async with running_app(cc_settings, db, scheduler=scheduler) as client:
        url = str(client.make_url("")).rstrip("/")
        carrier = Carrier(
            CarrierConfig(
                url=url,
                gateway_key=gateway_key(cc_settings),
                queue="sales",
                max_calls=0,
                fixed_times=True,
            )
        )
        async with carrier.serving(), AsyncExitStack() as stack:
            consoles = {
                a: await stack.enter_async_context(console(client, cc_settings, a)) for a in agents
            }
            first = consoles[agents[0]]
            assert (await first.command("set_status", status="available"))["type"] == "reply"
            call = asyncio.create_task(carrier.call(queue="sales", patience=30, talk=math.inf))
            offer = await first.next("offer")
            cid = offer["data"]["contact_id"]
            assert (await first.command("accept", contact_id=cid))["type"] == "reply"
            await first.next("contact_state", contact_id=cid, state="connected")
            await until(lambda: any(c.outcome == "bridged" for c in carrier.result.calls))
            yield carrier, consoles, cid, call


def _ok(message: dict[str, Any]) -> dict[str, Any]:
    assert message["type"] == "reply", message
    data: dict[str, Any] = message["data"]
    return data


def _refused(message: dict[str, Any], command_id: str, code: str) -> None:
    assert message["type"] == "error", message
    assert message["data"]["id"] == command_id
    assert message["data"]["code"] == code, message


async def test_mute_and_dtmf_reach_the_carrier_and_the_log_keeps_no_digits(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    async with connected_call(db, cc_settings, "alice") as (carrier, consoles, cid, call):
        alice = consoles["alice"]
        alice.inbox.clear()  # earlier agent_state messages: each check below sees the next
        assert _ok(await alice.command("mute", contact_id=cid, muted=True)) == {
            "id": "c3",
            "ok": True,
            "contact_id": cid,
            "muted": True,
        }
        assert (await alice.next("agent_state"))["data"]["muted"] == [cid]
        await until(lambda: carrier.mutes.get(cid) == [True])

        _ok(await alice.command("mute", contact_id=cid, muted=False))
        assert (await alice.next("agent_state"))["data"]["muted"] == []
        await until(lambda: carrier.mutes.get(cid) == [True, False])

        assert _ok(await alice.command("dtmf", contact_id=cid, digits=CARD))["count"] == len(CARD)
        _ok(await alice.command("dtmf", contact_id=cid, digits="*9"))
        await until(lambda: carrier.dtmf.get(cid) == CARD + "*9")

        # on hold the keys would go nowhere: refused; muting a held call is fine
        _ok(await alice.command("hold", contact_id=cid))
        sent = await alice.send("dtmf", contact_id=cid, digits="1")
        _refused(await alice.next("error", id=sent), sent, "not_connected")
        _ok(await alice.command("mute", contact_id=cid, muted=True))
        assert (await alice.next("agent_state", muted=[cid]))["data"]["activity"] == "on_hold"
        _ok(await alice.command("resume_contact", contact_id=cid))

        # the end of the call clears the mute
        _ok(await alice.command("end", contact_id=cid))
        state = await alice.next("agent_state", activity="wrap_up")
        assert state["data"]["muted"] == []
        record = await asyncio.wait_for(call, 5)
        assert record.ended_by == "server"
        assert carrier.dtmf[cid] == CARD + "*9"  # nothing more reached the line

    story = await read_contact(db, cid)
    assert [
        e.type
        for e in story
        if e.type.startswith("contact.")
        and e.type not in ("contact.arrived", "contact.queued", "contact.offered")
    ] == [
        "contact.answered",
        "contact.muted",
        "contact.unmuted",
        "contact.dtmf_sent",
        "contact.dtmf_sent",
        "contact.held",
        "contact.muted",
        "contact.resumed",
        "contact.ended",
    ]
    sent_events = [e for e in story if e.type == "contact.dtmf_sent"]
    assert [e.data for e in sent_events] == [{"count": len(CARD)}, {"count": 2}]
    assert {e.agent_id for e in sent_events} == {"alice"}
    # the keys are nowhere in the log, whatever event might have carried them
    logged = await db.fetch("SELECT type, data::text AS data FROM events")
    assert logged and not [r for r in logged if "4111111111111111" in r["data"]]


async def test_external_transfer_sends_the_call_out_and_logs_the_target(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    async with connected_call(db, cc_settings, "alice") as (carrier, consoles, cid, call):
        alice = consoles["alice"]
        _ok(await alice.command("mute", contact_id=cid, muted=True))
        reply = _ok(await alice.command("transfer", contact_id=cid, number="+1 (212) 555-0199"))
        assert reply["number"] == "+12125550199" and reply["contact_id"] == cid
        await alice.next("contact_state", contact_id=cid, state="wrap_up")
        state = await alice.next("agent_state", activity="wrap_up")
        assert state["data"]["muted"] == []
        record = await asyncio.wait_for(call, 5)
        assert record.ended_by == "server"
        assert carrier.transfers == {cid: "+12125550199"}
        # the agent wraps up as for any end (sales: timed, disposition required)
        _ok(
            await alice.command(
                "wrapup", contact_id=cid, disposition="callback", notes="sent to the partner desk"
            )
        )
        await alice.next("agent_state", activity="idle")

    story = [e.type for e in await read_contact(db, cid)]
    at = story.index("contact.transferred_external")
    assert story[at + 1] == "contact.ended" and "contact.transferred" not in story
    row = await get_interaction(db, cid)
    assert row is not None
    assert (row.outcome, row.outcome_reason, row.agent_id, row.disposition) == (
        "transferred",
        "+12125550199",
        "alice",
        "callback",
    )
    assert row.ended_at is not None and row.talk_s is not None
    assert row.wrapup_ended_at is not None


async def test_bad_voice_commands_get_errors_naming_the_command(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    async with connected_call(db, cc_settings, "alice", "bob") as (carrier, consoles, cid, _):
        alice, bob = consoles["alice"], consoles["bob"]
        bad = [
            ("dtmf", {"contact_id": cid, "digits": "12x"}, "invalid_command"),
            ("dtmf", {"contact_id": cid, "digits": ""}, "invalid_command"),
            ("dtmf", {"contact_id": cid, "digits": "1" * 33}, "invalid_command"),
            ("mute", {"contact_id": cid}, "invalid_command"),
            ("transfer", {"contact_id": cid, "number": "call me"}, "invalid_command"),
            ("transfer", {"contact_id": cid, "number": "+0123"}, "invalid_command"),
            (
                "transfer",
                {"contact_id": cid, "number": "+12125550199", "to_queue": "sales"},
                "invalid_command",
            ),
            ("mute", {"contact_id": "no-such-call", "muted": True}, "unknown_contact"),
            ("dtmf", {"contact_id": "no-such-call", "digits": "1"}, "unknown_contact"),
        ]
        for kind, fields, code in bad:
            sent = await alice.send(kind, **fields)
            _refused(await alice.next("error", id=sent), sent, code)
        for kind, fields in [
            ("mute", {"muted": True}),
            ("dtmf", {"digits": "5"}),
            ("transfer", {"number": "+12125550199"}),
        ]:
            sent = await bob.send(kind, contact_id=cid, **fields)
            _refused(await bob.next("error", id=sent), sent, "not_your_contact")
        # nothing of it reached the line or the log
        _ok(await alice.command("end", contact_id=cid))
        sent = await alice.send("dtmf", contact_id=cid, digits="1")
        refused = await alice.next("error", id=sent)
        assert refused["data"]["id"] == sent
        assert refused["data"]["code"] in ("not_connected", "unknown_contact")
        assert cid not in carrier.mutes and cid not in carrier.dtmf
        assert cid not in carrier.transfers
    types = {e.type for e in await read_contact(db, cid)}
    assert "contact.ended" in types
    assert not types & {"contact.muted", "contact.dtmf_sent", "contact.transferred_external"}
