"""The events the server shell writes to the log itself (the routing engine's are in
routing/events.py): one frozen type per event, so that each payload is defined once and
every writer builds the same shape (``contact.arrived`` has five writers: the gateway,
the IVR, click-to-dial, the campaign runner and the restart of an IVR call).

``record(ts)`` turns one into the log's ``EventRecord``; the payload is every field but
the ids, in declaration order (``payload()``, as routing's and the IVR's events).
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Literal

from contactcenter.store.records import EventRecord

_IDS = frozenset({"contact_id", "agent_id", "queue_id"})


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerEvent:
    type: ClassVar[str]
    contact_id: str
    agent_id: str | None = None
    queue_id: str | None = None

    def payload(self) -> dict[str, Any]:
        """Every field but the ids, as routing and IVR events give theirs."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in _IDS}

    def record(self, ts: float) -> EventRecord:
        return EventRecord(
            type=self.type,
            ts=ts,
            contact_id=self.contact_id,
            agent_id=self.agent_id,
            queue_id=self.queue_id,
            data=self.payload(),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactArrived(ServerEvent):
    """A contact entered routing: the call log's first fact about it, and what a restart
    rebuilds the contact from (replay.py)."""

    type: ClassVar[str] = "contact.arrived"
    channel: str
    direction: Literal["inbound", "outbound"]
    ani: str | None = None
    dnis: str | None = None
    customer_id: str | None = None
    priority: int | None = None
    skills: dict[str, int] = field(default_factory=dict)
    attached: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class CallDigits(ServerEvent):
    """Digits the gateway reported for a call in no IVR (only kept in the log)."""

    type: ClassVar[str] = "call.digits"
    digits: str


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactMuted(ServerEvent):
    type: ClassVar[str] = "contact.muted"


@dataclass(frozen=True, slots=True, kw_only=True)
class ContactUnmuted(ServerEvent):
    type: ClassVar[str] = "contact.unmuted"


@dataclass(frozen=True, slots=True, kw_only=True)
class DtmfSent(ServerEvent):
    """Keys an agent sent on a call: the count only (they may be a card number)."""

    type: ClassVar[str] = "contact.dtmf_sent"
    count: int


@dataclass(frozen=True, slots=True, kw_only=True)
class TransferredExternal(ServerEvent):
    """An agent sent the call to an outside number (committed with the engine's end)."""

    type: ClassVar[str] = "contact.transferred_external"
    number: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DialResult(ServerEvent):
    """What became of an originate (the gateway's ``originate_result``): a click-to-dial
    call's, or a campaign dial's, which also names its campaign, the answering-machine
    verdict, when a live answer began and the outcome attached to the call log."""

    type: ClassVar[str] = "dial.result"
    result: str
    campaign_id: str | None = None
    amd: str | None = None
    answered_at: float | None = None
    attached: dict[str, Any] | None = None

    def payload(self) -> dict[str, Any]:
        out: dict[str, Any] = {"result": self.result}
        if self.campaign_id is None:
            return out  # click-to-dial: the result only
        out["campaign_id"] = self.campaign_id
        if self.answered_at is not None:  # a live answer: the detector's verdict, when
            out["amd"] = self.amd
            out["answered_at"] = self.answered_at
        out["attached"] = self.attached
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class IvrCallArrived(ServerEvent):
    """A call to an IVR number (``ivr.started`` does not carry the numbers; a restart
    needs them to resume the call)."""

    type: ClassVar[str] = "ivr.call_arrived"
    channel: str
    ani: str | None
    dnis: str | None
    tree: str


@dataclass(frozen=True, slots=True, kw_only=True)
class IvrQueueFailed(ServerEvent):
    type: ClassVar[str] = "ivr.queue_failed"
    code: str
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class IvrCallerLeft(ServerEvent):
    type: ClassVar[str] = "ivr.caller_left"
    node: str | None
    reason: str
    path: list[str]
    purpose: str


SERVER_EVENT_TYPES: dict[str, type[ServerEvent]] = {
    cls.type: cls
    for cls in (
        ContactArrived,
        CallDigits,
        ContactMuted,
        ContactUnmuted,
        DtmfSent,
        TransferredExternal,
        DialResult,
        IvrCallArrived,
        IvrQueueFailed,
        IvrCallerLeft,
    )
}
