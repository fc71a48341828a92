"""`contactcenter loadtest SCENARIO`: drive a scenario in real time against a running server.

Virtual callers go through the telephony gateway contract (docs/gateway.md): Poisson
arrivals per queue at the scenario's rates, each caller hanging up after a patience drawn
from the queue's distribution unless an agent answers first. The callers are the simulated
carrier's (``contactcenter.carrier.Carrier``), placed on this module's schedule. Virtual
agents log in over the agent websocket (``/ws/agent``, docs/server.md) with the
``websockets`` package: they accept offers (after the scenario's answer delay), talk for a
handle time drawn from the queue's distribution, end the call and wrap up for the queue's
wrap-up time.

Times are scenario times divided by ``--speed``. The run is bounded: the scenario's
duration (or ``--max-duration`` scenario seconds, whichever is shorter), at most
``--max-calls`` calls, then ``--drain`` wall seconds for the calls in progress. Traffic
goes only to ``--url``.

The report puts the server's own statistics (``GET /api/queues``, the change over the run)
beside what the simulation harness expects for the same scenario and duration, and the
Erlang C/A figures for single-queue scenarios.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import math
import os
import secrets
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import websockets

from contactcenter.carrier import (
    CallRecord,
    Carrier,
    CarrierConfig,
    CarrierError,
    gateway_key_for,
)
from contactcenter.gateway_auth import GatewayKeyError
from contactcenter.settings import SettingsError
from simulations.distributions import (
    STREAM_ANSWER,
    STREAM_ARRIVALS,
    STREAM_HANDLE,
    STREAM_PATIENCE,
    STREAM_WRAPUP,
    arrival_times,
    rng_for,
    stream,
)
from simulations.harness import run_replication
from simulations.report import analytic_for
from simulations.scenario import Scenario, ScenarioError, load_scenario

EXIT_BAD_INPUT = 2
COUNT_KEYS = ("offered", "answered", "abandoned", "short_abandoned", "flowed_out")
RATE_KEYS = ("service_level", "abandon_rate")
TIME_KEYS = ("asa_s", "aht_s")
EXPECTED_REPLICATIONS = 10
WRAPUP_GRACE_S = 0.5
"""Wall seconds an agent waits before closing a wrap-up the scenario does not have."""


class LoadTestError(RuntimeError):
    """The load test cannot start (a login or a websocket refused)."""


@dataclass
class LoadTestConfig:
    url: str
    username: str
    password: str
    agents: list[tuple[str, str]]
    """(username, password) of the agent accounts the virtual agents log in with."""
    gateway_key: str | None = None
    """The key the carrier authenticates with as the telephony gateway (docs/gateway.md);
    the admin account only reads the queue statistics."""
    gateway_key_problem: str = ""
    """Why there is no key (the run stops with it after the login)."""
    speed: float = 1.0
    max_duration: float | None = None
    """Scenario seconds to run at most (the scenario's duration otherwise)."""
    max_calls: int = 2000
    drain: float = 30.0
    """Wall seconds to let calls in progress finish after the last arrival."""
    seed: int | None = None
    request_timeout: float = 10.0


@dataclass
class CallerCounts:
    placed: int = 0
    bridged: int = 0
    abandoned: int = 0
    transferred: int = 0
    errors: int = 0
    cut_off: int = 0


@dataclass
class AgentCounts:
    logged_in: int = 0
    offers: int = 0
    rescinded: int = 0
    """Offers withdrawn (the caller hung up) before the agent accepted."""
    accepted: int = 0
    ended: int = 0
    wrapped_up: int = 0
    errors: int = 0
    """Refused commands; an accept racing the caller's hang-up is one (offer_expired...)."""
    error_codes: dict[str, int] = field(default_factory=dict)
    """``command:code`` -> count."""


class LoadTest:
    """``await LoadTest(scenario, config).run()`` -> the report (a JSON-able dict)."""

    def __init__(self, scenario: Scenario, config: LoadTestConfig) -> None:
        if config.speed <= 0:
            raise ValueError("speed must be > 0")
        if not config.agents:
            raise ValueError("give at least one agent account")
        self.scenario = scenario
        self.config = config
        self.seed = scenario.seed if config.seed is None else config.seed
        horizon = scenario.horizon_s
        if config.max_duration is not None:
            horizon = min(horizon, config.max_duration)
        self.horizon = horizon
        """Scenario seconds of arrivals."""
        self.prefix = f"lt-{secrets.token_hex(4)}"
        self.callers = CallerCounts()
        self.agent_counts = AgentCounts()
        self._http: aiohttp.ClientSession | None = None
        self._token = ""
        queues = {q.name: q for q in scenario.queues}
        self._queues = queues
        self._handle = {n: self._stream(q.handle_time, n, STREAM_HANDLE) for n, q in queues.items()}
        self._patience = {
            n: self._stream(q.patience, n, STREAM_PATIENCE) for n, q in queues.items()
        }
        self._wrap = {n: self._stream(q.wrap_up, n, STREAM_WRAPUP) for n, q in queues.items()}
        self._answer = self._stream(scenario.answer_delay, "(agents)", STREAM_ANSWER)

    def _stream(self, dist: Any, subject: str, purpose: int) -> Iterator[float] | None:
        return None if dist is None else stream(dist, rng_for(self.seed, 0, subject, purpose))

    def arrivals(self) -> list[tuple[float, str]]:
        """(scenario time, queue) of every call to place, in time order, capped."""
        out: list[tuple[float, str]] = []
        for name in self._queues:
            segs = [s for s in self.scenario.segments(name) if s.start < self.horizon]
            if not segs:
                continue
            times = arrival_times(
                [s.start for s in segs],
                [min(s.end, self.horizon) for s in segs],
                [s.rate for s in segs],
                rng_for(self.seed, 0, name, STREAM_ARRIVALS),
                self._queues[name].rate_profile,
            )
            out.extend((float(t), name) for t in times if t < self.horizon)
        out.sort()
        return out[: self.config.max_calls]

    # --- HTTP ------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return self.config.url.rstrip("/") + path

    def _ws_url(self, path: str) -> str:
        """The socket's URL: no token in it (the first frame carries it, protocol.AuthFrame)."""
        parts = urlsplit(self.config.url.rstrip("/"))
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, parts.netloc, parts.path + path, "", ""))

    async def _login(self, username: str, password: str, role: str) -> str:
        assert self._http is not None
        try:
            async with self._http.post(
                self._url("/api/login"), json={"username": username, "password": password}
            ) as r:
                body = await r.json(content_type=None)
                status = r.status
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise LoadTestError(f"cannot log in at {self.config.url}: {exc}") from exc
        if status != 200 or not isinstance(body, dict):
            raise LoadTestError(f"login of {username!r} refused ({status}): {body}")
        if body.get("role") != role:
            raise LoadTestError(f"user {username!r} is not an {role} account")
        return str(body["token"])

    async def _queue_stats(self) -> dict[str, dict[str, Any]]:
        assert self._http is not None
        async with self._http.get(
            self._url("/api/queues"), headers={"Authorization": f"Bearer {self._token}"}
        ) as r:
            body = await r.json(content_type=None)
            if r.status != 200:
                raise LoadTestError(f"GET /api/queues: {r.status}: {body}")
        return {row["queue_id"]: row for row in body.get("queues", [])}

    # --- the run ---------------------------------------------------------------------------

    async def run(self) -> dict[str, Any]:
        cfg = self.config
        timeout = aiohttp.ClientTimeout(total=cfg.request_timeout)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            self._http = http
            self._token = await self._login(cfg.username, cfg.password, "admin")
            before = await self._queue_stats()
            if not cfg.gateway_key:
                raise LoadTestError(
                    f"no gateway key: {cfg.gateway_key_problem or 'give --gateway-key-file'}"
                )
            agents = await self._start_agents()
            carrier = Carrier(
                CarrierConfig(
                    url=cfg.url,
                    gateway_key=cfg.gateway_key,
                    queue=next(iter(self._queues)),
                    anis=(),
                    seed=self.seed,
                    call_prefix=self.prefix,
                    request_timeout=cfg.request_timeout,
                )
            )
            started = time.monotonic()
            try:
                async with carrier.serving():
                    started = time.monotonic()
                    await self._place_calls(carrier, started)
                await asyncio.sleep(min(1.0, cfg.drain))  # let the agents finish wrap-ups
            except CarrierError as exc:
                raise LoadTestError(str(exc)) from exc
            finally:
                await self._stop_agents(agents)
            elapsed = time.monotonic() - started
            after = await self._queue_stats()
        r = carrier.result
        self.callers = CallerCounts(
            placed=r.placed,
            bridged=r.bridged,
            abandoned=r.abandoned,
            transferred=r.transferred,
            errors=r.errors,
            cut_off=r.cut_off,
        )
        return self._report(before, after, elapsed)

    async def _place_calls(self, carrier: Carrier, started: float) -> None:
        """Each arrival is one carrier caller with the queue's patience, talking until the
        agent ends the call; at the hard end (drain over) the rest hang up (cut off)."""
        cfg = self.config
        calls: list[asyncio.Task[CallRecord]] = []
        end_wall = started + self.horizon / cfg.speed
        hard_end = end_wall + cfg.drain
        for at, queue in self.arrivals():
            delay = started + at / cfg.speed - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            draws = self._patience[queue]
            patience = next(draws) if draws is not None else math.inf
            calls.append(
                asyncio.create_task(
                    carrier.call(queue=queue, patience=patience / cfg.speed, talk=math.inf)
                )
            )
        await asyncio.sleep(max(0.0, end_wall - time.monotonic()))
        if calls:
            _, pending = await asyncio.wait(calls, timeout=max(0.0, hard_end - time.monotonic()))
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
        await carrier.hang_up_leftovers()

    # --- agents ----------------------------------------------------------------------------

    async def _start_agents(self) -> list[tuple[Any, asyncio.Task[None]]]:
        wanted = sum(g.agents for g in self.scenario.groups)
        out: list[tuple[Any, asyncio.Task[None]]] = []
        try:
            for username, password in self.config.agents[: max(wanted, 1)]:
                token = await self._login(username, password, "agent")
                try:
                    ws = await websockets.connect(
                        self._ws_url("/ws/agent"), open_timeout=self.config.request_timeout
                    )
                    await ws.send(json.dumps({"type": "auth", "token": token}))
                except (OSError, websockets.exceptions.WebSocketException) as exc:
                    raise LoadTestError(f"agent {username!r}: websocket refused: {exc}") from exc
                ready = asyncio.get_running_loop().create_future()
                out.append((ws, asyncio.create_task(self._agent(ws, ready))))
                try:
                    await asyncio.wait_for(ready, self.config.request_timeout)
                except TimeoutError:
                    raise LoadTestError(f"agent {username!r} was not made available") from None
                self.agent_counts.logged_in += 1
        except BaseException:
            await self._stop_agents(out)
            raise
        return out

    async def _stop_agents(self, agents: list[tuple[Any, asyncio.Task[None]]]) -> None:
        for ws, task in agents:
            with contextlib.suppress(Exception):
                await ws.send(json.dumps({"type": "set_status", "id": "bye", "status": "offline"}))
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            with contextlib.suppress(Exception):
                await ws.close()

    async def _agent(self, ws: Any, ready: asyncio.Future[None]) -> None:
        ids = itertools.count(1)
        queue_of: dict[str, str] = {}
        tasks: set[asyncio.Task[None]] = set()
        wrapups: dict[str, asyncio.Task[None]] = {}
        accepts: dict[str, asyncio.Task[None]] = {}
        ends: dict[str, asyncio.Task[None]] = {}
        sent: dict[str, str] = {"ready": "set_status"}

        async def send(kind: str, **fields: Any) -> None:
            command_id = f"a{next(ids)}"
            sent[command_id] = kind
            await ws.send(json.dumps({"type": kind, "id": command_id, **fields}))

        async def later(delay: float, kind: str, **fields: Any) -> None:
            await asyncio.sleep(max(0.0, delay) / self.config.speed)
            await send(kind, **fields)

        def spawn(delay: float, kind: str, **fields: Any) -> asyncio.Task[None]:
            task = asyncio.create_task(later(delay, kind, **fields))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            return task

        await ws.send(json.dumps({"type": "set_status", "id": "ready", "status": "available"}))
        try:
            async for raw in ws:
                msg = json.loads(raw)
                kind, data = msg.get("type"), msg.get("data") or {}
                cid = str(data.get("contact_id"))
                if kind == "reply" and data.get("id") == "ready" and not ready.done():
                    ready.set_result(None)
                elif kind == "error":
                    self.agent_counts.errors += 1
                    code = f"{sent.get(str(data.get('id')), '?')}:{data.get('code')}"
                    self.agent_counts.error_codes[code] = (
                        self.agent_counts.error_codes.get(code, 0) + 1
                    )
                    if data.get("id") == "ready" and not ready.done():
                        ready.set_exception(LoadTestError(f"set_status refused: {data}"))
                elif kind == "offer":
                    self.agent_counts.offers += 1
                    queue_of[cid] = str(data.get("queue"))
                    delay = next(self._answer) if self._answer else 0.0
                    accepts[cid] = spawn(delay, "accept", contact_id=cid)
                elif kind == "offer_rescinded":  # the caller hung up first
                    self.agent_counts.rescinded += 1
                    pending = accepts.pop(cid, None)
                    if pending is not None and not pending.done():
                        pending.cancel()
                elif kind == "contact_state" and data.get("state") == "connected":
                    self.agent_counts.accepted += 1
                    accepts.pop(cid, None)
                    handle = self._handle.get(queue_of.get(cid, ""))
                    ends[cid] = spawn(next(handle) if handle else 0.0, "end", contact_id=cid)
                elif kind == "contact_state" and data.get("state") == "wrap_up":
                    self.agent_counts.ended += 1
                    pending = ends.pop(cid, None)  # done if the caller hung up first
                    if pending is not None and not pending.done():
                        pending.cancel()
                    wrap = self._wrap.get(queue_of.get(cid, ""))
                    # no wrap-up in the scenario: the server may close it by itself ("done")
                    delay = next(wrap) if wrap else WRAPUP_GRACE_S * self.config.speed
                    wrapups[cid] = spawn(delay, "wrapup", contact_id=cid)
                elif kind == "contact_state" and data.get("state") == "done":
                    self.agent_counts.wrapped_up += 1
                    queue_of.pop(cid, None)
                    pending = wrapups.pop(cid, None)
                    if pending is not None and not pending.done():
                        pending.cancel()
        finally:
            for task in list(tasks):
                task.cancel()
            if not ready.done():
                ready.set_exception(LoadTestError("the agent websocket closed at once"))

    # --- the report ------------------------------------------------------------------------

    def _report(
        self, before: dict[str, dict[str, Any]], after: dict[str, dict[str, Any]], elapsed: float
    ) -> dict[str, Any]:
        expected, expected_error = self.expected()
        analytic = analytic_for(self.scenario)
        queues: dict[str, Any] = {}
        for name in self._queues:
            now, was = after.get(name, {}), before.get(name, {})
            server: dict[str, Any] = {k: (now.get(k) or 0) - (was.get(k) or 0) for k in COUNT_KEYS}
            server.update({k: now.get(k) for k in RATE_KEYS})
            # the server measures wall seconds: in scenario seconds they are times speed
            server.update(
                {k: None if now.get(k) is None else now[k] * self.config.speed for k in TIME_KEYS}
            )
            server["cumulative_rates"] = bool(was.get("offered"))
            queues[name] = {"server": server, "expected": expected.get(name)}
        wanted = sum(g.agents for g in self.scenario.groups)
        notes = []
        if self.agent_counts.logged_in != wanted:
            notes.append(
                f"the scenario has {wanted} agents, {self.agent_counts.logged_in} "
                "logged in (the expectation assumes the scenario's)"
            )
        if self.config.speed != 1:
            notes.append(
                "the server's service-level threshold, short-abandon limit and offer "
                "timeout are wall seconds, not scaled by --speed"
            )
        if expected_error:
            notes.append(f"no harness expectation: {expected_error}")
        return {
            "scenario": self.scenario.name,
            "url": self.config.url,
            "speed": self.config.speed,
            "scenario_seconds": self.horizon,
            "wall_seconds": elapsed,
            "seed": self.seed,
            "agents": asdict(self.agent_counts),
            "calls": asdict(self.callers),
            "queues": queues,
            "analytic": analytic.as_dict() if analytic else None,
            "notes": notes,
        }

    def expected(self) -> tuple[dict[str, dict[str, float | None]], str | None]:
        """The harness's mean figures per queue over a few replications of the same span."""
        try:
            scenario = self.scenario.with_changes(duration=self.horizon, warmup=0)
        except ScenarioError as exc:
            return {}, str(exc)
        n = min(self.scenario.replications, EXPECTED_REPLICATIONS)
        runs = [run_replication(scenario, replication=r, seed=self.seed) for r in range(n)]
        out: dict[str, dict[str, float | None]] = {}
        for name in self._queues:
            row: dict[str, float | None] = {}
            for key in (*COUNT_KEYS, *RATE_KEYS, *TIME_KEYS):
                values = [v for run in runs if (v := run.queues[name].get(key)) is not None]
                row[key] = sum(values) / len(values) if values else None
            row["replications"] = n
            out[name] = row
        return out, None


