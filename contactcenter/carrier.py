"""``contactcenter carrier``: a simulated telephone carrier speaking the gateway contract.

It authenticates with a gateway key (``Authorization: Bearer <key>``, gateway_auth.py; by
default the key the server created in its data directory), opens the gateway websocket
(``/gateway/ws``; ``takeover`` replaces a connected gateway) and places calls (``POST
/gateway/calls``) as a Poisson stream at the given rate. Each caller waits with an
exponential patience and hangs up (``POST /gateway/calls/{id}/hangup``) unless the server
bridges the call to an agent first (a ``bridge`` command on the websocket); a bridged
caller talks for an exponential time and then hangs up, unless the agent ends the call
first (a ``hangup`` command). The run is bounded: at most ``max_calls`` calls during
``duration`` seconds, then at most ``drain`` seconds for the calls in progress, after which
the callers still on the line hang up.

It also answers the server's ``originate`` commands (click-to-dial) as the called party
would: the callee answers with ``answer_probability`` after a ringing time, is busy with
``busy_probability``, or else does not answer within ``ring_timeout``; numbers with an
``invalid_prefixes`` prefix are invalid. The result goes back as ``originate_result``; an
answered callee talks until the agent ends the call (the server's ``hangup``).

The core is ``Carrier(CarrierConfig(...)).run()``, usable from tests and benchmarks; it
sends traffic only to the URL it is given. See docs/gateway.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import math
import os
import random
import re
import secrets
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import websockets

from contactcenter import protocol as p
from contactcenter.gateway_auth import LOCAL_KEY_FILE, read_key_file
from contactcenter.settings import Settings, SettingsError

log = logging.getLogger(__name__)

_CONSULT_LEGS: tuple[p.GatewayCommandType, ...] = (
    p.GATEWAY_CONSULT_BRIDGE,
    p.GATEWAY_CONSULT_END,
    p.GATEWAY_CONFERENCE,
    p.GATEWAY_LEAVE_CONFERENCE,
)
"""Commands on the consult leg of a call (``Carrier._consult_leg``)."""

DEFAULT_ANIS = (
    "+14155550101",
    "+14155550102",
    "+442071234501",
    "+17575550104",
    "+14155550199",
    "+12125550123",
)
CallOutcome = Literal["bridged", "abandoned", "transferred", "ended_in_ivr", "error", "cut_off"]
_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+)\s*(?:/\s*(s|sec|second|m|min|minute|h|hour))?\s*$")
_PER = {
    None: 1.0,
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
}


def parse_rate(text: str) -> float:
    """Calls per second from ``2/s``, ``30/min``, ``500/h`` or a bare number (per second)."""
    match = _RATE.match(text)
    if match is None:
        raise ValueError(f"rate {text!r} is not like 2/s, 30/min or 500/h")
    rate = float(match.group(1)) / _PER[match.group(2)]
    if rate <= 0:
        raise ValueError(f"rate {text!r} must be greater than 0")
    return rate


RECONNECT_DELAYS_S = (0.2, 0.5, 1.0, 2.0, 5.0)
"""Back-off between attempts to reopen the gateway command socket."""


@dataclass
class CarrierConfig:
    url: str
    """Base URL of the server, e.g. http://127.0.0.1:8080."""
    gateway_key: str | None = None
    """The gateway's key (``<gateway id>.<secret>``, docs/gateway.md); sent in the
    ``Authorization`` header of every request and of the websocket, never in a URL."""
    takeover: bool = False
    """Replace a gateway connection that is live (``/gateway/ws?takeover=1``); without it
    the server refuses this carrier while another gateway is connected."""
    rate: float = 1.0
    """Calls per second (mean of the Poisson stream)."""
    duration: float = 60.0
    """Seconds during which calls are placed."""
    max_calls: int = 10_000
    patience_mean: float = 60.0
    talk_mean: float = 120.0
    queue: str | None = None
    dnis: str | None = None
    anis: tuple[str, ...] = DEFAULT_ANIS
    seed: int | None = None
    fixed_times: bool = False
    """Use the means as constant inter-arrival, patience and talk times (tests, demos)."""
    drain: float = 30.0
    """Seconds to let calls in progress finish after the last arrival."""
    call_prefix: str | None = None
    """Call ids are ``<prefix>-<n>``; default a random prefix, so runs never collide."""
    request_timeout: float = 10.0
    answer_probability: float = 0.8
    """Outbound (``originate``): the share of callees who answer, after ``answer_delay``."""
    busy_probability: float = 0.1
    """Outbound: the share that are busy (reported after ``answer_delay``); the rest ring
    for ``ring_timeout`` seconds and do not answer."""
    answer_delay: float = 3.0
    """Outbound: mean seconds of ringing before the answer (or the busy tone)."""
    ring_timeout: float = 20.0
    invalid_prefixes: tuple[str, ...] = ("+999",)
    """Outbound numbers starting with one of these are reported ``invalid_number`` at once."""
    ivr_digits: tuple[str, ...] = ()
    """Each caller's answers to the IVR's prompts (``gather`` commands), in order; when
    they run out the caller stays silent and the IVR times out (docs/gateway.md)."""
    # Campaign dials (an ``originate`` with a ``campaign_id``): issue 7's outcome model.
    campaign_live: float = 0.25
    """Share of campaign dials a person answers (after ``live_after`` seconds)."""
    campaign_busy: float = 0.15
    campaign_machine: float = 0.30
    """Share answered by a machine; the rest ring until the originate's ring timeout."""
    live_after: tuple[float, float] = (4.0, 16.0)
    """Uniform seconds of ringing before a person (or a machine) answers."""
    busy_after: tuple[float, float] = (2.0, 5.0)
    amd_human_latency: float = 1.0
    """Seconds from the answer to the AMD verdict (counted against the 2-second rule)."""
    amd_machine_latency: float = 2.5
    campaign_ring_timeout: float = 26.0
    """No-answer time when the originate names no ``ring_timeout_s``."""


