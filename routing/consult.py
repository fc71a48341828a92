"""Consult (warm transfer) and conference: off the routing hot path.

The only traces elsewhere are a truth test of the empty ``_consults`` dict in hangup and
logout. The first agent (A) keeps owning the contact (``contact.agent_id``) until it
completes; the consulted agent (B) holds a slot of its own under the same contact id in one
of the consult states, so its capacity is taken and it leaves the pools like an offered
agent.
"""

from __future__ import annotations

from routing import errors
from routing.core import (
    _CI_END,
    _SI_CONFERENCE,
    _SI_CONSULT,
    _SI_CONSULT_ACCEPT,
    _SI_CONSULT_CANCEL,
    _SI_CONSULT_COMPLETE,
    _SI_CONSULT_REJECT,
    _SI_CONSULT_TIMEOUT,
    _SI_KEEP_CONFERENCE,
    _SI_LEAVE_CONFERENCE,
    _T_CONSULT,
    EngineCore,
)
from routing.events import (
    ConferenceLeft,
    ConferenceStarted,
    ConsultAccepted,
    ConsultCancelled,
    ConsultRejected,
    ConsultStarted,
    ContactHeld,
    ContactResumed,
    ContactTransferred,
    new_contact_answered,
    new_contact_ended,
    new_start_timer,
)
from routing.model import (
    ContactState,
)
from routing.records import (
    ConsultSnapshot,
    Outcome,
    _Agent,
    _Consult,
    _Contact,
    _new_slot,
    _Slot,
)
from routing.transitions import (
    SLOT_ENTRIES,
    ContactInput,
    Entry,
    SlotInput,
)


