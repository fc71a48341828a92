"""State transitions as data: what each input does to a contact, to an agent's hold on it and
to the agent's status; and what each kind of timer is for.

The engine looks every input up here before it changes anything, so an input that is not in
a table is refused with a typed error and leaves state untouched. Tests walk these tables.
"""

from __future__ import annotations

from enum import StrEnum

from routing.model import ContactState


class TimerKind(StrEnum):
    """What a timer the engine starts is for: the first element of its ``TimerId``.

    Each kind has exactly one handler, named in ``routing.timers.TIMER_HANDLERS``."""

    OFFER = "offer"
    """The offer was not answered in the queue's offer timeout: ``OFFER_TIMEOUT`` below,
    handled by ``Offers.offer_timed_out`` (routing/offers.py)."""
    STEP = "step"
    """The routing step's ``timeout_s`` passed: the contact moves to the next step."""
    MAXWAIT = "maxwait"
    """The queue's max wait passed: the contact flows out or overflows."""
    STARVE = "starve"
    """The queue's starvation bound passed: the contact is raised to the top priority."""
    CONSULT = "consult"
    """The consulted agent did not answer: ``CONSULT_TIMEOUT`` of the slot table."""
    WRAPUP = "wrapup"
    """A timed wrap-up is over: ``COMPLETE_WRAPUP`` of the slot table."""


class ContactInput(StrEnum):
    OFFER = "offer"
    ACCEPT = "accept"
    REJECT = "reject"
    OFFER_TIMEOUT = "offer_timeout"
    RESCIND = "rescind"
    HOLD = "hold"
    RESUME = "resume"
    END = "end"
    ABANDON = "abandon"
    FLOW_OUT = "flow_out"
    REQUEUE = "requeue"
    TRANSFER_TO_QUEUE = "transfer_to_queue"
    TRANSFER_TO_AGENT = "transfer_to_agent"
    CONSULT = "consult"
    CONSULT_CANCEL = "consult_cancel"
    CONSULT_COMPLETE = "consult_complete"
    CONFERENCE = "conference"
    LEAVE_CONFERENCE = "leave_conference"


Q, OF, C, H = ContactState.QUEUED, ContactState.OFFERED, ContactState.CONNECTED, ContactState.HELD
E, A, F = ContactState.ENDED, ContactState.ABANDONED, ContactState.FLOWED_OUT
I = ContactInput  # noqa: E741

CONTACT_TRANSITIONS: dict[tuple[ContactState, ContactInput], ContactState] = {
    (Q, I.OFFER): OF,
    (Q, I.ABANDON): A,
    (Q, I.FLOW_OUT): F,
    (Q, I.REQUEUE): Q,  # step change, starvation boost, overflow to another queue
    (OF, I.ACCEPT): C,
    (OF, I.REJECT): Q,
    (OF, I.OFFER_TIMEOUT): Q,  # TimerKind.OFFER fired: Offers.offer_timed_out
    (OF, I.RESCIND): Q,  # agent logged out or lost the connection
    (OF, I.ABANDON): A,
    (C, I.HOLD): H,
    (C, I.END): E,
    (C, I.TRANSFER_TO_QUEUE): Q,
    (C, I.TRANSFER_TO_AGENT): OF,
    (C, I.REQUEUE): Q,  # forced logout of the agent holding it
    (H, I.RESUME): C,
    (H, I.END): E,
    (H, I.TRANSFER_TO_QUEUE): Q,
    (H, I.TRANSFER_TO_AGENT): OF,
    (H, I.REQUEUE): Q,
    # Consult (warm transfer): the caller waits on hold while the agents talk; a consult
    # the other agent does not take leaves the contact as it is (held, with its agent).
    (C, I.CONSULT): H,
    (H, I.CONSULT): H,
    (H, I.CONSULT_CANCEL): C,  # the first agent resumes the caller
    (H, I.CONSULT_COMPLETE): C,  # the caller is connected to the consulted agent
    (H, I.CONFERENCE): C,  # caller and both agents joined
    (C, I.LEAVE_CONFERENCE): C,  # the remaining agent keeps the caller
}