@dataclass
class CallRecord:
    call_id: str
    placed_at: float
    outcome: CallOutcome | None = None
    state: str | None = None
    """The server's answer to the arrival (queued, offered)."""
    time_to_bridge: float | None = None
    agent_id: str | None = None
    ended_by: str | None = None
    """caller or server (the agent ended it, or the server transferred it)."""
    error: str | None = None


@dataclass
class OutboundRecord:
    """One ``originate`` the server asked for (click-to-dial)."""

    call_id: str
    number: str
    agent_id: str | None
    requested_at: float
    result: str | None = None
    """answered, busy, no_answer, invalid_number; ``cancelled``: the server hung up first."""
    bridged: bool = False
    """The server joined the agent to the answered callee (``bridge``)."""
    ended_by: str | None = None
    campaign_id: str | None = None
    """Set for a campaign dial (the predictive dialer's originate)."""
    ring_timeout: float = 0.0
    """Campaign dials: seconds the callee rings before ``no_answer`` (the originate's)."""
    amd: str | None = None
    """Campaign dials answered: the AMD verdict reported, ``human`` or ``machine``."""
    prompts: list[str] = field(default_factory=list)
    """Prompts the server had played to the callee (``play``), e.g. the identification."""


@dataclass
class CarrierResult:
    placed: int = 0
    bridged: int = 0
    abandoned: int = 0
    transferred: int = 0
    ended_in_ivr: int = 0
    """Calls the IVR ended without an agent (a callback, a voicemail, a hang-up)."""
    errors: int = 0
    cut_off: int = 0
    """Calls still on the line when the drain time ran out (the carrier hung them up)."""
    mean_time_to_bridge: float | None = None
    elapsed: float = 0.0
    calls: list[CallRecord] = field(default_factory=list)
    dialed: int = 0
    """``originate`` commands answered by this carrier (outbound calls)."""
    dial_results: dict[str, int] = field(default_factory=dict)
    outbound: list[OutboundRecord] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """Counts and the mean time to bridge (no per-call records)."""
        out = asdict(self)
        del out["calls"], out["outbound"]
        return out


class _Live:
    """What the websocket reader tells a waiting caller."""

    def __init__(self) -> None:
        self.bridged = asyncio.Event()
        self.ended = asyncio.Event()
        self.bridged_at: float | None = None
        self.agent_id: str | None = None
        self.end_kind: p.GatewayCommandType | None = None
        """The command that ended the call on the server's side (hangup, transfer, voicemail)."""
        self.gathers = 0
        """IVR prompts answered so far (the index into ``ivr_digits``)."""


class CarrierError(RuntimeError):
    """The carrier cannot start (login or gateway websocket refused)."""


