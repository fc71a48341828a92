"""Contact-centre statistics as a pure fold over routing events: the one definition.

The live server, the supervisor wallboard, the reports and the simulator all feed events
into ``StatsFold`` and read figures from it, so a "service level" means the same thing
everywhere. Formulas follow DESIGN.md section 6 and REFERENCE.md section 2.

Attribution: a count lands in the interval in which its event happened (an answer in the
interval it was answered, an abandon in the interval the caller left). Agent time is split
across interval boundaries.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from routing.events import (
    AgentStateChanged,
    ContactAbandoned,
    ContactAnswered,
    ContactEnded,
    ContactFlowedOut,
    ContactOffered,
    ContactOriginated,
    ContactQueued,
    ContactTransferred,
    Event,
    OfferRejected,
    OfferTimedOut,
    WrapUpCompleted,
)
from routing.model import QueueConfig


class SLVariant(StrEnum):
    ALL_ABANDONS_FAIL = "all_abandons_fail"
    ANSWERED_ONLY = "answered_only"
    ABANDONS_WITHIN_T_EXCLUDED = "abandons_within_t_excluded"
    ABANDONS_WITHIN_T_MET = "abandons_within_t_met"


SL_FORMULAS: dict[SLVariant, str] = {
    SLVariant.ALL_ABANDONS_FAIL: "answered within T / (answered + abandoned)",
    SLVariant.ANSWERED_ONLY: "answered within T / answered",
    SLVariant.ABANDONS_WITHIN_T_EXCLUDED: (
        "answered within T / (answered + abandoned - abandoned within T)"
    ),
    SLVariant.ABANDONS_WITHIN_T_MET: (
        "(answered within T + abandoned within T) / (answered + abandoned)"
    ),
}


def service_level(
    answered: int,
    abandoned: int,
    answered_within: int,
    abandoned_within: int,
    variant: SLVariant = SLVariant.ALL_ABANDONS_FAIL,
) -> float | None:
    """Service level by the chosen variant; None when nothing counts yet.

    To remove short abandons "from both sides", pass counts that already exclude them
    (``QueueCounts.service_level`` does this)."""
    if variant is SLVariant.ALL_ABANDONS_FAIL:
        num, den = answered_within, answered + abandoned
    elif variant is SLVariant.ANSWERED_ONLY:
        num, den = answered_within, answered
    elif variant is SLVariant.ABANDONS_WITHIN_T_EXCLUDED:
        num, den = answered_within, answered + abandoned - abandoned_within
    else:
        num, den = answered_within + abandoned_within, answered + abandoned
    return num / den if den > 0 else None


def describe_service_level(variant: SLVariant, threshold_s: float, short_s: float) -> str:
    text = SL_FORMULAS[variant].replace("T", f"{threshold_s:g} s")
    if short_s > 0:
        text += f"; abandons under {short_s:g} s are not counted"
    return text


@dataclass(slots=True)
class QueueCounts:
    """Additive counts for one queue over one span of time."""

    offered: int = 0
    answered: int = 0
    abandoned: int = 0
    short_abandoned: int = 0
    flowed_out: int = 0
    answered_within: int = 0
    abandoned_within: int = 0
    """Abandons within the threshold, short abandons excluded."""
    wait_answered_s: float = 0.0
    max_wait_answered_s: float = 0.0
    wait_abandoned_s: float = 0.0
    handled: int = 0
    talk_s: float = 0.0
    hold_s: float = 0.0
    wrapup_s: float = 0.0
    transferred_out: int = 0
    missed_offers: int = 0
    outbound: int = 0
    """Contacts agents placed (click-to-dial): not offered, answered or in the service level."""
    outbound_handled: int = 0
    outbound_handle_s: float = 0.0
    """Talk + hold + wrap-up of outbound contacts, kept out of the inbound AHT."""
    wait_samples: list[float] = field(default_factory=list)

    def service_level(self, variant: SLVariant = SLVariant.ALL_ABANDONS_FAIL) -> float | None:
        return service_level(
            self.answered,
            self.abandoned - self.short_abandoned,
            self.answered_within,
            self.abandoned_within,
            variant,
        )

    @property
    def asa_s(self) -> float | None:
        return self.wait_answered_s / self.answered if self.answered else None

    @property
    def abandon_rate(self) -> float | None:
        """Abandoned (short ones apart) / offered."""
        if not self.offered:
            return None
        return (self.abandoned - self.short_abandoned) / self.offered

    @property
    def aht_s(self) -> float | None:
        if not self.handled:
            return None
        return (self.talk_s + self.hold_s + self.wrapup_s) / self.handled


def occupancy(handling_s: float, available_s: float) -> float | None:
    """Handling time (talk, hold, wrap-up) over staffed time an agent could take contacts
    (handling + available); None before any such time."""
    total = handling_s + available_s
    return handling_s / total if total > 0 else None


@dataclass(slots=True)
class AgentTime:
    handling_s: float = 0.0
    available_s: float = 0.0

    @property
    def occupancy(self) -> float | None:
        return occupancy(self.handling_s, self.available_s)


def pooled_time(times: Iterable[AgentTime]) -> AgentTime:
    """Several agents' time together (a team's or a queue's occupancy)."""
    total = AgentTime()
    for t in times:
        total.handling_s += t.handling_s
        total.available_s += t.available_s
    return total


