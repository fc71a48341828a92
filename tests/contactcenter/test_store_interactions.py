"""The interactions call log derived from events: timings, hold, talk, wrap-up, outcome."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from contactcenter.store.events import EventLog, EventLogWriteError, rebuild_projections
from contactcenter.store.interactions import (
    Interaction,
    InteractionProjection,
    apply_event,
    fold_events,
    get_interaction,
    list_interactions,
)
from contactcenter.store.records import EventRecord, StoredEvent

T0 = 1_700_000_000.0


def at(s: float) -> datetime:
    return datetime.fromtimestamp(T0 + s, UTC)


def ev(
    type_: str,
    s: float,
    contact: str = "c1",
    *,
    agent: str | None = None,
    queue: str | None = None,
    **data: Any,
) -> EventRecord:
    return EventRecord(
        type=type_, ts=T0 + s, contact_id=contact, agent_id=agent, queue_id=queue, data=data
    )


def handled_call(contact: str = "c1") -> list[EventRecord]:
    return [
        ev(
            "contact.arrived",
            0,
            contact,
            channel="voice",
            direction="inbound",
            ani="+14155550100",
            dnis="8005550199",
            customer_id="cus_1",
        ),
        ev("ivr.step", 2, contact, node="main", input="2"),
        ev("ivr.step", 4, contact, node="billing"),
        ev("contact.queued", 5, contact, queue="billing", priority=2),
        ev("contact.offered", 10, contact, agent="a1", queue="billing", expires_at=T0 + 25),
        ev("offer.timed_out", 25, contact, agent="a1", queue="billing"),
        ev("contact.offered", 26, contact, agent="a2", queue="billing", expires_at=T0 + 41),
        ev("contact.answered", 30, contact, agent="a2", queue="billing", wait_s=25.0),
        ev("contact.held", 60, contact, agent="a2"),
        ev("contact.resumed", 90, contact, agent="a2"),
        ev("contact.held", 100, contact, agent="a2"),
        ev("contact.resumed", 110, contact, agent="a2"),
        ev("contact.ended", 200, contact, agent="a2"),
        ev(
            "wrapup.completed",
            230,
            contact,
            agent="a2",
            disposition="resolved",
            notes="refund issued",
        ),
    ]


def stored(records: list[EventRecord], first_seq: int = 1) -> list[StoredEvent]:
    return [
        StoredEvent(
            seq=first_seq + i,
            type=r.type,
            ts=r.ts,
            contact_id=r.contact_id,
            agent_id=r.agent_id,
            queue_id=r.queue_id,
            data=r.data,
        )
        for i, r in enumerate(records)
    ]


def check_handled_call(row: Interaction | None) -> None:
    assert row is not None
    assert (row.channel, row.direction, row.ani, row.dnis) == (
        "voice",
        "inbound",
        "+14155550100",
        "8005550199",
    )
    assert row.customer_id == "cus_1"
    assert row.queue_id == "billing"
    assert row.agent_id == "a2"
    assert row.priority == 2
    assert row.started_at == row.arrived_at == at(0)
    assert row.queued_at == at(5)
    assert row.offered_at == at(26)
    assert row.answered_at == at(30)
    assert row.ended_at == at(200)
    assert row.wrapup_ended_at == at(230)
    assert row.offers == 2
    assert row.wait_s == 25.0
    assert row.hold_s == pytest.approx(40.0)
    assert row.talk_s == pytest.approx(200 - 30 - 40)
    assert row.wrapup_s == pytest.approx(30.0)
    assert row.handle_s == pytest.approx(130 + 40 + 30)
    assert row.outcome == "handled"
    assert row.disposition == "resolved"
    assert row.notes == "refund issued"
    assert [s["node"] for s in row.ivr_path] == ["main", "billing"]
    assert row.ivr_path[0]["input"] == "2"
    assert row.held_since is None and row.segment_answered_at is None


# --- the pure fold -----------------------------------------------------------------------


def test_fold_of_a_handled_call() -> None:
    rows = fold_events(stored(handled_call()))
    check_handled_call(rows["c1"])
    assert rows["c1"].last_seq == len(handled_call())


def test_reported_talk_and_hold_win_over_measured() -> None:
    records = [*handled_call()[:-2], ev("contact.ended", 200, talk_s=128.0, hold_s=41.0)]
    row = fold_events(stored(records))["c1"]
    assert row.talk_s == 128.0
    assert row.hold_s == 41.0


def test_resumed_with_reported_hold() -> None:
    records = [
        ev("contact.answered", 0, agent="a1"),
        ev("contact.held", 10),
        ev("contact.resumed", 20, hold_s=9.5),
        ev("contact.ended", 50),
    ]
    row = fold_events(stored(records))["c1"]
    assert row.hold_s == 9.5
    assert row.talk_s == pytest.approx(50 - 9.5)


def test_transfer_adds_up_the_agent_segments() -> None:
    records = [
        ev("contact.arrived", 0, channel="voice", direction="inbound", ani="555"),
        ev("contact.queued", 5, queue="billing", priority=1),
        ev("contact.answered", 30, agent="a1", queue="billing", wait_s=25.0),
        ev("contact.held", 40),
        ev("contact.resumed", 50),
        ev("contact.transferred", 70, agent="a1", to_queue="tier2"),
        ev("wrapup.completed", 75, agent="a1", wrapup_s=5.0, notes="escalated"),
        ev("contact.queued", 71, queue="tier2", priority=1),
        ev("contact.offered", 75, agent="a3", queue="tier2"),
        ev("contact.answered", 80, agent="a3", queue="tier2", wait_s=9.0),
        ev("contact.ended", 140, agent="a3", talk_s=60.0, hold_s=0.0),
        ev("wrapup.completed", 150, agent="a3", wrapup_s=10.0, disposition="fixed", notes="done"),
    ]
    row = fold_events(stored(records))["c1"]
    assert row.transfers == 1
    assert row.queue_id == "tier2"
    assert row.agent_id == "a3"
    assert row.answered_at == at(30)
    assert row.queued_at == at(5)
    assert row.wait_s == 25.0
    assert row.hold_s == pytest.approx(10.0)
    assert row.talk_s == pytest.approx((70 - 30 - 10) + 60)
    assert row.wrapup_s == pytest.approx(15.0)
    assert row.disposition == "fixed"
    assert row.notes == "escalated\ndone"
    assert row.outcome == "handled"


def test_ended_while_on_hold_counts_the_open_hold() -> None:
    records = [
        ev("contact.answered", 0, agent="a1"),
        ev("contact.held", 100),
        ev("contact.ended", 130),
    ]
    row = fold_events(stored(records))["c1"]
    assert row.hold_s == pytest.approx(30.0)
    assert row.talk_s == pytest.approx(100.0)


@pytest.mark.parametrize(
    ("records", "outcome", "wait_s"),
    [
        (
            [
                ev("contact.arrived", 0),
                ev("contact.queued", 3, queue="q"),
                ev("contact.abandoned", 40, queue="q"),
                ev("contact.ended", 40),
            ],
            "abandoned",
            37.0,
        ),
        (
            [
                ev("contact.arrived", 0),
                ev("contact.queued", 3, queue="q"),
                ev("contact.abandoned", 40, queue="q", wait_s=36.5),
            ],
            "abandoned",
            36.5,
        ),
        (
            [
                ev("contact.arrived", 0),
                ev("contact.queued", 3, queue="q"),
                ev("contact.flowed_out", 300, queue="q", reason="max_wait"),
            ],
            "flowed_out",
            297.0,
        ),
        (
            [ev("contact.arrived", 0), ev("ivr.step", 1, node="menu"), ev("contact.ended", 20)],
            "ended_in_ivr",
            None,
        ),
        (
            [ev("contact.arrived", 0), ev("contact.queued", 3, queue="q"), ev("contact.ended", 20)],
            "unanswered",
            None,
        ),
    ],
)
def test_outcomes(records: list[EventRecord], outcome: str, wait_s: float | None) -> None:
    row = fold_events(stored(records))["c1"]
    assert row.outcome == outcome
    assert row.wait_s == wait_s
    assert row.talk_s is None
    assert row.ended_at is not None
    if outcome == "flowed_out":
        assert row.outcome_reason == "max_wait"


def test_malformed_payloads_are_ignored() -> None:
    records = [
        ev("contact.arrived", 0, channel=7, direction="sideways", ani=["x"]),
        ev("contact.queued", 1, queue="q", priority="high"),
        ev("contact.answered", 2, agent="a1", wait_s=-5),
        ev("contact.ended", 12, talk_s="long", hold_s=float("nan")),
        ev("wrapup.completed", 20, wrapup_s=True, disposition=None, notes=""),
    ]
    row = fold_events(stored(records))["c1"]
    assert row.channel is None and row.direction is None and row.ani is None
    assert row.priority is None
    assert row.wait_s == pytest.approx(1.0)  # measured instead
    assert row.talk_s == pytest.approx(10.0)
    assert row.wrapup_s == pytest.approx(8.0)
    assert row.disposition is None and row.notes is None


def test_events_that_do_not_touch_the_call_log() -> None:
    [offer] = stored([ev("contact.offered", 1, agent="a1")])
    row = apply_event(None, offer)
    assert row is not None
    for type_ in ("offer.rejected", "agent.state_changed", "dial.attempted"):
        [other] = stored([ev(type_, 2)], first_seq=2)
        assert apply_event(row, other) is None
    no_contact = StoredEvent(seq=3, type="contact.arrived", ts=T0, data={})
    assert apply_event(row, no_contact) is None
    # an event already folded in (replay) changes nothing
    assert apply_event(row, offer) is None


# --- in the database, in the event writer's transaction -----------------------------------


async def test_projection_one_event_per_transaction(db: asyncpg.Pool) -> None:
    async with EventLog(db) as log:
        for record in handled_call():
            await log.append([record])
    check_handled_call(await get_interaction(db, "c1"))


async def test_projection_in_one_batch_and_interleaved(db: asyncpg.Pool) -> None:
    a, b = handled_call("ca"), handled_call("cb")
    interleaved = [r for pair in zip(a, b, strict=True) for r in pair]
    async with EventLog(db) as log:
        await log.append(interleaved)
    check_handled_call(await get_interaction(db, "ca"))
    check_handled_call(await get_interaction(db, "cb"))
    rows = await list_interactions(db, since=at(0), until=at(1))
    assert [r.contact_id for r in rows] == ["ca", "cb"]
    assert await list_interactions(db, agent_id="nobody") == []


async def test_reapplying_and_rebuilding_give_the_same_rows(db: asyncpg.Pool) -> None:
    async with EventLog(db) as log:
        await log.append(handled_call("c1"))
        await log.append(handled_call("c2")[:8])
    before = {c: await get_interaction(db, c) for c in ("c1", "c2")}
    events = [e async for e in log.read_all_in_order()]
    async with db.acquire() as conn, conn.transaction():
        await InteractionProjection().apply(conn, events)  # replay: all seqs already seen
    assert await rebuild_projections(db, page_size=5) == len(events)
    for contact, row in before.items():
        after = await get_interaction(db, contact)
        assert row is not None and after is not None
        assert after.model_dump(exclude={"updated_at"}) == row.model_dump(exclude={"updated_at"})


async def test_call_log_and_event_log_commit_together(db: asyncpg.Pool) -> None:
    async with EventLog(db) as log:
        await log.append(handled_call()[:4])
        await db.execute(
            "ALTER TABLE events ADD CONSTRAINT test_no_end CHECK (type <> 'contact.ended')"
        )
        try:
            with pytest.raises(EventLogWriteError):
                await log.append(handled_call()[4:])
        finally:
            await db.execute("ALTER TABLE events DROP CONSTRAINT test_no_end")
    row = await get_interaction(db, "c1")
    assert row is not None
    assert row.last_seq == 4 and row.offers == 0 and row.answered_at is None
    assert await db.fetchval("SELECT count(*) FROM events") == 4


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    holds=st.lists(st.tuples(st.integers(1, 30), st.integers(0, 40)), max_size=4),
    cuts=st.sets(st.integers(1, 12), max_size=5),
)
async def test_any_batching_gives_the_in_memory_fold(
    db: asyncpg.Pool, holds: list[tuple[int, int]], cuts: set[int]
) -> None:
    contact = f"h-{uuid.uuid4().hex[:12]}"
    records = [
        ev("contact.arrived", 0, contact, channel="chat", direction="inbound"),
        ev("contact.queued", 1.5, contact, queue="q"),
        ev("contact.answered", 4.25, contact, agent="a1"),
    ]
    t = 4.25
    for gap, length in holds:
        t += gap
        records.append(ev("contact.held", t, contact))
        t += length
        records.append(ev("contact.resumed", t, contact))
    records += [
        ev("contact.ended", t + 7, contact),
        ev("wrapup.completed", t + 9.5, contact, disposition="ok"),
    ]
    bounds = [0, *sorted(c for c in cuts if c < len(records)), len(records)]
    async with EventLog(db) as log:
        for lo, hi in itertools.pairwise(bounds):
            await log.append(records[lo:hi])
        events = await log.read_contact(contact)
    expected = fold_events(events)[contact]
    row = await get_interaction(db, contact)
    assert row is not None
    assert row.model_dump(exclude={"updated_at"}) == expected.model_dump(exclude={"updated_at"})
    assert row.hold_s == pytest.approx(sum(length for _, length in holds))
    assert row.talk_s == pytest.approx(t + 7 - 4.25 - row.hold_s)
