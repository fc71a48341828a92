"""Web chat: the visitor websocket ``/ws/chat`` and each chat's way through the IVR, the
ACD and the survey. See docs/chat.md.

A visitor needs no login: ``start`` (name and question) makes a chat and the server hands
back a chat token; a visitor whose connection drops reconnects with ``resume`` (token and
the last seq seen) and gets what it missed. The chat runs the chat entry tree
(config/ivr/chat.yaml) in text mode through ivr_runner.py, then is queued as a CHAT contact
in the same ACD as calls; the routing engine offers it to an agent with free chat capacity
(several chats at once, beside a call). Lines flow visitor <-> agent through the hub
(``chat.message`` / ``chat.typing`` to the agent, ``chat_send`` / ``chat_typing`` from
it). Every line is written to the transcript before the other side sees it.

A visitor who leaves (``leave``, or a connection not resumed within ``grace_s``) while
waiting is an abandon (``Engine.hangup``); while talking, it ends the chat for the agent;
in the IVR it ends the chat there. Chats live in this process's memory: a server restart
ends them (their transcripts and events are stored).

The surface is anonymous, so it is bounded (``config/chat.yaml``, chat_config.py, the
counting in limits.py): the Origin and the optional widget key are checked and the
client's open sockets counted before the upgrade (403 / 429 with a JSON body); starts
per client address and in total, chats in progress, frames per socket and lines per chat
are checked on the socket (an ``error`` frame; a refused ``start`` also closes with
``CLOSE_CHAT_LIMITED``). Every refusal is counted by limit for /metrics. A chat that
ends while still with the bot never reached a queue: it is logged as ``ivr.caller_left``
(outcome ``ended_in_ivr``), never as a queue's abandon.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
from collections import deque
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import asyncpg
from aiohttp import WSMsgType, web
from pydantic import BaseModel

import ivr
from contactcenter import protocol as p
from contactcenter.acd import Acd, AcdUnavailable
from contactcenter.chat_config import ChatConfig
from contactcenter.clock import Scheduler, Timer
from contactcenter.ivr_runner import Conversation, IvrService
from contactcenter.limits import (
    ConnectionCounts,
    IpNetwork,
    KeyedBuckets,
    LimitStats,
    Refusals,
    TokenBucket,
    address_key,
    client_address,
)
from contactcenter.ports import ConsoleNotifier
from contactcenter.store import EventRecord
from contactcenter.store.interactions import get_interaction
from contactcenter.store.transcripts import Sender, TranscriptLine, append_line, transcript
from contactcenter.webcommon import POOL, authenticate, fail, json_error
from routing import ContactSpec, Engine, Outcome
from routing.errors import RoutingError
from routing.events import (
    ContactAbandoned,
    ContactAnswered,
    ContactEnded,
    ContactTransferred,
    Event,
)

log = logging.getLogger(__name__)

MAX_LINES = 500
"""Lines of one chat; beyond, messages are refused (a runaway script, not a customer)."""
REPLAY_BUFFER = 600
GRACE_S = 30.0

LIMIT_NAMES: tuple[str, ...] = (
    "origin",
    "widget_key",
    "sockets_per_ip",
    "sockets_total",
    "chats_total",
    "starts_per_ip",
    "starts_total",
    "messages_per_chat",
    "frames_per_socket",
)
"""Every limit of the chat surface, as /metrics labels its refusals."""

ChatState = Literal["ivr", "queued", "connected", "survey", "ended"]


class ChatRefused(RoutingError):
    """A chat command that cannot be carried out; its ``code`` goes to the sender."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class ChatLimited(ChatRefused):
    """A ``start`` refused by a limit: after the error the socket is closed."""


def _hangup(engine: Engine, contact_id: str, now: float) -> Outcome:
    return engine.hangup(contact_id, now)


# --- the limits of the anonymous surface ---------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """A request refused before the upgrade: the HTTP status and the JSON error."""

    limit: str
    status: int
    code: str
    message: str

    def response(self) -> web.Response:
        resp = json_error(self.status, self.code, self.message, limit=self.limit)
        if self.status == 429:
            resp.headers["Retry-After"] = "30"
        return resp


