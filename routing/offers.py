"""Offers: reserving an agent for a contact, and how the offer ends.

An offer ends in exactly one of four ways, each one function here: ``accept``, ``reject``,
``offer_timed_out`` (the ``TimerKind.OFFER`` handler) and ``_rescind_offer`` (the agent logs
out; a caller hanging up is ``Queueing.abandon``). The last three share
``_release_offer``, which puts the contact back.
"""

from __future__ import annotations

from routing import errors
from routing.core import (
    _A_OFFERED,
    _A_ON_CONTACT,
    _CI_ACCEPT,
    _CI_OFFER,
    _CI_OFFER_TIMEOUT,
    _CI_REJECT,
    _CI_RESCIND,
    _CONTACT_TIMERS,
    _CONTACT_TRANSITIONS,
    _OFFERED,
    _QUEUED,
    _S_ACCEPTED,
    _S_OFFER_ENTRY,
    _S_OFFERED,
    _SI_OFFER_TIMEOUT,
    _SI_REJECT,
    _SI_RESCIND,
    _T_OFFER,
    EngineCore,
)
from routing.events import (
    Event,
    OfferRejected,
    OfferRescinded,
    OfferTimedOut,
    RescindOffer,
    new_agent_state_changed,
    new_cancel_timer,
    new_contact_answered,
    new_contact_offered,
    new_offer,
    new_start_timer,
)
from routing.records import (
    Outcome,
    _Agent,
    _Contact,
    _Group,
    _new_slot,
)
from routing.transitions import (
    ContactInput,
    SlotInput,
)


