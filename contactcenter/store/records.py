"""The value types of the event log: a record to append and a record read back with its seq."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Protocol


class DomainEvent(Protocol):
    """What the routing core's events look like (``routing.events.Event``), structurally.

    Declared here so the store can accept them without importing the routing package.
    """

    @property
    def type(self) -> str: ...
    @property
    def ts(self) -> float: ...
    @property
    def contact_id(self) -> str | None: ...
    @property
    def agent_id(self) -> str | None: ...
    @property
    def queue_id(self) -> str | None: ...
    def payload(self) -> dict[str, Any]: ...


MAX_TYPE_LENGTH = 100


@dataclass(frozen=True, slots=True, kw_only=True)
class EventRecord:
    """One domain event as it goes into the log.

    ``ts`` is the time the event happened (epoch seconds, from the caller's clock or the
    simulated clock), not the time it was written.
    """

    type: str
    ts: float
    contact_id: str | None = None
    agent_id: str | None = None
    queue_id: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Reject bad records at the caller: a record that fails inside a group-commit batch
        # would fail every other caller of that batch.
        if not isinstance(self.type, str) or not self.type or len(self.type) > MAX_TYPE_LENGTH:
            raise ValueError(
                f"event type must be a non-empty string of at most "
                f"{MAX_TYPE_LENGTH} characters, got {self.type!r}"
            )
        if (
            isinstance(self.ts, bool)
            or not isinstance(self.ts, int | float)
            or not math.isfinite(self.ts)
        ):
            raise ValueError(f"event ts must be finite epoch seconds, got {self.ts!r}")
        if not isinstance(self.data, dict):
            raise ValueError(f"event data must be a dict, got {type(self.data).__name__}")
        for name in ("contact_id", "agent_id", "queue_id"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise ValueError(f"event {name} must be a string or None, got {value!r}")

    @classmethod
    def of(cls, event: DomainEvent) -> EventRecord:
        """The log record of a routing-core event."""
        return cls(
            type=event.type,
            ts=float(event.ts),
            contact_id=event.contact_id,
            agent_id=event.agent_id,
            queue_id=event.queue_id,
            data=event.payload(),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredEvent(EventRecord):
    """An event read back from (or just committed to) the log.

    ``seq`` is the log position: strictly increasing in commit order across all writers.
    ``node`` names the server process that wrote it.
    """

    seq: int
    node: str = ""

    def record(self) -> EventRecord:
        return EventRecord(
            type=self.type,
            ts=self.ts,
            contact_id=self.contact_id,
            agent_id=self.agent_id,
            queue_id=self.queue_id,
            data=self.data,
        )
