"""Helpers for the server tests: a running app on a real socket, logins, a console client."""

from __future__ import annotations

import asyncio
import inspect
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Literal

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from contactcenter.accesslog import RedactingAccessLogger
from contactcenter.app import create_app, load_routing_config
from contactcenter.auth import issue_token
from contactcenter.carrier import Carrier, CarrierConfig, OutboundRecord
from contactcenter.clock import ManualScheduler, Scheduler
from contactcenter.gateway_auth import ensure_local_key
from contactcenter.settings import Settings
from contactcenter.store.users import AgentProfileIn, create_user, save_agent_profile
from routing import RoutingConfig

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
PASSWORD = "correct horse battery"


@asynccontextmanager
async def running_app(
    settings: Settings,
    pool: Any,
    routing_config: RoutingConfig | None = None,
    *,
    scheduler: Scheduler | None = None,
) -> AsyncIterator[TestClient[Any, Any]]:
    """The app on a real socket. ``scheduler``: its clock and timers (a test that waits
    for a server timer passes a ``ManualScheduler`` and advances it); the wall clock
    otherwise."""
    app: web.Application = create_app(
        settings,
        pool=pool,
        routing_config=routing_config or load_routing_config(CONFIG_DIR),
        dnis_map={"+18005550100": "sales"},
        scheduler=scheduler,
    )
    server = TestServer(app, host="127.0.0.1")
    # the production access log (token-like parameters redacted, contactcenter/accesslog.py)
    await server.start_server(access_log_class=RedactingAccessLogger)
    try:
        async with TestClient(server) as client:
            yield client
    finally:
        await server.close()


async def until(
    check: Callable[[], object] | Callable[[], Awaitable[object]],
    timeout: float = 5.0,
    what: str = "the condition",
) -> None:
    """Wait for a result the test cannot await as a message: a database row, the state of
    the simulated carrier (a real peer on its own real-time delays), the engine's state
    after a commit. Polled in real time because what it waits for is real I/O; never a
    server timer (those run on a ``ManualScheduler`` the test advances)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)  # real time: the database or a peer is working


async def armed(scheduler: ManualScheduler, delay: float, what: str = "the timer") -> None:
    """Wait until the server has set a timer due ``delay`` seconds from now on the fake
    clock: it has seen what starts it (e.g. a socket closing starts a grace period), so
    ``advance`` will reach it."""
    await until(lambda: scheduler.now() + delay in scheduler.pending(), what=what)


async def add_agent(pool: Any, user_id: str, skills: dict[str, int]) -> None:
    await create_user(pool, username=user_id, password=PASSWORD, role="agent")
    await save_agent_profile(pool, user_id, AgentProfileIn(skills=skills, extension=f"x-{user_id}"))


def token(settings: Settings, user_id: str, role: str) -> str:
    return issue_token(
        settings.token_secret_bytes(),
        user_id=user_id,
        role=role,  # type: ignore[arg-type]
        ttl_s=600,
    )


def bearer(settings: Settings, user_id: str, role: str) -> dict[str, str]:
    """A user's token (the gateway endpoints refuse these: ``gateway_headers``)."""
    return {"Authorization": f"Bearer {token(settings, user_id, role)}"}


def gateway_key(where: Settings | Path) -> str:
    """The key of gateway ``local``, which the server creates in its data directory (the
    settings', or this one) when no key is configured: the file the carrier reads."""
    path = ensure_local_key(where.data_dir if isinstance(where, Settings) else where)
    assert path is not None, "a gateway key is configured: the local key is not in use"
    return path.read_text().strip()


def gateway_headers(where: Settings | Path) -> dict[str, str]:
    """What a gateway sends on every request and on ``/gateway/ws``."""
    return {"Authorization": f"Bearer {gateway_key(where)}"}


