"""The campaign runner end to end: the real app on real PostgreSQL, the simulated carrier
over the gateway websocket, agents' consoles over theirs. A progressive campaign dials, a
live answer reaches the agent with the contact's screen pop, an unconnected answer is
abandoned after 2 s with the identification message, the call log records every attempt,
calling windows and the DNC list hold at dispatch, and a restart never re-dials. The app
runs on a ManualScheduler set to the time of day the windows need: the runner ticks and
the 2-second connect deadline fire when the test advances it; the carrier answers on its
own (real, short) delays."""

from __future__ import annotations

from typing import Any

import asyncpg

from contactcenter.carrier import Carrier, CarrierConfig
from contactcenter.clock import ManualScheduler
from contactcenter.settings import Settings
from contactcenter.store.customers import CustomerIn, upsert_customer
from contactcenter.store.events import read_contact
from contactcenter.store.interactions import get_interaction
from tests.contactcenter.server_support import (
    HeldCarrier,
    SocketClient,
    add_agent,
    bearer,
    console,
    gateway_headers,
    gateway_key,
    until,
)
from tests.contactcenter.test_campaign_support import at_hour, campaign_app, ticks

# 17:00 UTC: 12:00 or 13:00 in New York, 07:00 in Honolulu
CLOCK_UTC_HOUR = 17.0
CONNECT_LIMIT_S = 2.0  # an answered call reaches an agent within 2 s or is abandoned


def clock() -> ManualScheduler:
    """The app's clock: 17:00 UTC today, moved by the test."""
    return ManualScheduler(start=at_hour(CLOCK_UTC_HOUR))


def config_for(url: str, settings: Settings, **outcomes: Any) -> CarrierConfig:
    return CarrierConfig(
        url=url,
        gateway_key=gateway_key(settings),
        queue="sales",
        max_calls=0,
        seed=7,
        **outcomes,
    )


def carrier_for(url: str, settings: Settings, **outcomes: Any) -> Carrier:
    return Carrier(config_for(url, settings, **outcomes))


async def dial_results(db: asyncpg.Pool, n: int) -> bool:
    """``n`` dial results handled: the runner logs ``dial.result`` after its other writes."""
    return bool(await db.fetchval("SELECT count(*) = $1 FROM events WHERE type = 'dial.result'", n))


async def create_campaign(client: Any, settings: Settings, csv: str, **fields: Any) -> None:
    admin = bearer(settings, "root", "admin")
    body = {
        "id": "spring",
        "name": "Spring",
        "queue": "outbound",
        "mode": "progressive",
        "calling_window": {"start": "09:00", "end": "20:00"},
        "identification_message": "acme_id",
        **fields,
    }
    resp = await client.post("/api/campaigns", json=body, headers=admin)
    assert resp.status == 201, await resp.text()
    resp = await client.post("/api/campaigns/spring/contacts", data=csv.encode(), headers=admin)
    out = await resp.json()
    assert out["rejected"] == [], out


async def start(client: Any, settings: Settings) -> None:
    resp = await client.post(
        "/api/campaigns/spring/start", headers=bearer(settings, "root", "admin")
    )
    assert resp.status == 200, await resp.text()


async def stats(client: Any, settings: Settings) -> dict[str, Any]:
    resp = await client.get(
        "/api/campaigns/spring/stats", headers=bearer(settings, "sue", "supervisor")
    )
    assert resp.status == 200
    out: dict[str, Any] = await resp.json()
    return out


