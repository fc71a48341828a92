"""Configuration models of the routing core: channels, queues, agents, routing policy.

These are the validated inputs (pydantic, loadable from YAML). The engine keeps its own
mutable runtime state built from them; see ``routing.engine``.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class Channel(StrEnum):
    VOICE = "voice"
    CHAT = "chat"
    EMAIL = "email"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class ContactState(StrEnum):
    QUEUED = "queued"
    OFFERED = "offered"
    CONNECTED = "connected"
    HELD = "held"
    ENDED = "ended"
    ABANDONED = "abandoned"
    FLOWED_OUT = "flowed_out"


TERMINAL_STATES = frozenset({ContactState.ENDED, ContactState.ABANDONED, ContactState.FLOWED_OUT})


class Activity(StrEnum):
    """What the system says the agent is doing (derived, never chosen)."""

    OFFLINE = "offline"
    IDLE = "idle"
    OFFERED = "offered"
    ON_CONTACT = "on_contact"
    ON_HOLD = "on_hold"
    WRAP_UP = "wrap_up"
    NOT_RESPONDING = "not_responding"


AVAILABLE = "available"
OFFLINE = "offline"
DEFAULT_REASON_CODES = ("break", "lunch", "training", "meeting", "not_ready")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Proficiency = int


def _check_skills(skills: dict[str, int]) -> dict[str, int]:
    for name, level in skills.items():
        if not name:
            raise ValueError("skill names must be non-empty")
        if not 1 <= level <= 10:
            raise ValueError(f"proficiency of skill {name!r} is {level}; use a whole number 1-10")
    return skills


class ServiceLevelTarget(_Strict):
    threshold_s: float = Field(20.0, gt=0)
    target: float = Field(0.8, gt=0, le=1)


class WrapUpPolicy(_Strict):
    """none: agent is free at once; timed: free after `seconds` (or earlier on done);
    mandatory: free only when the agent says done."""

    mode: Literal["none", "timed", "mandatory"] = "timed"
    seconds: float = Field(15.0, ge=0)
    disposition_required: bool = False
    dispositions: tuple[str, ...] = ()


class RoutingStep(_Strict):
    """One step of a queue's routing policy (bullseye-style widening over wait time).

    The step applies from when the previous step timed out; ``timeout_s`` None means the
    step holds until the contact is answered or leaves.
    """

    name: str
    timeout_s: float | None = Field(None, gt=0)
    skills: dict[str, int] | None = None
    """Replaces the queue's skill requirement for this step (widen or change skills)."""
    min_proficiency_delta: int = Field(0, le=0)
    """Lowers every minimum proficiency by this much (never below 1)."""
    fallback_queues: tuple[str, ...] = ()
    """Agents who qualify for these queues also qualify in this step."""
    expression: str | None = None
    """Extra eligibility over `agent` and `contact`, e.g. "agent.team == 'gold'"."""
    priority_change: int = 0
    skip_if: Literal["no_eligible_logged_in", "no_eligible_available"] | None = None

    @field_validator("skills")
    @classmethod
    def _skills(cls, v: dict[str, int] | None) -> dict[str, int] | None:
        return None if v is None else _check_skills(v)


class MaxWait(_Strict):
    seconds: float = Field(gt=0)
    action: Literal["flow_out", "overflow"] = "flow_out"
    target: str | None = None
    """For flow_out: where the contact goes (voicemail, an external number...), reported
    in the event; for overflow: the queue id it moves to."""

    @model_validator(mode="after")
    def _overflow_needs_queue(self) -> MaxWait:
        if self.action == "overflow" and not self.target:
            raise ValueError("max_wait.action 'overflow' needs max_wait.target: a queue id")
        return self


