"""Timers: each kind the engine schedules, and the one function that handles it firing.

The engine asks its driver for a timer with ``StartTimer((kind, subject, generation), at)``
and gets it back through ``Engine.timer``, which looks the kind up in ``TIMER_HANDLERS``
and calls that handler; there is no other dispatch. A handler first checks that its timer
is still current (the generation matches) and does nothing otherwise: cancelled timers may
still fire in a driver that could not withdraw them in time.

"An offer timed out", for example, is ``TIMER_HANDLERS[TimerKind.OFFER]``, that is
``Offers.offer_timed_out`` in routing/offers.py: it applies ``OFFER_TIMEOUT`` of the contact
and slot tables in routing/transitions.py and does everything that follows.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from routing.consult import Consults
from routing.handling import Handling
from routing.offers import Offers
from routing.queueing import Queueing
from routing.records import Outcome
from routing.transitions import TimerKind

if TYPE_CHECKING:
    from routing.engine import Engine

TimerHandler = Callable[["Engine", str, int, float], Outcome]
"""(engine, subject, generation, now): the subject is a contact id, or for a wrap-up timer
``agent id + NUL + contact id``."""

TIMER_HANDLERS: dict[str, TimerHandler] = {
    TimerKind.OFFER: Offers.offer_timed_out,
    TimerKind.STEP: Queueing.step_timed_out,
    TimerKind.MAXWAIT: Queueing.max_wait_reached,
    TimerKind.STARVE: Queueing.starved,
    TimerKind.CONSULT: Consults.consult_timed_out,
    TimerKind.WRAPUP: Handling.wrapup_timed_out,
}
"""Keyed by ``TimerKind``; a plain ``str`` kind from a driver finds the same entry."""
