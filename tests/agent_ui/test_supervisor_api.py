"""The wallboard feed (contactcenter/wallboard.py) and the supervisor REST API
(contactcenter/supervisor.py) over real sockets against PostgreSQL: coalescing, deltas,
thresholds, actions, explain, interval reports and the wallboard token."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import json
import time
from datetime import UTC, datetime
from typing import Any

import aiohttp
import asyncpg

from contactcenter.appkeys import NODE
from contactcenter.clock import ManualScheduler
from contactcenter.settings import Settings
from contactcenter.store.users import get_agent_profile
from tests.agent_ui.support import patient_config
from tests.contactcenter.server_support import (
    add_agent,
    authed_ws,
    bearer,
    console,
    gateway_headers,
    running_app,
    token,
)


async def receive(ws: aiohttp.ClientWebSocketResponse, timeout: float = 5.0) -> dict[str, Any]:
    msg = await ws.receive(timeout=timeout)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    data: dict[str, Any] = json.loads(msg.data)
    return data


async def call(client: Any, settings: Settings, call_id: str, queue: str = "sales") -> None:
    resp = await client.post(
        "/gateway/calls",
        headers=gateway_headers(settings),
        json={"call_id": call_id, "ani": "+15550001111", "queue": queue},
    )
    assert resp.status == 201, await resp.text()


async def test_feed_is_coalesced_and_carries_only_changes(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "alice", {"sales": 8})
    await add_agent(db, "bob", {"support": 5})
    # the feed's coalescing timers run on a ManualScheduler: the test moves its clock one
    # period at a time and reads what each period sent (its time is the update's ``now``)
    scheduler = ManualScheduler()
    async with running_app(cc_settings, db, patient_config(), scheduler=scheduler) as client:
        sup = token(cc_settings, "sam", "supervisor")
        ws = await authed_ws(client.ws_connect, "/ws/supervisor?period=0.5", sup)
        snap = await receive(ws)
        assert snap["type"] == "wallboard_snapshot"
        data = snap["data"]
        assert data["period_s"] == 0.5 and data["read_only"] is False
        tiles = {t["queue_id"]: t for t in data["queues"]}
        assert {"sales", "support", "billing"} <= set(tiles)
        assert tiles["sales"]["waiting"] == 0 and tiles["sales"]["level"] == "ok"
        assert tiles["sales"]["service_level_formula"].startswith("answered within 20 s")
        assert {a["agent_id"] for a in data["agents"]} == {"alice", "bob"}

        # a burst of 8 calls: sales has amber at 3 waiting and red at 6 (config/ui.yaml)
        started = scheduler.now()
        for i in range(8):
            await call(client, cc_settings, f"burst-{i}")
        updates = []
        while True:
            await scheduler.advance(0.5)
            msg = await receive(ws)
            assert msg["type"] == "wallboard_update"
            updates.append((msg["data"]["now"], msg))
            sales = [t for t in msg["data"]["queues"] if t["queue_id"] == "sales"]
            if sales and sales[0]["waiting"] == 8:
                break
        # 8 arrivals (16+ events) in at most one message per period, spaced by the period
        elapsed = updates[-1][0] - started
        assert len(updates) <= elapsed / 0.5 + 1, (len(updates), elapsed)
        events = await db.fetchval("SELECT count(*) FROM events WHERE contact_id LIKE 'burst-%'")
        assert events >= 16 and len(updates) < events, (len(updates), events)
        for (t1, _), (t2, _) in itertools.pairwise(updates):
            assert t2 - t1 >= 0.4
        last = updates[-1][1]["data"]
        sales_tile = next(t for t in last["queues"] if t["queue_id"] == "sales")
        assert sales_tile["level"] == "red" and sales_tile["alerts"]["waiting"] == "red"
        assert sales_tile["oldest_at"] is not None
        # only what changed: support and billing did not
        assert {t["queue_id"] for t in last["queues"]} == {"sales"}

        # an agent logs in: its row changes, nothing is resent about the other
        async with console(client, cc_settings, "bob") as bob:
            await bob.command("set_status", status="break")
            while True:
                await scheduler.advance(0.5)
                msg = await receive(ws)
                rows = {a["agent_id"]: a for a in msg["data"]["agents"]}
                if "bob" in rows and rows["bob"]["state"] == "not_ready":
                    break
            assert "alice" not in rows
        await ws.close()


async def test_actions_explain_and_errors(db: asyncpg.Pool, cc_settings: Settings) -> None:
    await add_agent(db, "alice", {"sales": 8})
    async with running_app(cc_settings, db, patient_config()) as client:
        sup = bearer(cc_settings, "sam", "supervisor")
        engine = client.app[NODE].services.acd.engine
        # an agent may not use the supervisor API; a wallboard token may not act
        for role in ("agent", "wallboard"):
            resp = await client.post(
                "/api/supervisor/agents/alice/status",
                headers=bearer(cc_settings, "x", role),
                json={"status": "break"},
            )
            assert resp.status == 403, role
        resp = await client.post(
            "/api/supervisor/agents/alice/status", headers=sup, json={"status": "break"}
        )
        assert resp.status == 409
        assert (await resp.json())["error"]["code"] == "not_logged_in"
        resp = await client.post(
            "/api/supervisor/agents/nobody/status", headers=sup, json={"status": "break"}
        )
        assert resp.status == 404
        resp = await client.post(
            "/api/supervisor/agents/alice/status", headers=sup, json={"status": "break", "x": 1}
        )
        assert resp.status == 400

        async with console(client, cc_settings, "alice") as alice:
            await alice.command("set_status", status="training")
            # explain: the call waits because alice is not ready
            await call(client, cc_settings, "w-1")
            resp = await client.get("/api/supervisor/waiting", headers=sup)
            waiting = (await resp.json())["contacts"]
            assert [w["contact_id"] for w in waiting] == ["w-1"]
            resp = await client.get("/api/supervisor/contacts/w-1/explain", headers=sup)
            assert resp.status == 200
            why = await resp.json()
            assert why["state"] == "queued" and why["eligible_logged_in"] == 1
            assert "none is available" in why["summary"]
            resp = await client.get("/api/supervisor/contacts/nope/explain", headers=sup)
            assert resp.status == 404

            # force available is refused? no: forcing a status is any status
            resp = await client.post(
                "/api/supervisor/agents/alice/status", headers=sup, json={"status": "available"}
            )
            assert resp.status == 200, await resp.text()
            await alice.next("offer", contact_id="w-1")
            await alice.command("accept", contact_id="w-1")
            # on a contact, a forced break becomes the next status; the console hears it
            resp = await client.post(
                "/api/supervisor/agents/alice/status", headers=sup, json={"status": "break"}
            )
            body = await resp.json()
            assert (body["status"], body["next_status"]) == ("available", "break")
            await alice.next("agent_state", next_status="break")

            # skills: take effect at once and are stored
            resp = await client.put(
                "/api/supervisor/agents/alice/skills",
                headers=sup,
                json={"skills": {"sales": 4, "billing": 6}},
            )
            assert resp.status == 200, await resp.text()
            assert engine.agent("alice").skills == {"sales": 4, "billing": 6}
            profile = await get_agent_profile(db, "alice")
            assert profile is not None and profile.skills == {"sales": 4, "billing": 6}
            resp = await client.put(
                "/api/supervisor/agents/alice/skills", headers=sup, json={"skills": {"sales": 11}}
            )
            assert resp.status == 400

            # force logout: the call goes back to its queue
            resp = await client.post(
                "/api/supervisor/agents/alice/logout", headers=sup, json={"force": True}
            )
            assert resp.status == 200, await resp.text()
            assert engine.agent("alice").status == "offline"
            assert engine.waiting("sales") == ["w-1"]


async def test_interval_report_matches_the_call_log_and_the_wallboard_token(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "alice", {"sales": 8})
    async with running_app(cc_settings, db, patient_config()) as client:
        async with console(client, cc_settings, "alice") as alice:
            await alice.command("set_status", status="available")
            for i in range(3):
                await call(client, cc_settings, f"r-{i}")
                await alice.next("offer", contact_id=f"r-{i}")
                await alice.command("accept", contact_id=f"r-{i}")
                await alice.command("end", contact_id=f"r-{i}")
                await alice.command("wrapup", contact_id=f"r-{i}", disposition="sold")
            await call(client, cc_settings, "r-gone")
            await alice.next("offer", contact_id="r-gone")
            resp = await client.post(
                "/gateway/calls/r-gone/hangup", headers=gateway_headers(cc_settings), json={}
            )
            assert resp.status == 200
        sup = bearer(cc_settings, "sam", "supervisor")
        today = datetime.now(UTC).date().isoformat()
        resp = await client.get(
            f"/api/supervisor/reports/intervals?date={today}&interval=30&queue=sales", headers=sup
        )
        assert resp.status == 200, await resp.text()
        report = await resp.json()
        rows = report["rows"]
        assert rows and all(r["queue_id"] == "sales" for r in rows)
        log_rows = await db.fetch(
            "SELECT answered_at, outcome FROM interactions WHERE queue_id = 'sales'"
        )
        assert sum(r["offered"] for r in rows) == len(log_rows) == 4
        assert (
            sum(r["answered"] for r in rows)
            == sum(1 for r in log_rows if r["answered_at"] is not None)
            == 3
        )
        # the CSV has the same figures
        resp = await client.get(
            f"/api/supervisor/reports/intervals?date={today}&interval=30&queue=sales&format=csv",
            headers=sup,
        )
        assert resp.status == 200 and resp.content_type == "text/csv"
        assert "attachment" in resp.headers["Content-Disposition"]
        parsed = list(csv.DictReader(io.StringIO(await resp.text())))
        assert [int(r["offered"]) for r in parsed] == [r["offered"] for r in rows]
        for bad in (
            "date=2024-13-45",
            "interval=20",
            "format=xml",
            "queue=nope",
            "date=",
            "when=today",
        ):
            resp = await client.get(f"/api/supervisor/reports/intervals?{bad}", headers=sup)
            assert resp.status == 400, bad
        resp = await client.get("/api/supervisor/reports/intervals?date=2001-01-01", headers=sup)
        assert (await resp.json())["rows"] == []

        # the wallboard token: only an admin issues it; it reads the feed, nothing else
        resp = await client.post(
            "/api/supervisor/wallboard-token", headers=sup, json={"name": "floor-1", "days": 30}
        )
        assert resp.status == 403
        resp = await client.post(
            "/api/supervisor/wallboard-token",
            headers=bearer(cc_settings, "root", "admin"),
            json={"name": "floor-1", "days": 30},
        )
        assert resp.status == 201, await resp.text()
        issued = await resp.json()
        assert issued["expires_at"] > time.time() + 29 * 86400
        ws = await authed_ws(client.ws_connect, "/ws/supervisor", issued["token"])
        snap = await receive(ws)
        assert snap["data"]["read_only"] is True
        await ws.close()
        wb = {"Authorization": f"Bearer {issued['token']}"}
        for path in ("/api/queues", "/api/supervisor/waiting", "/api/agents"):
            resp = await client.get(path, headers=wb)
            assert resp.status == 403, path
        resp = await client.get("/ws/supervisor?period=0.01", headers=sup)
        assert resp.status == 400


async def test_a_second_tab_is_refused_unless_it_takes_over(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "alice", {"sales": 8})
    async with running_app(cc_settings, db) as client:
        tok = token(cc_settings, "alice", "agent")
        first = await authed_ws(client.ws_connect, "/ws/agent?client=tab-a", tok)
        await receive(first)  # agent_state
        second = await authed_ws(client.ws_connect, "/ws/agent?client=tab-b", tok)
        msg = await second.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4001
        # the first is untouched; the same tab reconnecting replaces itself
        again = await authed_ws(client.ws_connect, "/ws/agent?client=tab-a", tok)
        await receive(again)
        closed = await first.receive(timeout=5)
        assert closed.type == aiohttp.WSMsgType.CLOSE and closed.data == 4000
        taker = await authed_ws(client.ws_connect, "/ws/agent?client=tab-b&takeover=1", tok)
        assert (await receive(taker))["type"] == "agent_state"
        closed = await again.receive(timeout=5)
        assert closed.data == 4000
        await asyncio.gather(taker.close(), second.close(), again.close(), first.close())
