"""The ManualScheduler behaves as the production scheduler does, on a clock the test moves:
callbacks in time order at their due time, cancelled ones never, and each in the context
(contextvars: the log ids) of the code that set it, as ``loop.call_later`` does."""

from __future__ import annotations

import asyncio
import contextvars

from contactcenter.clock import ManualScheduler

WHO: contextvars.ContextVar[str] = contextvars.ContextVar("who", default="nobody")


async def test_callbacks_run_in_order_at_their_time_and_in_their_context() -> None:
    scheduler = ManualScheduler(start=100.0)
    ran: list[tuple[str, float, str]] = []

    def note(name: str) -> None:
        ran.append((name, scheduler.now(), WHO.get()))

    token = WHO.set("kim")
    scheduler.call_later(2.0, lambda: note("b"))
    WHO.reset(token)
    scheduler.call_later(1.0, lambda: note("a"))
    scheduler.call_later(2.0, lambda: note("c")).cancel()
    assert scheduler.pending() == [101.0, 102.0]
    await scheduler.advance(1.75)
    assert ran == [("a", 101.0, "nobody")]
    await scheduler.advance(0.25)
    assert ran == [("a", 101.0, "nobody"), ("b", 102.0, "kim")]
    assert scheduler.now() == 102.0 and scheduler.pending() == []


async def test_a_timer_set_on_the_epoch_grid_fires_when_decimal_steps_reach_it() -> None:
    # near 1.8e9 s a float's grid is 2.4e-7 s: 1.8e9 + 0.3 + 14.7 is not 1.8e9 + 15.0
    scheduler = ManualScheduler(start=1_800_000_000.0)
    await scheduler.advance(0.3)
    due = scheduler.now() + 14.7
    fired: list[float] = []
    scheduler.call_later(due - scheduler.now(), lambda: fired.append(scheduler.now()))
    await scheduler.advance(14.6)
    assert fired == []
    await scheduler.advance(0.1)
    assert len(fired) == 1 and abs(fired[0] - due) < 1e-6


async def test_sleep_wakes_when_the_test_moves_time_past_it() -> None:
    scheduler = ManualScheduler(start=0.0)
    woke: list[float] = []

    async def sleeper() -> None:
        await scheduler.sleep(5.0)
        woke.append(scheduler.now())

    task = asyncio.create_task(sleeper())
    await scheduler.advance(4.5)
    assert woke == []
    await scheduler.advance(0.5)
    await task
    assert woke == [5.0]