class ChatGate:
    """Who may open a chat socket and start a chat, and how fast a chat may talk
    (``config/chat.yaml``), on the scheduler's time; every refusal is counted."""

    def __init__(
        self, config: ChatConfig, scheduler: Scheduler, trusted: Sequence[IpNetwork] = ()
    ) -> None:
        """``trusted``: the reverse proxies (``CC_TRUSTED_PROXIES``, the one setting)."""
        lim = config.limits
        self.config = config
        self.scheduler = scheduler
        self.trusted = tuple(trusted)
        self.allowed_origins = frozenset(config.allowed_origins)
        self.sockets = ConnectionCounts(lim.sockets_per_ip, lim.sockets_total)
        self.starts_by_ip = KeyedBuckets(
            lim.starts_per_ip_per_minute / 60.0, lim.starts_per_ip_burst
        )
        self.starts = TokenBucket(lim.starts_per_minute / 60.0, lim.starts_burst, scheduler.now())
        self.refusals = Refusals()
        self.refusals.declare(LIMIT_NAMES)

    def client(self, request: web.Request) -> str:
        """The key of the request's client (its address, behind trusted proxies)."""
        forwarded = request.headers.getall("X-Forwarded-For", [])
        address = client_address(request.remote, forwarded, self.trusted)
        return address_key(address, self.config.limits.ipv6_prefix)

    def admit_socket(self, request: web.Request, key: str) -> Refusal | None:
        """Origin, widget key, then a socket slot of ``key`` (held until ``release``)."""
        refusal = self._check_origin(request) or self._check_widget_key(request)
        if refusal is None:
            cap = self.sockets.acquire(key)
            if cap == "per_key":
                refusal = Refusal(
                    "sockets_per_ip",
                    429,
                    "too_many_sockets",
                    f"at most {self.sockets.per_key} chat connections per client address",
                )
            elif cap == "total":
                refusal = Refusal(
                    "sockets_total", 429, "busy", "too many chat connections; try again later"
                )
        if refusal is not None:
            self.refusals.add(refusal.limit)
        return refusal

    def _check_origin(self, request: web.Request) -> Refusal | None:
        origin = request.headers.get("Origin")
        if origin is None:
            return None  # not a browser: nothing to check (the limits still hold)
        shown = origin.strip().rstrip("/").lower()
        same = urlsplit(shown).netloc == request.host.lower()
        if same or shown in self.allowed_origins:
            return None
        return Refusal(
            "origin",
            403,
            "origin_not_allowed",
            f"origin {origin[:200]!r} may not open a chat (chat.yaml allowed_origins)",
        )

    def _check_widget_key(self, request: web.Request) -> Refusal | None:
        keys = self.config.widget_keys
        if not keys:
            return None
        site = request.query.get("site", "")
        given = request.query.get("key", "")
        expected = keys.get(site)
        if expected is not None and secrets.compare_digest(expected.encode(), given.encode()):
            return None
        return Refusal(
            "widget_key",
            403,
            "widget_key_invalid",
            "a chat needs a known site and its widget key (/ws/chat?site=...&key=...)",
        )

    def release(self, key: str) -> None:
        self.sockets.release(key)

    def admit_start(self, key: str, in_progress: int) -> None:
        """Raise ``ChatLimited`` when one more chat may not start now."""
        lim = self.config.limits
        now = self.scheduler.now()
        if in_progress >= lim.chats_total:
            self.refusals.add("chats_total")
            raise ChatLimited("busy", "too many chats in progress; try again in a minute")
        if not self.starts_by_ip.take(key, now):
            self.refusals.add("starts_per_ip")
            raise ChatLimited(
                "too_many_starts", "too many chats started from this address; try again later"
            )
        if not self.starts.take(now):
            self.refusals.add("starts_total")
            raise ChatLimited("busy", "too many chats are starting; try again in a minute")

    def message_bucket(self) -> TokenBucket:
        lim = self.config.limits
        return TokenBucket(lim.messages_per_s, lim.messages_burst, self.scheduler.now())

    def frame_bucket(self) -> TokenBucket:
        lim = self.config.limits
        return TokenBucket(lim.frames_per_s, lim.frames_burst, self.scheduler.now())

    def stats(self) -> LimitStats:
        limits = {k: float(v) for k, v in self.config.limits.model_dump().items()}
        return LimitStats(
            surface="chat",
            open_connections=self.sockets.total,
            limits=limits,
            refusals=dict(self.refusals.counts),
        )


