"""Click-to-dial: an agent's ``dial`` command becomes an outbound call through the gateway.

0. With no gateway connected the ``dial`` is refused at once (``gateway_unavailable``):
   nothing is logged and nothing waits for a gateway that may connect much later, when
   the agent may be long gone.
1. ``dial``: the CRM record is found (the given customer id, else the number), the
   engine seats a new outbound voice contact CONNECTED with the agent
   (``Engine.originate``; the agent hears ringback), and ``contact.arrived`` (direction
   outbound, dnis = the number) is committed with the engine's ``contact.originated``.
   Only then is the gateway sent ``originate`` and the agent the reply.
2. The gateway reports the callee's answer on its websocket (``originate_result``):
   ``answered`` is logged as ``dial.result`` and the gateway is sent ``bridge`` (agent and
   callee are joined); ``busy``, ``no_answer``, ``invalid_number`` or ``failed`` is logged
   with the engine's hang-up, so the contact ends with that outcome in the call log and
   the agent goes to wrap-up. Either way the agent gets a ``dial_result`` message.
3. From then on it is an ordinary connected contact: hold, end (the gateway is sent
   ``hangup``), wrap-up with the policy of the contact's queue.

Calls still ringing are remembered here (rebuilt from the log by ``Acd.restore``).
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

import asyncpg

from contactcenter import protocol as p
from contactcenter.acd import Acd
from contactcenter.ports import GatewayPresence
from contactcenter.server_events import ContactArrived, DialResult
from contactcenter.store import EventRecord
from contactcenter.store.customers import Customer, find_by_ani, get_customer
from routing import Channel, ContactSpec, ContactState, Outcome
from routing.errors import RoutingError, UnknownContact
from routing.model import Direction

log = logging.getLogger(__name__)

CALL_ID_PREFIX = "out-"
NO_GATEWAY = (
    "no telephony gateway is connected, so the call cannot be placed now; nothing was "
    "dialled. Try again once the phone line is back (your supervisor can check the gateway)."
)


class DialRefused(RoutingError):
    """A ``dial`` the server will not place; ``code`` says why."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ClickToDial:
    def __init__(self, acd: Acd, pool: asyncpg.Pool, gateway: GatewayPresence) -> None:
        self.acd = acd
        self.pool = pool
        self.gateway = gateway
        self._dialing: dict[str, str] = {}
        """Originated calls waiting for the callee to answer: contact id -> agent id."""

    def restore(self, dialing: dict[str, str]) -> None:
        """After a restart: the calls the log shows still ringing (``Acd.restore``)."""
        self._dialing.update(dialing)

    def require_gateway(self) -> None:
        """Raise ``DialRefused`` (``gateway_unavailable``) unless a gateway is connected now:
        a call the agent places must be dialled now or not at all."""
        if not self.gateway.available():
            raise DialRefused("gateway_unavailable", NO_GATEWAY)

    def is_ringing(self, contact_id: str) -> bool:
        return contact_id in self._dialing

    def default_queue(self, agent_id: str) -> str:
        """The first voice queue (in configuration order) whose skills the agent has."""
        engine = self.acd.engine
        skills = engine.agent(agent_id).skills
        for queue_id in engine.queue_ids():
            q = engine.queue_config(queue_id)
            if q.channel is Channel.VOICE and all(
                skills.get(name, 0) >= level for name, level in q.skills.items()
            ):
                return queue_id
        raise DialRefused(
            "queue_required",
            "none of the voice queues matches your skills; "
            "send 'queue' to choose the wrap-up policy of this call",
        )

    async def dial(self, agent_id: str, command: p.Dial) -> dict[str, Any]:
        """Place the call; the reply's fields (``contact_id``, ``number``, ``queue``,
        ``customer_id``, ``screen_pop``)."""
        engine = self.acd.engine
        self.require_gateway()
        queue = command.queue or self.default_queue(agent_id)
        customer = await self._customer(command)
        self.require_gateway()  # the look-up took a round trip: is it still there?
        attached: dict[str, Any] = {"dnis": command.number, "dialed_by": agent_id}
        if customer is not None:
            attached["customer_id"] = customer.id
            if customer.tier:
                attached["tier"] = customer.tier
        contact_id = f"{CALL_ID_PREFIX}{secrets.token_hex(8)}"
        spec = ContactSpec(
            id=contact_id,
            queue_id=queue,
            channel=Channel.VOICE,
            direction=Direction.OUTBOUND,
            data=attached,
        )

        def arrived(now: float) -> list[EventRecord]:
            return [
                ContactArrived(
                    contact_id=contact_id,
                    queue_id=queue,
                    channel="voice",
                    direction="outbound",
                    dnis=command.number,
                    customer_id=attached.get("customer_id"),
                    attached=attached,
                ).record(now)
            ]

        await self.acd.execute(lambda now: engine.originate(spec, agent_id, now), before=arrived)
        self._dialing[contact_id] = agent_id
        if not self.gateway.available():
            # Lost during the commit: the call fails now (logged), it is never kept.
            log.warning("gateway gone while %s was being placed; it failed", contact_id)
            await self.result(contact_id, "failed")
            raise DialRefused("gateway_unavailable", NO_GATEWAY)
        self.acd.gateway_sink(
            p.GATEWAY_ORIGINATE,
            {
                "call_id": contact_id,
                "number": command.number,
                "agent_id": agent_id,
                "extension": self.acd.extension(agent_id),
            },
        )
        pop = await self.acd.screen_pop(contact_id)
        return {
            "contact_id": contact_id,
            "number": command.number,
            "queue": queue,
            "customer_id": attached.get("customer_id"),
            "screen_pop": pop.model_dump(mode="json"),
        }

    async def _customer(self, command: p.Dial) -> Customer | None:
        if command.customer_id is not None:
            customer = await get_customer(self.pool, command.customer_id)
            if customer is None:
                raise DialRefused(
                    "unknown_customer",
                    f"no customer {command.customer_id!r}; dial without it or "
                    "pick the record again",
                )
            return customer
        found = await find_by_ani(self.pool, command.number)
        return found[0] if found else None

    async def result(self, call_id: str, result: p.DialResult) -> None:
        """The gateway says what became of an ``originate``. Raises ``UnknownContact`` for
        a call that is not ringing (never originated, or reported twice)."""
        agent_id = self._dialing.pop(call_id, None)
        if agent_id is None:
            raise UnknownContact(f"call {call_id} is not an outbound call waiting for an answer")
        engine = self.acd.engine
        try:
            snap = engine.contact(call_id)
        except UnknownContact:
            snap = None
        if snap is None or snap.state not in (ContactState.CONNECTED, ContactState.HELD):
            # the agent hung up while it rang: the gateway was sent hangup already
            log.info("dial result %s for %s, which has ended; ignored", result, call_id)
            return
        number = snap.data.get("dnis") if isinstance(snap.data.get("dnis"), str) else None

        def record(now: float) -> list[EventRecord]:
            return [
                DialResult(
                    contact_id=call_id, agent_id=agent_id, queue_id=snap.queue_id, result=result
                ).record(now)
            ]

        if result == "answered":
            await self.acd.execute(lambda now: Outcome(), before=record)
            self.acd.gateway_sink(
                p.GATEWAY_BRIDGE,
                {
                    "call_id": call_id,
                    "agent_id": agent_id,
                    "extension": self.acd.extension(agent_id),
                },
            )
        else:
            await self.acd.execute(lambda now: engine.hangup(call_id, now), before=record)
        data = p.DialResultData(contact_id=call_id, number=number, result=result)
        self.acd.agent_sink(agent_id, p.DIAL_RESULT, data.model_dump(mode="json"))
