"""The agent websocket ``/ws/agent?token=...``: one channel per agent, commands to the ACD.

Each agent has one channel that outlives its connections: every message to the agent gets
the channel's next ``seq`` and stays in a bounded replay buffer, so a console that
reconnects and sends ``hello``/``resume`` with the last seq it saw gets what it missed
(an offer made while its network blinked, say). A newer connection of the same agent
replaces the older one. An agent acts only on its own contacts: the engine refuses
anything else (``not_your_contact``), and that refusal is the error reply.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections import deque
from typing import Any

from aiohttp import WSMsgType, web

from contactcenter import protocol as p
from contactcenter.acd import Acd, AcdUnavailable
from contactcenter.webcommon import ACD, HUB, authenticate, fail
from routing import Outcome
from routing.errors import RoutingError

log = logging.getLogger(__name__)

REPLAY_BUFFER = 500
DROP_GRACE_S = 30.0
"""How long an agent whose socket dropped stays logged in, waiting for its console to
reconnect. After it, the agent is logged out: its offers go back to their queues at their
place; contacts in hand stay with it until ended (the logout is then pending)."""
OUTBOX_LIMIT = 1000
"""A console this far behind is closed (it resumes from its last seq on reconnect)."""
# aiohttp closes the socket (1009) above this; between MAX_FRAME_BYTES and this the
# console gets an error reply instead, so ordinary mistakes never cost the connection.
WS_MAX_MSG = 4 * p.MAX_FRAME_BYTES
REPLACED = 4000


class AgentChannel:
    def __init__(self, agent_id: str) -> None:
        self.agent_id = agent_id
        self.session = secrets.token_hex(8)
        """Changes when the server restarts: the console then knows seqs started over."""
        self.seq = 0
        self.buffer: deque[tuple[int, str]] = deque(maxlen=REPLAY_BUFFER)
        self.ws: web.WebSocketResponse | None = None
        self.outbox: asyncio.Queue[str] | None = None
        self.drop_timer: asyncio.TimerHandle | None = None

    def push(self, kind: str, data: dict[str, Any]) -> int:
        self.seq += 1
        text = p.envelope(kind, self.seq, data)
        self.buffer.append((self.seq, text))
        self._send(text)
        return self.seq

    def _send(self, text: str) -> None:
        if self.outbox is None or self.ws is None:
            return
        if self.outbox.qsize() >= OUTBOX_LIMIT:
            log.warning("agent %s is not reading; closing its connection", self.agent_id)
            ws, self.ws = self.ws, None
            asyncio.get_running_loop().create_task(ws.close(code=1008, message=b"too slow"))
            return
        self.outbox.put_nowait(text)

    def replay(self, last_seq: int) -> tuple[int, bool]:
        """Resend what came after ``last_seq``; (count, whether some was lost)."""
        oldest = self.buffer[0][0] if self.buffer else self.seq + 1
        gap = last_seq > self.seq or last_seq + 1 < oldest
        count = 0
        for seq, text in list(self.buffer):
            if seq > last_seq:
                self._send(text)
                count += 1
        return count, gap


class Hub:
    def __init__(self, acd: Acd) -> None:
        self.acd = acd
        self.channels: dict[str, AgentChannel] = {}
        self.drop_grace_s = DROP_GRACE_S
        self._drop_tasks: set[asyncio.Task[None]] = set()
        acd.agent_sink = self.deliver

    def channel(self, agent_id: str) -> AgentChannel:
        ch = self.channels.get(agent_id)
        if ch is None:
            ch = self.channels[agent_id] = AgentChannel(agent_id)
        return ch

    def deliver(self, agent_id: str, kind: str, data: dict[str, Any]) -> None:
        self.channel(agent_id).push(kind, data)

    async def close(self) -> None:
        for ch in self.channels.values():
            if ch.drop_timer is not None:
                ch.drop_timer.cancel()
        for task in list(self._drop_tasks):
            task.cancel()
        for ch in self.channels.values():
            if ch.ws is not None:
                await ch.ws.close(code=1001, message=b"server shutting down")

    # --- one connection --------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        claims = authenticate(request, {"agent"}, query_token=True)
        agent_id = claims.user_id
        if not await self.acd.ensure_agent(agent_id):
            fail(403, "no_agent_profile",
                 f"user {agent_id!r} has no enabled agent profile; ask an administrator")
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=WS_MAX_MSG)
        await ws.prepare(request)
        ch = self.channel(agent_id)
        if ch.drop_timer is not None:
            ch.drop_timer.cancel()
            ch.drop_timer = None
        if ch.ws is not None:
            old = ch.ws
            await old.close(code=REPLACED, message=b"replaced by a newer connection")
        outbox: asyncio.Queue[str] = asyncio.Queue()
        ch.ws, ch.outbox = ws, outbox
        writer = asyncio.get_running_loop().create_task(self._write(ws, outbox))
        try:
            ch.push("agent_state", self.acd.agent_state(agent_id))
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    await self._command(ch, msg.data)
                elif msg.type == WSMsgType.ERROR:
                    log.info("agent %s websocket error: %s", agent_id, ws.exception())
        finally:
            if ch.ws is ws:
                ch.ws, ch.outbox = None, None
                ch.drop_timer = asyncio.get_running_loop().call_later(
                    self.drop_grace_s, self._start_drop, ch
                )
            # let queued messages go out before the writer stops
            with contextlib.suppress(Exception):
                await asyncio.wait_for(outbox.join(), timeout=1.0)
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await writer
        return ws

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
            log.info("agent %s did not reconnect within %.0f s; logging it out",
                     agent_id, self.drop_grace_s)
            await self.acd.execute(lambda now: engine.logout(agent_id, now))
        except (RoutingError, AcdUnavailable) as exc:
            log.warning("could not log out dropped agent %s: %s", agent_id, exc)

    @staticmethod
    async def _write(ws: web.WebSocketResponse, outbox: asyncio.Queue[str]) -> None:
        while True:
            text = await outbox.get()
            try:
                if not ws.closed:
                    await ws.send_str(text)
            except (ConnectionError, RuntimeError):
                pass  # the reader side notices the closed socket
            finally:
                outbox.task_done()

    async def _command(self, ch: AgentChannel, raw: str | bytes) -> None:
        try:
            command = p.parse_command(raw)
        except p.ProtocolError as exc:
            ch.push("error", p.error_data(exc.code, exc.message, exc.command_id))
            return
        try:
            extra = await self._dispatch(ch, command)
        except RoutingError as exc:
            ch.push("error", p.error_data(exc.code, str(exc), command.id))
            return
        except AcdUnavailable as exc:
            ch.push("error", p.error_data(exc.code, str(exc), command.id))
            return
        except Exception:
            log.exception("agent %s command %s failed", ch.agent_id, command.type)
            ch.push("error", p.error_data("internal", "the server failed on this command; "
                                          "it has been logged", command.id))
            return
        ch.push("reply", p.reply(command.id, **extra))

    async def _dispatch(self, ch: AgentChannel, c: p.AgentCommand) -> dict[str, Any]:
        agent = ch.agent_id
        engine = self.acd.engine
        if isinstance(c, p.Hello | p.Resume):
            replayed, gap = (0, False) if c.last_seq is None else ch.replay(c.last_seq)
            return {"session": ch.session, "seq": ch.seq, "replayed": replayed, "gap": gap,
                    "agent_state": self.acd.agent_state(agent)}
        action: Any
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


def _bind(method: Any, agent_id: str, contact_id: str) -> Any:
    def action(now: float) -> Outcome:
        result: Outcome = method(agent_id, contact_id, now)
        return result
    return action


async def agent_ws(request: web.Request) -> web.StreamResponse:
    return await request.app[HUB].handle(request)


def setup(app: web.Application) -> None:
    app.router.add_get("/ws/agent", agent_ws)


__all__ = ["ACD", "AgentChannel", "Hub", "setup"]
