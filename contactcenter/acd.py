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

Restart (``restore``): live state is rebuilt from the log, as the log last saw it. Agents
whose last logged state was logged in are logged in again with their last status (and a
pending next status); their consoles reconnect and resume (hub.py gives them the drop
grace period to do so). Contacts that were connected or on hold are seated back with
their agent (``Engine.restore_assigned``; the gateway kept the audio bridge meanwhile),
open wrap-ups are reopened (``Engine.restore_wrapup``, a timed one with a fresh timer)
so that the agent can still submit the disposition, and contacts that were queued or
offered go back into their queue, oldest first. None of this reconstruction is logged
again (it would count the contacts twice in the statistics); what restore decides anew is
logged before anybody hears of it: offers made to the restored agents, wrap-ups that
finish at once, and one ``agent.state_changed`` per agent whose state now differs from
the last logged one. A contact that cannot be seated (its agent was disabled, say) is
re-queued instead; an open wrap-up that cannot be reopened is dropped (the interaction
keeps its times without a disposition).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, assert_never

import asyncpg

from contactcenter.clock import Scheduler, Timer
from contactcenter.hooks import CommittedHooks
from contactcenter.ports import ConsoleNotifier, GatewayCommands
from contactcenter.protocol import (
    AGENT_STATE,
    CONTACT_STATE,
    GATEWAY_BRIDGE,
    GATEWAY_HANGUP,
    GATEWAY_TRANSFER,
    OFFER,
    OFFER_RESCINDED,
    AgentMessageType,
    AgentStateData,
    ContactStateData,
    GatewayCommandType,
    IvrPop,
    OfferData,
    OfferRescindedData,
    ScreenPop,
)
from contactcenter.replay import LogReplay, ReplayedAgent, ReplayedContact, contact_spec
from contactcenter.store import EventLog, EventLogOutcomeUnknown, EventRecord, StoredEvent
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
from routing import AVAILABLE, OFFLINE, AgentProfile, Channel, ContactState, Engine, Outcome
from routing.errors import RoutingError
from routing.events import (
    EVENT_TYPES,
    AgentStateChanged,
    CancelTimer,
    ContactAnswered,
    ContactEnded,
    ContactQueued,
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
CALLER_MEMO = 10_000
"""Arrival look-ups kept for the screen pops (one per live call; the oldest go first)."""
AgentSink = Callable[[str, AgentMessageType, dict[str, Any]], None]
"""(agent_id, message type, data): queue a message to an agent's console (protocol.py)."""
GatewaySink = Callable[[GatewayCommandType, dict[str, Any]], None]
"""(command type, data): queue a command to the telephony gateway (protocol.py)."""
RecordsFor = Callable[[float], Sequence[EventRecord]]
Action = Callable[[float], Outcome]
"""One engine input, given the time: what ``Acd.execute`` runs."""

# Contact events an agent's console is told about, as contact_state messages.
_CONTACT_STATES = {
    "contact.answered": "connected",
    "contact.originated": "dialing",
    "contact.held": "held",
    "contact.resumed": "connected",
    "contact.ended": "wrap_up",
    "contact.transferred": "transferred",
    "wrapup.completed": "done",
    "offer.timed_out": "offer_timed_out",
    "offer.rejected": "offer_rejected",
}


class AcdUnavailable(RuntimeError):
    """The event log did not take the input's events: the input did not happen (the node
    fails stop and rebuilds from the log, see node.py), or, with ``code``
    ``outcome_unknown``, the connection died during the commit and the rebuilt state tells.
    Clients are told 503 with Retry-After, or an error frame."""

    def __init__(self, message: str, code: str = "event_log_failed") -> None:
        super().__init__(message)
        self.code = code


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
        languages=tuple(agent.languages),
    )


@dataclass
class Restored:
    """What ``Acd.restore`` rebuilt, for the services that carry on from it (the
    composition root hands each its part)."""

    contacts: int = 0
    logged_in: list[str] = field(default_factory=list)
    """Agents logged in again: their consoles get the reconnect grace (hub.py)."""
    dialing: dict[str, str] = field(default_factory=dict)
    """Originated calls still ringing: contact id -> agent id (clicktodial.py)."""
    in_ivr: list[tuple[str, ReplayedContact]] = field(default_factory=list)
    """Contacts whose IVR session the log shows open (ivr_runner.py resumes or ends them)."""