async def test_progressive_live_answer_reaches_the_agent_with_screen_pop(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "alice", {"sales": 5})
    ada = await upsert_customer(
        db, CustomerIn(name="Ada Lovelace", phones=["+12125550101"], tier="gold")
    )
    csv = (
        f"number,name,timezone,customer_id,plan\n+12125550101,Ada,America/New_York,{ada.id},gold\n"
    )
    scheduler = clock()
    async with campaign_app(cc_settings, db, scheduler=scheduler) as client:
        await create_campaign(client, cc_settings, csv)
        url = str(client.make_url("")).rstrip("/")
        carrier = carrier_for(
            url,
            cc_settings,
            campaign_live=1.0,
            campaign_busy=0.0,
            campaign_machine=0.0,
            live_after=(0.2, 0.3),
            amd_human_latency=0.1,
        )
        async with carrier.serving(), console(client, cc_settings, "alice") as alice:
            assert (await alice.command("set_status", status="available"))["type"] == "reply"
            await start(client, cc_settings)
            offer = (await alice.next("offer", timeout=8))["data"]
            cid = offer["contact_id"]
            assert cid.startswith("cmp-spring-") and cid.endswith("-1")
            assert offer["queue"] == "outbound"
            pop = offer["screen_pop"]
            assert pop["known"] is True and pop["customer"]["name"] == "Ada Lovelace"
            assert (await alice.command("accept", contact_id=cid))["type"] == "reply"
            await alice.next("contact_state", contact_id=cid, state="connected")
            assert (await alice.command("end", contact_id=cid))["type"] == "reply"
            await alice.next("contact_state", contact_id=cid, state="wrap_up")
            done = await alice.command(
                "wrapup", contact_id=cid, disposition="done", notes="took the offer"
            )
            assert done["type"] == "reply", done
            await until(
                lambda: (
                    bool(carrier.result.outbound)
                    and carrier.result.outbound[0].ended_by is not None
                )
            )
            await until(lambda: db.fetchval("SELECT final FROM campaign_contacts"))
            await ticks(scheduler)  # ticks with alice ready again: the list is done
            figures = await stats(client, cc_settings)

    (call,) = carrier.result.outbound  # exactly one dial: the row is final after it
    assert (call.call_id, call.number, call.campaign_id, call.amd) == (
        cid,
        "+12125550101",
        "spring",
        "human",
    )
    assert call.bridged and call.prompts == [] and call.ring_timeout >= 15
    story = [e.type for e in await read_contact(db, cid)]
    assert story == [
        "contact.arrived",
        "dial.placed",
        "dial.result",
        "contact.queued",
        "contact.offered",
        "contact.answered",
        "contact.ended",
        "wrapup.completed",
    ]
    row = await get_interaction(db, cid)
    assert row is not None
    assert (row.direction, row.dnis, row.customer_id, row.agent_id, row.queue_id) == (
        "outbound",
        "+12125550101",
        ada.id,
        "alice",
        "outbound",
    )
    assert (row.outcome, row.disposition) == ("handled", "done")
    assert row.attached["campaign_id"] == "spring" and row.attached["dial_outcome"] == "live"
    attempt = await db.fetchrow("SELECT * FROM dial_attempts WHERE call_id = $1", cid)
    assert (attempt["state"], attempt["agent_id"]) == ("connected", "alice")
    assert attempt["connected_at"] - attempt["answered_at"] < 2.0
    assert figures["dials"] == 1 and figures["live_answers"] == 1
    assert figures["connected"] == 1 and figures["abandons"] == 0
    assert figures["windows"][0]["lives"] == 1 and figures["abandon_rate"] == 0.0
    assert figures["dial_level"]["basis"] == "progressive"
    assert figures["talk_minutes_per_agent_hour"] is not None


