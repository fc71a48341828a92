"""The event log writer: group commit, durability before acknowledgement, ordering."""

from __future__ import annotations

import asyncio
import random

import asyncpg
import pytest

from contactcenter.store.db import create_pool
from contactcenter.store.events import (
    EventLog,
    EventLogClosed,
    EventLogStopped,
    EventLogWriteError,
    last_seq,
    read_all_in_order,
    read_contact,
    read_since,
)
from contactcenter.store.records import EventRecord, StoredEvent


def rec(i: int, contact: str | None = None, type_: str = "test.event") -> EventRecord:
    return EventRecord(
        type=type_,
        ts=1_700_000_000.0 + i,
        contact_id=contact or f"c{i}",
        agent_id=f"a{i % 7}",
        queue_id="sales",
        data={"i": i, "nested": {"ok": True}},
    )


async def test_500_concurrent_appends_share_few_transactions(
    db: asyncpg.Pool, database_url: str
) -> None:
    observer = await asyncpg.connect(database_url)  # not from the writer's pool
    observer_lock = asyncio.Lock()
    not_visible: list[int] = []

    async def one(i: int) -> list[int]:
        seqs = await log.append([rec(i)])
        # acknowledged => committed => visible to any other connection right now
        async with observer_lock:
            found = await observer.fetchval(
                "SELECT count(*) FROM events WHERE seq = ANY($1::bigint[])", seqs
            )
        if found != len(seqs):
            not_visible.extend(seqs)
        return seqs

    try:
        async with EventLog(db, projections=()) as log:
            results = await asyncio.gather(*(one(i) for i in range(500)))
    finally:
        await observer.close()

    seqs = [s for r in results for s in r]
    assert not not_visible
    assert len(set(seqs)) == 500
    assert log.stats.records == 500
    # the flusher's own count, and PostgreSQL's: distinct inserting transaction ids
    assert log.stats.batches <= 25, log.stats
    transactions = await db.fetchval("SELECT count(DISTINCT xmin::text) FROM events")
    assert transactions == log.stats.batches
    assert log.stats.failed_batches == 0


async def test_appends_spread_over_time_still_batch(db: asyncpg.Pool) -> None:
    rng = random.Random(7)

    async def one(i: int) -> list[int]:
        # real time on purpose: appends spread over time, racing real commits
        await asyncio.sleep(rng.uniform(0, 0.05))
        return await log.append([rec(i)])

    async with EventLog(db, projections=()) as log:
        results = await asyncio.gather(*(one(i) for i in range(500)))
    assert len({s for r in results for s in r}) == 500
    # while one transaction commits, the next batch gathers: far fewer commits than appends
    assert 1 <= log.stats.batches < 250, log.stats


async def test_linger_only_under_load(db: asyncpg.Pool) -> None:
    # Real time on purpose: the linger is the flusher's own wait between commits (I/O
    # batching below the scheduler port, asyncio.sleep in EventLog._run), measured here.
    loop = asyncio.get_running_loop()
    async with EventLog(db, projections=(), linger=0.3) as log:
        # idle: a lone append is written at once, however long the linger
        started = loop.time()
        await log.append([rec(1)])
        await log.append([rec(2)])
        assert loop.time() - started < 0.3
        # under load: appends that arrive while a batch of several commits wait for the
        # linger and go together
        first = [asyncio.create_task(log.append([rec(i)])) for i in range(3, 6)]
        await asyncio.sleep(0)  # one loop turn: the first batch is handed over
        started = loop.time()
        later = [asyncio.create_task(log.append([rec(i)])) for i in range(6, 9)]
        await asyncio.gather(*first, *later)
        assert loop.time() - started >= 0.25
        assert log.stats.batches == 4, log.stats  # 1, 2, 3-5, then 6-8 in one


async def test_batch_size_is_bounded(db: asyncpg.Pool) -> None:
    async with EventLog(db, max_batch=40, projections=()) as log:
        await asyncio.gather(*(log.append([rec(i)]) for i in range(300)))
    assert log.stats.largest_batch <= 40
    assert log.stats.batches >= 300 // 40
    # an append larger than max_batch still goes in whole, in one transaction
    async with EventLog(db, max_batch=10, projections=()) as log:
        seqs = await log.append([rec(i, "big") for i in range(25)])
    assert len(seqs) == 25
    assert (
        await db.fetchval("SELECT count(DISTINCT xmin::text) FROM events WHERE contact_id = 'big'")
        == 1
    )


