"""Issue 13 §5: a dial that cannot be placed now fails at once with a clear reason.

Against the real app and real PostgreSQL: with no gateway connected an agent's ``dial``
(and a transfer to an external number) is refused with a typed error frame
(``gateway_unavailable``); nothing is logged as originated and nothing is kept for a
gateway that connects later; the campaign dialer dials nothing meanwhile."""

from __future__ import annotations

import asyncpg
import pytest

from contactcenter import protocol as p
from contactcenter.appkeys import NODE
from contactcenter.settings import Settings
from tests.contactcenter.server_support import (
    SocketClient,
    add_agent,
    console,
    gateway_headers,
    running_app,
    until,
)
from tests.contactcenter.test_campaign_runner import clock, create_campaign, start
from tests.contactcenter.test_campaign_support import campaign_app, ticks


async def test_dial_without_a_gateway_fails_at_once_and_nothing_is_kept(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "ann", {"sales": 8})
    async with running_app(cc_settings, db) as client:
        link = client.server.app[NODE].services.link
        async with console(client, cc_settings, "ann") as ann:
            assert (await ann.command("set_status", status="available"))["type"] == "reply"
            refused = await ann.command("dial", number="+1 415 555 0123")
            assert refused["type"] == p.ERROR
            assert refused["data"]["id"] == "c2"
            assert refused["data"]["code"] == "gateway_unavailable"
            assert "no telephony gateway is connected" in refused["data"]["message"]
            assert "nothing was dialled" in refused["data"]["message"]
            # the agent holds no call and is still free for inbound ones
            hello = await ann.command("hello")
            state = hello["data"]["agent_state"]
            assert state["contacts"] == {} and state["activity"] == "idle"
        # nothing in the log, nothing waiting for a gateway
        assert await db.fetchval("SELECT count(*) FROM events WHERE contact_id LIKE 'out-%'") == 0
        assert await db.fetchval("SELECT count(*) FROM interactions") == 0
        assert list(link.pending) == []

        # a gateway connecting later gets no originate: its first command is the hold
        # music of a call that arrives after it connected
        gw = SocketClient(
            await client.ws_connect("/gateway/ws", headers=gateway_headers(cc_settings))
        )
        resp = await client.post(
            "/gateway/calls",
            headers=gateway_headers(cc_settings),
            json={"call_id": "late-1", "queue": "support"},
        )
        assert (await resp.json())["state"] == "queued"
        first = await gw.next("play", call_id="late-1")
        assert gw.seen == [first]


async def test_dial_works_with_a_gateway_and_fails_once_it_is_gone(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "bea", {"sales": 8})
    async with running_app(cc_settings, db) as client:
        link = client.server.app[NODE].services.link
        async with console(client, cc_settings, "bea") as bea:
            assert (await bea.command("set_status", status="available"))["type"] == "reply"
            gw_ws = await client.ws_connect("/gateway/ws", headers=gateway_headers(cc_settings))
            gw = SocketClient(gw_ws)
            placed = await bea.command("dial", number="+14155550123")
            assert placed["type"] == p.REPLY, placed
            call_id = placed["data"]["contact_id"]
            originate = await gw.next("originate", call_id=call_id)
            assert originate["data"]["number"] == "+14155550123"
            assert (await bea.command("end", contact_id=call_id))["type"] == p.REPLY
            done = await bea.command("wrapup", contact_id=call_id, disposition="callback")
            assert done["type"] == p.REPLY, done
            await gw_ws.close()
            await until(lambda: not link.available(), what="the server to see the close")
            refused = await bea.command("dial", number="+14155550124")
            assert refused["data"]["code"] == "gateway_unavailable"
        numbers = await db.fetch(
            "SELECT data->>'dnis' AS dnis FROM events WHERE type = 'contact.arrived'"
        )
        assert [r["dnis"] for r in numbers] == ["+14155550123"]  # only the first was placed


async def test_external_transfer_without_a_gateway_keeps_the_call(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "cy", {"sales": 8})
    async with running_app(cc_settings, db) as client:
        async with console(client, cc_settings, "cy") as cy:
            assert (await cy.command("set_status", status="available"))["type"] == "reply"
            resp = await client.post(
                "/gateway/calls",
                headers=gateway_headers(cc_settings),
                json={"call_id": "xfer-1", "queue": "sales"},
            )
            assert (await resp.json())["state"] == "offered"
            await cy.next("offer", contact_id="xfer-1")
            assert (await cy.command("accept", contact_id="xfer-1"))["type"] == p.REPLY
            refused = await cy.command("transfer", contact_id="xfer-1", number="+14155550199")
            assert refused["type"] == p.ERROR
            assert refused["data"]["code"] == "gateway_unavailable"
            hello = await cy.command("hello")
            assert hello["data"]["agent_state"]["contacts"] == {"xfer-1": "connected"}
        kinds = await db.fetch("SELECT type FROM events WHERE contact_id = 'xfer-1' ORDER BY seq")
        assert "contact.transferred_external" not in [r["type"] for r in kinds]
        assert "contact.ended" not in [r["type"] for r in kinds]


async def test_a_campaign_dials_nothing_until_a_gateway_connects(
    db: asyncpg.Pool, cc_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """The dialer's own calls too: no originate is kept for a gateway that comes later."""
    await add_agent(db, "dot", {"sales": 5})
    scheduler = clock()
    csv = "number,name,timezone\n+12125550101,Ann,America/New_York\n"
    async with (
        campaign_app(cc_settings, db, scheduler=scheduler) as client,
        console(client, cc_settings, "dot") as dot,
    ):
        link = client.server.app[NODE].services.link
        await create_campaign(client, cc_settings, csv)
        assert (await dot.command("set_status", status="available"))["type"] == p.REPLY
        await start(client, cc_settings)
        await ticks(scheduler)
        assert await db.fetchval("SELECT count(*) FROM dial_attempts") == 0
        assert await db.fetchval("SELECT count(*) FROM events WHERE type = 'dial.placed'") == 0
        assert list(link.pending) == []
        warned = [r for r in caplog.records if "no telephony gateway connected" in r.message]
        assert len(warned) == 1  # once per outage, not once a tick
        # the gateway connects: the next tick dials, and the originate is sent at once
        gw = SocketClient(
            await client.ws_connect("/gateway/ws", headers=gateway_headers(cc_settings))
        )
        await ticks(scheduler, 1)
        originate = await gw.next("originate")
        assert originate["data"]["number"] == "+12125550101"
        assert gw.seen == [originate]
        await gw.ws.close()