# --- one chat --------------------------------------------------------------------------------


class Chat:
    """A chat and its visitor's current connection (if any)."""

    def __init__(self, chat_id: str, token: str, name: str, messages: TokenBucket) -> None:
        self.id = chat_id
        self.token = token
        self.name = name
        self.state: ChatState = "ivr"
        self.agent_id: str | None = None
        self.seq = 0
        self.buffer: deque[tuple[int, str]] = deque(maxlen=REPLAY_BUFFER)
        self.lines: list[p.ChatMessageData] = []
        self.write_lock = asyncio.Lock()
        self.ws: web.WebSocketResponse | None = None
        self.outbox: asyncio.Queue[str] | None = None
        self.leave_timer: Timer | None = None
        self.conversation: ChatConversation | None = None
        self.messages = messages
        """The visitor's lines (across reconnections), limited."""

    def push(self, kind: p.VisitorMessageType, data: dict[str, Any]) -> None:
        """A numbered message of the chat's stream (replayed on resume)."""
        self.seq += 1
        text = p.envelope(kind, self.seq, data)
        self.buffer.append((self.seq, text))
        self.send(text)

    def send(self, text: str) -> None:
        if self.outbox is not None and self.outbox.qsize() < 1000:
            self.outbox.put_nowait(text)

    def send_once(self, kind: p.VisitorMessageType, data: dict[str, Any]) -> None:
        """An unnumbered message (typing, errors, replies): not replayed."""
        self.send(p.envelope(kind, 0, data))

    def set_state(self, state: ChatState, **detail: Any) -> None:
        self.state = state
        self.push(p.VISITOR_STATE, {"state": state, **detail})


class ChatConversation(Conversation):
    """The chat's IVR session (entry tree, or the survey): prompts become bot lines."""

    channel: Literal["voice", "chat"] = "chat"

    def __init__(
        self,
        chats: ChatService,
        chat: Chat,
        session: ivr.Session,
        purpose: Literal["entry", "survey"],
        question: str = "",
    ) -> None:
        super().__init__(chat.id, session, purpose)
        self.chats = chats
        self.chat = chat
        self.question = question

    def queue_spec(self, action: ivr.Queue) -> tuple[ContactSpec, dict[str, Any]]:
        spec, arrived = super().queue_spec(action)
        spec.data.update(
            {
                "name": self.chat.name,
                "question": self.question[:200],
                "chat": {"name": self.chat.name, "question": self.question},
            }
        )
        arrived["attached"] = spec.data
        return spec, arrived

    async def present(self, action: ivr.Action) -> None:
        chat = self.chat
        choices = [{"key": c.key, "label": c.label} for c in getattr(action, "choices", ())]
        # on chat the interpreter sends Say prompts; a Play with text reads as its text
        texts = [pr.text for pr in action.prompts if pr.text]
        for i, text in enumerate(texts):
            last = i == len(texts) - 1
            await self.chats.line(chat, "bot", text, choices=choices if last else None)
        if isinstance(action, ivr.Gather) and not texts and choices:
            await self.chats.line(chat, "bot", "Please choose:", choices=choices)
        if not isinstance(action, ivr.Terminal):
            return
        if (
            isinstance(action, ivr.Queue)
            and self.purpose == "entry"
            and self.queue_state in ("queued", "offered")
        ):
            chat.set_state("queued", queue=action.queue_id)
        elif chat.state != "ended":
            reason = action.reason if isinstance(action, ivr.Hangup) else type(action).__name__
            chat.set_state("ended", reason=reason.lower())

    def follow_up(self, service: IvrService, ended_by: str | None) -> Conversation | None:
        chat = self.chat
        if chat.state == "ended" or (chat.ws is None and chat.leave_timer is None):
            return None  # the visitor is gone
        session = service.survey_session(chat.id, "chat")
        if session is None:
            return None
        conv = ChatConversation(self.chats, chat, session, "survey")
        chat.conversation = conv
        chat.state = "survey"
        return conv