class Consults(EngineCore):
    """Consults and conferences on a contact."""

    def consult(self, agent_id: str, contact_id: str, target_id: str, now: float) -> Outcome:
        """A, holding the contact, asks agent B for a consult: the caller goes on hold and B
        is reserved until it answers or the offer expires (the queue's offer timeout)."""
        agent, contact, slot = self._held(agent_id, contact_id)
        if contact_id in self._consults:
            raise errors.IllegalTransition(f"contact {contact_id} already has a consult open")
        self._check_slot(slot, _SI_CONSULT, contact_id)
        target = self._agent(target_id)
        if (
            target is agent
            or contact_id in target.slots
            or not self._routable(target, contact.channel)
        ):
            raise errors.TargetUnavailable(
                f"agent {target_id} cannot take a {contact.channel.value} consult now"
            )
        out = Outcome([], [])
        was_held = contact.state is ContactState.HELD
        self._transition(contact, ContactInput.CONSULT)
        self._apply_slot(agent, slot, _SI_CONSULT)
        qid = contact.queue.id
        if not was_held:
            contact.hold_started = now
            out.events.append(
                ContactHeld(ts=now, contact_id=contact_id, agent_id=agent_id, queue_id=qid)
            )
        expires = now + contact.queue.offer_timeout_s
        gen = abs(contact.timers.get(_T_CONSULT, 0)) + 1
        contact.timers[_T_CONSULT] = gen
        self._consults[contact_id] = _Consult(
            contact_id=contact_id,
            from_agent=agent_id,
            to_agent=target_id,
            expires_at=expires,
            timer_gen=gen,
            started_at=now,
        )
        (b_state,) = SLOT_ENTRIES[Entry.CONSULT]
        target.slots[contact_id] = _new_slot(contact_id, contact.channel, b_state, now, qid)
        target.in_use[contact.channel] += 1
        out.commands.append(new_start_timer((_T_CONSULT, contact_id, gen), expires))
        out.events.append(
            ConsultStarted(
                ts=now,
                contact_id=contact_id,
                agent_id=agent_id,
                queue_id=qid,
                to_agent=target_id,
                expires_at=expires,
            )
        )
        self._sync_pools(target, now)
        self._touch_agent(target, now, out)
        self._touch_agent(agent, now, out)
        return out

    def _open_consult(self, contact_id: str) -> _Consult:
        consult = self._consults.get(contact_id)
        if consult is None:
            if contact_id not in self._contacts:
                raise errors.UnknownContact(f"contact {contact_id!r} is not in routing")
            raise errors.IllegalTransition(f"contact {contact_id} has no consult open")
        return consult

    def _consulted(self, agent_id: str, contact_id: str) -> tuple[_Consult, _Agent, _Slot]:
        """The consult on the contact, checked to be addressed to ``agent_id`` (B)."""
        self._agent(agent_id)
        consult = self._open_consult(contact_id)
        if consult.to_agent != agent_id:
            raise errors.NotYourContact(f"the consult on {contact_id} is not for {agent_id}")
        target = self._agents[agent_id]
        return consult, target, target.slots[contact_id]

    def _consulting(self, agent_id: str, contact_id: str) -> tuple[_Consult, _Agent, _Slot]:
        """The consult on the contact, checked to be started by ``agent_id`` (A)."""
        self._agent(agent_id)
        consult = self._open_consult(contact_id)
        if consult.from_agent != agent_id:
            raise errors.NotYourContact(
                f"the consult on {contact_id} was not started by {agent_id}"
            )
        agent = self._agents[agent_id]
        return consult, agent, agent.slots[contact_id]

    def accept_consult(self, agent_id: str, contact_id: str, now: float) -> Outcome:
        consult, target, slot = self._consulted(agent_id, contact_id)
        self._check_slot(slot, _SI_CONSULT_ACCEPT, contact_id)
        if now > consult.expires_at:
            raise errors.OfferExpired(f"the consult on contact {contact_id} has expired")
        contact = self._contacts[contact_id]
        out = Outcome([], [])
        self._apply_slot(target, slot, _SI_CONSULT_ACCEPT)
        slot.since = now
        consult.accepted = True
        self._cancel_timer(contact, _T_CONSULT, out)
        out.events.append(
            ConsultAccepted(
                ts=now,
                contact_id=contact_id,
                agent_id=agent_id,
                queue_id=contact.queue.id,
                from_agent=consult.from_agent,
            )
        )
        self._touch_agent(target, now, out)
        return out

    def reject_consult(self, agent_id: str, contact_id: str, now: float) -> Outcome:
        """B declines, or hangs up on an answered consult: it is freed; the caller stays on
        hold with A."""
        consult, _target, slot = self._consulted(agent_id, contact_id)
        self._check_slot(slot, _SI_CONSULT_REJECT, contact_id)
        out = Outcome([], [])
        self._drop_consult(consult, now, out, _SI_CONSULT_REJECT, "rejected")
        return out

    def cancel_consult(self, agent_id: str, contact_id: str, now: float) -> Outcome:
        """A calls the consult off (answered or not): B is freed, A resumes the caller."""
        consult, agent, slot = self._consulting(agent_id, contact_id)
        if consult.conference:
            raise errors.IllegalTransition(f"contact {contact_id} is in a conference")
        self._check_slot(slot, _SI_CONSULT_CANCEL, contact_id)
        contact = self._contacts[contact_id]
        out = Outcome([], [])
        self._transition(contact, ContactInput.CONSULT_CANCEL)
        self._drop_consult(consult, now, out, _SI_CONSULT_CANCEL, "cancelled")
        held = self._close_hold(contact, now)
        out.events.append(
            ContactResumed(
                ts=now,
                contact_id=contact_id,
                agent_id=agent_id,
                queue_id=contact.queue.id,
                hold_s=held,
            )
        )
        self._touch_agent(agent, now, out)
        return out

    def _drop_consult(
        self, consult: _Consult, now: float, out: Outcome, event: SlotInput, reason: str
    ) -> None:
        """The consult ends without a transfer: B's slot is released and A's slot goes the
        way the table says for ``event`` (held after a reject or timeout, connected after
        A cancels). The contact's own transition is the caller's business."""
        cid = consult.contact_id
        contact = self._contacts[cid]
        agent = self._agents[consult.from_agent]
        target = self._agents[consult.to_agent]
        a_slot = agent.slots[cid]
        b_slot = target.slots[cid]
        self._apply_slot(agent, a_slot, event)
        self._apply_slot(target, b_slot, event)
        self._free_slot(target, b_slot)
        self._cancel_timer(contact, _T_CONSULT, out)
        del self._consults[cid]
        qid = contact.queue.id
        if event is _SI_CONSULT_CANCEL:
            out.events.append(
                ConsultCancelled(
                    ts=now,
                    contact_id=cid,
                    agent_id=agent.id,
                    queue_id=qid,
                    to_agent=target.id,
                )
            )
        else:
            out.events.append(
                ConsultRejected(
                    ts=now,
                    contact_id=cid,
                    agent_id=target.id,
                    queue_id=qid,
                    from_agent=agent.id,
                    reason=reason,
                )
            )
        if consult.accepted:
            target.handled_s += now - b_slot.since
        self._touch_agent(agent, now, out)
        self._touch_agent(target, now, out)
        self._after_release(target, now, out)

    def complete_consult(self, agent_id: str, contact_id: str, now: float) -> Outcome:
        """A hands the caller to B (who has answered the consult): the contact is B's from
        now, A goes to wrap-up as after a transfer."""
        consult, agent, slot = self._consulting(agent_id, contact_id)
        target = self._agents[consult.to_agent]
        b_slot = target.slots[contact_id]
        self._check_slot(slot, _SI_CONSULT_COMPLETE, contact_id)
        self._check_slot(b_slot, _SI_CONSULT_COMPLETE, contact_id)
        contact = self._contacts[contact_id]
        self._transition(contact, ContactInput.CONSULT_COMPLETE)
        self._apply_slot(agent, slot, _SI_CONSULT_COMPLETE)
        self._apply_slot(target, b_slot, _SI_CONSULT_COMPLETE)
        del self._consults[contact_id]
        out = Outcome([], [])
        # A's leg, as _transfer_out records it: talk and hold up to now.
        self._close_hold(contact, now)
        talk = now - contact.answered_at - contact.hold_s
        qid = contact.queue.id
        out.events.append(
            ContactTransferred(
                ts=now,
                contact_id=contact_id,
                agent_id=agent_id,
                queue_id=qid,
                to_queue=None,
                to_agent=target.id,
                talk_s=talk,
                hold_s=contact.hold_s,
            )
        )
        agent.handled_s += talk + contact.hold_s
        contact.hold_s = 0.0
        # B's leg starts now; its consult time was agent-to-agent talk, not the caller's.
        target.handled_s += now - b_slot.since
        b_slot.since = now
        contact.agent_id = target.id
        contact.answered_at = now
        contact.direct = False
        out.events.append(new_contact_answered(now, contact_id, target.id, qid, 0.0, False))
        self._start_wrapup(agent, slot, now, out)
        self._touch_agent(target, now, out)
        return out

    def conference(self, agent_id: str, contact_id: str, now: float) -> Outcome:
        """A joins the caller with itself and B (who has answered the consult)."""
        consult, agent, slot = self._consulting(agent_id, contact_id)
        target = self._agents[consult.to_agent]
        b_slot = target.slots[contact_id]
        self._check_slot(slot, _SI_CONFERENCE, contact_id)
        self._check_slot(b_slot, _SI_CONFERENCE, contact_id)
        contact = self._contacts[contact_id]
        self._transition(contact, ContactInput.CONFERENCE)
        self._apply_slot(agent, slot, _SI_CONFERENCE)
        self._apply_slot(target, b_slot, _SI_CONFERENCE)
        consult.conference = True
        consult.conference_since = now
        target.handled_s += now - b_slot.since
        b_slot.since = now
        held = self._close_hold(contact, now)
        out = Outcome([], [])
        out.events.append(
            ConferenceStarted(
                ts=now,
                contact_id=contact_id,
                agent_id=agent_id,
                queue_id=contact.queue.id,
                with_agent=target.id,
                hold_s=held,
            )
        )
        self._touch_agent(agent, now, out)
        self._touch_agent(target, now, out)
        return out

    def leave_conference(self, agent_id: str, contact_id: str, now: float) -> Outcome:
        """Either agent leaves: it goes to wrap-up, the other keeps the caller and becomes
        the contact's owner (talk time still counts from the original answer)."""
        self._agent(agent_id)
        consult = self._open_consult(contact_id)
        if agent_id not in (consult.from_agent, consult.to_agent):
            raise errors.NotYourContact(f"{agent_id} is not in the call on {contact_id}")
        if not consult.conference:
            raise errors.IllegalTransition(f"contact {contact_id} is not in a conference")
        other_id = consult.to_agent if agent_id == consult.from_agent else consult.from_agent
        leaver = self._agents[agent_id]
        keeper = self._agents[other_id]
        l_slot = leaver.slots[contact_id]
        k_slot = keeper.slots[contact_id]
        self._check_slot(l_slot, _SI_LEAVE_CONFERENCE, contact_id)
        self._check_slot(k_slot, _SI_KEEP_CONFERENCE, contact_id)
        contact = self._contacts[contact_id]
        self._transition(contact, ContactInput.LEAVE_CONFERENCE)
        self._apply_slot(leaver, l_slot, _SI_LEAVE_CONFERENCE)
        self._apply_slot(keeper, k_slot, _SI_KEEP_CONFERENCE)
        del self._consults[contact_id]
        contact.agent_id = other_id
        out = Outcome([], [])
        spent = now - consult.conference_since
        leaver.handled_s += spent
        out.events.append(
            ConferenceLeft(
                ts=now,
                contact_id=contact_id,
                agent_id=agent_id,
                queue_id=contact.queue.id,
                remaining=other_id,
                reason="left",
                in_conference_s=spent,
            )
        )
        self._start_wrapup(leaver, l_slot, now, out)
        self._touch_agent(keeper, now, out)
        return out

    def _hangup_consult(self, consult: _Consult, contact: _Contact, now: float) -> Outcome:
        """The caller left during a consult or a conference."""
        if not consult.conference:
            # B is freed; A's hold ends as any held call does.
            pre = Outcome([], [])
            self._drop_consult(consult, now, pre, _SI_CONSULT_REJECT, "caller_left")
            agent = self._agents[consult.from_agent]
            out = self._end(agent, contact, agent.slots[contact.id], now, "customer")
            pre.events.extend(out.events)
            pre.commands.extend(out.commands)
            return pre
        owner_id = contact.agent_id
        assert owner_id is not None
        other_id = consult.to_agent if owner_id == consult.from_agent else consult.from_agent
        owner = self._agents[owner_id]
        other = self._agents[other_id]
        o_slot = owner.slots[contact.id]
        x_slot = other.slots[contact.id]
        self._transition(contact, _CI_END)
        self._apply_slot(owner, o_slot, _SI_LEAVE_CONFERENCE)
        self._apply_slot(other, x_slot, _SI_LEAVE_CONFERENCE)
        del self._consults[contact.id]
        out = Outcome([], [])
        qid = contact.queue.id
        talk = now - contact.answered_at - contact.hold_s
        out.events.append(
            new_contact_ended(now, contact.id, owner_id, qid, talk, contact.hold_s, "customer")
        )
        owner.handled_s += talk + contact.hold_s
        spent = now - consult.conference_since
        other.handled_s += spent
        out.events.append(
            ConferenceLeft(
                ts=now,
                contact_id=contact.id,
                agent_id=other_id,
                queue_id=qid,
                remaining=None,
                reason="caller_left",
                in_conference_s=spent,
            )
        )
        self._start_wrapup(owner, o_slot, now, out)
        self._start_wrapup(other, x_slot, now, out)
        return out

    def _logout_consults(self, agent: _Agent, now: float, force: bool, out: Outcome) -> None:
        """Consults the agent is part of, before it logs out: a consult offered to it is
        dropped; with ``force`` it also drops out of any consult or conference."""
        for consult in [
            c for c in self._consults.values() if agent.id in (c.from_agent, c.to_agent)
        ]:
            if consult.conference:
                if force:
                    leg = self.leave_conference(agent.id, consult.contact_id, now)
                    out.events.extend(leg.events)
                    out.commands.extend(leg.commands)
            elif (consult.to_agent == agent.id and not consult.accepted) or force:
                self._drop_consult(consult, now, out, _SI_CONSULT_REJECT, "agent_logged_out")

    def consult_of(self, contact_id: str) -> ConsultSnapshot | None:
        c = self._consults.get(contact_id)
        if c is None:
            return None
        return ConsultSnapshot(
            contact_id=c.contact_id,
            from_agent=c.from_agent,
            to_agent=c.to_agent,
            expires_at=c.expires_at,
            accepted=c.accepted,
            conference=c.conference,
        )

    def consult_timed_out(self, contact_id: str, gen: int, now: float) -> Outcome:
        """``TimerKind.CONSULT`` fired: B did not answer the consult in time."""
        out = Outcome([], [])
        if self._fired(contact_id, _T_CONSULT, gen) is None:
            return out
        consult = self._consults.get(contact_id)
        if consult is not None and not consult.accepted and consult.timer_gen == gen:
            self._drop_consult(consult, now, out, _SI_CONSULT_TIMEOUT, "timed_out")
        return out