async def test_seqs_follow_append_order(db: asyncpg.Pool) -> None:
    async with EventLog(db, projections=()) as log:
        first = await log.append([rec(i, "x") for i in range(5)])
        second = await log.append([rec(i, "x") for i in range(5, 8)])
        concurrent = await asyncio.gather(
            *(log.append([rec(i, "y"), rec(i + 100, "y")]) for i in range(50))
        )
    assert first == list(range(first[0], first[0] + 5))
    assert second[0] > first[-1]
    for pair in concurrent:  # one append's records stay together and in order
        assert pair[1] == pair[0] + 1
    events = await read_contact(db, "x")
    assert [e.data["i"] for e in events] == list(range(8))
    assert [e.seq for e in events] == first + second


async def test_round_trip_and_readers(db: asyncpg.Pool) -> None:
    record = EventRecord(
        type="contact.arrived",
        ts=1_700_000_123.456789,
        contact_id="c1",
        agent_id=None,
        queue_id=None,
        data={"ani": "+14155550100", "list": [1, 2.5, None], "s": "é"},
    )
    async with EventLog(db, node="node-a", projections=()) as log:
        [seq] = await log.append([record])
        await log.append([rec(i) for i in range(1, 30)])
        [stored] = await log.read_since(seq - 1, limit=1)
    assert isinstance(stored, StoredEvent)
    assert stored.record() == record
    assert stored.seq == seq
    assert stored.node == "node-a"
    assert abs(stored.ts - record.ts) < 1e-6

    page = await read_since(db, seq, limit=10)
    assert [e.seq for e in page] == list(range(seq + 1, seq + 11))
    everything = [e async for e in read_all_in_order(db, page_size=7)]
    assert [e.seq for e in everything] == sorted(e.seq for e in everything)
    assert len(everything) == 30
    assert await last_seq(db) == everything[-1].seq


async def test_acknowledged_events_survive_a_killed_pool(
    db: asyncpg.Pool, database_url: str
) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=3)
    log = EventLog(pool, projections=())
    seqs = await asyncio.gather(*(log.append([rec(i, "durable")]) for i in range(50)))
    # no graceful shutdown: connections are dropped as in a crash
    pool.terminate()
    fresh = await asyncpg.connect(database_url)
    try:
        rows = await fresh.fetch("SELECT seq FROM events WHERE contact_id = 'durable'")
    finally:
        await fresh.close()
    assert sorted(r["seq"] for r in rows) == sorted(s for pair in seqs for s in pair)


async def test_failed_commit_fails_every_waiter_of_the_batch(db: asyncpg.Pool) -> None:
    await db.execute("ALTER TABLE events ADD CONSTRAINT test_no_boom CHECK (type <> 'test.boom')")
    try:
        async with EventLog(db, projections=()) as log:
            # appended in one tick, so the idle flusher takes them as one batch
            results = await asyncio.gather(
                log.append([rec(1)]),
                log.append([rec(2, type_="test.boom")]),
                log.append([rec(3)]),
                return_exceptions=True,
            )
            assert log.stats.failed_batches == 1
            assert all(isinstance(r, EventLogWriteError) for r in results), results
            assert await db.fetchval("SELECT count(*) FROM events") == 0
            # fail-stop: what comes after a refused batch may depend on it, so the log
            # takes nothing until the node has rebuilt its state and reopens it
            assert isinstance(log.stopped, EventLogWriteError)
            with pytest.raises(EventLogStopped):
                await log.append([rec(4)])
            log.reopen()
            assert len(await log.append([rec(4)])) == 1
    finally:
        await db.execute("ALTER TABLE events DROP CONSTRAINT test_no_boom")