class ChatService:
    def __init__(
        self,
        acd: Acd,
        pool: asyncpg.Pool,
        ivr_service: IvrService,
        consoles: ConsoleNotifier,
        scheduler: Scheduler,
        gate: ChatGate,
    ) -> None:
        """``gate``: the node's limits of the anonymous socket (it outlives a fail-stop's
        rebuild of this service, so counts and refusals carry on)."""
        self.acd = acd
        self.pool = pool
        self.ivr = ivr_service
        self.consoles = consoles
        self.scheduler = scheduler
        self.chats: dict[str, Chat] = {}
        self.tokens: dict[str, Chat] = {}
        self.grace_s = GRACE_S
        self.gate = gate
        self._tasks: set[asyncio.Task[Any]] = set()

    # --- transcript ------------------------------------------------------------------------

    async def line(
        self,
        chat: Chat,
        sender: Sender,
        text: str,
        *,
        agent_id: str | None = None,
        choices: list[dict[str, str]] | None = None,
        shown: str | None = None,
    ) -> p.ChatMessageData:
        """Store a transcript line, then show it to the visitor and the chat's agent.
        ``shown``: what is stored and shown instead of ``text`` (a masked answer)."""
        text = text if shown is None else shown
        async with chat.write_lock:
            if len(chat.lines) >= MAX_LINES:
                raise ChatRefused("chat_too_long", f"a chat holds at most {MAX_LINES} lines")
            now = self.acd.clock()
            number = len(chat.lines) + 1
            await append_line(self.pool, chat.id, number, sender, text, ts=now, agent_id=agent_id)
            name = chat.name if sender == "visitor" else agent_id if sender == "agent" else None
            msg = p.ChatMessageData(
                contact_id=chat.id, line=number, sender=sender, name=name, text=text, ts=now
            )
            chat.lines.append(msg)
        data = msg.model_dump(mode="json")
        if choices:
            data["choices"] = choices
        chat.push(p.VISITOR_MESSAGE, data)
        if chat.agent_id is not None and chat.state == "connected":
            self.consoles.deliver(chat.agent_id, p.CHAT_MESSAGE, msg.model_dump(mode="json"))
        return msg

    # --- visitor ---------------------------------------------------------------------------

    async def start(self, frame: p.VisitorStart, client: str) -> Chat:
        """A new chat for the client whose address key is ``client``."""
        tree = self.ivr.entry_tree("chat")
        if tree is None:
            raise ChatRefused("chat_unavailable", "web chat has no entry tree configured")
        self.gate.admit_start(client, len(self.chats))
        chat_id = f"chat-{secrets.token_hex(8)}"
        chat = Chat(
            chat_id, secrets.token_urlsafe(24), frame.name.strip(), self.gate.message_bucket()
        )
        self.chats[chat_id] = chat
        self.tokens[chat.token] = chat
        return chat

    async def run_entry(self, chat: Chat, frame: p.VisitorStart) -> None:
        tree = self.ivr.entry_tree("chat")
        assert tree is not None
        session = ivr.Session(tree, contact_id=chat.id, channel="chat")
        conv = ChatConversation(self, chat, session, "entry", frame.question.strip())
        chat.conversation = conv
        chat.push(p.VISITOR_STATE, {"state": "ivr"})
        await self.line(chat, "visitor", frame.question.strip())
        started = EventRecord(
            type="chat.started",
            ts=self.acd.clock(),
            contact_id=chat.id,
            data={"channel": "chat", "name": chat.name},
        )
        await self.ivr.begin(conv, [started])

    async def message(self, chat: Chat, text: str) -> None:
        state = chat.state
        if state == "ended":
            raise ChatRefused("chat_ended", "this chat has ended; start a new one")
        if not chat.messages.take(self.scheduler.now()):
            self.gate.refusals.add("messages_per_chat")
            raise ChatRefused("rate_limited", "too many messages in this chat; slow down")
        conv = chat.conversation
        if state in ("ivr", "survey") and conv is not None and self.ivr.owns(chat.id):
            waiting = conv.session.waiting
            if not isinstance(waiting, ivr.Gather):
                raise ChatRefused(
                    "not_waiting", "one moment, the previous answer is still being looked at"
                )
            # a sensitive answer (an account number) is never stored or shown in clear
            shown = ivr.events.MASK if waiting.sensitive else None
            await self.line(chat, "visitor", text, shown=shown)
            try:
                await self.ivr.answer(chat.id, text)
            except ivr.SessionError as exc:
                raise ChatRefused("not_waiting", str(exc)) from None
            return
        await self.line(chat, "visitor", text)

    def typing(self, chat: Chat, typing: bool) -> None:
        if chat.state == "connected" and chat.agent_id is not None:
            data = p.ChatTypingData(contact_id=chat.id, typing=typing)
            self.consoles.deliver(chat.agent_id, p.CHAT_TYPING, data.model_dump(mode="json"))

    async def leave(self, chat: Chat, reason: str) -> None:
        """The visitor left: abandon while waiting, end while talking, end in the IVR."""
        if chat.leave_timer is not None:
            chat.leave_timer.cancel()
            chat.leave_timer = None
        state = chat.state
        chat.state = "ended"
        left_bot = False
        if state in ("ivr", "survey"):
            left_bot = await self.ivr.leave(chat.id, reason)
        if (state == "ivr" and not left_bot) or state in ("queued", "connected"):
            # "ivr" but no session: the bot has just queued it (the state not shown yet);
            # the contact is in the engine, and leaving it is an abandon like any other
            engine = self.acd.engine
            # RoutingError: the agent ended it meanwhile (in wrap-up): nothing to end
            with contextlib.suppress(RoutingError):
                await self.acd.execute(lambda now: engine.hangup(chat.id, now))
        self.forget(chat)

    def forget(self, chat: Chat) -> None:
        self.chats.pop(chat.id, None)
        self.tokens.pop(chat.token, None)

    # --- agents ----------------------------------------------------------------------------

    async def agent_command(self, agent_id: str, c: p.ChatSend | p.ChatTyping) -> dict[str, Any]:
        chat = self.chats.get(c.contact_id)
        if chat is None:
            raise ChatRefused("unknown_chat", f"no chat {c.contact_id} is in progress")
        if chat.agent_id != agent_id:
            raise ChatRefused("not_your_chat", f"chat {c.contact_id} is not yours")
        if chat.state != "connected":
            raise ChatRefused(
                "chat_not_connected", f"chat {c.contact_id} is {chat.state}, not connected"
            )
        if isinstance(c, p.ChatTyping):
            shown = p.VisitorTypingData(sender="agent", typing=c.typing)
            chat.send_once(p.VISITOR_TYPING, shown.model_dump(mode="json"))
            return {}
        msg = await self.line(chat, "agent", c.text, agent_id=agent_id)
        return {"line": msg.line}

    def on_contact_event(self, event: Event) -> bool:
        """Acd hook: the engine's side of a chat (answered, transferred, ended)."""
        chat = self.chats.get(event.contact_id or "")
        if chat is None:
            return False
        if isinstance(event, ContactAnswered) and event.agent_id:
            chat.agent_id = event.agent_id
            chat.set_state("connected", agent=event.agent_id)
            # the agent gets what was said before it joined
            for line in chat.lines:
                self.consoles.deliver(
                    event.agent_id,
                    p.CHAT_MESSAGE,
                    line.model_copy(update={"history": True}).model_dump(mode="json"),
                )
        elif isinstance(event, ContactTransferred):
            chat.agent_id = None
            chat.set_state("queued", queue=event.queue_id, transferred=True)
        elif isinstance(event, ContactEnded):
            chat.agent_id = None
            if chat.state == "survey":
                chat.push(p.VISITOR_STATE, {"state": "survey"})
            elif chat.state != "ended":
                chat.set_state("ended", reason=f"ended_by_{event.ended_by or 'agent'}")
        elif isinstance(event, ContactAbandoned) and chat.state != "ended":
            chat.set_state("ended", reason="abandoned")
        return True  # a chat never reaches the telephony gateway

    async def end_orphans(self) -> int:
        """After a restart the engine holds restored chats whose visitors' connections
        (and this process's memory of them) are gone: end them, logged like any visitor
        leaving (abandoned while waiting, ended for the agent while connected)."""
        engine = self.acd.engine
        ended = 0
        for contact in engine.contacts():
            if contact.channel != "chat" or contact.id in self.chats:
                continue
            try:
                await self.acd.execute(functools.partial(_hangup, engine, contact.id))
                ended += 1
            except RoutingError:
                continue  # in wrap-up: the agent finishes it
        if ended:
            log.info("ended %d chats left over from before the restart", ended)
        return ended

    def spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def visitor(self, request: web.Request) -> web.StreamResponse:
        """``GET /ws/chat``: a visitor's websocket."""
        return await visitor_ws(self, request)

    async def transcript(self, request: web.Request) -> web.Response:
        """``GET /api/chats/{contact_id}/transcript``."""
        return await get_transcript(request)

    async def close(self, why: p.Closing = p.SHUTTING_DOWN) -> None:
        for chat in list(self.chats.values()):
            if chat.leave_timer is not None:
                chat.leave_timer.cancel()
            if chat.ws is not None:
                await chat.ws.close(code=why.code, message=why.reason.encode())
        for task in list(self._tasks):
            task.cancel()


