"""Runs IVR sessions (ivr/) for live contacts: the voice IVR on the telephony gateway, the
post-contact survey, and the base the web chat (chat.py) builds on.

The interpreter is sans-I/O; this module does its I/O. Every step goes through
``Acd.execute`` like any engine input: the session is stepped synchronously, its events
(and, for a ``Queue`` action, the engine's arrival of the contact) are committed to the
event log, and only then is the customer told anything (a gateway command, a chat
message). Steps of one conversation are serialised by a lock; the interpreter's
``prompt_id`` tells a stale timer apart.

Voice: ``config/gateway.yaml`` maps dialled numbers to entry trees (``ivr: {dnis: ...}``);
a call to such a number runs its tree instead of queueing at once (gateway.py asks
``IvrService.voice_arrive``). Digits from ``POST /gateway/calls/{id}/digits`` answer the
waiting prompt; silence is an asyncio timer. See docs/gateway.md, "IVR on voice".

What a session collected travels with the contact: the queued contact's attached data
holds the variables the tree attached plus an ``ivr`` section (tree, path, variables,
sensitive names) that the agent's screen pop shows; values of sensitive variables are
masked there and in every logged event.

Restart: a session lives only in this process's memory, but the caller is still on the
line at the gateway. ``restore_sessions`` (run at start-up, after ``Acd.restore``) takes
the sessions the log shows open (replay.py) and never leaves one in limbo: a voice call
in its entry tree starts the same tree again from its start (``ivr.restarted``, committed
with the fresh session's first events before the gateway hears the new ``gather``); one
whose tree is gone is queued to its number's queue of ``config/gateway.yaml`` ``dnis:``
or, failing that, ended (``ivr.ended``, outcome ``ended_in_ivr``, reason
``server_restart``; the gateway is told to hang up). Chats in the IVR (the visitor's
socket died with the process) and surveys are ended the same way. Answers given before
the crash are not put back into the new session: the tree asks again, so its conditions
see exactly what a new call sees; the non-sensitive ones are kept in ``ivr.restarted``
for the record. See docs/server.md, "Restart".
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import asyncpg
import yaml
from aiohttp import web
from pydantic import BaseModel

import ivr
from contactcenter import protocol as p
from contactcenter.acd import Acd, AcdUnavailable
from contactcenter.clock import Scheduler, Timer
from contactcenter.gateway_config import IvrSettings, load_gateway_config
from contactcenter.gateway_contract import CallIn
from contactcenter.ports import GatewayCommands
from contactcenter.replay import ReplayedContact
from contactcenter.server_events import (
    ContactArrived,
    IvrCallArrived,
    IvrCallerLeft,
    IvrQueueFailed,
)
from contactcenter.store import EventRecord
from contactcenter.store.customers import find_by_account, find_by_ani
from contactcenter.store.interactions import get_interaction
from contactcenter.webcommon import Authenticator, fail, json_error
from ivr.events import MASK, IvrEvent
from routing import ContactSpec, Outcome
from routing.errors import RoutingError, UnknownContact
from routing.events import ContactEnded, Event

log = logging.getLogger(__name__)

Purpose = Literal["entry", "survey"]
MAX_RESTARTS = 3
"""Restarts that resume one call's IVR; then the call is ended (a call that kills the
server each time must not keep it crashing)."""
RESTART_REASON = "server_restart"


def load_registry(config_dir: Path, queues: Sequence[str]) -> ivr.Registry | None:
    """The trees of ``config_dir/ivr``; None when there is no such directory, or when the
    trees do not fit the routing configuration (logged: the server still routes calls
    that name their queue, and ``contactcenter ivr check`` tells what to fix)."""
    directory = config_dir / "ivr"
    if not directory.is_dir():
        return None
    try:
        return ivr.Registry.from_sources(ivr.read_sources(directory), queues)
    except ivr.IvrConfigError as exc:
        log.error("IVR trees in %s are not in service: %s", directory, exc)
        return None


def event_record(event: IvrEvent) -> EventRecord:
    """An interpreter event as the log stores it (values already masked by ivr/)."""
    return EventRecord(
        type=event.type, ts=event.ts, contact_id=event.contact_id or None, data=event.payload()
    )


def ivr_section(action: ivr.Terminal, tree: str) -> dict[str, Any]:
    """The ``ivr`` part of a contact's attached data (and of the screen pop)."""
    return {
        "tree": tree,
        "path": list(action.path),
        "variables": masked(action.variables, action.sensitive),
        "sensitive": sorted(action.sensitive),
    }


