"""The event log is the truth: a node whose commit fails stops, rebuilds from the log once
the database is back, and every client finds what it was told (issue 13, section 1).

A real PostgreSQL of this test alone is SIGKILLed (postmaster and backends) while the
server has work in flight, then started again (crash recovery). Expected outcomes come
from the issue's own reproduction, not from the code:

- an agent's ``end`` that was answered with an error (or whose socket the fail-stop
  closed before a reply) leaves the call connected: after the rebuild the agent's console
  shows it connected and ``end`` works (it was ``illegal_transition`` before the fix);
- a caller's hang-up answered 503 can be retried after the rebuild (it was 404 before);
- a new call answered 503 can be offered again under the same id (it was 409
  ``duplicate_call`` before, and the call waited in the queue with no log record);
- under a stream of arrivals, every call answered 201 is in the log exactly once, every
  call answered 503 (a definite "not done") is not in it, and the rebuilt engine knows
  exactly the logged ones: 0 lost, 0 duplicated, 0 ghosts.
"""

from __future__ import annotations

import asyncio
import secrets
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from pydantic import SecretStr

from contactcenter.acd import AcdUnavailable
from contactcenter.appkeys import NODE
from contactcenter.carrier import Carrier, CarrierConfig
from contactcenter.clock import ManualScheduler
from contactcenter.node import DB_PROBE_INTERVAL_S
from contactcenter.protocol import CLOSE_TRY_AGAIN
from contactcenter.settings import Settings
from contactcenter.store import EventRecord
from contactcenter.store.db import create_pool
from contactcenter.store.migrate import migrate
from routing import ContactSpec
from routing.errors import UnknownContact
from tests.contactcenter.server_support import (
    add_agent,
    bearer,
    console,
    gateway_headers,
    gateway_key,
    running_app,
    until,
)
from tests.security.conftest import CrashablePostgres

DEFINITE_REFUSALS = {"event_log_failed", "rebuilding", "database_unavailable"}


async def _serving_again(client: TestClient[Any, Any], scheduler: ManualScheduler) -> None:
    """Advance the fake clock past the node's database probes until it serves again (the
    probe and the rebuild are real I/O on the restarted database, hence the real wait)."""
    node = client.server.app[NODE]
    for _ in range(600):
        if node.serving:
            return
        await scheduler.advance(DB_PROBE_INTERVAL_S)
        await asyncio.sleep(0.05)
    raise AssertionError("the node did not serve again after the database came back")


async def _arrivals(pool: Any, call_id: str) -> int:
    return int(
        await pool.fetchval(
            "SELECT count(*) FROM events WHERE type = 'contact.arrived' AND contact_id = $1",
            call_id,
        )
    )


async def _post_call(client: TestClient[Any, Any], headers: dict[str, str], call_id: str) -> str:
    """What the server told the gateway: "ok", a definite refusal's code, or "unknown"."""
    try:
        resp = await client.post(
            "/gateway/calls", headers=headers, json={"call_id": call_id, "queue": "sales"}
        )
    except aiohttp.ClientError:
        return "unknown"
    if resp.status == 201:
        return "ok"
    body = await resp.json()
    assert resp.status == 503, (resp.status, body)
    assert resp.headers.get("Retry-After"), "a 503 says when to retry"
    code: str = body["error"]["code"]
    return code


@pytest.fixture
async def crash_settings(crashable_pg: CrashablePostgres, tmp_path: Path) -> Settings:
    return Settings(
        database_url=crashable_pg.url(),
        data_dir=tmp_path / "var",
        token_secret=SecretStr(secrets.token_urlsafe(48)),
        port=0,
    )


async def test_a_crashed_database_leaves_no_ghost_changes(
    crashable_pg: CrashablePostgres, crash_settings: Settings
) -> None:
    pool = await create_pool(crashable_pg.url(), min_size=1, max_size=10)
    try:
        await migrate(pool)
        await add_agent(pool, "alice", {"sales": 8})
        gw = gateway_headers(crash_settings)
        scheduler = ManualScheduler()
        async with running_app(crash_settings, pool, scheduler=scheduler) as client:
            node = client.server.app[NODE]
            # The simulated carrier holds the gateway command socket throughout: the
            # fail-stop closes it (1013) and the carrier opens it again on its own.
            carrier = Carrier(
                CarrierConfig(
                    url=str(client.make_url("")).rstrip("/"),
                    gateway_key=gateway_key(crash_settings),
                    queue="sales",
                    max_calls=0,
                )
            )
            async with carrier.serving():
                await until(node.services.link.available, what="the carrier connected")
                await _the_issue_cases(client, crashable_pg, crash_settings, gw, scheduler, pool)
                await until(node.services.link.available, what="the carrier reconnected")
                await _arrivals_under_a_crash(client, crashable_pg, gw, scheduler, pool)
                await until(node.services.link.available, what="the carrier reconnected")
            assert node.failures == 2 and node.recoveries == 2
            admin = bearer(crash_settings, "admin", "admin")
            scraped = await client.get("/metrics", headers=admin)
            text = await scraped.text()
            assert "contactcenter_fail_stops_total 2.0" in text, text[-2000:]
            assert "contactcenter_serving 1.0" in text
    finally:
        await pool.close()


