"""Consult (warm) transfer and three-way conference on the agent websocket.

The agent holding a call (A) asks another agent (B) to talk first (``consult``): the
engine puts the caller on hold and reserves B's voice line; B gets a ``consult_offer``
with the caller's screen pop and answers it (``consult_accept`` / ``consult_reject``, or
the offer times out). A and B then talk over a consult leg, and A either hands the caller
over (``consult_complete``), calls it off (``consult_cancel``) or joins all three
(``conference``); either agent may then ``leave_conference``.

Same rule as the rest of the ACD (acd.py, voice.py): the engine decides synchronously,
its events are committed, and only then are the consoles told (``consult_state`` to both
agents) and the gateway sent its command, from a contact hook that sees every committed
event (so a consult that times out on a timer, or a caller who hangs up, is handled the
same way as a command):

| event | gateway |
|---|---|
| ``consult.accepted`` | ``consult_bridge`` (A <-> B; the caller stays on hold) |
| ``consult.cancelled`` / ``consult.rejected`` after an answer | ``consult_end`` |
| ``contact.answered`` of B after the transfer (completion) | ``bridge`` to B, as for any answer |
| ``conference.started`` | ``conference`` (caller, A and B) |
| ``conference.left`` with someone remaining | ``leave_conference`` (that agent's leg) |

Consults live in the engine's memory only: a restart forgets an open consult (the event
log keeps its story; the contact is restored held by A).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from contactcenter import protocol as p
from contactcenter.acd import Acd, with_ivr_sections
from contactcenter.clicktodial import ClickToDial
from contactcenter.voice import NotConnected, NotVoice
from routing import Outcome
from routing.errors import NotYourContact
from routing.events import (
    ConferenceLeft,
    ConferenceStarted,
    ConsultAccepted,
    ConsultCancelled,
    ConsultRejected,
    ConsultStarted,
    ContactTransferred,
    Event,
)

_REJECT_STATES: dict[str, p.ConsultState] = {
    "rejected": "rejected",
    "timed_out": "timed_out",
    "caller_left": "caller_left",
}


@dataclass(slots=True)
class _Leg:
    from_agent: str
    to_agent: str
    answered: bool = False


class Consults:
    def __init__(self, acd: Acd, dialer: ClickToDial) -> None:
        self.acd = acd
        self.dialer = dialer
        self._legs: dict[str, _Leg] = {}
        """Consults and conferences as the committed events tell them, by contact id."""

    async def handle(self, agent_id: str, c: p.AgentCommand) -> dict[str, Any]:
        engine = self.acd.engine
        cid: str = c.contact_id  # type: ignore[union-attr]
        if isinstance(c, p.Consult):
            return await self._consult(agent_id, c)
        method = {
            p.ConsultAccept: engine.accept_consult,
            p.ConsultReject: engine.reject_consult,
            p.ConsultComplete: engine.complete_consult,
            p.ConsultCancel: engine.cancel_consult,
            p.Conference: engine.conference,
            p.LeaveConference: engine.leave_conference,
        }[type(c)]

        def action(now: float) -> Outcome:
            result: Outcome = method(agent_id, cid, now)
            return result

        await self.acd.execute(action)
        return {"contact_id": cid}

    async def _consult(self, agent_id: str, c: p.Consult) -> dict[str, Any]:
        engine = self.acd.engine
        cid, target = c.contact_id, c.agent_id

        def action(now: float) -> Outcome:
            contact = engine.contact(cid)  # UnknownContact
            if contact.agent_id != agent_id:
                raise NotYourContact(f"contact {cid} is not connected to agent {agent_id}")
            if contact.channel != "voice":
                raise NotVoice(f"contact {cid} is a {contact.channel} contact, not a call")
            if self.dialer.is_ringing(cid):
                raise NotConnected(f"call {cid} is ringing, not connected")
            return engine.consult(agent_id, cid, target, now)

        outcome = await self.acd.execute(action)
        started = next(e for e in outcome.events if isinstance(e, ConsultStarted))
        pop = await self.acd.screen_pop(cid)
        pop = with_ivr_sections(pop, engine, cid)
        still = engine.consult_of(cid)
        # The pop took a database round trip: send the offer only if it is still open.
        if still is not None and still.to_agent == target and not still.accepted:
            data = p.ConsultOfferData(
                contact_id=cid,
                from_agent=agent_id,
                queue=started.queue_id or "",
                channel="voice",
                expires_at=started.expires_at,
                screen_pop=pop,
            )
            self.acd.agent_sink(target, p.CONSULT_OFFER, data.model_dump(mode="json"))
        return {"contact_id": cid, "agent_id": target, "expires_at": started.expires_at}

    # --- after commit -------------------------------------------------------------------

    def _tell(self, cid: str, leg: _Leg, state: p.ConsultState, event: Event, **extra: Any) -> None:
        data = p.ConsultStateData(
            contact_id=cid,
            state=state,
            from_agent=leg.from_agent,
            to_agent=leg.to_agent,
            event=event.type,
            **extra,
        )
        body = data.model_dump(mode="json")
        for agent in (leg.from_agent, leg.to_agent):
            self.acd.agent_sink(agent, p.CONSULT_STATE, body)
            # The engine reports an agent only when its activity changes; consulting ->
            # conferenced -> connected are all "on_contact", so the slot change would not
            # reach the console otherwise.
            self.acd.agent_sink(agent, p.AGENT_STATE, self.acd.agent_state(agent))

    def on_contact_event(self, event: Event) -> bool:
        """Committed-event hook: never takes over the default bridge / hangup (False)."""
        cid = event.contact_id
        if cid is None:
            return False
        if isinstance(event, ConsultStarted) and event.agent_id:
            leg = self._legs[cid] = _Leg(event.agent_id, event.to_agent)
            self._tell(cid, leg, "offered", event)
            return False
        leg_or_none = self._legs.get(cid)
        if leg_or_none is None:
            return False
        leg = leg_or_none
        send = self.acd.gateway_sink
        if isinstance(event, ConsultAccepted):
            leg.answered = True
            send(
                p.GATEWAY_CONSULT_BRIDGE,
                {
                    "call_id": cid,
                    "agent_id": leg.from_agent,
                    "target_agent_id": leg.to_agent,
                    "extension": self.acd.extension(leg.to_agent),
                },
            )
            self._tell(cid, leg, "consulting", event)
        elif isinstance(event, ConsultRejected | ConsultCancelled):
            del self._legs[cid]
            # A caller who hung up took every leg down with it.
            if leg.answered and not (
                isinstance(event, ConsultRejected) and event.reason == "caller_left"
            ):
                reason = event.reason if isinstance(event, ConsultRejected) else "cancelled"
                send(p.GATEWAY_CONSULT_END, {"call_id": cid, "reason": reason})
            if isinstance(event, ConsultCancelled):
                self._tell(cid, leg, "cancelled", event)
            else:
                self._tell(
                    cid,
                    leg,
                    _REJECT_STATES.get(event.reason, "dropped"),
                    event,
                    reason=event.reason,
                )
        elif isinstance(event, ContactTransferred) and event.to_agent == leg.to_agent:
            # consult_complete: the contact.answered of B that follows bridges the caller
            # to B (acd.py), which drops A's leg and the consult leg at the gateway.
            del self._legs[cid]
            self._tell(cid, leg, "completed", event)
        elif isinstance(event, ConferenceStarted):
            send(p.GATEWAY_CONFERENCE, {"call_id": cid, "agents": [leg.from_agent, leg.to_agent]})
            self._tell(cid, leg, "conference", event)
        elif isinstance(event, ConferenceLeft):
            del self._legs[cid]
            if event.remaining is not None:
                send(p.GATEWAY_LEAVE_CONFERENCE, {"call_id": cid, "agent_id": event.agent_id})
                self._tell(cid, leg, "left", event, remaining=event.remaining)
            else:
                self._tell(cid, leg, "caller_left", event, reason=event.reason)
        return False
