"""The event log as Asterisk-style queue_log lines: ``epoch|callid|queue|agent|EVENT|data...``.

``queue_log_lines(events, since=..., until=...)`` is a pure fold over stored events in log
(seq) order. Events before ``since`` are folded but write nothing: they are the context a
line in the window needs (the caller id of a call that arrived earlier, the time it entered
its queue, when an agent logged in). docs/reporting.md has the mapping event by event.

Durations in seconds are differences of the whole-second epochs of the two events, the way
Asterisk measures them with its one-second clock, so that for example ENTERQUEUE's epoch
plus CONNECT's holdtime is CONNECT's epoch. RINGNOANSWER's ring time is in milliseconds,
from the exact timestamps.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from contactcenter.store.records import StoredEvent

NONE = "NONE"
"""What queue_log writes where a call id, queue or agent does not apply."""
AVAILABLE = "available"
OFFLINE = "offline"
NOT_RESPONDING = "not_responding"
"""The activity of an agent who let an offer ring out: not routed to until it says it is
available again, i.e. paused, as Asterisk's autopause would pause it."""
CALLER_LEFT = "caller_left"
"""offer.rescinded reason when the caller hung up: ABANDON reports it, not RINGNOANSWER."""

# Characters that would break a line into fields or lines; ids are restricted, but a
# caller id or a reason comes from outside.
_UNSAFE = str.maketrans({"|": " ", "\r": " ", "\n": " "})


@dataclass(frozen=True, slots=True)
class QueueLogLine:
    epoch: int
    callid: str
    queue: str
    agent: str
    event: str
    data: tuple[str, ...]
    seq: int
    """The log event this line comes from (not written; for tracing a line to its event)."""

    def render(self) -> str:
        fields = (str(self.epoch), self.callid, self.queue, self.agent, self.event, *self.data)
        return "|".join(f.translate(_UNSAFE) for f in fields)


@dataclass(slots=True)
class _Call:
    """What the fold knows about one contact."""

    callerid: str = ""
    queue: str | None = None
    entered_at: float | None = None
    """ts of the contact.queued that put it in ``queue`` (None: not seen)."""
    waiting: bool = False
    """Between ENTERQUEUE and leaving the queue (answered, abandoned, timed out)."""
    queue_leg: bool = True
    """False after a transfer to an agent: that leg never went through a queue."""
    origposition: int | None = None
    offered_at: float | None = None
    connected_at: float | None = None
    """ts of the answer written as CONNECT; None when no CONNECT is open."""
    connect_holdtime: int = 0


@dataclass(slots=True)
class _Waiting:
    """The callers of one queue, ranked as the engine serves them: priority, then entry."""

    keys: dict[str, tuple[int, int]] = field(default_factory=dict)

    def add(self, callid: str, priority: int, seq: int) -> int:
        self.keys[callid] = (-priority, seq)
        return self.position(callid)

    def position(self, callid: str) -> int:
        key = self.keys[callid]
        return 1 + sum(1 for other in self.keys.values() if other < key)

    def remove(self, callid: str) -> int | None:
        """The caller's position as it leaves (None if it was not waiting here)."""
        if callid not in self.keys:
            return None
        position = self.position(callid)
        del self.keys[callid]
        return position


def queue_log_lines(
    events: Iterable[StoredEvent],
    *,
    since: float | None = None,
    until: float | None = None,
) -> Iterator[QueueLogLine]:
    """The queue_log lines of ``events`` (in seq order) whose ts is in [since, until)."""
    fold = QueueLogFold()
    for event in events:
        lines = fold.apply(event)
        if in_window(event.ts, since, until):
            yield from lines


def in_window(ts: float, since: float | None, until: float | None) -> bool:
    """Whether an event at ``ts`` writes its lines: ``since <= ts < until``."""
    return (since is None or ts >= since) and (until is None or ts < until)


