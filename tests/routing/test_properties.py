"""Generated operation sequences over small random configurations.

A ``Run`` drives the engine the way a server would (explicit time that only moves forward,
timers fired when due, cancelled ones dropped) and keeps its *own* model of every contact
and every agent's hands, built only from the events and commands the engine emits. After
each operation it checks the engine's internal invariants and the properties below against
that independent model:

* a contact is never offered to (or held by) two agents at once, and an agent never
  exceeds its channel capacity;
* FCFS within priority: an offer never passes over a waiting contact of higher priority,
  or of equal priority and earlier entry, that the agent qualifies for and could take;
* every contact ends in at most one terminal state, and after draining, exactly one;
* the statistics fold balances per queue: offered = answered + abandoned + flowed out +
  still waiting;
* offer timers: an offer never times out before its expiry, and answering an offer
  cancels the offer timer that offer started;
* an input that is refused leaves the engine exactly as it was;
* consult and conference (random consult / accept / reject / cancel / complete /
  conference / leave inputs): the consulted agent's slot counts against its capacity for
  the whole consult, the contact keeps exactly one owner, and it ends once.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from random import Random
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from routing import (
    AgentProfile,
    Channel,
    ContactSpec,
    Engine,
    Outcome,
    QueueConfig,
    RoutingConfig,
)
from routing import errors as E
from routing.events import (
    AgentStateChanged,
    CancelTimer,
    ConferenceLeft,
    ConferenceStarted,
    ConsultAccepted,
    ConsultCancelled,
    ConsultRejected,
    ConsultStarted,
    ContactAbandoned,
    ContactAnswered,
    ContactEnded,
    ContactFlowedOut,
    ContactHeld,
    ContactOffered,
    ContactQueued,
    ContactResumed,
    ContactStepChanged,
    ContactTransferred,
    Event,
    FlowOut,
    OfferRejected,
    OfferRescinded,
    OfferTimedOut,
    RescindOffer,
    StartTimer,
    TimerId,
    WrapUpCompleted,
)
from routing.model import MaxWait, RoutingStep, WrapUpPolicy
from routing.stats import StatsFold

from .support import fingerprint

Session = tuple[list[bool], list[int]]

SKILLS = ("s0", "s1", "s2")
STATUSES = ("available", "available", "available", "break", "lunch", "offline")
STRATEGIES = ("longest_idle", "most_skilled", "least_occupied", "round_robin", "blend")
DISPOSITIONS = ("ok", "callback")
LIVE = ("queued", "offered", "connected", "held")
SLOT_NAMES = {"offered": "offered", "connected": "connected", "held": "held", "wrap": "wrap_up"}
SLOT_NAMES |= {k: k for k in ("consult_hold", "consult_offered", "consulting", "conferenced")}
SIDE_SLOTS = ("consult_offered", "consulting", "conferenced")
"""Slots of an agent who is in a call without owning the contact."""

# Deterministic (derandomize) so every run checks the same 200 sessions per property.
# Shrinking is off by default: with a live bug it can take minutes, and a failure already
# reports the inputs that led to it. Set ROUTING_PROPERTY_SHRINK=1 to get a minimal case.
_SHRINK = os.environ.get("ROUTING_PROPERTY_SHRINK") == "1"
PROPERTY_SETTINGS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    derandomize=True,
    phases=tuple(Phase) if _SHRINK else tuple(p for p in Phase if p is not Phase.shrink),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# ------------------------------------------------------------------------- configurations

skill_reqs = st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 5), min_size=1, max_size=2)
agent_skills = st.fixed_dictionaries({}, optional={skill: st.integers(1, 10) for skill in SKILLS})
extra_skills = st.dictionaries(st.sampled_from(SKILLS), st.integers(1, 3), max_size=1)


@st.composite
def routing_configs(draw: st.DrawFn) -> RoutingConfig:
    ids = [f"q{i}" for i in range(draw(st.integers(2, 4)))]
    queues = []
    for qid in ids:
        others = [o for o in ids if o != qid]
        disposition = draw(st.booleans())
        wrap = WrapUpPolicy(
            mode=draw(st.sampled_from(["none", "timed", "mandatory"])),
            seconds=draw(st.sampled_from([0.0, 5.0, 20.0])),
            disposition_required=disposition,
            dispositions=DISPOSITIONS if disposition else (),
        )
        kind = draw(st.sampled_from([None, None, "flow_out", "overflow"]))
        max_wait = None
        if kind is not None:
            target = draw(st.sampled_from(others)) if kind == "overflow" else "voicemail"
            max_wait = MaxWait(
                seconds=draw(st.sampled_from([30.0, 90.0, 300.0])), action=kind, target=target
            )
        steps: tuple[RoutingStep, ...] = ()
        if draw(st.booleans()):
            steps = (
                RoutingStep(name="first", timeout_s=draw(st.sampled_from([10.0, 40.0]))),
                RoutingStep(
                    name="wide",
                    skills=draw(st.none() | skill_reqs),
                    min_proficiency_delta=draw(st.integers(-3, 0)),
                    fallback_queues=tuple(
                        draw(st.lists(st.sampled_from(others), max_size=1, unique=True))
                    ),
                    priority_change=draw(st.integers(0, 2)),
                ),
            )
        queues.append(
            QueueConfig(
                id=qid,
                channel=draw(st.sampled_from([Channel.VOICE, Channel.CHAT])),
                skills=draw(skill_reqs),
                priority=draw(st.integers(0, 2)),
                offer_timeout_s=draw(st.sampled_from([5.0, 15.0, 30.0])),
                wrap_up=wrap,
                max_wait=max_wait,
                steps=steps,
                missed_offer_not_responding=draw(st.booleans()),
            )
        )
    return RoutingConfig(queues=tuple(queues), strategy=draw(st.sampled_from(STRATEGIES)))


@st.composite
def agent_profiles(draw: st.DrawFn) -> list[AgentProfile]:
    profiles = []
    for i in range(draw(st.integers(3, 8))):
        voice = draw(st.sampled_from([0, 1, 1]))
        chat = draw(st.sampled_from([0, 0, 1, 2, 3]))
        if voice == 0 and chat == 0:
            voice = 1
        capacity = {Channel.VOICE: voice, Channel.CHAT: chat}
        interrupt = {}
        if voice and chat and draw(st.booleans()):
            interrupt = {Channel.CHAT: (Channel.VOICE,)}
        profiles.append(
            AgentProfile(
                id=f"a{i}",
                skills=draw(agent_skills),
                capacity=capacity,
                interruptible_by=interrupt,
            )
        )
    return profiles


# ------------------------------------------------------------------------- the model


@dataclass
class MContact:
    id: str
    queue: str
    channel: str
    extra: dict[str, int]
    state: str = "new"  # new queued offered connected held transit ended abandoned flowed_out
    priority: int = 0
    enq: float = 0.0
    order: int = 0
    step: str = ""
    holder: str | None = None
    direct: bool = False
    direct_target: str | None = None
    offer_expires: float = 0.0
    offer_timer: TimerId | None = None
    answered_at: float = 0.0
    hold_since: float | None = None
    hold_s: float = 0.0
    terminal: list[str] = field(default_factory=list)
    consult_with: str | None = None
    consult_accepted: bool = False
    conference_with: str | None = None


def _merge(base: dict[str, int], extra: dict[str, int]) -> dict[str, int]:
    out = dict(base)
    for k, v in extra.items():
        out[k] = max(out.get(k, 0), v)
    return out


class Violation(AssertionError):
    pass


Op = tuple[Any, ...]


class Run:
    def __init__(
        self, config: RoutingConfig, profiles: list[AgentProfile], checks: frozenset[str]
    ) -> None:
        self.checks = checks
        self.engine = Engine(config)
        for p in profiles:
            self.engine.add_agent(p)
        self.queues = {q.id: q for q in config.queues}
        self.profiles = {p.id: p for p in profiles}
        self.agent_ids = [p.id for p in profiles]
        self.reported: dict[str, tuple[str, str, str | None]] = {
            p.id: ("offline", "offline", None) for p in profiles
        }
        self.queue_ids = sorted(self.queues)
        self.skills = {p.id: dict(p.skills) for p in profiles}
        self.capacity = {
            p.id: {ch.value: n for ch, n in p.capacity.items() if n > 0} for p in profiles
        }
        self.slots: dict[str, dict[str, str]] = {p.id: {} for p in profiles}
        self.contacts: dict[str, MContact] = {}
        self.fold = StatsFold(config.queues)
        self.now = 0.0
        self.pending: list[tuple[float, int, TimerId]] = []
        self._seq = 0
        self._order = 0
        self.log: list[str] = []
        self.seen_types: set[str] = set()

    # --------------------------------------------------------------- driving

    def _engine_call(self, op: Op) -> Any:
        e, now = self.engine, self.now
        kind = op[0]
        if kind == "arrive":
            _, cid, qid, priority, extra = op
            return e.arrive(ContactSpec(id=cid, queue_id=qid, priority=priority, skills=extra), now)
        if kind == "timer":
            return e.timer(op[1], now)
        if kind == "add_agent":
            profile = self.profiles[op[1]].model_copy(update={"skills": dict(op[2])})
            e.add_agent(profile)
            return Outcome()
        if kind == "logout":
            return e.logout(op[1], now, force=op[2])
        if kind == "complete_wrapup":
            return e.complete_wrapup(op[1], op[2], now, disposition=op[3])
        if kind == "hangup":
            return e.hangup(op[1], now)
        if kind in ("set_status", "set_skills"):
            return getattr(e, kind)(op[1], op[2], now)
        if kind in ("transfer_to_queue", "transfer_to_agent", "consult"):
            return getattr(e, kind)(op[1], op[2], op[3], now)
        return getattr(e, kind)(op[1], op[2], now)  # accept reject hold resume end

    def do(self, op: Op, may_fail: bool = False) -> bool:
        """Carry out one input; returns False if the engine refused it."""
        self.log.append(f"t={self.now:g} {op}")
        if op[0] == "arrive":
            _, cid, qid, _, extra = op
            q = self.queues[qid]
            self.contacts[cid] = MContact(cid, qid, q.channel.value, dict(extra))
        # Inputs chosen as legal from the model must simply work; for the others, a
        # refusal must leave every visible trace of the engine as it was.
        before = fingerprint(self.engine, self.now) if may_fail else None
        try:
            out = self._engine_call(op)
        except E.RoutingError as exc:
            if op[0] == "arrive":
                del self.contacts[op[1]]
            if before is not None and fingerprint(self.engine, self.now) != before:
                self.fail(f"{op} was refused ({exc!r}) but changed the engine")
            self.engine.check_invariants()
            if not may_fail:
                raise Violation(f"legal input {op} refused: {exc!r}\n" + self.history()) from exc
            return False
        if op[0] in ("set_skills", "add_agent"):
            self.skills[op[1]] = dict(op[2])
        self.apply(out, op)
        return True

    def advance(self, to: float) -> None:
        assert to >= self.now
        while self.pending and self.pending[0][0] <= to:
            self.fire_next()
        self.now = to

    def fire_next(self) -> None:
        at, _, timer = self.pending.pop(0)
        self.now = max(self.now, at)
        self.do(("timer", timer))

    def history(self) -> str:
        return "\n".join(self.log[-40:])

    def fail(self, message: str) -> None:
        raise Violation(message + "\n--- recent inputs:\n" + self.history())

    # --------------------------------------------------------------- reading an outcome

    def apply(self, out: Any, op: Op) -> None:
        answered_with_timer: list[tuple[str, TimerId | None]] = []
        for ev in out.events:
            if ev.ts != self.now:
                self.fail(f"{ev.type} stamped {ev.ts}, but the input came at {self.now}")
            self.fold.apply(ev)
            self.seen_types.add(ev.type)
            self._event(ev, op, answered_with_timer)
        offered = [
            (e.contact_id, e.agent_id, e.expires_at)
            for e in out.events
            if isinstance(e, ContactOffered)
        ]
        commanded = [(o.contact_id, o.agent_id, o.expires_at) for o in out.offers()]
        if offered != commanded:
            self.fail(f"Offer commands {commanded} do not match contact.offered {offered}")
        rescinded = sorted(
            (e.contact_id, e.agent_id) for e in out.events if isinstance(e, OfferRescinded)
        )
        rescind_cmds = sorted(
            (c.contact_id, c.agent_id) for c in out.commands if isinstance(c, RescindOffer)
        )
        if rescinded != rescind_cmds:
            self.fail(f"RescindOffer {rescind_cmds} vs offer.rescinded {rescinded}")
        flowed = [
            e.contact_id
            for e in out.events
            if isinstance(e, ContactFlowedOut) and e.reason != "overflow"
        ]
        if flowed != [c.contact_id for c in out.commands if isinstance(c, FlowOut)]:
            self.fail(f"FlowOut commands do not match flowed-out events {flowed}")
        for cmd in out.commands:
            if isinstance(cmd, StartTimer):
                self._seq += 1
                self.pending.append((cmd.at, self._seq, cmd.timer))
                if cmd.timer[0] == "offer" and cmd.timer[1] in self.contacts:
                    self.contacts[cmd.timer[1]].offer_timer = cmd.timer
                if cmd.at < self.now - 1e-9:
                    self.fail(f"timer {cmd.timer} scheduled in the past ({cmd.at} < {self.now})")
            elif isinstance(cmd, CancelTimer):
                self.pending = [p for p in self.pending if p[2] != cmd.timer]
        self.pending.sort()
        if "timers" in self.checks:
            cancelled = {c.timer for c in out.commands if isinstance(c, CancelTimer)}
            for cid, timer in answered_with_timer:
                if timer is not None and timer not in cancelled:
                    self.fail(f"answering {cid} did not cancel its offer timer {timer}")
        self._check_after(op)

    def _event(self, ev: Event, op: Op, answered: list[tuple[str, TimerId | None]]) -> None:
        if isinstance(ev, AgentStateChanged):
            assert ev.agent_id is not None
            if (ev.prev_status, ev.prev_activity) != self.reported[ev.agent_id][:2]:
                self.fail(
                    f"{ev.agent_id} changed from {ev.prev_status}/{ev.prev_activity}, "
                    f"but was last reported {self.reported[ev.agent_id]}"
                )
            self.reported[ev.agent_id] = (ev.status, ev.activity, ev.next_status)
            return
        cid = ev.contact_id
        m = self.contacts.get(cid or "")
        if m is None:
            self.fail(f"event {ev} for a contact that never arrived")
            return
        late = isinstance(ev, ConferenceLeft) and ev.remaining is None
        if m.terminal and not isinstance(ev, WrapUpCompleted) and not late:
            self.fail(f"{ev.type} for {cid} after it ended as {m.terminal}")
        agent = ev.agent_id
        if isinstance(ev, ContactQueued):
            if m.holder is not None:
                # only a forced logout takes a contact out of an agent's hands into a queue
                if not (op[0] == "logout" and op[2] and op[1] == m.holder):
                    self.fail(f"{cid} requeued out of {m.holder}'s hands by {op}")
                del self.slots[m.holder][cid]
                m.holder = None
                m.hold_since, m.hold_s = None, 0.0
            elif m.state not in ("new", "transit"):
                self.fail(f"{cid} queued afresh while {m.state}")
            if ev.channel != m.channel:
                self.fail(f"{cid} changed channel")
            self._order += 1
            m.state, m.queue, m.priority = "queued", ev.queue_id or "", ev.priority
            m.enq, m.order, m.step, m.direct = ev.enqueued_at, self._order, ev.step, False
        elif isinstance(ev, ContactStepChanged):
            if m.state not in ("queued", "offered"):
                self.fail(f"{cid} changed step ({ev.reason}) while {m.state}")
            m.step, m.priority = ev.step, ev.priority
        elif isinstance(ev, ContactOffered):
            assert agent is not None
            direct = m.state == "transit" and m.direct
            if not (m.state == "queued" or direct):
                self.fail(f"{cid} offered while {m.state}")
            if direct and agent != m.direct_target:
                self.fail(f"{cid} transferred to {m.direct_target} but offered to {agent}")
            if m.holder is not None:
                self.fail(f"{cid} offered to {agent} while held by {m.holder}")
            if cid in self.slots[agent]:
                self.fail(f"{cid} offered to {agent}, who still has it ({self.slots[agent][cid]})")
            if not direct and "fcfs" in self.checks:
                self._check_fcfs(m, agent)
            self.slots[agent][m.id] = "offered"
            m.holder, m.state, m.offer_expires = agent, "offered", ev.expires_at
            self._check_capacity(agent)
        elif isinstance(ev, OfferRejected | OfferTimedOut | OfferRescinded):
            if m.state != "offered" or m.holder != agent:
                self.fail(f"{ev.type} for {cid} by {agent}, but it is {m.state} with {m.holder}")
            if (
                isinstance(ev, OfferTimedOut)
                and "timers" in self.checks
                and self.now < m.offer_expires - 1e-9
            ):
                self.fail(
                    f"offer of {cid} to {agent} timed out at {self.now}, "
                    f"before its expiry {m.offer_expires}"
                )
            assert agent is not None
            del self.slots[agent][m.id]
            m.holder = None
            m.state = "transit" if m.direct else "queued"
        elif isinstance(ev, ContactAnswered) and m.consult_with is not None:
            # A completed consult: the transfer just recorded A's leg; B has it now.
            if m.state != "transit" or m.consult_with != agent or not m.consult_accepted:
                self.fail(f"{cid} answered by {agent} after consult with {m.consult_with}")
            if ev.in_queue:
                self.fail(f"{cid} answered in queue after a consult")
            assert agent is not None
            self.slots[agent][m.id] = "connected"
            m.holder, m.state, m.consult_with, m.direct = agent, "connected", None, False
            m.answered_at, m.hold_since, m.hold_s = ev.ts, None, 0.0
        elif isinstance(ev, ConsultStarted):
            if m.state != "held" or m.holder != agent or m.consult_with or m.conference_with:
                self.fail(f"consult on {cid} by {agent} while {m.state} with {m.holder}")
            if self.slots[ev.to_agent].get(m.id) is not None:
                self.fail(f"consult on {cid} to {ev.to_agent}, who already has it")
            assert agent is not None
            self.slots[agent][m.id] = "consult_hold"
            self.slots[ev.to_agent][m.id] = "consult_offered"
            m.consult_with, m.consult_accepted = ev.to_agent, False
            self._check_capacity(ev.to_agent)
        elif isinstance(ev, ConsultAccepted):
            if m.consult_with != agent or m.consult_accepted or m.holder != ev.from_agent:
                self.fail(f"consult on {cid} accepted by {agent}; it was for {m.consult_with}")
            assert agent is not None
            self.slots[agent][m.id] = "consulting"
            m.consult_accepted = True
        elif isinstance(ev, ConsultRejected | ConsultCancelled):
            other = ev.agent_id if isinstance(ev, ConsultRejected) else ev.to_agent
            first = ev.from_agent if isinstance(ev, ConsultRejected) else ev.agent_id
            if m.consult_with != other or m.holder != first or other is None or first is None:
                self.fail(f"{ev.type} on {cid} ({first}->{other}); open: {m.consult_with}")
            assert other is not None and first is not None
            del self.slots[other][m.id]
            self.slots[first][m.id] = "held"
            m.consult_with = None
        elif isinstance(ev, ConferenceStarted):
            if m.consult_with != ev.with_agent or not m.consult_accepted or m.holder != agent:
                self.fail(f"conference on {cid} by {agent} with {ev.with_agent}")
            assert agent is not None and m.hold_since is not None
            if abs(ev.hold_s - (ev.ts - m.hold_since)) > 1e-6:
                self.fail(f"{cid} conferenced after {ev.ts - m.hold_since} s hold, {ev.hold_s}")
            m.hold_s += ev.ts - m.hold_since
            m.hold_since = None
            self.slots[agent][m.id] = self.slots[ev.with_agent][m.id] = "conferenced"
            m.state, m.consult_with, m.conference_with = "connected", None, ev.with_agent
        elif isinstance(ev, ConferenceLeft):
            assert agent is not None
            if self.slots[agent].get(m.id) != "conferenced" and not late:
                self.fail(f"{agent} left the conference on {cid} without being in it")
            if late:
                if m.state != "ended" or self.slots[agent].get(m.id) != "conferenced":
                    self.fail(f"{agent} left {cid} as the caller hung up, but it is {m.state}")
            else:
                if ev.remaining is None or self.slots[ev.remaining].get(m.id) != "conferenced":
                    self.fail(f"{agent} left {cid} to {ev.remaining}, not in the conference")
                assert ev.remaining is not None
                self.slots[ev.remaining][m.id] = "connected"
                m.holder = ev.remaining
            self.slots[agent][m.id] = "wrap"
            m.conference_with = None
        elif isinstance(ev, ContactAnswered):
            if m.state != "offered" or m.holder != agent:
                self.fail(f"{cid} answered by {agent} but it is {m.state} with {m.holder}")
            if "stats" in self.checks and ev.in_queue != (not m.direct):
                self.fail(f"{cid} answered with in_queue={ev.in_queue}; direct={m.direct}")
            assert agent is not None
            self.slots[agent][m.id] = "connected"
            m.state = "connected"
            m.answered_at, m.hold_since, m.hold_s = ev.ts, None, 0.0
            answered.append((m.id, m.offer_timer))
        elif isinstance(ev, ContactHeld | ContactResumed):
            want, new = (
                ("connected", "held") if isinstance(ev, ContactHeld) else ("held", "connected")
            )
            if m.state != want or m.holder != agent:
                self.fail(f"{ev.type} for {cid} while {m.state} with {m.holder}")
            assert agent is not None
            self.slots[agent][m.id] = new
            m.state = new
            if isinstance(ev, ContactHeld):
                m.hold_since = ev.ts
            else:
                assert m.hold_since is not None
                m.hold_s += ev.ts - m.hold_since
                if abs(ev.hold_s - (ev.ts - m.hold_since)) > 1e-6:
                    self.fail(
                        f"{cid} resumed after {ev.ts - m.hold_since} s on hold, "
                        f"reported {ev.hold_s}"
                    )
                m.hold_since = None
        elif isinstance(ev, ContactTransferred | ContactEnded):
            if m.state not in ("connected", "held") or m.holder != agent:
                self.fail(f"{ev.type} for {cid} by {agent}, but it is {m.state} with {m.holder}")
            assert agent is not None
            if m.consult_with is not None and not (
                isinstance(ev, ContactTransferred) and ev.to_agent == m.consult_with
            ):
                self.fail(f"{ev.type} of {cid} during the consult with {m.consult_with}")
            self.slots[agent][m.id] = "wrap"
            m.holder = None
            self._check_handling(m, ev)
            if isinstance(ev, ContactEnded):
                m.state = "ended"
                m.terminal.append("ended")
            else:
                m.state = "transit"
                m.direct = ev.to_agent is not None
                m.direct_target = ev.to_agent
        elif isinstance(ev, ContactAbandoned):
            if not (m.state == "queued" or (m.state == "transit" and m.direct)) or m.holder:
                self.fail(f"{cid} abandoned while {m.state} with {m.holder}")
            m.state = "abandoned"
            m.terminal.append("abandoned")
        elif isinstance(ev, ContactFlowedOut):
            if m.state != "queued" or m.holder:
                self.fail(f"{cid} flowed out while {m.state}")
            if ev.reason == "overflow":
                m.state = "transit"
            else:
                m.state = "flowed_out"
                m.terminal.append("flowed_out")
        elif isinstance(ev, WrapUpCompleted):
            if self.slots.get(agent or "", {}).get(m.id) != "wrap":
                self.fail(f"wrap-up of {cid} completed by {agent}, who was not wrapping it up")
            assert agent is not None
            del self.slots[agent][m.id]

    # --------------------------------------------------------------- the properties

    def _check_handling(self, m: MContact, ev: ContactEnded | ContactTransferred) -> None:
        """Talk and hold of one agent's part: both >= 0, and they add up to its time."""
        hold = m.hold_s + (ev.ts - m.hold_since if m.hold_since is not None else 0.0)
        talk = ev.ts - m.answered_at - hold
        if ev.talk_s < -1e-6 or ev.hold_s < -1e-6:
            self.fail(f"{ev.type} of {m.id}: negative time (talk {ev.talk_s}, hold {ev.hold_s})")
        if abs(ev.hold_s - hold) > 1e-6 or abs(ev.talk_s - talk) > 1e-6:
            self.fail(
                f"{ev.type} of {m.id}: talk {ev.talk_s}/hold {ev.hold_s}, "
                f"but the events give talk {talk}/hold {hold}"
            )
        m.hold_since, m.hold_s = None, 0.0

    def _requirements(self, m: MContact) -> list[dict[str, int]]:
        q = self.queues[m.queue]
        step = next((s for s in q.steps if s.name == m.step), None)
        if q.steps and step is None:
            self.fail(f"{m.id} is in unknown step {m.step!r}")
        base = dict(step.skills) if step is not None and step.skills is not None else dict(q.skills)
        own = _merge(base, m.extra)
        if step is not None and step.min_proficiency_delta:
            own = {k: max(1, v + step.min_proficiency_delta) for k, v in own.items()}
        reqs = [own]
        if step is not None:
            reqs += [_merge(dict(self.queues[f].skills), m.extra) for f in step.fallback_queues]
        return reqs

    def _qualifies(self, agent: str, m: MContact) -> bool:
        if self.capacity[agent].get(m.channel, 0) <= 0:
            return False
        skills = self.skills[agent]
        return any(
            all(skills.get(k, 0) >= v for k, v in req.items()) for req in self._requirements(m)
        )

    def _check_fcfs(self, c: MContact, agent: str) -> None:
        if not self._qualifies(agent, c):
            self.fail(f"{c.id} offered to {agent}, who does not qualify for it")
        free = not self.slots[agent]
        mine = (c.priority, -c.enq, -c.order)
        for w in self.contacts.values():
            if w is c or w.state != "queued":
                continue
            if w.id in self.slots[agent]:
                continue  # it still wraps this one up (transferred back to a queue): not for it
            if w.channel != c.channel and not (free and self.capacity[agent].get(w.channel)):
                continue
            if not self._qualifies(agent, w):
                continue
            if (w.priority, -w.enq, -w.order) > mine:
                self.fail(
                    f"FCFS: {c.id} (prio {c.priority}, entered {c.enq}) offered to {agent} "
                    f"while {w.id} (prio {w.priority}, entered {w.enq}) waits and qualifies"
                )

    def _check_capacity(self, agent: str) -> None:
        used: dict[str, int] = {}
        for cid in self.slots[agent]:
            ch = self.contacts[cid].channel
            used[ch] = used.get(ch, 0) + 1
        for ch, n in used.items():
            if n > self.capacity[agent].get(ch, 0):
                self.fail(f"{agent} has {n} {ch} contacts, capacity {self.capacity[agent]}")

    def _check_after(self, op: Op) -> None:
        self.engine.check_invariants()
        holders: dict[str, str] = {}
        for agent, slots in self.slots.items():
            self._check_capacity(agent)
            shown = self.engine.agent(agent).contacts
            expected = {cid: SLOT_NAMES[k] for cid, k in slots.items()}
            if shown != expected:
                self.fail(f"{agent} holds {shown} in the engine, {expected} by the events")
            for cid, kind in slots.items():
                if kind != "wrap" and kind not in SIDE_SLOTS:
                    if cid in holders:
                        self.fail(f"{cid} is with {holders[cid]} and {agent} at once")
                    holders[cid] = agent
        for agent in self.agent_ids:
            snap = self.engine.agent(agent)
            status, activity, next_status = self.reported[agent]
            if (snap.status, snap.activity, snap.next_status) != self.reported[agent]:
                self.fail(
                    f"{agent} is {snap} but its last agent.state_changed said "
                    f"{self.reported[agent]}"
                )
            if self.slots[agent]:
                continue
            if next_status is not None:
                self.fail(f"{agent} holds nothing but keeps a pending status {next_status!r}")
            if status == "available" and activity == "idle":
                # work conservation: an idle available agent leaves nothing it could take
                for w in self.contacts.values():
                    if w.state == "queued" and self._qualifies(agent, w):
                        self.fail(f"{agent} is available and idle while {w.id} waits for it")
        for m in self.contacts.values():
            if m.state in ("new", "transit"):
                self.fail(f"{m.id} left in limbo ({m.state}) after {op}")
            if len(m.terminal) > 1:
                self.fail(f"{m.id} ended more than once: {m.terminal}")
            if m.state in LIVE:
                snap = self.engine.contact(m.id)
                if (snap.state, snap.agent_id) != (m.state, m.holder):
                    self.fail(
                        f"{m.id} is {snap.state}/{snap.agent_id} in the engine, "
                        f"{m.state}/{m.holder} by the events"
                    )
        if "stats" in self.checks:
            for qid, c in self.fold.totals.items():
                waiting = len(self.fold.waiting.get(qid, {}))
                if c.offered != c.answered + c.abandoned + c.flowed_out + waiting:
                    self.fail(
                        f"queue {qid}: offered {c.offered} != answered {c.answered} + "
                        f"abandoned {c.abandoned} + flowed out {c.flowed_out} + waiting {waiting}"
                    )

    # --------------------------------------------------------------- draining

    def drain(self) -> None:
        for _ in range(300):
            live = sorted(cid for cid, m in self.contacts.items() if m.state in LIVE)
            for cid in live:
                if self.contacts[cid].state in LIVE:
                    self.do(("hangup", cid))
            wraps = sorted(
                (a, cid) for a, s in self.slots.items() for cid, k in s.items() if k == "wrap"
            )
            for agent, cid in wraps:
                self.do(("complete_wrapup", agent, cid, DISPOSITIONS[0]))
            while self.pending:
                self.fire_next()
            if not live and not wraps:
                break
        else:
            self.fail("draining did not finish")
        if self.engine.contacts():
            self.fail(f"contacts left in the engine after draining: {self.engine.contacts()}")
        for m in self.contacts.values():
            if len(m.terminal) != 1:
                self.fail(f"{m.id} ended {len(m.terminal)} times after draining: {m.terminal}")
        for agent in self.agent_ids:
            if self.engine.agent(agent).contacts:
                self.fail(f"{agent} still holds contacts after draining")