def masked(values: Mapping[str, Any], sensitive: frozenset[str] | set[str]) -> dict[str, Any]:
    return {k: MASK if k in sensitive else v for k, v in values.items()}


def customer_record(customer: Any) -> dict[str, Any]:
    """What a session sees of a CRM record (``customer.tier`` etc. in conditions)."""
    return {
        "id": customer.id,
        "name": customer.name,
        "tier": customer.tier,
        "value_segment": customer.value_segment,
    }


class Conversation:
    """One contact's IVR session, its timer, and how its customer hears prompts."""

    channel: Literal["voice", "chat"] = "voice"

    def __init__(self, contact_id: str, session: ivr.Session, purpose: Purpose) -> None:
        self.contact_id = contact_id
        self.session = session
        self.purpose = purpose
        self.tree_id = session.tree.id
        self.timer: Timer | None = None
        self.lock = asyncio.Lock()
        self.queue_state: str | None = None
        """After a Queue action: the engine's state of the contact (queued, offered)."""

    def queue_spec(self, action: ivr.Queue) -> tuple[ContactSpec, dict[str, Any]]:
        """The contact as it enters the engine, and the ``contact.arrived`` payload."""
        session = self.session
        data: dict[str, Any] = masked(action.data, action.sensitive)
        for key, value in (("ani", session.ani), ("dnis", session.dnis)):
            if value:
                data[key] = value
        customer = action.customer or {}
        if customer.get("id"):
            data["customer_id"] = str(customer["id"])
        if customer.get("tier"):
            data["tier"] = str(customer["tier"])
        data["ivr"] = ivr_section(action, self.tree_id)
        spec = ContactSpec(
            id=self.contact_id,
            queue_id=action.queue_id,
            priority=action.priority,
            skills=dict(action.skills),
            data=data,
        )
        arrived = {
            "channel": self.channel,
            "direction": "inbound",
            "ani": session.ani,
            "dnis": session.dnis,
            "customer_id": data.get("customer_id"),
            "priority": action.priority,
            "skills": dict(action.skills),
            "attached": data,
        }
        return spec, arrived

    async def present(self, action: ivr.Action) -> None:
        """Tell the customer (after the step is committed)."""
        raise NotImplementedError

    def follow_up(self, service: IvrService, ended_by: str | None) -> Conversation | None:
        """The survey conversation after the agent leg (None: the customer is gone)."""
        return None


