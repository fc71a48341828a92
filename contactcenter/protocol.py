"""The websocket protocol: every frame type and close code of the server's websockets (the
agent console, the chat visitor, the supervisor wallboard and the telephony gateway).

Server to client: an envelope ``{"type", "seq", "ts", "data"}``; ``seq`` numbers the
messages of one agent's channel so a reconnecting console can ask for what it missed.
Client to server: a flat command ``{"type", "id", ...fields}``; ``id`` is echoed in the
``reply`` (or ``error``) that answers it.

This is the one module that defines these shapes: the hub, the tests and (by reading this
file) the browser console agree on them here.
"""

from __future__ import annotations

import json
import re
import time
from typing import Annotated, Any, Final, Literal, NamedTuple, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import to_jsonable_python

from contactcenter import jsonin

MAX_FRAME_BYTES = 64 * 1024
"""Larger client frames are refused (a console never needs more; notes are bounded)."""

# What each socket's ``WebSocketResponse(max_msg_size=...)`` takes: a larger frame closes
# the socket with ``CLOSE_TOO_LARGE`` (aiohttp does it, before reading the frame whole);
# below that, a frame over its kind's own limit gets an ``error`` frame and the socket
# stays open.
AGENT_SOCKET_MAX_BYTES = 4 * MAX_FRAME_BYTES
GATEWAY_SOCKET_MAX_BYTES = 4 * MAX_FRAME_BYTES
VISITOR_SOCKET_MAX_BYTES = MAX_FRAME_BYTES
WALLBOARD_SOCKET_MAX_BYTES = 4096
"""The wallboard's socket carries nothing from the client; it answers any frame with an
``error``."""
MAX_NOTES = 4000

CommandId = Annotated[str, Field(min_length=1, max_length=64)] | int
ContactId = Annotated[str, Field(min_length=1, max_length=128)]


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: CommandId


SessionId = Annotated[str, Field(min_length=1, max_length=64)]


class Hello(_Command):
    """First message of a (re)connection; ``last_seq`` asks for the messages missed.

    ``session`` is the one the console's last ``hello`` reply named: when the server has
    restarted since (another session), seqs started over and everything it still has
    for the agent is replayed (the reply says ``gap``)."""

    type: Literal["hello"]
    last_seq: int | None = Field(None, ge=0)
    session: SessionId | None = None


class Resume(_Command):
    """Same as hello with a last_seq: replay what was sent after it."""

    type: Literal["resume"]
    last_seq: int = Field(ge=0)
    session: SessionId | None = None


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


_NUMBER_DECOR = re.compile(r"[\s().-]")
_NUMBER = re.compile(r"^(\+[1-9][0-9]{2,14}|[0-9]{3,15})$")
DIAL_ID = r"^[A-Za-z0-9_.:@-]{1,64}$"


def normalize_number(value: str) -> str:
    """An E.164-ish phone number without its spaces, dots, dashes and parentheses:
    ``+``, a country code's non-zero digit, 3 to 15 digits in all (or 3 to 15 digits
    without the ``+``: an internal or national number the gateway knows how to route)."""
    number = _NUMBER_DECOR.sub("", value)
    if not _NUMBER.match(number):
        raise ValueError(f"{value!r} is not a phone number; use E.164, e.g. +14155550123")
    return number


class Dial(_Command):
    """Click-to-dial: call ``number`` for the agent (connected to the agent when the callee
    answers). ``customer_id`` attaches the CRM record (else it is looked up by number);
    ``queue`` chooses the wrap-up policy (default: the first voice queue the agent has
    the skills for)."""

    type: Literal["dial"]
    number: str = Field(min_length=1, max_length=32)
    customer_id: str | None = Field(None, pattern=DIAL_ID)
    queue: str | None = Field(None, pattern=DIAL_ID)

    @field_validator("number")
    @classmethod
    def _number(cls, value: str) -> str:
        return normalize_number(value)