class Offers(EngineCore):
    """Offering contacts to agents and ending offers."""

    def _offer(
        self,
        contact: _Contact,
        agent: _Agent,
        now: float,
        out: Outcome,
        trigger: str,
        group: _Group,
    ) -> None:
        if trigger != "transfer":
            state = _CONTACT_TRANSITIONS.get((contact.state, _CI_OFFER))
            if state is None:
                self._transition(contact, _CI_OFFER)  # raises the typed error
            else:
                contact.state = state
        if contact.group is not None:
            self._unqueue(contact)
        queue = contact.queue
        channel = contact.channel
        cid = contact.id
        aid = agent.id
        qid = queue.id
        agent.slots[cid] = _new_slot(cid, channel, _S_OFFER_ENTRY, now, qid)
        agent.in_use[channel] += 1
        agent.last_offer_at = now
        contact.agent_id = aid
        expires = now + queue.offer_timeout_s
        contact.offer_expires = expires
        step_name = group.step_name
        routable = len(group.members) if group.fifo else len(group.pool)
        contact.decision = (aid, step_name, trigger, routable, now)
        self.decisions += 1
        timers = contact.timers
        # Cancelled timers keep their generation negated; never reuse one.
        gen = abs(timers.get(_T_OFFER, 0)) + 1
        timers[_T_OFFER] = gen
        commands = out.commands
        commands.append(new_offer(cid, aid, qid, channel, expires, step_name))
        commands.append(new_start_timer((_T_OFFER, cid, gen), expires))
        out.events.append(
            new_contact_offered(now, cid, aid, qid, expires, step_name, now - contact.enqueued_at)
        )
        if trigger != "agent_free":
            if agent.solo is channel and len(agent.slots) == 1 and not agent.not_responding:
                # It was free for exactly this one contact: it leaves its pools and is now
                # offered (what _sync_pools and _touch_agent conclude, without the search).
                pooled = agent.pooled
                if channel in pooled:
                    # _unpool for an agent filed at load 0 (nothing in pooled_load).
                    del pooled[channel]
                    groups = agent.solo_groups
                    if groups and groups[0].fifo:
                        for g in groups:
                            g.members.pop(aid, None)
                    else:
                        for g in groups:
                            g.pool.remove(aid)
                # _report, inlined: the activity changes (it was free), the status not.
                prev_activity = agent.reported_activity
                agent.activity = agent.reported_activity = _A_OFFERED
                agent.activity_since = now
                status = agent.status
                out.events.append(
                    new_agent_state_changed(
                        now, aid, status, _A_OFFERED, None, agent.reported_status, prev_activity
                    )
                )
                agent.reported_status = status
                agent.reported_next = None
            else:
                self._sync_pools(agent, now)
                self._touch_agent(agent, now, out)

    def accept(self, agent_id: str, contact_id: str, now: float) -> Outcome:
        # _held's lookups, inlined; _held itself sorts out the errors.
        agent = self._agents.get(agent_id)
        slot = agent.slots.get(contact_id) if agent is not None else None
        contact = self._contacts.get(contact_id)
        if agent is None or slot is None or contact is None or contact.agent_id != agent_id:
            agent, contact, slot = self._held(agent_id, contact_id)
        if slot.state is not _S_OFFERED:
            raise errors.IllegalTransition(f"contact {contact_id} is not being offered to you")
        if now > contact.offer_expires:
            raise errors.OfferExpired(f"the offer of contact {contact_id} has expired")
        # _transition and _apply_slot, inlined (one accept per answered contact); the
        # calls remain for the error messages.
        state = _CONTACT_TRANSITIONS.get((contact.state, _CI_ACCEPT))
        if state is None:
            self._transition(contact, _CI_ACCEPT)
        else:
            contact.state = state
        slot.state = _S_ACCEPTED  # the slot is offered: checked just above
        out = Outcome([], [])
        slot.since = now
        contact.answered_at = now
        timers = contact.timers
        commands = out.commands
        # Cancelled in a fixed order; a contact that never waited has only its offer timer.
        for kind in timers if len(timers) == 1 else _CONTACT_TIMERS:
            gen = timers.get(kind)
            if gen is not None and gen > 0:
                commands.append(new_cancel_timer((kind, contact_id, gen)))
                timers[kind] = -gen
        out.events.append(
            new_contact_answered(
                now,
                contact_id,
                agent_id,
                contact.queue.id,
                now - contact.enqueued_at,
                not contact.direct,
            )
        )
        if len(agent.slots) == 1 and not agent.not_responding:
            # _touch_agent for the usual case: this is the agent's only contact.
            self._report(agent, _A_ON_CONTACT, now, out)
        else:
            self._touch_agent(agent, now, out)
        return out

    def reject(self, agent_id: str, contact_id: str, now: float) -> Outcome:
        agent, contact, slot = self._held(agent_id, contact_id)
        if slot.state is not _S_OFFERED:
            raise errors.IllegalTransition(f"contact {contact_id} is not being offered to you")
        out = Outcome([], [])
        if contact.queue.config.missed_offer_not_responding:
            agent.not_responding = True
        rejected = OfferRejected(
            ts=now, contact_id=contact_id, agent_id=agent_id, queue_id=contact.queue.id
        )
        self._release_offer(agent, contact, now, out, _CI_REJECT, _SI_REJECT, rejected, None)
        self._reroute_missed(agent, contact, now, out)
        return out

    def offer_timed_out(self, contact_id: str, gen: int, now: float) -> Outcome:
        """``TimerKind.OFFER`` fired: the agent let the offer ring out.

        The whole of it, in order: the contact and the agent's slot take ``OFFER_TIMEOUT``
        of their tables (back to queued; slot released); the agent is marked not
        responding if the queue says so; ``offer.timed_out`` is emitted; the contact
        returns to its place (or its queue, after a blind transfer; or flows out if its
        max wait passed meanwhile); then other agents get the first look at it, and
        the agent who missed it picks next, its pending status applying first."""
        out = Outcome([], [])
        contact = self._fired(contact_id, _T_OFFER, gen)
        if contact is None or contact.state is not _OFFERED:
            return out  # stale: answered, rejected or rescinded meanwhile
        assert contact.agent_id is not None
        agent = self._agents[contact.agent_id]
        if contact.queue.config.missed_offer_not_responding:
            agent.not_responding = True
        timed_out = OfferTimedOut(
            ts=now, contact_id=contact_id, agent_id=agent.id, queue_id=contact.queue.id
        )
        self._release_offer(
            agent, contact, now, out, _CI_OFFER_TIMEOUT, _SI_OFFER_TIMEOUT, timed_out, None
        )
        self._reroute_missed(agent, contact, now, out)
        return out

    def _rescind_offer(self, agent: _Agent, contact: _Contact, now: float, out: Outcome) -> None:
        """The agent logs out with the contact on offer: the offer is withdrawn."""
        rescinded = OfferRescinded(
            ts=now,
            contact_id=contact.id,
            agent_id=agent.id,
            queue_id=contact.queue.id,
            reason="agent_logged_out",
        )
        command = RescindOffer(contact.id, agent.id, "agent_logged_out")
        self._release_offer(agent, contact, now, out, _CI_RESCIND, _SI_RESCIND, rescinded, command)

    def _reroute_missed(self, agent: _Agent, contact: _Contact, now: float, out: Outcome) -> None:
        if contact.state is _QUEUED:
            # Other idle agents first; the agent who missed it then picks the best waiting
            # contact (maybe this one again): offering it straight back could pass over an
            # older or higher-priority contact that arrived during the offer.
            self._route_contact(contact, now, out, skip=agent.id)
        self._after_release(agent, now, out)

    def _release_offer(
        self,
        agent: _Agent,
        contact: _Contact,
        now: float,
        out: Outcome,
        contact_input: ContactInput,
        slot_input: SlotInput,
        event: Event,
        command: RescindOffer | None,
    ) -> None:
        """The offer ends without an answer (``contact_input`` and ``slot_input`` say how):
        ``event`` (and ``command``, if any) go out and the contact goes back to its place."""
        slot = agent.slots[contact.id]
        self._transition(contact, contact_input)
        self._apply_slot(agent, slot, slot_input)
        self._free_slot(agent, slot)
        self._cancel_timer(contact, _T_OFFER, out)
        contact.agent_id = None
        if command is not None:
            out.commands.append(command)
        out.events.append(event)
        if contact.direct:
            # A blind transfer the target did not take lands in the contact's queue.
            contact.direct = False
            self._enqueue(contact, now, out, fresh=True)
        elif contact.maxwait_at is not None and now >= contact.maxwait_at:
            self._push(contact)
            self._flow(contact, now, out)
        else:
            self._push(contact)
        self._touch_agent(agent, now, out)

    def _after_release(self, agent: _Agent, now: float, out: Outcome) -> None:
        """The agent let go of a contact without wrap-up: its pending status may apply
        now, and it may take the next one."""
        if not agent.slots and agent.next_status is not None:
            self._apply_next_status(agent, now)
        self._route_agent(agent, now, out)
