"""The routing driver: owns the one ``routing.Engine`` of this process and does its I/O.

The order of every input is the same three steps:

1. the engine is called synchronously (no await in between, so it sees one input at a
   time); a ``RoutingError`` means nothing changed and nothing is logged;
2. the resulting events are appended to the event log and awaited, i.e. committed,
   before anybody hears about them;
3. the commands are carried out (timers, offers with a screen pop, gateway commands) and
   the agents concerned are told.

Ordering: the engine call and the hand-over of its records to the log happen in call
order, and the log commits in hand-over order, so commits preserve engine order while
still sharing transactions (group commit). Step 3 of each input waits for step 3 of the
previous input (a chain of futures), so agents see effects in engine order too.

Restart (``restore``): live state is rebuilt from the log. Contacts whose last event left
them queued or offered are put back into their queue, oldest first. Contacts that were
connected or on hold are *also* re-queued: the engine has no way to seat a contact with
an agent directly, and an agent's console must accept it again (the gateway keeps the
audio bridge meanwhile). Wrap-ups that were open are dropped (the interaction keeps its
times without a disposition). The rebuilt arrivals are not logged again: they are a
reconstruction, not new facts, and logging them would count the contacts twice in the
statistics. Agents start logged out and log in again from their consoles.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from contactcenter.protocol import AgentStateData, ContactStateData, OfferData, ScreenPop
from contactcenter.store import EventLog, EventRecord, StoredEvent
from contactcenter.store.customers import (
    Customer,
    find_by_account,
    find_by_ani,
    get_customer,
    recent_interactions,
)
from contactcenter.store.events import read_all_in_order
from contactcenter.store.users import AgentProfile as StoredAgent
from contactcenter.store.users import get_agent_profile, list_agents
from routing import AgentProfile, Channel, ContactSpec, Engine, Outcome
from routing.errors import RoutingError
from routing.events import (
    EVENT_TYPES,
    AgentStateChanged,
    CancelTimer,
    ContactAnswered,
    ContactEnded,
    Event,
    FlowOut,
    Offer,
    RescindOffer,
    StartTimer,
    TimerId,
    event_from_record,
)
from routing.stats import StatsFold

log = logging.getLogger(__name__)

SCREEN_POP_HISTORY = 5
AgentSink = Callable[[str, str, dict[str, Any]], None]
"""(agent_id, message type, data): queue a message to an agent's console."""
GatewaySink = Callable[[str, dict[str, Any]], None]
"""(command type, data): queue a command to the telephony gateway."""
RecordsFor = Callable[[float], Sequence[EventRecord]]

# Contact events an agent's console is told about, as contact_state messages.
_CONTACT_STATES = {
    "contact.answered": "connected",
    "contact.held": "held",
    "contact.resumed": "connected",
    "contact.ended": "wrap_up",
    "contact.transferred": "transferred",
    "wrapup.completed": "done",
    "offer.timed_out": "offer_timed_out",
    "offer.rejected": "offer_rejected",
}
_LIVE = {"queued", "offered", "connected", "held"}


class AcdUnavailable(RuntimeError):
    """The event log did not take the input's events; the input may not have happened."""

    code = "event_log_failed"


def routing_profile(agent: StoredAgent) -> AgentProfile:
    """The routing core's view of a stored agent profile."""
    capacity = {Channel(ch): n for ch, n in agent.capacity.items() if ch in set(Channel)}
    if capacity.get(Channel.VOICE, 0) > 1:
        capacity[Channel.VOICE] = 1  # voice is exclusive in the routing core
    return AgentProfile(
        id=agent.agent_id,
        name=agent.display_name,
        team=agent.team or "",
        skills=agent.skills,
        capacity=capacity,
    )


@dataclass
class _Replayed:
    """What replay learns about one contact."""

    state: str = "arrived"
    queue_id: str | None = None
    enqueued_at: float = 0.0
    arrival: dict[str, Any] = field(default_factory=dict)
    arrived_at: float | None = None


