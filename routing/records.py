"""The engine's runtime records, its snapshots and its ``Outcome``.

The records are slotted dataclasses built from the validated configuration: reading a slot
is cheaper than reading a pydantic attribute on every decision. ``_new_contact`` and
``_new_slot`` build records field by field for the arrival and offer paths (the generated
keyword-capable __init__ costs twice these stores; tests/routing/test_fast_paths.py checks
that both build the same record).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from routing.events import (
    Command,
    Event,
    Offer,
)
from routing.expressions import Predicate, compile_expression
from routing.model import (
    OFFLINE,
    Activity,
    AgentProfile,
    Channel,
    ContactState,
    Direction,
    QueueConfig,
    RoutingStep,
    WrapUpPolicy,
)
from routing.pools import AgentPool, Pool
from routing.transitions import CONTACT_ENTRIES, Entry, SlotState

Requirement = tuple[tuple[str, int], ...]
_new = object.__new__
(_ARRIVE_STATE,) = CONTACT_ENTRIES[Entry.ARRIVE]
"""A new arrival's state, read from the entry table once for the arrival fast path."""


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
    c.state = _ARRIVE_STATE
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


def build_queue(q: QueueConfig) -> _Queue:
    """The runtime record of a configured queue, with its steps' expressions compiled."""
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
