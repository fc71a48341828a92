"""One replication of a scenario: SimPy time driving the real routing engine.

The engine (routing.Engine) decides everything a live ACD decides: who gets which call,
when offers time out, queue escalation steps. This module only plays the world around it:
callers arrive, wait until answered or out of patience, talk for their handle time; virtual
agents accept offers, end calls, wrap up, log in and out and take breaks. Every engine
event is folded into routing.stats.StatsFold, the one definition of the metrics.

Why it looks the way it does (throughput is a feature here):
* No SimPy process per call. Each future action is one tiny slotted event put straight on
  SimPy's schedule with a shared, prebuilt callback tuple; SimPy pops it and calls the
  handler. Cancelling (caller answered before their patience ran out, engine cancels a
  timer) swaps the callbacks for an empty tuple: the heap entry is popped and does nothing.
* Engine timers are scheduled only after the input that started them is fully handled, so
  the offer timer of an offer accepted in the same instant never reaches the heap.
* Arrival times, handle times and patience are drawn up front in numpy batches, from
  separate streams per (seed, replication, queue, purpose): common random numbers.
* Engine events reach the statistics fold in batches, in the order they happened: nothing
  reads the fold while SimPy runs except the warm-up snapshot, which drains the batch
  first. A fold over a few thousand events at a time runs with its code and data warm,
  measurably faster than one small fold after every engine call.
"""

from __future__ import annotations

import dataclasses
import gc
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from heapq import heappush
from typing import Any, assert_never, cast

import numpy as np
import simpy

from routing import errors
from routing.engine import Engine, Outcome
from routing.events import (
    CancelTimer,
    Event,
    FlowOut,
    Offer,
    RescindOffer,
    StartTimer,
    TimerId,
)
from routing.model import AVAILABLE, AgentProfile
from routing.stats import AgentTime, QueueCounts, StatsFold
from simulations.distributions import (
    STREAM_ANSWER,
    STREAM_ARRIVALS,
    STREAM_HANDLE,
    STREAM_PATIENCE,
    STREAM_WRAPUP,
    arrival_times,
    rng_for,
    stream,
)
from simulations.scenario import GroupPlan, QueueSpec, Scenario

NORMAL = 1  # simpy's priority for ordinary events
_new = object.__new__
_NOOP: tuple[Callable[[Any], None], ...] = ()
WAIT_PERCENTILES = (50, 90, 95)
FOLD_BATCH = 2048
"""Events gathered before a fold (checked at each arrival): large enough to keep the fold's
loop warm, small enough to stay in cache."""


class _Ev:
    """The least an object needs to sit on SimPy's schedule (see Environment.step)."""

    __slots__ = ("a", "b", "callbacks")
    _ok = True
    _value = None

    def __init__(self, callbacks: tuple[Callable[[Any], None], ...], a: Any, b: Any = None):
        self.callbacks = callbacks
        self.a = a
        self.b = b


class _Call:
    """A caller; also the event of the end of their talk and then of their wrap-up.

    Their hanging up, when they must wait, is a separate ``_Ev`` (``hangup``): most
    callers are answered at once and never need one, whereas every answered caller needs
    a talk-end event, and a heap entry may not be reused while a stale one is pending."""

    __slots__ = ("agent", "callbacks", "cid", "handle", "hangup", "wrap")
    _ok = True
    _value = None

    def __init__(self, cid: str, handle: float, wrap: float | None) -> None:
        self.callbacks = _NOOP
        self.cid = cid
        self.handle = handle
        self.wrap = wrap
        self.agent = ""
        self.hangup: _Ev | None = None


@dataclass(slots=True)
class _QueueRun:
    spec: QueueSpec
    name: str
    prefix: str
    times: list[float]
    handle: list[float]
    patience: list[float] | None
    wrap: list[float] | None
    count: int
    next: int = 0


@dataclass(slots=True)
class ReplicationResult:
    """Figures of one replication, warm-up excluded. Plain data: it crosses processes."""

    replication: int
    seed: int
    queues: dict[str, dict[str, float | None]]
    intervals: list[dict[str, Any]]
    groups: dict[str, dict[str, float | None]]
    occupancy: float | None
    arrivals: int
    events: int
    wall_s: float
    wait_samples: dict[str, np.ndarray] = field(default_factory=dict)
    agent_handled: dict[str, int] = field(default_factory=dict)