# ------------------------------------------------------------------------- operations
#
# Hypothesis draws the configuration and a list of integer seeds, one per operation. Each
# seed picks an operation that makes sense in the current state (and its arguments) through
# a ``random.Random`` seeded with it: one draw per operation keeps generation fast, and
# shrinking the seed list still shortens a failing run.


def _random_ops(run: Run, seeds: list[int]) -> None:
    consult_ops = "consult" in run.checks
    for i, seed in enumerate(seeds):
        r = Random(seed * 1_000_003 + i)
        if r.random() < 0.15 and run.pending:
            run.fire_next()
            continue
        run.advance(run.now + r.choice((0.0, 0.0, 0.0, 0.5, 1.0, 3.0, 20.0)))
        m = run.contacts
        offered = sorted((x.holder, x.id) for x in m.values() if x.state == "offered")
        plain = [x for x in m.values() if not x.consult_with and not x.conference_with]
        connected = sorted((x.holder, x.id) for x in plain if x.state == "connected")
        held = sorted((x.holder, x.id) for x in plain if x.state == "held")
        consults = [x for x in m.values() if x.consult_with]
        asked = sorted((x.consult_with, x.id) for x in consults if not x.consult_accepted)
        consulting = sorted((x.holder, x.id) for x in consults)
        answered = sorted((x.holder, x.id) for x in consults if x.consult_accepted)
        conferences = [x for x in m.values() if x.conference_with]
        in_conf = sorted((a, x.id) for x in conferences for a in (x.holder, x.conference_with))
        wraps = sorted((a, c) for a, s in run.slots.items() for c, k in s.items() if k == "wrap")
        live = sorted(x.id for x in m.values() if x.state in LIVE)
        # (weight, what to do): inputs on contacts only when there is such a contact
        choices: list[tuple[int, Callable[..., None], tuple[Any, ...]]] = [(5, _arrive, ())]
        for kind, pool, weight in (
            ("accept", offered, 12),
            ("reject", offered, 2),
            ("hold", connected, 2),
            ("resume", held, 3),
            ("end", connected + held, 4),
            ("transfer_to_queue", connected + held, 3),
            ("transfer_to_agent", connected + held, 3),
            ("complete_wrapup", wraps, 3),
            ("hangup", live, 2),
            # Consult inputs only in the consult properties, so that the sessions of the
            # other properties stay the ones they always were.
            ("consult", connected + held if consult_ops else [], 3),
            ("accept_consult", asked, 4),
            ("reject_consult", asked, 1),
            ("cancel_consult", consulting, 1),
            ("complete_consult", answered, 2),
            ("conference", answered, 2),
            ("leave_conference", in_conf, 2),
        ):
            if pool:
                choices.append((weight, _pick, (kind, pool)))
        choices += [
            (1, _reregister, ()),
            (2, _status, ()),
            (1, _logout, ()),
            (1, _skills, ()),
            (1, _stray, ()),
        ]
        _, action, args = r.choices(choices, [c[0] for c in choices])[0]
        action(run, r, *args)


