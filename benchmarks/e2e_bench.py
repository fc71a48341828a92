"""End-to-end benchmark: carrier -> server -> agent websockets, against PostgreSQL.

N agent consoles connect over websockets (each accepts an offer at once, ends the call after
a short talk time and wraps up); the simulated carrier (``contactcenter.carrier``) places
Poisson calls at R calls/s for D seconds. The server runs as a subprocess
(``python -m contactcenter serve``); the load generator runs in this process.

Database: with ``DATABASE_URL`` a fresh database is created on that server for the run and
dropped after; without it the server's embedded PostgreSQL runs in a temporary CC_DATA_DIR.

Measured: answered calls per second, p50/p99 arrival-to-screen-pop latency (from the moment
the carrier sends ``POST /gateway/calls`` to the moment the agent's websocket receives the
``offer`` with its ``screen_pop``, matched by call id), lost calls (placed but never offered,
abandoned, nor still waiting at the end per ``/api/queues`` and the event log), and the same
latency for a bare aiohttp server (HTTP POST in -> websocket push to one of N clients), run
as a subprocess of this file with the same clients and carrier.

    .venv/bin/python benchmarks/e2e_bench.py --agents 1000 --rate 200 --duration 30 [--json]

Target: 1,000 agents, 200 calls/s, p99 arrival-to-pop under 50 ms, no lost calls.
Loopback only; bounded by --duration, the carrier's max_calls and --drain.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from aiohttp import web

from contactcenter.carrier import Carrier, CarrierConfig, CarrierResult

ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = ROOT / "config"
PASSWORD = "bench password 1234"
GATEWAY_USER = "bench_gw"
QUEUE = "sales"
TARGET = {"agents": 1000, "rate": 200.0, "p99_ms": 50.0, "lost": 0}


# --- helpers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100.0 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (Linux /proc), None elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def wait_healthy(
    url: str, proc: subprocess.Popen[bytes], log_path: Path, timeout: float = 120.0
) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"server exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}"
                )
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with http.get(f"{url}/healthz") as resp:
                    if resp.status == 200:
                        return
            await asyncio.sleep(0.05)
    raise RuntimeError(f"server not healthy after {timeout}s:\n{log_path.read_text()[-3000:]}")


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


# --- the load: carrier that remembers send times, and agent consoles ---------------------------


class TimedCarrier(Carrier):
    """The simulated carrier, noting when each ``POST /gateway/calls`` is sent."""

    def __init__(self, config: CarrierConfig) -> None:
        super().__init__(config)
        self.sent_at: dict[str, float] = {}

    async def _post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        if path == "/gateway/calls":
            self.sent_at[str(body["call_id"])] = time.perf_counter()
        return await super()._post(path, body)


class Agents:
    """N console clients: accept each offer at once, end after ``talk`` s, wrap up."""

    def __init__(self, url: str, tokens: list[str], talk: float) -> None:
        self.url = url
        self.tokens = tokens
        self.talk = talk
        self.offer_at: dict[str, float] = {}
        self.offers = 0
        self.without_pop = 0
        self.errors: dict[str, int] = {}
        self.ready = 0
        self.server_cpu_s: float | None = None
        self.client_lag_ms: list[float] = []
        """How late this process's event loop woke up (ms): the clients' own delay, part
        of every latency they measure."""
        self._all_ready = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._calls: set[asyncio.Task[None]] = set()
        self._sockets: list[aiohttp.ClientWebSocketResponse] = []
        self._session: aiohttp.ClientSession | None = None

    async def connect(self, timeout: float = 120.0) -> None:
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=None)
        )
        gate = asyncio.Semaphore(50)

        async def one(token: str) -> None:
            async with gate:
                ws = await self._session.ws_connect(  # type: ignore[union-attr]
                    f"{self.url}/ws/agent",
                    heartbeat=None,
                    autoping=True,
                    max_msg_size=4 * 2**20,
                )
                # the token goes in the first frame, never the URL (protocol.AuthFrame)
                await ws.send_str(json.dumps({"type": "auth", "token": token}))
            self._sockets.append(ws)
            self._tasks.append(asyncio.create_task(self._run(ws)))

        await asyncio.wait_for(asyncio.gather(*(one(t) for t in self.tokens)), timeout)
        await asyncio.wait_for(self._all_ready.wait(), timeout)

    async def _run(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        await ws.send_str(json.dumps({"type": "set_status", "id": "s", "status": "available"}))
        ready = False
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            now = time.perf_counter()
            m = json.loads(msg.data)
            kind, data = m.get("type"), m.get("data") or {}
            if kind == "offer":
                cid = str(data.get("contact_id"))
                self.offers += 1
                if cid not in self.offer_at:
                    self.offer_at[cid] = now
                if not data.get("screen_pop"):
                    self.without_pop += 1
                task = asyncio.create_task(self._handle(ws, cid))
                self._calls.add(task)
                task.add_done_callback(self._calls.discard)
            elif kind == "reply" and data.get("id") == "s" and not ready:
                ready = True
                self.ready += 1
                if self.ready == len(self.tokens):
                    self._all_ready.set()
            elif kind == "error":
                # keyed by command (the id's prefix: a- accept, e- end, w- wrapup)
                command = {"a": "accept", "e": "end", "w": "wrapup", "s": "set_status"}.get(
                    str(data.get("id"))[:1], "?"
                )
                code = f"{command}:{data.get('code')}"
                self.errors[code] = self.errors.get(code, 0) + 1

    async def _handle(self, ws: aiohttp.ClientWebSocketResponse, cid: str) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await ws.send_str(json.dumps({"type": "accept", "id": f"a-{cid}", "contact_id": cid}))
            await asyncio.sleep(self.talk)
            await ws.send_str(json.dumps({"type": "end", "id": f"e-{cid}", "contact_id": cid}))
            await ws.send_str(
                json.dumps(
                    {
                        "type": "wrapup",
                        "id": f"w-{cid}",
                        "contact_id": cid,
                        "disposition": "sold",
                        "notes": "",
                    }
                )
            )

    async def close(self) -> None:
        for ws in self._sockets:
            with contextlib.suppress(Exception):
                await ws.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()


async def drive(
    url: str,
    tokens: list[str],
    args: argparse.Namespace,
    server_pid: int | None = None,
    *,
    gateway_key: str = "bare.gateway",
) -> tuple[TimedCarrier, CarrierResult, Agents, float]:
    """Connect the agents, run the carrier; the carrier, its result, the agents, setup s.
    With ``server_pid``, the server's CPU seconds during the carrier's run are noted in
    ``agents.server_cpu_s``."""
    agents = Agents(url, tokens, args.talk)
    t0 = time.monotonic()
    try:
        await agents.connect()
    except BaseException:
        await agents.close()
        raise
    setup_s = time.monotonic() - t0
    carrier = TimedCarrier(
        CarrierConfig(
            url=url,
            gateway_key=gateway_key,
            rate=args.rate,
            duration=args.duration,
            max_calls=int(args.rate * args.duration * 2) + 100,
            patience_mean=args.patience,
            talk_mean=3600.0,
            queue=QUEUE,
            drain=args.drain,
            seed=args.seed,
            request_timeout=30.0,
        )
    )
    cpu_before = None if server_pid is None else process_cpu_s(server_pid)
    lag = asyncio.create_task(loop_lag(agents.client_lag_ms))
    try:
        result = await carrier.run()
    finally:
        lag.cancel()
    cpu_after = None if server_pid is None else process_cpu_s(server_pid)
    if cpu_before is not None and cpu_after is not None:
        agents.server_cpu_s = cpu_after - cpu_before
    return carrier, result, agents, setup_s


async def loop_lag(out: list[float], every: float = 0.01) -> None:
    """Note how late each 10 ms sleep of this event loop ends, in ms."""
    loop = asyncio.get_running_loop()
    while True:
        start = loop.time()
        await asyncio.sleep(every)
        out.append((loop.time() - start - every) * 1000.0)


def latency_figures(carrier: TimedCarrier, agents: Agents) -> dict[str, Any]:
    lat = [
        (agents.offer_at[c] - t) * 1000.0
        for c, t in carrier.sent_at.items()
        if c in agents.offer_at
    ]
    return {
        "offered": len(lat),
        "p50_ms": percentile(lat, 50),
        "p99_ms": percentile(lat, 99),
        "max_ms": max(lat) if lat else None,
        "client_loop_lag_p99_ms": percentile(agents.client_lag_ms, 99),
        "client_loop_lag_max_ms": max(agents.client_lag_ms, default=None),
    }


def answered_rate(result: CarrierResult) -> float | None:
    bridged = [c for c in result.calls if c.time_to_bridge is not None]
    if not bridged:
        return None
    first = min(c.placed_at for c in result.calls)
    last = max(c.placed_at + (c.time_to_bridge or 0.0) for c in bridged)
    return len(bridged) / max(last - first, 1e-9)


# --- our server -------------------------------------------------------------------------------


def _with_database(url: str, name: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def seed(pool: Any, n_agents: int) -> None:
    from contactcenter.auth import hash_password
    from contactcenter.store.users import AgentProfileIn, create_user, save_agent_profile

    await create_user(pool, username=GATEWAY_USER, password=PASSWORD, role="admin")
    # one scrypt hash for every agent (they get tokens, never log in): 0.1 s, not 100 s
    shared = await asyncio.to_thread(hash_password, PASSWORD)
    await pool.executemany(
        "INSERT INTO users (id, username, display_name, password_hash, role) "
        "VALUES ($1, $1, $1, $2, 'agent')",
        [(f"agent{i:05d}", shared) for i in range(n_agents)],
    )
    gate = asyncio.Semaphore(8)

    async def profile(i: int) -> None:
        async with gate:
            await save_agent_profile(
                pool, f"agent{i:05d}", AgentProfileIn(skills={"sales": 8}, extension=f"{10000 + i}")
            )

    await asyncio.gather(*(profile(i) for i in range(n_agents)))


@dataclass(frozen=True)
class Served:
    """A server subprocess on a fresh database seeded with the benchmark's agents."""

    url: str
    secret: str
    pool: Any
    pid: int
    seed_s: float
    database: str
    gateway_key: str
    """The key of gateway ``local`` in the server's data directory (the carrier's)."""


