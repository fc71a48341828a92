"""The ACD engine: which waiting contact goes to which agent, and when.

Sans-I/O: every method takes ``now`` (seconds, any epoch) and returns an ``Outcome`` of
domain events and driver commands. Nothing here sleeps, awaits or reads a clock; timers
are commands the driver schedules and feeds back through ``timer()``.

How a decision stays cheap: waiting contacts live in *routing groups* (queue, routing step,
extra skills). Each group keeps a heap of its waiting contacts in FCFS-within-priority
order and an ordered pool of the routable agents that qualify for it. A new contact takes
the front of its group's pool; an agent who frees up compares only the heads of the groups
it qualifies for. Neither direction scans all agents or all contacts.

``Engine`` is one class assembled from one mixin per concern, each in its own module over
the shared state of ``routing.core.EngineCore``:

- ``routing.queueing``: contacts entering and leaving queues, routing steps, max wait;
- ``routing.selection``: agent pools and picking the contact or the agent;
- ``routing.offers``: offering, accepting, rejecting, timing out, rescinding;
- ``routing.handling``: hold, resume, end, wrap-up, blind transfers;
- ``routing.agents``: registration, skills and the agent's status (its own table);
- ``routing.consult``: consult (warm transfer) and conference;
- ``routing.seating``: contacts seated with their agent directly (restore, originate);
- ``routing.reading``: snapshots, ``explain`` and the invariant check;
- ``routing.timers``: the timer kinds and the table of their handlers.

Mixins rather than composed helper objects: a method found through the class costs the
same as before the split, where a helper object would add an attribute hop per call on the
hot path.
"""

from __future__ import annotations

from routing.agents import AgentStatus
from routing.consult import Consults
from routing.core import EngineCore
from routing.events import TimerId
from routing.handling import Handling
from routing.offers import Offers
from routing.queueing import Queueing
from routing.reading import Reading
from routing.records import (
    AgentSnapshot,
    ConsultSnapshot,
    ContactSnapshot,
    Explanation,
    Outcome,
)
from routing.seating import Seating
from routing.selection import Selection
from routing.timers import TIMER_HANDLERS

__all__ = [
    "AgentSnapshot",
    "ConsultSnapshot",
    "ContactSnapshot",
    "Engine",
    "Explanation",
    "Outcome",
]


class Engine(
    AgentStatus,
    Consults,
    Seating,
    Handling,
    Offers,
    Queueing,
    Selection,
    Reading,
    EngineCore,
):
    """One ACD: agents, queues and waiting contacts. Not thread-safe; one driver owns it."""

    def timer(self, timer: TimerId, now: float) -> Outcome:
        """A timer the engine asked for has fired. Stale timers do nothing.

        The timer's kind picks its handler from ``routing.timers.TIMER_HANDLERS``: an offer
        that timed out, for one, is ``Offers.offer_timed_out``."""
        kind, subject, gen = timer
        handler = TIMER_HANDLERS.get(kind)
        if handler is None:
            return Outcome([], [])
        return handler(self, subject, gen, now)
