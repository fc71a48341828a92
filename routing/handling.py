"""Work on a connected contact: hold, resume, end, wrap-up and blind transfers."""

from __future__ import annotations

from routing import errors
from routing.core import (
    _A_IDLE,
    _CI_END,
    _CI_HOLD,
    _CI_RESUME,
    _CI_TRANSFER_TO_AGENT,
    _CI_TRANSFER_TO_QUEUE,
    _CONTACT_TRANSITIONS,
    _ENDED,
    _OFFERED,
    _QUEUED,
    _S_WRAP_UP,
    _SI_COMPLETE_WRAPUP,
    _SI_END,
    _SI_HOLD,
    _SI_RESUME,
    _SI_TRANSFER,
    _SLOT_TRANSITIONS,
    _T_WRAPUP,
    EngineCore,
)
from routing.events import (
    ContactHeld,
    ContactResumed,
    ContactTransferred,
    new_agent_state_changed,
    new_cancel_timer,
    new_contact_ended,
    new_start_timer,
    new_wrapup_completed,
)
from routing.model import (
    AVAILABLE,
    ContactState,
)
from routing.records import (
    Outcome,
    _Agent,
    _Contact,
    _Slot,
)


class Handling(EngineCore):
    """What an agent does with a contact it has answered."""

    def hold(self, agent_id: str, contact_id: str, now: float) -> Outcome:
        agent, contact, slot = self._held(agent_id, contact_id)
        self._check_slot(slot, _SI_HOLD, contact_id)
        self._transition(contact, _CI_HOLD)
        self._apply_slot(agent, slot, _SI_HOLD)
        contact.hold_started = now
        out = Outcome([], [])
        out.events.append(
            ContactHeld(
                ts=now, contact_id=contact_id, agent_id=agent_id, queue_id=contact.queue.config.id
            )
        )
        self._touch_agent(agent, now, out)
        return out

    def resume(self, agent_id: str, contact_id: str, now: float) -> Outcome:
        agent, contact, slot = self._held(agent_id, contact_id)
        self._check_slot(slot, _SI_RESUME, contact_id)
        self._transition(contact, _CI_RESUME)
        self._apply_slot(agent, slot, _SI_RESUME)
        held = self._close_hold(contact, now)
        out = Outcome([], [])
        out.events.append(
            ContactResumed(
                ts=now,
                contact_id=contact_id,
                agent_id=agent_id,
                queue_id=contact.queue.config.id,
                hold_s=held,
            )
        )
        self._touch_agent(agent, now, out)
        return out

    def _close_hold(self, contact: _Contact, now: float) -> float:
        if contact.hold_started is None:
            return 0.0
        held = now - contact.hold_started
        contact.hold_s += held
        contact.hold_started = None
        return held

    def end(self, agent_id: str, contact_id: str, now: float) -> Outcome:
        """The agent ends the contact; the agent goes into wrap-up for it."""
        # _held's lookups, inlined; _held itself sorts out the errors.
        agent = self._agents.get(agent_id)
        slot = agent.slots.get(contact_id) if agent is not None else None
        contact = self._contacts.get(contact_id)
        if agent is None or slot is None or contact is None or contact.agent_id != agent_id:
            agent, contact, slot = self._held(agent_id, contact_id)
        if _SLOT_TRANSITIONS.get((slot.state, _SI_END)) is None:
            self._check_slot(slot, _SI_END, contact_id)  # raises the typed error
        return self._end(agent, contact, slot, now, "agent")

    def hangup(self, contact_id: str, now: float) -> Outcome:
        """The customer left: an abandon while waiting or offered, an end once answered."""
        contact = self._contact(contact_id)
        if self._consults and contact_id in self._consults:
            return self._hangup_consult(self._consults[contact_id], contact, now)
        if contact.state in (_QUEUED, _OFFERED):
            return self.abandon(contact_id, now)
        if contact.state in (ContactState.CONNECTED, ContactState.HELD):
            assert contact.agent_id is not None
            agent = self._agents[contact.agent_id]
            return self._end(agent, contact, agent.slots[contact_id], now, "customer")
        raise errors.IllegalTransition(f"contact {contact_id} has already {contact.state.value}")

    def _end(self, agent: _Agent, contact: _Contact, slot: _Slot, now: float, by: str) -> Outcome:
        state = _CONTACT_TRANSITIONS.get((contact.state, _CI_END))
        if state is None:
            self._transition(contact, _CI_END)  # raises the typed error
        else:
            contact.state = state
        slot_state = _SLOT_TRANSITIONS.get((slot.state, _SI_END))
        if slot_state is None:
            self._apply_slot(agent, slot, _SI_END)  # raises the typed error
        else:
            slot.state = slot_state
        if contact.hold_started is not None:
            self._close_hold(contact, now)
        out = Outcome([], [])
        talk = now - contact.answered_at - contact.hold_s
        out.events.append(
            new_contact_ended(now, contact.id, agent.id, contact.queue.id, talk, contact.hold_s, by)
        )
        agent.handled_s += talk + contact.hold_s
        if self._queues[slot.queue_id].wrap.mode == "none":
            # _start_wrapup's first case, without the call: no wrap-up at all.
            slot.since = now
            self._finish_wrapup(agent, slot, now, out, None, None, timed_out=False)
        else:
            self._start_wrapup(agent, slot, now, out)
        return out

    def _start_wrapup(self, agent: _Agent, slot: _Slot, now: float, out: Outcome) -> None:
        slot.since = now
        policy = self._queues[slot.queue_id].wrap
        if policy.mode == "none":
            self._finish_wrapup(agent, slot, now, out, None, None, timed_out=False)
            return
        if policy.mode == "timed":
            slot.wrap_gen += 1
            out.commands.append(
                new_start_timer(
                    (_T_WRAPUP, f"{agent.id}\x00{slot.contact_id}", slot.wrap_gen),
                    now + policy.seconds,
                )
            )
        self._touch_agent(agent, now, out)

    def complete_wrapup(
        self,
        agent_id: str,
        contact_id: str,
        now: float,
        disposition: str | None = None,
        notes: str | None = None,
    ) -> Outcome:
        agent = self._agents.get(agent_id)
        if agent is None:
            raise errors.UnknownAgent(f"agent {agent_id!r} is not known")
        slot = agent.slots.get(contact_id)
        if slot is None:
            raise errors.NotYourContact(f"contact {contact_id} is not assigned to {agent_id}")
        if slot.state is not _S_WRAP_UP:
            self._check_slot(slot, _SI_COMPLETE_WRAPUP, contact_id)
        policy = self._queues[slot.queue_id].wrap
        if not disposition and policy.disposition_required:
            raise errors.DispositionRequired(
                f"queue {slot.queue_id} requires a disposition; "
                f"choose one of {list(policy.dispositions) or 'any text'}"
            )
        if disposition and policy.dispositions and disposition not in policy.dispositions:
            raise errors.InvalidDisposition(
                f"disposition {disposition!r} is not one of {list(policy.dispositions)}"
            )
        out = Outcome([], [])
        self._finish_wrapup(agent, slot, now, out, disposition, notes, timed_out=False)
        return out

    def _finish_wrapup(
        self,
        agent: _Agent,
        slot: _Slot,
        now: float,
        out: Outcome,
        disposition: str | None,
        notes: str | None,
        timed_out: bool,
    ) -> None:
        state = _SLOT_TRANSITIONS.get((slot.state, _SI_COMPLETE_WRAPUP))
        if state is None:
            self._apply_slot(agent, slot, _SI_COMPLETE_WRAPUP)  # raises the typed error
        else:
            slot.state = state
        cid = slot.contact_id
        if slot.wrap_gen:
            out.commands.append(
                new_cancel_timer((_T_WRAPUP, f"{agent.id}\x00{cid}", slot.wrap_gen))
            )
        wrap = now - slot.since
        agent.handled_s += wrap
        del agent.slots[cid]
        agent.in_use[slot.channel] -= 1
        out.events.append(
            new_wrapup_completed(
                now, cid, agent.id, slot.queue_id, wrap, disposition, notes, timed_out
            )
        )
        contact = self._contacts.get(cid)
        if contact is not None and contact.state is _ENDED:
            del self._contacts[cid]
        if not agent.slots:
            if agent.next_status is not None:
                self._apply_next_status(agent, now)
            channel = agent.solo
            if (
                channel is not None
                and agent.status == AVAILABLE
                and not agent.not_responding
                and channel not in agent.pooled
            ):
                groups = agent.solo_groups
                for group in groups:
                    if group.live:
                        break
                else:
                    # Free, and nothing waits for it: what _route_agent concludes, without
                    # the search. It joins the back of its pools.
                    agent.pooled[channel] = now
                    agent_id = agent.id
                    if groups and groups[0].fifo:
                        for group in groups:
                            group.members[agent_id] = None
                    else:
                        for group in groups:
                            group.pool.place(agent_id, self._pool_key(agent, group))
                    # _report, inlined: the activity changes (from wrap-up), and the status
                    # is available with nothing next.
                    prev_activity = agent.reported_activity
                    prev_status = agent.reported_status
                    agent.activity = agent.reported_activity = _A_IDLE
                    agent.activity_since = now
                    agent.reported_status = AVAILABLE
                    agent.reported_next = None
                    out.events.append(
                        new_agent_state_changed(
                            now, agent_id, AVAILABLE, _A_IDLE, None, prev_status, prev_activity
                        )
                    )
                    return
        self._route_agent(agent, now, out)

    def transfer_to_queue(
        self, agent_id: str, contact_id: str, queue_id: str, now: float
    ) -> Outcome:
        """Blind transfer to a queue: the contact waits there afresh; the agent wraps up."""
        agent, contact, slot = self._held(agent_id, contact_id)
        self._check_slot(slot, _SI_TRANSFER, contact_id)
        target = self._queues.get(queue_id)
        if target is None:
            raise errors.UnknownQueue(f"queue {queue_id!r} does not exist")
        self._transition(contact, _CI_TRANSFER_TO_QUEUE)
        out = self._transfer_out(agent, contact, slot, now, to_queue=queue_id, to_agent=None)
        contact.queue = target
        contact.agent_id = None
        self._enqueue(contact, now, out, fresh=True)
        self._start_wrapup(agent, slot, now, out)
        self._route_contact(contact, now, out)
        return out

    def transfer_to_agent(
        self, agent_id: str, contact_id: str, target_id: str, now: float
    ) -> Outcome:
        """Blind transfer to an agent who is routable now; it is offered to them directly.
        If they do not take it, it waits in the contact's queue."""
        agent, contact, slot = self._held(agent_id, contact_id)
        self._check_slot(slot, _SI_TRANSFER, contact_id)
        target = self._agent(target_id)
        if target is agent or not self._routable(target, contact.channel):
            raise errors.TargetUnavailable(
                f"agent {target_id} cannot take a {contact.channel.value} contact now"
            )
        self._transition(contact, _CI_TRANSFER_TO_AGENT)
        out = self._transfer_out(agent, contact, slot, now, to_queue=None, to_agent=target_id)
        contact.direct = True
        contact.enqueued_at = now
        self._offer(contact, target, now, out, "transfer", self._group_for(contact))
        self._start_wrapup(agent, slot, now, out)
        return out

    def _transfer_out(
        self,
        agent: _Agent,
        contact: _Contact,
        slot: _Slot,
        now: float,
        to_queue: str | None,
        to_agent: str | None,
    ) -> Outcome:
        self._apply_slot(agent, slot, _SI_TRANSFER)
        self._close_hold(contact, now)
        out = Outcome([], [])
        talk = now - contact.answered_at - contact.hold_s
        out.events.append(
            ContactTransferred(
                ts=now,
                contact_id=contact.id,
                agent_id=agent.id,
                queue_id=contact.queue.config.id,
                to_queue=to_queue,
                to_agent=to_agent,
                talk_s=talk,
                hold_s=contact.hold_s,
            )
        )
        agent.handled_s += talk + contact.hold_s
        contact.hold_s = 0.0
        return out

    def wrapup_timed_out(self, subject: str, gen: int, now: float) -> Outcome:
        """``TimerKind.WRAPUP`` fired (``subject`` is ``agent id + NUL + contact id``): a
        timed wrap-up ends without a disposition."""
        out = Outcome([], [])
        agent_id, _, contact_id = subject.partition("\x00")
        agent = self._agents.get(agent_id)
        slot = agent.slots.get(contact_id) if agent else None
        if (
            agent is not None
            and slot is not None
            and slot.state is _S_WRAP_UP
            and slot.wrap_gen == gen
        ):
            self._finish_wrapup(agent, slot, now, out, None, None, timed_out=True)
        return out