class SlotState(StrEnum):
    """An agent's hold on one contact (one unit of channel capacity)."""

    OFFERED = "offered"
    CONNECTED = "connected"
    HELD = "held"
    WRAP_UP = "wrap_up"
    RELEASED = "released"
    CONSULT_HOLD = "consult_hold"
    """The first agent's hold on a contact whose caller waits while it consults."""
    CONSULT_OFFERED = "consult_offered"
    """A consulted agent's reserved voice slot, until it answers the consult."""
    CONSULTING = "consulting"
    """A consulted agent talking with the first agent (the caller on hold)."""
    CONFERENCED = "conferenced"
    """Either agent of a three-way conference."""


class SlotInput(StrEnum):
    ACCEPT = "accept"
    REJECT = "reject"
    OFFER_TIMEOUT = "offer_timeout"
    RESCIND = "rescind"
    HOLD = "hold"
    RESUME = "resume"
    END = "end"
    TRANSFER = "transfer"
    COMPLETE_WRAPUP = "complete_wrapup"
    CONSULT = "consult"
    CONSULT_ACCEPT = "consult_accept"
    CONSULT_REJECT = "consult_reject"
    CONSULT_TIMEOUT = "consult_timeout"
    CONSULT_CANCEL = "consult_cancel"
    CONSULT_COMPLETE = "consult_complete"
    CONFERENCE = "conference"
    LEAVE_CONFERENCE = "leave_conference"
    KEEP_CONFERENCE = "keep_conference"
    """The other agent left: this one keeps the caller."""


SO, SC, SH, SW, SR = (
    SlotState.OFFERED,
    SlotState.CONNECTED,
    SlotState.HELD,
    SlotState.WRAP_UP,
    SlotState.RELEASED,
)
SCH, SCO, SCS, SCF = (
    SlotState.CONSULT_HOLD,
    SlotState.CONSULT_OFFERED,
    SlotState.CONSULTING,
    SlotState.CONFERENCED,
)
S = SlotInput

SLOT_TRANSITIONS: dict[tuple[SlotState, SlotInput], SlotState] = {
    (SO, S.ACCEPT): SC,
    (SO, S.REJECT): SR,
    (SO, S.OFFER_TIMEOUT): SR,  # TimerKind.OFFER fired: Offers.offer_timed_out
    (SO, S.RESCIND): SR,
    (SC, S.HOLD): SH,
    (SC, S.END): SW,
    (SC, S.TRANSFER): SW,
    (SC, S.RESCIND): SR,
    (SH, S.RESUME): SC,
    (SH, S.END): SW,
    (SH, S.TRANSFER): SW,
    (SH, S.RESCIND): SR,
    (SW, S.COMPLETE_WRAPUP): SR,
    # The consulting agent: no hold, resume, end or transfer while a consult is open (the
    # table refuses them); it cancels, completes or conferences.
    (SC, S.CONSULT): SCH,
    (SH, S.CONSULT): SCH,
    (SCH, S.CONSULT_CANCEL): SC,  # A resumes the caller
    (SCH, S.CONSULT_REJECT): SH,  # B declined (or the caller left): still on hold with A
    (SCH, S.CONSULT_TIMEOUT): SH,
    (SCH, S.CONSULT_COMPLETE): SW,
    (SCH, S.CONFERENCE): SCF,
    # The consulted agent.
    (SCO, S.CONSULT_ACCEPT): SCS,
    (SCO, S.CONSULT_REJECT): SR,
    (SCO, S.CONSULT_TIMEOUT): SR,
    (SCO, S.CONSULT_CANCEL): SR,
    (SCS, S.CONSULT_CANCEL): SR,
    (SCS, S.CONSULT_REJECT): SR,  # B hangs up on the consult (or logs out): A keeps the caller
    (SCS, S.CONSULT_COMPLETE): SC,
    (SCS, S.CONFERENCE): SCF,
    # Either agent of a conference; a caller who hangs up makes both leave.
    (SCF, S.LEAVE_CONFERENCE): SW,
    (SCF, S.KEEP_CONFERENCE): SC,
}


