"""Click-to-dial end to end: an agent's ``dial`` over her websocket, the server's
``originate`` to the simulated carrier over the gateway websocket, the callee's answer (or
busy tone) back, the bridge, end, wrap-up and the call log row. Real PostgreSQL, the real
app, the carrier as a websockets client."""

from __future__ import annotations

import json

import asyncpg

from contactcenter.carrier import Carrier, CarrierConfig
from contactcenter.clock import ManualScheduler
from contactcenter.settings import Settings
from contactcenter.store.customers import CustomerIn, upsert_customer
from contactcenter.store.events import read_contact
from contactcenter.store.interactions import get_interaction
from tests.contactcenter.server_support import (
    HeldCarrier,
    add_agent,
    console,
    gateway_headers,
    gateway_key,
    running_app,
    until,
)


def carrier_for(url: str, settings: Settings, **outbound: float) -> Carrier:
    """A carrier that places no calls of its own and answers originates as told."""
    return Carrier(
        CarrierConfig(
            url=url,
            gateway_key=gateway_key(settings),
            queue="sales",
            max_calls=0,
            fixed_times=True,
            **outbound,
        )
    )


async def test_dial_answered_then_ended_and_wrapped_up(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "alice", {"sales": 8})
    ada = await upsert_customer(
        db, CustomerIn(name="Ada Lovelace", phones=["+14155550199"], tier="gold")
    )
    scheduler = ManualScheduler()
    async with running_app(cc_settings, db, scheduler=scheduler) as client:
        url = str(client.make_url("")).rstrip("/")
        # the callee answers when the test says, after ringing on the app's clock
        carrier = HeldCarrier(
            carrier_for(
                url, cc_settings, answer_probability=1.0, busy_probability=0.0, answer_delay=0.0
            ).config
        )
        async with carrier.serving(), console(client, cc_settings, "alice") as alice:
            # a not-ready agent may dial (she is not taking inbound calls meanwhile)
            assert (await alice.command("set_status", status="break"))["type"] == "reply"
            reply = await alice.command("dial", number="+1 (415) 555-0199")
            assert reply["type"] == "reply", reply
            data = reply["data"]
            cid = data["contact_id"]
            assert data["number"] == "+14155550199" and data["queue"] == "sales"
            assert data["customer_id"] == ada.id and data["screen_pop"]["known"] is True
            await alice.next("contact_state", contact_id=cid, state="dialing")
            await until(lambda: bool(carrier.result.outbound), what="the originate")
            await scheduler.advance(4.0)  # it rings
            carrier.answers.set()
            answered = await alice.next("dial_result", contact_id=cid)
            assert answered["data"] == {
                "contact_id": cid,
                "number": "+14155550199",
                "result": "answered",
            }
            await until(
                lambda: (
                    bool(carrier.result.outbound)
                    and carrier.result.outbound[0].result == "answered"
                )
            )
            await scheduler.advance(1.0)  # a little talk
            assert (await alice.command("end", contact_id=cid))["type"] == "reply"
            await alice.next("contact_state", contact_id=cid, state="wrap_up")
            done = await alice.command(
                "wrapup", contact_id=cid, disposition="sold", notes="upgraded by phone"
            )
            assert done["type"] == "reply", done
            await alice.next("contact_state", contact_id=cid, state="done")
            await until(lambda: carrier.result.outbound[0].ended_by is not None)
            state = await alice.command("hello")
            assert state["data"]["agent_state"]["status"] == "break"

    (call,) = carrier.result.outbound
    assert (call.call_id, call.number, call.agent_id) == (cid, "+14155550199", "alice")
    assert call.bridged and call.ended_by == "server"
    assert carrier.result.dial_results == {"answered": 1}
    story = [e.type for e in await read_contact(db, cid)]
    assert story == [
        "contact.arrived",
        "contact.originated",
        "dial.result",
        "contact.ended",
        "wrapup.completed",
    ]
    row = await get_interaction(db, cid)
    assert row is not None
    assert (row.direction, row.channel, row.dnis, row.customer_id, row.agent_id) == (
        "outbound",
        "voice",
        "+14155550199",
        ada.id,
        "alice",
    )
    assert (row.outcome, row.disposition, row.notes, row.queue_id) == (
        "handled",
        "sold",
        "upgraded by phone",
        "sales",
    )
    assert row.offers == 0 and row.wait_s is None and row.queued_at is None
    assert row.answered_at is not None and row.ended_at is not None
    assert row.arrived_at is not None and row.answered_at > row.arrived_at  # it rang
    assert row.talk_s is not None and 0.1 < row.talk_s < 5
    assert row.wrapup_ended_at is not None


