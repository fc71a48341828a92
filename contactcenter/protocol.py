"""The websocket protocol: every message type the agent console and the server exchange.

Server to client: an envelope ``{"type", "seq", "ts", "data"}``; ``seq`` numbers the
messages of one agent's channel so a reconnecting console can ask for what it missed.
Client to server: a flat command ``{"type", "id", ...fields}``; ``id`` is echoed in the
``reply`` (or ``error``) that answers it.

This is the one module that defines these shapes: the hub, the tests and (by reading this
file) the browser console agree on them here.
"""

from __future__ import annotations

import json
import time
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

MAX_FRAME_BYTES = 64 * 1024
"""Larger client frames are refused (a console never needs more; notes are bounded)."""
MAX_NOTES = 4000

CommandId = Annotated[str, Field(min_length=1, max_length=64)] | int
ContactId = Annotated[str, Field(min_length=1, max_length=128)]


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: CommandId


class Hello(_Command):
    """First message of a (re)connection; ``last_seq`` asks for the messages missed."""

    type: Literal["hello"]
    last_seq: int | None = Field(None, ge=0)


class Resume(_Command):
    """Same as hello with a last_seq: replay what was sent after it."""

    type: Literal["resume"]
    last_seq: int = Field(ge=0)


class SetStatus(_Command):
    type: Literal["set_status"]
    status: str = Field(min_length=1, max_length=64)


class Accept(_Command):
    type: Literal["accept"]
    contact_id: ContactId


class Reject(_Command):
    type: Literal["reject"]
    contact_id: ContactId


class Hold(_Command):
    type: Literal["hold"]
    contact_id: ContactId


class ResumeContact(_Command):
    type: Literal["resume_contact"]
    contact_id: ContactId


class End(_Command):
    type: Literal["end"]
    contact_id: ContactId


class Wrapup(_Command):
    type: Literal["wrapup"]
    contact_id: ContactId
    disposition: str | None = Field(None, min_length=1, max_length=64)
    notes: str | None = Field(None, max_length=MAX_NOTES)


class Transfer(_Command):
    """Blind transfer to a queue or to an agent (exactly one of the two)."""

    type: Literal["transfer"]
    contact_id: ContactId
    to_queue: str | None = Field(None, min_length=1, max_length=64)
    to_agent: str | None = Field(None, min_length=1, max_length=64)

    @model_validator(mode="after")
    def _one_target(self) -> Transfer:
        if (self.to_queue is None) == (self.to_agent is None):
            raise ValueError("give exactly one of to_queue and to_agent")
        return self


AgentCommand = Annotated[
    Hello | Resume | SetStatus | Accept | Reject | Hold | ResumeContact | End | Wrapup
    | Transfer,
    Field(discriminator="type"),
]
COMMAND_TYPES: tuple[str, ...] = (
    "hello", "resume", "set_status", "accept", "reject", "hold", "resume_contact", "end",
    "wrapup", "transfer",
)
_COMMANDS: TypeAdapter[AgentCommand] = TypeAdapter(AgentCommand)


class ProtocolError(Exception):
    """A client frame that cannot be acted on; becomes an ``error`` message."""

    def __init__(self, code: str, message: str, command_id: str | int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.command_id = command_id


def parse_command(raw: str | bytes) -> AgentCommand:
    """One client frame as a validated command, or ``ProtocolError`` naming the problem."""
    if len(raw) > MAX_FRAME_BYTES:
        raise ProtocolError(
            "frame_too_large", f"frame of {len(raw)} bytes exceeds {MAX_FRAME_BYTES} bytes"
        )
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError("bad_json", f"not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ProtocolError("bad_message", "a command must be a JSON object")
    raw_id = data.get("id")
    command_id = raw_id if isinstance(raw_id, str | int) and not isinstance(raw_id, bool) \
        else None
    kind = data.get("type")
    if kind not in COMMAND_TYPES:
        raise ProtocolError(
            "unknown_type",
            f"unknown command type {kind!r}; use one of {list(COMMAND_TYPES)}",
            command_id,
        )
    try:
        return _COMMANDS.validate_python(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'][1:]) or '(command)'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ProtocolError("invalid_command", f"{kind}: {problems}", command_id) from None


# --- server to client ----------------------------------------------------------------------


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True)

    type: str
    seq: int
    ts: float
    data: dict[str, Any]


class ScreenPop(BaseModel):
    known: bool
    """False: no customer matched the caller; ``message`` says so."""
    message: str
    ani: str | None = None
    customer: dict[str, Any] | None = None
    matches: int = 0
    """More than one: a shared number; the first is shown."""
    recent: list[dict[str, Any]] = []
    """Last interactions, newest first, with disposition and notes."""


class OfferData(BaseModel):
    contact_id: str
    queue: str
    channel: str
    expires_at: float
    screen_pop: ScreenPop


class ContactStateData(BaseModel):
    contact_id: str
    state: str
    """The event that changed it: answered, held, resumed, ended, wrapup_completed..."""
    queue: str | None = None
    event: str
    detail: dict[str, Any] = {}


class AgentStateData(BaseModel):
    agent_id: str
    status: str
    activity: str
    next_status: str | None = None
    contacts: dict[str, str] = {}


def reply(command_id: str | int, **data: Any) -> dict[str, Any]:
    return {"id": command_id, "ok": True, **data}


def error_data(code: str, message: str, command_id: str | int | None) -> dict[str, Any]:
    return {"id": command_id, "code": code, "message": message}


def envelope(kind: str, seq: int, data: dict[str, Any], ts: float | None = None) -> str:
    return Envelope(
        type=kind, seq=seq, ts=time.time() if ts is None else ts, data=data
    ).model_dump_json()