async def test_answer_without_a_free_agent_is_abandoned_with_identification(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "alice", {"sales": 5})
    csv = (
        "number,name,timezone\n+12125550101,Ann,America/New_York\n"
        "+12125550102,Ben,America/New_York\n"
    )
    scheduler = clock()
    async with campaign_app(cc_settings, db, scheduler=scheduler) as client:
        # power mode, two lines for the one agent, UK rules (lockouts)
        await create_campaign(
            client, cc_settings, csv, mode="power", ratio=2.0, regulatory_mode="uk"
        )
        url = str(client.make_url("")).rstrip("/")
        carrier = carrier_for(
            url,
            cc_settings,
            campaign_live=1.0,
            campaign_busy=0.0,
            campaign_machine=0.0,
            live_after=(0.3, 0.4),
            amd_human_latency=0.2,
        )
        async with carrier.serving(), console(client, cc_settings, "alice") as alice:
            assert (await alice.command("set_status", status="available"))["type"] == "reply"
            await start(client, cc_settings)
            taken = (await alice.next("offer", timeout=8))["data"]["contact_id"]
            assert (await alice.command("accept", contact_id=taken))["type"] == "reply"
            # the other answered call finds nobody: when its 2 s are up, identification
            # message and hang-up (queued: its deadline is set)
            await until(
                lambda: db.fetchval("SELECT count(*) = 2 FROM events WHERE type = 'contact.queued'")
            )
            await scheduler.advance(CONNECT_LIMIT_S)
            await until(lambda: any(r.prompts for r in carrier.result.outbound))
            figures = await stats(client, cc_settings)

    dropped = next(r for r in carrier.result.outbound if r.prompts)
    assert dropped.call_id != taken and dropped.prompts == ["acme_id"]
    assert not dropped.bridged
    assert len(carrier.result.outbound) == 2
    assert figures["abandons"] == 1 and figures["live_answers"] == 2
    (window,) = figures["windows"]
    assert (window["lives"], window["abandons"], window["in_breach"]) == (2, 1, True)
    assert figures["abandon_rate"] == 0.5
    story = [e.type for e in await read_contact(db, dropped.call_id)]
    assert story[:4] == ["contact.arrived", "dial.placed", "dial.result", "contact.queued"]
    assert "dial.abandoned" in story and story[-1] == "contact.abandoned"
    waited = [e for e in await read_contact(db, dropped.call_id)]
    answered_at = next(e.data["answered_at"] for e in waited if e.type == "dial.result")
    abandoned_at = next(e.ts for e in waited if e.type == "dial.abandoned")
    assert 1.9 <= abandoned_at - answered_at < 3.0  # the 2 s rule, AMD latency included
    row = await get_interaction(db, dropped.call_id)
    assert row is not None and (row.direction, row.outcome) == ("outbound", "abandoned")
    contact = await db.fetchrow(
        "SELECT c.* FROM campaign_contacts c JOIN dial_attempts a "
        "ON a.contact_row_id = c.id WHERE a.call_id = $1",
        dropped.call_id,
    )
    assert contact["last_outcome"] == "abandoned" and not contact["final"]
    # UK: locked out for 72 hours after our abandon
    assert contact["locked_until"] - abandoned_at > 71 * 3600


async def test_no_dial_outside_the_window_or_to_dnc_numbers(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "alice", {"sales": 5})
    csv = (
        "number,name,timezone\n"
        "+18085550100,Hana,Pacific/Honolulu\n"  # 07:00 local: outside 09-20
        "+12125550177,Dee,America/New_York\n"  # on the DNC list
        "+12125550101,Ann,America/New_York\n"  # callable
        "+12125550109,Bea,America/Chicago\n"
    )  # the record's zone wins: 11:00
    scheduler = clock()
    async with campaign_app(cc_settings, db, scheduler=scheduler) as client:
        await create_campaign(client, cc_settings, csv)
        resp = await client.post(
            "/api/dnc",
            json={"numbers": ["+1 212 555 0177"]},
            headers=bearer(cc_settings, "root", "admin"),
        )
        assert (await resp.json())["added"] == 1
        url = str(client.make_url("")).rstrip("/")
        carrier = carrier_for(
            url,
            cc_settings,
            campaign_live=0.0,
            campaign_busy=1.0,
            campaign_machine=0.0,
            busy_after=(0.05, 0.1),
        )
        async with carrier.serving(), console(client, cc_settings, "alice") as alice:
            assert (await alice.command("set_status", status="available"))["type"] == "reply"
            await start(client, cc_settings)
            # the first tick refuses two rows and dials one; once its busy result is
            # in (its dial.result logged last), the next tick dials the other
            await until(lambda: dial_results(db, 1))
            await ticks(scheduler, 1)
            await until(lambda: dial_results(db, 2))
            await until(
                lambda: db.fetchval("SELECT count(*) = 2 FROM dial_attempts WHERE state = 'busy'")
            )
            await ticks(scheduler)  # more ticks: nothing else is dialed

    dialed = sorted(r.number for r in carrier.result.outbound)
    assert dialed == ["+12125550101", "+12125550109"]
    refusals = {
        r["number"]: r["reason"]
        for r in await db.fetch(
            "SELECT data->>'number' AS number, data->>'reason' AS reason FROM events "
            "WHERE type = 'dial.refused'"
        )
    }
    assert refusals == {"+18085550100": "outside_window", "+12125550177": "dnc"}
    rows = {r["number"]: r for r in await db.fetch("SELECT * FROM campaign_contacts")}
    assert rows["+12125550177"]["final"] and rows["+12125550177"]["attempts"] == 0
    hana = rows["+18085550100"]
    assert not hana["final"] and hana["attempts"] == 0
    # rescheduled to the window's opening in Honolulu, 09:00 local = 19:00 UTC
    assert abs(hana["next_attempt_at"] % 86_400 - 19 * 3600) < 1
    for r in carrier.result.outbound:  # busy attempts are in the call log too
        logged = await get_interaction(db, r.call_id)
        assert logged is not None and (logged.direction, logged.outcome) == ("outbound", "busy")