class Acd:
    def __init__(
        self,
        engine: Engine,
        event_log: EventLog,
        pool: Any,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.engine = engine
        self.log = event_log
        self.pool = pool
        self.clock = clock
        self.stats = StatsFold(engine.config.queues)
        self.agent_sink: AgentSink = lambda agent_id, kind, data: None
        self.gateway_sink: GatewaySink = lambda kind, data: None
        self.extensions: dict[str, str | None] = {}
        self._tail: asyncio.Future[None] | None = None
        self._timers: dict[TimerId, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        event_log.add_listener(self._on_commit)

    # --- the one path every input takes ----------------------------------------------------

    async def execute(
        self,
        action: Callable[[float], Outcome],
        *,
        before: RecordsFor | None = None,
    ) -> Outcome:
        """Run one engine input, commit its events (after ``before``'s records, in the same
        transaction), then carry out its commands. Raises ``RoutingError`` unchanged."""
        if self._closed:
            raise AcdUnavailable("the server is shutting down")
        now = self.clock()
        outcome = action(now)
        records = [*(before(now) if before else ()),
                   *(EventRecord.of(e) for e in outcome.events)]
        prev, done = self._tail, asyncio.get_running_loop().create_future()
        self._tail = done
        # A task of its own, so that a caller that goes away (a closed websocket) cannot
        # leave timers unscheduled or the chain unfinished.
        task = asyncio.get_running_loop().create_task(
            self._commit_then_apply(outcome, records, prev, done)
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        await asyncio.shield(task)
        return outcome

    async def _commit_then_apply(
        self,
        outcome: Outcome,
        records: list[EventRecord],
        prev: asyncio.Future[None] | None,
        done: asyncio.Future[None],
    ) -> None:
        try:
            failure: Exception | None = None
            try:
                if records:
                    await self.log.append(records)
            except Exception as exc:
                # The engine has moved on but the log has not: nothing is told to anyone.
                log.critical("event log refused %d events: %s", len(records), exc)
                failure = exc
            if prev is not None:
                await prev
            self._apply_timers(outcome)
            if failure is not None:
                raise AcdUnavailable(f"the change was not recorded: {failure}") from failure
            await self._apply(outcome)
        finally:
            done.set_result(None)

    def _on_commit(self, events: Sequence[StoredEvent]) -> None:
        # Statistics are folded from what is committed, whoever wrote it.
        for stored in events:
            event = _routing_event(stored)
            if event is not None:
                self.stats.apply(event)

    # --- carrying out commands -------------------------------------------------------------

    def _apply_timers(self, outcome: Outcome) -> None:
        for command in outcome.commands:
            if isinstance(command, StartTimer):
                self._schedule(command.timer, command.at)
            elif isinstance(command, CancelTimer):
                handle = self._timers.pop(command.timer, None)
                if handle is not None:
                    handle.cancel()

    def _schedule(self, timer: TimerId, at: float) -> None:
        if self._closed:
            return
        old = self._timers.pop(timer, None)
        if old is not None:
            old.cancel()
        delay = max(0.0, at - self.clock())
        self._timers[timer] = asyncio.get_running_loop().call_later(delay, self._fire, timer)

    def _fire(self, timer: TimerId) -> None:
        self._timers.pop(timer, None)
        task = asyncio.get_running_loop().create_task(self._fire_async(timer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _fire_async(self, timer: TimerId) -> None:
        try:
            await self.execute(lambda now: self.engine.timer(timer, now))
        except Exception:
            log.exception("timer %s failed", timer)

    async def _apply(self, outcome: Outcome) -> None:
        for event in outcome.events:
            self._tell(event)
        for command in outcome.commands:
            if isinstance(command, Offer):
                pop = await self.screen_pop(command.contact_id)
                data = OfferData(
                    contact_id=command.contact_id, queue=command.queue_id,
                    channel=command.channel, expires_at=command.expires_at, screen_pop=pop,
                )
                self.agent_sink(command.agent_id, "offer", data.model_dump(mode="json"))
            elif isinstance(command, RescindOffer):
                self.agent_sink(command.agent_id, "offer_rescinded",
                                {"contact_id": command.contact_id, "reason": command.reason})
            elif isinstance(command, FlowOut):
                self.gateway_sink("transfer", {"call_id": command.contact_id,
                                               "target": command.target,
                                               "reason": command.reason})

    def _tell(self, event: Event) -> None:
        if isinstance(event, AgentStateChanged) and event.agent_id:
            self.agent_sink(event.agent_id, "agent_state", self.agent_state(event.agent_id))
            return
        state = _CONTACT_STATES.get(event.type)
        if state is not None and event.agent_id and event.contact_id:
            detail = {k: v for k, v in event.payload().items() if v is not None}
            data = ContactStateData(contact_id=event.contact_id, state=state,
                                    queue=event.queue_id, event=event.type, detail=detail)
            self.agent_sink(event.agent_id, "contact_state", data.model_dump(mode="json"))
        if isinstance(event, ContactAnswered) and event.contact_id:
            self.gateway_sink("bridge", {"call_id": event.contact_id, "agent_id": event.agent_id,
                                         "extension": self.extensions.get(event.agent_id or "")})
        elif isinstance(event, ContactEnded) and event.ended_by != "customer":
            self.gateway_sink("hangup", {"call_id": event.contact_id, "reason": event.ended_by})

    def agent_state(self, agent_id: str) -> dict[str, Any]:
        snap = self.engine.agent(agent_id)
        return AgentStateData(
            agent_id=snap.id, status=snap.status, activity=snap.activity,
            next_status=snap.next_status, contacts=snap.contacts,
        ).model_dump(mode="json")

    # --- screen pop ------------------------------------------------------------------------

    async def screen_pop(self, contact_id: str) -> ScreenPop:
        """The caller's CRM record and last interactions, or a pop that says "unknown"."""
        try:
            data = self.engine.contact(contact_id).data
        except RoutingError:
            data = {}
        ani = _text(data.get("ani"))
        customer: Customer | None = None
        matches = 0
        try:
            if customer_id := _text(data.get("customer_id")):
                customer = await get_customer(self.pool, customer_id)
            elif account := _text(data.get("account")):
                customer = await find_by_account(self.pool, account)
            elif ani:
                found = await find_by_ani(self.pool, ani)
                customer = found[0] if found else None
                matches = len(found)
        except Exception:
            # A slow or failed CRM must not stop the offer; the pop says so.
            log.exception("screen pop lookup failed for %s", contact_id)
            return ScreenPop(known=False, ani=ani,
                             message="Customer lookup failed; ask the caller who they are")
        if customer is None:
            shown = ani or "withheld number"
            return ScreenPop(known=False, ani=ani,
                             message=f"Unknown caller ({shown}): no customer record matches")
        history = await recent_interactions(self.pool, customer.id,
                                            limit=SCREEN_POP_HISTORY + 1)
        recent = [
            {
                "contact_id": i.contact_id, "started_at": i.started_at.isoformat(),
                "channel": i.channel, "queue_id": i.queue_id, "agent_id": i.agent_id,
                "outcome": i.outcome, "disposition": i.disposition, "notes": i.notes,
            }
            for i in history if i.contact_id != contact_id
        ][:SCREEN_POP_HISTORY]
        return ScreenPop(
            known=True, ani=ani, matches=max(matches, 1),
            message=f"{customer.name}" + (f" ({customer.tier})" if customer.tier else ""),
            customer=customer.model_dump(mode="json", exclude={"created_at", "updated_at"}),
            recent=recent,
        )

    # --- agents ----------------------------------------------------------------------------

    async def ensure_agent(self, agent_id: str) -> bool:
        """Make sure the engine knows this agent (profiles may be added while running)."""
        try:
            self.engine.agent(agent_id)
            return True
        except RoutingError:
            pass
        profile = await get_agent_profile(self.pool, agent_id)
        if profile is None or profile.disabled:
            return False
        self.extensions[agent_id] = profile.extension
        self.engine.add_agent(routing_profile(profile), self.clock())
        return True

    # --- restart ---------------------------------------------------------------------------

    async def restore(self) -> int:
        """Rebuild agents, statistics and waiting contacts from the store; contacts
        put back in their queues. See the module docstring for what is restored how."""
        for profile in await list_agents(self.pool):
            self.extensions[profile.agent_id] = profile.extension
            self.engine.add_agent(routing_profile(profile), self.clock())
        contacts: dict[str, _Replayed] = {}
        async for stored in read_all_in_order(self.pool):
            event = _routing_event(stored)
            if event is not None:
                self.stats.apply(event)
            if stored.contact_id is not None:
                _track(contacts, stored)
        live = sorted(
            ((cid, c) for cid, c in contacts.items() if c.state in _LIVE and c.queue_id),
            key=lambda item: item[1].enqueued_at,
        )
        now = self.clock()
        restored = 0
        for contact_id, replayed in live:
            spec = _spec(contact_id, replayed)
            try:
                outcome = self.engine.arrive(spec, now)
            except (RoutingError, ValueError) as exc:
                log.error("cannot restore contact %s: %s", contact_id, exc)
                continue
            self._apply_timers(outcome)
            restored += 1
        if restored:
            log.info("restored %d live contacts from the event log", restored)
        return restored

    async def close(self) -> None:
        self._closed = True
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _routing_event(stored: StoredEvent) -> Event | None:
    if stored.type not in EVENT_TYPES:
        return None
    try:
        return event_from_record(stored.type, stored.ts, stored.contact_id, stored.agent_id,
                                 stored.queue_id, stored.data)
    except (KeyError, TypeError):
        return None


def _track(contacts: dict[str, _Replayed], e: StoredEvent) -> None:
    assert e.contact_id is not None
    c = contacts.setdefault(e.contact_id, _Replayed())
    d = e.data
    if e.type == "contact.arrived":
        c.arrival = dict(d)
        c.arrived_at = e.ts
        c.queue_id = e.queue_id or c.queue_id
        c.state = "arrived"
    elif e.type == "contact.queued":
        c.state, c.queue_id, c.enqueued_at = "queued", e.queue_id or c.queue_id, e.ts
    elif e.type == "contact.offered":
        c.state = "offered"
    elif e.type in ("offer.rejected", "offer.timed_out", "offer.rescinded"):
        c.state = "queued"
    elif e.type in ("contact.answered", "contact.resumed"):
        c.state = "connected"
    elif e.type == "contact.held":
        c.state = "held"
    elif e.type in ("contact.ended", "contact.abandoned", "contact.flowed_out"):
        # an overflow is followed by contact.queued in the new queue, which revives it
        c.state = "done"
    if e.type == "contact.arrived" and c.queue_id is None:
        c.state = "done"


def _spec(contact_id: str, c: _Replayed) -> ContactSpec:
    arrival = c.arrival
    skills = arrival.get("skills") if isinstance(arrival.get("skills"), dict) else {}
    priority = arrival.get("priority")
    data = arrival.get("attached") if isinstance(arrival.get("attached"), dict) else {}
    assert c.queue_id is not None
    return ContactSpec(
        id=contact_id, queue_id=c.queue_id,
        priority=priority if isinstance(priority, int) else None,
        skills=skills or {}, data=data or {}, arrived_at=c.arrived_at,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None