class SocketClient:
    """A real websocket client of the server. Messages that a wait skips stay in the
    inbox for later waits; ``seen`` keeps everything received, in order."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []
        self.inbox: list[dict[str, Any]] = []

    async def next(self, kind: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        """The first unconsumed message of this type whose data has these fields."""

        def matches(m: dict[str, Any]) -> bool:
            return m["type"] == kind and all(m["data"].get(k) == v for k, v in match.items())

        for m in self.inbox:
            if matches(m):
                self.inbox.remove(m)
                return m

        async def wait() -> dict[str, Any]:
            while True:
                msg = await self.ws.receive()
                if msg.type != aiohttp.WSMsgType.TEXT:
                    raise AssertionError(f"socket ended while waiting for {kind}: {msg}")
                data: dict[str, Any] = json.loads(msg.data)
                self.seen.append(data)
                if matches(data):
                    return data
                self.inbox.append(data)

        return await asyncio.wait_for(wait(), timeout)


class Console(SocketClient):
    """An agent console: commands carry an id, which the reply names."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        super().__init__(ws)
        self._next_id = 0

    async def send(self, kind: str, **fields: Any) -> str:
        self._next_id += 1
        cid = f"c{self._next_id}"
        await self.ws.send_json({"type": kind, "id": cid, **fields})
        return cid

    async def command(self, kind: str, **fields: Any) -> dict[str, Any]:
        """Send a command; its reply, or its error message."""
        cid = await self.send(kind, **fields)
        for m in self.inbox:
            if m["type"] in ("reply", "error") and m["data"].get("id") == cid:
                self.inbox.remove(m)
                return m

        async def wait() -> dict[str, Any]:
            while True:
                msg = await self.ws.receive()
                assert msg.type == aiohttp.WSMsgType.TEXT, msg
                data: dict[str, Any] = json.loads(msg.data)
                self.seen.append(data)
                if data["type"] in ("reply", "error") and data["data"].get("id") == cid:
                    return data
                self.inbox.append(data)

        return await asyncio.wait_for(wait(), 5.0)


async def authed_ws(
    connect: Callable[..., Awaitable[aiohttp.ClientWebSocketResponse]],
    url: str,
    bearer_token: str,
    **kwargs: Any,
) -> aiohttp.ClientWebSocketResponse:
    """A socket of ``/ws/agent`` or ``/ws/supervisor`` (``connect``: a client's
    ``ws_connect``), authenticated as the browser does: the first frame carries the token
    (``protocol.AuthFrame``), never the URL."""
    ws = await connect(url, **kwargs)
    await ws.send_json({"type": "auth", "token": bearer_token})
    return ws


@asynccontextmanager
async def console(
    client: TestClient[Any, Any], settings: Settings, agent_id: str
) -> AsyncIterator[Console]:
    ws = await authed_ws(client.ws_connect, "/ws/agent", token(settings, agent_id, "agent"))
    try:
        yield Console(ws)
    finally:
        await ws.close()


SocketKind = Literal["agent", "supervisor", "chat", "gateway"]
SOCKET_KINDS: tuple[SocketKind, ...] = ("agent", "supervisor", "chat", "gateway")


async def open_socket(
    client: TestClient[Any, Any],
    settings: Settings,
    kind: SocketKind,
    user_id: str | None = None,
    **ws_options: Any,
) -> aiohttp.ClientWebSocketResponse:
    """One of the server's four websockets, connected and authenticated as its kind needs:
    ``/ws/agent`` (``user_id``: an agent with a profile), ``/ws/supervisor`` (a supervisor
    token), ``/ws/chat`` (no login) or ``/gateway/ws`` (the gateway's credential). The one
    place the tests know how a socket authenticates."""
    ws: aiohttp.ClientWebSocketResponse
    if kind == "chat":
        ws = await client.ws_connect("/ws/chat", **ws_options)
        return ws
    if kind == "gateway":
        ws = await client.ws_connect("/gateway/ws", headers=gateway_headers(settings), **ws_options)
        return ws
    path, role, default_user = {
        "agent": ("/ws/agent", "agent", "agent"),
        "supervisor": ("/ws/supervisor", "supervisor", "sam"),
    }[kind]
    secret = token(settings, user_id or default_user, role)
    return await authed_ws(client.ws_connect, path, secret, **ws_options)


class HeldCarrier(Carrier):
    """The simulated carrier, whose answers to the server's originates (answered, busy,
    ...) wait for the test's word, ``answers.set()``, after their own delay: the callee
    answers when the test says, not when a real-time delay runs out."""

    def __init__(self, config: CarrierConfig) -> None:
        super().__init__(config)
        self.answers = asyncio.Event()

    async def _report(
        self, call_id: str, result: str, record: OutboundRecord | None = None
    ) -> None:
        await self.answers.wait()
        await super()._report(call_id, result, record)