# --- the visitor websocket ---------------------------------------------------------------------


async def _write(ws: web.WebSocketResponse, outbox: asyncio.Queue[str]) -> None:
    while True:
        text = await outbox.get()
        try:
            if not ws.closed:
                await ws.send_str(text)
        except (ConnectionError, RuntimeError):
            pass
        finally:
            outbox.task_done()


class VisitorSocket:
    """One visitor connection: binds to a chat by ``start`` or ``resume``."""

    def __init__(self, service: ChatService, ws: web.WebSocketResponse, client: str) -> None:
        self.service = service
        self.ws = ws
        self.client = client
        """The client's address key (its limits)."""
        self.chat: Chat | None = None
        self.outbox: asyncio.Queue[str] = asyncio.Queue()
        self.bucket = service.gate.frame_bucket()

    def error(self, code: str, message: str) -> None:
        data = p.VisitorErrorData(code=code, message=message).model_dump(mode="json")
        self.outbox.put_nowait(p.envelope(p.VISITOR_ERROR, 0, data))

    async def run(self) -> None:
        writer = asyncio.get_running_loop().create_task(_write(self.ws, self.outbox))
        try:
            async for msg in self.ws:
                if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                    continue
                if not self.bucket.take(self.service.scheduler.now()):
                    self.service.gate.refusals.add("frames_per_socket")
                    self.error("rate_limited", "too many messages; slow down")
                    continue
                try:
                    await self.handle(p.parse_visitor_frame(msg.data))
                except ChatLimited as exc:
                    # refused to start: say why, then free the slot this socket holds
                    self.error(exc.code, str(exc))
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(self.outbox.join(), timeout=1.0)
                    await self.ws.close(code=p.CLOSE_CHAT_LIMITED, message=exc.code.encode())
                    break
                except p.ProtocolError as exc:
                    self.error(exc.code, exc.message)
                except ChatRefused as exc:
                    self.error(exc.code, str(exc))
                except (RoutingError, AcdUnavailable) as exc:
                    self.error(getattr(exc, "code", "refused"), str(exc))
                except Exception:
                    log.exception("chat visitor frame failed")
                    self.error("internal", "the server failed on this frame; it has been logged")
        finally:
            self.detach()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.outbox.join(), timeout=1.0)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer

    def attach(self, chat: Chat) -> None:
        if chat.leave_timer is not None:
            chat.leave_timer.cancel()
            chat.leave_timer = None
        if chat.ws is not None and chat.ws is not self.ws:
            old = chat.ws
            self.service.spawn(
                old.close(code=p.CLOSE_REPLACED, message=b"replaced by a newer connection")
            )
        chat.ws, chat.outbox = self.ws, self.outbox
        self.chat = chat

    def detach(self) -> None:
        chat = self.chat
        if chat is None or chat.ws is not self.ws:
            return
        chat.ws, chat.outbox = None, None
        if chat.state == "ended":
            self.service.forget(chat)
            return
        chat.leave_timer = self.service.scheduler.call_later(
            self.service.grace_s, lambda: self._grace_over(chat)
        )

    def _grace_over(self, chat: Chat) -> None:
        chat.leave_timer = None
        if chat.ws is None and chat.state != "ended":
            self.service.spawn(self.service.leave(chat, "visitor_gone"))

    async def handle(self, frame: p.VisitorFrame) -> None:
        service = self.service
        if isinstance(frame, p.VisitorStart | p.VisitorResume):
            if self.chat is not None:
                raise ChatRefused("already_started", "this connection has a chat already")
            if isinstance(frame, p.VisitorStart):
                chat = await service.start(frame, self.client)
                self.attach(chat)
                started = p.VisitorStartedData(chat_id=chat.id, token=chat.token)
                chat.send_once(p.VISITOR_STARTED, started.model_dump(mode="json"))
                try:
                    await service.run_entry(chat, frame)
                except Exception:
                    # not recorded (the log refused it): the chat cannot go on
                    chat.set_state("ended", reason="failed")
                    service.forget(chat)
                    raise
                return
            found = service.tokens.get(frame.token)
            if found is None:
                raise ChatRefused(
                    "unknown_chat", "no chat in progress has this token; start a new one"
                )
            self.attach(found)
            replayed = [(s, t) for s, t in found.buffer if s > frame.last_seq]
            resumed = p.VisitorResumedData(
                chat_id=found.id, state=found.state, seq=found.seq, replayed=len(replayed)
            )
            found.send_once(p.VISITOR_RESUMED, resumed.model_dump(mode="json"))
            for _, text in replayed:
                found.send(text)
            return
        current = self.chat
        if current is None:
            raise ChatRefused("no_chat", "send start (or resume) first")
        chat = current
        if isinstance(frame, p.VisitorMessage):
            await service.message(chat, frame.text)
        elif isinstance(frame, p.VisitorTyping):
            service.typing(chat, frame.typing)
        else:
            await service.leave(chat, "visitor_left")
            chat.set_state("ended", reason="visitor_left")