async def test_dial_busy_and_invalid_number_end_the_contact(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "bob", {"sales": 8})
    async with running_app(cc_settings, db) as client:
        url = str(client.make_url("")).rstrip("/")
        carrier = carrier_for(
            url, cc_settings, answer_probability=0.0, busy_probability=1.0, answer_delay=0.2
        )
        async with carrier.serving(), console(client, cc_settings, "bob") as bob:
            assert (await bob.command("set_status", status="available"))["type"] == "reply"
            ids = []
            for number, result in (("+14155550123", "busy"), ("+999 123 4567", "invalid_number")):
                reply = await bob.command("dial", number=number, queue="sales")
                assert reply["type"] == "reply", reply
                cid = reply["data"]["contact_id"]
                ids.append(cid)
                assert reply["data"]["screen_pop"]["known"] is False
                failed = await bob.next("dial_result", contact_id=cid)
                assert failed["data"]["result"] == result
                ended = await bob.next("contact_state", contact_id=cid, state="wrap_up")
                assert ended["data"]["detail"]["ended_by"] == "customer"
                done = await bob.command("wrapup", contact_id=cid, disposition="callback")
                assert done["type"] == "reply", done
            await until(lambda: sum(carrier.result.dial_results.values()) == 2)

    assert carrier.result.dial_results == {"busy": 1, "invalid_number": 1}
    assert not any(c.bridged for c in carrier.result.outbound)
    for cid, outcome in zip(ids, ("busy", "invalid_number"), strict=True):
        story = [e.type for e in await read_contact(db, cid)]
        assert story == [
            "contact.arrived",
            "contact.originated",
            "dial.result",
            "contact.ended",
            "wrapup.completed",
        ]
        row = await get_interaction(db, cid)
        assert row is not None and row.direction == "outbound"
        assert (row.outcome, row.outcome_reason) == (outcome, outcome)
        assert row.answered_at is None and row.talk_s == 0.0 and row.ended_at is not None
        assert row.disposition == "callback"


async def test_dial_refusals_name_the_command(db: asyncpg.Pool, cc_settings: Settings) -> None:
    await add_agent(db, "carol", {"sales": 8})
    async with running_app(cc_settings, db) as client:
        gw = await client.ws_connect("/gateway/ws", headers=gateway_headers(cc_settings))
        async with console(client, cc_settings, "carol") as carol:
            # logged out: no dialling
            refused = await carol.command("dial", number="+14155550123")
            assert refused["type"] == "error"
            assert refused["data"]["code"] == "target_unavailable"
            assert refused["data"]["id"] == "c1"
            assert (await carol.command("set_status", status="available"))["type"] == "reply"
            for fields, code in (
                ({"number": "call me"}, "invalid_command"),
                ({"number": "+0 12"}, "invalid_command"),
                ({"number": "+14155550123", "queue": "nope"}, "unknown_queue"),
                ({"number": "+14155550123", "customer_id": "cus_nobody"}, "unknown_customer"),
            ):
                error = await carol.command("dial", **fields)
                assert error["type"] == "error", error
                assert error["data"]["code"] == code, error
                assert error["data"]["id"] == f"c{carol._next_id}"
            bad = await carol.command("dial", number="12ab")
            assert "E.164" in bad["data"]["message"]
            # on a call: the dial is refused, naming the command id
            resp = await client.post(
                "/gateway/calls",
                headers=gateway_headers(cc_settings),
                json={"call_id": "in-1", "queue": "sales"},
            )
            assert (await resp.json())["state"] == "offered"
            await carol.next("offer", contact_id="in-1")
            assert (await carol.command("accept", contact_id="in-1"))["type"] == "reply"
            busy = await carol.command("dial", number="+14155550123")
            assert busy["type"] == "error" and busy["data"]["id"] == f"c{carol._next_id}"
            assert busy["data"]["code"] == "target_unavailable"
            assert "capacity" in busy["data"]["message"]
            state = await carol.command("hello")
            assert state["data"]["agent_state"]["contacts"] == {"in-1": "connected"}
        # a result for a call that was never originated is refused on the gateway socket
        await gw.send_json(
            {"type": "originate_result", "data": {"call_id": "in-1", "result": "answered"}}
        )
        await gw.send_json(
            {"type": "originate_result", "data": {"call_id": "x-1", "result": "maybe"}}
        )
        codes = []
        while len(codes) < 2:
            msg = json.loads((await gw.receive(timeout=5)).data)
            if msg["type"] == "error":
                codes.append((msg["data"]["code"], msg["data"]["call_id"]))
        assert codes == [("unknown_contact", "in-1"), ("invalid_result", "x-1")]
        await gw.close()
    story = [e.type for e in await read_contact(db, "in-1")]
    assert "dial.result" not in story and story[-1] == "contact.answered"