def agent_state(status: str, activity: str) -> str:
    """The state an agent is counted in: its activity, except that an agent idle in a
    status other than ``available`` (a break, lunch) is ``not_ready``."""
    return "not_ready" if status != "available" and activity == "idle" else activity


BOARD_COUNTS: dict[str, str] = {
    "idle": "available",
    "offered": "available",
    "on_contact": "on_contact",
    "on_hold": "on_contact",
    "wrap_up": "wrap_up",
    "not_ready": "not_ready",
    "not_responding": "not_responding",
}
"""The columns a queue's logged-in agents are counted in (``agent_state`` to column):
being offered a contact still counts as available, on hold as on a contact. States not
here (offline) are not counted."""


def board_counts(states: Iterable[str]) -> dict[str, int]:
    """Agents counted by ``BOARD_COUNTS`` column, from their ``agent_state`` values."""
    counts: dict[str, int] = {}
    for state in states:
        column = BOARD_COUNTS.get(state)
        if column is not None:
            counts[column] = counts.get(column, 0) + 1
    return counts


_INLINE = frozenset({ContactAnswered, ContactQueued, ContactEnded, WrapUpCompleted})
"""The event kinds StatsFold.apply_all folds without a handler call."""
_NO_COUNTS = QueueCounts()
"""Placeholder before the first queue event of a batch; never updated."""
_HANDLING = frozenset({"on_contact", "on_hold", "wrap_up"})
_AVAILABLE = frozenset({"idle", "offered"})


@dataclass(slots=True)
class _QueueDef:
    threshold_s: float
    short_s: float


@dataclass(slots=True)
class _AgentState:
    status: str
    activity: str
    since: float
    total: AgentTime | None = None
    """This agent's entry of ``agent_time``, once it has one."""


