"""State transitions as data: what each input does to a contact and to an agent's hold on it.

The engine looks every input up here before it changes anything, so an input that is not in
a table is refused with a typed error and leaves state untouched. Tests walk these tables.
"""

from __future__ import annotations

from enum import StrEnum

from routing.model import ContactState


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
    (OF, I.OFFER_TIMEOUT): Q,
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
}


class SlotState(StrEnum):
    """An agent's hold on one contact (one unit of channel capacity)."""

    OFFERED = "offered"
    CONNECTED = "connected"
    HELD = "held"
    WRAP_UP = "wrap_up"
    RELEASED = "released"


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


SO, SC, SH, SW, SR = (
    SlotState.OFFERED,
    SlotState.CONNECTED,
    SlotState.HELD,
    SlotState.WRAP_UP,
    SlotState.RELEASED,
)
S = SlotInput

SLOT_TRANSITIONS: dict[tuple[SlotState, SlotInput], SlotState] = {
    (SO, S.ACCEPT): SC,
    (SO, S.REJECT): SR,
    (SO, S.OFFER_TIMEOUT): SR,
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
}
"""The states an agent's hold on a contact may start in."""


def contact_next(state: ContactState, event: ContactInput) -> ContactState | None:
    return CONTACT_TRANSITIONS.get((state, event))


def slot_next(state: SlotState, event: SlotInput) -> SlotState | None:
    return SLOT_TRANSITIONS.get((state, event))