# --- the command ---------------------------------------------------------------------------


def register(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "loadtest",
        help="drive a scenario in real time against a running server (callers and agents)",
        description=(
            "Place the scenario's calls through the gateway contract and answer them with "
            "virtual agents on the agent websocket, in real time divided by --speed; then "
            "print the server's queue statistics beside the simulated expectation."
        ),
    )
    parser.add_argument("scenario", help="scenario YAML file (see config/scenarios/)")
    parser.add_argument("--url", required=True, help="the server's base URL")
    parser.add_argument(
        "--username", required=True, help="an admin account (reads the queue statistics)"
    )
    parser.add_argument("--password", help="its password (or CC_LOADTEST_PASSWORD)")
    parser.add_argument(
        "--gateway-key-file",
        type=Path,
        metavar="FILE",
        help="the gateway key the calls are placed with (default: CC_GATEWAY_KEY, else the "
        "key the server created in CC_DATA_DIR, as for `contactcenter carrier`)",
    )
    parser.add_argument(
        "--speed",
        type=_positive_float,
        default=1.0,
        help="divide every scenario time by this (default 1)",
    )
    parser.add_argument(
        "--max-duration",
        type=_positive_float,
        metavar="S",
        help="run at most S scenario seconds (default: the scenario's)",
    )
    parser.add_argument(
        "--max-calls", type=int, default=2000, help="place at most this many calls (default 2000)"
    )
    parser.add_argument(
        "--drain",
        type=float,
        default=30.0,
        help="wall seconds for calls in progress after the last (default 30)",
    )
    parser.add_argument(
        "--agent",
        action="append",
        default=[],
        metavar="USERNAME",
        help="an agent account (repeatable), with --agent-password",
    )
    parser.add_argument(
        "--agent-password", help="the --agent accounts' password (or CC_LOADTEST_AGENT_PASSWORD)"
    )
    parser.add_argument(
        "--agents-file", metavar="FILE", help="agent accounts, one `username password` a line"
    )
    parser.add_argument("--seed", type=int, help="random seed (default: the scenario's)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)
    return parser


def _positive_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"{text} is not a number > 0")
    return value