async def _the_issue_cases(
    client: TestClient[Any, Any],
    pg: CrashablePostgres,
    settings: Settings,
    gw: dict[str, str],
    scheduler: ManualScheduler,
    pool: Any,
) -> None:
    node = client.server.app[NODE]
    async with console(client, settings, "alice") as alice:
        assert (await alice.command("set_status", status="available"))["type"] == "reply"
        assert (await _post_call(client, gw, "conn-1")) == "ok"
        await alice.next("offer", contact_id="conn-1")
        assert (await alice.command("accept", contact_id="conn-1"))["type"] == "reply"
        assert (await _post_call(client, gw, "hang-1")) == "ok"  # waits: alice is busy

        pg.crash()
        # The agent ends the call while the log cannot take it: an error frame, or the
        # fail-stop closes the socket first ("try again later"); never a reply.
        await alice.send("end", contact_id="conn-1")
        msg = await alice.ws.receive(timeout=10)
        if msg.type == aiohttp.WSMsgType.TEXT:
            assert '"type":"error"' in msg.data.replace(" ", ""), msg.data
            msg = await alice.ws.receive(timeout=10)
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == CLOSE_TRY_AGAIN, msg

    assert not node.serving and node.failures == 1
    ready = await client.get("/readyz")
    assert ready.status == 503
    assert "failed commit" in (await ready.json())["checks"]["acd"]["detail"]
    hangup = await client.post("/gateway/calls/hang-1/hangup", headers=gw)
    assert hangup.status == 503 and hangup.headers["Retry-After"]
    assert (await _post_call(client, gw, "new-1")) in DEFINITE_REFUSALS
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect("/ws/agent")
    assert refused.value.status == 503

    await pg.restart()
    await _serving_again(client, scheduler)

    async with console(client, settings, "alice") as alice:
        hello = await alice.command("hello")
        assert hello["data"]["agent_state"]["contacts"] == {"conn-1": "connected"}
        ended = await alice.command("end", contact_id="conn-1")
        assert ended["type"] == "reply", ended  # not illegal_transition: it never ended
    hangup = await client.post("/gateway/calls/hang-1/hangup", headers=gw)
    assert hangup.status == 200, await hangup.text()  # not 404: the caller was still there
    assert (await _post_call(client, gw, "new-1")) == "ok"  # not 409 duplicate_call
    ended_count = await pool.fetchval(
        "SELECT count(*) FROM events WHERE type = 'contact.ended' AND contact_id = 'conn-1'"
    )
    assert ended_count == 1
    assert await _arrivals(pool, "new-1") == 1


async def _arrivals_under_a_crash(
    client: TestClient[Any, Any],
    pg: CrashablePostgres,
    gw: dict[str, str],
    scheduler: ManualScheduler,
    pool: Any,
) -> None:
    node = client.server.app[NODE]
    told: dict[str, str] = {}
    ids = [f"load-{i}" for i in range(240)]
    queue: asyncio.Queue[str] = asyncio.Queue()
    for call_id in ids:
        queue.put_nowait(call_id)
    crashed = asyncio.Event()

    async def caller() -> None:
        while not queue.empty():
            call_id = queue.get_nowait()
            told[call_id] = await _post_call(client, gw, call_id)
            if sum(1 for v in told.values() if v == "ok") >= 60 and not crashed.is_set():
                crashed.set()
                pg.crash()  # with the other callers' requests in flight

    await asyncio.gather(*(caller() for _ in range(8)))
    assert crashed.is_set()
    outcomes = Counter(told.values())
    assert outcomes["ok"] >= 60 and sum(outcomes.values()) == len(ids), outcomes
    assert outcomes.keys() - {"ok", "unknown", "outcome_unknown"} <= DEFINITE_REFUSALS

    await pg.restart()
    await _serving_again(client, scheduler)

    rows = await pool.fetch(
        "SELECT contact_id, count(*) AS n FROM events "
        "WHERE type = 'contact.arrived' AND contact_id LIKE 'load-%' GROUP BY contact_id"
    )
    logged = {r["contact_id"]: r["n"] for r in rows}
    assert all(n == 1 for n in logged.values()), "a call was logged twice"
    lost = [c for c, what in told.items() if what == "ok" and c not in logged]
    ghosts = [c for c, what in told.items() if what in DEFINITE_REFUSALS and c in logged]
    assert lost == [] and ghosts == [], (lost, ghosts)
    engine = client.server.app[NODE].services.acd.engine
    known = set()
    for call_id in ids:
        try:
            engine.contact(call_id)
            known.add(call_id)
        except UnknownContact:
            pass
    assert known == set(logged), "the rebuilt engine and the log disagree"
    assert node.serving
    # A call refused during the outage can be offered again under the same id.
    refused = sorted(c for c, what in told.items() if what in DEFINITE_REFUSALS)
    assert refused, outcomes
    assert (await _post_call(client, gw, refused[0])) == "ok"


async def test_a_change_the_log_refused_is_dropped_with_the_engine(
    db: Any, cc_settings: Settings
) -> None:
    """The issue's first case below the boundary checks: an arrival whose record the log
    cannot store (a non-finite number in its attached data). The caller is told
    ``event_log_failed``; the node rebuilds; the call is unknown and its id free again."""
    scheduler = ManualScheduler()
    async with running_app(cc_settings, db, scheduler=scheduler) as client:
        node = client.server.app[NODE]
        acd = node.services.acd
        spec = ContactSpec(id="big1", queue_id="sales", data={"x": float("inf")})

        def arrival(now: float) -> list[EventRecord]:
            # what the gateway logs with an arrival: the attached data, as given
            return [EventRecord(type="contact.arrived", ts=now, contact_id="big1", data=spec.data)]

        with pytest.raises(AcdUnavailable) as refused:
            await acd.execute(lambda now: acd.engine.arrive(spec, now), before=arrival)
        assert refused.value.code == "event_log_failed"
        assert not node.serving
        await _serving_again(client, scheduler)
        engine = node.services.acd.engine
        assert engine is not acd.engine
        with pytest.raises(UnknownContact):
            engine.contact("big1")
        assert await _arrivals(db, "big1") == 0
        assert (await _post_call(client, gateway_headers(cc_settings), "big1")) == "ok"
        assert engine.contact("big1").state in ("queued", "offered")