def _arrive(run: Run, r: Random) -> None:
    extra = {r.choice(SKILLS): r.randint(1, 3)} if r.random() < 0.3 else {}
    qid = r.choice(run.queue_ids)
    priority = r.choice((None, None, 0, 1, 2))
    run.do(("arrive", f"c{len(run.contacts) + 1}", qid, priority, extra))


def _pick(run: Run, r: Random, kind: str, pool: list[Any]) -> None:
    item = r.choice(pool)
    if kind == "hangup":
        run.do(("hangup", item))
        return
    agent, cid = item
    if kind == "transfer_to_queue":
        run.do((kind, agent, cid, r.choice(run.queue_ids)))
    elif kind == "consult":
        free = [a for a in run.agent_ids if run.reported[a][:2] == ("available", "idle")]
        target = r.choice(free) if free and r.random() < 0.8 else r.choice(run.agent_ids)
        run.do((kind, agent, cid, target), may_fail=True)
    elif kind == "accept_consult":
        # It may have expired in the model's eyes: the engine refuses a late answer.
        run.do((kind, agent, cid), may_fail=True)
    elif kind == "transfer_to_agent":
        free = [a for a in run.agent_ids if run.reported[a][:2] == ("available", "idle")]
        target = r.choice(free) if free and r.random() < 0.8 else r.choice(run.agent_ids)
        run.do((kind, agent, cid, target), may_fail=True)
    elif kind == "complete_wrapup":
        run.do((kind, agent, cid, r.choice(DISPOSITIONS)))
    else:
        run.do((kind, agent, cid))