async def test_a_restart_never_dials_a_placed_attempt_again(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "alice", {"sales": 5})
    csv = (
        "number,name,timezone\n+12125550101,Ann,America/New_York\n"
        "+12125550102,Ben,America/New_York\n"
    )
    # a gateway that takes the originate and never answers: the server dies right after
    # sending it (nothing is dialled with no gateway connected at all)
    scheduler = clock()
    async with campaign_app(cc_settings, db, scheduler=scheduler) as client:
        await create_campaign(client, cc_settings, csv)
        gateway = SocketClient(
            await client.ws_connect("/gateway/ws", headers=gateway_headers(cc_settings))
        )
        async with console(client, cc_settings, "alice") as alice:
            assert (await alice.command("set_status", status="available"))["type"] == "reply"
            await start(client, cc_settings)
            await until(lambda: db.fetchval("SELECT count(*) = 1 FROM dial_attempts"))
            await gateway.next("originate")
            await ticks(scheduler)  # ticks: one line per ready agent, no second dial
        await gateway.ws.close()
    (first,) = await db.fetch("SELECT * FROM dial_attempts")
    assert first["state"] == "placed"

    # the second life of the server: its clock goes on from the first's
    scheduler = ManualScheduler(start=scheduler.now())
    async with campaign_app(cc_settings, db, scheduler=scheduler) as client:
        url = str(client.make_url("")).rstrip("/")
        carrier = carrier_for(
            url,
            cc_settings,
            campaign_live=0.0,
            campaign_busy=1.0,
            campaign_machine=0.0,
            busy_after=(0.05, 0.1),
        )
        async with carrier.serving(), console(client, cc_settings, "alice") as alice:
            await alice.command("hello")
            # alice was restored logged in and ready: the runner dials the other row at
            # its first tick with the carrier connected
            await ticks(scheduler, 1)
            await until(lambda: len(carrier.result.outbound) >= 1)
            await until(lambda: dial_results(db, 1))  # the busy result, handled
            await ticks(scheduler)  # more ticks: nothing else is dialed

    numbers = [r.number for r in carrier.result.outbound]
    assert first["call_id"] not in {r.call_id for r in carrier.result.outbound}
    assert numbers == ["+12125550102"], numbers
    rows = await db.fetch("SELECT call_id, state FROM dial_attempts ORDER BY placed_at")
    assert [(r["call_id"], r["state"]) for r in rows] == [
        (first["call_id"], "lost"),
        (carrier.result.outbound[0].call_id, "busy"),
    ]
    lost_row = await db.fetchrow(
        "SELECT * FROM campaign_contacts WHERE id = $1", first["contact_row_id"]
    )
    assert lost_row["attempts"] == 1 and lost_row["last_outcome"] == "lost"
    assert lost_row["next_attempt_at"] > scheduler.now() + 3000  # failed-retry time (1 h)