class TranscriptOut(BaseModel):
    contact_id: str
    lines: list[TranscriptLine]


async def get_transcript(request: web.Request) -> web.Response:
    """``GET /api/chats/{contact_id}/transcript``: supervisors and admins see any chat,
    an agent the chats it handled."""
    claims = authenticate(request, {"agent", "supervisor", "admin"})
    contact_id = request.match_info["contact_id"]
    pool = request.app[POOL]
    if claims.role == "agent":
        row = await get_interaction(pool, contact_id)
        if row is None or row.agent_id != claims.user_id:
            fail(403, "forbidden", f"chat {contact_id} is not one of yours")
    lines = await transcript(pool, contact_id)
    if not lines:
        fail(404, "unknown_chat", f"no chat {contact_id} has a transcript")
    return web.json_response(
        TranscriptOut(contact_id=contact_id, lines=lines).model_dump(mode="json")
    )


async def visitor_ws(service: ChatService, request: web.Request) -> web.StreamResponse:
    gate = service.gate
    client = gate.client(request)
    refusal = gate.admit_socket(request, client)
    if refusal is not None:
        # debug only: under a flood, a line per refusal would be the flood again
        log.debug("chat socket refused (%s) for %s", refusal.limit, client)
        return refusal.response()
    try:
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=p.VISITOR_SOCKET_MAX_BYTES)
        await ws.prepare(request)
        await VisitorSocket(service, ws, client).run()
    finally:
        gate.release(client)
    return ws


__all__ = ["ChatService", "get_transcript", "visitor_ws"]