class QueueLogFold:
    """Folds events one at a time into the queue_log lines each one means."""

    def __init__(self) -> None:
        self.calls: dict[str, _Call] = {}
        self.queues: dict[str, _Waiting] = {}
        self.logged_in_at: dict[str, float] = {}
        self.agent_states: dict[str, tuple[str, str]] = {}
        """Each agent's (status, activity) as the log last said."""

    def apply(self, event: StoredEvent) -> list[QueueLogLine]:
        if event.type == "agent.state_changed":
            return self._agent_state(event)
        if event.contact_id is None:
            return []
        handler = _CONTACT_HANDLERS.get(event.type)
        if handler is None:
            return []
        call = self.calls.setdefault(event.contact_id, _Call())
        lines = handler(self, call, event)
        if _finished(event):  # nothing more to write for it: keep memory flat on long logs
            del self.calls[event.contact_id]
        return lines

    # --- helpers ---------------------------------------------------------------------------

    def _line(
        self,
        e: StoredEvent,
        name: str,
        *data: object,
        queue: str | None = None,
        agent: str | None = None,
    ) -> QueueLogLine:
        return QueueLogLine(
            epoch=_epoch(e.ts),
            callid=e.contact_id or NONE,
            queue=queue or e.queue_id or NONE,
            agent=agent or e.agent_id or NONE,
            event=name,
            data=tuple("" if d is None else str(d) for d in data),
            seq=e.seq,
        )

    def _leave_queue(self, call: _Call, e: StoredEvent) -> int | None:
        """Take the caller out of its queue's ranking; its position as it left."""
        call.waiting = False
        queue = call.queue or e.queue_id
        ranking = self.queues.get(queue) if queue else None
        return ranking.remove(e.contact_id or "") if ranking else None

    # --- contact events --------------------------------------------------------------------

    def _arrived(self, call: _Call, e: StoredEvent) -> list[QueueLogLine]:
        call.callerid = _text(e.data.get("ani"))
        return []

    def _queued(self, call: _Call, e: StoredEvent) -> list[QueueLogLine]:
        if e.queue_id is None:
            return []
        if call.waiting:  # never left its last queue in the log we saw; do not rank it twice
            self._leave_queue(call, e)
        call.queue = e.queue_id
        call.entered_at = e.ts
        call.waiting = True
        call.queue_leg = True
        call.offered_at = None
        call.connected_at = None
        priority = e.data.get("priority")
        rank = priority if isinstance(priority, int) and not isinstance(priority, bool) else 0
        ranking = self.queues.setdefault(e.queue_id, _Waiting())
        call.origposition = ranking.add(e.contact_id or "", rank, e.seq)
        return [self._line(e, "ENTERQUEUE", "", call.callerid, agent=NONE)]

    def _offered(self, call: _Call, e: StoredEvent) -> list[QueueLogLine]:
        call.offered_at = e.ts
        return []

    def _offer_missed(self, call: _Call, e: StoredEvent) -> list[QueueLogLine]:
        offered_at, call.offered_at = call.offered_at, None
        if not call.queue_leg or e.data.get("reason") == CALLER_LEFT:
            return []
        ring_ms = 0 if offered_at is None else max(0, round((e.ts - offered_at) * 1000))
        return [self._line(e, "RINGNOANSWER", ring_ms)]

    def _answered(self, call: _Call, e: StoredEvent) -> list[QueueLogLine]:
        offered_at, call.offered_at = call.offered_at, None
        if not call.queue_leg or e.data.get("in_queue") is False:
            call.connected_at = None
            return []
        self._leave_queue(call, e)
        holdtime = _span(call.entered_at, e.ts, e.data.get("wait_s"))
        ringtime = _span(offered_at, e.ts, 0)
        call.connected_at = e.ts
        call.connect_holdtime = holdtime
        # No bridged channel id: the log knows the agent, not its leg in the PBX.
        return [self._line(e, "CONNECT", holdtime, "", ringtime)]

    def _ended(self, call: _Call, e: StoredEvent) -> list[QueueLogLine]:
        connected_at, call.connected_at = call.connected_at, None
        if connected_at is None:
            return []
        calltime = _span(connected_at, e.ts, _talk_and_hold(e.data))
        name = "COMPLETECALLER" if e.data.get("ended_by") == "customer" else "COMPLETEAGENT"
        return [self._line(e, name, call.connect_holdtime, calltime, call.origposition)]

    def _transferred(self, call: _Call, e: StoredEvent) -> list[QueueLogLine]:
        connected_at, call.connected_at = call.connected_at, None
        to_queue, to_agent = _text(e.data.get("to_queue")), _text(e.data.get("to_agent"))
        # A contact sent to an agent skips the queue until it lands in one again.
        call.queue_leg = not to_agent
        if connected_at is None:
            return []
        extension, context = (to_queue, "queue") if to_queue else (to_agent, "agent")
        calltime = _span(connected_at, e.ts, _talk_and_hold(e.data))
        return [
            self._line(
                e,
                "BLINDTRANSFER",
                extension,
                context,
                call.connect_holdtime,
                calltime,
                call.origposition,
            )
        ]

    def _left_unanswered(self, call: _Call, e: StoredEvent, name: str) -> list[QueueLogLine]:
        unseen = call.entered_at is None  # the log we were given starts after its entry
        if not (call.waiting or (unseen and e.data.get("in_queue") is not False)):
            return []
        position = self._leave_queue(call, e)
        waittime = _span(call.entered_at, e.ts, e.data.get("wait_s"))
        return [self._line(e, name, position, call.origposition, waittime, agent=NONE)]

    def _abandoned(self, call: _Call, e: StoredEvent) -> list[QueueLogLine]:
        call.offered_at = None
        return self._left_unanswered(call, e, "ABANDON")

    def _flowed_out(self, call: _Call, e: StoredEvent) -> list[QueueLogLine]:
        # max_wait flow-out and overflow alike: an overflow then enters the next queue.
        call.offered_at = None
        return self._left_unanswered(call, e, "EXITWITHTIMEOUT")

    # --- agent events ----------------------------------------------------------------------

    def _agent_state(self, e: StoredEvent) -> list[QueueLogLine]:
        agent = e.agent_id
        if agent is None:
            return []
        d = e.data
        status, activity = _text(d.get("status")), _text(d.get("activity"))
        if not status:
            return []
        # What the log said last wins over the event's own prev_* fields, so that a state
        # rebuilt after a restart can never log an agent in twice without a logoff.
        prev_status, prev_activity = self.agent_states.get(
            agent, (_text(d.get("prev_status")) or OFFLINE, _text(d.get("prev_activity")))
        )
        self.agent_states[agent] = (status, activity)
        was_in, is_in = prev_status != OFFLINE, status != OFFLINE
        was_paused = _pause_reason(prev_status, prev_activity)
        paused = _pause_reason(status, activity)
        lines: list[QueueLogLine] = []
        if not was_in and is_in:
            self.logged_in_at[agent] = e.ts
            # The login event does not name the agent's phone, so no channel is written.
            lines.append(self._line(e, "AGENTLOGIN", "", queue=NONE))
            if paused:
                lines.append(self._line(e, "PAUSE", paused, queue=NONE))
        elif was_in and not is_in:
            login = self.logged_in_at.pop(agent, None)
            lines.append(self._line(e, "AGENTLOGOFF", "", _span(login, e.ts, None), queue=NONE))
        elif is_in and paused != was_paused:
            if paused:
                lines.append(self._line(e, "PAUSE", paused, queue=NONE))
            else:
                lines.append(self._line(e, "UNPAUSE", was_paused, queue=NONE))
        return lines