async def test_preview_mode_shows_the_record_and_the_agent_dials_it(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "alice", {"sales": 5})
    ada = await upsert_customer(db, CustomerIn(name="Ada Lovelace", phones=["+12125550101"]))
    csv = (
        f"number,name,timezone,customer_id,plan\n+12125550101,Ada,America/New_York,{ada.id},gold\n"
    )
    scheduler = clock()
    async with campaign_app(cc_settings, db, scheduler=scheduler) as client:
        await create_campaign(client, cc_settings, csv, mode="preview")
        url = str(client.make_url("")).rstrip("/")
        # the agent's own call: the click-to-dial model answers it
        carrier = carrier_for(
            url, cc_settings, answer_probability=1.0, busy_probability=0.0, answer_delay=0.2
        )
        async with carrier.serving(), console(client, cc_settings, "alice") as alice:
            assert (await alice.command("set_status", status="available"))["type"] == "reply"
            await start(client, cc_settings)
            shown = (await alice.next("campaign_preview", timeout=8))["data"]
            assert (shown["number"], shown["name"], shown["queue"]) == (
                "+12125550101",
                "Ada",
                "outbound",
            )
            assert shown["attributes"] == {"plan": "gold"}
            assert shown["screen_pop"]["customer"]["name"] == "Ada Lovelace"
            assert carrier.result.outbound == []  # preview: the dialer itself never dials
            reply = await alice.command(
                "dial",
                number=shown["number"],
                customer_id=shown["customer_id"],
                queue=shown["queue"],
            )
            assert reply["type"] == "reply", reply
            cid = reply["data"]["contact_id"]
            await alice.next("dial_result", contact_id=cid, result="answered")
            assert (await alice.command("end", contact_id=cid))["type"] == "reply"
            done = await alice.command("wrapup", contact_id=cid, disposition="done")
            assert done["type"] == "reply", done
            await until(lambda: db.fetchval("SELECT final FROM campaign_contacts"))
            await ticks(scheduler)
            await alice.command("hello")  # its reply comes after what the ticks pushed
            assert not [m for m in alice.inbox if m["type"] == "campaign_preview"]

    attempt = await db.fetchrow("SELECT * FROM dial_attempts")
    assert (attempt["call_id"], attempt["state"], attempt["agent_id"]) == (
        shown["call_ref"],
        "connected",
        "alice",
    )
    story = [e.type for e in await read_contact(db, shown["call_ref"])]
    assert story == ["dial.previewed", "dial.preview_done"]
    row = await get_interaction(db, cid)
    assert row is not None and (row.direction, row.outcome, row.queue_id) == (
        "outbound",
        "handled",
        "outbound",
    )


async def test_machine_is_hung_up_rescheduled_and_locked_out_in_uk_mode(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "alice", {"sales": 5})
    scheduler = clock()
    csv = "number,name,timezone\n+442071234567,Ian,Europe/London\n"
    async with campaign_app(cc_settings, db, scheduler=scheduler) as client:
        await create_campaign(
            client,
            cc_settings,
            csv,
            regulatory_mode="uk",
            calling_window={"start": "08:00", "end": "21:00"},
            amd_false_positive_rate=0.1,
        )
        url = str(client.make_url("")).rstrip("/")
        carrier = carrier_for(
            url,
            cc_settings,
            campaign_live=0.0,
            campaign_busy=0.0,
            campaign_machine=1.0,
            live_after=(0.1, 0.2),
            amd_machine_latency=0.1,
        )
        async with carrier.serving(), console(client, cc_settings, "alice") as alice:
            assert (await alice.command("set_status", status="available"))["type"] == "reply"
            await start(client, cc_settings)
            await until(
                lambda: (
                    bool(carrier.result.outbound)
                    and carrier.result.outbound[0].ended_by is not None
                )
            )
            await ticks(scheduler)  # more ticks: locked out, not dialed again
            figures = await stats(client, cc_settings)
            await alice.command("hello")  # its reply comes after what the ticks pushed
            assert not [m for m in alice.inbox if m["type"] == "offer"]

    (call,) = carrier.result.outbound
    assert (call.amd, call.ended_by, call.bridged) == ("machine", "server", False)
    attempt = await db.fetchrow("SELECT * FROM dial_attempts")
    assert attempt["state"] == "machine"
    contact = await db.fetchrow("SELECT * FROM campaign_contacts")
    at = attempt["outcome_at"]
    assert contact["last_outcome"] == "machine" and not contact["final"]
    assert abs(contact["next_attempt_at"] - (at + 4 * 3600)) < 1  # retry after a machine
    assert abs(contact["locked_until"] - (at + 24 * 3600)) < 1  # UK lockout
    assert figures["machines"] == 1 and figures["live_answers"] == 0
    # UK window: the AMD false-positive estimate joins the ledger (0.1 of one machine)
    (window,) = figures["windows"]
    assert window["machines"] == 1 and abs(window["rate"] - 1.0) < 1e-9
    row = await get_interaction(db, call.call_id)
    assert row is not None and row.outcome == "no_answer"
    assert row.attached["dial_outcome"] == "machine"


