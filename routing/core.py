"""The engine's shared state and bookkeeping, under every concern mixin.

``EngineCore`` holds the records (agents, contacts, queues, groups, consults) and the small
operations every concern uses: applying a contact or slot input through its table, timers
of a contact, deriving and reporting the agent's activity, looking records up. The module
constants below are enum members and table entries read once: attribute access on an Enum
class goes through a descriptor, which is measurable on the hot path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from routing import errors
from routing.events import (
    new_agent_state_changed,
    new_cancel_timer,
    new_start_timer,
)
from routing.expressions import AttrView, SkillView
from routing.model import (
    AVAILABLE,
    OFFLINE,
    Activity,
    Channel,
    ContactState,
    Direction,
    RoutingConfig,
)
from routing.pools import TierKey
from routing.records import (
    Outcome,
    Requirement,
    _Agent,
    _Consult,
    _Contact,
    _Group,
    _Queue,
    _Slot,
    build_queue,
)
from routing.transitions import (
    CONTACT_ENTRIES,
    CONTACT_TRANSITIONS,
    SLOT_ENTRIES,
    SLOT_TRANSITIONS,
    ContactInput,
    Entry,
    SlotInput,
    SlotState,
    TimerKind,
    slot_next,
)

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
_T_OFFER = TimerKind.OFFER
_T_STEP = TimerKind.STEP
_T_MAXWAIT = TimerKind.MAXWAIT
_T_STARVE = TimerKind.STARVE
_T_CONSULT = TimerKind.CONSULT
_T_WRAPUP = TimerKind.WRAPUP
_CONTACT_TIMERS = (_T_OFFER, _T_STEP, _T_MAXWAIT, _T_STARVE)
"""A waiting contact's timers, in the order they are cancelled."""
_QUEUE_TIMERS = (_T_STEP, _T_MAXWAIT, _T_STARVE)
# Where the arrival and offer fast paths start a contact and a slot: read from the entry
# tables once, so those paths store a state the tables allow without looking it up.
(_ARRIVE_STATE,) = CONTACT_ENTRIES[Entry.ARRIVE]
(_S_OFFER_ENTRY,) = SLOT_ENTRIES[Entry.OFFER]
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


class EngineCore:
    """State and shared bookkeeping of the engine; ``routing.engine.Engine`` adds the rest."""

    def __init__(self, config: RoutingConfig) -> None:
        self.config = config
        self._queues: dict[str, _Queue] = {}
        for q in config.queues:
            self._queues[q.id] = build_queue(q)
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

    def _start_timer(self, contact: _Contact, kind: str, at: float, out: Outcome) -> None:
        # Cancelled timers keep their generation negated; never reuse one.
        gen = abs(contact.timers.get(kind, 0)) + 1
        contact.timers[kind] = gen
        out.commands.append(new_start_timer((kind, contact.id, gen), at))

    def _fired(self, contact_id: str, kind: str, gen: int) -> _Contact | None:
        """The contact whose ``kind`` timer of generation ``gen`` just fired, with the timer
        marked spent; None if the timer is stale (cancelled, replaced, contact gone)."""
        contact = self._contacts.get(contact_id)
        if contact is None or contact.timers.get(kind) != gen:
            return None
        contact.timers[kind] = -gen
        return contact

    def _cancel_timer(self, contact: _Contact, kind: str, out: Outcome) -> None:
        gen = contact.timers.get(kind)
        if gen is not None and gen > 0:
            out.commands.append(new_cancel_timer((kind, contact.id, gen)))
            contact.timers[kind] = -gen

    def _forget(self, contact: _Contact) -> None:
        # Terminal contacts leave the engine's memory; the event log keeps their story.
        self._contacts.pop(contact.id, None)

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

    # ------------------------------------------------------------------ across concerns
    #
    # What the concern mixins call on one another, declared for the type checker only:
    # the implementations live in the modules named, and mypy checks that they match.

    if TYPE_CHECKING:
        # agents.py
        def _apply_next_status(self, agent: _Agent, now: float) -> None: ...

        # consult.py
        def _hangup_consult(self, consult: _Consult, contact: _Contact, now: float) -> Outcome: ...

        def _logout_consults(
            self, agent: _Agent, now: float, force: bool, out: Outcome
        ) -> None: ...

        # handling.py
        def _close_hold(self, contact: _Contact, now: float) -> float: ...

        def _end(
            self, agent: _Agent, contact: _Contact, slot: _Slot, now: float, by: str
        ) -> Outcome: ...

        def _finish_wrapup(
            self,
            agent: _Agent,
            slot: _Slot,
            now: float,
            out: Outcome,
            disposition: str | None,
            notes: str | None,
            timed_out: bool,
        ) -> None: ...

        def _start_wrapup(self, agent: _Agent, slot: _Slot, now: float, out: Outcome) -> None: ...

        def _transfer_out(
            self,
            agent: _Agent,
            contact: _Contact,
            slot: _Slot,
            now: float,
            to_queue: str | None,
            to_agent: str | None,
        ) -> Outcome: ...

        # offers.py
        def _after_release(self, agent: _Agent, now: float, out: Outcome) -> None: ...

        def _offer(
            self,
            contact: _Contact,
            agent: _Agent,
            now: float,
            out: Outcome,
            trigger: str,
            group: _Group,
        ) -> None: ...

        def _rescind_offer(
            self, agent: _Agent, contact: _Contact, now: float, out: Outcome
        ) -> None: ...

        # queueing.py
        def _enqueue(
            self, contact: _Contact, now: float, out: Outcome, fresh: bool, push: bool = True
        ) -> None: ...

        def _flow(self, contact: _Contact, now: float, out: Outcome) -> None: ...

        def _group_for(self, contact: _Contact) -> _Group: ...

        @staticmethod
        def _join(agent: _Agent, group: _Group) -> None: ...

        def _push(self, contact: _Contact) -> None: ...

        def _qualifies(self, agent: _Agent, group: _Group) -> bool: ...

        def _unqueue(self, contact: _Contact) -> None: ...

        def abandon(self, contact_id: str, now: float) -> Outcome: ...

        # selection.py
        def _pair_ok(self, group: _Group, agent: _Agent, contact: _Contact) -> bool: ...

        def _pool_key(self, agent: _Agent, group: _Group) -> TierKey: ...

        def _routable(self, agent: _Agent, channel: Channel) -> bool: ...

        def _route_agent(self, agent: _Agent, now: float, out: Outcome) -> None: ...

        def _route_contact(
            self, contact: _Contact, now: float, out: Outcome, skip: str | None = None
        ) -> None: ...

        def _sync_pools(self, agent: _Agent, now: float) -> None: ...

        def _unpool(self, agent: _Agent, channel: Channel) -> None: ...
