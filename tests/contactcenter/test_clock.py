"""The ManualScheduler behaves as the production scheduler does, on a clock the test moves:
callbacks in time order at their due time, cancelled ones never, and each in the context
(contextvars: the log ids) of the code that set it, as ``loop.call_later`` does."""

from __future__ import annotations

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