class IvrService:
    """The conversations in progress, voice and chat."""

    def __init__(
        self,
        acd: Acd,
        pool: asyncpg.Pool,
        registry: ivr.Registry | None,
        settings: IvrSettings,
        *,
        gateway: GatewayCommands,
        scheduler: Scheduler,
        auth: Authenticator,
        config_dir: Path,
    ) -> None:
        self.acd = acd
        self.pool = pool
        self.registry = registry
        self.settings = settings
        self.scheduler = scheduler
        self.auth = auth
        self.config_dir = config_dir
        """Where ``reload`` reads the trees and gateway.yaml's ``ivr`` section again."""
        self.conversations: dict[str, Conversation] = {}
        self.surveys: dict[str, Conversation] = {}
        """Contacts that get the survey after their agent leg: contact id -> the entry
        conversation (its ``follow_up`` makes the survey's)."""
        self._tasks: set[asyncio.Task[Any]] = set()
        self.gateway_send: Callable[[p.GatewayCommandType, dict[str, Any]], None] = gateway.send

    async def reload(self, request: web.Request) -> web.Response:
        """``POST /api/ivr/reload`` (see ``reload_trees``)."""
        return await reload_trees(self, request)

    # --- trees -------------------------------------------------------------------------------

    def tree(self, tree_id: str) -> ivr.Tree | None:
        if self.registry is None:
            return None
        return self.registry.catalog.trees.get(tree_id)

    def entry_tree(self, channel: Literal["voice", "chat"]) -> ivr.Tree | None:
        if self.registry is None:
            return None
        try:
            return self.registry.entry(channel)
        except KeyError:
            return None

    def voice_tree(self, dnis: str | None) -> ivr.Tree | None:
        tree_id = self.settings.dnis.get(dnis) if dnis else None
        return None if tree_id is None else self.tree(tree_id)

    def wants_survey(self, queue_id: str) -> bool:
        queues = self.settings.survey_queues
        return self.settings.survey_tree is not None and (queues is None or queue_id in queues)

    def survey_session(
        self, contact_id: str, channel: Literal["voice", "chat"], ani: str | None = None
    ) -> ivr.Session | None:
        tree = self.tree(self.settings.survey_tree or "")
        if tree is None or channel not in tree.channels:
            return None
        return ivr.Session(tree, contact_id=contact_id, channel=channel, ani=ani)

    # --- stepping ----------------------------------------------------------------------------

    def owns(self, contact_id: str) -> bool:
        return contact_id in self.conversations

    async def begin(self, conv: Conversation, extra: Sequence[EventRecord] = ()) -> ivr.Action:
        """Start the session; ``extra`` records are committed with its first events."""
        self.conversations[conv.contact_id] = conv
        try:
            return await self.advance(conv, conv.session.start, extra)
        except BaseException:
            if conv.session.state == "new":
                self.conversations.pop(conv.contact_id, None)
            raise

    async def answer(self, contact_id: str, text: str) -> ivr.Action:
        """The customer's digits or message for the waiting prompt."""
        conv = self.conversations.get(contact_id)
        if conv is None:
            raise UnknownContact(f"contact {contact_id} is not in an IVR")
        return await self.advance(conv, lambda now: conv.session.input(text, now))

    async def leave(self, contact_id: str, reason: str) -> bool:
        """The customer hung up (or the visitor left) in the IVR: logged, then forgotten."""
        conv = self.conversations.get(contact_id)
        if conv is None:
            return False
        async with conv.lock:
            if self.conversations.get(contact_id) is not conv:
                return False
            self._stop_timer(conv)
            node = conv.session.node_id
            path = list(conv.session.path)

            def record(now: float) -> list[EventRecord]:
                return [
                    IvrCallerLeft(
                        contact_id=contact_id,
                        node=node,
                        reason=reason,
                        path=path,
                        purpose=conv.purpose,
                    ).record(now)
                ]

            self.conversations.pop(contact_id, None)
            await self.acd.execute(lambda now: Outcome(), before=record)
        return True

    async def advance(
        self,
        conv: Conversation,
        step: Callable[[float], ivr.Action],
        extra: Sequence[EventRecord] = (),
    ) -> ivr.Action:
        async with conv.lock:
            self._stop_timer(conv)
            action = await self._commit(conv, step, extra)
            while isinstance(action, ivr.Lookup):
                await conv.present(action)  # its prompts ("one moment...")
                found = await self._lookup(action)
                pid = action.prompt_id

                def answer(now: float, found: Any = found, pid: int = pid) -> ivr.Action:
                    if found == "timeout":
                        return conv.session.timeout(now, pid)
                    return conv.session.lookup_result(found, now)

                action = await self._commit(conv, answer, ())
            if isinstance(action, ivr.Gather):
                self._start_timer(conv, action)
            elif (
                isinstance(action, ivr.Terminal) and self.conversations.get(conv.contact_id) is conv
            ):
                del self.conversations[conv.contact_id]
            await conv.present(action)
            return action

    async def _commit(
        self,
        conv: Conversation,
        step: Callable[[float], ivr.Action],
        extra: Sequence[EventRecord],
    ) -> ivr.Action:
        box: dict[str, Any] = {}
        engine = self.acd.engine

        def run(now: float) -> Outcome:
            # SessionError propagates from here: nothing changed, nothing is logged
            action = step(now)
            box["action"] = action
            if isinstance(action, ivr.Queue) and conv.purpose == "entry":
                spec, arrived = conv.queue_spec(action)
                try:
                    outcome = engine.arrive(spec, now)
                except RoutingError as exc:
                    box["failed"] = exc
                    return Outcome()
                box["arrived"] = arrived
                return outcome
            return Outcome()

        def before(now: float) -> list[EventRecord]:
            action = box["action"]
            records = [*extra, *(event_record(e) for e in conv.session.take_events())]
            if "arrived" in box:
                records.append(
                    ContactArrived(
                        contact_id=conv.contact_id, queue_id=action.queue_id, **box["arrived"]
                    ).record(now)
                )
            elif "failed" in box:
                exc = box["failed"]
                records.append(
                    IvrQueueFailed(
                        contact_id=conv.contact_id, code=exc.code, message=str(exc)
                    ).record(now)
                )
            if isinstance(action, ivr.Callback):
                # a request for the outbound dialer: the number and the queue to call from
                records.append(
                    EventRecord(
                        type="callback.requested",
                        ts=now,
                        contact_id=conv.contact_id,
                        queue_id=action.queue_id,
                        data={"number": action.number, "channel": conv.channel},
                    )
                )
            return records

        await self.acd.execute(run, before=before)
        action = box["action"]
        if "failed" in box:
            log.error(
                "IVR of %s could not queue: %s",
                conv.contact_id,
                box["failed"],
                extra={"contact_id": conv.contact_id},
            )
            conv.queue_state = "failed"
        elif "arrived" in box:
            try:
                conv.queue_state = engine.contact(conv.contact_id).state
            except UnknownContact:
                conv.queue_state = "gone"
            if self.wants_survey(action.queue_id):
                self.surveys[conv.contact_id] = conv
        assert isinstance(action, ivr.Action)
        return action

    async def _lookup(self, action: ivr.Lookup) -> Any:
        """The customer record for a Lookup, None when not found, "timeout" when slow."""
        limit = min(action.timeout_s, self.settings.lookup_timeout_s)
        try:
            async with asyncio.timeout(limit):
                if action.by == "account":
                    customer = await find_by_account(self.pool, action.key) if action.key else None
                else:
                    found = await find_by_ani(self.pool, action.key) if action.key else []
                    customer = found[0] if found else None
        except TimeoutError:
            return "timeout"
        except Exception:
            # a failing CRM is a customer not found: the caller carries on
            log.exception("IVR customer lookup failed")
            return None
        return None if customer is None else customer_record(customer)

    # --- timers ------------------------------------------------------------------------------

    def _start_timer(self, conv: Conversation, action: ivr.Gather) -> None:
        prompt_id = action.prompt_id
        conv.timer = self.scheduler.call_later(
            action.timeout_s, lambda: self._fire(conv, prompt_id)
        )

    @staticmethod
    def _stop_timer(conv: Conversation) -> None:
        if conv.timer is not None:
            conv.timer.cancel()
            conv.timer = None

    def _fire(self, conv: Conversation, prompt_id: int) -> None:
        conv.timer = None
        self.spawn(self._timed_out(conv, prompt_id))

    async def _timed_out(self, conv: Conversation, prompt_id: int) -> None:
        if self.conversations.get(conv.contact_id) is not conv:
            return
        try:
            await self.advance(conv, lambda now: conv.session.timeout(now, prompt_id))
        except ivr.SessionError:
            pass  # an answer came first: the timer is stale
        except (RoutingError, AcdUnavailable) as exc:
            log.warning("IVR timeout of %s failed: %s", conv.contact_id, exc)

    def spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_failure)

    async def close(self) -> None:
        for conv in self.conversations.values():
            self._stop_timer(conv)
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # --- after the agent leg -----------------------------------------------------------------

    def on_contact_event(self, event: Event) -> bool:
        """Acd contact hook: start the survey when the agent ends a contact that wants
        one. True: this module carries the contact on (the gateway is not told to hang
        up; the survey hangs up when it ends)."""
        if event.contact_id is None:
            return False
        if event.type in ("contact.abandoned", "contact.flowed_out"):
            self.surveys.pop(event.contact_id, None)  # never answered: nothing to ask
            return False
        if not isinstance(event, ContactEnded):
            return False
        entry = self.surveys.pop(event.contact_id, None)
        conv = None if entry is None else entry.follow_up(self, event.ended_by)
        if conv is None:
            return False
        self.spawn(self._run_survey(conv))
        return True

    async def _run_survey(self, conv: Conversation) -> None:
        try:
            await self.begin(conv)
        except (RoutingError, AcdUnavailable, ivr.SessionError) as exc:
            log.warning("survey of %s failed: %s", conv.contact_id, exc)


