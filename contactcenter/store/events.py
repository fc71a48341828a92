"""The event log writer (group commit) and the readers used for replay.

``await log.append(records)`` returns the records' seq numbers once the transaction that
holds them has committed. Appends from many coroutines are gathered by one background
flusher into one transaction: while a batch is being written the next one accumulates,
so under load each commit carries many events and durability costs little throughput,
and when idle a single append is written at once (no timer, no polling).

In the same transaction the flusher runs the projections (by default the interactions
call log), so derived tables are never out of step with the log, even after a crash.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import socket
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Protocol

import asyncpg

from contactcenter.store.db import Connection, Queryable
from contactcenter.store.interactions import InteractionProjection
from contactcenter.store.records import EventRecord, StoredEvent

log = logging.getLogger(__name__)

# Writers hold this transaction-level lock from taking seq numbers until commit, so seq
# order is commit order across all writers and nodes: a reader tailing with read_since()
# never sees seq N+1 before seq N is visible.
EVENTS_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"contactcenter.events").digest()[:8], "big", signed=True
)
DEFAULT_MAX_BATCH = 1000
DEFAULT_LINGER_S = 0.0
# The lock key is a constant, so it can travel in the same simple-protocol message as BEGIN.
_BEGIN_LOCKED = f"BEGIN; SELECT pg_advisory_xact_lock({EVENTS_LOCK_KEY})"


class Projection(Protocol):
    """Derived state updated inside the transaction that appends a batch of events."""

    async def apply(self, conn: Connection, events: Sequence[StoredEvent]) -> None: ...

    async def reset(self, conn: Connection) -> None:
        """Forget all derived state (before a rebuild from the whole log)."""


class EventLogClosed(RuntimeError):
    """append() after close() began."""


class EventLogWriteError(RuntimeError):
    """The batch holding these records failed and was rolled back."""


class EventLogOutcomeUnknown(EventLogWriteError):
    """The connection was lost during COMMIT itself: the one case PostgreSQL cannot
    settle. The records may or may not be in the log; reading the log tells."""


class EventLogStopped(EventLogWriteError):
    """A batch failed earlier, so the log takes nothing until ``reopen()``: what was
    decided after the refused records may depend on them (fail-stop, docs/server.md)."""


@dataclass
class EventLogStats:
    batches: int = 0
    records: int = 0
    failed_batches: int = 0
    largest_batch: int = 0


@dataclass(slots=True)
class _Append:
    records: list[EventRecord]
    times: list[datetime]
    data_json: list[str]
    future: asyncio.Future[list[int]]


def default_node_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


@dataclass(eq=False)
class EventLog:
    """Group-committing writer for the ``events`` table. Use ``async with`` or close()."""

    pool: asyncpg.Pool
    node: str = field(default_factory=default_node_name)
    max_batch: int = DEFAULT_MAX_BATCH
    """Most records per transaction; one append larger than this is written alone."""
    linger: float = DEFAULT_LINGER_S
    """Under load (the batch just written held several appends, and fewer than
    ``max_batch / 2`` wait), wait this long before the next batch so that it carries more:
    fewer transactions for the same events. Never at light load: a lone append is
    written at once. Off by default: on the e2e benchmark (200 calls/s) 2 ms changed
    neither the server's CPU per call nor the latency beyond the run-to-run noise."""
    projections: Sequence[Projection] = field(default_factory=lambda: (InteractionProjection(),))
    stats: EventLogStats = field(default_factory=EventLogStats)

    def __post_init__(self) -> None:
        if self.max_batch < 1:
            raise ValueError("max_batch must be at least 1")
        self._pending: deque[_Append] = deque()
        self._wakeup = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task[None] | None = None
        self._listeners: list[Callable[[Sequence[StoredEvent]], None]] = []
        self._batch_observers: list[Callable[[float, int, bool], None]] = []
        self._failure_listeners: list[Callable[[BaseException], None]] = []
        self._stopped: EventLogWriteError | None = None

    # --- writing -------------------------------------------------------------------------

    async def append(self, records: Iterable[EventRecord]) -> list[int]:
        """Durably append ``records`` (atomically, in order); their seq numbers.

        Returns only after commit. If the batch fails, raises ``EventLogWriteError`` and
        none of the records is in the log. Cancelling the caller does not withdraw the
        records: once handed over they are written with their batch.
        """
        batch = list(records)
        if not batch:
            return []
        if self._closing:
            raise EventLogClosed("the event log is closed")
        if self._stopped is not None:
            raise EventLogStopped(
                f"the event log is stopped after a failed commit: {self._stopped}"
            )
        # Convert here so a bad payload or time fails its own caller, not a shared batch.
        times = [datetime.fromtimestamp(r.ts, UTC) for r in batch]
        data_json = [json.dumps(r.data, separators=(",", ":"), allow_nan=False) for r in batch]
        future: asyncio.Future[list[int]] = asyncio.get_running_loop().create_future()
        self._pending.append(_Append(batch, times, data_json, future))
        self._ensure_started()
        self._wakeup.set()
        return await future

    async def append_one(self, record: EventRecord) -> int:
        return (await self.append([record]))[0]

    def add_listener(self, listener: Callable[[Sequence[StoredEvent]], None]) -> None:
        """Call ``listener(events)`` after each commit, in seq order (e.g. to publish)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[Sequence[StoredEvent]], None]) -> None:
        """Stop calling ``listener`` (a service of a generation that was stopped)."""
        if listener in self._listeners:
            self._listeners.remove(listener)

    def add_failure_listener(self, listener: Callable[[BaseException], None]) -> None:
        """Call ``listener(error)`` once when a batch fails and the log stops (fail-stop)."""
        self._failure_listeners.append(listener)

    @property
    def stopped(self) -> EventLogWriteError | None:
        """Why the log takes no appends until ``reopen()``, or None."""
        return self._stopped

    def reopen(self) -> None:
        """Take appends again after a failure (the node rebuilt its state from the log)."""
        self._stopped = None

    def add_batch_observer(self, observer: Callable[[float, int, bool], None]) -> None:
        """Call ``observer(seconds, records, ok)`` after each group commit (for metrics)."""
        self._batch_observers.append(observer)

    @property
    def running(self) -> bool:
        """The flusher is up and appends are accepted (readiness)."""
        return self._task is not None and not self._task.done() and not self._closing

    async def start(self) -> None:
        self._ensure_started()

    async def close(self) -> None:
        """Stop accepting appends, write everything already accepted, stop the flusher."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await asyncio.shield(self._task)

    async def __aenter__(self) -> EventLog:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def _ensure_started(self) -> None:
        if self._task is None and not self._closing:
            self._task = asyncio.get_running_loop().create_task(
                self._run(), name=f"event-log-flusher:{self.node}"
            )

    async def _run(self) -> None:
        busy = False
        try:
            while True:
                if not self._pending:
                    if self._closing:
                        return
                    busy = False
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                if (
                    busy
                    and self.linger > 0
                    and not self._closing
                    and len(self._pending) < self.max_batch // 2
                ):
                    await asyncio.sleep(self.linger)
                batch = self._take_batch()
                await self._write(batch)
                busy = len(batch) > 1
        except BaseException as exc:
            # only cancellation gets here (_write handles errors): nobody may wait forever
            self._fail(list(self._pending), EventLogClosed(f"event log flusher stopped: {exc!r}"))
            self._pending.clear()
            raise

    def _take_batch(self) -> list[_Append]:
        batch = [self._pending.popleft()]
        size = len(batch[0].records)
        while self._pending and size + len(self._pending[0].records) <= self.max_batch:
            item = self._pending.popleft()
            batch.append(item)
            size += len(item.records)
        return batch

    async def _write(self, batch: list[_Append]) -> None:
        count = sum(len(item.records) for item in batch)
        started = time.perf_counter()
        try:
            stored = await self._commit(batch, count)
        except asyncio.CancelledError:
            self._fail(
                batch,
                EventLogClosed(
                    "event log flusher cancelled during a write: these records may or may not "
                    "have been committed"
                ),
            )
            raise
        except Exception as exc:
            self.stats.failed_batches += 1
            log.error("event batch of %d records failed: %s", count, exc)
            self._observe(time.perf_counter() - started, count, ok=False)
            error = (
                exc
                if isinstance(exc, EventLogOutcomeUnknown)
                else EventLogWriteError(f"events not written: {exc}")
            )
            if error is not exc:
                error.__cause__ = exc
            self._fail(batch, error)
            self._stop(error)
            return
        self.stats.batches += 1
        self.stats.records += count
        self.stats.largest_batch = max(self.stats.largest_batch, count)
        self._observe(time.perf_counter() - started, count, ok=True)
        start = 0
        for item in batch:
            seqs = [e.seq for e in stored[start : start + len(item.records)]]
            start += len(item.records)
            if not item.future.done():  # the caller may have been cancelled
                item.future.set_result(seqs)
        for listener in self._listeners:
            try:
                listener(stored)
            except Exception:
                log.exception("event log listener failed")

    async def _commit(self, batch: list[_Append], count: int) -> list[StoredEvent]:
        records = [r for item in batch for r in item.records]
        times = [t for item in batch for t in item.times]
        data_json = [d for item in batch for d in item.data_json]
        # Round trips are what a batch costs (each wakes the server process): BEGIN goes
        # with the lock, the numbers with the INSERT; then the projections and COMMIT.
        async with self.pool.acquire() as conn:
            await conn.execute(_BEGIN_LOCKED)
            try:
                # nextval() runs after the sort by position (PostgreSQL evaluates volatile
                # target-list functions after ORDER BY), so numbers follow the batch order;
                # sorting the returned numbers then pairs them with the records without
                # relying on the order RETURNING yields rows in.
                seqs = sorted(
                    row[0]
                    for row in await conn.fetch(
                        """
                        INSERT INTO events
                            (seq, ts, type, contact_id, agent_id, queue_id, data, node)
                        SELECT nextval(pg_get_serial_sequence('events', 'seq')), ts, type,
                               contact_id, agent_id, queue_id, data::jsonb, $7
                        FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[],
                                    $5::text[], $6::text[]) WITH ORDINALITY
                             AS u(ts, type, contact_id, agent_id, queue_id, data, position)
                        ORDER BY position
                        RETURNING seq
                        """,
                        times,
                        [r.type for r in records],
                        [r.contact_id for r in records],
                        [r.agent_id for r in records],
                        [r.queue_id for r in records],
                        data_json,
                        self.node,
                    )
                )
                stored = [
                    StoredEvent(
                        seq=seq,
                        node=self.node,
                        type=r.type,
                        ts=r.ts,
                        contact_id=r.contact_id,
                        agent_id=r.agent_id,
                        queue_id=r.queue_id,
                        data=r.data,
                    )
                    for seq, r in zip(seqs, records, strict=True)
                ]
                for projection in self.projections:
                    await projection.apply(conn, stored)
            except BaseException:
                if not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.execute("ROLLBACK")
                raise
            try:
                await conn.execute("COMMIT")
            except Exception as exc:
                # A definite SQL answer (a deferred constraint, say) means rolled back; a
                # lost connection or a server going down may come after the commit record.
                if isinstance(exc, asyncpg.PostgresError) and not isinstance(
                    exc, asyncpg.exceptions.OperatorInterventionError
                ):
                    raise
                raise EventLogOutcomeUnknown(
                    f"the connection was lost during COMMIT ({exc}); the records may or may "
                    "not be in the log"
                ) from exc
        return stored

    def _stop(self, error: EventLogWriteError) -> None:
        """Fail-stop: what waits behind the failed batch was decided after it, so none of
        it may be written; the log refuses appends until ``reopen()``."""
        first = self._stopped is None
        self._stopped = error
        waiting = list(self._pending)
        self._pending.clear()
        self._fail(waiting, EventLogStopped(f"not written: an earlier batch failed ({error})"))
        if first:
            for listener in self._failure_listeners:
                try:
                    listener(error)
                except Exception:
                    log.exception("event log failure listener failed")

    def _observe(self, seconds: float, count: int, *, ok: bool) -> None:
        for observer in self._batch_observers:
            try:
                observer(seconds, count, ok)
            except Exception:
                log.exception("event log batch observer failed")

    @staticmethod
    def _fail(items: list[_Append], error: BaseException) -> None:
        for item in items:
            if not item.future.done():
                item.future.set_exception(error)
                # mark retrieved: a cancelled caller must not cause "never retrieved" noise
                with contextlib.suppress(BaseException):
                    item.future.exception()

    # --- reading (delegates; the module functions work without a writer) ----------------

    async def read_since(self, after_seq: int, limit: int = 1000) -> list[StoredEvent]:
        return await read_since(self.pool, after_seq, limit)

    async def read_contact(self, contact_id: str) -> list[StoredEvent]:
        return await read_contact(self.pool, contact_id)

    def read_all_in_order(self, *, page_size: int = 1000) -> AsyncIterator[StoredEvent]:
        return read_all_in_order(self.pool, page_size=page_size)


