"""The ACD engine: which waiting contact goes to which agent, and when.

Sans-I/O: every method takes ``now`` (seconds, any epoch) and returns an ``Outcome`` of
domain events and driver commands. Nothing here sleeps, awaits or reads a clock; timers
are commands the driver schedules and feeds back through ``timer()``.

How a decision stays cheap: waiting contacts live in *routing groups* (queue, routing step,
extra skills). Each group keeps a heap of its waiting contacts in FCFS-within-priority
order and an ordered pool of the routable agents that qualify for it. A new contact takes
the front of its group's pool; an agent who frees up compares only the heads of the groups
it qualifies for. Neither direction scans all agents or all contacts.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from routing import errors
from routing.events import (
    Command,
    ConferenceLeft,
    ConferenceStarted,
    ConsultAccepted,
    ConsultCancelled,
    ConsultRejected,
    ConsultStarted,
    ContactFlowedOut,
    ContactHeld,
    ContactOriginated,
    ContactResumed,
    ContactStepChanged,
    ContactTransferred,
    Event,
    FlowOut,
    Offer,
    OfferRejected,
    OfferRescinded,
    OfferTimedOut,
    RescindOffer,
    TimerId,
    new_agent_state_changed,
    new_cancel_timer,
    new_contact_abandoned,
    new_contact_answered,
    new_contact_ended,
    new_contact_offered,
    new_contact_queued,
    new_offer,
    new_start_timer,
    new_wrapup_completed,
)
from routing.expressions import AttrView, Predicate, SkillView, compile_expression
from routing.model import (
    AVAILABLE,
    OFFLINE,
    Activity,
    AgentProfile,
    Channel,
    ContactSpec,
    ContactState,
    Direction,
    QueueConfig,
    RoutingConfig,
    RoutingStep,
    WrapUpPolicy,
)
from routing.pools import AgentPool, FifoPool, Pool, TierKey
from routing.transitions import (
    CONTACT_ENTRIES,
    CONTACT_TRANSITIONS,
    SLOT_ENTRIES,
    SLOT_TRANSITIONS,
    ContactInput,
    Entry,
    SlotInput,
    SlotState,
    slot_next,
)

Requirement = tuple[tuple[str, int], ...]

# The tables themselves rather than their lookup functions: one call less per input.
_CONTACT_TRANSITIONS = CONTACT_TRANSITIONS
_SLOT_TRANSITIONS = SLOT_TRANSITIONS

# Enum members as module constants: attribute access on an Enum class goes through a
# descriptor, which is measurable on the hot path.
_QUEUED = ContactState.QUEUED
_OFFERED = ContactState.OFFERED
_S_OFFERED = SlotState.OFFERED
_S_CONNECTED = SlotState.CONNECTED
_S_HELD = SlotState.HELD
_S_WRAP_UP = SlotState.WRAP_UP
_ENDED = ContactState.ENDED
_INBOUND = Direction.INBOUND
_CONTACT_TIMERS = ("offer", "step", "maxwait", "starve")
_A_IDLE = Activity.IDLE
_A_OFFERED = Activity.OFFERED
_A_ON_CONTACT = Activity.ON_CONTACT
_A_NOT_RESPONDING = Activity.NOT_RESPONDING
_A_OFFLINE = Activity.OFFLINE
_CI_ABANDON = ContactInput.ABANDON
_CI_ACCEPT = ContactInput.ACCEPT
_CI_END = ContactInput.END
_CI_FLOW_OUT = ContactInput.FLOW_OUT
_CI_HOLD = ContactInput.HOLD
_CI_OFFER = ContactInput.OFFER
_CI_OFFER_TIMEOUT = ContactInput.OFFER_TIMEOUT
_CI_REJECT = ContactInput.REJECT
_CI_REQUEUE = ContactInput.REQUEUE
_CI_RESCIND = ContactInput.RESCIND
_CI_RESUME = ContactInput.RESUME
_CI_TRANSFER_TO_AGENT = ContactInput.TRANSFER_TO_AGENT
_CI_TRANSFER_TO_QUEUE = ContactInput.TRANSFER_TO_QUEUE
_SI_ACCEPT = SlotInput.ACCEPT
_SI_COMPLETE_WRAPUP = SlotInput.COMPLETE_WRAPUP
_SI_END = SlotInput.END
_SI_HOLD = SlotInput.HOLD
_SI_OFFER_TIMEOUT = SlotInput.OFFER_TIMEOUT
_SI_REJECT = SlotInput.REJECT
_SI_RESCIND = SlotInput.RESCIND
_SI_RESUME = SlotInput.RESUME
_SI_TRANSFER = SlotInput.TRANSFER
_SI_CONSULT = SlotInput.CONSULT
_SI_CONSULT_ACCEPT = SlotInput.CONSULT_ACCEPT
_SI_CONSULT_REJECT = SlotInput.CONSULT_REJECT
_SI_CONSULT_TIMEOUT = SlotInput.CONSULT_TIMEOUT
_SI_CONSULT_CANCEL = SlotInput.CONSULT_CANCEL
_SI_CONSULT_COMPLETE = SlotInput.CONSULT_COMPLETE
_SI_CONFERENCE = SlotInput.CONFERENCE
_SI_LEAVE_CONFERENCE = SlotInput.LEAVE_CONFERENCE
_SI_KEEP_CONFERENCE = SlotInput.KEEP_CONFERENCE
_S_ACCEPTED = SLOT_TRANSITIONS[(SlotState.OFFERED, SlotInput.ACCEPT)]
_SLOT_ACTIVITY = {
    SlotState.OFFERED: Activity.OFFERED,
    SlotState.CONNECTED: Activity.ON_CONTACT,
    SlotState.HELD: Activity.ON_HOLD,
    SlotState.WRAP_UP: Activity.WRAP_UP,
    SlotState.CONSULT_OFFERED: Activity.OFFERED,
    SlotState.CONSULTING: Activity.ON_CONTACT,
    SlotState.CONFERENCED: Activity.ON_CONTACT,
    SlotState.CONSULT_HOLD: Activity.ON_HOLD,
}
_ACTIVITY_RANK = {
    SlotState.OFFERED: (0, Activity.OFFERED),
    SlotState.CONSULT_OFFERED: (0, Activity.OFFERED),
    SlotState.CONNECTED: (1, Activity.ON_CONTACT),
    SlotState.CONSULTING: (1, Activity.ON_CONTACT),
    SlotState.CONFERENCED: (1, Activity.ON_CONTACT),
    SlotState.HELD: (2, Activity.ON_HOLD),
    SlotState.CONSULT_HOLD: (2, Activity.ON_HOLD),
    SlotState.WRAP_UP: (3, Activity.WRAP_UP),
}
_CONSULT_SLOTS = frozenset({SlotState.CONSULT_OFFERED, SlotState.CONSULTING, SlotState.CONFERENCED})
"""Slots a consulted agent (or a conference member) holds without owning the contact."""


@dataclass(slots=True)
class Outcome:
    """What one input produced: events to log and publish, commands to carry out."""

    events: list[Event] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)

    def offers(self) -> list[Offer]:
        return [c for c in self.commands if isinstance(c, Offer)]


@dataclass(frozen=True, slots=True)
class Explanation:
    contact_id: str
    state: str
    queue_id: str
    step: str
    step_index: int
    priority: int
    wait_s: float
    position: int | None
    eligible_logged_in: int
    eligible_routable: int
    eligible_by_activity: dict[str, int]
    agent_id: str | None
    decision: dict[str, Any] | None
    summary: str


@dataclass(frozen=True, slots=True)
class AgentSnapshot:
    id: str
    status: str
    activity: str
    next_status: str | None
    status_since: float
    activity_since: float
    contacts: dict[str, str]
    in_use: dict[str, int]
    skills: dict[str, int]
    team: str


@dataclass(frozen=True, slots=True)
class ContactSnapshot:
    id: str
    state: str
    queue_id: str
    channel: str
    priority: int
    step: str
    agent_id: str | None
    enqueued_at: float
    arrived_at: float
    data: dict[str, object]


@dataclass(slots=True)
class _Step:
    name: str
    config: RoutingStep | None
    predicate: Predicate | None


@dataclass(slots=True)
class _Queue:
    config: QueueConfig
    steps: list[_Step]
    aging_per_s: float
    cmu_weight: float
    # Copies of config values read on every decision: a pydantic attribute read costs more
    # than a slot read.
    id: str = ""
    channel: Channel = Channel.VOICE
    priority: int = 0
    offer_timeout_s: float = 15.0
    simple: bool = False
    """No routing steps, max wait or starvation bound: entering takes no timers."""
    default_step: str = "default"
    wrap: WrapUpPolicy = field(default_factory=WrapUpPolicy)
    plain_groups: dict[int, _Group] = field(default_factory=dict)
    """Groups of contacts on the queue's own channel with no extra skills, by step: the
    common case, found without building a key."""


@dataclass(slots=True, eq=False)
class _Group:
    gid: int
    queue: _Queue
    step_index: int
    channel: Channel
    requirements: tuple[Requirement, ...]
    """An agent qualifies if it meets any one of these (the step's own, then fallbacks)."""
    primary_skill: str | None
    predicate: Predicate | None
    eligible: set[str] = field(default_factory=set)
    pool: Pool = field(default_factory=AgentPool)
    fifo: bool = False
    members: dict[str, None] = field(default_factory=dict)
    step_name: str = ""
    """For a FIFO pool, the pool's own dict: the engine files agents in it directly."""
    heap: list[tuple[float, float, int, int, str]] = field(default_factory=list)
    live: int = 0


@dataclass(slots=True, eq=False)
class _Slot:
    contact_id: str
    channel: Channel
    state: SlotState
    since: float
    queue_id: str
    wrap_gen: int = 0


@dataclass(slots=True, eq=False)
class _Agent:
    id: str
    profile: AgentProfile
    skills: dict[str, int]
    capacity: dict[Channel, int]
    status: str = OFFLINE
    next_status: str | None = None
    not_responding: bool = False
    status_since: float = 0.0
    activity: Activity = Activity.OFFLINE
    activity_since: float = 0.0
    login_at: float = 0.0
    last_offer_at: float = float("-inf")
    handled_s: float = 0.0
    in_use: dict[Channel, int] = field(default_factory=dict)
    slots: dict[str, _Slot] = field(default_factory=dict)
    groups: dict[Channel, list[_Group]] = field(default_factory=dict)
    pooled: dict[Channel, float] = field(default_factory=dict)
    """Channels the agent sits in pools for, with the time it became routable on each."""
    pooled_load: dict[Channel, int] = field(default_factory=dict)
    """The in-use count the agent is filed under, where not zero."""
    reported_status: str = OFFLINE
    reported_activity: Activity = Activity.OFFLINE
    reported_next: str | None = None
    solo: Channel | None = None
    """The one channel of an agent who can take one contact at a time (the usual voice
    agent): the offer and wrap-up paths file such an agent without the general checks."""
    solo_groups: list[_Group] = field(default_factory=list)
    """``groups[solo]``, one lookup less on those paths."""


@dataclass(slots=True, eq=False)
class _Contact:
    id: str
    channel: Channel
    direction: Direction
    queue: _Queue
    priority: int
    base_priority: int | None
    """The contact's own priority (e.g. from the customer's tier), else the queue's."""
    extra: Requirement
    data: dict[str, object]
    arrived_at: float
    enqueued_at: float
    seq: int
    state: ContactState = ContactState.QUEUED
    step_index: int = 0
    group: _Group | None = None
    token: int = 0
    agent_id: str | None = None
    offer_expires: float = 0.0
    direct: bool = False
    answered_at: float = 0.0
    hold_started: float | None = None
    hold_s: float = 0.0
    maxwait_at: float | None = None
    timers: dict[str, int] = field(default_factory=dict)
    decision: tuple[str, str, str, int, float] | None = None
    """(agent, step, trigger, routable agents in the group, when) of the last offer."""


@dataclass(slots=True, eq=False)
class _Consult:
    """An open consult or conference on one contact; kept apart from ``_Contact`` so the
    arrival and offer paths build nothing for it."""

    contact_id: str
    from_agent: str
    to_agent: str
    expires_at: float
    timer_gen: int
    started_at: float
    accepted: bool = False
    conference: bool = False
    conference_since: float = 0.0


@dataclass(frozen=True, slots=True)
class ConsultSnapshot:
    contact_id: str
    from_agent: str
    to_agent: str
    expires_at: float
    accepted: bool
    conference: bool


_new = object.__new__


def _new_slot(
    contact_id: str, channel: Channel, state: SlotState, since: float, queue_id: str
) -> _Slot:
    """``_Slot(...)`` for the offer path: every field stored, without the keyword-capable
    dataclass __init__ (see routing/events.py on the positional makers)."""
    slot = _new(_Slot)
    slot.contact_id = contact_id
    slot.channel = channel
    slot.state = state
    slot.since = since
    slot.queue_id = queue_id
    slot.wrap_gen = 0
    return slot


def _new_contact(
    contact_id: str,
    channel: Channel,
    direction: Direction,
    queue: _Queue,
    priority: int,
    base_priority: int | None,
    extra: Requirement,
    data: dict[str, object],
    arrived_at: float,
    enqueued_at: float,
    seq: int,
) -> _Contact:
    """``_Contact(...)`` with the same eleven leading arguments, for the arrival paths: the
    generated __init__ of 24 fields costs twice these stores (tests/routing/
    test_fast_paths.py checks that both build the same contact)."""
    c = _new(_Contact)
    c.id = contact_id
    c.channel = channel
    c.direction = direction
    c.queue = queue
    c.priority = priority
    c.base_priority = base_priority
    c.extra = extra
    c.data = data
    c.arrived_at = arrived_at
    c.enqueued_at = enqueued_at
    c.seq = seq
    c.state = _QUEUED
    c.step_index = 0
    c.group = None
    c.token = 0
    c.agent_id = None
    c.offer_expires = 0.0
    c.direct = False
    c.answered_at = 0.0
    c.hold_started = None
    c.hold_s = 0.0
    c.maxwait_at = None
    c.timers = {}
    c.decision = None
    return c


def _merge(base: dict[str, int], extra: Requirement) -> dict[str, int]:
    merged = dict(base)
    for skill, level in extra:
        merged[skill] = max(merged.get(skill, 0), level)
    return merged


def _solo_channel(capacity: dict[Channel, int]) -> Channel | None:
    if len(capacity) == 1:
        for channel, n in capacity.items():
            if n == 1:
                return channel
    return None


def _meets(skills: dict[str, int], requirement: Requirement) -> bool:
    # A plain loop: measurably faster than all() over a generator on this hot path.
    for skill, level in requirement:  # noqa: SIM110
        if skills.get(skill, 0) < level:
            return False
    return True


class Engine:
    """One ACD: agents, queues and waiting contacts. Not thread-safe; one driver owns it."""

    def __init__(self, config: RoutingConfig) -> None:
        self.config = config
        self._queues: dict[str, _Queue] = {}
        for q in config.queues:
            self._queues[q.id] = self._build_queue(q)
        self._agents: dict[str, _Agent] = {}
        self._contacts: dict[str, _Contact] = {}
        self._consults: dict[str, _Consult] = {}
        """Open consults and conferences by contact id; empty on the routing hot path."""
        self._groups: dict[tuple[str, int, Channel, Requirement], _Group] = {}
        self._seq = 0
        self._statuses = frozenset((AVAILABLE, OFFLINE, *config.reason_codes))
        self.decisions = 0
        self._cmu = config.selector == "cmu"
        # Whether an agent's pool key is the same in every group of a channel (it does not
        # involve the group's primary skill): then it is computed once per channel.
        self._shared_key = config.strategy in ("longest_idle", "least_occupied", "round_robin")

    # ------------------------------------------------------------------ configuration

    @staticmethod
    def _build_queue(q: QueueConfig) -> _Queue:
        steps = [_Step("default", None, None)] if not q.steps else []
        for s in q.steps:
            predicate = compile_expression(s.expression) if s.expression else None
            steps.append(_Step(s.name, s, predicate))
        return _Queue(
            config=q,
            steps=steps,
            aging_per_s=q.priority_aging_per_min / 60.0,
            cmu_weight=q.cost_of_wait / q.mean_handle_s,
            id=q.id,
            channel=q.channel,
            priority=q.priority,
            offer_timeout_s=q.offer_timeout_s,
            simple=not q.steps and q.max_wait is None and q.starvation_s is None,
            default_step=steps[0].name,
            wrap=q.wrap_up,
        )

    def add_agent(self, profile: AgentProfile, now: float = 0.0) -> Outcome:
        """Register an agent (logged out). Registering again replaces its profile; a
        logged-in agent stays logged in and is routed under the new profile."""
        out = Outcome([], [])
        existing = self._agents.get(profile.id)
        if existing is not None:
            existing.profile = profile
            existing.capacity = {ch: n for ch, n in profile.capacity.items() if n > 0}
            existing.solo = _solo_channel(existing.capacity)
            for ch in existing.capacity:
                existing.in_use.setdefault(ch, 0)
            self._set_skills(existing, dict(profile.skills))
            if existing.status != OFFLINE:
                self._route_agent(existing, now, out)
            return out
        agent = _Agent(
            id=profile.id,
            profile=profile,
            skills=dict(profile.skills),
            capacity={ch: n for ch, n in profile.capacity.items() if n > 0},
        )
        agent.in_use = {ch: 0 for ch in Channel}
        agent.solo = _solo_channel(agent.capacity)
        self._agents[profile.id] = agent
        for group in self._groups.values():
            if self._qualifies(agent, group):
                group.eligible.add(agent.id)
                self._join(agent, group)
        return out

    def set_skills(self, agent_id: str, skills: dict[str, int], now: float) -> Outcome:
        """Change skills; takes effect on the next routing decision."""
        agent = self._agent(agent_id)
        for name, level in skills.items():
            if not 1 <= level <= 10:
                raise errors.IllegalTransition(
                    f"proficiency of {name!r} is {level}; use a whole number 1-10"
                )
        out = Outcome([], [])
        self._set_skills(agent, dict(skills))
        self._route_agent(agent, now, out)
        return out

    def _set_skills(self, agent: _Agent, skills: dict[str, int]) -> None:
        for channel in list(agent.pooled):
            self._unpool(agent, channel)
        for groups in agent.groups.values():
            for g in groups:
                g.eligible.discard(agent.id)
        agent.groups = {}
        agent.solo_groups = []
        agent.skills = skills
        for group in self._groups.values():
            if self._qualifies(agent, group):
                group.eligible.add(agent.id)
                self._join(agent, group)

    @staticmethod
    def _join(agent: _Agent, group: _Group) -> None:
        groups = agent.groups.get(group.channel)
        if groups is None:
            groups = agent.groups[group.channel] = []
        groups.append(group)
        if group.channel is agent.solo:
            agent.solo_groups = groups

    def _qualifies(self, agent: _Agent, group: _Group) -> bool:
        if agent.capacity.get(group.channel, 0) <= 0:
            return False
        return any(_meets(agent.skills, req) for req in group.requirements)

    def _group_for(self, contact: _Contact) -> _Group:
        queue = contact.queue
        plain = not contact.extra and contact.channel is queue.channel
        if plain:
            found = queue.plain_groups.get(contact.step_index)
            if found is not None:
                return found
        key = (queue.id, contact.step_index, contact.channel, contact.extra)
        group = self._groups.get(key)
        if group is None:
            group = self._make_group(queue, contact.step_index, contact.channel, contact.extra)
            self._groups[key] = group
        if plain:
            queue.plain_groups[contact.step_index] = group
        return group

    def _make_group(
        self, queue: _Queue, step_index: int, channel: Channel, extra: Requirement
    ) -> _Group:
        step = queue.steps[step_index]
        cfg = step.config
        base = (
            dict(cfg.skills)
            if cfg is not None and cfg.skills is not None
            else dict(queue.config.skills)
        )
        own = _merge(base, extra)
        if cfg is not None and cfg.min_proficiency_delta:
            own = {k: max(1, v + cfg.min_proficiency_delta) for k, v in own.items()}
        requirements: list[Requirement] = [tuple(sorted(own.items()))]
        if cfg is not None:
            for fb in cfg.fallback_queues:
                fb_skills = _merge(dict(self._queues[fb].config.skills), extra)
                requirements.append(tuple(sorted(fb_skills.items())))
        primary = next(iter(own), None)
        # Voice is exclusive, so under longest-idle every agent in a voice pool has the same
        # key and the pool is a plain FIFO.
        fifo = self.config.strategy == "longest_idle" and channel is Channel.VOICE
        members: dict[str, None] = {}
        group = _Group(
            gid=len(self._groups),
            queue=queue,
            step_index=step_index,
            channel=channel,
            requirements=tuple(requirements),
            primary_skill=primary,
            predicate=step.predicate,
            pool=FifoPool(members) if fifo else AgentPool(),
            fifo=fifo,
            members=members,
            step_name=step.name,
        )
        # A new group is rare (bounded by queues x steps); scanning agents once here is
        # what lets every later decision avoid it.
        routable: list[tuple[float, _Agent]] = []
        for agent in self._agents.values():
            if self._qualifies(agent, group):
                group.eligible.add(agent.id)
                self._join(agent, group)
                since = agent.pooled.get(channel)
                if since is not None:
                    routable.append((since, agent))
        routable.sort(key=lambda pair: pair[0])
        for _, agent in routable:
            group.pool.add(agent.id, self._pool_key(agent, group))
        return group

    # ------------------------------------------------------------------ agent state

    def login(self, agent_id: str, now: float, status: str = AVAILABLE) -> Outcome:
        agent = self._agent(agent_id)
        if agent.status != OFFLINE:
            raise errors.IllegalTransition(f"agent {agent_id} is already logged in")
        self._check_status(status)
        if status == OFFLINE:
            raise errors.InvalidStatus("log in to 'available' or a reason code, not 'offline'")
        out = Outcome([], [])
        agent.login_at = now
        agent.status = status
        agent.status_since = now
        agent.not_responding = False
        agent.next_status = None
        self._route_agent(agent, now, out)
        return out

    def set_status(self, agent_id: str, status: str, now: float) -> Outcome:
        """The agent (or a supervisor) chooses a status. While the agent holds contacts, a
        not-ready status becomes the *next* status and applies when the last one is done."""
        agent = self._agent(agent_id)
        self._check_status(status)
        if status == OFFLINE:
            return self.logout(agent_id, now)
        if agent.status == OFFLINE:
            return self.login(agent_id, now, status)
        out = Outcome([], [])
        if status == AVAILABLE:
            agent.not_responding = False
            agent.next_status = None
            if agent.status != AVAILABLE:
                agent.status = AVAILABLE
                agent.status_since = now
        elif agent.slots:
            agent.next_status = status
        else:
            agent.next_status = None
            agent.not_responding = False
            if agent.status != status:
                agent.status = status
                agent.status_since = now
        self._route_agent(agent, now, out)
        return out

    def logout(self, agent_id: str, now: float, force: bool = False) -> Outcome:
        """Log out. Pending offers go back to their queues at their original place. Contacts
        in hand stay with the agent until done (logout is then pending), unless ``force``,
        which puts them back in their queues too."""
        agent = self._agent(agent_id)
        if agent.status == OFFLINE and not agent.slots:
            raise errors.IllegalTransition(f"agent {agent_id} is not logged in")
        out = Outcome([], [])
        requeue: list[_Contact] = []
        # Pending logout first, so that nothing freed below is offered to this agent again.
        agent.next_status = OFFLINE
        if self._consults:
            self._logout_consults(agent, now, force, out)
        for cid, slot in list(agent.slots.items()):
            contact = self._contacts.get(cid)
            if contact is None or contact.agent_id != agent.id:
                if force and slot.state is _S_WRAP_UP:
                    self._finish_wrapup(agent, slot, now, out, None, None, timed_out=True)
                continue
            if slot.state is _S_OFFERED:
                self._release_offer(agent, contact, now, out, OfferRescinded, "agent_logged_out")
                requeue.append(contact)
            elif force and slot.state in (_S_CONNECTED, _S_HELD):
                self._transition(contact, _CI_REQUEUE)
                # The agent's segment ends as with a transfer back to the queue, but with
                # no wrap-up: the agent is leaving.
                qid = contact.queue.config.id
                leg = self._transfer_out(agent, contact, slot, now, to_queue=qid, to_agent=None)
                out.events.extend(leg.events)
                contact.agent_id = None
                slot.since = now
                self._finish_wrapup(agent, slot, now, out, None, None, timed_out=True)
                self._enqueue(contact, now, out, fresh=True)
                requeue.append(contact)
            elif force and slot.state is _S_WRAP_UP:
                self._finish_wrapup(agent, slot, now, out, None, None, timed_out=True)
        if not agent.slots:
            agent.status = OFFLINE
            agent.status_since = now
            agent.next_status = None
            agent.not_responding = False
        self._sync_pools(agent, now)
        self._touch_agent(agent, now, out)
        for contact in requeue:
            if contact.state is _QUEUED:
                self._route_contact(contact, now, out)
        return out

    def _check_status(self, status: str) -> None:
        if status not in self._statuses:
            raise errors.InvalidStatus(
                f"unknown status {status!r}; use one of {sorted(self._statuses)}"
            )

    # ------------------------------------------------------------------ contacts in

    def arrive(self, spec: ContactSpec, now: float) -> Outcome:
        """A contact enters its queue (after IVR). It may be offered at once."""
        cid = spec.id
        if cid in self._contacts:
            raise errors.DuplicateContact(f"contact {cid} is already known")
        queue = self._queues.get(spec.queue_id)
        if queue is None:
            raise errors.UnknownQueue(
                f"queue {spec.queue_id!r} does not exist; known queues: {sorted(self._queues)}"
            )
        skills = spec.skills
        extra: Requirement = ()
        if skills:
            for name, level in skills.items():
                if not 1 <= level <= 10:
                    raise errors.IllegalTransition(f"required proficiency of {name!r} must be 1-10")
            extra = tuple(sorted(skills.items()))
        base = spec.priority
        priority = queue.priority if base is None else base
        arrived_at = spec.arrived_at
        data = spec.data
        channel = spec.channel or queue.channel
        self._seq += 1
        contact = _new_contact(
            cid,
            channel,
            spec.direction,
            queue,
            priority,
            base,
            extra,
            dict(data) if data else {},
            now if arrived_at is None else arrived_at,
            now,
            self._seq,
        )
        self._contacts[cid] = contact
        return self._admit(contact, now)

    def arrive_plain(self, contact_id: str, queue_id: str, now: float) -> Outcome:
        """``arrive`` for a contact that is nothing but an id and a queue (inbound, the
        queue's channel and priority, no extra skills or data): the simulator's callers,
        spared building and validating a ContactSpec each."""
        if contact_id in self._contacts:
            raise errors.DuplicateContact(f"contact {contact_id} is already known")
        queue = self._queues.get(queue_id)
        if queue is None:
            raise errors.UnknownQueue(
                f"queue {queue_id!r} does not exist; known queues: {sorted(self._queues)}"
            )
        self._seq += 1
        contact = _new_contact(
            contact_id,
            queue.channel,
            _INBOUND,
            queue,
            queue.priority,
            None,
            (),
            {},
            now,
            now,
            self._seq,
        )
        self._contacts[contact_id] = contact
        return self._admit(contact, now)

    def _admit(self, contact: _Contact, now: float) -> Outcome:
        """A new contact enters its queue: offered at once if it can be, else it waits."""
        out = Outcome([], [])
        group: _Group | None = None
        queue = contact.queue
        cid = contact.id
        channel = contact.channel
        if queue.simple and not contact.extra and channel is queue.channel:
            # What _enqueue does for a fresh entry, for a queue without steps or timers.
            out.events.append(
                new_contact_queued(
                    now, cid, queue.id, channel, contact.priority, now, queue.default_step
                )
            )
            group = queue.plain_groups.get(0)
        else:
            self._enqueue(contact, now, out, fresh=True, push=False)
        if group is None:
            group = self._group_for(contact)
        # A contact that meets a routable agent at once never enters the heap: pushing it
        # and taking it out again would leave the same order behind.
        if group.predicate is None:
            agent_id: str | None = None
            if group.fifo:
                members = group.members
                if members:
                    agent_id = next(iter(members))
            elif group.pool:
                agent_id = group.pool.first()
            if agent_id is not None:
                agent = self._agents[agent_id]
                if cid not in agent.slots:
                    self._offer(contact, agent, now, out, "contact_entered", group)
                    return out
        self._push(contact)
        self._route_contact(contact, now, out)
        return out

    # ------------------------------------------------------------------ seated directly

    def restore_assigned(
        self,
        spec: ContactSpec,
        agent_id: str,
        state: ContactState,
        now: float,
        *,
        answered_at: float | None = None,
    ) -> Outcome:
        """Seat a contact with its agent as the event log last saw it (after a restart).

        A reconstruction, not new facts: no queued/offered/answered events, only the agent's
        state change. The agent must be registered and logged in, with room on the
        contact's channel. ``state`` is CONNECTED or HELD (a held contact's hold is counted
        from ``now``)."""
        if state not in CONTACT_ENTRIES[Entry.RESTORE]:
            raise errors.IllegalTransition(
                f"a contact can be restored as connected or held, not {state.value}"
            )
        queue = self._new_contact_queue(spec)
        agent = self._agent(agent_id)
        channel = spec.channel or queue.config.channel
        self._check_seat(agent, channel, spec.id)
        started = now if answered_at is None else answered_at
        contact = self._seat(spec, queue, agent, channel, state, started, now, Entry.RESTORE)
        if state is ContactState.HELD:
            contact.hold_started = now
        out = Outcome([], [])
        self._sync_pools(agent, now)
        self._touch_agent(agent, now, out)
        return out

    def restore_wrapup(self, agent_id: str, contact_id: str, queue_id: str, now: float) -> Outcome:
        """Put an agent back into wrap-up for a contact that has ended (after a restart), as
        if the wrap-up had just started: the queue's policy applies (a timed wrap-up gets a
        fresh timer, ``none`` finishes at once), and ``complete_wrapup`` works as usual."""
        queue = self._queues.get(queue_id)
        if queue is None:
            raise errors.UnknownQueue(
                f"queue {queue_id!r} does not exist; known queues: {sorted(self._queues)}"
            )
        agent = self._agent(agent_id)
        channel = queue.config.channel
        if contact_id in agent.slots:
            raise errors.DuplicateContact(
                f"agent {agent_id} already holds contact {contact_id}"
                f" ({agent.slots[contact_id].state.value})"
            )
        live = self._contacts.get(contact_id)
        if live is not None and live.agent_id is not None:
            raise errors.DuplicateContact(
                f"contact {contact_id} is {live.state.value} with agent {live.agent_id}"
            )
        self._check_seat(agent, channel, contact_id)
        (slot_state,) = SLOT_ENTRIES[Entry.RESTORE_WRAPUP]
        slot = _Slot(contact_id, channel, slot_state, now, queue_id)
        agent.slots[contact_id] = slot
        agent.in_use[channel] += 1
        out = Outcome([], [])
        self._sync_pools(agent, now)
        self._start_wrapup(agent, slot, now, out)
        return out

    def originate(self, spec: ContactSpec, agent_id: str, now: float) -> Outcome:
        """Click-to-dial: the agent places an outbound voice contact and is connected to it
        at once (the softphone plays ringback). Allowed in any logged-in status, including
        a not-ready reason code, with voice capacity free and no offer pending. Emits
        ``contact.originated`` (direction outbound), never an offer or an answer, so the
        inbound statistics are untouched. Wrap-up follows ``spec.queue_id``'s policy."""
        queue = self._new_contact_queue(spec)
        agent = self._agent(agent_id)
        channel = spec.channel or Channel.VOICE
        if channel is not Channel.VOICE:
            raise errors.IllegalTransition(
                f"only voice contacts can be originated, not {channel.value}"
            )
        for cid, slot in agent.slots.items():
            if slot.state is _S_OFFERED:
                raise errors.TargetUnavailable(
                    f"agent {agent_id} has contact {cid} on offer; answer or reject it first"
                )
        if agent.next_status == OFFLINE:
            raise errors.TargetUnavailable(f"agent {agent_id} is logging out")
        self._check_seat(agent, channel, spec.id)
        (state,) = CONTACT_ENTRIES[Entry.ORIGINATE]
        contact = self._seat(spec, queue, agent, channel, state, now, now, Entry.ORIGINATE)
        contact.direction = Direction.OUTBOUND
        out = Outcome([], [])
        out.events.append(
            ContactOriginated(
                ts=now,
                contact_id=spec.id,
                agent_id=agent_id,
                queue_id=queue.config.id,
                channel=channel,
                direction=Direction.OUTBOUND,
            )
        )
        self._sync_pools(agent, now)
        self._touch_agent(agent, now, out)
        return out

    def _new_contact_queue(self, spec: ContactSpec) -> _Queue:
        if spec.id in self._contacts:
            raise errors.DuplicateContact(f"contact {spec.id} is already known")
        queue = self._queues.get(spec.queue_id)
        if queue is None:
            raise errors.UnknownQueue(
                f"queue {spec.queue_id!r} does not exist; known queues: {sorted(self._queues)}"
            )
        return queue

    def _check_seat(self, agent: _Agent, channel: Channel, contact_id: str) -> None:
        """Refuse to seat a contact with an agent who is logged out or has no room."""
        if agent.status == OFFLINE:
            raise errors.TargetUnavailable(
                f"agent {agent.id} is not logged in; log in before seating contact {contact_id}"
            )
        cap = agent.capacity.get(channel, 0)
        if agent.in_use[channel] >= cap:
            raise errors.TargetUnavailable(
                f"agent {agent.id} has no free {channel.value} capacity "
                f"({agent.in_use[channel]} of {cap} in use) for contact {contact_id}"
            )

    def _seat(
        self,
        spec: ContactSpec,
        queue: _Queue,
        agent: _Agent,
        channel: Channel,
        state: ContactState,
        answered_at: float,
        now: float,
        entry: Entry,
    ) -> _Contact:
        """A contact that starts with its agent: no queue, no offer, no timers."""
        if state not in CONTACT_ENTRIES[entry]:
            raise errors.IllegalTransition(f"a contact cannot {entry.value} as {state.value}")
        slot_state = SlotState(state.value)
        if slot_state not in SLOT_ENTRIES[entry]:
            raise errors.IllegalTransition(f"a contact cannot {entry.value} as {state.value}")
        self._seq += 1
        contact = _Contact(
            id=spec.id,
            channel=channel,
            direction=spec.direction,
            queue=queue,
            priority=spec.priority if spec.priority is not None else queue.config.priority,
            base_priority=spec.priority,
            extra=tuple(sorted(spec.skills.items())),
            data=dict(spec.data),
            arrived_at=spec.arrived_at if spec.arrived_at is not None else answered_at,
            enqueued_at=answered_at,
            seq=self._seq,
            state=state,
            agent_id=agent.id,
            answered_at=answered_at,
        )
        self._contacts[spec.id] = contact
        agent.slots[spec.id] = _Slot(spec.id, channel, slot_state, now, queue.config.id)
        agent.in_use[channel] += 1
        return contact

    def _enqueue(
        self, contact: _Contact, now: float, out: Outcome, fresh: bool, push: bool = True
    ) -> None:
        """Put a contact into its group's heap (unless not ``push``: the caller does).
        ``fresh``: a new entry into the queue (new position, steps and timers start over);
        otherwise it returns to its old place."""
        queue = contact.queue
        if fresh:
            contact.direct = False
            self._seq += 1
            contact.seq = self._seq
            contact.enqueued_at = now
            contact.step_index = 0
            # Step priority changes belong to the queue the contact leaves.
            base = contact.base_priority
            contact.priority = queue.priority if base is None else base
            if queue.steps[0].config is not None:
                self._enter_step(contact, now, out)
            cfg = queue.config
            out.events.append(
                new_contact_queued(
                    now,
                    contact.id,
                    queue.id,
                    contact.channel,
                    contact.priority,
                    now,
                    queue.steps[contact.step_index].name,
                )
            )
            if cfg.max_wait is not None:
                contact.maxwait_at = now + cfg.max_wait.seconds
                self._start_timer(contact, "maxwait", contact.maxwait_at, out)
            else:
                contact.maxwait_at = None
            if cfg.starvation_s is not None:
                self._start_timer(contact, "starve", now + cfg.starvation_s, out)
        if push:
            self._push(contact)

    def _push(self, contact: _Contact) -> None:
        group = self._group_for(contact)
        contact.group = group
        contact.token += 1
        key0 = contact.queue.aging_per_s * contact.enqueued_at - contact.priority
        heapq.heappush(
            group.heap, (key0, contact.enqueued_at, contact.seq, contact.token, contact.id)
        )
        group.live += 1

    def _unqueue(self, contact: _Contact) -> None:
        """Take a contact out of its heap (lazily: its entry goes stale)."""
        group = contact.group
        if group is not None:
            group.live -= 1
            contact.token += 1
            contact.group = None
            if group.live == 0:
                group.heap.clear()

    def _enter_step(self, contact: _Contact, now: float, out: Outcome) -> None:
        """Apply the current step, skipping steps whose skip_if holds; start its timer."""
        queue = contact.queue
        while True:
            step = queue.steps[contact.step_index]
            cfg = step.config
            if cfg is not None and cfg.skip_if and contact.step_index + 1 < len(queue.steps):
                group = self._group_for(contact)
                # Eligible includes the step's expression for this very contact, so a
                # preferred-agent step is skipped when that agent is not there.
                if cfg.skip_if == "no_eligible_available":
                    candidates: Iterable[str] = group.pool
                else:
                    candidates = (a for a in group.eligible if self._agents[a].status != OFFLINE)
                skip = not any(self._pair_ok(group, self._agents[a], contact) for a in candidates)
                if skip:
                    contact.step_index += 1
                    continue
            break
        if cfg is not None:
            if cfg.priority_change:
                contact.priority += cfg.priority_change
            if cfg.timeout_s is not None and contact.step_index + 1 < len(queue.steps):
                self._start_timer(contact, "step", now + cfg.timeout_s, out)

    def _pair_ok(self, group: _Group, agent: _Agent, contact: _Contact) -> bool:
        if contact.id in agent.slots:
            return False
        predicate = group.predicate
        return predicate is None or predicate(self._agent_view(agent), self._contact_view(contact))

    def _route_contact(
        self, contact: _Contact, now: float, out: Outcome, skip: str | None = None
    ) -> None:
        """A contact entered its group: give it the group's best routable agent, if any.

        Any agent in the pool has already passed over every older contact of the group
        (that is why it is still in the pool), so taking it does not break FCFS. ``skip``
        is an agent that has just been freed and has not done that yet (it missed this
        contact's offer): it chooses afterwards, by FCFS and priority, like any agent that
        frees up."""
        group = contact.group
        if group is None or not group.pool:
            return
        predicate = group.predicate
        agents = self._agents
        cid = contact.id
        if predicate is None:
            agent_id = group.pool.first()
            assert agent_id is not None
            agent = agents[agent_id]
            if cid not in agent.slots and agent_id != skip:
                self._offer(contact, agent, now, out, "contact_entered", group)
                return
        cview = self._contact_view(contact) if predicate is not None else None
        for agent_id in group.pool:
            if agent_id == skip:
                continue
            agent = agents[agent_id]
            # An agent still wrapping up this very contact (a chat transferred back into a
            # queue it serves) cannot take it again.
            if cid in agent.slots:
                continue
            if predicate is None or predicate(self._agent_view(agent), cview):
                self._offer(contact, agent, now, out, "contact_entered", group)
                return

    # ------------------------------------------------------------------ agents free up

    def _routable(self, agent: _Agent, channel: Channel) -> bool:
        if agent.status != AVAILABLE or agent.next_status is not None or agent.not_responding:
            return False
        in_use = agent.in_use
        if in_use[channel] >= agent.capacity.get(channel, 0):
            return False
        if len(agent.slots) == in_use[channel]:
            return True  # every contact in hand is on this channel
        return self._interruptible(agent, channel)

    @staticmethod
    def _interruptible(agent: _Agent, channel: Channel) -> bool:
        """Every other channel in use lets ``channel`` interrupt it."""
        for other, n in agent.in_use.items():
            if (
                n
                and other is not channel
                and channel not in agent.profile.interruptible_by.get(other, ())
            ):
                return False
        return True

    def _route_agent(self, agent: _Agent, now: float, out: Outcome) -> None:
        """The agent may have capacity: give it the best waiting contact it qualifies for,
        as many times as its capacity allows; then file it in the pools."""
        ready = agent.status == AVAILABLE and agent.next_status is None and not agent.not_responding
        if ready and agent.solo is not None and not agent.slots:
            # Room for exactly one contact: one look at the heads, at most one offer.
            chosen: _Contact | None = None
            chosen_rank: tuple[float, float, int] | None = None
            for group in agent.solo_groups:
                if not group.live:
                    continue
                contact = self._head_for(group, agent)
                if contact is None:
                    continue
                rank = self._rank(contact, now)
                if chosen_rank is None or rank < chosen_rank:
                    chosen_rank = rank
                    chosen = contact
            if chosen is not None:
                assert chosen.group is not None
                self._offer(chosen, agent, now, out, "agent_free", chosen.group)
            ready = False
        while ready:
            best: tuple[Any, ...] | None = None
            best_contact: _Contact | None = None
            for channel, groups in agent.groups.items():
                for group in groups:
                    if group.live:
                        break
                else:
                    continue  # nothing waits in this channel's groups
                if not self._routable(agent, channel):
                    continue
                for group in groups:
                    if not group.live:
                        continue
                    contact = self._head_for(group, agent)
                    if contact is None:
                        continue
                    rank = self._rank(contact, now)
                    if best is None or rank < best:
                        best = rank
                        best_contact = contact
            if best_contact is None:
                break
            assert best_contact.group is not None
            self._offer(best_contact, agent, now, out, "agent_free", best_contact.group)
        self._sync_pools(agent, now)
        self._touch_agent(agent, now, out)

    def _rank(self, contact: _Contact, now: float) -> tuple[float, float, int]:
        queue = contact.queue
        if self._cmu:
            score = queue.cmu_weight * (now - contact.enqueued_at)
            return (-float(contact.priority), -score, contact.seq)
        effective = contact.priority + queue.aging_per_s * (now - contact.enqueued_at)
        return (-effective, contact.enqueued_at, contact.seq)

    def _head_for(self, group: _Group, agent: _Agent) -> _Contact | None:
        heap = group.heap
        contacts = self._contacts
        while heap:
            entry = heap[0]
            contact = contacts.get(entry[4])
            if contact is not None and contact.token == entry[3] and contact.group is group:
                break
            heapq.heappop(heap)
        else:
            return None
        predicate = group.predicate
        if predicate is None and contact.id not in agent.slots:
            return contact
        # Pair-specific eligibility: the best entry this agent may take, in heap order.
        aview = self._agent_view(agent) if predicate is not None else None
        slots = agent.slots
        for entry in sorted(heap):
            contact = contacts.get(entry[4])
            if contact is None or contact.token != entry[3] or contact.group is not group:
                continue
            if contact.id in slots:
                continue
            if predicate is None or predicate(aview, self._contact_view(contact)):
                return contact
        return None

    def _pool_key(self, agent: _Agent, group: _Group) -> TierKey:
        channel = group.channel
        load = float(agent.in_use[channel])
        strategy = self.config.strategy
        if strategy == "longest_idle":
            return (load,)
        if strategy == "most_skilled":
            prof = agent.skills.get(group.primary_skill, 0) if group.primary_skill else 0
            return (load, -float(prof))
        if strategy == "least_occupied":
            return (load, agent.handled_s)
        if strategy == "round_robin":
            return (load, agent.last_offer_at)
        weights = self.config.blend
        since = agent.pooled.get(channel, 0.0)
        prof = agent.skills.get(group.primary_skill, 0) if group.primary_skill else 0
        return (
            load,
            weights.idle * since / 60.0
            - weights.skill * prof
            + weights.occupancy * agent.handled_s / 3600.0,
        )

    def _sync_pools(self, agent: _Agent, now: float) -> None:
        pooled = agent.pooled
        ready = agent.status == AVAILABLE and agent.next_status is None and not agent.not_responding
        in_use = agent.in_use
        busy = len(agent.slots)
        for channel, cap in agent.capacity.items():
            load = in_use[channel]
            # _routable, inlined: this runs on every change of every agent.
            if ready and load < cap and (busy == load or self._interruptible(agent, channel)):
                if channel in pooled:
                    if agent.pooled_load.get(channel, 0) == load:
                        continue  # already filed under the same key
                else:
                    pooled[channel] = now
                if load:
                    agent.pooled_load[channel] = load
                else:
                    agent.pooled_load.pop(channel, None)
                groups = agent.groups.get(channel)
                if not groups:
                    continue
                agent_id = agent.id
                if groups[0].fifo:
                    # Every group of a channel has the same kind of pool. Assigning to a
                    # key already there keeps its place, as FifoPool.place does.
                    for group in groups:
                        group.members[agent_id] = None
                elif self._shared_key:
                    key = self._pool_key(agent, groups[0])
                    for group in groups:
                        group.pool.place(agent_id, key)
                else:
                    for group in groups:
                        group.pool.place(agent_id, self._pool_key(agent, group))
            elif channel in pooled:
                self._unpool(agent, channel)

    def _unpool(self, agent: _Agent, channel: Channel) -> None:
        del agent.pooled[channel]
        agent.pooled_load.pop(channel, None)
        groups = agent.groups.get(channel)
        if not groups:
            return
        agent_id = agent.id
        if groups[0].fifo:
            for group in groups:
                group.members.pop(agent_id, None)
        else:
            for group in groups:
                group.pool.remove(agent_id)

    # ------------------------------------------------------------------ offers

    def _offer(
        self,
        contact: _Contact,
        agent: _Agent,
        now: float,
        out: Outcome,
        trigger: str,
        group: _Group,
    ) -> None:
        if trigger != "transfer":
            state = _CONTACT_TRANSITIONS.get((contact.state, _CI_OFFER))
            if state is None:
                self._transition(contact, _CI_OFFER)  # raises the typed error
            else:
                contact.state = state
        if contact.group is not None:
            self._unqueue(contact)
        queue = contact.queue
        channel = contact.channel
        cid = contact.id
        aid = agent.id
        qid = queue.id
        agent.slots[cid] = _new_slot(cid, channel, _S_OFFERED, now, qid)
        agent.in_use[channel] += 1
        agent.last_offer_at = now
        contact.agent_id = aid
        expires = now + queue.offer_timeout_s
        contact.offer_expires = expires
        step_name = group.step_name
        routable = len(group.members) if group.fifo else len(group.pool)
        contact.decision = (aid, step_name, trigger, routable, now)
        self.decisions += 1
        timers = contact.timers
        # Cancelled timers keep their generation negated; never reuse one.
        gen = abs(timers.get("offer", 0)) + 1
        timers["offer"] = gen
        commands = out.commands
        commands.append(new_offer(cid, aid, qid, channel, expires, step_name))
        commands.append(new_start_timer(("offer", cid, gen), expires))
        out.events.append(
            new_contact_offered(now, cid, aid, qid, expires, step_name, now - contact.enqueued_at)
        )
        if trigger != "agent_free":
            if agent.solo is channel and len(agent.slots) == 1 and not agent.not_responding:
                # It was free for exactly this one contact: it leaves its pools and is now
                # offered (what _sync_pools and _touch_agent conclude, without the search).
                pooled = agent.pooled
                if channel in pooled:
                    # _unpool for an agent filed at load 0 (nothing in pooled_load).
                    del pooled[channel]
                    groups = agent.solo_groups
                    if groups and groups[0].fifo:
                        for g in groups:
                            g.members.pop(aid, None)
                    else:
                        for g in groups:
                            g.pool.remove(aid)
                # _report, inlined: the activity changes (it was free), the status not.
                prev_activity = agent.reported_activity
                agent.activity = agent.reported_activity = _A_OFFERED
                agent.activity_since = now
                status = agent.status
                out.events.append(
                    new_agent_state_changed(
                        now, aid, status, _A_OFFERED, None, agent.reported_status, prev_activity
                    )
                )
                agent.reported_status = status
                agent.reported_next = None
            else:
                self._sync_pools(agent, now)
                self._touch_agent(agent, now, out)

    def accept(self, agent_id: str, contact_id: str, now: float) -> Outcome:
        # _held's lookups, inlined; _held itself sorts out the errors.
        agent = self._agents.get(agent_id)
        slot = agent.slots.get(contact_id) if agent is not None else None
        contact = self._contacts.get(contact_id)
        if agent is None or slot is None or contact is None or contact.agent_id != agent_id:
            agent, contact, slot = self._held(agent_id, contact_id)
        if slot.state is not _S_OFFERED:
            raise errors.IllegalTransition(f"contact {contact_id} is not being offered to you")
        if now > contact.offer_expires:
            raise errors.OfferExpired(f"the offer of contact {contact_id} has expired")
        # _transition and _apply_slot, inlined (one accept per answered contact); the
        # calls remain for the error messages.
        state = _CONTACT_TRANSITIONS.get((contact.state, _CI_ACCEPT))
        if state is None:
            self._transition(contact, _CI_ACCEPT)
        else:
            contact.state = state
        slot.state = _S_ACCEPTED  # the slot is offered: checked just above
        out = Outcome([], [])
        slot.since = now
        contact.answered_at = now
        timers = contact.timers
        commands = out.commands
        # Cancelled in a fixed order; a contact that never waited has only its offer timer.
        for kind in timers if len(timers) == 1 else _CONTACT_TIMERS:
            gen = timers.get(kind)
            if gen is not None and gen > 0:
                commands.append(new_cancel_timer((kind, contact_id, gen)))
                timers[kind] = -gen
        out.events.append(
            new_contact_answered(
                now,
                contact_id,
                agent_id,
                contact.queue.id,
                now - contact.enqueued_at,
                not contact.direct,
            )
        )
        if len(agent.slots) == 1 and not agent.not_responding:
            # _touch_agent for the usual case: this is the agent's only contact.
            self._report(agent, _A_ON_CONTACT, now, out)
        else:
            self._touch_agent(agent, now, out)
        return out

    def reject(self, agent_id: str, contact_id: str, now: float) -> Outcome:
        agent, contact, slot = self._held(agent_id, contact_id)
        if slot.state is not _S_OFFERED:
            raise errors.IllegalTransition(f"contact {contact_id} is not being offered to you")
        return self._missed(agent, contact, now, OfferRejected)

    def _missed(self, agent: _Agent, contact: _Contact, now: float, kind: type[Event]) -> Outcome:
        out = Outcome([], [])
        if contact.queue.config.missed_offer_not_responding:
            agent.not_responding = True
        self._release_offer(agent, contact, now, out, kind, None)
        if contact.state is _QUEUED:
            # Other idle agents first; the agent who missed it then picks the best waiting
            # contact (maybe this one again): offering it straight back could pass over an
            # older or higher-priority contact that arrived during the offer.
            self._route_contact(contact, now, out, skip=agent.id)
        self._after_release(agent, now, out)
        return out

    def _release_offer(
        self,
        agent: _Agent,
        contact: _Contact,
        now: float,
        out: Outcome,
        kind: type[Event],
        reason: str | None,
    ) -> None:
        """The offer ends without an answer: the contact goes back to its place."""
        slot = agent.slots[contact.id]
        contact_input = {
            OfferRejected: _CI_REJECT,
            OfferTimedOut: _CI_OFFER_TIMEOUT,
        }.get(kind, _CI_RESCIND)
        slot_input = {
            OfferRejected: _SI_REJECT,
            OfferTimedOut: _SI_OFFER_TIMEOUT,
        }.get(kind, _SI_RESCIND)
        self._transition(contact, contact_input)
        self._apply_slot(agent, slot, slot_input)
        self._free_slot(agent, slot)
        self._cancel_timer(contact, "offer", out)
        contact.agent_id = None
        qid = contact.queue.config.id
        if kind is OfferRescinded:
            out.commands.append(
                RescindOffer(contact_id=contact.id, agent_id=agent.id, reason=reason or "")
            )
            out.events.append(
                OfferRescinded(
                    ts=now,
                    contact_id=contact.id,
                    agent_id=agent.id,
                    queue_id=qid,
                    reason=reason or "",
                )
            )
        else:
            out.events.append(kind(ts=now, contact_id=contact.id, agent_id=agent.id, queue_id=qid))
        if contact.direct:
            # A blind transfer the target did not take lands in the contact's queue.
            contact.direct = False
            self._enqueue(contact, now, out, fresh=True)
        elif contact.maxwait_at is not None and now >= contact.maxwait_at:
            self._push(contact)
            self._flow(contact, now, out)
        else:
            self._push(contact)
        self._touch_agent(agent, now, out)

    # ------------------------------------------------------------------ on the contact

    def hold(self, agent_id: str, contact_id: str, now: float) -> Outcome:
        agent, contact, slot = self._held(agent_id, contact_id)
        self._check_slot(slot, _SI_HOLD, contact_id)
        self._transition(contact, _CI_HOLD)
        self._apply_slot(agent, slot, _SI_HOLD)
        contact.hold_started = now
        out = Outcome([], [])
        out.events.append(
            ContactHeld(
                ts=now, contact_id=contact_id, agent_id=agent_id, queue_id=contact.queue.config.id
            )
        )
        self._touch_agent(agent, now, out)
        return out

    def resume(self, agent_id: str, contact_id: str, now: float) -> Outcome:
        agent, contact, slot = self._held(agent_id, contact_id)
        self._check_slot(slot, _SI_RESUME, contact_id)
        self._transition(contact, _CI_RESUME)
        self._apply_slot(agent, slot, _SI_RESUME)
        held = self._close_hold(contact, now)
        out = Outcome([], [])
        out.events.append(
            ContactResumed(
                ts=now,
                contact_id=contact_id,
                agent_id=agent_id,
                queue_id=contact.queue.config.id,
                hold_s=held,
            )
        )
        self._touch_agent(agent, now, out)
        return out

    def _close_hold(self, contact: _Contact, now: float) -> float:
        if contact.hold_started is None:
            return 0.0
        held = now - contact.hold_started
        contact.hold_s += held
        contact.hold_started = None
        return held

    def end(self, agent_id: str, contact_id: str, now: float) -> Outcome:
        """The agent ends the contact; the agent goes into wrap-up for it."""
        # _held's lookups, inlined; _held itself sorts out the errors.
        agent = self._agents.get(agent_id)
        slot = agent.slots.get(contact_id) if agent is not None else None
        contact = self._contacts.get(contact_id)
        if agent is None or slot is None or contact is None or contact.agent_id != agent_id:
            agent, contact, slot = self._held(agent_id, contact_id)
        if _SLOT_TRANSITIONS.get((slot.state, _SI_END)) is None:
            self._check_slot(slot, _SI_END, contact_id)  # raises the typed error
        return self._end(agent, contact, slot, now, "agent")

    def hangup(self, contact_id: str, now: float) -> Outcome:
        """The customer left: an abandon while waiting or offered, an end once answered."""
        contact = self._contact(contact_id)
        if self._consults and contact_id in self._consults:
            return self._hangup_consult(self._consults[contact_id], contact, now)
        if contact.state in (_QUEUED, _OFFERED):
            return self.abandon(contact_id, now)
        if contact.state in (ContactState.CONNECTED, ContactState.HELD):
            assert contact.agent_id is not None
            agent = self._agents[contact.agent_id]
            return self._end(agent, contact, agent.slots[contact_id], now, "customer")
        raise errors.IllegalTransition(f"contact {contact_id} has already {contact.state.value}")

    def _end(self, agent: _Agent, contact: _Contact, slot: _Slot, now: float, by: str) -> Outcome:
        state = _CONTACT_TRANSITIONS.get((contact.state, _CI_END))
        if state is None:
            self._transition(contact, _CI_END)  # raises the typed error
        else:
            contact.state = state
        slot_state = _SLOT_TRANSITIONS.get((slot.state, _SI_END))
        if slot_state is None:
            self._apply_slot(agent, slot, _SI_END)  # raises the typed error
        else:
            slot.state = slot_state
        if contact.hold_started is not None:
            self._close_hold(contact, now)
        out = Outcome([], [])
        talk = now - contact.answered_at - contact.hold_s
        out.events.append(
            new_contact_ended(now, contact.id, agent.id, contact.queue.id, talk, contact.hold_s, by)
        )
        agent.handled_s += talk + contact.hold_s
        if self._queues[slot.queue_id].wrap.mode == "none":
            # _start_wrapup's first case, without the call: no wrap-up at all.
            slot.since = now
            self._finish_wrapup(agent, slot, now, out, None, None, timed_out=False)
        else:
            self._start_wrapup(agent, slot, now, out)
        return out

    def _start_wrapup(self, agent: _Agent, slot: _Slot, now: float, out: Outcome) -> None:
        slot.since = now
        policy = self._queues[slot.queue_id].wrap
        if policy.mode == "none":
            self._finish_wrapup(agent, slot, now, out, None, None, timed_out=False)
            return
        if policy.mode == "timed":
            slot.wrap_gen += 1
            out.commands.append(
                new_start_timer(
                    ("wrapup", f"{agent.id}\x00{slot.contact_id}", slot.wrap_gen),
                    now + policy.seconds,
                )
            )
        self._touch_agent(agent, now, out)

    def complete_wrapup(
        self,
        agent_id: str,
        contact_id: str,
        now: float,
        disposition: str | None = None,
        notes: str | None = None,
    ) -> Outcome:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise errors.UnknownAgent(f"agent {agent_id!r} is not known")
        slot = agent.slots.get(contact_id)
        if slot is None:
            raise errors.NotYourContact(f"contact {contact_id} is not assigned to {agent_id}")
        if slot.state is not _S_WRAP_UP:
            self._check_slot(slot, _SI_COMPLETE_WRAPUP, contact_id)
        policy = self._queues[slot.queue_id].wrap
        if not disposition and policy.disposition_required:
            raise errors.DispositionRequired(
                f"queue {slot.queue_id} requires a disposition; "
                f"choose one of {list(policy.dispositions) or 'any text'}"
            )
        if disposition and policy.dispositions and disposition not in policy.dispositions:
            raise errors.InvalidDisposition(
                f"disposition {disposition!r} is not one of {list(policy.dispositions)}"
            )
        out = Outcome([], [])
        self._finish_wrapup(agent, slot, now, out, disposition, notes, timed_out=False)
        return out

    def _finish_wrapup(
        self,
        agent: _Agent,
        slot: _Slot,
        now: float,
        out: Outcome,
        disposition: str | None,
        notes: str | None,
        timed_out: bool,
    ) -> None:
        state = _SLOT_TRANSITIONS.get((slot.state, _SI_COMPLETE_WRAPUP))
        if state is None:
            self._apply_slot(agent, slot, _SI_COMPLETE_WRAPUP)  # raises the typed error
        else:
            slot.state = state
        cid = slot.contact_id
        if slot.wrap_gen:
            out.commands.append(new_cancel_timer(("wrapup", f"{agent.id}\x00{cid}", slot.wrap_gen)))
        wrap = now - slot.since
        agent.handled_s += wrap
        del agent.slots[cid]
        agent.in_use[slot.channel] -= 1
        out.events.append(
            new_wrapup_completed(
                now, cid, agent.id, slot.queue_id, wrap, disposition, notes, timed_out
            )
        )
        contact = self._contacts.get(cid)
        if contact is not None and contact.state is _ENDED:
            del self._contacts[cid]
        if not agent.slots:
            if agent.next_status is not None:
                agent.status = agent.next_status
                agent.status_since = now
                agent.next_status = None
            channel = agent.solo
            if (
                channel is not None
                and agent.status == AVAILABLE
                and not agent.not_responding
                and channel not in agent.pooled
            ):
                groups = agent.solo_groups
                for group in groups:
                    if group.live:
                        break
                else:
                    # Free, and nothing waits for it: what _route_agent concludes, without
                    # the search. It joins the back of its pools.
                    agent.pooled[channel] = now
                    agent_id = agent.id
                    if groups and groups[0].fifo:
                        for group in groups:
                            group.members[agent_id] = None
                    else:
                        for group in groups:
                            group.pool.place(agent_id, self._pool_key(agent, group))
                    # _report, inlined: the activity changes (from wrap-up), and the status
                    # is available with nothing next.
                    prev_activity = agent.reported_activity
                    prev_status = agent.reported_status
                    agent.activity = agent.reported_activity = _A_IDLE
                    agent.activity_since = now
                    agent.reported_status = AVAILABLE
                    agent.reported_next = None
                    out.events.append(
                        new_agent_state_changed(
                            now, agent_id, AVAILABLE, _A_IDLE, None, prev_status, prev_activity
                        )
                    )
                    return
        self._route_agent(agent, now, out)

    def _after_release(self, agent: _Agent, now: float, out: Outcome) -> None:
        if not agent.slots and agent.next_status is not None:
            agent.status = agent.next_status
            agent.status_since = now
            agent.next_status = None
        self._route_agent(agent, now, out)

    def transfer_to_queue(
        self, agent_id: str, contact_id: str, queue_id: str, now: float
    ) -> Outcome:
        """Blind transfer to a queue: the contact waits there afresh; the agent wraps up."""
        agent, contact, slot = self._held(agent_id, contact_id)
        self._check_slot(slot, _SI_TRANSFER, contact_id)
        target = self._queues.get(queue_id)
        if target is None:
            raise errors.UnknownQueue(f"queue {queue_id!r} does not exist")
        self._transition(contact, _CI_TRANSFER_TO_QUEUE)
        out = self._transfer_out(agent, contact, slot, now, to_queue=queue_id, to_agent=None)
        contact.queue = target
        contact.agent_id = None
        self._enqueue(contact, now, out, fresh=True)
        self._start_wrapup(agent, slot, now, out)
        self._route_contact(contact, now, out)
        return out

    def transfer_to_agent(
        self, agent_id: str, contact_id: str, target_id: str, now: float
    ) -> Outcome:
        """Blind transfer to an agent who is routable now; it is offered to them directly.
        If they do not take it, it waits in the contact's queue."""
        agent, contact, slot = self._held(agent_id, contact_id)
        self._check_slot(slot, _SI_TRANSFER, contact_id)
        target = self._agent(target_id)
        if target is agent or not self._routable(target, contact.channel):
            raise errors.TargetUnavailable(
                f"agent {target_id} cannot take a {contact.channel.value} contact now"
            )
        self._transition(contact, _CI_TRANSFER_TO_AGENT)
        out = self._transfer_out(agent, contact, slot, now, to_queue=None, to_agent=target_id)
        contact.direct = True
        contact.enqueued_at = now
        self._offer(contact, target, now, out, "transfer", self._group_for(contact))
        self._start_wrapup(agent, slot, now, out)
        return out

    def _transfer_out(
        self,
        agent: _Agent,
        contact: _Contact,
        slot: _Slot,
        now: float,
        to_queue: str | None,
        to_agent: str | None,
    ) -> Outcome:
        self._apply_slot(agent, slot, _SI_TRANSFER)
        self._close_hold(contact, now)
        out = Outcome([], [])
        talk = now - contact.answered_at - contact.hold_s
        out.events.append(
            ContactTransferred(
                ts=now,
                contact_id=contact.id,
                agent_id=agent.id,
                queue_id=contact.queue.config.id,
                to_queue=to_queue,
                to_agent=to_agent,
                talk_s=talk,
                hold_s=contact.hold_s,
            )
        )
        agent.handled_s += talk + contact.hold_s
        contact.hold_s = 0.0
        return out

    # ------------------------------------------------------------------ consult and conference
    #
    # Off the routing hot path: the only traces elsewhere are a truth test of the empty
    # ``_consults`` dict in hangup and logout. The first agent (A) keeps owning the contact
    # (``contact.agent_id``) until it completes; the consulted agent (B) holds a slot of its
    # own under the same contact id in one of the consult states, so its capacity is taken
    # and it leaves the pools like an offered agent.

    def consult(self, agent_id: str, contact_id: str, target_id: str, now: float) -> Outcome:
        """A, holding the contact, asks agent B for a consult: the caller goes on hold and B
        is reserved until it answers or the offer expires (the queue's offer timeout)."""
        agent, contact, slot = self._held(agent_id, contact_id)
        if contact_id in self._consults:
            raise errors.IllegalTransition(f"contact {contact_id} already has a consult open")
        self._check_slot(slot, _SI_CONSULT, contact_id)
        target = self._agent(target_id)
        if (
            target is agent
            or contact_id in target.slots
            or not self._routable(target, contact.channel)
        ):
            raise errors.TargetUnavailable(
                f"agent {target_id} cannot take a {contact.channel.value} consult now"
            )
        out = Outcome([], [])
        was_held = contact.state is ContactState.HELD
        self._transition(contact, ContactInput.CONSULT)
        self._apply_slot(agent, slot, _SI_CONSULT)
        qid = contact.queue.id
        if not was_held:
            contact.hold_started = now
            out.events.append(
                ContactHeld(ts=now, contact_id=contact_id, agent_id=agent_id, queue_id=qid)
            )
        expires = now + contact.queue.offer_timeout_s
        gen = abs(contact.timers.get("consult", 0)) + 1
        contact.timers["consult"] = gen
        self._consults[contact_id] = _Consult(
            contact_id=contact_id,
            from_agent=agent_id,
            to_agent=target_id,
            expires_at=expires,
            timer_gen=gen,
            started_at=now,
        )
        target.slots[contact_id] = _new_slot(
            contact_id, contact.channel, SlotState.CONSULT_OFFERED, now, qid
        )
        target.in_use[contact.channel] += 1
        out.commands.append(new_start_timer(("consult", contact_id, gen), expires))
        out.events.append(
            ConsultStarted(
                ts=now,
                contact_id=contact_id,
                agent_id=agent_id,
                queue_id=qid,
                to_agent=target_id,
                expires_at=expires,
            )
        )
        self._sync_pools(target, now)
        self._touch_agent(target, now, out)
        self._touch_agent(agent, now, out)
        return out

    def _open_consult(self, contact_id: str) -> _Consult:
        consult = self._consults.get(contact_id)
        if consult is None:
            if contact_id not in self._contacts:
                raise errors.UnknownContact(f"contact {contact_id!r} is not in routing")
            raise errors.IllegalTransition(f"contact {contact_id} has no consult open")
        return consult

    def _consulted(self, agent_id: str, contact_id: str) -> tuple[_Consult, _Agent, _Slot]:
        """The consult on the contact, checked to be addressed to ``agent_id`` (B)."""
        self._agent(agent_id)
        consult = self._open_consult(contact_id)
        if consult.to_agent != agent_id:
            raise errors.NotYourContact(f"the consult on {contact_id} is not for {agent_id}")
        target = self._agents[agent_id]
        return consult, target, target.slots[contact_id]

    def _consulting(self, agent_id: str, contact_id: str) -> tuple[_Consult, _Agent, _Slot]:
        """The consult on the contact, checked to be started by ``agent_id`` (A)."""
        self._agent(agent_id)
        consult = self._open_consult(contact_id)
        if consult.from_agent != agent_id:
            raise errors.NotYourContact(
                f"the consult on {contact_id} was not started by {agent_id}"
            )
        agent = self._agents[agent_id]
        return consult, agent, agent.slots[contact_id]

    def accept_consult(self, agent_id: str, contact_id: str, now: float) -> Outcome:
        consult, target, slot = self._consulted(agent_id, contact_id)
        self._check_slot(slot, _SI_CONSULT_ACCEPT, contact_id)
        if now > consult.expires_at:
            raise errors.OfferExpired(f"the consult on contact {contact_id} has expired")
        contact = self._contacts[contact_id]
        out = Outcome([], [])
        self._apply_slot(target, slot, _SI_CONSULT_ACCEPT)
        slot.since = now
        consult.accepted = True
        self._cancel_timer(contact, "consult", out)
        out.events.append(
            ConsultAccepted(
                ts=now,
                contact_id=contact_id,
                agent_id=agent_id,
                queue_id=contact.queue.id,
                from_agent=consult.from_agent,
            )
        )
        self._touch_agent(target, now, out)
        return out

    def reject_consult(self, agent_id: str, contact_id: str, now: float) -> Outcome:
        """B declines, or hangs up on an answered consult: it is freed; the caller stays on
        hold with A."""
        consult, _target, slot = self._consulted(agent_id, contact_id)
        self._check_slot(slot, _SI_CONSULT_REJECT, contact_id)
        out = Outcome([], [])
        self._drop_consult(consult, now, out, _SI_CONSULT_REJECT, "rejected")
        return out

    def cancel_consult(self, agent_id: str, contact_id: str, now: float) -> Outcome:
        """A calls the consult off (answered or not): B is freed, A resumes the caller."""
        consult, agent, slot = self._consulting(agent_id, contact_id)
        if consult.conference:
            raise errors.IllegalTransition(f"contact {contact_id} is in a conference")
        self._check_slot(slot, _SI_CONSULT_CANCEL, contact_id)
        contact = self._contacts[contact_id]
        out = Outcome([], [])
        self._transition(contact, ContactInput.CONSULT_CANCEL)
        self._drop_consult(consult, now, out, _SI_CONSULT_CANCEL, "cancelled")
        held = self._close_hold(contact, now)
        out.events.append(
            ContactResumed(
                ts=now,
                contact_id=contact_id,
                agent_id=agent_id,
                queue_id=contact.queue.id,
                hold_s=held,
            )
        )
        self._touch_agent(agent, now, out)
        return out

    def _drop_consult(
        self, consult: _Consult, now: float, out: Outcome, event: SlotInput, reason: str
    ) -> None:
        """The consult ends without a transfer: B's slot is released and A's slot goes the
        way the table says for ``event`` (held after a reject or timeout, connected after
        A cancels). The contact's own transition is the caller's business."""
        cid = consult.contact_id
        contact = self._contacts[cid]
        agent = self._agents[consult.from_agent]
        target = self._agents[consult.to_agent]
        a_slot = agent.slots[cid]
        b_slot = target.slots[cid]
        self._apply_slot(agent, a_slot, event)
        self._apply_slot(target, b_slot, event)
        self._free_slot(target, b_slot)
        self._cancel_timer(contact, "consult", out)
        del self._consults[cid]
        qid = contact.queue.id
        if event is _SI_CONSULT_CANCEL:
            out.events.append(
                ConsultCancelled(
                    ts=now,
                    contact_id=cid,
                    agent_id=agent.id,
                    queue_id=qid,
                    to_agent=target.id,
                )
            )
        else:
            out.events.append(
                ConsultRejected(
                    ts=now,
                    contact_id=cid,
                    agent_id=target.id,
                    queue_id=qid,
                    from_agent=agent.id,
                    reason=reason,
                )
            )
        if consult.accepted:
            target.handled_s += now - b_slot.since
        self._touch_agent(agent, now, out)
        self._touch_agent(target, now, out)
        self._after_release(target, now, out)

    def complete_consult(self, agent_id: str, contact_id: str, now: float) -> Outcome:
        """A hands the caller to B (who has answered the consult): the contact is B's from
        now, A goes to wrap-up as after a transfer."""
        consult, agent, slot = self._consulting(agent_id, contact_id)
        target = self._agents[consult.to_agent]
        b_slot = target.slots[contact_id]
        self._check_slot(slot, _SI_CONSULT_COMPLETE, contact_id)
        self._check_slot(b_slot, _SI_CONSULT_COMPLETE, contact_id)
        contact = self._contacts[contact_id]
        self._transition(contact, ContactInput.CONSULT_COMPLETE)
        self._apply_slot(agent, slot, _SI_CONSULT_COMPLETE)
        self._apply_slot(target, b_slot, _SI_CONSULT_COMPLETE)
        del self._consults[contact_id]
        out = Outcome([], [])
        # A's leg, as _transfer_out records it: talk and hold up to now.
        self._close_hold(contact, now)
        talk = now - contact.answered_at - contact.hold_s
        qid = contact.queue.id
        out.events.append(
            ContactTransferred(
                ts=now,
                contact_id=contact_id,
                agent_id=agent_id,
                queue_id=qid,
                to_queue=None,
                to_agent=target.id,
                talk_s=talk,
                hold_s=contact.hold_s,
            )
        )
        agent.handled_s += talk + contact.hold_s
        contact.hold_s = 0.0
        # B's leg starts now; its consult time was agent-to-agent talk, not the caller's.
        target.handled_s += now - b_slot.since
        b_slot.since = now
        contact.agent_id = target.id
        contact.answered_at = now
        contact.direct = False
        out.events.append(new_contact_answered(now, contact_id, target.id, qid, 0.0, False))
        self._start_wrapup(agent, slot, now, out)
        self._touch_agent(target, now, out)
        return out

    def conference(self, agent_id: str, contact_id: str, now: float) -> Outcome:
        """A joins the caller with itself and B (who has answered the consult)."""
        consult, agent, slot = self._consulting(agent_id, contact_id)
        target = self._agents[consult.to_agent]
        b_slot = target.slots[contact_id]
        self._check_slot(slot, _SI_CONFERENCE, contact_id)
        self._check_slot(b_slot, _SI_CONFERENCE, contact_id)
        contact = self._contacts[contact_id]
        self._transition(contact, ContactInput.CONFERENCE)
        self._apply_slot(agent, slot, _SI_CONFERENCE)
        self._apply_slot(target, b_slot, _SI_CONFERENCE)
        consult.conference = True
        consult.conference_since = now
        target.handled_s += now - b_slot.since
        b_slot.since = now
        held = self._close_hold(contact, now)
        out = Outcome([], [])
        out.events.append(
            ConferenceStarted(
                ts=now,
                contact_id=contact_id,
                agent_id=agent_id,
                queue_id=contact.queue.id,
                with_agent=target.id,
                hold_s=held,
            )
        )
        self._touch_agent(agent, now, out)
        self._touch_agent(target, now, out)
        return out

    def leave_conference(self, agent_id: str, contact_id: str, now: float) -> Outcome:
        """Either agent leaves: it goes to wrap-up, the other keeps the caller and becomes
        the contact's owner (talk time still counts from the original answer)."""
        self._agent(agent_id)
        consult = self._open_consult(contact_id)
        if agent_id not in (consult.from_agent, consult.to_agent):
            raise errors.NotYourContact(f"{agent_id} is not in the call on {contact_id}")
        if not consult.conference:
            raise errors.IllegalTransition(f"contact {contact_id} is not in a conference")
        other_id = consult.to_agent if agent_id == consult.from_agent else consult.from_agent
        leaver = self._agents[agent_id]
        keeper = self._agents[other_id]
        l_slot = leaver.slots[contact_id]
        k_slot = keeper.slots[contact_id]
        self._check_slot(l_slot, _SI_LEAVE_CONFERENCE, contact_id)
        self._check_slot(k_slot, _SI_KEEP_CONFERENCE, contact_id)
        contact = self._contacts[contact_id]
        self._transition(contact, ContactInput.LEAVE_CONFERENCE)
        self._apply_slot(leaver, l_slot, _SI_LEAVE_CONFERENCE)
        self._apply_slot(keeper, k_slot, _SI_KEEP_CONFERENCE)
        del self._consults[contact_id]
        contact.agent_id = other_id
        out = Outcome([], [])
        spent = now - consult.conference_since
        leaver.handled_s += spent
        out.events.append(
            ConferenceLeft(
                ts=now,
                contact_id=contact_id,
                agent_id=agent_id,
                queue_id=contact.queue.id,
                remaining=other_id,
                reason="left",
                in_conference_s=spent,
            )
        )
        self._start_wrapup(leaver, l_slot, now, out)
        self._touch_agent(keeper, now, out)
        return out

    def _hangup_consult(self, consult: _Consult, contact: _Contact, now: float) -> Outcome:
        """The caller left during a consult or a conference."""
        if not consult.conference:
            # B is freed; A's hold ends as any held call does.
            pre = Outcome([], [])
            self._drop_consult(consult, now, pre, _SI_CONSULT_REJECT, "caller_left")
            agent = self._agents[consult.from_agent]
            out = self._end(agent, contact, agent.slots[contact.id], now, "customer")
            pre.events.extend(out.events)
            pre.commands.extend(out.commands)
            return pre
        owner_id = contact.agent_id
        assert owner_id is not None
        other_id = consult.to_agent if owner_id == consult.from_agent else consult.from_agent
        owner = self._agents[owner_id]
        other = self._agents[other_id]
        o_slot = owner.slots[contact.id]
        x_slot = other.slots[contact.id]
        self._transition(contact, _CI_END)
        self._apply_slot(owner, o_slot, _SI_LEAVE_CONFERENCE)
        self._apply_slot(other, x_slot, _SI_LEAVE_CONFERENCE)
        del self._consults[contact.id]
        out = Outcome([], [])
        qid = contact.queue.id
        talk = now - contact.answered_at - contact.hold_s
        out.events.append(
            new_contact_ended(now, contact.id, owner_id, qid, talk, contact.hold_s, "customer")
        )
        owner.handled_s += talk + contact.hold_s
        spent = now - consult.conference_since
        other.handled_s += spent
        out.events.append(
            ConferenceLeft(
                ts=now,
                contact_id=contact.id,
                agent_id=other_id,
                queue_id=qid,
                remaining=None,
                reason="caller_left",
                in_conference_s=spent,
            )
        )
        self._start_wrapup(owner, o_slot, now, out)
        self._start_wrapup(other, x_slot, now, out)
        return out

    def _logout_consults(self, agent: _Agent, now: float, force: bool, out: Outcome) -> None:
        """Consults the agent is part of, before it logs out: a consult offered to it is
        dropped; with ``force`` it also drops out of any consult or conference."""
        for consult in [
            c for c in self._consults.values() if agent.id in (c.from_agent, c.to_agent)
        ]:
            if consult.conference:
                if force:
                    leg = self.leave_conference(agent.id, consult.contact_id, now)
                    out.events.extend(leg.events)
                    out.commands.extend(leg.commands)
            elif (consult.to_agent == agent.id and not consult.accepted) or force:
                self._drop_consult(consult, now, out, _SI_CONSULT_REJECT, "agent_logged_out")

    def consult_of(self, contact_id: str) -> ConsultSnapshot | None:
        c = self._consults.get(contact_id)
        if c is None:
            return None
        return ConsultSnapshot(
            contact_id=c.contact_id,
            from_agent=c.from_agent,
            to_agent=c.to_agent,
            expires_at=c.expires_at,
            accepted=c.accepted,
            conference=c.conference,
        )

    # ------------------------------------------------------------------ leaving the queue

    def abandon(self, contact_id: str, now: float) -> Outcome:
        contact = self._contact(contact_id)
        if contact.state not in (_QUEUED, _OFFERED):
            raise errors.IllegalTransition(
                f"contact {contact_id} is {contact.state.value}; only a waiting or offered "
                "contact can be abandoned"
            )
        out = Outcome([], [])
        agent: _Agent | None = None
        if contact.state is _OFFERED:
            assert contact.agent_id is not None
            agent = self._agents[contact.agent_id]
            slot = agent.slots[contact_id]
            self._apply_slot(agent, slot, _SI_RESCIND)
            self._free_slot(agent, slot)
            out.commands.append(
                RescindOffer(contact_id=contact_id, agent_id=agent.id, reason="caller_left")
            )
            out.events.append(
                OfferRescinded(
                    ts=now,
                    contact_id=contact_id,
                    agent_id=agent.id,
                    queue_id=contact.queue.config.id,
                    reason="caller_left",
                )
            )
        self._transition(contact, _CI_ABANDON)
        self._unqueue(contact)
        for kind in ("offer", "step", "maxwait", "starve"):
            self._cancel_timer(contact, kind, out)
        out.events.append(
            new_contact_abandoned(
                now, contact_id, contact.queue.id, now - contact.enqueued_at, not contact.direct
            )
        )
        contact.agent_id = None
        self._forget(contact)
        if agent is not None:
            self._after_release(agent, now, out)
        return out

    def _flow(self, contact: _Contact, now: float, out: Outcome) -> None:
        """Max wait reached while queued: flow out, or overflow to another queue."""
        cfg = contact.queue.config
        assert cfg.max_wait is not None
        self._unqueue(contact)
        for kind in ("step", "maxwait", "starve"):
            self._cancel_timer(contact, kind, out)
        out.events.append(
            ContactFlowedOut(
                ts=now,
                contact_id=contact.id,
                queue_id=cfg.id,
                reason="max_wait" if cfg.max_wait.action == "flow_out" else "overflow",
                target=cfg.max_wait.target,
                wait_s=now - contact.enqueued_at,
            )
        )
        if cfg.max_wait.action == "overflow":
            self._transition(contact, _CI_REQUEUE)
            assert cfg.max_wait.target is not None
            contact.queue = self._queues[cfg.max_wait.target]
            self._enqueue(contact, now, out, fresh=True)
            self._route_contact(contact, now, out)
            return
        self._transition(contact, _CI_FLOW_OUT)
        out.commands.append(
            FlowOut(
                contact_id=contact.id,
                queue_id=cfg.id,
                target=cfg.max_wait.target,
                reason="max_wait",
            )
        )
        self._forget(contact)

    def _forget(self, contact: _Contact) -> None:
        # Terminal contacts leave the engine's memory; the event log keeps their story.
        self._contacts.pop(contact.id, None)

    # ------------------------------------------------------------------ timers

    def _start_timer(self, contact: _Contact, kind: str, at: float, out: Outcome) -> None:
        # Cancelled timers keep their generation negated; never reuse one.
        gen = abs(contact.timers.get(kind, 0)) + 1
        contact.timers[kind] = gen
        out.commands.append(new_start_timer((kind, contact.id, gen), at))

    def _cancel_timer(self, contact: _Contact, kind: str, out: Outcome) -> None:
        gen = contact.timers.get(kind)
        if gen is not None and gen > 0:
            out.commands.append(new_cancel_timer((kind, contact.id, gen)))
            contact.timers[kind] = -gen

    def timer(self, timer: TimerId, now: float) -> Outcome:
        """A timer the engine asked for has fired. Stale timers do nothing."""
        kind, subject, gen = timer
        out = Outcome([], [])
        if kind == "wrapup":
            agent_id, _, contact_id = subject.partition("\x00")
            agent = self._agents.get(agent_id)
            slot = agent.slots.get(contact_id) if agent else None
            if (
                agent is not None
                and slot is not None
                and slot.state is _S_WRAP_UP
                and slot.wrap_gen == gen
            ):
                self._finish_wrapup(agent, slot, now, out, None, None, timed_out=True)
            return out
        contact = self._contacts.get(subject)
        if contact is None or contact.timers.get(kind) != gen:
            return out
        contact.timers[kind] = -gen
        if kind == "offer" and contact.state is _OFFERED:
            assert contact.agent_id is not None
            return self._missed(self._agents[contact.agent_id], contact, now, OfferTimedOut)
        if kind == "step":
            self._next_step(contact, now, out)
        elif kind == "maxwait" and contact.state is _QUEUED:
            self._flow(contact, now, out)
        elif kind == "starve" and contact.state is _QUEUED:
            self._raise_priority(contact, self.config.starvation_priority, now, out)
        elif kind == "starve" and contact.state is _OFFERED:
            # It goes back to the queue at the top if this offer is not taken.
            contact.priority = max(contact.priority, self.config.starvation_priority)
        elif kind == "consult":
            consult = self._consults.get(subject)
            if consult is not None and not consult.accepted and consult.timer_gen == gen:
                self._drop_consult(consult, now, out, _SI_CONSULT_TIMEOUT, "timed_out")
        return out

    def _next_step(self, contact: _Contact, now: float, out: Outcome) -> None:
        queue = contact.queue
        if contact.step_index + 1 >= len(queue.steps):
            return
        queued = contact.state is _QUEUED
        if queued:
            self._transition(contact, _CI_REQUEUE)
            self._unqueue(contact)
        contact.step_index += 1
        self._enter_step(contact, now, out)
        out.events.append(
            ContactStepChanged(
                ts=now,
                contact_id=contact.id,
                queue_id=queue.config.id,
                step=queue.steps[contact.step_index].name,
                priority=contact.priority,
                reason="step_timeout",
            )
        )
        if queued:
            self._push(contact)
            self._route_contact(contact, now, out)

    def _raise_priority(self, contact: _Contact, priority: int, now: float, out: Outcome) -> None:
        if contact.priority >= priority:
            return
        self._transition(contact, _CI_REQUEUE)
        self._unqueue(contact)
        contact.priority = priority
        out.events.append(
            ContactStepChanged(
                ts=now,
                contact_id=contact.id,
                queue_id=contact.queue.config.id,
                step=contact.queue.steps[contact.step_index].name,
                priority=priority,
                reason="starvation",
            )
        )
        self._push(contact)
        self._route_contact(contact, now, out)

    # ------------------------------------------------------------------ bookkeeping

    def _transition(self, contact: _Contact, event: ContactInput) -> None:
        nxt = _CONTACT_TRANSITIONS.get((contact.state, event))
        if nxt is None:
            raise errors.IllegalTransition(
                f"contact {contact.id} is {contact.state.value}; cannot {event.value}"
            )
        contact.state = nxt

    def _check_slot(self, slot: _Slot, event: SlotInput, contact_id: str) -> None:
        if slot_next(slot.state, event) is None:
            raise errors.IllegalTransition(
                f"contact {contact_id} is {slot.state.value} for you; cannot {event.value}"
            )

    def _apply_slot(self, agent: _Agent, slot: _Slot, event: SlotInput) -> None:
        nxt = _SLOT_TRANSITIONS.get((slot.state, event))
        if nxt is None:
            raise errors.IllegalTransition(
                f"agent {agent.id}: contact {slot.contact_id} is {slot.state.value}; "
                f"cannot {event.value}"
            )
        slot.state = nxt

    def _free_slot(self, agent: _Agent, slot: _Slot) -> None:
        del agent.slots[slot.contact_id]
        agent.in_use[slot.channel] -= 1

    def _touch_agent(self, agent: _Agent, now: float, out: Outcome) -> None:
        slots = agent.slots
        if not slots:
            if agent.status == OFFLINE:
                activity = _A_OFFLINE
            else:
                activity = _A_NOT_RESPONDING if agent.not_responding else _A_IDLE
        elif len(slots) == 1 and not agent.not_responding:
            for slot in slots.values():
                activity = _SLOT_ACTIVITY[slot.state]
        else:
            activity = self._derive_activity(agent)
        self._report(agent, activity, now, out)

    def _report(self, agent: _Agent, activity: Activity, now: float, out: Outcome) -> None:
        """Record the agent's activity; emit agent.state_changed if anything shown changed."""
        if activity is not agent.activity:
            agent.activity = activity
            agent.activity_since = now
        prev_activity = agent.reported_activity
        status = agent.status
        prev_status = agent.reported_status
        next_status = agent.next_status
        if (
            activity is prev_activity
            and status == prev_status
            and next_status == agent.reported_next
        ):
            return
        agent.reported_status = status
        agent.reported_activity = activity
        agent.reported_next = next_status
        out.events.append(
            new_agent_state_changed(
                now, agent.id, status, activity, next_status, prev_status, prev_activity
            )
        )

    def _derive_activity(self, agent: _Agent) -> Activity:
        slots = agent.slots
        if not slots:
            if agent.status == OFFLINE:
                return _A_OFFLINE
            return _A_NOT_RESPONDING if agent.not_responding else _A_IDLE
        if agent.not_responding:
            return _A_NOT_RESPONDING
        best = (9, _A_IDLE)
        for slot in slots.values():
            rank = _ACTIVITY_RANK[slot.state]
            if rank < best:
                best = rank
        return best[1]

    def _agent(self, agent_id: str) -> _Agent:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise errors.UnknownAgent(f"agent {agent_id!r} is not known")
        return agent

    def _contact(self, contact_id: str) -> _Contact:
        contact = self._contacts.get(contact_id)
        if contact is None:
            raise errors.UnknownContact(f"contact {contact_id!r} is not in routing")
        return contact

    def _held(self, agent_id: str, contact_id: str) -> tuple[_Agent, _Contact, _Slot]:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise errors.UnknownAgent(f"agent {agent_id!r} is not known")
        slot = agent.slots.get(contact_id)
        if slot is None:
            if contact_id not in self._contacts:
                raise errors.UnknownContact(f"contact {contact_id!r} is not in routing")
            raise errors.NotYourContact(f"contact {contact_id} is not assigned to {agent_id}")
        contact = self._contacts.get(contact_id)
        if contact is None or contact.agent_id != agent_id:
            raise errors.IllegalTransition(
                f"contact {contact_id} is {slot.state.value} for {agent_id}; that allows only "
                "completing wrap-up"
            )
        return agent, contact, slot

    def _agent_view(self, agent: _Agent) -> AttrView:
        p = agent.profile
        return AttrView(
            {
                "id": p.id,
                "team": p.team,
                "languages": p.languages,
                "skills": SkillView(agent.skills),
                "attributes": p.attributes,
                "status": agent.status,
            }
        )

    def _contact_view(self, contact: _Contact) -> AttrView:
        return AttrView(
            {
                "id": contact.id,
                "queue": contact.queue.config.id,
                "channel": contact.channel.value,
                "priority": contact.priority,
                "direction": contact.direction.value,
                "data": contact.data,
            }
        )

    # ------------------------------------------------------------------ reading state

    def agent(self, agent_id: str) -> AgentSnapshot:
        a = self._agent(agent_id)
        return AgentSnapshot(
            id=a.id,
            status=a.status,
            activity=a.activity.value,
            next_status=a.next_status,
            status_since=a.status_since,
            activity_since=a.activity_since,
            contacts={cid: s.state.value for cid, s in a.slots.items()},
            in_use={ch.value: n for ch, n in a.in_use.items() if n},
            skills=dict(a.skills),
            team=a.profile.team,
        )

    def agents(self) -> Iterable[AgentSnapshot]:
        return [self.agent(a) for a in self._agents]

    def contact(self, contact_id: str) -> ContactSnapshot:
        c = self._contact(contact_id)
        return ContactSnapshot(
            id=c.id,
            state=c.state.value,
            queue_id=c.queue.config.id,
            channel=c.channel.value,
            priority=c.priority,
            step=c.queue.steps[c.step_index].name,
            agent_id=c.agent_id,
            enqueued_at=c.enqueued_at,
            arrived_at=c.arrived_at,
            data=dict(c.data),
        )

    def contacts(self) -> list[ContactSnapshot]:
        return [self.contact(c) for c in self._contacts]

    def waiting(self, queue_id: str | None = None) -> list[str]:
        """Waiting contact ids in the order they would be served within each group."""
        found = [
            c
            for c in self._contacts.values()
            if c.state is _QUEUED and (queue_id is None or c.queue.config.id == queue_id)
        ]
        found.sort(
            key=lambda c: (c.queue.aging_per_s * c.enqueued_at - c.priority, c.enqueued_at, c.seq)
        )
        return [c.id for c in found]

    def queue_ids(self) -> list[str]:
        return list(self._queues)

    def queue_config(self, queue_id: str) -> QueueConfig:
        queue = self._queues.get(queue_id)
        if queue is None:
            raise errors.UnknownQueue(f"queue {queue_id!r} does not exist")
        return queue.config

    def explain(self, contact_id: str, now: float) -> Explanation:
        """Why a contact went to its agent, or why it is still waiting."""
        c = self._contact(contact_id)
        group = c.group if c.state is _QUEUED else None
        if group is None:
            group = self._group_for(c)
        by_activity: dict[str, int] = {}
        logged_in = 0
        for aid in group.eligible:
            a = self._agents[aid]
            if a.status == OFFLINE and not a.slots:
                continue
            logged_in += 1
            label = a.activity.value if a.status == AVAILABLE else f"status:{a.status}"
            by_activity[label] = by_activity.get(label, 0) + 1
        position: int | None = None
        if c.state is _QUEUED:
            mine = (c.queue.aging_per_s * c.enqueued_at - c.priority, c.enqueued_at, c.seq)
            position = 1 + sum(
                1
                for e in group.heap
                if e[:3] < mine
                and (o := self._contacts.get(e[4])) is not None
                and o.token == e[3]
                and o.group is group
            )
        step = c.queue.steps[c.step_index]
        reqs = " or ".join(
            ", ".join(f"{s}>={lvl}" for s, lvl in req) or "no skills" for req in group.requirements
        )
        if c.state is _QUEUED:
            if logged_in == 0:
                why = f"no logged-in agent meets step '{step.name}' ({reqs})"
            elif not group.pool:
                why = (
                    f"{logged_in} agent(s) meet step '{step.name}' ({reqs}) but none is "
                    f"available: {by_activity}"
                )
            else:
                why = (
                    f"{len(group.pool)} routable agent(s) qualify but the step's expression "
                    f"{step.config.expression if step.config else ''!r} excludes them"
                )
            if position and position > 1:
                why += f"; {position - 1} contact(s) ahead in this step"
        else:
            d = self._decision_dict(c)
            why = (
                f"{c.state.value} with agent {c.agent_id}: chosen by {d.get('strategy')} "
                f"in step '{d.get('step')}' when the {str(d.get('trigger', '')).replace('_', ' ')}"
            )
        return Explanation(
            contact_id=c.id,
            state=c.state.value,
            queue_id=c.queue.config.id,
            step=step.name,
            step_index=c.step_index,
            priority=c.priority,
            wait_s=now - c.enqueued_at,
            position=position,
            eligible_logged_in=logged_in,
            eligible_routable=len(group.pool),
            eligible_by_activity=by_activity,
            agent_id=c.agent_id,
            decision=self._decision_dict(c) or None,
            summary=why,
        )

    def _decision_dict(self, c: _Contact) -> dict[str, Any]:
        if c.decision is None:
            return {}
        agent_id, step, trigger, routable, at = c.decision
        return {
            "agent_id": agent_id,
            "step": step,
            "trigger": trigger,
            "strategy": self.config.strategy,
            "selector": self.config.selector,
            "eligible_routable": routable,
            "at": at,
        }

    def check_invariants(self) -> None:
        """Internal consistency, for tests: raises AssertionError on the first breach."""
        offered_to: dict[str, str] = {}
        for agent in self._agents.values():
            for ch in Channel:
                used = sum(1 for s in agent.slots.values() if s.channel is ch)
                assert used == agent.in_use[ch], (agent.id, ch, used, agent.in_use[ch])
                cap = agent.profile.capacity.get(ch, 0)
                assert used <= cap, f"agent {agent.id} over capacity on {ch}: {used}>{cap}"
            for cid, slot in agent.slots.items():
                if slot.state in (_S_OFFERED, _S_CONNECTED, _S_HELD, SlotState.CONSULT_HOLD):
                    assert cid not in offered_to, f"contact {cid} held by two agents"
                    offered_to[cid] = agent.id
                elif slot.state in _CONSULT_SLOTS:
                    consult = self._consults.get(cid)
                    assert consult is not None, f"{agent.id}: {slot.state} on {cid} without consult"
                    assert agent.id in (consult.from_agent, consult.to_agent), (agent.id, cid)
            for channel, groups in agent.groups.items():
                routable = self._routable(agent, channel)
                for g in groups:
                    assert (agent.id in g.pool) == routable, (agent.id, g.gid, routable)
        for cid, consult in self._consults.items():
            contact = self._contacts[cid]
            a_slot = self._agents[consult.from_agent].slots[cid]
            b_slot = self._agents[consult.to_agent].slots[cid]
            if consult.conference:
                assert contact.state is ContactState.CONNECTED, cid
                assert a_slot.state is b_slot.state is SlotState.CONFERENCED, cid
                assert contact.agent_id in (consult.from_agent, consult.to_agent), cid
            else:
                assert contact.state is ContactState.HELD, cid
                assert a_slot.state is SlotState.CONSULT_HOLD, cid
                assert contact.agent_id == consult.from_agent, cid
                expected = SlotState.CONSULTING if consult.accepted else SlotState.CONSULT_OFFERED
                assert b_slot.state is expected, cid
        for contact in self._contacts.values():
            if contact.id in self._consults and self._consults[contact.id].conference:
                continue
            if contact.state in (_OFFERED, ContactState.CONNECTED, ContactState.HELD):
                assert offered_to.get(contact.id) == contact.agent_id, contact.id
            if contact.state is _QUEUED:
                assert contact.group is not None and contact.agent_id is None, contact.id