def _log_failure(task: asyncio.Task[Any]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        exc = task.exception()
        if exc is not None:
            log.error("IVR task failed", exc_info=exc)


# --- voice -----------------------------------------------------------------------------------


def _prompts(action: ivr.Action) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for prompt in action.prompts:
        if isinstance(prompt, ivr.Play):
            out.append({"play": prompt.audio, "text": prompt.text})
        else:
            out.append({"say": prompt.text})
    return out


class VoiceConversation(Conversation):
    """A call in the IVR: prompts and gathers are gateway commands."""

    channel: Literal["voice", "chat"] = "voice"

    def __init__(
        self,
        contact_id: str,
        session: ivr.Session,
        purpose: Purpose,
        send: Callable[[p.GatewayCommandType, dict[str, Any]], None],
    ) -> None:
        super().__init__(contact_id, session, purpose)
        self.send = send

    async def present(self, action: ivr.Action) -> None:
        call_id = self.contact_id
        prompts = _prompts(action)
        if isinstance(action, ivr.Gather):
            self.send(
                p.GATEWAY_GATHER,
                {
                    "call_id": call_id,
                    "prompts": prompts,
                    "kind": action.kind,
                    "min_digits": action.min_digits,
                    "max_digits": action.max_digits,
                    "terminator": action.terminator,
                    "timeout_s": action.timeout_s,
                    "prompt_id": action.prompt_id,
                    "attempt": action.attempt,
                    "node": action.node,
                },
            )
            return
        if prompts:
            self.send(
                p.GATEWAY_PROMPT, {"call_id": call_id, "prompts": prompts, "node": action.node}
            )
        if isinstance(action, ivr.Queue) and self.purpose == "entry":
            if self.queue_state == "queued":
                self.send(p.GATEWAY_PLAY, {"call_id": call_id, "prompt": "queue_hold"})
            elif self.queue_state == "failed":
                self.send(p.GATEWAY_HANGUP, {"call_id": call_id, "reason": "queue_failed"})
        elif isinstance(action, ivr.Transfer):
            self.send(
                p.GATEWAY_TRANSFER, {"call_id": call_id, "target": action.number, "reason": "ivr"}
            )
        elif isinstance(action, ivr.Voicemail):
            self.send(
                p.GATEWAY_VOICEMAIL,
                {"call_id": call_id, "mailbox": action.mailbox, "max_s": action.max_s},
            )
        elif isinstance(action, ivr.Terminal):
            reason = action.reason if isinstance(action, ivr.Hangup) else "callback"
            self.send(p.GATEWAY_HANGUP, {"call_id": call_id, "reason": reason})

    def follow_up(self, service: IvrService, ended_by: str | None) -> Conversation | None:
        if ended_by == "customer":
            return None  # the caller hung up: nobody to ask
        session = service.survey_session(self.contact_id, "voice", self.session.ani)
        if session is None:
            return None
        return VoiceConversation(self.contact_id, session, "survey", self.send)


async def voice_arrive(service: IvrService, tree: ivr.Tree, call: CallIn) -> dict[str, Any]:
    """A call to an IVR number: start its tree (gateway.py's hook for ``POST
    /gateway/calls``). The reply says ``state: "ivr"`` while the caller is in the tree."""
    if service.owns(call.call_id) or await get_interaction(service.pool, call.call_id):
        fail(409, "duplicate_call", f"call {call.call_id} is already known")
    try:
        service.acd.engine.contact(call.call_id)
        fail(409, "duplicate_call", f"call {call.call_id} is already known")
    except UnknownContact:
        pass
    session = ivr.Session(
        tree, contact_id=call.call_id, channel="voice", ani=call.ani, dnis=call.dnis
    )
    conv = VoiceConversation(call.call_id, session, "entry", service.gateway_send)
    # ivr.started does not carry the numbers; a restart needs them to resume the call
    arrived = IvrCallArrived(
        contact_id=call.call_id, channel="voice", ani=call.ani, dnis=call.dnis, tree=tree.id
    ).record(service.acd.clock())
    try:
        action = await service.begin(conv, [arrived])
    except AcdUnavailable as exc:
        fail(503, exc.code, str(exc))
    state = (
        "ivr"
        if not isinstance(action, ivr.Terminal)
        else (conv.queue_state if isinstance(action, ivr.Queue) else "ended")
    )
    return {
        "call_id": call.call_id,
        "queue": getattr(action, "queue_id", None),
        "state": state,
        "tree": tree.id,
        "customer_id": None,
    }


async def voice_digits(service: IvrService, call_id: str, digits: str) -> dict[str, Any]:
    conv = service.conversations.get(call_id)
    waiting = None if conv is None else conv.session.waiting
    # the reply echoes the digits only when the prompt was not sensitive
    sensitive = isinstance(waiting, ivr.Gather) and waiting.sensitive
    try:
        action = await service.answer(call_id, digits)
    except ivr.SessionError as exc:
        fail(409, "not_waiting", f"call {call_id} is not waiting for digits: {exc}")
    except UnknownContact as exc:
        fail(404, exc.code, str(exc))
    except AcdUnavailable as exc:
        fail(503, exc.code, str(exc))
    return {
        "call_id": call_id,
        "digits": MASK if sensitive else digits,
        "node": action.node,
        "state": "ivr" if not isinstance(action, ivr.Terminal) else "done",
    }


async def voice_hangup(service: IvrService, call_id: str) -> dict[str, Any] | None:
    """The caller hung up in the IVR; None when the tree had just queued the call (the
    gateway then hangs it up in the ACD as any call)."""
    try:
        if not await service.leave(call_id, "hangup"):
            return None
    except AcdUnavailable as exc:
        fail(503, exc.code, str(exc))
    return {"call_id": call_id, "state": "ended"}


# --- restart ---------------------------------------------------------------------------------


async def restore_sessions(
    service: IvrService,
    leftovers: Sequence[tuple[str, ReplayedContact]],
    fallback: Mapping[str, str],
) -> int:
    """Resume or end the IVR sessions the log shows open (see the module docstring);
    ``fallback``: dialled number -> queue, for calls whose tree is gone. The number of
    calls resumed or queued."""
    kept = 0
    for contact_id, c in leftovers:
        try:
            kept += await _restore_one(service, fallback, contact_id, c)
        except (RoutingError, AcdUnavailable, ivr.SessionError, ValueError) as exc:
            log.error(
                "IVR session of %s not restored: %s",
                contact_id,
                exc,
                extra={"contact_id": contact_id},
            )
    if leftovers:
        log.info(
            "IVR sessions open at the restart: %d resumed or queued, %d ended",
            kept,
            len(leftovers) - kept,
        )
    return kept


async def _restore_one(
    service: IvrService, fallback: Mapping[str, str], contact_id: str, c: ReplayedContact
) -> int:
    s = c.ivr
    assert s is not None
    ani, dnis = c.call.get("ani"), c.call.get("dnis")
    before = {
        "tree": s.tree,
        "node": s.node,
        "variables": s.variables,
        "purpose": s.purpose,
        "started_at": s.started_at,
    }
    voice = s.channel == "voice"
    if not voice or s.purpose != "entry":
        # a chat's visitor socket died with the process; a survey is only a courtesy
        await _end(service, contact_id, voice, {**before, "detail": f"{s.channel}_{s.purpose}"})
        return 0
    if c.ivr_restarts >= MAX_RESTARTS:
        await _end(service, contact_id, voice, {**before, "detail": "too_many_restarts"})
        return 0
    tree = service.tree(s.tree)
    if tree is not None and "voice" in tree.channels:
        session = ivr.Session(tree, contact_id=contact_id, channel="voice", ani=ani, dnis=dnis)
        conv = VoiceConversation(contact_id, session, "entry", service.gateway_send)
        record = EventRecord(
            type="ivr.restarted",
            ts=service.acd.clock(),
            contact_id=contact_id,
            data={**before, "restarts": c.ivr_restarts + 1},
        )
        await service.begin(conv, [record])
        log.info(
            "resumed the IVR of %s at the start of %s",
            contact_id,
            tree.id,
            extra={"contact_id": contact_id},
        )
        return 1
    queue = fallback.get(dnis) if dnis else None
    if queue is not None and await _queue_directly(service, contact_id, queue, ani, dnis, before):
        return 1
    await _end(service, contact_id, voice, {**before, "detail": "tree_missing"})
    return 0


async def _queue_directly(
    service: IvrService,
    contact_id: str,
    queue: str,
    ani: str | None,
    dnis: str | None,
    before: dict[str, Any],
) -> bool:
    """A call whose tree is gone goes to its number's queue, as if it had no IVR."""
    engine = service.acd.engine
    attached = {k: v for k, v in (("ani", ani), ("dnis", dnis)) if v}
    try:
        channel = str(engine.queue_config(queue).channel)
    except RoutingError as exc:
        log.error("fallback queue %s of %s: %s", queue, contact_id, exc)
        return False
    spec = ContactSpec(id=contact_id, queue_id=queue, data=attached)

    def records(now: float) -> list[EventRecord]:
        return [
            EventRecord(
                type="ivr.ended",
                ts=now,
                contact_id=contact_id,
                data={**before, "reason": RESTART_REASON, "detail": "tree_missing", "queue": queue},
            ),
            ContactArrived(
                contact_id=contact_id,
                queue_id=queue,
                channel=channel,
                direction="inbound",
                ani=ani,
                dnis=dnis,
                attached=attached,
            ).record(now),
        ]

    try:
        await service.acd.execute(lambda now: engine.arrive(spec, now), before=records)
    except RoutingError as exc:
        log.error("cannot queue %s to %s after the restart: %s", contact_id, queue, exc)
        return False
    try:
        state = engine.contact(contact_id).state
    except UnknownContact:
        state = "gone"
    if state == "queued":
        service.gateway_send(p.GATEWAY_PLAY, {"call_id": contact_id, "prompt": "queue_hold"})
    return True


async def _end(service: IvrService, contact_id: str, voice: bool, data: dict[str, Any]) -> None:
    """Logged, then the gateway is told to hang up (a voice call)."""

    def record(now: float) -> list[EventRecord]:
        return [
            EventRecord(
                type="ivr.ended",
                ts=now,
                contact_id=contact_id,
                data={**data, "reason": RESTART_REASON, "queue": None},
            )
        ]

    await service.acd.execute(lambda now: Outcome(), before=record)
    if voice:
        service.gateway_send(p.GATEWAY_HANGUP, {"call_id": contact_id, "reason": RESTART_REASON})


# --- wiring ----------------------------------------------------------------------------------


class IvrReloadOut(BaseModel):
    trees: list[str]
    entries: dict[str, str]
    """Channel -> its entry tree."""
    dnis: dict[str, str]


async def reload_trees(service: IvrService, request: web.Request) -> web.Response:
    """``POST /api/ivr/reload`` (admin): load config/ivr/ and gateway.yaml's ``ivr`` again.
    All or nothing: a bad tree is refused with every problem listed, and the trees in
    service keep serving; sessions already running finish on the tree they started with."""
    service.auth.check(request, {"admin"})
    config_dir = service.config_dir
    queues = service.acd.engine.queue_ids()
    try:
        settings = load_gateway_config(config_dir).ivr
        sources = ivr.read_sources(config_dir / "ivr")
        if service.registry is None:
            registry = ivr.Registry.from_sources(sources, queues)
        else:
            registry = service.registry
            registry.reload(sources, queues)
    except ivr.IvrConfigError as exc:
        return json_error(
            400,
            "invalid_ivr",
            "the trees were not loaded; the ones in service keep serving",
            problems=[str(p) for p in exc.problems],
        )
    except (OSError, ValueError, yaml.YAMLError) as exc:  # GatewayConfigError is a ValueError
        fail(400, "invalid_ivr", str(exc))
    service.registry, service.settings = registry, settings
    catalog = registry.catalog
    log.info("IVR trees reloaded: %s", ", ".join(sorted(catalog.trees)))
    out = IvrReloadOut(
        trees=sorted(catalog.trees),
        entries={str(ch): tid for ch, tid in catalog.entries.items()},
        dnis=settings.dnis,
    )
    return web.json_response(out.model_dump())
