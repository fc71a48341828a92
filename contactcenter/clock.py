"""The scheduler and clock port: every server timer goes through it.

Offers, wrap-ups, a console's reconnect grace, IVR and chat timeouts, campaign pacing
ticks and the wallboard's coalescing all ask a ``Scheduler`` for "now" and for a callback
later, never ``time.time`` or ``loop.call_later`` directly. Production gets
``AsyncioScheduler`` (wall clock, the running loop's timers); tests get
``ManualScheduler``, whose time moves only when the test says so, so a 30-second grace
period takes no real time and a test asserts exactly what happens at 29.9 s and at 30 s.
"""

from __future__ import annotations

import asyncio
import contextvars
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol


class Timer(Protocol):
    """A scheduled callback; ``cancel`` makes sure it does not run (harmless if it has)."""

    def cancel(self) -> None: ...


class Scheduler(Protocol):
    def now(self) -> float:
        """Seconds since the epoch (the event log's and the engine's time)."""
        ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` (synchronously, on the event loop) ``delay`` seconds from now."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this scheduler's time (periodic loops)."""
        ...


class AsyncioScheduler:
    """The production scheduler: the wall clock and the running loop's timers.
    ``clock``: another time source running at real speed (e.g. shifted to a given time
    of day, to test calling windows)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_later(max(0.0, delay), callback)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


RESOLUTION_S = 1e-6
"""Timers due within this of the end of an ``advance`` fire in it: near today's epoch a
float second has a grid of 2.4e-7 s, so ``advance(14.9)`` then ``advance(0.1)`` may
land a hair short of a timer set for 15 s by ``now + 15`` computed elsewhere."""


class _ManualTimer:
    __slots__ = ("at", "callback", "cancelled", "seq")

    def __init__(self, at: float, seq: int, callback: Callable[[], None]) -> None:
        self.at = at
        self.seq = seq
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True

    def __lt__(self, other: _ManualTimer) -> bool:
        return (self.at, self.seq) < (other.at, other.seq)


class ManualScheduler:
    """A scheduler whose time moves only by ``advance``: for tests and simulations.

    ``advance(seconds)`` runs every callback that falls due, in time order (ties in the
    order they were scheduled), with ``now()`` equal to the callback's due time while it
    runs, and lets the event loop run the tasks those callbacks start before the next one
    (a timer that fires usually starts a task that commits to the database)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._now = start
        self._heap: list[_ManualTimer] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        # as asyncio's call_later: the callback runs in a copy of the caller's context
        # (the log ids bound where the timer was set, e.g. the agent of a console)
        context = contextvars.copy_context()
        timer = _ManualTimer(
            self._now + max(0.0, delay), next(self._seq), lambda: context.run(callback)
        )
        heapq.heappush(self._heap, timer)
        return timer

    async def sleep(self, seconds: float) -> None:
        done = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not done.done():
                done.set_result(None)

        timer = self.call_later(seconds, wake)
        try:
            await done
        finally:
            timer.cancel()

    def pending(self) -> list[float]:
        """Due times of the timers not yet run or cancelled, soonest first."""
        return sorted(t.at for t in self._heap if not t.cancelled)

    async def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, firing what falls due on the way."""
        end = self._now + seconds
        while True:
            await _settle()
            while self._heap and self._heap[0].cancelled:
                heapq.heappop(self._heap)
            if not self._heap or self._heap[0].at > end + RESOLUTION_S:
                break
            timer = heapq.heappop(self._heap)
            self._now = max(self._now, timer.at)
            timer.callback()
        self._now = max(self._now, end)
        await _settle()


async def _settle(rounds: int = 5) -> None:
    """Let tasks that are ready run (callbacks above typically start one); a task that
    waits on real I/O (the database) is awaited by the test through what it produces."""
    for _ in range(rounds):
        await asyncio.sleep(0)