class Transfer(_Command):
    """Blind transfer to a queue, to an agent or to an external ``number`` (exactly one of
    the three). The number is normalized as ``dial``'s is."""

    type: Literal["transfer"]
    contact_id: ContactId
    to_queue: str | None = Field(None, min_length=1, max_length=64)
    to_agent: str | None = Field(None, min_length=1, max_length=64)
    number: str | None = Field(None, min_length=1, max_length=32)

    @field_validator("number")
    @classmethod
    def _number(cls, value: str | None) -> str | None:
        return None if value is None else normalize_number(value)

    @model_validator(mode="after")
    def _one_target(self) -> Transfer:
        given = [t for t in (self.to_queue, self.to_agent, self.number) if t is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of to_queue, to_agent and number")
        return self


DTMF_DIGITS = r"^[0-9*#A-D]{1,32}$"


class Mute(_Command):
    """Mute (``muted: true``) or unmute the agent's microphone on a connected voice call."""

    type: Literal["mute"]
    contact_id: ContactId
    muted: bool


class Dtmf(_Command):
    """Tones the agent keys into a connected voice call (an IVR at the far end, say).
    Never logged: they may be a card number; the event log keeps only their count."""

    type: Literal["dtmf"]
    contact_id: ContactId
    digits: str = Field(pattern=DTMF_DIGITS)


class Consult(_Command):
    """Warm transfer, first step: put the caller on hold and ask agent ``agent_id`` (logged
    in, available, a free voice line) to talk first. It gets a ``consult_offer``."""

    type: Literal["consult"]
    contact_id: ContactId
    agent_id: Annotated[str, Field(min_length=1, max_length=64)]


class ConsultAccept(_Command):
    """The consulted agent answers a ``consult_offer``: it talks with the first agent."""

    type: Literal["consult_accept"]
    contact_id: ContactId


class ConsultReject(_Command):
    """The consulted agent declines a ``consult_offer`` (or hangs up on an answered
    consult): the caller stays on hold with the first agent."""

    type: Literal["consult_reject"]
    contact_id: ContactId


class ConsultComplete(_Command):
    """The first agent hands the caller to the consulted agent and goes to wrap-up."""

    type: Literal["consult_complete"]
    contact_id: ContactId


class ConsultCancel(_Command):
    """The first agent calls the consult off: the other agent is freed, the caller is
    resumed."""

    type: Literal["consult_cancel"]
    contact_id: ContactId


class Conference(_Command):
    """The first agent joins the caller, itself and the consulted agent (answered)."""

    type: Literal["conference"]
    contact_id: ContactId


class LeaveConference(_Command):
    """Either agent leaves a conference and goes to wrap-up; the other keeps the caller."""

    type: Literal["leave_conference"]
    contact_id: ContactId


CONSULT_COMMANDS = (
    Consult,
    ConsultAccept,
    ConsultReject,
    ConsultComplete,
    ConsultCancel,
    Conference,
    LeaveConference,
)


MAX_CHAT_TEXT = 2000


class ChatSend(_Command):
    """A message from the agent to the visitor of a chat the agent holds (connected)."""

    type: Literal["chat_send"]
    contact_id: ContactId
    text: str = Field(min_length=1, max_length=MAX_CHAT_TEXT)

    @field_validator("text")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the message is empty")
        return value


class ChatTyping(_Command):
    """The agent started or stopped typing in a chat (the visitor sees an indicator)."""

    type: Literal["chat_typing"]
    contact_id: ContactId
    typing: bool


AgentCommand = Annotated[
    Hello
    | Resume
    | SetStatus
    | Accept
    | Reject
    | Hold
    | ResumeContact
    | End
    | Wrapup
    | Transfer
    | Dial
    | ChatSend
    | ChatTyping
    | Mute
    | Dtmf
    | Consult
    | ConsultAccept
    | ConsultReject
    | ConsultComplete
    | ConsultCancel
    | Conference
    | LeaveConference,
    Field(discriminator="type"),
]
COMMAND_TYPES: tuple[str, ...] = (
    "hello",
    "resume",
    "set_status",
    "accept",
    "reject",
    "hold",
    "resume_contact",
    "end",
    "wrapup",
    "transfer",
    "dial",
    "chat_send",
    "chat_typing",
    "mute",
    "dtmf",
    "consult",
    "consult_accept",
    "consult_reject",
    "consult_complete",
    "consult_cancel",
    "conference",
    "leave_conference",
)
_COMMANDS: TypeAdapter[AgentCommand] = TypeAdapter(AgentCommand)


class ProtocolError(Exception):
    """A client frame that cannot be acted on; becomes an ``error`` message."""

    def __init__(self, code: str, message: str, command_id: str | int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.command_id = command_id


def decode_frame(raw: str | bytes, max_bytes: int = MAX_FRAME_BYTES) -> Any:
    """A client frame's JSON, from the server's one decoder (``jsonin.loads``: nesting at
    most ``jsonin.MAX_DEPTH`` deep, finite numbers, storable text), or ``ProtocolError``:
    ``frame_too_large``, ``bad_json``, ``too_deep``, ``bad_number`` or ``bad_text`` (the
    message names the field to blame). Every socket reads its frames through here."""
    if len(raw) > max_bytes:
        raise ProtocolError(
            "frame_too_large", f"frame of {len(raw)} bytes exceeds {max_bytes} bytes"
        )
    try:
        return jsonin.loads(raw)
    except jsonin.BadJson as exc:
        raise ProtocolError(exc.code, exc.message) from None


def _command_id(data: dict[str, Any]) -> str | int | None:
    raw_id = data.get("id")
    if isinstance(raw_id, str) and 1 <= len(raw_id) <= 64:
        return raw_id
    return raw_id if isinstance(raw_id, int) and not isinstance(raw_id, bool) else None


def parse_command(raw: str | bytes) -> AgentCommand:
    """One client frame as a validated command, or ``ProtocolError`` naming the problem."""
    data = decode_frame(raw)
    if not isinstance(data, dict):
        raise ProtocolError("bad_message", "a command must be a JSON object")
    command_id = _command_id(data)
    kind = data.get("type")
    if kind not in COMMAND_TYPES:
        raise ProtocolError(
            "unknown_type",
            f"unknown command type {shown(kind)}; use one of {list(COMMAND_TYPES)}",
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


class IvrPop(BaseModel):
    """What the caller did in the IVR (or the chat bot): the nodes visited and the
    variables collected; values of ``sensitive`` variables are masked ("***")."""

    tree: str | None = None
    path: list[str] = []
    variables: dict[str, Any] = {}
    sensitive: list[str] = []


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
    ivr: IvrPop | None = None
    """Set when the contact came through an IVR tree (voice or chat)."""
    chat: dict[str, str] | None = None
    """A web chat: the visitor's ``name`` and ``question`` (their text, as typed)."""


class OfferData(BaseModel):
    contact_id: str
    queue: str
    channel: str
    expires_at: float
    screen_pop: ScreenPop
    enqueued_at: float | None = None
    """Server time the contact entered its queue (the offer shows how long it waited)."""


class ConsultOfferData(BaseModel):
    """``consult_offer``: agent ``from_agent`` asks this agent to talk about its caller
    (on hold meanwhile); answer with ``consult_accept`` / ``consult_reject`` before
    ``expires_at``."""

    contact_id: str
    from_agent: str
    queue: str
    channel: str
    expires_at: float
    screen_pop: ScreenPop


ConsultState = Literal[
    "offered",
    "consulting",
    "rejected",
    "timed_out",
    "cancelled",
    "completed",
    "conference",
    "left",
    "caller_left",
    "dropped",
]


class ConsultStateData(BaseModel):
    """``consult_state``, to both agents of a consult: how it stands now. ``reason`` says
    why a consult ended without a transfer (rejected, timed_out, caller_left,
    agent_logged_out); ``remaining``: who keeps the caller after ``left``."""

    contact_id: str
    state: ConsultState
    from_agent: str
    to_agent: str
    event: str
    reason: str | None = None
    remaining: str | None = None


class ContactStateData(BaseModel):
    contact_id: str
    state: str
    """The event that changed it: answered, held, resumed, ended, wrapup_completed..."""
    queue: str | None = None
    event: str
    detail: dict[str, Any] = {}


class ChatMessageData(BaseModel):
    """``chat.message``: a line of a chat the agent holds (``history``: sent before the
    agent joined, replayed when it answers). ``line`` numbers the chat's transcript."""

    contact_id: str
    line: int
    sender: Literal["visitor", "bot", "agent", "system"]
    name: str | None = None
    text: str
    ts: float
    history: bool = False


class ChatTypingData(BaseModel):
    """``chat.typing``: the visitor started or stopped typing."""

    contact_id: str
    typing: bool


DialResult = Literal["answered", "busy", "no_answer", "invalid_number", "failed"]
DIAL_RESULTS: tuple[str, ...] = get_args(DialResult)


class DialResultData(BaseModel):
    """``dial_result``: what became of a call the agent dialled. ``answered``: the callee
    is on the line (the gateway bridges the agent); anything else ended the contact and
    the agent is in wrap-up for it."""

    contact_id: str
    number: str | None = None
    result: DialResult


class CampaignPreviewData(BaseModel):
    """``campaign_preview`` (preview-mode campaigns): a contact record for the agent to
    look at and then call with ``dial`` (``number``, ``customer_id``, ``queue``). Compliance
    was checked when it was sent; the attempt is already recorded (``call_ref``)."""

    campaign_id: str
    call_ref: str
    """The attempt's key (``cmp-<campaign>-<row>-<attempt>``)."""
    number: str
    queue: str
    name: str | None = None
    customer_id: str | None = None
    attributes: dict[str, Any] = {}
    screen_pop: ScreenPop | None = None
    expires_at: float
    """After this the record goes back to the list (the attempt counts as lost)."""


class AgentStateData(BaseModel):
    agent_id: str
    status: str
    activity: str
    next_status: str | None = None
    contacts: dict[str, str] = {}
    status_since: float | None = None
    """Server time of the last status change (the console's status timer)."""
    activity_since: float | None = None
    """Server time of the last activity change (the console's activity timer)."""
    muted: list[str] = []
    """Contacts (voice calls) on which the agent's microphone is muted."""


class OfferRescindedData(BaseModel):
    """``offer_rescinded``: an offer the agent had is withdrawn (``reason``: the caller
    hung up, the agent logged out, the contact went elsewhere...)."""

    contact_id: str
    reason: str


# --- message types the server sends to an agent console (``/ws/agent``) ----------------------
#
# The ``type`` of every envelope a console gets, as a closed type (the ports that take it,
# ports.ConsoleNotifier, hub.AgentChannel.push and acd.AgentSink, refuse a misspelt kind
# under mypy) and a name per value, which the server's code uses (a bare string there fails
# tests/contactcenter/test_one_home.py). The browser console (agent_ui/js) reads these
# strings: never change a value.

AgentMessageType = Literal[
    "agent_state",
    "offer",
    "offer_rescinded",
    "contact_state",
    "consult_offer",
    "consult_state",
    "dial_result",
    "campaign_preview",
    "chat.message",
    "chat.typing",
    "reply",
    "error",
]
AGENT_STATE: Final = "agent_state"
"""``AgentStateData``: the agent's status and activity, on every change and on connect."""
OFFER: Final = "offer"
"""``OfferData``: a contact offered to the agent; ``accept`` or ``reject`` it."""
OFFER_RESCINDED: Final = "offer_rescinded"
"""``OfferRescindedData``: an offer withdrawn before the agent answered it."""
CONTACT_STATE: Final = "contact_state"
"""``ContactStateData``: one of the agent's contacts changed (answered, held, ended...)."""
CONSULT_OFFER: Final = "consult_offer"
"""``ConsultOfferData``: another agent asks this one to talk about its caller."""
CONSULT_STATE: Final = "consult_state"
"""``ConsultStateData``: how a consult the agent is part of stands now."""
DIAL_RESULT: Final = "dial_result"
"""``DialResultData``: what became of a call the agent dialled."""
CAMPAIGN_PREVIEW: Final = "campaign_preview"
"""``CampaignPreviewData``: a preview campaign's record for the agent to call."""
CHAT_MESSAGE: Final = "chat.message"
"""``ChatMessageData``: a line of a chat the agent holds."""
CHAT_TYPING: Final = "chat.typing"
"""``ChatTypingData``: the visitor started or stopped typing."""
REPLY: Final = "reply"
"""``reply(...)``: a command succeeded (``id`` echoes the command's)."""
ERROR: Final = "error"
"""``error_data(...)``: a command failed or a frame was refused (``id``, ``code``,
``message``)."""
AGENT_MESSAGE_TYPES: tuple[AgentMessageType, ...] = get_args(AgentMessageType)


def reply(command_id: str | int, **data: Any) -> dict[str, Any]:
    return {"id": command_id, "ok": True, **data}


def error_data(code: str, message: str, command_id: str | int | None) -> dict[str, Any]:
    return {"id": command_id, "code": code, "message": message}


def envelope(kind: str, seq: int, data: dict[str, Any], ts: float | None = None) -> str:
    """An ``Envelope`` as JSON text. Every server message goes through here, so it is
    encoded with ``json`` straight from a dict (several times cheaper than building the
    model); values ``json`` does not know (datetimes, enums, models) are converted as
    pydantic would."""
    return json.dumps(
        {"type": kind, "seq": seq, "ts": time.time() if ts is None else ts, "data": data},
        separators=(",", ":"),
        ensure_ascii=False,
        default=to_jsonable_python,
    )


# --- websocket close codes: every code a server socket closes with -------------------------

CLOSE_GOING_AWAY = 1001
"""RFC 6455 "going away": the server is shutting down (every socket kind)."""
CLOSE_TRY_AGAIN = 1013
"""RFC 6455 "try again later": the node stopped serving after a commit to the event log
failed (fail-stop, node.py) and rebuilds its state from the log; reconnect with backoff
(meanwhile HTTP, websocket upgrades included, answers 503 with Retry-After)."""
CLOSE_TOO_SLOW = 1008
"""RFC 6455 "policy violation": the peer did not read its messages fast enough (its
unsent backlog passed the limit); a console reconnects and resumes from its last seq."""
CLOSE_BAD_DATA = 1007
"""RFC 6455 "invalid frame payload data": a text frame that is not UTF-8 (aiohttp closes
the socket; every socket kind)."""
CLOSE_TOO_LARGE = 1009
"""RFC 6455 "message too big": a frame over the socket's ``*_SOCKET_MAX_BYTES`` (aiohttp
closes the socket; every socket kind). Smaller frames that are refused get an ``error``
frame instead and the socket stays usable."""
CLOSE_REPLACED = 4000
"""This connection was replaced by a newer one for the same thing: the same console (a
reload, or another tab that chose "use here") or the same chat visitor (``resume``). The
telephony gateway is never replaced silently: see ``CLOSE_GATEWAY_TAKEN_OVER``."""
CLOSE_OTHER_TAB = 4001
"""Close code: the agent already has a console open elsewhere; this one is refused. A
console names itself with ``/ws/agent?client=<id>`` (stable across its reconnections and
reloads); a connection with another id while the first is connected is refused unless it
asks ``&takeover=1`` (the agent said "use this tab"), which replaces the older one."""
CLOSE_GATEWAY_TAKEN_OVER = 4010
"""The telephony gateway's command socket: another gateway connection (authenticated with
a gateway key) asked ``/gateway/ws?takeover=1`` and took the commands over; the server
logged a warning naming both. Without ``takeover`` a second connection is refused (HTTP
409 ``gateway_connected``) while this one is alive."""
CLOSE_GATEWAY_REFUSED = 4011
"""The telephony gateway's command socket: refused because another gateway connection
attached while this one was opening (the 409 above, decided after the upgrade)."""

CLOSE_CHAT_LIMITED = 4029
"""A chat visitor's ``start`` was refused by a limit (``busy``, ``too_many_starts``; the
``error`` frame before the close names it): the socket is closed so that it holds no
slot; the visitor may try again later (docs/chat.md, "Limits and access")."""


class Closing(NamedTuple):
    """Why the server closes its sockets: the close code and the reason sent with it."""

    code: int
    reason: str


SHUTTING_DOWN = Closing(CLOSE_GOING_AWAY, "server shutting down")
REBUILDING = Closing(
    CLOSE_TRY_AGAIN, "server rebuilding its state from the event log; reconnect shortly"
)


CLOSE_UNAUTHENTICATED = 4401
"""The socket did not authenticate: no ``auth`` frame within ``AUTH_TIMEOUT_S`` of opening
(``auth_timeout``), a first frame that is not one (``auth_required``), or a token that is
missing, malformed, expired or revoked (``token_<reason>``). An ``error`` frame naming the
code comes just before the close. The console signs in again."""
CLOSE_FORBIDDEN = 4403
"""Authenticated, but not allowed on this socket: the token's role (``forbidden``) or an
agent without an enabled profile (``no_agent_profile``); an ``error`` frame precedes it."""
CLOSE_SESSION_ENDED = 4410
"""The session this socket authenticated with has ended: logged out, revoked by an
administrator, the user disabled or its password changed (``session_revoked``), or the
session's lifetime is over (``session_expired``). Closed within a second of the change;
an ``error`` frame precedes it. The console signs in again (no automatic reconnect)."""


# --- socket authentication: the first client frame of /ws/agent and /ws/supervisor ---------

AUTH_TIMEOUT_S = 5.0
"""How long a socket may stay open without authenticating (``CLOSE_UNAUTHENTICATED``)."""
MAX_AUTH_FRAME_BYTES = 8 * 1024


class AuthFrame(BaseModel):
    """``{"type": "auth", "token": "<access token>"}``: the first frame a browser sends on
    ``/ws/agent`` and ``/ws/supervisor``. Tokens never travel in a URL (``?token=`` is
    refused with HTTP 400 ``token_in_url``), so no access log or proxy records them.
    Non-browser clients may send ``Authorization: Bearer`` on the upgrade request
    instead. On the agent socket the first server message after it is ``agent_state``; on
    the wallboard socket ``wallboard_snapshot``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["auth"]
    token: str = Field(min_length=1, max_length=4096)


def parse_auth_frame(raw: str | bytes) -> str:
    """The token of an ``auth`` frame, or ``ProtocolError("auth_required", ...)``."""
    if len(raw) > MAX_AUTH_FRAME_BYTES:
        raise ProtocolError("auth_required", "the auth frame is too large")
    try:
        frame = AuthFrame.model_validate_json(raw)
    except ValidationError:
        raise ProtocolError(
            "auth_required",
            'the first frame must be {"type": "auth", "token": "<access token>"}',
        ) from None
    return frame.token


# --- supervisor wallboard: /ws/supervisor (server to client only) --------------------------

WALLBOARD_SNAPSHOT = "wallboard_snapshot"
"""Everything, once per connection: ``WallboardSnapshotData``."""
WALLBOARD_UPDATE = "wallboard_update"
"""Only what changed since the last message, at most once per period: ``WallboardUpdateData``."""


WALLBOARD_ERROR: Final = "error"
"""Unnumbered (``seq`` 0): the wallboard takes no frames from its client (actions are
REST); each one is answered with ``WallboardErrorData`` (``code``: the decoder's, or
``read_only``)."""


class WallboardErrorData(BaseModel):
    code: str
    message: str


class WallboardAgents(BaseModel):
    """Agents skilled for a queue and logged in, counted by state."""

    available: int = 0
    """Idle or being offered a contact on ``available``."""
    on_contact: int = 0
    """Connected or on hold."""
    wrap_up: int = 0
    not_ready: int = 0
    not_responding: int = 0


class WallboardTile(BaseModel):
    queue_id: str
    name: str
    waiting: int
    oldest_at: float | None
    """Server time the longest-waiting contact entered the queue (the page ticks the wait)."""
    longest_wait_s: float
    offered: int
    answered: int
    abandoned: int
    """After the short-abandon threshold."""
    short_abandoned: int
    service_level: float | None
    service_level_formula: str
    service_level_target: float
    asa_s: float | None
    abandon_rate: float | None
    aht_s: float | None
    occupancy: float | None
    agents: WallboardAgents
    alerts: dict[str, Literal["amber", "red"]] = {}
    """Which figures crossed their thresholds (waiting, longest_wait_s, service_level,
    abandon_rate)."""
    level: Literal["ok", "amber", "red"] = "ok"
    """The worst of ``alerts``."""


class WallboardAgent(BaseModel):
    agent_id: str
    display_name: str
    team: str
    status: str
    activity: str
    state: str
    next_status: str | None
    since: float
    contacts: dict[str, str]
    contact_since: float | None
    """When the current contact was first seen connected (its duration)."""
    queues: list[str]
    skills: dict[str, int]


class WallboardSnapshotData(BaseModel):
    now: float
    period_s: float
    read_only: bool
    long_contact_s: float
    queues: list[WallboardTile]
    agents: list[WallboardAgent]


class WallboardUpdateData(BaseModel):
    now: float
    queues: list[WallboardTile] = []
    agents: list[WallboardAgent] = []
    removed_agents: list[str] = []


# --- web chat visitor: /ws/chat (client to server) -------------------------------------------
#
# A visitor needs no login: ``start`` makes a chat (the server answers ``started`` with the
# chat's token), ``resume`` reattaches a dropped connection with that token and the last
# seq seen. The server's messages use the same envelope as the console's.

MAX_VISITOR_FRAME_BYTES = 8 * 1024
"""Larger visitor frames get an error (the chat socket itself closes above 64 KiB)."""
MAX_VISITOR_NAME = 80


class _VisitorFrame(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VisitorStart(_VisitorFrame):
    type: Literal["start"]
    name: str = Field(min_length=1, max_length=MAX_VISITOR_NAME)
    question: str = Field(min_length=1, max_length=MAX_CHAT_TEXT)


class VisitorResume(_VisitorFrame):
    type: Literal["resume"]
    token: str = Field(min_length=16, max_length=64)
    last_seq: int = Field(0, ge=0)


class VisitorMessage(_VisitorFrame):
    type: Literal["message"]
    text: str = Field(min_length=1, max_length=MAX_CHAT_TEXT)


class VisitorTyping(_VisitorFrame):
    type: Literal["typing"]
    typing: bool


class VisitorLeave(_VisitorFrame):
    type: Literal["leave"]


VisitorFrame = Annotated[
    VisitorStart | VisitorResume | VisitorMessage | VisitorTyping | VisitorLeave,
    Field(discriminator="type"),
]
VISITOR_FRAME_TYPES: tuple[str, ...] = ("start", "resume", "message", "typing", "leave")
_VISITOR_FRAMES: TypeAdapter[VisitorFrame] = TypeAdapter(VisitorFrame)


# --- web chat visitor: /ws/chat (server to client) -------------------------------------------
#
# The same envelope as the console's. ``state`` and ``message`` are numbered (replayed on
# ``resume``); ``started``, ``resumed``, ``typing`` and ``error`` are not (seq 0). The chat
# widget (agent_ui/widget) reads these strings: never change a value.

VisitorMessageType = Literal["started", "resumed", "state", "message", "typing", "error"]
VISITOR_STARTED: Final = "started"
"""``VisitorStartedData``: the answer to ``start``, with the token ``resume`` needs."""
VISITOR_RESUMED: Final = "resumed"
"""``VisitorResumedData``: the answer to ``resume``; the missed messages follow."""
VISITOR_STATE: Final = "state"
"""``{"state": ivr | queued | connected | survey | ended, ...detail}``: where the chat is
(``agent`` when connected, ``queue`` and ``transferred`` when queued again, ``reason``
when ended)."""
VISITOR_MESSAGE: Final = "message"
"""``ChatMessageData`` (and ``choices`` for a bot's menu): a line of the chat."""
VISITOR_TYPING: Final = "typing"
"""``VisitorTypingData``: the agent started or stopped typing."""
VISITOR_ERROR: Final = "error"
"""``VisitorErrorData``: a frame refused (``code``, ``message``)."""
VISITOR_MESSAGE_TYPES: tuple[VisitorMessageType, ...] = get_args(VisitorMessageType)


class VisitorStartedData(BaseModel):
    chat_id: str
    token: str


class VisitorResumedData(BaseModel):
    chat_id: str
    state: str
    seq: int
    """The chat's last seq now."""
    replayed: int
    """Messages resent after this one (those after the ``last_seq`` of ``resume``)."""


class VisitorTypingData(BaseModel):
    sender: Literal["agent"]
    typing: bool


class VisitorErrorData(BaseModel):
    code: str
    message: str


def parse_visitor_frame(raw: str | bytes) -> VisitorFrame:
    """One visitor frame as a validated frame, or ``ProtocolError`` naming the problem."""
    data = decode_frame(raw, MAX_VISITOR_FRAME_BYTES)
    if not isinstance(data, dict) or data.get("type") not in VISITOR_FRAME_TYPES:
        raise ProtocolError(
            "unknown_type",
            f"send a JSON object whose type is one of {list(VISITOR_FRAME_TYPES)}",
        )
    try:
        frame = _VISITOR_FRAMES.validate_python(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(x) for x in e['loc'][1:]) or '(frame)'}: {e['msg']}"
            for e in exc.errors()
        )
        raise ProtocolError("invalid_frame", f"{data['type']}: {problems}") from None
    # Whitespace passes the length check; PostgreSQL text cannot hold a NUL.
    text = getattr(frame, "text", None) or getattr(frame, "question", None)
    if text is not None and (not text.strip() or "\x00" in text):
        raise ProtocolError("invalid_frame", "the message is empty or holds a NUL character")
    if isinstance(frame, VisitorStart) and (not frame.name.strip() or "\x00" in frame.name):
        raise ProtocolError("invalid_frame", "the name is empty or holds a NUL character")
    return frame


# --- telephony gateway: /gateway/ws (docs/gateway.md) ----------------------------------------
#
# Server to gateway: commands, in the agents' envelope (numbered by ``seq``), through
# ports.GatewayCommands; a frame of the gateway's that cannot be acted on gets an unnumbered
# ``{"type": "error", "data": {...}}``. Gateway to server: ``ack``, ``ping`` and
# ``originate_result``. The simulated carrier (carrier.py) reads and writes the same names.
# A PBX integration reads these strings: never change a value.

GatewayCommandType = Literal[
    "play",
    "bridge",
    "hangup",
    "transfer",
    "originate",
    "mute",
    "send_dtmf",
    "consult_bridge",
    "consult_end",
    "conference",
    "leave_conference",
    "gather",
    "prompt",
    "voicemail",
]
GATEWAY_PLAY: Final = "play"
"""``call_id``, ``prompt`` (``queue_hold``, or a campaign's identification message with
``then: "hangup"``)."""
GATEWAY_BRIDGE: Final = "bridge"
"""``call_id``, ``agent_id``, ``extension``: connect the caller to the agent."""
GATEWAY_HANGUP: Final = "hangup"
"""``call_id``, ``reason``."""
GATEWAY_TRANSFER: Final = "transfer"
"""``call_id``, ``target``, ``reason`` (and ``agent_id`` for an agent's transfer)."""
GATEWAY_ORIGINATE: Final = "originate"
"""``call_id``, ``number``, ``agent_id``, ``extension`` (campaigns: ``campaign_id``,
``ring_timeout_s``, ``amd``); the gateway answers ``originate_result``."""
GATEWAY_MUTE: Final = "mute"
"""``call_id``, ``agent_id``, ``muted``."""
GATEWAY_SEND_DTMF: Final = "send_dtmf"
"""``call_id``, ``agent_id``, ``digits``."""
GATEWAY_CONSULT_BRIDGE: Final = "consult_bridge"
"""``call_id``, ``agent_id``, ``target_agent_id``, ``extension``."""
GATEWAY_CONSULT_END: Final = "consult_end"
"""``call_id``, ``reason``."""
GATEWAY_CONFERENCE: Final = "conference"
"""``call_id``, ``agents``."""
GATEWAY_LEAVE_CONFERENCE: Final = "leave_conference"
"""``call_id``, ``agent_id``."""
GATEWAY_GATHER: Final = "gather"
"""An IVR prompt that collects keys: ``call_id``, ``prompts``, ``kind``, ``min_digits``,
``max_digits``, ``terminator``, ``timeout_s``, ``prompt_id``, ``attempt``, ``node``."""
GATEWAY_PROMPT: Final = "prompt"
"""IVR prompts to play, nothing to collect: ``call_id``, ``prompts``, ``node``."""
GATEWAY_VOICEMAIL: Final = "voicemail"
"""``call_id``, ``mailbox``, ``max_s``: record a message, then end the call."""
GATEWAY_COMMAND_TYPES: tuple[GatewayCommandType, ...] = get_args(GatewayCommandType)

GATEWAY_ERROR: Final = "error"
"""Server to gateway, unnumbered: a gateway frame refused (``code``, ``message``, and
``call_id`` for an ``originate_result``)."""

GatewayReportType = Literal["ack", "ping", "originate_result"]
GATEWAY_ACK: Final = "ack"
"""``{"type": "ack", "seq": N}``: the gateway got command N."""
GATEWAY_PING: Final = "ping"
GATEWAY_ORIGINATE_RESULT: Final = "originate_result"
"""``data``: ``call_id``, ``result`` (``DialResult``; campaigns also ``amd``,
``amd_latency_s``): see gateway_contract.OriginateResultIn."""
GATEWAY_REPORT_TYPES: tuple[GatewayReportType, ...] = get_args(GatewayReportType)


class GatewayErrorData(BaseModel):
    """The ``data`` of a ``GATEWAY_ERROR`` frame."""

    code: str
    message: str
    call_id: str | None = None


def parse_gateway_frame(raw: str | bytes) -> tuple[GatewayReportType, dict[str, Any]]:
    """A gateway frame as its report type and the frame, or ``ProtocolError``
    (``frame_too_large``, the decoder's codes, ``unknown_type``)."""
    data = decode_frame(raw)
    kind = data.get("type") if isinstance(data, dict) else None
    if not isinstance(data, dict) or kind not in GATEWAY_REPORT_TYPES:
        raise ProtocolError(
            "unknown_type",
            f"unknown message type {shown(kind)}; the gateway sends 'ack' (with the seq of "
            "a command), 'ping' or 'originate_result'",
        )
    report: GatewayReportType = kind
    return report, data


def gateway_error(code: str, message: str, call_id: str | None = None) -> str:
    """A ``GATEWAY_ERROR`` frame as JSON text (unnumbered)."""
    data = GatewayErrorData(code=code, message=message, call_id=call_id)
    return json.dumps(
        {"type": GATEWAY_ERROR, "data": data.model_dump(mode="json", exclude_none=True)},
        ensure_ascii=False,
    )


def shown(value: object, limit: int = 60) -> str:
    """A client's value for an error message: its repr, at most ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