@contextlib.asynccontextmanager
async def served(
    n_agents: int, work: Path, db_prefix: str, pool_size: int
) -> AsyncIterator[Served]:
    """A fresh database (on DATABASE_URL's server, dropped after; else the embedded one),
    migrated and seeded, and ``contactcenter serve`` on a free port until the block ends."""
    import asyncpg

    from contactcenter.settings import Settings
    from contactcenter.store import open_database

    secret = secrets.token_urlsafe(48)
    base_url = os.environ.get("DATABASE_URL") or None
    db_name = None
    env = {k: v for k, v in os.environ.items() if not k.startswith("CC_")}
    env.pop("DATABASE_URL", None)
    env.update(
        {
            "CC_TOKEN_SECRET": secret,
            "CC_DATA_DIR": str(work / "var"),
            "CC_CONFIG_DIR": str(CONFIG_DIR),
            "CC_LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if base_url is not None:
        db_name = f"{db_prefix}_{os.getpid()}_{secrets.token_hex(4)}"
        conn = await asyncpg.connect(base_url, timeout=10)
        try:
            await conn.execute(f'CREATE DATABASE "{db_name}"')
        finally:
            await conn.close()
        env["DATABASE_URL"] = _with_database(base_url, db_name)
    settings = Settings(
        database_url=env.get("DATABASE_URL"),
        data_dir=work / "var",
        config_dir=CONFIG_DIR,
        token_secret=secret,
    )
    from contactcenter.gateway_auth import ensure_local_key

    key_file = ensure_local_key(work / "var")  # the server finds it there
    assert key_file is not None
    proc: subprocess.Popen[bytes] | None = None
    db = None
    log_path = work / "server.log"
    try:
        # opened here first: migrates, seeds; the embedded server is shared with the server
        db = await open_database(settings, migrate=True, max_size=pool_size)
        t0 = time.monotonic()
        await seed(db.pool, n_agents)
        seed_s = time.monotonic() - t0
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        with log_path.open("ab") as out:
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "contactcenter",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                cwd=ROOT,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        await wait_healthy(url, proc, log_path)
        yield Served(
            url,
            secret,
            db.pool,
            proc.pid,
            seed_s,
            "DATABASE_URL (fresh database)" if db_name else "embedded",
            key_file.read_text().strip(),
        )
    finally:
        stop_process(proc)
        if db is not None:
            await db.close()
        if base_url is not None and db_name is not None:
            conn = await asyncpg.connect(base_url, timeout=10)
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
            finally:
                await conn.close()


async def run_ours(args: argparse.Namespace, work: Path) -> dict[str, Any]:
    from contactcenter.auth import issue_token

    async with served(args.agents, work, "cc_bench", 8) as srv:
        tokens = [
            # session-less tokens may live at most an access token's lifetime (900 s): the
            # sockets authenticate once, at connect
            issue_token(srv.secret.encode(), user_id=f"agent{i:05d}", role="agent", ttl_s=900)
            for i in range(args.agents)
        ]
        carrier, result, agents, setup_s = await drive(
            srv.url, tokens, args, srv.pid, gateway_key=srv.gateway_key
        )
        admin = issue_token(srv.secret.encode(), user_id=GATEWAY_USER, role="admin", ttl_s=3600)
        try:
            waiting = await _waiting_now(srv.url, admin)
            log_rows = await srv.pool.fetch(
                "SELECT contact_id, array_agg(type ORDER BY seq) AS types FROM events "
                "WHERE contact_id LIKE $1 GROUP BY contact_id",
                carrier.prefix + "-%",
            )
        finally:
            await agents.close()
        out = summarize(carrier, result, agents, waiting)
        out["event_log"] = _event_log_check(log_rows, result)
        out["lost"] = max(out["lost"], out["event_log"]["lost"])
        if agents.server_cpu_s is not None and result.calls:
            # CPU the server spent per call placed (agent connects excluded): less
            # sensitive than latency to what else runs on the machine
            out["server_cpu_s"] = round(agents.server_cpu_s, 2)
            out["server_cpu_ms_per_call"] = round(
                1000.0 * agents.server_cpu_s / len(result.calls), 3
            )
        out["seed_s"] = round(srv.seed_s, 2)
        out["connect_s"] = round(setup_s, 2)
        out["database"] = srv.database
        return out


async def _waiting_now(url: str, admin_token: str) -> int | None:
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        headers = {"Authorization": f"Bearer {admin_token}"}
        async with http.get(f"{url}/api/queues", headers=headers) as resp:
            if resp.status != 200:
                return None
            body = await resp.json()
    return int(sum(body.get("waiting_now", {}).values()))


def _event_log_check(rows: list[Any], result: CarrierResult) -> dict[str, Any]:
    """Per the event log: arrived calls never offered, abandoned nor still queued."""
    types = {r["contact_id"]: list(r["types"]) for r in rows}
    accepted = [c.call_id for c in result.calls if c.state is not None]
    lost = []
    for cid in accepted:
        seen = types.get(cid, [])
        if "contact.offered" in seen or "contact.abandoned" in seen:
            continue
        if seen and seen[-1] == "contact.queued":
            continue  # still waiting
        lost.append(cid)
    return {
        "arrived": sum(1 for t in types.values() if "contact.arrived" in t),
        "offered": sum(1 for t in types.values() if "contact.offered" in t),
        "answered": sum(1 for t in types.values() if "contact.answered" in t),
        "lost": len(lost),
        "lost_examples": lost[:5],
    }


def summarize(
    carrier: TimedCarrier, result: CarrierResult, agents: Agents, waiting: int | None
) -> dict[str, Any]:
    offered = set(agents.offer_at)
    lost = 0
    for c in result.calls:
        refused = c.state is None  # refused or failed: never reached routing
        if refused or (c.call_id not in offered and c.outcome not in ("abandoned", "transferred")):
            lost += 1
    lost = max(0, lost - (waiting or 0))
    out: dict[str, Any] = {
        "calls_placed": len(result.calls),
        "accepted_201": sum(1 for c in result.calls if c.state is not None),
        "answered": result.bridged,
        "abandoned": result.abandoned,
        "carrier_errors": result.errors,
        "cut_off": result.cut_off,
        "answered_per_s": answered_rate(result),
        "waiting_at_end": waiting,
        "lost": lost,
        "offers_received": agents.offers,
        "offers_without_screen_pop": agents.without_pop,
        "agent_errors": agents.errors,
    }
    out.update(latency_figures(carrier, agents))
    return out


# --- the bare server --------------------------------------------------------------------------


def bare_app() -> web.Application:
    """POST in -> push to one of the connected websockets; just enough contract for the
    carrier (login, gateway websocket, bridge on accept, hangup on end)."""
    clients: list[web.WebSocketResponse] = []
    gateways: list[web.WebSocketResponse] = []
    turn = itertools.count()
    seq = itertools.count(1)

    async def to_gateway(kind: str, data: dict[str, Any]) -> None:
        for gw in list(gateways):
            with contextlib.suppress(ConnectionError, RuntimeError):
                await gw.send_str(
                    json.dumps({"type": kind, "seq": next(seq), "ts": time.time(), "data": data})
                )

    async def login(request: web.Request) -> web.Response:
        return web.json_response({"token": "bare", "user_id": GATEWAY_USER, "role": "admin"})

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def calls(request: web.Request) -> web.Response:
        body = await request.json()
        if not clients:
            return web.json_response({"error": {"code": "no_agents", "message": ""}}, status=503)
        ws = clients[next(turn) % len(clients)]
        await ws.send_str(
            json.dumps(
                {
                    "type": "offer",
                    "seq": 0,
                    "ts": time.time(),
                    "data": {
                        "contact_id": body["call_id"],
                        "queue": body.get("queue"),
                        "channel": "voice",
                        "screen_pop": {"known": False, "ani": body.get("ani")},
                    },
                }
            )
        )
        return web.json_response(
            {"call_id": body["call_id"], "queue": body.get("queue"), "state": "offered"}, status=201
        )

    async def hangup(request: web.Request) -> web.Response:
        return web.json_response({"call_id": request.match_info["call_id"], "state": "ended"})

    async def agent_ws(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        clients.append(ws)
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                m = json.loads(msg.data)
                await ws.send_str(
                    json.dumps(
                        {
                            "type": "reply",
                            "seq": 0,
                            "ts": time.time(),
                            "data": {"id": m.get("id"), "ok": True},
                        }
                    )
                )
                if m.get("type") == "accept":
                    await to_gateway(
                        "bridge",
                        {"call_id": m.get("contact_id"), "agent_id": "bare", "extension": "1"},
                    )
                elif m.get("type") == "end":
                    await to_gateway(
                        "hangup", {"call_id": m.get("contact_id"), "reason": "agent_ended"}
                    )
        finally:
            clients.remove(ws)
        return ws

    async def gateway_ws(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        gateways.append(ws)
        try:
            async for _ in ws:
                pass  # acks
        finally:
            gateways.remove(ws)
        return ws

    app = web.Application()
    app.router.add_post("/api/login", login)
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/gateway/calls", calls)
    app.router.add_post("/gateway/calls/{call_id}/hangup", hangup)
    app.router.add_get("/ws/agent", agent_ws)
    app.router.add_get("/gateway/ws", gateway_ws)
    return app


def start_bare(work: Path) -> tuple[str, subprocess.Popen[bytes], Path]:
    """The bare server subprocess (url, process, log). It is started before our server's
    run and sits idle until its turn: its start-up overlaps our set-up, not a measurement."""
    port = free_port()
    log_path = work / "bare.log"
    with log_path.open("ab") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                "--bare-server",
                "--port",
                str(port),
            ],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return f"http://127.0.0.1:{port}", proc, log_path


async def run_bare(
    args: argparse.Namespace, work: Path, started: tuple[str, subprocess.Popen[bytes], Path]
) -> dict[str, Any]:
    url, proc, log_path = started
    try:
        await wait_healthy(url, proc, log_path)
        tokens = [f"bare{i}" for i in range(args.agents)]
        carrier, result, agents, _ = await drive(url, tokens, args)
        await agents.close()
        return summarize(carrier, result, agents, None)
    finally:
        stop_process(proc)


# --- main -------------------------------------------------------------------------------------


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None or b <= 0 else a / b


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="cc-e2e-"))
    work.chmod(0o755)  # as root, the embedded PostgreSQL runs as another user
    bare_server = None if args.skip_bare else start_bare(work)
    try:
        ours = await run_ours(args, work)
        bare = None if bare_server is None else await run_bare(args, work, bare_server)
    finally:
        if bare_server is not None:
            stop_process(bare_server[1])
        shutil.rmtree(work, ignore_errors=True)
    report: dict[str, Any] = {
        "settings": {
            "agents": args.agents,
            "rate": args.rate,
            "duration": args.duration,
            "talk": args.talk,
            "cpus": os.cpu_count(),
        },
        "ours": ours,
        "bare": bare,
        "ratio_p50": _ratio(ours.get("p50_ms"), bare.get("p50_ms") if bare else None),
        "ratio_p99": _ratio(ours.get("p99_ms"), bare.get("p99_ms") if bare else None),
    }
    p99 = ours.get("p99_ms")
    report["target"] = {
        **TARGET,
        "at_target_settings": args.agents >= TARGET["agents"] and args.rate >= TARGET["rate"],
        "p99_met": p99 is not None and p99 < TARGET["p99_ms"],
        "no_lost_calls": ours["lost"] == 0,
        "rate_sustained": (ours.get("answered_per_s") or 0) >= 0.95 * args.rate,
    }
    report["target"]["met"] = all(
        report["target"][k]
        for k in ("at_target_settings", "p99_met", "no_lost_calls", "rate_sustained")
    )
    return report


def print_report(r: dict[str, Any]) -> None:
    s, o, b = r["settings"], r["ours"], r["bare"]
    print(
        f"settings: {s['agents']} agents, {s['rate']:g} calls/s for {s['duration']:g} s, "
        f"talk {s['talk']:g} s, {s['cpus']} CPUs ({o['database']} PostgreSQL)"
    )
    rate = o["answered_per_s"]
    print(
        f"ours: calls/s sustained (answered) {'-' if rate is None else f'{rate:.1f}'}; "
        f"placed {o['calls_placed']}, answered {o['answered']}, abandoned {o['abandoned']}, "
        f"lost {o['lost']} (event log: {o['event_log']['lost']}), "
        f"waiting at end {o['waiting_at_end']}"
    )
    print(
        f"ours: arrival-to-screen-pop p50 {_ms(o['p50_ms'])}, p99 {_ms(o['p99_ms'])}, "
        f"max {_ms(o['max_ms'])} over {o['offered']} offers "
        f"({o['offers_without_screen_pop']} without a pop; agent errors {o['agent_errors']})"
    )
    if o.get("server_cpu_ms_per_call") is not None:
        print(
            f"ours: server CPU {o['server_cpu_s']:.1f} s while calls ran, "
            f"{o['server_cpu_ms_per_call']:.2f} ms per call"
        )
    print(
        f"load generator (this process) event-loop lag: p99 "
        f"{_ms(o['client_loop_lag_p99_ms'])}, max {_ms(o['client_loop_lag_max_ms'])}"
    )
    if b is not None:
        print(
            f"bare aiohttp: p50 {_ms(b['p50_ms'])}, p99 {_ms(b['p99_ms'])}, "
            f"max {_ms(b['max_ms'])} over {b['offered']} offers; load generator lag p99 "
            f"{_ms(b['client_loop_lag_p99_ms'])}"
        )
        p50, p99 = (("-" if v is None else f"{v:.1f}x") for v in (r["ratio_p50"], r["ratio_p99"]))
        print(f"ours/bare: p50 {p50}, p99 {p99}")
    t = r["target"]
    verdict = "MET" if t["met"] else "NOT MET"
    print(
        f"target (1000 agents, 200 calls/s, p99 < 50 ms, no lost calls): {verdict} "
        f"(at target settings {t['at_target_settings']}, p99 {t['p99_met']}, "
        f"no lost {t['no_lost_calls']}, rate sustained {t['rate_sustained']})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--rate", type=float, default=200.0, help="calls per second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of arrivals")
    parser.add_argument("--talk", type=float, default=1.0, help="agent talk time, seconds")
    parser.add_argument(
        "--patience", type=float, default=600.0, help="mean caller patience, seconds (exponential)"
    )
    parser.add_argument("--drain", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--skip-bare", action="store_true", help="do not run the bare server")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--bare-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    raise_fd_limit()
    if args.bare_server:
        web.run_app(bare_app(), host="127.0.0.1", port=args.port, print=None, access_log=None)
        return 0
    if args.agents < 1 or args.rate <= 0 or args.duration <= 0:
        parser.error("--agents, --rate and --duration must be positive")
    report = asyncio.run(bench(args))
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
