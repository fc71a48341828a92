"""/metrics against a real server: it parses with prometheus-client's own parser, and after
calls driven through the gateway and real consoles (answered, abandoned while queued and
while offered, an offer that times out, a rejected one, a flow-out) its counters equal the
counts in the event log and in the interactions call log."""

from __future__ import annotations

from collections import Counter
from typing import Any

import asyncpg
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

from contactcenter.clock import ManualScheduler
from contactcenter.settings import Settings
from routing.policy import parse_routing_config
from tests.contactcenter.server_support import (
    add_agent,
    armed,
    bearer,
    console,
    gateway_headers,
    running_app,
    until,
)

OFFER_TIMEOUT_S = 15.0
WRAP_UP_S = 20.0
MAX_WAIT_S = 60.0
CONFIG = parse_routing_config(
    f"""
queues:
  - id: fast
    channel: voice
    skills: {{fast: 1}}
    offer_timeout_s: {OFFER_TIMEOUT_S}
    wrap_up: {{mode: timed, seconds: {WRAP_UP_S}}}
  - id: brief
    channel: voice
    skills: {{nobody: 1}}
    max_wait: {{seconds: {MAX_WAIT_S}, action: flow_out, target: voicemail}}
""",
    "metrics test config",
)

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples[(name, frozenset(labels.items()))]


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum over the series of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


async def scrape(client: Any) -> Samples:
    resp = await client.get("/metrics")
    assert resp.status == 200
    assert resp.headers["Content-Type"].startswith("text/plain")
    return parse(await resp.text())


