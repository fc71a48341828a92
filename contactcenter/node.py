"""Fail-stop: the node serves only while its in-memory state is what the event log says.

The ACD applies an input to its engine and then commits the input's events. When the
commit fails (the database went away, a write was refused) the engine holds a change the
log does not. Keeping that engine would let a client that was told "error" find the change
done later (a call queued that the log never saw, a call ended with no hang-up sent). So
the node stops:

1. at once, before any other input: the ACD refuses input (``Acd._failed``), the event log
   refuses appends (``EventLog.stopped``), readiness fails, HTTP answers 503 with
   Retry-After (``unavailable_middleware``), socket upgrades too;
2. the generation of services is stopped: timers cancelled, every socket closed with
   ``CLOSE_TRY_AGAIN`` (agents' consoles, supervisors, chat visitors and the gateway
   reconnect on their own), the engine dropped;
3. once the database answers again, a new generation is built and restored from the log,
   the very path a restart takes (``Acd.restore``); only then does the node serve again.

What a client was told therefore holds: "ok" means committed, and the rebuilt state has
it; "error" means not committed, and the rebuilt state has not. The one exception is a
connection lost during COMMIT itself (``outcome_unknown``): the rebuilt state tells which.

Commands of committed inputs meant for the telephony gateway survive the swap: the gateway
link is the node's, not the generation's, and keeps them until the gateway reconnects.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import asyncpg

from contactcenter.clock import Scheduler
from contactcenter.readiness import Readiness
from contactcenter.store import EventLog

log = logging.getLogger(__name__)

DB_PROBE_TIMEOUT_S = 2.0
DB_PROBE_INTERVAL_S = 1.0

S = TypeVar("S")


@dataclass(frozen=True)
class Generation(Generic[S]):
    """How the composition root builds, starts and stops one generation of services."""

    build: Callable[[], S]
    start: Callable[[S], Awaitable[None]]
    stop: Callable[[S, bool], Awaitable[None]]
    """``stop(services, shutdown)``: shutdown is False for a fail-stop (the sockets are
    told to reconnect), True when the process stops."""


class NotServing(RuntimeError):
    """The node is recovering from a failed commit (or has not started yet)."""


class Node(Generic[S]):
    """The services of the current generation, and the fail-stop that replaces them."""

    def __init__(
        self,
        generation: Generation[S],
        *,
        event_log: EventLog,
        pool: asyncpg.Pool,
        readiness: Readiness,
        scheduler: Scheduler,
    ) -> None:
        self._generation = generation
        self._log = event_log
        self._pool = pool
        self._readiness = readiness
        self._scheduler = scheduler
        self._current: S | None = None
        self._serving = False
        self._recovery: asyncio.Task[None] | None = None
        self._closed = False
        self.failures = 0
        """Fail-stops since start (metrics)."""
        self.recoveries = 0
        event_log.add_failure_listener(self.fail)

    @property
    def serving(self) -> bool:
        return self._serving

    @property
    def services(self) -> S:
        """The current generation (also while recovering: the old one, stopped)."""
        if self._current is None:
            raise NotServing("the server has not started its services yet")
        return self._current

    async def start(self) -> None:
        """Build and start the first generation (the process's start-up)."""
        current = self._generation.build()
        self._current = current
        await self._generation.start(current)
        self._serving = True
        self._readiness.acd_restored = True

    async def close(self) -> None:
        """Shutdown: stop recovering, stop the current generation."""
        self._closed = True
        self._serving = False
        if self._recovery is not None:
            self._recovery.cancel()
            await asyncio.gather(self._recovery, return_exceptions=True)
        if self._current is not None:
            await self._generation.stop(self._current, True)
            self._current = None

    def fail(self, error: BaseException) -> None:
        """The log refused a commit: stop serving now, recover in the background. Called
        synchronously by the ACD and the event log, so nothing is served in between."""
        if not self._serving or self._closed:
            return
        self._serving = False
        self.failures += 1
        self._readiness.acd_restored = False
        self._readiness.failed = f"rebuilding from the event log after a failed commit: {error}"
        log.critical(
            "fail-stop: %s; rebuilding from the event log once the database answers", error
        )
        self._recovery = asyncio.get_running_loop().create_task(self._recover(), name="fail-stop")

    async def _recover(self) -> None:
        old, self._current = self._current, None
        if old is not None:
            try:
                await self._generation.stop(old, False)
            except Exception:
                log.exception("stopping the failed generation raised; carrying on")
        while not self._closed:
            await self._database_answers()
            self._log.reopen()
            current = self._generation.build()
            self._current = current
            try:
                await self._generation.start(current)
            except Exception as exc:
                log.error("rebuild from the event log failed (%s); trying again", exc)
                self._current = None
                await self._generation.stop(current, False)
                await self._scheduler.sleep(DB_PROBE_INTERVAL_S)
                continue
            if self._log.stopped is not None:
                # The log failed again during the rebuild: its listener could not act
                # (the node was not serving yet), so go round again.
                self._current = None
                await self._generation.stop(current, False)
                continue
            break
        else:
            return
        self.recoveries += 1
        self._serving = True
        self._readiness.acd_restored = True
        self._readiness.failed = None
        log.warning("fail-stop over: state rebuilt from the event log, serving again")

    async def _database_answers(self) -> None:
        while not self._closed:
            try:
                await asyncio.wait_for(self._pool.fetchval("SELECT 1"), DB_PROBE_TIMEOUT_S)
                return
            except Exception as exc:
                log.info("database not answering yet (%s: %s)", type(exc).__name__, exc)
                # Dead connections are dropped rather than handed out after a restart.
                await self._pool.expire_connections()
            await self._scheduler.sleep(DB_PROBE_INTERVAL_S)