class Simulation:
    """Build with a scenario, then ``run()`` once."""

    def __init__(
        self,
        scenario: Scenario,
        replication: int = 0,
        seed: int | None = None,
        keep_samples: bool = False,
    ) -> None:
        self.scenario = scenario
        self.replication = replication
        self.seed = scenario.seed if seed is None else seed
        self.keep_samples = keep_samples
        self.env = simpy.Environment()
        self.engine = Engine(scenario.routing_config())
        self.fold = StatsFold(
            self.engine.config.queues,
            interval_s=scenario.interval_s,
            variant=scenario.service_level_variant,
            keep_wait_samples=True,
        )
        self.warmup = scenario.warmup
        self._unfolded: list[Event] = []
        """Engine events not yet folded, in order (see _drain)."""
        self._fold_later = self._unfolded.extend
        self._arrive = self.engine.arrive_plain
        # _Ev and _Call stand in for simpy.Event (see _Ev), hence the loose signature.
        self._schedule = cast(Callable[[Any, int, float], None], self.env.schedule)
        # The hot paths (arrival, patience, talk, wrap-up) push onto SimPy's heap
        # themselves: Environment.schedule is this one line, and a call less per event
        # counts at three or four events per caller. The heap is typed for simpy.Event
        # entries; ours are the _Ev and _Call stand-ins, hence the cast (as for _schedule).
        self._heap = cast(list[tuple[float, int, int, Any]], self.env._queue)
        self._eid = self.env._eid
        self._waiting: dict[str, _Call] = {}
        self._timers: dict[TimerId, _Ev] = {}
        """Engine timers on the SimPy schedule."""
        self._new_timers: dict[TimerId, StartTimer] = {}
        """Engine timers started by the input being handled, not yet scheduled: an offer
        accepted in the same instant cancels its timer here, before it reaches the heap."""
        self._pending_accept: dict[tuple[str, str], _Ev] = {}
        self._handled: dict[str, int] = {}
        self._warm_time: dict[str, tuple[float, float]] = {}
        # Prebuilt callback tuples: one per kind of action, shared by all its events.
        self._cb_arrival = (self._on_arrival,)
        self._cb_abandon = (self._on_abandon,)
        self._cb_talk_end = (self._on_talk_end,)
        self._cb_wrap_end = (self._on_wrap_end,)
        self._cb_timer = (self._on_timer,)
        self._cb_accept = (self._on_delayed_accept,)
        self._cb_agent = (self._on_agent_plan,)
        self._answer_delay: Iterator[float] | None = None
        if scenario.answer_delay is not None:
            rng = rng_for(self.seed, replication, "(agents)", STREAM_ANSWER)
            self._answer_delay = stream(scenario.answer_delay, rng)
        self._queues = [self._prepare_queue(q) for q in scenario.queues]
        self._agents_of: dict[str, list[str]] = {}

    # ------------------------------------------------------------------ set-up

    def _prepare_queue(self, spec: QueueSpec) -> _QueueRun:
        seed, rep, name = self.seed, self.replication, spec.name
        segments = self.scenario.segments(name)
        times = arrival_times(
            [s.start for s in segments],
            [s.end for s in segments],
            [s.rate for s in segments],
            rng_for(seed, rep, name, STREAM_ARRIVALS),
            spec.rate_profile,
        )
        n = len(times)
        handle = spec.handle_time.sample(rng_for(seed, rep, name, STREAM_HANDLE), n)
        if any(s.aht_s is not None for s in segments):
            # A forecast AHT scales the caller's draw: same callers, longer or shorter calls.
            starts = np.array([s.start for s in segments])
            factor = np.array(
                [(s.aht_s / spec.handle_time.mean) if s.aht_s else 1.0 for s in segments]
            )
            handle = handle * factor[np.searchsorted(starts, times, side="right") - 1]
        patience = None
        if spec.patience is not None:
            patience = spec.patience.sample(rng_for(seed, rep, name, STREAM_PATIENCE), n).tolist()
        wrap = None
        if spec.wrap_up is not None:
            wrap = spec.wrap_up.sample(rng_for(seed, rep, name, STREAM_WRAPUP), n).tolist()
        return _QueueRun(spec, name, f"{name}#", times.tolist(), handle.tolist(), patience, wrap, n)

    def _add_agents(self, plan: GroupPlan) -> None:
        ids = [f"{plan.name}.{k}" for k in range(plan.agents)]
        self._agents_of[plan.name] = ids
        for agent_id in ids:
            self.engine.add_agent(
                AgentProfile(
                    id=agent_id,
                    team=plan.team,
                    skills=plan.skills,
                    capacity=plan.capacity,
                    interruptible_by=plan.interruptible_by,
                )
            )
        # (time, agent, action): logins at the shift start, breaks staggered across the
        # group so that they do not all leave at once, logouts at the shift end.
        n = len(ids)
        for k, agent_id in enumerate(ids):
            self._plan(plan.login_at, agent_id, "login")
            for b in plan.breaks:
                start = b.start + (b.stagger * k / n if n else 0.0)
                self._plan(start, agent_id, b.reason)
                self._plan(start + (b.end - b.start), agent_id, AVAILABLE)
            if plan.logout_at is not None:
                self._plan(plan.logout_at, agent_id, "logout")

    def _plan(self, at: float, agent_id: str, action: str) -> None:
        if at <= 0.0 and action == "login":
            self._apply(self.engine.login(agent_id, 0.0), 0.0)
            return
        self._schedule(_Ev(self._cb_agent, agent_id, action), NORMAL, at)

    # ------------------------------------------------------------------ running

    def run(self) -> ReplicationResult:
        started = time.perf_counter()
        env = self.env
        for plan in self.scenario.groups:
            self._add_agents(plan)
        self._flush(0.0)
        for q in self._queues:
            if q.count:
                self._schedule(_Ev(self._cb_arrival, q), NORMAL, q.times[0])
        if self.warmup > 0:
            self._schedule(_Ev((self._on_warmup_end,), None), 0, self.warmup)
        horizon = self.scenario.horizon_s
        # The run makes no reference cycles (a caller's hang-up event and the caller let
        # go of each other when either is done; tests/simulations/test_harness.py checks
        # that garbage does not grow with the contacts), so the cycle collector has
        # nothing to find here. Left on, it would scan the young objects every few dozen
        # callers and, as the events waiting in the fold batch age into the older
        # generations, those too. It is paused while SimPy runs and restored after.
        collecting = gc.isenabled()
        gc.disable()
        try:
            env.run(until=horizon)
        finally:
            if collecting:
                gc.enable()
        self._drain()
        self.fold.flush_agents(horizon)
        return self._result(time.perf_counter() - started)

    def _apply(self, out: Outcome, now: float) -> None:
        """Carry out what the engine asked for. Offers are handled after the timers the
        same outcome started, so an accepted offer can cancel its own timer in time."""
        self._fold_later(out.events)
        commands = out.commands
        if not commands:
            return
        offers: list[Offer] | None = None
        # Every member of the closed Command union, most frequent first, by exact class
        # (the members are final; ``type() is`` costs half of a match on class patterns
        # here); a command added to the union fails the type check at assert_never.
        for command in commands:
            if type(command) is StartTimer:
                self._new_timers[command.timer] = command
            elif type(command) is CancelTimer:
                if self._new_timers.pop(command.timer, None) is None:
                    ev = self._timers.pop(command.timer, None)
                    if ev is not None:
                        ev.callbacks = _NOOP
            elif type(command) is Offer:
                if offers is None:
                    offers = [command]
                else:
                    offers.append(command)
            elif type(command) is RescindOffer:
                key = (command.contact_id, command.agent_id)
                pending = self._pending_accept.pop(key, None)
                if pending is not None:
                    pending.callbacks = _NOOP
            elif type(command) is FlowOut:
                call = self._waiting.pop(command.contact_id, None)
                if call is not None and call.hangup is not None:
                    call.hangup.callbacks = _NOOP
                    call.hangup = None
            else:
                assert_never(command)
        if offers is not None:
            for offer in offers:
                if self._answer_delay is None:
                    self._accept(offer.contact_id, offer.agent_id, now)
                else:
                    ev = _Ev(self._cb_accept, offer.contact_id, offer.agent_id)
                    self._pending_accept[(offer.contact_id, offer.agent_id)] = ev
                    self._schedule(ev, NORMAL, next(self._answer_delay))

    def _drain(self) -> None:
        """Fold the events gathered so far (before anything reads the fold)."""
        unfolded = self._unfolded
        self.fold.apply_all(unfolded)
        unfolded.clear()

    def _flush(self, now: float) -> None:
        """Put the timers the engine still wants on the SimPy schedule."""
        timers = self._timers
        for key, command in self._new_timers.items():
            ev = timers[key] = _Ev(self._cb_timer, key)
            self._schedule(ev, NORMAL, max(0.0, command.at - now))
        self._new_timers.clear()

    def _accept(self, contact_id: str, agent_id: str, now: float) -> None:
        out = self.engine.accept(agent_id, contact_id, now)
        call = self._waiting.pop(contact_id)
        hangup = call.hangup
        if hangup is not None:
            hangup.callbacks = _NOOP  # the caller no longer hangs up
            call.hangup = None  # (the pair would otherwise be a cycle for the GC)
        if now >= self.warmup:
            handled = self._handled
            handled[agent_id] = handled.get(agent_id, 0) + 1
        self._apply(out, now)
        call.agent = agent_id
        call.callbacks = self._cb_talk_end
        heappush(self._heap, (self.env._now + call.handle, NORMAL, next(self._eid), call))

    # ------------------------------------------------------------------ handlers

    def _on_arrival(self, ev: _Ev) -> None:
        q: _QueueRun = ev.a
        i = q.next
        now = q.times[i]
        cid = q.prefix + str(i)
        wrap = q.wrap
        # _Call(...) without the __init__ call: one of these per caller.
        call = _new(_Call)
        call.callbacks = _NOOP
        call.cid = cid
        call.handle = q.handle[i]
        call.wrap = wrap[i] if wrap is not None else None
        call.agent = ""
        call.hangup = None
        waiting = self._waiting
        waiting[cid] = call
        self._apply(self._arrive(cid, q.name, now), now)
        patience = q.patience
        if patience is not None and cid in waiting:
            hangup = call.hangup = _Ev(self._cb_abandon, call)
            heappush(self._heap, (self.env._now + patience[i], NORMAL, next(self._eid), hangup))
        i += 1
        q.next = i
        if i < q.count:
            # The arrival event is reused for the next caller of this queue.
            ev.callbacks = self._cb_arrival
            heappush(self._heap, (self.env._now + (q.times[i] - now), NORMAL, next(self._eid), ev))
        if self._new_timers:
            self._flush(now)
        if len(self._unfolded) >= FOLD_BATCH:
            self._drain()

    def _on_abandon(self, ev: _Ev) -> None:
        now = self.env._now
        call: _Call = ev.a
        call.hangup = None
        del self._waiting[call.cid]
        self._apply(self.engine.abandon(call.cid, now), now)
        if self._new_timers:
            self._flush(now)

    def _on_talk_end(self, call: _Call) -> None:
        now = self.env._now
        self._apply(self.engine.end(call.agent, call.cid, now), now)
        if call.wrap is not None:
            call.callbacks = self._cb_wrap_end
            heappush(self._heap, (now + call.wrap, NORMAL, next(self._eid), call))
        if self._new_timers:
            self._flush(now)

    def _on_wrap_end(self, call: _Call) -> None:
        now = self.env._now
        self._apply(self.engine.complete_wrapup(call.agent, call.cid, now), now)
        if self._new_timers:
            self._flush(now)

    def _on_timer(self, ev: _Ev) -> None:
        now = self.env._now
        self._timers.pop(ev.a, None)
        self._apply(self.engine.timer(ev.a, now), now)
        if self._new_timers:
            self._flush(now)

    def _on_delayed_accept(self, ev: _Ev) -> None:
        now = self.env._now
        contact_id, agent_id = key = ev.a, ev.b
        if self._pending_accept.get(key) is not ev:
            return  # a newer offer of this contact to this agent took over
        del self._pending_accept[key]
        try:
            self._accept(contact_id, agent_id, now)
        except errors.RoutingError:
            # Too slow: the offer timed out and the engine marked the agent not
            # responding. The virtual agent notices and makes itself available again.
            if self.engine.agent(agent_id).activity == "not_responding":
                self._apply(self.engine.set_status(agent_id, AVAILABLE, now), now)
        if self._new_timers:
            self._flush(now)

    def _on_agent_plan(self, ev: _Ev) -> None:
        now = self.env._now
        agent_id, action = ev.a, ev.b
        engine = self.engine
        status = engine.agent(agent_id).status
        if action == "login":
            out = engine.login(agent_id, now)
        elif action == "logout":
            if status == "offline":
                return
            out = engine.logout(agent_id, now)
        else:  # a break starts (reason code) or ends (available)
            if status == "offline":
                return
            out = engine.set_status(agent_id, action, now)
        self._apply(out, now)
        if self._new_timers:
            self._flush(now)

    def _on_warmup_end(self, ev: _Ev) -> None:
        self._drain()
        self.fold.flush_agents(self.warmup)
        self._warm_time = {
            aid: (t.handling_s, t.available_s) for aid, t in self.fold.agent_time.items()
        }

    # ------------------------------------------------------------------ results

    def _measured(self) -> dict[str, QueueCounts]:
        """Per-queue counts from the intervals after the warm-up."""
        fold = self.fold
        if self.warmup <= 0:
            return dict(fold.totals)
        merged: dict[str, QueueCounts] = {}
        for (qid, start), counts in fold.intervals.items():
            if start >= self.warmup:
                merged[qid] = _add_counts(merged.get(qid) or QueueCounts(), counts)
        return merged

    def _agent_time(self, agent_ids: list[str]) -> AgentTime:
        total = AgentTime()
        for aid in agent_ids:
            t = self.fold.agent_time.get(aid)
            if t is None:
                continue
            h0, a0 = self._warm_time.get(aid, (0.0, 0.0))
            total.handling_s += t.handling_s - h0
            total.available_s += t.available_s - a0
        return total

    def _result(self, wall_s: float) -> ReplicationResult:
        fold = self.fold
        measured = self._measured()
        all_agents = [a for ids in self._agents_of.values() for a in ids]
        queues: dict[str, dict[str, float | None]] = {}
        samples: dict[str, np.ndarray] = {}
        for q in self.scenario.queues:
            counts = measured.get(q.name) or QueueCounts()
            waits = np.asarray(counts.wait_samples, dtype=float)
            need = q.required_skills
            serving = [
                aid
                for plan in self.scenario.groups
                if plan.capacity.get(q.channel, 0) > 0
                and all(plan.skills.get(s, 0) >= lvl for s, lvl in need.items())
                for aid in self._agents_of[plan.name]
            ]
            row: dict[str, float | None] = {
                "offered": counts.offered,
                "answered": counts.answered,
                "abandoned": counts.abandoned - counts.short_abandoned,
                "short_abandoned": counts.short_abandoned,
                "flowed_out": counts.flowed_out,
                "missed_offers": counts.missed_offers,
                "service_level": counts.service_level(fold.variant),
                "asa_s": counts.asa_s,
                "abandon_rate": counts.abandon_rate,
                "aht_s": counts.aht_s,
                "longest_wait_s": counts.max_wait_answered_s if counts.answered else None,
                "occupancy": self._agent_time(serving).occupancy,
            }
            for p, value in zip(WAIT_PERCENTILES, _percentiles(waits), strict=True):
                row[f"wait_p{p}_s"] = value
            queues[q.name] = row
            if self.keep_samples:
                samples[q.name] = waits.astype(np.float32)
        groups: dict[str, dict[str, float | None]] = {}
        for name, ids in self._agents_of.items():
            handled = sum(self._handled.get(a, 0) for a in ids)
            groups[name] = {
                "agents": len(ids),
                "handled": handled,
                "handled_per_agent": handled / len(ids) if ids else None,
                "occupancy": self._agent_time(ids).occupancy,
            }
        intervals = []
        for interval in fold.interval_rows():
            if interval["interval_start"] < self.warmup:
                continue
            agents = fold.agent_intervals.get(interval["interval_start"])
            staffed = (agents.handling_s + agents.available_s) / fold.interval_s if agents else 0.0
            intervals.append({**interval, "staffed": staffed})
        return ReplicationResult(
            replication=self.replication,
            seed=self.seed,
            queues=queues,
            intervals=intervals,
            groups=groups,
            occupancy=self._agent_time(all_agents).occupancy,
            arrivals=sum(q.next for q in self._queues),
            events=fold.events_seen,
            wall_s=wall_s,
            wait_samples=samples,
            agent_handled=dict(self._handled),
        )


_ADDITIVE = tuple(
    f.name
    for f in dataclasses.fields(QueueCounts)
    if f.name not in ("max_wait_answered_s", "wait_samples")
)


def _add_counts(total: QueueCounts, part: QueueCounts) -> QueueCounts:
    for name in _ADDITIVE:
        setattr(total, name, getattr(total, name) + getattr(part, name))
    total.max_wait_answered_s = max(total.max_wait_answered_s, part.max_wait_answered_s)
    total.wait_samples.extend(part.wait_samples)
    return total


def _percentiles(waits: np.ndarray) -> list[float | None]:
    if not len(waits):
        return [None] * len(WAIT_PERCENTILES)
    return [float(v) for v in np.percentile(waits, WAIT_PERCENTILES)]


def run_replication(
    scenario: Scenario, replication: int = 0, seed: int | None = None, keep_samples: bool = False
) -> ReplicationResult:
    return Simulation(scenario, replication, seed, keep_samples).run()