async def test_blended_agent_takes_the_waiting_inbound_call_first(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "alice", {"sales": 8})  # serves inbound sales and the campaign
    csv = "number,name,timezone\n+12125550101,Ann,America/New_York\n"
    gw = gateway_headers(cc_settings)
    scheduler = clock()
    async with campaign_app(cc_settings, db, scheduler=scheduler) as client:
        await create_campaign(client, cc_settings, csv)
        url = str(client.make_url("")).rstrip("/")
        # the callee answers when the test says: after the inbound call below
        carrier = HeldCarrier(
            config_for(
                url,
                cc_settings,
                campaign_live=1.0,
                campaign_busy=0.0,
                campaign_machine=0.0,
                live_after=(0.0, 0.0),
                amd_human_latency=0.1,
            )
        )
        async with carrier.serving(), console(client, cc_settings, "alice") as alice:
            assert (await alice.command("set_status", status="available"))["type"] == "reply"
            await start(client, cc_settings)
            await until(lambda: bool(carrier.result.outbound))
            # while the dial rings an inbound call takes alice
            resp = await client.post(
                "/gateway/calls", headers=gw, json={"call_id": "in-1", "queue": "sales"}
            )
            assert (await resp.json())["state"] == "offered"
            await alice.next("offer", contact_id="in-1")
            assert (await alice.command("accept", contact_id="in-1"))["type"] == "reply"
            carrier.answers.set()
            await until(lambda: db.fetchval("SELECT state = 'answered' FROM dial_attempts"))
            dialed = carrier.result.outbound[0].call_id
            await until(
                lambda: db.fetchval(
                    "SELECT count(*) = 1 FROM events WHERE type = 'contact.queued' "
                    "AND contact_id = $1",
                    dialed,
                )
            )
            # the answered campaign call waits; a second inbound call comes after it
            resp = await client.post(
                "/gateway/calls", headers=gw, json={"call_id": "in-2", "queue": "sales"}
            )
            assert (await resp.json())["state"] == "queued"
            assert (await alice.command("end", contact_id="in-1"))["type"] == "reply"
            done = await alice.command("wrapup", contact_id="in-1", disposition="sold")
            assert done["type"] == "reply", done
            offer = await alice.next("offer")
            assert offer["data"]["contact_id"] == "in-2"  # inbound first, though later
            # the campaign call's 2 s run out: identification message and hang-up
            await scheduler.advance(CONNECT_LIMIT_S)
            await until(lambda: bool(carrier.result.outbound[0].prompts))

    (call,) = carrier.result.outbound
    assert call.prompts == ["acme_id"] and not call.bridged
    assert await db.fetchval("SELECT state FROM dial_attempts") == "abandoned"
    assert not [
        m for m in alice.seen if m["type"] == "offer" and m["data"]["contact_id"] == call.call_id
    ]


async def test_an_answered_call_waiting_at_a_restart_leaves_the_queue(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "alice", {"sales": 5})
    csv = "number,name,timezone\n+12125550101,Ann,America/New_York\n"
    scheduler = clock()
    async with campaign_app(cc_settings, db, scheduler=scheduler) as client:
        await create_campaign(client, cc_settings, csv)
        url = str(client.make_url("")).rstrip("/")
        carrier = carrier_for(
            url,
            cc_settings,
            campaign_live=1.0,
            campaign_busy=0.0,
            campaign_machine=0.0,
            live_after=(0.1, 0.1),
            amd_human_latency=0.1,
        )
        async with carrier.serving(), console(client, cc_settings, "alice") as alice:
            assert (await alice.command("set_status", status="available"))["type"] == "reply"
            await start(client, cc_settings)
            cid = (await alice.next("offer", timeout=8))["data"]["contact_id"]
        # the server stops while the answered call is offered (within its 2 s: the
        # clock has not moved)

    scheduler = ManualScheduler(start=scheduler.now())
    async with campaign_app(cc_settings, db, scheduler=scheduler) as client:
        await until(lambda: db.fetchval("SELECT count(*) = 1 FROM events WHERE type = 'dial.lost'"))
    assert await db.fetchval("SELECT state FROM dial_attempts") == "lost"
    row = await get_interaction(db, cid)
    assert row is not None and row.outcome == "abandoned" and row.agent_id is None