_COLUMNS = "seq, ts, type, contact_id, agent_id, queue_id, data, node"


def _stored(row: asyncpg.Record) -> StoredEvent:
    return StoredEvent(
        seq=row["seq"],
        ts=row["ts"].timestamp(),
        type=row["type"],
        contact_id=row["contact_id"],
        agent_id=row["agent_id"],
        queue_id=row["queue_id"],
        data=row["data"],
        node=row["node"],
    )


async def read_since(db: Queryable, after_seq: int, limit: int = 1000) -> list[StoredEvent]:
    """Events with seq > ``after_seq``, oldest first, at most ``limit``."""
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM events WHERE seq > $1 ORDER BY seq LIMIT $2", after_seq, limit
    )
    return [_stored(r) for r in rows]


async def read_contact(db: Queryable, contact_id: str) -> list[StoredEvent]:
    """Every event of one contact, in log order."""
    rows = await db.fetch(
        f"SELECT {_COLUMNS} FROM events WHERE contact_id = $1 ORDER BY seq", contact_id
    )
    return [_stored(r) for r in rows]


async def read_all_in_order(
    db: Queryable, *, after_seq: int = 0, page_size: int = 1000
) -> AsyncIterator[StoredEvent]:
    """The whole log (after ``after_seq``) in seq order, fetched a page at a time."""
    while True:
        page = await read_since(db, after_seq, page_size)
        for event in page:
            yield event
        if len(page) < page_size:
            return
        after_seq = page[-1].seq


async def last_seq(db: Queryable) -> int:
    """The highest committed seq (0 for an empty log)."""
    return int(await db.fetchval("SELECT coalesce(max(seq), 0) FROM events"))


async def rebuild_projections(
    pool: asyncpg.Pool,
    projections: Sequence[Projection] | None = None,
    *,
    page_size: int = 5000,
) -> int:
    """Recompute derived tables from the whole log in one transaction; events folded.

    For a projection whose logic changed. Writers wait meanwhile (the events lock).
    """
    projections = (InteractionProjection(),) if projections is None else projections
    count = 0
    async with pool.acquire() as conn, conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", EVENTS_LOCK_KEY)
        for projection in projections:
            await projection.reset(conn)
        after = 0
        while page := await read_since(conn, after, page_size):
            for projection in projections:
                await projection.apply(conn, page)
            count += len(page)
            after = page[-1].seq
    return count