def _some_agent(run: Run, r: Random) -> str:
    """Any agent, but more often one with contacts in hand (where statuses get subtle)."""
    busy = [a for a in run.agent_ids if run.slots[a]]
    return r.choice(busy) if busy and r.random() < 0.6 else r.choice(run.agent_ids)


def _status(run: Run, r: Random) -> None:
    run.do(("set_status", _some_agent(run, r), r.choice(STATUSES)), may_fail=True)


def _logout(run: Run, r: Random) -> None:
    run.do(("logout", _some_agent(run, r), r.random() < 0.5), may_fail=True)


def _skills(run: Run, r: Random) -> None:
    skills = {s: r.randint(1, 10) for s in SKILLS if r.random() < 0.5}
    run.do(("set_skills", r.choice(run.agent_ids), skills))


def _reregister(run: Run, r: Random) -> None:
    """The administrator saves an agent's profile again: unchanged while the agent is
    logged in (skill changes at work go through set_skills, which can route), with new
    skills while it is logged out."""
    agent = r.choice(run.agent_ids)
    skills = dict(run.skills[agent])
    if run.reported[agent][0] == "offline" and not run.slots[agent]:
        skills = {s: r.randint(1, 10) for s in SKILLS if r.random() < 0.5}
    run.do(("add_agent", agent, skills))


