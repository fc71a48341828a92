"""The agent websocket ``/ws/agent``: one channel per agent, commands to the ACD.

The socket authenticates with its first frame (``{"type": "auth", "token"}``,
protocol.AuthFrame; never a token in the URL) and lives as long as its session: when the
session ends (logout, revocation, the user disabled or its password changed) the
session service calls ``Hub.end_sessions`` and the socket is closed at once
(``CLOSE_SESSION_ENDED``).

Each agent has one channel that outlives its connections: every message to the agent gets
the channel's next ``seq`` and stays in a bounded replay buffer, so a console that
reconnects and sends ``hello``/``resume`` with the last seq it saw gets what it missed
(an offer made while its network blinked, say). A newer connection of the same agent
replaces the older one. An agent acts only on its own contacts: the engine refuses
anything else (``not_your_contact``), and that refusal is the error reply.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web

from contactcenter import logs
from contactcenter import protocol as p
from contactcenter.acd import Acd, AcdUnavailable, Action
from contactcenter.clicktodial import ClickToDial
from contactcenter.clock import Scheduler, Timer
from contactcenter.consult import Consults
from contactcenter.sessions import EndedSessions
from contactcenter.voice import VoiceControls
from contactcenter.webcommon import (
    Authenticator,
    authenticate_socket,
    close_forbidden,
    close_session_ended,
    fail,
    refuse_token_in_url,
)
from contactcenter.wsframes import FrameBatcher
from routing import Outcome
from routing.errors import RoutingError

log = logging.getLogger(__name__)

REPLAY_BUFFER = 500
DROP_GRACE_S = 30.0
"""How long an agent whose socket dropped stays logged in, waiting for its console to
reconnect. After it, the agent is logged out: its offers go back to their queues at their
place; contacts in hand stay with it until ended (the logout is then pending)."""
WRITE_BUFFER_LIMIT = 1 << 20
"""A console with this many unsent bytes is closed as too slow (it resumes from its last
seq on reconnect)."""
REPLAY_MESSAGES_PER_S = 500
"""Replay budget of one console: messages per second (``hello``/``resume``), with a burst
of twice that; a console asking for more gets ``replay_throttled`` (and ``retry_after_s``)
instead of its replay, so a client looping on ``hello last_seq=0`` cannot stall others."""


MAX_CLIENT_ID = 64
"""Longest ``?client=`` id of a console (kept in memory per agent; the page sends about 21)."""


class AgentChannel:
    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        self.session = secrets.token_hex(8)
        """Changes when the server restarts: the console then knows seqs started over."""
        self.seq = 0
        self.buffer: deque[tuple[int, str]] = deque(maxlen=REPLAY_BUFFER)
        self.ws: web.WebSocketResponse | None = None
        self.out: FrameBatcher | None = None
        self.drop_timer: Timer | None = None
        self.client: str | None = None
        """The console (browser tab) connected now: ``?client=`` of its connection."""
        self.session_id: str | None = None
        """The login session the connected console authenticated with."""
        self.replay_tokens: float | None = None
        """What is left of the replay budget (None: full), as of ``replay_at``."""
        self.replay_at = 0.0

    def push(self, kind: p.AgentMessageType, data: dict[str, Any]) -> int:
        self.seq += 1
        text = p.envelope(kind, self.seq, data)
        self.buffer.append((self.seq, text))
        self._send(text)
        return self.seq

    def _send(self, text: str) -> None:
        if self.out is not None and self.ws is not None:
            self.out.send(text)

    def attach(self, ws: web.WebSocketResponse, transport: asyncio.Transport) -> None:
        """Messages go to this connection from now on (written in batches, wsframes.py)."""
        self.ws = ws
        self.out = FrameBatcher(
            transport, limit=WRITE_BUFFER_LIMIT, on_overflow=lambda: self._too_slow(ws)
        )

    def detach(self) -> None:
        """No connection: messages are only kept for replay."""
        if self.out is not None:
            self.out.close()
        self.ws, self.out = None, None

    def _too_slow(self, ws: web.WebSocketResponse) -> None:
        # The batcher writes nothing more; the connection's handler sees the close and
        # detaches as for any dropped console (replay and the drop grace period apply).
        if self.ws is not ws:
            return
        log.warning("agent %s is not reading; closing its connection", self.agent_id)
        asyncio.get_running_loop().create_task(ws.close(code=p.CLOSE_TOO_SLOW, message=b"too slow"))

    def replay_count(self, last_seq: int | None, session: str | None = None) -> int:
        """How many messages ``replay(last_seq, session)`` would resend."""
        if last_seq is None:
            return 0
        if (session is not None and session != self.session) or last_seq > self.seq:
            return len(self.buffer)
        return sum(1 for seq, _ in self.buffer if seq > last_seq)

    def take_replay_budget(self, cost: int, rate: float, now: float) -> float | None:
        """Spend ``cost`` of the budget (refilled at ``rate`` a second up to twice that);
        None when spent, else the seconds to wait for it."""
        burst = 2 * rate
        cost = min(cost, int(burst))
        tokens = burst if self.replay_tokens is None else self.replay_tokens
        tokens = min(burst, tokens + (now - self.replay_at) * rate)
        self.replay_at = now
        if cost > tokens:
            self.replay_tokens = tokens
            return (cost - tokens) / rate
        self.replay_tokens = tokens - cost
        return None

    def replay(self, last_seq: int, session: str | None = None) -> tuple[int, bool]:
        """Resend what came after ``last_seq``; (count, whether some was lost).

        A seq of another session (the server restarted: the console names its old
        session, or its seq is beyond ours) means ours started over: everything kept is
        resent, so an offer made to a restored agent before its console came back is not
        lost."""
        if (session is not None and session != self.session) or last_seq > self.seq:
            count, _ = self.replay(0)
            return count, True
        oldest = self.buffer[0][0] if self.buffer else self.seq + 1
        gap = last_seq + 1 < oldest
        count = 0
        for seq, text in list(self.buffer):
            if seq > last_seq:
                self._send(text)
                count += 1
        return count, gap


class Consoles:
    """The agents' channels: the ACD's and the services' way to the consoles
    (``ports.ConsoleNotifier``). A channel exists before its console connects."""

    def __init__(self) -> None:
        self.channels: dict[str, AgentChannel] = {}

    def channel(self, agent_id: str) -> AgentChannel:
        ch = self.channels.get(agent_id)
        if ch is None:
            ch = self.channels[agent_id] = AgentChannel(agent_id)
        return ch

    def deliver(self, agent_id: str, kind: p.AgentMessageType, data: dict[str, Any]) -> None:
        self.channel(agent_id).push(kind, data)

    def connected(self) -> int:
        """Consoles connected now."""
        return sum(1 for ch in self.channels.values() if ch.ws is not None and not ch.ws.closed)


class Hub:
    """The agent websocket: connections, the reconnect grace, and each command to the
    service that runs it (all given by the composition root)."""

    def __init__(
        self,
        acd: Acd,
        consoles: Consoles,
        auth: Authenticator,
        scheduler: Scheduler,
        *,
        dialer: ClickToDial,
        voice: VoiceControls,
        consults: Consults,
        chat: ChatCommands | None,
        drop_grace_s: float = DROP_GRACE_S,
        auth_timeout_s: float = p.AUTH_TIMEOUT_S,
        replay_messages_per_s: float = REPLAY_MESSAGES_PER_S,
    ) -> None:
        self.acd = acd
        self.consoles = consoles
        self.channels = consoles.channels
        self.auth = auth
        self.scheduler = scheduler
        self.drop_grace_s = drop_grace_s
        self.auth_timeout_s = auth_timeout_s
        self.replay_messages_per_s = replay_messages_per_s
        self._drop_tasks: set[asyncio.Task[None]] = set()
        self._closing: set[asyncio.Task[None]] = set()
        self.dialer = dialer
        self.voice = voice
        """Runs ``mute``, ``dtmf`` and ``transfer`` to an external number (voice.py)."""
        self.consults = consults
        """Runs consult, consult answer, complete, cancel and conference (consult.py)."""
        self.chat: ChatCommands = chat or _no_chat
        """Runs ``chat_send`` / ``chat_typing`` (chat.py), when web chat is enabled."""

    def channel(self, agent_id: str) -> AgentChannel:
        return self.consoles.channel(agent_id)

    async def close(self, why: p.Closing = p.SHUTTING_DOWN) -> None:
        for ch in self.channels.values():
            if ch.drop_timer is not None:
                ch.drop_timer.cancel()
        for task in list(self._drop_tasks):
            task.cancel()
        for ch in self.channels.values():
            if ch.ws is not None:
                ws = ch.ws
                ch.detach()  # what is queued goes out before the close frame
                await ws.close(code=why.code, message=why.reason.encode())

    def end_sessions(self, ended: EndedSessions) -> None:
        """Close at once the consoles of these sessions (or users): an error frame naming
        ``ended.code``, then ``CLOSE_SESSION_ENDED``. The agent then has the drop grace
        period, as for any console that went away."""
        for ch in self.channels.values():
            ws = ch.ws
            if ws is None:
                continue
            if ch.session_id not in ended.session_ids and ch.agent_id not in ended.user_ids:
                continue
            ch.detach()  # what is queued goes out before the error frame and the close
            if ch.drop_timer is None:
                ch.drop_timer = self._drop_later(ch)
            task = asyncio.get_running_loop().create_task(
                close_session_ended(ws, ended.code, ended.message)
            )
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    # --- one connection --------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        refuse_token_in_url(request)
        client_id = request.query.get("client", "")
        if len(client_id) > MAX_CLIENT_ID or not client_id.isprintable():
            fail(
                400,
                "bad_client",
                f"client (the console's id) must be printable and at most {MAX_CLIENT_ID} "
                "characters (the console page makes its own from a random nonce and the time)",
            )
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=p.AGENT_SOCKET_MAX_BYTES)
        await ws.prepare(request)
        claims = await authenticate_socket(
            self.auth, request, ws, {"agent"}, self.scheduler, self.auth_timeout_s
        )
        if claims is None:
            return ws
        agent_id = claims.user_id
        logs.bind(agent_id=agent_id)  # every log line of this connection names the agent
        if not await self.acd.ensure_agent(agent_id):
            await close_forbidden(
                ws,
                "no_agent_profile",
                f"user {agent_id!r} has no enabled agent profile; ask an administrator",
            )
            return ws
        ch = self.channel(agent_id)
        client = request.query.get("client") or None
        if (
            ch.ws is not None
            and client is not None
            and ch.client is not None
            and client != ch.client
            and request.query.get("takeover") != "1"
        ):
            # Another tab of the same agent: refused, so two consoles never fight over
            # one channel; the page offers to take over (protocol.CLOSE_OTHER_TAB).
            await ws.close(code=p.CLOSE_OTHER_TAB, message=b"open in another tab")
            return ws
        if ch.drop_timer is not None:
            ch.drop_timer.cancel()
            ch.drop_timer = None
        if ch.ws is not None:
            old = ch.ws
            ch.detach()
            await old.close(code=p.CLOSE_REPLACED, message=b"replaced by a newer connection")
        transport = request.transport
        if transport is None:  # gone already
            return ws
        ch.attach(ws, transport)
        ch.client = client
        ch.session_id = claims.session_id
        try:
            ch.push(p.AGENT_STATE, self.acd.agent_state(agent_id))
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    await self._command(ch, msg.data)
                elif msg.type == WSMsgType.ERROR:
                    log.info("agent %s websocket error: %s", agent_id, ws.exception())
        finally:
            if ch.ws is ws:
                ch.detach()
                ch.drop_timer = self._drop_later(ch)
        return ws

    def await_consoles(self, agent_ids: list[str]) -> None:
        """Agents that the ACD's restore logged in again are treated as consoles that
        dropped: each has the grace period to reconnect before it is logged out."""
        for agent_id in agent_ids:
            ch = self.channel(agent_id)
            if ch.ws is None and ch.drop_timer is None:
                ch.drop_timer = self._drop_later(ch)

    def _drop_later(self, ch: AgentChannel) -> Timer:
        return self.scheduler.call_later(self.drop_grace_s, lambda: self._start_drop(ch))

    def _start_drop(self, ch: AgentChannel) -> None:
        ch.drop_timer = None
        task = asyncio.get_running_loop().create_task(self._drop(ch))
        self._drop_tasks.add(task)
        task.add_done_callback(self._drop_tasks.discard)

    async def _drop(self, ch: AgentChannel) -> None:
        if ch.ws is not None:
            return  # it came back
        agent_id = ch.agent_id
        engine = self.acd.engine
        try:
            if engine.agent(agent_id).status == "offline":
                return
            log.info(
                "agent %s did not reconnect within %.0f s; logging it out",
                agent_id,
                self.drop_grace_s,
            )
            await self.acd.execute(lambda now: engine.logout(agent_id, now))
        except (RoutingError, AcdUnavailable) as exc:
            log.warning("could not log out dropped agent %s: %s", agent_id, exc)

    async def _command(self, ch: AgentChannel, raw: str | bytes) -> None:
        try:
            command = p.parse_command(raw)
        except p.ProtocolError as exc:
            ch.push(p.ERROR, p.error_data(exc.code, exc.message, exc.command_id))
            return
        try:
            extra = await self._dispatch(ch, command)
        except ReplayThrottled as exc:
            data = p.error_data("replay_throttled", str(exc), command.id)
            ch.push(p.ERROR, {**data, "retry_after_s": exc.retry_after_s})
            return
        except RoutingError as exc:
            ch.push(p.ERROR, p.error_data(exc.code, str(exc), command.id))
            return
        except AcdUnavailable as exc:
            ch.push(p.ERROR, p.error_data(exc.code, str(exc), command.id))
            return
        except Exception:
            log.exception("agent %s command %s failed", ch.agent_id, command.type)
            ch.push(
                p.ERROR,
                p.error_data(
                    "internal", "the server failed on this command; it has been logged", command.id
                ),
            )
            return
        ch.push(p.REPLY, p.reply(command.id, **extra))

    async def _dispatch(self, ch: AgentChannel, c: p.AgentCommand) -> dict[str, Any]:
        agent = ch.agent_id
        engine = self.acd.engine
        if isinstance(c, p.Hello | p.Resume):
            cost = max(1, ch.replay_count(c.last_seq, c.session))
            wait = ch.take_replay_budget(cost, self.replay_messages_per_s, self.scheduler.now())
            if wait is not None:
                raise ReplayThrottled(wait)
            replayed, gap = (0, False) if c.last_seq is None else ch.replay(c.last_seq, c.session)
            return {
                "session": ch.session,
                "seq": ch.seq,
                "replayed": replayed,
                "gap": gap,
                "agent_state": self.acd.agent_state(agent),
            }
        if isinstance(c, p.Dial):
            return await self.dialer.dial(agent, c)
        if isinstance(c, p.ChatSend | p.ChatTyping):
            return await self.chat(agent, c)
        if isinstance(c, p.Mute):
            return await self.voice.mute(agent, c)
        if isinstance(c, p.Dtmf):
            return await self.voice.dtmf(agent, c)
        if isinstance(c, p.CONSULT_COMMANDS):
            return await self.consults.handle(agent, c)
        if isinstance(c, p.Transfer) and c.number is not None:
            return await self.voice.transfer_external(agent, c.contact_id, c.number)
        action: Action
        if isinstance(c, p.SetStatus):
            status = c.status

            def action(now: float) -> Outcome:
                return engine.set_status(agent, status, now)
        elif isinstance(c, p.Accept):
            action = _bind(engine.accept, agent, c.contact_id)
        elif isinstance(c, p.Reject):
            action = _bind(engine.reject, agent, c.contact_id)
        elif isinstance(c, p.Hold):
            action = _bind(engine.hold, agent, c.contact_id)
        elif isinstance(c, p.ResumeContact):
            action = _bind(engine.resume, agent, c.contact_id)
        elif isinstance(c, p.End):
            action = _bind(engine.end, agent, c.contact_id)
        elif isinstance(c, p.Wrapup):
            cid, disposition, notes = c.contact_id, c.disposition, c.notes

            def action(now: float) -> Outcome:
                return engine.complete_wrapup(agent, cid, now, disposition, notes)
        else:
            assert isinstance(c, p.Transfer)
            cid, to_queue, to_agent = c.contact_id, c.to_queue, c.to_agent

            def action(now: float) -> Outcome:
                if to_queue is not None:
                    return engine.transfer_to_queue(agent, cid, to_queue, now)
                assert to_agent is not None
                return engine.transfer_to_agent(agent, cid, to_agent, now)

        await self.acd.execute(action)
        return {}


class ReplayThrottled(Exception):
    """The console asked for more replay than its budget holds now."""

    def __init__(self, retry_after_s: float) -> None:
        self.retry_after_s = round(retry_after_s, 3)
        super().__init__(
            f"too much replay asked for; retry in {self.retry_after_s:g} s "
            "(a console sends hello once per connection)"
        )


ChatCommands = Callable[[str, "p.ChatSend | p.ChatTyping"], Awaitable[dict[str, Any]]]


async def _no_chat(agent_id: str, command: p.ChatSend | p.ChatTyping) -> dict[str, Any]:
    raise RoutingError("web chat is not enabled on this server")


def _bind(method: Callable[[str, str, float], Outcome], agent_id: str, contact_id: str) -> Action:
    def action(now: float) -> Outcome:
        result: Outcome = method(agent_id, contact_id, now)
        return result

    return action


__all__ = ["AgentChannel", "Consoles", "Hub"]
