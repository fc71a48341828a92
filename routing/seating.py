"""Contacts that start with their agent: restored after a restart, or originated by the
agent (click-to-dial). No queue, no offer, no timers.
"""

from __future__ import annotations

from routing import errors
from routing.core import (
    _S_OFFERED,
    EngineCore,
)
from routing.events import (
    ContactOriginated,
)
from routing.model import (
    OFFLINE,
    Channel,
    ContactSpec,
    ContactState,
    Direction,
)
from routing.records import (
    Outcome,
    _Agent,
    _Contact,
    _Queue,
    _Slot,
)
from routing.transitions import (
    CONTACT_ENTRIES,
    SLOT_ENTRIES,
    Entry,
    SlotState,
)


class Seating(EngineCore):
    """Seating contacts with their agent directly."""

    def restore_assigned(
        self,
        spec: ContactSpec,
        agent_id: str,
        state: ContactState,
        now: float,
        *,
        answered_at: float | None = None,
    ) -> Outcome:
        """Seat a contact with its agent as the event log last saw it (after a restart).

        A reconstruction, not new facts: no queued/offered/answered events, only the agent's
        state change. The agent must be registered and logged in, with room on the
        contact's channel. ``state`` is CONNECTED or HELD (a held contact's hold is counted
        from ``now``)."""
        if state not in CONTACT_ENTRIES[Entry.RESTORE]:
            raise errors.IllegalTransition(
                f"a contact can be restored as connected or held, not {state.value}"
            )
        queue = self._new_contact_queue(spec)
        agent = self._agent(agent_id)
        channel = spec.channel or queue.config.channel
        self._check_seat(agent, channel, spec.id)
        started = now if answered_at is None else answered_at
        contact = self._seat(spec, queue, agent, channel, state, started, now, Entry.RESTORE)
        if state is ContactState.HELD:
            contact.hold_started = now
        out = Outcome([], [])
        self._sync_pools(agent, now)
        self._touch_agent(agent, now, out)
        return out

    def restore_wrapup(self, agent_id: str, contact_id: str, queue_id: str, now: float) -> Outcome:
        """Put an agent back into wrap-up for a contact that has ended (after a restart), as
        if the wrap-up had just started: the queue's policy applies (a timed wrap-up gets a
        fresh timer, ``none`` finishes at once), and ``complete_wrapup`` works as usual."""
        queue = self._queues.get(queue_id)
        if queue is None:
            raise errors.UnknownQueue(
                f"queue {queue_id!r} does not exist; known queues: {sorted(self._queues)}"
            )
        agent = self._agent(agent_id)
        channel = queue.config.channel
        if contact_id in agent.slots:
            raise errors.DuplicateContact(
                f"agent {agent_id} already holds contact {contact_id}"
                f" ({agent.slots[contact_id].state.value})"
            )
        live = self._contacts.get(contact_id)
        if live is not None and live.agent_id is not None:
            raise errors.DuplicateContact(
                f"contact {contact_id} is {live.state.value} with agent {live.agent_id}"
            )
        self._check_seat(agent, channel, contact_id)
        (slot_state,) = SLOT_ENTRIES[Entry.RESTORE_WRAPUP]
        slot = _Slot(contact_id, channel, slot_state, now, queue_id)
        agent.slots[contact_id] = slot
        agent.in_use[channel] += 1
        out = Outcome([], [])
        self._sync_pools(agent, now)
        self._start_wrapup(agent, slot, now, out)
        return out

    def originate(self, spec: ContactSpec, agent_id: str, now: float) -> Outcome:
        """Click-to-dial: the agent places an outbound voice contact and is connected to it
        at once (the softphone plays ringback). Allowed in any logged-in status, including
        a not-ready reason code, with voice capacity free and no offer pending. Emits
        ``contact.originated`` (direction outbound), never an offer or an answer, so the
        inbound statistics are untouched. Wrap-up follows ``spec.queue_id``'s policy."""
        queue = self._new_contact_queue(spec)
        agent = self._agent(agent_id)
        channel = spec.channel or Channel.VOICE
        if channel is not Channel.VOICE:
            raise errors.IllegalTransition(
                f"only voice contacts can be originated, not {channel.value}"
            )
        for cid, slot in agent.slots.items():
            if slot.state is _S_OFFERED:
                raise errors.TargetUnavailable(
                    f"agent {agent_id} has contact {cid} on offer; answer or reject it first"
                )
        if agent.next_status == OFFLINE:
            raise errors.TargetUnavailable(f"agent {agent_id} is logging out")
        self._check_seat(agent, channel, spec.id)
        (state,) = CONTACT_ENTRIES[Entry.ORIGINATE]
        contact = self._seat(spec, queue, agent, channel, state, now, now, Entry.ORIGINATE)
        contact.direction = Direction.OUTBOUND
        out = Outcome([], [])
        out.events.append(
            ContactOriginated(
                ts=now,
                contact_id=spec.id,
                agent_id=agent_id,
                queue_id=queue.config.id,
                channel=channel,
                direction=Direction.OUTBOUND,
            )
        )
        self._sync_pools(agent, now)
        self._touch_agent(agent, now, out)
        return out

    def _new_contact_queue(self, spec: ContactSpec) -> _Queue:
        if spec.id in self._contacts:
            raise errors.DuplicateContact(f"contact {spec.id} is already known")
        queue = self._queues.get(spec.queue_id)
        if queue is None:
            raise errors.UnknownQueue(
                f"queue {spec.queue_id!r} does not exist; known queues: {sorted(self._queues)}"
            )
        return queue

    def _check_seat(self, agent: _Agent, channel: Channel, contact_id: str) -> None:
        """Refuse to seat a contact with an agent who is logged out or has no room."""
        if agent.status == OFFLINE:
            raise errors.TargetUnavailable(
                f"agent {agent.id} is not logged in; log in before seating contact {contact_id}"
            )
        cap = agent.capacity.get(channel, 0)
        if agent.in_use[channel] >= cap:
            raise errors.TargetUnavailable(
                f"agent {agent.id} has no free {channel.value} capacity "
                f"({agent.in_use[channel]} of {cap} in use) for contact {contact_id}"
            )

    def _seat(
        self,
        spec: ContactSpec,
        queue: _Queue,
        agent: _Agent,
        channel: Channel,
        state: ContactState,
        answered_at: float,
        now: float,
        entry: Entry,
    ) -> _Contact:
        """A contact that starts with its agent: no queue, no offer, no timers."""
        if state not in CONTACT_ENTRIES[entry]:
            raise errors.IllegalTransition(f"a contact cannot {entry.value} as {state.value}")
        slot_state = SlotState(state.value)
        if slot_state not in SLOT_ENTRIES[entry]:
            raise errors.IllegalTransition(f"a contact cannot {entry.value} as {state.value}")
        self._seq += 1
        contact = _Contact(
            id=spec.id,
            channel=channel,
            direction=spec.direction,
            queue=queue,
            priority=spec.priority if spec.priority is not None else queue.config.priority,
            base_priority=spec.priority,
            extra=tuple(sorted(spec.skills.items())),
            data=dict(spec.data),
            arrived_at=spec.arrived_at if spec.arrived_at is not None else answered_at,
            enqueued_at=answered_at,
            seq=self._seq,
            state=state,
            agent_id=agent.id,
            answered_at=answered_at,
        )
        self._contacts[spec.id] = contact
        agent.slots[spec.id] = _Slot(spec.id, channel, slot_state, now, queue.config.id)
        agent.in_use[channel] += 1
        return contact