def _stray(run: Run, r: Random) -> None:
    """Any agent tries any input on any contact: legal or not, the engine must cope."""
    agent = r.choice(run.agent_ids)
    cid = r.choice([*sorted(run.contacts), "ghost"])
    kinds = ["accept", "reject", "hold", "resume", "end", "complete_wrapup", "hangup"]
    if "consult" in run.checks:
        kinds += [
            "accept_consult",
            "reject_consult",
            "cancel_consult",
            "complete_consult",
            "conference",
            "leave_conference",
        ]
    kind = r.choice(kinds)
    if kind == "complete_wrapup":
        run.do((kind, agent, cid, DISPOSITIONS[1]), may_fail=True)
    elif kind == "hangup":
        run.do((kind, cid), may_fail=True)
    else:
        run.do((kind, agent, cid), may_fail=True)


sessions = st.tuples(
    st.lists(st.sampled_from([True, True, True, False]), min_size=8, max_size=8),
    st.lists(st.integers(0, 2**32 - 1), min_size=15, max_size=60),
)


def _session(
    config: RoutingConfig,
    profiles: list[AgentProfile],
    session: Session,
    checks: frozenset[str],
    drain: bool = False,
) -> Run:
    logins, seeds = session
    run = Run(config, profiles, checks)
    for agent, login in zip(run.agent_ids, logins, strict=False):
        if login:
            run.do(("set_status", agent, "available"))
    _random_ops(run, seeds)
    if drain:
        run.drain()
    return run