async def test_counters_match_the_call_log(db: asyncpg.Pool, cc_settings: Settings) -> None:
    await add_agent(db, "kim", {"fast": 3})
    await add_agent(db, "lee", {"fast": 3})
    gw = gateway_headers(cc_settings)

    async def has_event(contact_id: str, kind: str) -> bool:
        return bool(
            await db.fetchval(
                "SELECT count(*) FROM events WHERE contact_id = $1 AND type = $2", contact_id, kind
            )
        )

    scheduler = ManualScheduler()
    async with running_app(cc_settings, db, CONFIG, scheduler=scheduler) as client:
        before = await scrape(client)
        # every configured queue shows, at zero, before any traffic
        assert value(before, "contactcenter_offers_total", queue="fast") == 0
        assert value(before, "contactcenter_abandons_total", queue="brief") == 0
        assert value(before, "contactcenter_websocket_clients", kind="agent") == 0

        async with (
            console(client, cc_settings, "kim") as kim,
            console(client, cc_settings, "lee") as lee,
        ):
            await kim.command("set_status", status="available")
            await lee.command("set_status", status="available")
            live = await scrape(client)
            assert value(live, "contactcenter_websocket_clients", kind="agent") == 2
            assert value(live, "contactcenter_websocket_clients", kind="gateway") == 0

            # f-1: kim lets the offer ring out, lee answers
            await client.post(
                "/gateway/calls", headers=gw, json={"call_id": "f-1", "queue": "fast"}
            )
            await kim.next("offer", contact_id="f-1")
            await scheduler.advance(OFFER_TIMEOUT_S)
            await kim.next("contact_state", contact_id="f-1", state="offer_timed_out")
            await lee.next("offer", contact_id="f-1")
            assert (await lee.command("accept", contact_id="f-1"))["type"] == "reply"

            # f-2: nobody free, it waits, the caller gives up
            resp = await client.post(
                "/gateway/calls", headers=gw, json={"call_id": "f-2", "queue": "fast"}
            )
            assert (await resp.json())["state"] == "queued"
            waiting = await scrape(client)
            assert value(waiting, "contactcenter_contacts_waiting", queue="fast") == 1
            await client.post("/gateway/calls/f-2/hangup", headers=gw)

            # f-3: kim is back, rejects it; the caller leaves while it waits again
            assert (await kim.command("set_status", status="available"))["type"] == "reply"
            await client.post(
                "/gateway/calls", headers=gw, json={"call_id": "f-3", "queue": "fast"}
            )
            await kim.next("offer", contact_id="f-3")
            assert (await kim.command("reject", contact_id="f-3"))["type"] == "reply"
            await client.post("/gateway/calls/f-3/hangup", headers=gw)

            # b-1: no agent has the skill; max wait sends it to voicemail
            await client.post(
                "/gateway/calls", headers=gw, json={"call_id": "b-1", "queue": "brief"}
            )
            await armed(scheduler, MAX_WAIT_S, "b-1's max wait")
            await scheduler.advance(MAX_WAIT_S)
            await until(lambda: has_event("b-1", "contact.flowed_out"), what="the flow-out")

            # f-1 ends; the timed wrap-up finishes on its own
            await client.post("/gateway/calls/f-1/hangup", headers=gw)
            await lee.next("contact_state", contact_id="f-1", state="wrap_up")
            await scheduler.advance(WRAP_UP_S)
            await until(lambda: has_event("f-1", "wrapup.completed"), what="the wrap-up")

        after = await scrape(client)

    # the event log, counted per (type, queue)
    rows = await db.fetch("SELECT type, queue_id, count(*) AS n FROM events GROUP BY 1, 2")
    logged: Counter[tuple[str, str]] = Counter()
    for r in rows:
        logged[(r["type"], r["queue_id"] or "")] += r["n"]
    for queue in ("fast", "brief"):
        assert (
            total(after, "contactcenter_contacts_arrived_total", queue=queue)
            == logged[("contact.arrived", queue)]
        )
        assert (
            total(after, "contactcenter_offers_total", queue=queue)
            == logged[("contact.offered", queue)]
        )
        assert (
            total(after, "contactcenter_answers_total", queue=queue)
            == logged[("contact.answered", queue)]
        )
        assert (
            total(after, "contactcenter_abandons_total", queue=queue)
            == logged[("contact.abandoned", queue)]
        )
        assert (
            total(after, "contactcenter_flow_outs_total", queue=queue)
            == logged[("contact.flowed_out", queue)]
        )
        for reason in ("timed_out", "rejected", "rescinded"):
            assert (
                total(after, "contactcenter_offers_declined_total", queue=queue, reason=reason)
                == logged[(f"offer.{reason}", queue)]
            )

    # and the interactions call log agrees
    calls = await db.fetch(
        "SELECT contact_id, queue_id, outcome, offers, answered_at FROM interactions"
    )
    assert {c["contact_id"] for c in calls} == {"f-1", "f-2", "f-3", "b-1"}
    assert (
        total(after, "contactcenter_answers_total")
        == sum(c["answered_at"] is not None for c in calls)
        == 1
    )
    assert (
        total(after, "contactcenter_abandons_total")
        == sum(c["outcome"] == "abandoned" for c in calls)
        == 2
    )
    assert (
        total(after, "contactcenter_flow_outs_total", queue="brief")
        == sum(c["outcome"] == "flowed_out" for c in calls)
        == 1
    )
    assert total(after, "contactcenter_offers_total") == sum(c["offers"] for c in calls)
    assert total(after, "contactcenter_offers_declined_total", reason="timed_out") >= 1
    assert total(after, "contactcenter_offers_declined_total", reason="rejected") == 1
    assert value(after, "contactcenter_contacts_waiting", queue="fast") == 0

    # every committed event went through a measured group commit
    events = await db.fetchval("SELECT count(*) FROM events")
    assert value(after, "contactcenter_events_committed_total") == events
    assert value(after, "contactcenter_event_log_commit_batch_size_sum") == events
    commits = value(after, "contactcenter_event_log_commit_seconds_count")
    assert commits == value(after, "contactcenter_event_log_commit_batch_size_count")
    assert 1 <= commits <= events
    assert value(after, "contactcenter_event_log_commit_seconds_sum") > 0
    # one decision per engine input: at least the 5 arrivals, 4 hangups, 2 accepts/rejects
    assert value(after, "contactcenter_routing_decision_seconds_count") >= 11


async def test_metrics_can_require_a_token(db: asyncpg.Pool, cc_settings: Settings) -> None:
    private = cc_settings.model_copy(update={"metrics_public": False})
    async with running_app(private, db) as client:
        assert (await client.get("/metrics")).status == 401
        agent = await client.get("/metrics", headers=bearer(private, "kim", "agent"))
        assert agent.status == 403
        assert (await agent.json())["error"]["code"] == "forbidden"
        ok = await client.get("/metrics", headers=bearer(private, "sue", "supervisor"))
        assert ok.status == 200
        assert ("contactcenter_offers_total", frozenset({("queue", "sales")})) in parse(
            await ok.text()
        )
        # what Prometheus asks for: OpenMetrics, which has its own (stricter) parser
        om = await client.get(
            "/metrics",
            headers={
                **bearer(private, "sue", "supervisor"),
                "Accept": "application/openmetrics-text; version=1.0.0",
            },
        )
        assert om.headers["Content-Type"].startswith("application/openmetrics-text")
        families = {f.name: f for f in openmetrics_families(await om.text())}
        assert families["contactcenter_answers"].type == "counter"
        assert families["contactcenter_event_log_commit_seconds"].type == "histogram"