class Entry(StrEnum):
    """How a contact or an agent's hold on it comes into being."""

    ARRIVE = "arrive"
    OFFER = "offer"
    ORIGINATE = "originate"
    """Click-to-dial: the agent places an outbound call; it is connected at once."""
    RESTORE = "restore"
    """After a restart, the event log says the contact was already with its agent."""
    RESTORE_WRAPUP = "restore_wrapup"
    CONSULT = "consult"
    """The agent is asked for a consult by an agent holding a contact."""


CONTACT_ENTRIES: dict[Entry, frozenset[ContactState]] = {
    Entry.ARRIVE: frozenset({Q}),
    Entry.ORIGINATE: frozenset({C}),
    Entry.RESTORE: frozenset({C, H}),
}
"""The states a contact may start in, by how it enters the engine."""

SLOT_ENTRIES: dict[Entry, frozenset[SlotState]] = {
    Entry.OFFER: frozenset({SO}),
    Entry.ORIGINATE: frozenset({SC}),
    Entry.RESTORE: frozenset({SC, SH}),
    Entry.RESTORE_WRAPUP: frozenset({SW}),
    Entry.CONSULT: frozenset({SCO}),
}
"""The states an agent's hold on a contact may start in."""


class StatusKind(StrEnum):
    """The agent's chosen status, by kind: ``offline``, ``available`` or any reason code."""

    OFFLINE = "offline"
    AVAILABLE = "available"
    NOT_READY = "not_ready"
    """Any admin-defined reason code (``break``, ``lunch``, ...)."""


class AgentInput(StrEnum):
    """What the agent (or a supervisor) asks of its status."""

    LOG_IN_AVAILABLE = "log_in_available"
    LOG_IN_NOT_READY = "log_in_not_ready"
    CHOOSE_AVAILABLE = "choose_available"
    """Also clears not-responding and any pending status."""
    CHOOSE_NOT_READY = "choose_not_ready"
    LOG_OUT = "log_out"


SOFF, SAV, SNR = StatusKind.OFFLINE, StatusKind.AVAILABLE, StatusKind.NOT_READY
AI = AgentInput

AGENT_TRANSITIONS: dict[tuple[StatusKind, AgentInput], StatusKind] = {
    (SOFF, AI.LOG_IN_AVAILABLE): SAV,
    (SOFF, AI.LOG_IN_NOT_READY): SNR,
    (SAV, AI.CHOOSE_AVAILABLE): SAV,
    (SAV, AI.CHOOSE_NOT_READY): SNR,
    (SAV, AI.LOG_OUT): SOFF,
    (SNR, AI.CHOOSE_AVAILABLE): SAV,
    (SNR, AI.CHOOSE_NOT_READY): SNR,  # another reason code
    (SNR, AI.LOG_OUT): SOFF,
}
"""The agent's status table. ``set_status`` on a logged-out agent is a log-in, and
``set_status("offline")`` a log-out, so the API never asks for a pair missing here except
logging in twice or logging out while logged out, which it refuses."""

DEFERRED_WHILE_BUSY: frozenset[AgentInput] = frozenset({AI.CHOOSE_NOT_READY, AI.LOG_OUT})
"""Inputs that, while the agent holds contacts, only set its *next status*: the table's
move is made when the last contact is done (wrap-up over, offer released)."""


def status_kind(status: str) -> StatusKind:
    """The kind of a status name (anything not offline or available is a reason code)."""
    if status == "offline":
        return SOFF
    if status == "available":
        return SAV
    return SNR


def agent_next(state: StatusKind, event: AgentInput) -> StatusKind | None:
    return AGENT_TRANSITIONS.get((state, event))


def contact_next(state: ContactState, event: ContactInput) -> ContactState | None:
    return CONTACT_TRANSITIONS.get((state, event))


def slot_next(state: SlotState, event: SlotInput) -> SlotState | None:
    return SLOT_TRANSITIONS.get((state, event))