# ------------------------------------------------------------------------- the tests


@PROPERTY_SETTINGS
@given(config=routing_configs(), profiles=agent_profiles(), session=sessions)
def test_invariants_capacity_and_single_holder(
    config: RoutingConfig, profiles: list[AgentProfile], session: Session
) -> None:
    """check_invariants after every step; never two holders; capacity; refusals harmless."""
    _session(config, profiles, session, frozenset())


@PROPERTY_SETTINGS
@given(config=routing_configs(), profiles=agent_profiles(), session=sessions)
def test_fcfs_within_priority(
    config: RoutingConfig, profiles: list[AgentProfile], session: Session
) -> None:
    _session(config, profiles, session, frozenset({"fcfs"}))


@PROPERTY_SETTINGS
@given(config=routing_configs(), profiles=agent_profiles(), session=sessions)
def test_every_contact_ends_exactly_once(
    config: RoutingConfig, profiles: list[AgentProfile], session: Session
) -> None:
    _session(config, profiles, session, frozenset(), drain=True)


@PROPERTY_SETTINGS
@given(config=routing_configs(), profiles=agent_profiles(), session=sessions)
def test_statistics_fold_balances_per_queue(
    config: RoutingConfig, profiles: list[AgentProfile], session: Session
) -> None:
    run = _session(config, profiles, session, frozenset({"stats"}), drain=True)
    for qid, waiting in run.fold.waiting.items():
        assert not waiting, f"queue {qid} still shows {sorted(waiting)} waiting after draining"
    arrived = len(run.contacts)
    totals = run.fold.totals.values()
    assert sum(c.offered for c in totals) >= arrived