_Handler = Callable[[QueueLogFold, _Call, StoredEvent], list[QueueLogLine]]
_CONTACT_HANDLERS: Mapping[str, _Handler] = {
    "contact.arrived": QueueLogFold._arrived,
    "contact.queued": QueueLogFold._queued,
    "contact.offered": QueueLogFold._offered,
    "offer.rejected": QueueLogFold._offer_missed,
    "offer.timed_out": QueueLogFold._offer_missed,
    "offer.rescinded": QueueLogFold._offer_missed,
    "contact.answered": QueueLogFold._answered,
    "contact.ended": QueueLogFold._ended,
    "contact.transferred": QueueLogFold._transferred,
    "contact.abandoned": QueueLogFold._abandoned,
    "contact.flowed_out": QueueLogFold._flowed_out,
}


def _finished(e: StoredEvent) -> bool:
    """The contact's last event that writes a line (an overflow enters another queue)."""
    if e.type == "contact.flowed_out":
        return e.data.get("reason") != "overflow"
    return e.type in ("contact.ended", "contact.abandoned")


def _pause_reason(status: str, activity: str) -> str:
    """Why a logged-in agent takes no calls ("" when it does): its not-ready reason code,
    or not_responding after an offer rang out."""
    if status not in (AVAILABLE, OFFLINE):
        return status
    return NOT_RESPONDING if activity == NOT_RESPONDING else ""


def _epoch(ts: float) -> int:
    return math.floor(ts)


def _span(start: float | None, end: float, fallback: object) -> int:
    """Whole seconds from ``start`` to ``end`` on the epoch column's clock; the event's own
    measure (``fallback``) when the start is not in the log we were given."""
    if start is not None:
        return max(0, _epoch(end) - _epoch(start))
    if (
        isinstance(fallback, int | float)
        and not isinstance(fallback, bool)
        and math.isfinite(fallback)
    ):
        return max(0, round(fallback))
    return 0


def _talk_and_hold(data: Mapping[str, Any]) -> float | None:
    talk, hold = data.get("talk_s"), data.get("hold_s", 0.0)
    if isinstance(talk, int | float) and isinstance(hold, int | float):
        return float(talk) + float(hold)
    return None


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""