def read_agents_file(path: str | Path) -> list[tuple[str, str]]:
    out = []
    for line in Path(path).read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            username, _, password = line.strip().partition(" ")
            if not password.strip():
                raise ValueError(f"{path}: {line!r}: write `username password`")
            out.append((username, password.strip()))
    return out


def run(args: argparse.Namespace) -> int:
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    password = args.password or os.environ.get("CC_LOADTEST_PASSWORD")
    agent_password = args.agent_password or os.environ.get("CC_LOADTEST_AGENT_PASSWORD")
    try:
        agents = read_agents_file(args.agents_file) if args.agents_file else []
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.agent:
        if not agent_password:
            print("error: give --agent-password with --agent", file=sys.stderr)
            return EXIT_BAD_INPUT
        agents += [(name, agent_password) for name in args.agent]
    if not password or not agents:
        print(
            "error: give --password and agent accounts (--agent or --agents-file)", file=sys.stderr
        )
        return EXIT_BAD_INPUT
    try:
        key: str | None = gateway_key_for(args.gateway_key_file)
    except (GatewayKeyError, SettingsError) as exc:
        key, key_problem = None, str(exc)  # told after the login, which comes first
    else:
        key_problem = ""
    config = LoadTestConfig(
        url=args.url,
        username=args.username,
        password=password,
        agents=agents,
        gateway_key=key,
        gateway_key_problem=key_problem,
        speed=args.speed,
        max_duration=args.max_duration,
        max_calls=args.max_calls,
        drain=args.drain,
        seed=args.seed,
    )
    try:
        report = asyncio.run(LoadTest(scenario, config).run())
    except (LoadTestError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    if args.json:
        print(json.dumps(report, default=str))
    else:
        print(format_report(report))
    return 0


def format_report(report: dict[str, Any]) -> str:
    lines = [
        f"loadtest {report['scenario'] or '(unnamed)'} at {report['url']}: "
        f"{report['scenario_seconds']:g} scenario s at speed {report['speed']:g} "
        f"({report['wall_seconds']:.1f} wall s)",
        "callers: " + ", ".join(f"{k} {v}" for k, v in report["calls"].items()),
    ]
    for name, row in report["queues"].items():
        lines.append(f"queue {name}:{'':14}{'server':>12}{'expected':>12}")
        expected = row["expected"] or {}
        for key in (*COUNT_KEYS, *RATE_KEYS, *TIME_KEYS):
            lines.append(
                f"  {key:<26}{_fmt(row['server'].get(key)):>12}{_fmt(expected.get(key)):>12}"
            )
    if report["analytic"]:
        a = report["analytic"]
        figures = ", ".join(f"{k} {_fmt(a.get(k))}" for k in (*RATE_KEYS, "asa_s") if k in a)
        lines.append(f"{a['model']} ({a['agents']} agents): {figures}")
    lines.extend(f"note: {n}" for n in report["notes"])
    return "\n".join(lines)


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float) and not value.is_integer():
        return f"{value:.3f}"
    return f"{value:g}" if isinstance(value, float) else str(value)