async def test_appends_behind_a_failed_batch_are_refused_until_reopen(db: asyncpg.Pool) -> None:
    """Fail-stop: the batch after a failed one was decided after it, so it is refused
    too (not written), and the failure listeners hear of it once."""
    await db.execute("ALTER TABLE events ADD CONSTRAINT test_no_boom CHECK (type <> 'test.boom')")
    heard: list[BaseException] = []
    try:
        async with EventLog(db, projections=()) as log:
            log.add_failure_listener(heard.append)
            first = asyncio.ensure_future(log.append([rec(1, type_="test.boom")]))
            await asyncio.sleep(0)  # the flusher takes the first batch alone
            behind = [asyncio.ensure_future(log.append([rec(i)])) for i in (2, 3)]
            results = await asyncio.gather(first, *behind, return_exceptions=True)
            assert isinstance(results[0], EventLogWriteError)
            assert not isinstance(results[0], EventLogStopped)
            assert all(isinstance(r, EventLogStopped) for r in results[1:]), results
            assert len(heard) == 1
            with pytest.raises(EventLogStopped):
                await log.append([rec(4)])
            assert await db.fetchval("SELECT count(*) FROM events") == 0
            log.reopen()
            assert len(await log.append([rec(5)])) == 1
            assert len(heard) == 1
    finally:
        await db.execute("ALTER TABLE events DROP CONSTRAINT test_no_boom")


async def test_bad_record_fails_only_its_caller(db: asyncpg.Pool) -> None:
    async with EventLog(db, projections=()) as log:
        good = asyncio.ensure_future(log.append([rec(1)]))
        with pytest.raises(TypeError):
            await log.append([EventRecord(type="x", ts=1.0, data={"bad": object()})])
        with pytest.raises(ValueError):
            await log.append([EventRecord(type="x", ts=1.0, data={"nan": float("nan")})])
        assert len(await good) == 1
    with pytest.raises(ValueError):
        EventRecord(type="", ts=1.0)
    with pytest.raises(ValueError):
        EventRecord(type="x", ts=float("inf"))


async def test_close_flushes_pending_and_refuses_new_appends(db: asyncpg.Pool) -> None:
    log = EventLog(db, projections=())
    tasks = [asyncio.ensure_future(log.append([rec(i)])) for i in range(100)]
    await asyncio.sleep(0)  # one loop turn (no timer): the appends are queued, not yet written
    await log.close()
    assert all(t.done() and not t.exception() for t in tasks)
    assert await db.fetchval("SELECT count(*) FROM events") == 100
    with pytest.raises(EventLogClosed):
        await log.append([rec(1000)])


async def test_idle_flusher_waits_without_writing(db: asyncpg.Pool) -> None:
    async with EventLog(db, projections=()) as log:
        await log.append([rec(1)])
        batches = log.stats.batches
        # real time on purpose: an idle flusher must not write while time passes (the
        # event log is below the scheduler; it has no timer to advance)
        await asyncio.sleep(0.2)
        assert log.stats.batches == batches
        assert log._task is not None and not log._task.done()
        assert await log.append([]) == []


async def test_cancelled_caller_does_not_disturb_the_batch(db: asyncpg.Pool) -> None:
    async with EventLog(db, projections=()) as log:
        cancelled = asyncio.ensure_future(log.append([rec(1, "gone")]))
        kept = asyncio.ensure_future(log.append([rec(2, "kept")]))
        await asyncio.sleep(0)  # one loop turn (no timer): both handed to the flusher
        cancelled.cancel()
        assert len(await kept) == 1
    # handed over before the cancel: written with its batch
    assert len(await read_contact(db, "gone")) == 1


async def test_listeners_see_committed_events_in_order(db: asyncpg.Pool) -> None:
    seen: list[list[int]] = []
    async with EventLog(db, projections=()) as log:
        log.add_listener(lambda events: seen.append([e.seq for e in events]))
        log.add_listener(lambda events: 1 / 0)  # a failing listener harms nobody
        seqs = await asyncio.gather(*(log.append([rec(i)]) for i in range(20)))
    flat = [s for batch in seen for s in batch]
    assert flat == sorted(flat) == sorted(s for pair in seqs for s in pair)


def test_record_of_a_domain_event() -> None:
    class Queued:
        type = "contact.queued"
        ts = 5.0
        contact_id = "c1"
        agent_id = None
        queue_id = "q"

        def payload(self) -> dict[str, object]:
            return {"priority": 3}

    record = EventRecord.of(Queued())
    assert record == EventRecord(
        type="contact.queued", ts=5.0, contact_id="c1", queue_id="q", data={"priority": 3}
    )
