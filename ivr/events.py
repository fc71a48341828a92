"""Events of an IVR session, for the server's event log.

One event per thing that happened; ``type`` is its name in the log. Values the tree marks
sensitive are already masked here (``MASK``), so the server may log and publish events as
they are. ``ts`` is the ``now`` the step was given.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

from ivr.model import Scalar

MASK = "***"


@dataclass(frozen=True, slots=True, kw_only=True)
class IvrEvent:
    type: ClassVar[str] = "ivr.event"
    ts: float
    contact_id: str
    node: str

    def payload(self) -> dict[str, Any]:
        """The fields beyond ts and contact_id, for the log's data column."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name not in ("ts", "contact_id")
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class Started(IvrEvent):
    type: ClassVar[str] = "ivr.started"
    tree: str
    channel: str


@dataclass(frozen=True, slots=True, kw_only=True)
class EnteredNode(IvrEvent):
    type: ClassVar[str] = "ivr.entered_node"
    node_type: str


@dataclass(frozen=True, slots=True, kw_only=True)
class InputReceived(IvrEvent):
    type: ClassVar[str] = "ivr.input"
    value: str
    """What the caller entered (MASK on a sensitive node)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class InputInvalid(IvrEvent):
    type: ClassVar[str] = "ivr.invalid"
    value: str
    reason: str
    attempt: int


@dataclass(frozen=True, slots=True, kw_only=True)
class NoInput(IvrEvent):
    type: ClassVar[str] = "ivr.no_input"
    attempt: int


@dataclass(frozen=True, slots=True, kw_only=True)
class RetriesExhausted(IvrEvent):
    type: ClassVar[str] = "ivr.retries_exhausted"
    attempts: int
    next: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Collected(IvrEvent):
    """A variable got a value from the caller, a menu choice, a set node or a survey."""

    type: ClassVar[str] = "ivr.collected"
    variable: str
    value: Scalar
    sensitive: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class BranchTaken(IvrEvent):
    type: ClassVar[str] = "ivr.branch"
    condition: str | None
    """The case that held; None when the default was taken."""
    next: str
    errors: tuple[str, ...] = ()
    """Cases that failed while evaluating (counted as false)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class LookupRequested(IvrEvent):
    type: ClassVar[str] = "ivr.lookup"
    by: str
    key: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LookupAnswered(IvrEvent):
    type: ClassVar[str] = "ivr.lookup_result"
    found: bool
    customer_id: str | None
    timed_out: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SurveyAnswered(IvrEvent):
    """The survey ended: None for a question that was not answered."""

    type: ClassVar[str] = "ivr.survey"
    csat: int | None
    resolved: bool | None


@dataclass(frozen=True, slots=True, kw_only=True)
class LimitReached(IvrEvent):
    type: ClassVar[str] = "ivr.limit"
    inputs: int


@dataclass(frozen=True, slots=True, kw_only=True)
class Exited(IvrEvent):
    type: ClassVar[str] = "ivr.exited"
    outcome: str
    """queue, transfer, callback, voicemail or hangup."""
    target: str | None
    path: tuple[str, ...]
    variables: dict[str, Scalar]
    """Masked where sensitive."""


EVENT_TYPES: dict[str, type[IvrEvent]] = {
    cls.type: cls
    for cls in (
        Started,
        EnteredNode,
        InputReceived,
        InputInvalid,
        NoInput,
        RetriesExhausted,
        Collected,
        BranchTaken,
        LookupRequested,
        LookupAnswered,
        SurveyAnswered,
        LimitReached,
        Exited,
    )
}