class StatsFold:
    """Real-time and interval statistics, folded from routing events in order."""

    def __init__(
        self,
        queues: Iterable[QueueConfig] = (),
        interval_s: int = 900,
        variant: SLVariant = SLVariant.ALL_ABANDONS_FAIL,
        keep_wait_samples: bool = False,
    ) -> None:
        if interval_s not in (900, 1800, 3600):
            raise ValueError("interval_s must be 900 (15 min), 1800 (30 min) or 3600")
        self.interval_s = interval_s
        self.variant = variant
        self.keep_wait_samples = keep_wait_samples
        self._defs: dict[str, _QueueDef] = {
            q.id: _QueueDef(q.service_level.threshold_s, q.short_abandon_s) for q in queues
        }
        self.totals: dict[str, QueueCounts] = {}
        self.intervals: dict[tuple[str, float], QueueCounts] = {}
        self.waiting: dict[str, dict[str, float]] = {}
        self._where: dict[str, str] = {}
        self.agents: dict[str, _AgentState] = {}
        self.agent_time: dict[str, AgentTime] = {}
        self.agent_intervals: dict[float, AgentTime] = {}
        self.events_seen = 0
        self._last: dict[str, tuple[float, float, tuple[QueueCounts, QueueCounts]]] = {}
        self._agent_bucket: tuple[float, float, AgentTime] = (math.inf, -math.inf, AgentTime())
        """The last (start, end, totals) agent-time bucket: events come in time order, so
        a span almost always falls inside it (the same idea as ``_last``)."""
        self._outbound: set[str] = set()
        """Outbound contacts not yet through their wrap-up."""
        self._handlers: dict[type[Event], Any] = {
            AgentStateChanged: self._agent,
            ContactQueued: self._on_queued,
            ContactOriginated: self._on_originated,
            ContactAnswered: self._on_answered,
            ContactAbandoned: self._on_abandoned,
            ContactFlowedOut: self._on_flowed_out,
            ContactEnded: self._on_ended,
            ContactTransferred: self._on_transferred,
            WrapUpCompleted: self._on_wrapup,
            OfferRejected: self._on_missed,
            OfferTimedOut: self._on_missed,
        }

    def queue_def(self, queue_id: str) -> _QueueDef:
        d = self._defs.get(queue_id)
        if d is None:
            d = self._defs[queue_id] = _QueueDef(20.0, 5.0)
        return d

    def _counts(self, queue_id: str, ts: float) -> tuple[QueueCounts, QueueCounts]:
        return self._bucket(queue_id, ts)[2]

    def _bucket(
        self, queue_id: str, ts: float
    ) -> tuple[float, float, tuple[QueueCounts, QueueCounts]]:
        """(start, end, (totals, interval counts)) of the queue's interval holding ``ts``."""
        # Events come in time order: the last (queue, bucket) pair is almost always the
        # one wanted again, so it is cached instead of rebuilding a key per event.
        cached = self._last.get(queue_id)
        if cached is not None and cached[0] <= ts < cached[1]:
            return cached
        total = self.totals.get(queue_id)
        if total is None:
            total = self.totals[queue_id] = QueueCounts()
            self.waiting.setdefault(queue_id, {})
        size = self.interval_s
        bucket = float(math.floor(ts / size) * size)
        key = (queue_id, bucket)
        interval = self.intervals.get(key)
        if interval is None:
            interval = self.intervals[key] = QueueCounts()
        cached = self._last[queue_id] = (bucket, bucket + size, (total, interval))
        return cached

    def apply_all(self, events: Iterable[Event]) -> None:
        """``apply`` for each event in order: the same fold, with the hot cases inline.

        A simulated or live day is mostly agent state changes, offers (which count
        nothing), queued, answered, ended and wrap-up events: those are folded here without
        a handler call, with the (queue, interval) counts of the last queue event kept at
        hand. The arithmetic is the handlers', in the same order, so the figures are
        identical to folding one event at a time; rarer events and rarer cases (outbound
        contacts, a span across an interval boundary) go through the handlers."""
        handlers = self._handlers
        agents = self.agents
        defs = self._defs
        where = self._where
        waiting = self.waiting
        outbound = self._outbound
        keep = self.keep_wait_samples
        seen = 0
        b_start, b_end, bucket_time = self._agent_bucket
        # The counts cache of _counts, for the queue of the previous queue event.
        c_qid: str | None = None
        c_lo, c_hi = math.inf, -math.inf
        total = interval = _NO_COUNTS
        event: Any
        for event in events:
            seen += 1
            cls = type(event)
            if cls is AgentStateChanged:
                state = agents.get(event.agent_id)
                if state is not None:
                    spent = state.total
                    start = state.since
                    ts = event.ts
                    if spent is not None and b_start <= start <= ts <= b_end:
                        # _agent's common case: the span lies inside the current bucket.
                        activity = state.activity
                        if activity in _HANDLING:
                            spent.handling_s += ts - start
                            bucket_time.handling_s += ts - start
                        elif activity in _AVAILABLE and state.status == "available":
                            spent.available_s += ts - start
                            bucket_time.available_s += ts - start
                        state.status = event.status
                        state.activity = event.activity
                        state.since = ts
                        continue
                self._agent(event)
                b_start, b_end, bucket_time = self._agent_bucket
                continue
            if cls is ContactOffered:
                continue
            qid = event.queue_id
            cid = event.contact_id
            if cls not in _INLINE or qid is None or cid is None:
                # Every other kind, and the inlined kinds' no-op case (their handlers
                # ignore an event without queue or contact), through the handler table.
                handler = handlers.get(cls)
                if handler is not None:
                    handler(event)
                continue
            if cls is ContactAnswered:
                if not event.in_queue:
                    continue
                ts = event.ts
                if qid != c_qid or not c_lo <= ts < c_hi:
                    c_lo, c_hi, (total, interval) = self._bucket(qid, ts)
                    c_qid = qid
                left = where.pop(cid, None)
                if left is not None:
                    waiting[left].pop(cid, None)
                wait = event.wait_s
                d = defs.get(qid)
                within = wait <= (self.queue_def(qid) if d is None else d).threshold_s
                total.answered += 1
                total.wait_answered_s += wait
                if wait > total.max_wait_answered_s:
                    total.max_wait_answered_s = wait
                interval.answered += 1
                interval.wait_answered_s += wait
                if wait > interval.max_wait_answered_s:
                    interval.max_wait_answered_s = wait
                if within:
                    total.answered_within += 1
                    interval.answered_within += 1
                if keep:
                    total.wait_samples.append(wait)
                    interval.wait_samples.append(wait)
            elif cls is ContactQueued:
                ts = event.ts
                if qid != c_qid or not c_lo <= ts < c_hi:
                    c_lo, c_hi, (total, interval) = self._bucket(qid, ts)
                    c_qid = qid
                total.offered += 1
                interval.offered += 1
                waiting[qid][cid] = event.enqueued_at
                where[cid] = qid
            elif cls is ContactEnded and cid not in outbound:
                ts = event.ts
                if qid != c_qid or not c_lo <= ts < c_hi:
                    c_lo, c_hi, (total, interval) = self._bucket(qid, ts)
                    c_qid = qid
                talk, hold = event.talk_s, event.hold_s
                total.handled += 1
                total.talk_s += talk
                total.hold_s += hold
                interval.handled += 1
                interval.talk_s += talk
                interval.hold_s += hold
            elif cls is WrapUpCompleted and cid not in outbound:
                ts = event.ts
                if qid != c_qid or not c_lo <= ts < c_hi:
                    c_lo, c_hi, (total, interval) = self._bucket(qid, ts)
                    c_qid = qid
                total.wrapup_s += event.wrapup_s
                interval.wrapup_s += event.wrapup_s
            else:
                handler = handlers.get(cls)
                if handler is not None:
                    handler(event)
        self.events_seen += seen

    def apply(self, event: Event) -> None:
        self.events_seen += 1
        handler = self._handlers.get(type(event))
        if handler is not None:
            handler(event)

    def _on_queued(self, event: ContactQueued) -> None:
        qid, cid = event.queue_id, event.contact_id
        if qid is None or cid is None:
            return
        total, interval = self._counts(qid, event.ts)
        total.offered += 1
        interval.offered += 1
        self.waiting[qid][cid] = event.enqueued_at
        self._where[cid] = qid

    def _on_originated(self, event: ContactOriginated) -> None:
        qid, cid = event.queue_id, event.contact_id
        if qid is None or cid is None:
            return
        self._outbound.add(cid)
        for c in self._counts(qid, event.ts):
            c.outbound += 1

    def _on_answered(self, event: ContactAnswered) -> None:
        qid, cid = event.queue_id, event.contact_id
        if qid is None or cid is None or not event.in_queue:
            return
        where = self._where.pop(cid, None)
        if where is not None:
            self.waiting[where].pop(cid, None)
        wait = event.wait_s
        d = self._defs.get(qid)
        within = wait <= (self.queue_def(qid) if d is None else d).threshold_s
        keep = self.keep_wait_samples
        for c in self._counts(qid, event.ts):
            c.answered += 1
            c.wait_answered_s += wait
            if wait > c.max_wait_answered_s:
                c.max_wait_answered_s = wait
            if within:
                c.answered_within += 1
            if keep:
                c.wait_samples.append(wait)

    def _on_abandoned(self, event: ContactAbandoned) -> None:
        qid, cid = event.queue_id, event.contact_id
        if qid is None or cid is None or not event.in_queue:
            return
        self._leave(cid)
        d = self.queue_def(qid)
        wait = event.wait_s
        for c in self._counts(qid, event.ts):
            c.abandoned += 1
            c.wait_abandoned_s += wait
            if wait < d.short_s:
                c.short_abandoned += 1
            elif wait <= d.threshold_s:
                c.abandoned_within += 1

    def _on_flowed_out(self, event: ContactFlowedOut) -> None:
        qid, cid = event.queue_id, event.contact_id
        if qid is None or cid is None:
            return
        self._leave(cid)
        for c in self._counts(qid, event.ts):
            c.flowed_out += 1

    def _on_ended(self, event: ContactEnded) -> None:
        qid = event.queue_id
        if qid is None or event.contact_id is None:
            return
        if event.contact_id in self._outbound:
            self._outbound_handled(qid, event.ts, event.talk_s + event.hold_s)
            return
        for c in self._counts(qid, event.ts):
            c.handled += 1
            c.talk_s += event.talk_s
            c.hold_s += event.hold_s

    def _on_transferred(self, event: ContactTransferred) -> None:
        qid = event.queue_id
        if qid is None or event.contact_id is None:
            return
        if event.contact_id in self._outbound:
            self._outbound_handled(qid, event.ts, event.talk_s + event.hold_s)
            return
        for c in self._counts(qid, event.ts):
            c.handled += 1
            c.transferred_out += 1
            c.talk_s += event.talk_s
            c.hold_s += event.hold_s

    def _on_wrapup(self, event: WrapUpCompleted) -> None:
        qid, cid = event.queue_id, event.contact_id
        if qid is None or cid is None:
            return
        if cid in self._outbound:
            self._outbound.discard(cid)
            for c in self._counts(qid, event.ts):
                c.outbound_handle_s += event.wrapup_s
            return
        for c in self._counts(qid, event.ts):
            c.wrapup_s += event.wrapup_s

    def _outbound_handled(self, queue_id: str, ts: float, seconds: float) -> None:
        for c in self._counts(queue_id, ts):
            c.outbound_handled += 1
            c.outbound_handle_s += seconds

    def _on_missed(self, event: Event) -> None:
        qid = event.queue_id
        if qid is None or event.contact_id is None:
            return
        for c in self._counts(qid, event.ts):
            c.missed_offers += 1

    def _leave(self, contact_id: str) -> None:
        qid = self._where.pop(contact_id, None)
        if qid is not None:
            self.waiting[qid].pop(contact_id, None)

    def _agent(self, event: AgentStateChanged) -> None:
        aid = event.agent_id
        assert aid is not None
        state = self.agents.get(aid)
        if state is None:
            self.agents[aid] = _AgentState(event.status, event.activity, event.ts)
            return
        ts = event.ts
        total = state.total
        start = state.since
        b_start, b_end, bucket_time = self._agent_bucket
        if total is not None and b_start <= start <= ts <= b_end:
            # _accrue's common case, inlined: one span inside the current bucket.
            activity = state.activity
            if activity in _HANDLING:
                total.handling_s += ts - start
                bucket_time.handling_s += ts - start
            elif activity in _AVAILABLE and state.status == "available":
                total.available_s += ts - start
                bucket_time.available_s += ts - start
        else:
            self._accrue(aid, state, ts)
        state.status = event.status
        state.activity = event.activity
        state.since = event.ts

    def _accrue(self, agent_id: str, state: _AgentState, until: float) -> None:
        start = state.since
        state.since = until
        if state.activity in _HANDLING:
            handling = True
        elif state.activity in _AVAILABLE and state.status == "available":
            handling = False
        else:
            return
        if start >= until:
            return
        total = state.total
        if total is None:
            total = self.agent_time.get(agent_id)
            if total is None:
                total = self.agent_time[agent_id] = AgentTime()
            state.total = total
        b_start, b_end, bucket_time = self._agent_bucket
        if b_start <= start and until <= b_end:
            span = until - start
            if handling:
                total.handling_s += span
                bucket_time.handling_s += span
            else:
                total.available_s += span
                bucket_time.available_s += span
            return
        size = self.interval_s
        slots = self.agent_intervals
        while start < until:
            bucket = float(math.floor(start / size) * size)
            end = min(until, bucket + size)
            span = end - start
            slot = slots.get(bucket)
            if slot is None:
                slot = slots[bucket] = AgentTime()
            self._agent_bucket = (bucket, bucket + size, slot)
            if handling:
                total.handling_s += span
                slot.handling_s += span
            else:
                total.available_s += span
                slot.available_s += span
            start = end

    def flush_agents(self, now: float) -> None:
        """Accrue agent time up to ``now`` (call before reading occupancy)."""
        for aid, state in self.agents.items():
            if state.since < now:
                self._accrue(aid, state, now)

    # ------------------------------------------------------------------ reading

    def oldest_waiting(self, queue_id: str) -> float | None:
        """When the longest-waiting contact of the queue entered it; None: nobody waits."""
        waiting = self.waiting.get(queue_id)
        if not waiting:
            return None
        # Dicts keep insertion order and contacts enter in time order, so the first live
        # entry is the oldest: no scan.
        return next(iter(waiting.values()))

    def longest_wait(self, queue_id: str, now: float) -> float:
        oldest = self.oldest_waiting(queue_id)
        return 0.0 if oldest is None else max(0.0, now - oldest)

    def agents_by_state(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for state in self.agents.values():
            if state.activity == "offline":
                continue
            label = agent_state(state.status, state.activity)
            counts[label] = counts.get(label, 0) + 1
        return counts

    def occupancy(self, agent_ids: Iterable[str] | None = None) -> float | None:
        """Occupancy of every agent seen, or of ``agent_ids`` (a queue's members); call
        ``flush_agents`` first for figures up to now."""
        if agent_ids is None:
            return pooled_time(self.agent_time.values()).occupancy
        times = self.agent_time
        return pooled_time(t for a in agent_ids if (t := times.get(a)) is not None).occupancy

    def queue_snapshot(self, queue_id: str, now: float) -> dict[str, Any]:
        counts = self.totals.get(queue_id) or QueueCounts()
        d = self.queue_def(queue_id)
        return {
            "queue_id": queue_id,
            "waiting": len(self.waiting.get(queue_id, {})),
            "longest_wait_s": self.longest_wait(queue_id, now),
            "offered": counts.offered,
            "answered": counts.answered,
            "abandoned": counts.abandoned - counts.short_abandoned,
            "short_abandoned": counts.short_abandoned,
            "flowed_out": counts.flowed_out,
            "service_level": counts.service_level(self.variant),
            "service_level_formula": describe_service_level(self.variant, d.threshold_s, d.short_s),
            "asa_s": counts.asa_s,
            "abandon_rate": counts.abandon_rate,
            "aht_s": counts.aht_s,
        }

    def snapshot(self, now: float) -> dict[str, Any]:
        self.flush_agents(now)
        queue_ids = sorted(set(self._defs) | set(self.totals))
        return {
            "ts": now,
            "queues": [self.queue_snapshot(q, now) for q in queue_ids],
            "agents_by_state": self.agents_by_state(),
            "occupancy": self.occupancy(),
        }

    def interval_rows(self, queue_id: str | None = None) -> list[dict[str, Any]]:
        """One row per (queue, interval start), oldest first: the interval report."""
        rows = []
        for (qid, start), c in sorted(self.intervals.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            if queue_id is not None and qid != queue_id:
                continue
            agents = self.agent_intervals.get(start)
            rows.append(
                {
                    "queue_id": qid,
                    "interval_start": start,
                    "interval_s": self.interval_s,
                    "offered": c.offered,
                    "answered": c.answered,
                    "abandoned": c.abandoned - c.short_abandoned,
                    "short_abandoned": c.short_abandoned,
                    "flowed_out": c.flowed_out,
                    "answered_within": c.answered_within,
                    "service_level": c.service_level(self.variant),
                    "asa_s": c.asa_s,
                    "abandon_rate": c.abandon_rate,
                    "aht_s": c.aht_s,
                    "occupancy": agents.occupancy if agents else None,
                }
            )
        return rows


# ------------------------------------------------------------------ outbound campaigns


def talk_minutes_per_agent_hour(talk_s: float, staffed_s: float) -> float | None:
    """Talk minutes per staffed agent hour: the dialer's productivity figure; None before
    any staffed time."""
    return talk_s / 60.0 / (staffed_s / 3600.0) if staffed_s > 0 else None


def wait_between_calls_s(ready_s: float, connects: int) -> float | None:
    """Mean time an agent waits ready for its next connected call: ready agent-seconds per
    connect; None before the first connect."""
    return ready_s / connects if connects else None


def lines_per_ready_agent(lines: int, ready: int) -> float | None:
    """The dial level: lines in progress (ringing, or answered and waiting) per ready
    agent; None when no agent is ready."""
    return lines / ready if ready else None


@dataclass(slots=True)
class DialerAgentTime:
    """Agent time of one campaign, integrated over the dialer's looks.

    Each look reports how many eligible agents are ready (idle) and busy; the span since
    the previous look is counted with the previous look's numbers (they held until now).
    A span longer than ``max_span_s`` (a stalled loop) counts as ``max_span_s``."""

    ready_s: float = 0.0
    staffed_s: float = 0.0
    connects: int = 0
    last_at: float | None = None
    ready: int = 0
    busy: int = 0

    def look(self, now: float, ready: int, busy: int, max_span_s: float) -> None:
        if self.last_at is not None:
            span = max(0.0, min(now - self.last_at, max_span_s))
            self.ready_s += span * self.ready
            self.staffed_s += span * (self.ready + self.busy)
        self.last_at = now
        self.ready, self.busy = ready, busy

    def connected(self) -> None:
        self.connects += 1

    @property
    def wait_between_calls_s(self) -> float | None:
        return wait_between_calls_s(self.ready_s, self.connects)

    def talk_minutes_per_agent_hour(self, talk_s: float) -> float | None:
        return talk_minutes_per_agent_hour(talk_s, self.staffed_s)
