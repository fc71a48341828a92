"""Voice controls of the agent console: mute, DTMF and the blind transfer to an external
number (the agent websocket's ``mute``, ``dtmf`` and ``transfer`` with ``number``).

Each one follows the ACD's rule: the engine (or, for mute and DTMF, which the routing
core does not model, a check of the engine's view of the contact) is consulted
synchronously, the event is committed, and only then is the gateway sent its command.

- ``mute``: ``contact.muted`` / ``contact.unmuted`` is logged, the gateway is sent
  ``mute`` for the agent's leg and the agent's ``agent_state`` lists the muted contacts.
- ``dtmf``: ``contact.dtmf_sent`` is logged with the number of keys only (they may be a
  card number), the gateway is sent ``send_dtmf`` with the keys.
- external transfer: ``contact.transferred_external`` (the number) is logged with the
  engine's end of the contact in one transaction, so the call log row says
  ``transferred`` to that number; the agent goes to wrap-up as for an end, and the
  gateway is sent ``transfer`` instead of ``hangup`` (a contact hook, run after commit).

Mute state lives in memory: a restart forgets it (the gateway keeps the leg as it was).
"""

from __future__ import annotations

from typing import Any

from contactcenter import protocol as p
from contactcenter.acd import Acd, AcdUnavailable
from contactcenter.clicktodial import ClickToDial
from contactcenter.server_events import (
    ContactMuted,
    ContactUnmuted,
    DtmfSent,
    TransferredExternal,
)
from contactcenter.store import EventRecord
from routing import ContactSnapshot, Outcome
from routing.errors import NotYourContact, RoutingError
from routing.events import ContactEnded, ContactTransferred, Event

TRANSFERRED_EXTERNAL = TransferredExternal.type


class NotConnected(RoutingError):
    """The call is not connected (ringing, offered, in wrap-up, or over)."""

    code = "not_connected"


class NotVoice(RoutingError):
    code = "not_voice"


class Mutes:
    """Which contacts each agent has muted. Built before the ACD, whose ``agent_state``
    lists them (``of``); changed only by ``VoiceControls``."""

    def __init__(self) -> None:
        self.muted: dict[str, set[str]] = {}
        """Agent id -> the contacts on which its microphone is muted."""

    def of(self, agent_id: str) -> list[str]:
        return sorted(self.muted.get(agent_id, ()))

    def set(self, agent_id: str, contact_id: str, muted: bool) -> None:
        mine = self.muted.setdefault(agent_id, set())
        if muted:
            mine.add(contact_id)
        else:
            mine.discard(contact_id)

    def forget_contact(self, contact_id: str) -> None:
        for contacts in self.muted.values():
            contacts.discard(contact_id)


class VoiceControls:
    def __init__(self, acd: Acd, mutes: Mutes, dialer: ClickToDial) -> None:
        self.acd = acd
        self.mutes = mutes
        self.dialer = dialer
        """Whose calls still ring (no mute, DTMF or transfer on those)."""
        self._external: dict[str, str] = {}
        """Contacts ended by an external transfer whose commit is under way -> number."""

    def muted_contacts(self, agent_id: str) -> list[str]:
        return self.mutes.of(agent_id)

    def _check(self, agent_id: str, contact_id: str, *, held_ok: bool) -> ContactSnapshot:
        contact = self.acd.engine.contact(contact_id)  # UnknownContact
        if contact.agent_id != agent_id:
            raise NotYourContact(f"contact {contact_id} is not connected to agent {agent_id}")
        if contact.channel != "voice":
            raise NotVoice(f"contact {contact_id} is a {contact.channel} contact, not a call")
        states = ("connected", "held") if held_ok else ("connected",)
        ringing = self.dialer.is_ringing(contact_id)
        if contact.state not in states or ringing:
            shown = "ringing" if ringing else contact.state
            raise NotConnected(f"call {contact_id} is {shown}, not connected")
        return contact

    async def mute(self, agent_id: str, command: p.Mute) -> dict[str, Any]:
        cid, muted = command.contact_id, command.muted
        queue: list[str | None] = [None]

        def action(now: float) -> Outcome:
            queue[0] = self._check(agent_id, cid, held_ok=True).queue_id
            # in engine order, so that an end committed meanwhile clears it after this
            self.mutes.set(agent_id, cid, muted)
            return Outcome()

        def record(now: float) -> list[EventRecord]:
            kind = ContactMuted if muted else ContactUnmuted
            return [kind(contact_id=cid, agent_id=agent_id, queue_id=queue[0]).record(now)]

        await self.acd.execute(action, before=record)
        self.acd.gateway_sink(
            p.GATEWAY_MUTE, {"call_id": cid, "agent_id": agent_id, "muted": muted}
        )
        self.acd.agent_sink(agent_id, p.AGENT_STATE, self.acd.agent_state(agent_id))
        return {"contact_id": cid, "muted": muted}

    async def dtmf(self, agent_id: str, command: p.Dtmf) -> dict[str, Any]:
        cid, digits = command.contact_id, command.digits
        queue: list[str | None] = [None]

        def action(now: float) -> Outcome:
            queue[0] = self._check(agent_id, cid, held_ok=False).queue_id
            return Outcome()

        def record(now: float) -> list[EventRecord]:
            # the count only: keys an agent sends may be a card number or a PIN
            return [
                DtmfSent(
                    contact_id=cid, agent_id=agent_id, queue_id=queue[0], count=len(digits)
                ).record(now)
            ]

        await self.acd.execute(action, before=record)
        self.acd.gateway_sink(
            p.GATEWAY_SEND_DTMF, {"call_id": cid, "agent_id": agent_id, "digits": digits}
        )
        return {"contact_id": cid, "count": len(digits)}

    async def transfer_external(
        self, agent_id: str, contact_id: str, number: str
    ) -> dict[str, Any]:
        engine = self.acd.engine
        # The gateway connects the caller to the number: without one the caller would be
        # cut off, so the agent keeps the call.
        self.dialer.require_gateway()
        queue: list[str | None] = [None]

        def action(now: float) -> Outcome:
            queue[0] = self._check(agent_id, contact_id, held_ok=True).queue_id
            outcome = engine.end(agent_id, contact_id, now)
            self._external[contact_id] = number
            return outcome

        def record(now: float) -> list[EventRecord]:
            return [
                TransferredExternal(
                    contact_id=contact_id, agent_id=agent_id, queue_id=queue[0], number=number
                ).record(now)
            ]

        try:
            await self.acd.execute(action, before=record)
        except AcdUnavailable:
            self._external.pop(contact_id, None)
            raise
        return {"contact_id": contact_id, "number": number}

    def on_contact_event(self, event: Event) -> bool:
        """Committed-event hook (first in the chain): a call that left the agent is no longer muted;
        one the agent transferred out is handed to the number instead of hung up."""
        cid = event.contact_id
        if cid is None or not isinstance(event, ContactEnded | ContactTransferred):
            return False
        self.mutes.forget_contact(cid)
        number = self._external.pop(cid, None) if isinstance(event, ContactEnded) else None
        if number is None:
            return False
        self.acd.gateway_sink(
            p.GATEWAY_TRANSFER,
            {"call_id": cid, "target": number, "reason": "agent", "agent_id": event.agent_id},
        )
        return True