@PROPERTY_SETTINGS
@given(config=routing_configs(), profiles=agent_profiles(), session=sessions)
def test_offer_timers(
    config: RoutingConfig, profiles: list[AgentProfile], session: Session
) -> None:
    """No offer times out before its expiry; an answer cancels its offer's timer."""
    _session(config, profiles, session, frozenset({"timers"}))


@PROPERTY_SETTINGS
@given(config=routing_configs(), profiles=agent_profiles(), session=sessions)
def test_consult_and_conference_keep_the_invariants(
    config: RoutingConfig, profiles: list[AgentProfile], session: Session
) -> None:
    """Random consult / accept / reject / cancel / complete / conference / leave inputs
    mixed into the usual ones: check_invariants, single owner and capacity (the consulted
    agent's slot counts) after every step, stray consult inputs refused harmlessly, FCFS
    within priority, offer timers, and after draining every contact ended exactly once with
    the fold balanced."""
    checks = frozenset({"consult", "timers", "stats", "fcfs"})
    run = _session(config, profiles, session, checks, True)
    for qid, waiting in run.fold.waiting.items():
        assert not waiting, f"queue {qid} still shows {sorted(waiting)} waiting after draining"


def test_consult_sessions_reach_every_consult_event() -> None:
    """Not a property: the consult sessions must actually exercise every consult path, or
    the property above proves little. Fixed seeds over a plain voice set-up."""
    config = RoutingConfig(
        queues=(
            QueueConfig(id="q0", skills={"s0": 1}, offer_timeout_s=15.0),
            QueueConfig(id="q1", skills={"s0": 1}, wrap_up=WrapUpPolicy(mode="none")),
        )
    )
    profiles = [AgentProfile(id=f"a{i}", skills={"s0": 5}) for i in range(5)]
    seen: set[str] = set()
    for n in range(40):
        rng = Random(n)
        session = ([True] * 8, [rng.getrandbits(32) for _ in range(60)])
        run = _session(config, profiles, session, frozenset({"consult"}), drain=True)
        seen |= run.seen_types
    wanted = {
        "consult.started",
        "consult.accepted",
        "consult.rejected",
        "consult.cancelled",
        "conference.started",
        "conference.left",
    }
    assert wanted <= seen, wanted - seen