class Carrier:
    def __init__(self, config: CarrierConfig) -> None:
        if config.queue is None and config.dnis is None:
            raise ValueError("give a queue or a dnis (mapped to a queue by the server)")
        if config.rate <= 0 or config.duration < 0 or config.max_calls < 0:
            raise ValueError("rate must be > 0, duration and max_calls >= 0")
        if not (
            0 <= config.answer_probability <= 1
            and 0 <= config.busy_probability <= 1
            and config.answer_probability + config.busy_probability <= 1
        ):
            raise ValueError(
                "answer and busy probabilities must be within 0-1 and add up to at most 1"
            )
        shares = (config.campaign_live, config.campaign_busy, config.campaign_machine)
        if not (all(0 <= x <= 1 for x in shares) and sum(shares) <= 1):
            raise ValueError(
                "campaign live, busy and machine shares must be within 0-1 and add up to at most 1"
            )
        self.config = config
        self.rng = random.Random(config.seed)
        self.prefix = config.call_prefix or f"sim-{secrets.token_hex(4)}"
        self.result = CarrierResult()
        self._live: dict[str, _Live] = {}
        self._open: set[str] = set()
        """Calls the server accepted that are not over yet (the caller must hang up)."""
        self._http: aiohttp.ClientSession | None = None
        self._key = config.gateway_key
        self._unknown_commands = 0
        self._placed_count = 0
        self._ws: Any = None
        self._outbound_tasks: set[asyncio.Task[None]] = set()
        self.mutes: dict[str, list[bool]] = {}
        """Call id -> each ``mute`` command's state, in order (True: muted)."""
        self.dtmf: dict[str, str] = {}
        """Call id -> the DTMF keys the agent sent into the call (``send_dtmf``)."""
        self.transfers: dict[str, str] = {}
        """Call id -> the target of the ``transfer`` that took the call away."""
        self.joined: dict[str, set[str]] = {}
        """Call id -> the agents on the line with the caller (``bridge``: one;
        ``conference``: both, less those who ``leave_conference``)."""
        self.consult_legs: dict[str, tuple[str, str]] = {}
        """Call id -> (first agent, consulted agent) of an open ``consult_bridge``."""
        self.legs: dict[str, list[str]] = {}
        """Call id -> every leg command performed, in order (for tests and demos)."""

    # --- draws -------------------------------------------------------------------------------

    def _draw(self, mean: float) -> float:
        if self.config.fixed_times or mean <= 0:
            return max(mean, 0.0)
        return self.rng.expovariate(1.0 / mean)

    # --- the run -----------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[Carrier]:
        """Logged in with the gateway websocket open: commands are acknowledged and
        ``originate`` commands answered until the block ends (then the outbound calls
        still going are dropped). ``run`` places inbound calls inside it; a test may use it
        alone to answer click-to-dial calls."""
        cfg = self.config
        timeout = aiohttp.ClientTimeout(total=cfg.request_timeout)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            self._http = http
            if not self._key:
                raise CarrierError("give the gateway key (the CLI reads it from a file)")
            ws = await self._open_socket()
            self._ws = ws
            reader = asyncio.create_task(self._stay_connected(ws))
            try:
                yield self
            finally:
                for task in list(self._outbound_tasks):
                    task.cancel()
                await asyncio.gather(*self._outbound_tasks, return_exceptions=True)
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await reader
                if self._ws is not None:
                    await self._ws.close()
                self._ws = None

    async def _open_socket(self) -> Any:
        try:
            return await websockets.connect(
                self._ws_url(),
                open_timeout=self.config.request_timeout,
                max_size=2**20,
                additional_headers=self._headers(),
            )
        except websockets.exceptions.InvalidStatus as exc:
            body = exc.response.body or b""
            raise CarrierError(
                f"the server refused the gateway websocket ({exc.response.status_code}): "
                f"{body.decode('utf-8', 'replace')[:300]}"
            ) from exc
        except (OSError, websockets.exceptions.WebSocketException) as exc:
            raise CarrierError(f"cannot open the gateway websocket: {exc}") from exc

    async def _stay_connected(self, ws: Any) -> None:
        """Read commands; when the server closes the socket (a restart, or a fail-stop's
        1013 "try again later") open it again with back-off, as a real gateway does: the
        server keeps the commands meant for it meanwhile (docs/server.md, "Fail-stop")."""
        while True:
            with contextlib.suppress(websockets.exceptions.ConnectionClosed):
                await self._read(ws)
            if ws.close_code in (p.CLOSE_GATEWAY_TAKEN_OVER, p.CLOSE_GATEWAY_REFUSED):
                log.warning("the gateway command socket was taken over; not reconnecting")
                return
            log.warning(
                "gateway command socket closed (%s %s); reconnecting",
                ws.close_code,
                ws.close_reason,
            )
            for attempt in itertools.count():
                await asyncio.sleep(RECONNECT_DELAYS_S[min(attempt, len(RECONNECT_DELAYS_S) - 1)])
                try:
                    ws = await self._open_socket()
                    break
                except CarrierError as exc:
                    log.info("gateway command socket not open yet: %s", exc)
            self._ws = ws

    async def run(self) -> CarrierResult:
        cfg = self.config
        start = time.monotonic()
        async with self.serving():
            calls: list[asyncio.Task[CallRecord]] = []
            try:
                await self._place_calls(calls, start)
                if calls:
                    _, pending = await asyncio.wait(calls, timeout=cfg.drain)
                    for task in pending:
                        task.cancel()
                    await asyncio.gather(*pending, return_exceptions=True)
                    await self._hang_up_leftovers()
            finally:
                for task in calls:
                    task.cancel()
        self.result.elapsed = time.monotonic() - start
        waits = [c.time_to_bridge for c in self.result.calls if c.time_to_bridge is not None]
        self.result.mean_time_to_bridge = sum(waits) / len(waits) if waits else None
        return self.result

    async def _place_calls(self, calls: list[asyncio.Task[CallRecord]], start: float) -> None:
        cfg = self.config
        deadline = start + cfg.duration
        next_at = start + self._draw(1.0 / cfg.rate)
        n = 0
        while n < cfg.max_calls and next_at < deadline:
            delay = next_at - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            n += 1
            calls.append(asyncio.create_task(self.call()))
            next_at += self._draw(1.0 / cfg.rate)

    def _ws_url(self) -> str:
        parts = urlsplit(self.config.url.rstrip("/"))
        scheme = "wss" if parts.scheme == "https" else "ws"
        query = "takeover=1" if self.config.takeover else ""
        return urlunsplit((scheme, parts.netloc, parts.path + "/gateway/ws", query, ""))

    def _http_url(self, path: str) -> str:
        return self.config.url.rstrip("/") + path

    def _headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self._key}"}

    # --- commands from the server ------------------------------------------------------------

    async def _read(self, ws: Any) -> None:
        async for raw in ws:
            try:
                msg = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(msg, dict):
                continue
            kind, data = msg.get("type"), msg.get("data") or {}
            if isinstance(msg.get("seq"), int):
                with contextlib.suppress(websockets.exceptions.ConnectionClosed):
                    await ws.send(json.dumps({"type": p.GATEWAY_ACK, "seq": msg["seq"]}))
            if kind == p.GATEWAY_ORIGINATE:
                self._start_outbound(data)
                continue
            if kind in (p.GATEWAY_MUTE, p.GATEWAY_SEND_DTMF):
                self._agent_leg(kind, data)
                continue
            if kind in _CONSULT_LEGS:
                self._consult_leg(kind, data)
                continue
            live = self._live.get(str(data.get("call_id")))
            if kind == p.GATEWAY_ERROR:
                log.warning("gateway error from the server: %s", data)
            if live is None:
                if kind in (p.GATEWAY_BRIDGE, p.GATEWAY_HANGUP, p.GATEWAY_TRANSFER):
                    self._unknown_commands += 1
                continue
            if kind == p.GATEWAY_GATHER:
                self._answer_ivr(str(data.get("call_id")), live)
            elif kind == p.GATEWAY_BRIDGE:
                live.bridged_at = time.monotonic()
                live.agent_id = data.get("agent_id")
                live.bridged.set()
                # a bridge to a new agent (a completed consult) replaces every other leg
                call_id = str(data.get("call_id"))
                self.joined[call_id] = {str(live.agent_id)}
                self.consult_legs.pop(call_id, None)
                self.legs.setdefault(call_id, []).append(f"bridge:{live.agent_id}")
            elif kind in (p.GATEWAY_HANGUP, p.GATEWAY_TRANSFER, p.GATEWAY_VOICEMAIL):
                live.end_kind = kind
                if kind == p.GATEWAY_TRANSFER:
                    # the call leaves this server for the target: this leg is over
                    self.transfers[str(data.get("call_id"))] = str(data.get("target"))
                live.ended.set()
            elif kind == p.GATEWAY_PLAY:
                self._played(str(data.get("call_id")), data, live)

    def _agent_leg(self, kind: str, data: dict[str, Any]) -> None:
        """The agent's leg of a call: its microphone muted or not, the keys it sent (kept
        per call so that tests and demos can check what reached the line)."""
        call_id = str(data.get("call_id"))
        if kind == p.GATEWAY_MUTE:
            self.mutes.setdefault(call_id, []).append(data.get("muted") is True)
        elif isinstance(data.get("digits"), str):
            self.dtmf[call_id] = self.dtmf.get(call_id, "") + data["digits"]

    def _consult_leg(self, kind: str, data: dict[str, Any]) -> None:
        """Consult and conference legs of a call: who talks with whom (the caller on hold
        during a consult), recorded per call."""
        call_id = str(data.get("call_id"))
        self.legs.setdefault(call_id, []).append(kind)
        if kind == p.GATEWAY_CONSULT_BRIDGE:
            self.consult_legs[call_id] = (
                str(data.get("agent_id")),
                str(data.get("target_agent_id")),
            )
        elif kind == p.GATEWAY_CONSULT_END:
            self.consult_legs.pop(call_id, None)
        elif kind == p.GATEWAY_CONFERENCE:
            agents = data.get("agents")
            self.consult_legs.pop(call_id, None)
            if isinstance(agents, list):
                self.joined[call_id] = {str(a) for a in agents}
        else:  # leave_conference
            self.joined.get(call_id, set()).discard(str(data.get("agent_id")))

    def _played(self, call_id: str, data: dict[str, Any], live: _Live) -> None:
        """A prompt for a callee; ``then: hangup`` (the dialer's identification message
        on an abandoned call) ends the call after it."""
        for record in self.result.outbound:
            if record.call_id == call_id:
                record.prompts.append(str(data.get("prompt")))
        if data.get("then") == p.GATEWAY_HANGUP:
            live.end_kind = p.GATEWAY_HANGUP
            live.ended.set()

    def _answer_ivr(self, call_id: str, live: _Live) -> None:
        script = self.config.ivr_digits
        if live.gathers >= len(script):
            return  # silence: the IVR's timer runs out
        keys = script[live.gathers]
        live.gathers += 1
        task = asyncio.get_running_loop().create_task(self._press(call_id, keys))
        self._outbound_tasks.add(task)
        task.add_done_callback(self._outbound_tasks.discard)

    async def _press(self, call_id: str, keys: str) -> None:
        try:
            status, reply = await self._post(f"/gateway/calls/{call_id}/digits", {"digits": keys})
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("sending IVR digits of %s failed: %s", call_id, exc)
            return
        if status != 200:
            log.warning("IVR digits of %s refused: %s", call_id, _error_text(reply))

    # --- outbound calls (the server's originate commands) -----------------------------------

    def _start_outbound(self, data: dict[str, Any]) -> None:
        call_id, number = str(data.get("call_id")), str(data.get("number"))
        agent_id = data.get("agent_id")
        record = OutboundRecord(
            call_id=call_id,
            number=number,
            agent_id=agent_id if isinstance(agent_id, str) else None,
            requested_at=time.time(),
        )
        if isinstance(data.get("campaign_id"), str):
            record.campaign_id = data["campaign_id"]
            ring = data.get("ring_timeout_s")
            record.ring_timeout = (
                float(ring) if isinstance(ring, int | float) else self.config.campaign_ring_timeout
            )
        self.result.outbound.append(record)
        self.result.dialed += 1
        live = _Live()
        self._live[call_id] = live
        task = asyncio.create_task(self._outbound(record, live))
        self._outbound_tasks.add(task)
        task.add_done_callback(self._outbound_tasks.discard)

    def _callee(self, number: str, record: OutboundRecord | None = None) -> tuple[str, float]:
        """What the callee does, and after how many seconds."""
        cfg = self.config
        if number.startswith(cfg.invalid_prefixes):
            return "invalid_number", 0.0
        if record is not None and record.campaign_id is not None:
            return self._campaign_callee(record)
        draw = self.rng.random()
        if draw < cfg.answer_probability:
            return "answered", self._draw(cfg.answer_delay)
        if draw < cfg.answer_probability + cfg.busy_probability:
            return "busy", self._draw(cfg.answer_delay)
        return "no_answer", cfg.ring_timeout

    def _campaign_callee(self, record: OutboundRecord) -> tuple[str, float]:
        """Live, busy, machine or no answer (issue 7's model); an answer is reported at
        the AMD verdict, its latency after the answer."""
        cfg = self.config
        draw = self.rng.random()
        if draw < cfg.campaign_live + cfg.campaign_machine:
            human = draw < cfg.campaign_live
            record.amd = "human" if human else "machine"
            latency = cfg.amd_human_latency if human else cfg.amd_machine_latency
            return "answered", self.rng.uniform(*cfg.live_after) + latency
        if draw < cfg.campaign_live + cfg.campaign_machine + cfg.campaign_busy:
            return "busy", self.rng.uniform(*cfg.busy_after)
        return "no_answer", record.ring_timeout

    async def _outbound(self, record: OutboundRecord, live: _Live) -> None:
        try:
            result, after = self._callee(record.number, record)
            # the agent may hang up while it rings (the server sends hangup)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(live.ended.wait(), after)
            if live.ended.is_set():
                record.result, record.ended_by = "cancelled", "server"
            else:
                record.result = result
                await self._report(record.call_id, result, record)
                if result == "answered":
                    # the callee talks until the agent ends the call
                    await live.ended.wait()
                    record.ended_by = "server"
            counts = self.result.dial_results
            counts[record.result] = counts.get(record.result, 0) + 1
        finally:
            record.bridged = live.bridged.is_set()
            self._live.pop(record.call_id, None)

    async def _report(
        self, call_id: str, result: str, record: OutboundRecord | None = None
    ) -> None:
        if self._ws is None:
            return
        data: dict[str, Any] = {"call_id": call_id, "result": result}
        if record is not None and record.amd is not None:
            cfg = self.config
            data["amd"] = record.amd
            data["amd_latency_s"] = (
                cfg.amd_human_latency if record.amd == "human" else cfg.amd_machine_latency
            )
        with contextlib.suppress(websockets.exceptions.ConnectionClosed):
            await self._ws.send(json.dumps({"type": p.GATEWAY_ORIGINATE_RESULT, "data": data}))

    # --- one caller --------------------------------------------------------------------------

    async def call(
        self, *, queue: str | None = None, patience: float | None = None, talk: float | None = None
    ) -> CallRecord:
        """One caller, now (inside ``serving()``): places the call and waits for a bridge
        up to ``patience`` seconds, then talks ``talk`` seconds (``math.inf``: until the
        agent ends the call). Defaults: the configured queue (or dnis) and draws of the
        configured means. ``run`` calls it on its Poisson schedule; other drivers (the
        load test) on theirs. Counted in ``result`` like ``run``'s calls."""
        self._placed_count += 1
        record = CallRecord(call_id=f"{self.prefix}-{self._placed_count}", placed_at=time.time())
        self.result.calls.append(record)
        try:
            await self._call_flow(record, queue, patience, talk)
        finally:
            if record.call_id not in self._open:
                self._live.pop(record.call_id, None)
        return record

    async def hang_up_leftovers(self) -> None:
        """Callers still on the line hang up now (counted as cut off)."""
        await self._hang_up_leftovers()

    async def _call_flow(
        self, record: CallRecord, queue: str | None, patience: float | None, talk: float | None
    ) -> None:
        cfg = self.config
        live = _Live()
        self._live[record.call_id] = live
        body: dict[str, Any] = {
            "call_id": record.call_id,
            "ani": self.rng.choice(cfg.anis) if cfg.anis else None,
        }
        if queue is not None:
            body["queue"] = queue
        elif cfg.queue is not None:
            body["queue"] = cfg.queue
        if cfg.dnis is not None and queue is None:
            body["dnis"] = cfg.dnis
        patience = self._draw(cfg.patience_mean) if patience is None else patience
        talk = self._draw(cfg.talk_mean) if talk is None else talk
        started = time.monotonic()
        self._open.add(record.call_id)  # until the server says otherwise
        try:
            status, reply = await self._post("/gateway/calls", body)
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._error(record, f"placing the call failed: {exc}")
            return
        self.result.placed += 1
        if status != 201:
            self._open.discard(record.call_id)
            self._error(record, f"{status}: {_error_text(reply)}")
            return
        record.state = reply.get("state")
        waiting = [
            asyncio.ensure_future(live.bridged.wait()),
            asyncio.ensure_future(live.ended.wait()),
        ]
        try:
            await asyncio.wait(
                waiting,
                timeout=_finite(started + patience - time.monotonic()),
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            for w in waiting:
                w.cancel()
        if live.bridged.is_set():
            self._bridged(record, live, started)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(live.ended.wait(), _finite(talk))
            if live.ended.is_set():
                record.ended_by = "server"
                self._open.discard(record.call_id)
            else:
                record.ended_by = "caller"
                await self._hangup(record, live)
        elif live.ended.is_set():
            record.ended_by = "server"
            self._open.discard(record.call_id)
            if live.end_kind == p.GATEWAY_TRANSFER:
                record.outcome = "transferred"
                self.result.transferred += 1
            elif record.state == "ivr":
                record.outcome = "ended_in_ivr"
                self.result.ended_in_ivr += 1
            else:
                self._error(record, "the server hung up an unbridged call")
        else:
            record.ended_by = "caller"
            if await self._hangup(record, live):
                if live.bridged.is_set():  # bridged while the hangup was under way
                    self._bridged(record, live, started)
                else:
                    record.outcome = "abandoned"
                    self.result.abandoned += 1

    def _bridged(self, record: CallRecord, live: _Live, started: float) -> None:
        record.outcome = "bridged"
        record.time_to_bridge = (live.bridged_at or started) - started
        record.agent_id = live.agent_id
        self.result.bridged += 1

    async def _hangup(self, record: CallRecord, live: _Live) -> bool:
        try:
            status, reply = await self._post(f"/gateway/calls/{record.call_id}/hangup", {})
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._error(record, f"hangup failed: {exc}")
            return False
        self._open.discard(record.call_id)
        if status == 404 and live.ended.is_set():
            return True  # the server ended it first
        if status == 409 and _error_code(reply) == "illegal_transition":
            # The agent ended the call while our hang-up was on its way: already over.
            return True
        if status != 200:
            self._error(record, f"hangup {status}: {_error_text(reply)}")
            return False
        return True

    async def _hang_up_leftovers(self) -> None:
        """Callers still on the line when the drain time is over hang up now."""
        by_id = {r.call_id: r for r in self.result.calls}
        for call_id in sorted(self._open):
            record = by_id[call_id]
            if record.outcome is None:
                record.outcome = "cut_off"
            record.ended_by = "caller"
            self.result.cut_off += 1
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                await self._post(f"/gateway/calls/{call_id}/hangup", {})
        self._open.clear()
        self._live.clear()

    async def _post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        assert self._http is not None
        async with self._http.post(
            self._http_url(path), json=body, headers=self._headers()
        ) as resp:
            try:
                reply = await resp.json(content_type=None)
            except ValueError:
                reply = {}
            return resp.status, reply if isinstance(reply, dict) else {}

    def _error(self, record: CallRecord, message: str) -> None:
        if record.error is None:
            self.result.errors += 1
            record.outcome = "error"
        record.error = message
        log.warning("call %s: %s", record.call_id, message)


def _finite(seconds: float) -> float | None:
    """A timeout for asyncio: None (wait for ever) for an infinite time, never negative."""
    return None if math.isinf(seconds) else max(0.0, seconds)


def _error_code(body: Any) -> str | None:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        code = body["error"].get("code")
        return code if isinstance(code, str) else None
    return None


def _error_text(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        err = body["error"]
        return f"{err.get('code')}: {err.get('message')}"
    return str(body)[:200]


# --- the command -------------------------------------------------------------------------


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "carrier",
        help="simulated telephone carrier: place Poisson calls through the gateway contract",
        description="Authenticate with a gateway key, open the gateway websocket and "
        "place calls at RATE for DURATION seconds. Callers hang up after an exponential "
        "patience unless bridged to an agent; bridged callers talk for an exponential time.",
    )
    parser.add_argument(
        "--url",
        default="http://127.0.0.1:8080",
        help="the server's base URL (default http://127.0.0.1:8080)",
    )
    parser.add_argument(
        "--gateway-key-file",
        type=Path,
        metavar="FILE",
        help="a file holding the gateway key (default: CC_GATEWAY_KEY if set, else the key "
        f"the server created in CC_DATA_DIR/{LOCAL_KEY_FILE})",
    )
    parser.add_argument(
        "--takeover",
        action="store_true",
        help="replace a gateway connection that is live (the server logs it)",
    )
    parser.add_argument("--rate", default="1/s", help="arrival rate: 2/s, 30/min, 500/h")
    parser.add_argument(
        "--duration",
        type=float,
        default=60.0,
        help="seconds during which calls are placed (default 60)",
    )
    parser.add_argument(
        "--max-calls", type=int, default=10_000, help="at most this many calls (default 10000)"
    )
    parser.add_argument(
        "--patience-mean",
        type=float,
        default=60.0,
        help="mean seconds a caller waits before hanging up (default 60)",
    )
    parser.add_argument(
        "--talk-mean",
        type=float,
        default=120.0,
        help="mean talk time of a bridged call in seconds (default 120)",
    )
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--queue", help="queue id to send the calls to (default sales)")
    target.add_argument("--dnis", help="number dialled (mapped to a queue by the server)")
    parser.add_argument(
        "--ani", action="append", help="caller number (repeatable); default a small demo list"
    )
    parser.add_argument("--seed", type=int, help="random seed, for a repeatable stream")
    parser.add_argument(
        "--fixed-times",
        action="store_true",
        help="use the means as constant times instead of exponential draws",
    )
    parser.add_argument(
        "--drain",
        type=float,
        default=30.0,
        help="seconds to let calls finish after the last arrival (default 30)",
    )
    parser.add_argument(
        "--answer-probability",
        type=float,
        default=0.8,
        help="outbound (click-to-dial): share of callees who answer (default 0.8)",
    )
    parser.add_argument(
        "--busy-probability",
        type=float,
        default=0.1,
        help="outbound: share of callees who are busy; the rest do not answer (default 0.1)",
    )
    parser.add_argument(
        "--answer-delay",
        type=float,
        default=3.0,
        help="outbound: mean seconds of ringing before an answer or busy (default 3)",
    )
    parser.add_argument(
        "--ring-timeout",
        type=float,
        default=20.0,
        help="outbound: seconds before an unanswered call is reported no_answer (default 20)",
    )
    parser.add_argument(
        "--campaign-live",
        type=float,
        default=0.25,
        help="campaign dials: share answered by a person after 4-16 s (default 0.25)",
    )
    parser.add_argument(
        "--campaign-busy",
        type=float,
        default=0.15,
        help="campaign dials: share busy (default 0.15)",
    )
    parser.add_argument(
        "--campaign-machine",
        type=float,
        default=0.30,
        help="campaign dials: share answered by a machine (AMD verdict after "
        "2.5 s); the rest ring out (default 0.30)",
    )
    parser.add_argument(
        "--ivr-digits",
        action="append",
        default=[],
        metavar="KEYS",
        help="keys a caller presses at the next IVR prompt; repeat for "
        "each prompt, e.g. --ivr-digits 1 --ivr-digits 12345678#",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        rate = parse_rate(args.rate)
        key = gateway_key_for(args.gateway_key_file)
    except (ValueError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.queue is None and args.dnis is None:
        args.queue = "sales"
    config = CarrierConfig(
        url=args.url,
        gateway_key=key,
        takeover=args.takeover,
        rate=rate,
        duration=args.duration,
        max_calls=args.max_calls,
        patience_mean=args.patience_mean,
        talk_mean=args.talk_mean,
        queue=args.queue,
        dnis=args.dnis,
        anis=tuple(args.ani) if args.ani else DEFAULT_ANIS,
        seed=args.seed,
        fixed_times=args.fixed_times,
        drain=args.drain,
        answer_probability=args.answer_probability,
        busy_probability=args.busy_probability,
        answer_delay=args.answer_delay,
        ring_timeout=args.ring_timeout,
        ivr_digits=tuple(args.ivr_digits),
        campaign_live=args.campaign_live,
        campaign_busy=args.campaign_busy,
        campaign_machine=args.campaign_machine,
    )
    try:
        result = asyncio.run(Carrier(config).run())
    except (CarrierError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    summary = result.summary()
    if args.json:
        print(json.dumps(summary))
    else:
        mean = summary["mean_time_to_bridge"]
        shown = "-" if mean is None or math.isnan(mean) else f"{mean:.2f}s"
        print(
            f"placed {result.placed}, bridged {result.bridged}, abandoned {result.abandoned}, "
            f"transferred {result.transferred}, errors {result.errors}, "
            f"cut off {result.cut_off}; mean time to bridge {shown} "
            f"({result.elapsed:.1f}s)"
        )
    return 0


def gateway_key_for(key_file: Path | None) -> str:
    """The carrier's key: from ``key_file``, else ``CC_GATEWAY_KEY``, else the local key
    the server created in its data directory (the same ``CC_DATA_DIR``)."""
    if key_file is not None:
        return read_key_file(key_file)
    from_env = os.environ.get("CC_GATEWAY_KEY", "").strip()
    if from_env:
        return from_env
    return read_key_file(Settings.from_env().data_dir / LOCAL_KEY_FILE)