class QueueConfig(_Strict):
    id: str
    name: str = ""
    channel: Channel = Channel.VOICE
    skills: dict[str, int] = Field(default_factory=dict)
    """Required skills with minimum proficiency; an agent needs all of them."""
    priority: int = 0
    service_level: ServiceLevelTarget = ServiceLevelTarget()
    offer_timeout_s: float = Field(15.0, gt=0)
    wrap_up: WrapUpPolicy = WrapUpPolicy()
    steps: tuple[RoutingStep, ...] = ()
    max_wait: MaxWait | None = None
    priority_aging_per_min: float = Field(0.0, ge=0)
    """Effective priority grows by this much per minute waited (priority ageing)."""
    cost_of_wait: float = Field(1.0, gt=0)
    """Weight c of the queue in the generalized c-mu selector."""
    mean_handle_s: float = Field(300.0, gt=0)
    """Expected handle time (1/mu) for the c-mu selector."""
    starvation_s: float | None = Field(None, gt=0)
    """A contact still waiting after this long is raised to the top priority."""
    missed_offer_not_responding: bool = True
    short_abandon_s: float = Field(5.0, ge=0)

    @field_validator("skills")
    @classmethod
    def _skills(cls, v: dict[str, int]) -> dict[str, int]:
        return _check_skills(v)


class AgentProfile(_Strict):
    id: str
    name: str = ""
    team: str = ""
    skills: dict[str, int] = Field(default_factory=dict)
    capacity: dict[Channel, int] = Field(default_factory=lambda: {Channel.VOICE: 1})
    interruptible_by: dict[Channel, tuple[Channel, ...]] = Field(default_factory=dict)
    """While busy on the key channel, offers on these channels may still come
    (e.g. {chat: [voice]}: a voice call may interrupt chats)."""
    languages: tuple[str, ...] = ()
    attributes: dict[str, str | int | float | bool] = Field(default_factory=dict)

    @field_validator("skills")
    @classmethod
    def _skills(cls, v: dict[str, int]) -> dict[str, int]:
        return _check_skills(v)

    @field_validator("capacity")
    @classmethod
    def _capacity(cls, v: dict[Channel, int]) -> dict[Channel, int]:
        for ch, n in v.items():
            if n < 0 or n > 50:
                raise ValueError(f"capacity for {ch.value} is {n}; use 0-50")
        if v.get(Channel.VOICE, 0) > 1:
            raise ValueError("voice is exclusive: capacity for voice must be 0 or 1")
        return v


AgentStrategy = Literal["longest_idle", "most_skilled", "least_occupied", "round_robin", "blend"]
ContactSelector = Literal["fcfs", "cmu"]


class BlendWeights(_Strict):
    """Weighted blend: score = idle_minutes*idle + proficiency*skill - occupancy*occupancy."""

    idle: float = 1.0
    skill: float = 1.0
    occupancy: float = 0.0


class RoutingConfig(_Strict):
    queues: tuple[QueueConfig, ...] = ()
    strategy: AgentStrategy = "longest_idle"
    selector: ContactSelector = "fcfs"
    blend: BlendWeights = BlendWeights()
    reason_codes: tuple[str, ...] = DEFAULT_REASON_CODES
    starvation_priority: int = 1_000_000

    @model_validator(mode="after")
    def _references(self) -> RoutingConfig:
        ids = [q.id for q in self.queues]
        dupes = {i for i in ids if ids.count(i) > 1}
        if dupes:
            raise ValueError(f"queue ids must be unique; repeated: {sorted(dupes)}")
        known = set(ids)
        for q in self.queues:
            for step in q.steps:
                for fb in step.fallback_queues:
                    if fb not in known:
                        raise ValueError(
                            f"queue {q.id!r} step {step.name!r}: fallback queue {fb!r} "
                            f"does not exist; define it under queues"
                        )
            if q.max_wait and q.max_wait.action == "overflow" and q.max_wait.target not in known:
                raise ValueError(
                    f"queue {q.id!r}: max_wait.target {q.max_wait.target!r} is not a queue id"
                )
        for code in self.reason_codes:
            if code in (AVAILABLE, OFFLINE):
                raise ValueError(f"reason code {code!r} is reserved; choose another name")
        return self


class ContactSpec(_Strict):
    """A contact as it enters the engine."""

    id: str
    queue_id: str
    channel: Channel | None = None
    """Defaults to the queue's channel."""
    direction: Direction = Direction.INBOUND
    priority: int | None = None
    """Defaults to the queue's priority (e.g. raised from the customer's tier)."""
    skills: dict[str, int] = Field(default_factory=dict)
    """Extra required skills on top of the queue's (e.g. a language from the IVR)."""
    data: dict[str, object] = Field(default_factory=dict)
    arrived_at: float | None = None