class Acd:
    def __init__(
        self,
        engine: Engine,
        event_log: EventLog,
        pool: asyncpg.Pool,
        *,
        scheduler: Scheduler,
        consoles: ConsoleNotifier,
        gateway: GatewayCommands,
        hooks: CommittedHooks,
        muted_of: Callable[[str], list[str]] = lambda agent_id: [],
        observe_decision: Callable[[float], None] = lambda seconds: None,
        on_log_failure: Callable[[BaseException], None] = lambda error: None,
    ) -> None:
        """``hooks``: the services told of every committed contact event, in order (see
        hooks.py); ``muted_of``: the contacts an agent has muted (voice.py), part of
        ``agent_state``; ``observe_decision``: told how long each engine call took
        (metrics); ``on_log_failure``: told once when the log refuses an input's events,
        from which moment this ACD takes no input (its engine holds a change the log does
        not: the node drops it and rebuilds from the log, node.py)."""
        self.engine = engine
        self.log = event_log
        self.pool = pool
        self.scheduler = scheduler
        self.clock: Callable[[], float] = scheduler.now
        self.stats = StatsFold(engine.config.queues)
        self.agent_sink: AgentSink = consoles.deliver
        self.gateway_sink: GatewaySink = gateway.send
        self.hooks = hooks
        self._muted_of = muted_of
        self._observe_decision = observe_decision
        self._extensions: dict[str, str | None] = {}
        self._callers: dict[str, tuple[Customer | None, int]] = {}
        self._tail: asyncio.Future[None] | None = None
        self._timers: dict[TimerId, Timer] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closed = False
        self._failed: BaseException | None = None
        self._on_log_failure = on_log_failure
        event_log.add_listener(self._on_commit)

    def extension(self, agent_id: str | None) -> str | None:
        """The agent's SIP extension or phone (its profile), for the gateway's bridges."""
        return self._extensions.get(agent_id or "")

    # --- the one path every input takes ----------------------------------------------------

    async def execute(
        self,
        action: Action,
        *,
        before: RecordsFor | None = None,
    ) -> Outcome:
        """Run one engine input, commit its events (after ``before``'s records, in the same
        transaction), then carry out its commands. Raises ``RoutingError`` unchanged."""
        if self._closed:
            raise AcdUnavailable("the server is shutting down")
        if self._failed is not None:
            raise AcdUnavailable(
                "the server is rebuilding its state from the event log after a failed "
                "commit; retry shortly"
            )
        now = self.clock()
        started = time.perf_counter()
        outcome = action(now)
        self._observe_decision(time.perf_counter() - started)
        records = [*(before(now) if before else ()), *(EventRecord.of(e) for e in outcome.events)]
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
                # The engine has moved on but the log has not: nothing is told to anyone,
                # this engine takes no more input and the node rebuilds it from the log.
                failure = exc
                if self._failed is None:
                    log.critical("event log refused %d events: %s", len(records), exc)
                    self._failed = exc
                    self._on_log_failure(exc)
            if prev is not None:
                await prev
            if failure is not None:
                code = (
                    "outcome_unknown"
                    if isinstance(failure, EventLogOutcomeUnknown)
                    else "event_log_failed"
                )
                raise AcdUnavailable(f"the change was not recorded: {failure}", code) from failure
            if self._failed is not None:
                # Committed, but a later input was refused meanwhile: this engine is
                # dropped. Timers of the committed change are set again by the rebuild;
                # its effects (offers, gateway commands) are carried out, since the log
                # holds the change and the rebuilt state agrees with them.
                await self._apply(outcome)
                return
            self._apply_timers(outcome)
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
        self._timers[timer] = self.scheduler.call_later(delay, lambda: self._fire(timer))

    def _fire(self, timer: TimerId) -> None:
        self._timers.pop(timer, None)
        if self._closed:
            return
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
            # Every command the engine can give (routing.events.Command, a closed union):
            # a new one fails the type check here until it is carried out.
            match command:
                case Offer():
                    await self._offer(command)
                case RescindOffer():
                    rescinded = OfferRescindedData(
                        contact_id=command.contact_id, reason=command.reason
                    )
                    self.agent_sink(
                        command.agent_id, OFFER_RESCINDED, rescinded.model_dump(mode="json")
                    )
                case FlowOut():
                    self.gateway_sink(
                        GATEWAY_TRANSFER,
                        {
                            "call_id": command.contact_id,
                            "target": command.target,
                            "reason": command.reason,
                        },
                    )
                case StartTimer() | CancelTimer():
                    pass  # carried out before the commit's waiters resume (_apply_timers)
                case _:
                    assert_never(command)

    async def _offer(self, command: Offer) -> None:
        """The offer with its screen pop, to the agent's console."""
        pop = await self.screen_pop(command.contact_id)
        pop = with_ivr_sections(pop, self.engine, command.contact_id)
        data = OfferData(
            contact_id=command.contact_id,
            queue=command.queue_id,
            channel=command.channel,
            expires_at=command.expires_at,
            screen_pop=pop,
            enqueued_at=_enqueued_at(self.engine, command.contact_id),
        )
        self.agent_sink(command.agent_id, OFFER, data.model_dump(mode="json"))

    def _tell(self, event: Event) -> None:
        if isinstance(event, AgentStateChanged) and event.agent_id:
            self.agent_sink(event.agent_id, AGENT_STATE, self.agent_state(event.agent_id))
            return
        state = _CONTACT_STATES.get(event.type)
        if state is not None and event.agent_id and event.contact_id:
            detail = {k: v for k, v in event.payload().items() if v is not None}
            data = ContactStateData(
                contact_id=event.contact_id,
                state=state,
                queue=event.queue_id,
                event=event.type,
                detail=detail,
            )
            self.agent_sink(event.agent_id, CONTACT_STATE, data.model_dump(mode="json"))
        if event.contact_id and self.hooks.run(event):
            return
        if isinstance(event, ContactAnswered) and event.contact_id:
            self.gateway_sink(
                GATEWAY_BRIDGE,
                {
                    "call_id": event.contact_id,
                    "agent_id": event.agent_id,
                    "extension": self.extension(event.agent_id),
                },
            )
        elif isinstance(event, ContactEnded) and event.ended_by != "customer":
            self.gateway_sink(
                GATEWAY_HANGUP, {"call_id": event.contact_id, "reason": event.ended_by}
            )

    def agent_state(self, agent_id: str) -> dict[str, Any]:
        snap = self.engine.agent(agent_id)
        return AgentStateData(
            agent_id=snap.id,
            status=snap.status,
            activity=snap.activity,
            next_status=snap.next_status,
            contacts=snap.contacts,
            status_since=snap.status_since,
            activity_since=snap.activity_since,
            muted=self._muted_of(agent_id),
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
        memo = self._callers.get(contact_id)
        try:
            if memo is not None:
                customer, matches = memo
            elif customer_id := _text(data.get("customer_id")):
                customer = await get_customer(self.pool, customer_id)
            elif account := _text(data.get("account")):
                customer = await find_by_account(self.pool, account)
            elif ani:
                found = await find_by_ani(self.pool, ani)
                customer = found[0] if found else None
                matches = len(found)
        except Exception:
            # A slow or failed CRM must not stop the offer; the pop says so.
            log.exception(
                "screen pop lookup failed for %s", contact_id, extra={"contact_id": contact_id}
            )
            return ScreenPop(
                known=False, ani=ani, message="Customer lookup failed; ask the caller who they are"
            )
        if customer is None:
            shown = ani or "withheld number"
            return ScreenPop(
                known=False,
                ani=ani,
                message=f"Unknown caller ({shown}): no customer record matches",
            )
        history = await recent_interactions(self.pool, customer.id, limit=SCREEN_POP_HISTORY + 1)
        recent = [
            {
                "contact_id": i.contact_id,
                "started_at": i.started_at.isoformat(),
                "channel": i.channel,
                "queue_id": i.queue_id,
                "agent_id": i.agent_id,
                "outcome": i.outcome,
                "disposition": i.disposition,
                "notes": i.notes,
            }
            for i in history
            if i.contact_id != contact_id
        ][:SCREEN_POP_HISTORY]
        return ScreenPop(
            known=True,
            ani=ani,
            matches=max(matches, 1),
            message=f"{customer.name}" + (f" ({customer.tier})" if customer.tier else ""),
            customer=customer.model_dump(mode="json", exclude={"created_at", "updated_at"}),
            recent=recent,
        )

    def remember_caller(self, contact_id: str, customer: Customer | None, matches: int) -> None:
        """The CRM look-up made when the call arrived: its offers' screen pops use it
        instead of the same queries again (the call's history is still read per pop)."""
        if len(self._callers) >= CALLER_MEMO:
            del self._callers[next(iter(self._callers))]
        self._callers[contact_id] = (customer, matches)

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
        self._extensions[agent_id] = profile.extension
        self.engine.add_agent(routing_profile(profile), self.clock())
        return True

    # --- restart ---------------------------------------------------------------------------

    async def restore(self) -> Restored:
        """Rebuild agents, statistics and live contacts from the store (see the module
        docstring); what was rebuilt, for the services that carry on from it."""
        for profile in await list_agents(self.pool):
            self._extensions[profile.agent_id] = profile.extension
            self.engine.add_agent(routing_profile(profile), self.clock())
        replay = LogReplay()
        async for stored in read_all_in_order(self.pool):
            event = _routing_event(stored)
            if event is not None:
                self.stats.apply(event)
            replay.track(stored)
        rebuilt = _Rebuild(self.engine, self.clock())
        logged_in = rebuilt.agents(replay, self.engine.config.reason_codes)
        restored = rebuilt.contacts(replay)
        new = rebuilt.new_facts(replay)
        self._apply_timers(new)
        if new.events:
            await self.log.append([EventRecord.of(e) for e in new.events])
        await self._apply(new)
        dialing = {
            contact_id: c.agent_id or ""
            for contact_id, c in replay.contacts.items()
            if c.dialing and contact_id in rebuilt.seated
        }
        if restored or logged_in:
            log.info(
                "restored %d live contacts and %d logged-in agents from the event log",
                restored,
                len(logged_in),
            )
        return Restored(
            contacts=restored, logged_in=logged_in, dialing=dialing, in_ivr=replay.in_ivr()
        )

    async def close(self) -> None:
        self._closed = True
        self.log.remove_listener(self._on_commit)
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


_heap_frozen = False


def freeze_startup_heap() -> None:
    """Startup is over: what exists now (modules, configuration, the rebuilt state) lives
    as long as the process. Moved out of the collector's way, it is no longer scanned by
    every full collection (measured under the e2e benchmark: full collections paused the
    loop for 100-300 ms). Once per process, after a collection, so no garbage is kept."""
    global _heap_frozen
    if not _heap_frozen:
        _heap_frozen = True
        gc.collect()
        gc.freeze()


def _routing_event(stored: StoredEvent) -> Event | None:
    if stored.type not in EVENT_TYPES:
        return None
    try:
        return event_from_record(
            stored.type, stored.ts, stored.contact_id, stored.agent_id, stored.queue_id, stored.data
        )
    except (KeyError, TypeError):
        return None


class _Rebuild:
    """The engine calls of a restore, made synchronously, and what they decided anew."""

    def __init__(self, engine: Engine, now: float) -> None:
        self.engine = engine
        self.now = now
        self.out = Outcome()
        self.seated: set[str] = set()
        self._requeued: set[str] = set()

    def _keep(self, outcome: Outcome) -> None:
        self.out.events.extend(outcome.events)
        self.out.commands.extend(outcome.commands)

    def agents(self, replay: LogReplay, reason_codes: Sequence[str]) -> list[str]:
        """Log in the agents whose last logged state was logged in; their ids."""
        done = []
        for agent_id, last in replay.logged_in():
            status = last.status
            if status != AVAILABLE and status not in reason_codes:
                # a reason code removed from the configuration: stay not ready
                status = reason_codes[0] if reason_codes else AVAILABLE
            try:
                self._keep(self.engine.login(agent_id, self.now, status))
            except RoutingError as exc:  # disabled or deleted since
                log.warning("cannot log agent %s in again: %s", agent_id, exc)
                continue
            done.append(agent_id)
        return done

    def contacts(self, replay: LogReplay) -> int:
        """Seat, reopen and re-queue; then the agents' pending statuses. Contacts counted."""
        engine, now = self.engine, self.now
        requeue = []
        for contact_id, c in replay.assigned():
            assert c.agent_id is not None
            try:
                self._keep(
                    engine.restore_assigned(
                        contact_spec(contact_id, c),
                        c.agent_id,
                        ContactState(c.state),
                        now,
                        answered_at=c.answered_at,
                    )
                )
                self.seated.add(contact_id)
            except (RoutingError, ValueError) as exc:
                log.warning(
                    "contact %s cannot be seated with %s again (%s); re-queued",
                    contact_id,
                    c.agent_id,
                    exc,
                )
                requeue.append((contact_id, c))
        for (agent_id, contact_id), queue_id in replay.wrapups.items():
            try:
                self._keep(engine.restore_wrapup(agent_id, contact_id, queue_id, now))
            except RoutingError as exc:
                log.warning("wrap-up of %s by %s cannot be reopened: %s", contact_id, agent_id, exc)
        for agent_id, last in replay.logged_in():
            if last.next_status is None:
                continue
            try:
                if last.next_status == OFFLINE:
                    self._keep(engine.logout(agent_id, now))
                else:
                    self._keep(engine.set_status(agent_id, last.next_status, now))
            except RoutingError as exc:
                log.warning(
                    "pending status %s of %s not restored: %s", last.next_status, agent_id, exc
                )
        waiting: list[tuple[str, ReplayedContact, float | None]]
        waiting = [(contact_id, c, None) for contact_id, c in requeue]
        # A waiting contact keeps the wait it had: its clock runs from its logged queue
        # entry (never after now, should the host clock have stepped back).
        waiting += [(cid, c, min(c.enqueued_at, now)) for cid, c in replay.waiting()]
        for contact_id, c, since in waiting:
            try:
                self._keep(engine.arrive(contact_spec(contact_id, c), now, waiting_since=since))
                self._requeued.add(contact_id)
            except (RoutingError, ValueError) as exc:
                log.error(
                    "cannot restore contact %s: %s",
                    contact_id,
                    exc,
                    extra={"contact_id": contact_id},
                )
        return len(self.seated) + len(self._requeued)

    def new_facts(self, replay: LogReplay) -> Outcome:
        """All commands, and the events that the log does not hold yet: everything but
        the re-queueing itself and the agents' intermediate states, plus one state change
        per agent whose state differs from the last logged one."""
        events: list[Event] = [
            e
            for e in self.out.events
            if not isinstance(e, AgentStateChanged)
            and not (isinstance(e, ContactQueued) and e.contact_id in self._requeued)
        ]
        for snap in self.engine.agents():
            last = replay.agents.get(snap.id) or ReplayedAgent()
            if (snap.status, snap.activity, snap.next_status) == (
                last.status,
                last.activity,
                last.next_status,
            ):
                continue
            events.append(
                AgentStateChanged(
                    ts=self.now,
                    agent_id=snap.id,
                    status=snap.status,
                    activity=snap.activity,
                    next_status=snap.next_status,
                    prev_status=last.status,
                    prev_activity=last.activity,
                )
            )
        return Outcome(events=events, commands=list(self.out.commands))


def with_ivr_sections(pop: ScreenPop, engine: Engine, contact_id: str) -> ScreenPop:
    """The screen pop with its ``ivr`` section (and, for a web chat, ``chat``: the
    visitor's name and question), from the contact's attached data (ivr_runner.py,
    chat.py)."""
    try:
        data = engine.contact(contact_id).data
    except RoutingError:
        return pop
    section, chat = data.get("ivr"), data.get("chat")
    update: dict[str, Any] = {}
    if isinstance(section, dict):
        try:
            update["ivr"] = IvrPop.model_validate(section)
        except ValueError:
            update["ivr"] = None
    if isinstance(chat, dict):
        update["chat"] = {k: v for k, v in chat.items() if isinstance(v, str)}
    return pop.model_copy(update=update) if update else pop


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _enqueued_at(engine: Engine, contact_id: str) -> float | None:
    try:
        return engine.contact(contact_id).enqueued_at
    except RoutingError:
        return None
