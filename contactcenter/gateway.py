"""The telephony gateway contract: calls come in over HTTP, commands go out on a websocket.

A PBX, a media server or the built-in simulated carrier speaks this contract; see
docs/gateway.md. The gateway authenticates with a bearer token of an ``admin`` user (a
service account), the same tokens as everyone else.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Literal

from aiohttp import WSMsgType, web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contactcenter import ivr_runner, logs
from contactcenter import protocol as p
from contactcenter.acd import Acd, AcdUnavailable
from contactcenter.clicktodial import ClickToDial
from contactcenter.ivr_runner import IvrService
from contactcenter.store import EventRecord
from contactcenter.store.customers import find_caller
from contactcenter.webcommon import GATEWAY, authenticate, fail, read_json
from contactcenter.wsframes import FrameBatcher
from routing import ContactSpec, Outcome
from routing.errors import DuplicateContact, RoutingError, UnknownContact, UnknownQueue

log = logging.getLogger(__name__)

GATEWAY_ROLES = frozenset({"admin"})
PENDING_LIMIT = 1000
"""Commands kept while no gateway is connected (sent when one connects); oldest dropped."""
GATEWAY_WRITE_LIMIT = 16 << 20
"""Unsent bytes after which the gateway connection is closed as not reading."""
ID = r"^[A-Za-z0-9_.:@-]{1,64}$"
Scalar = str | int | float | bool | None


class CallIn(BaseModel):
    """``POST /gateway/calls``: a call arrived and should wait for an agent."""

    model_config = ConfigDict(extra="forbid")

    call_id: str = Field(pattern=ID)
    ani: str | None = Field(None, max_length=64)
    dnis: str | None = Field(None, max_length=64)
    queue: str | None = Field(None, pattern=ID)
    """Overrides the dnis -> queue mapping."""
    account: str | None = Field(None, min_length=1, max_length=64)
    """An account number the caller keyed in the IVR: the best screen-pop key."""
    priority: int | None = Field(None, ge=-100, le=100)
    skills: dict[str, int] = Field(default_factory=dict, max_length=8)
    data: dict[str, Scalar] = Field(default_factory=dict, max_length=32)
    """Attached data (IVR answers, language...); routing expressions see it."""


class OriginateResultIn(BaseModel):
    """``originate_result`` on the gateway websocket: what became of an ``originate``."""

    model_config = ConfigDict(extra="forbid")

    call_id: str = Field(pattern=ID)
    result: p.DialResult
    amd: Literal["human", "machine"] | None = None
    """Campaign dials: the answering-machine detector's verdict on an ``answered`` call."""
    amd_latency_s: float | None = Field(None, ge=0, le=30)
    """Seconds from the answer to that verdict (spent out of the 2-second rule)."""


class DigitsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    digits: str = Field(pattern=r"^[0-9*#A-Da-d]{1,64}$")


def _invalid(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(x) for x in err['loc']) or '(body)'}: {err['msg']}" for err in exc.errors()
    )


class Gateway:
    def __init__(self, acd: Acd, pool: Any, dnis_map: dict[str, str] | None = None) -> None:
        self.acd = acd
        self.pool = pool
        self.dnis_map = dict(dnis_map or {})
        self.ws: web.WebSocketResponse | None = None
        self.seq = 0
        self.pending: deque[str] = deque(maxlen=PENDING_LIMIT)
        self.out: FrameBatcher | None = None
        """Commands to the connected gateway, written in batches (wsframes.py)."""
        acd.gateway_sink = self.send
        self.dialer = ClickToDial(acd, pool)
        self.ivr: IvrService | None = None
        """Set by ivr_runner.setup: calls to numbers with an IVR tree run it first."""
        self.campaign_results: Callable[[OriginateResultIn], Awaitable[bool]] | None = None
        """Set by contactcenter.campaigns: takes the results of the dialer's originates
        (True: it was one of them) before click-to-dial sees them."""

    async def close(self) -> None:
        if self.ws is not None and not self.ws.closed:
            await self.ws.close(code=p.CLOSE_GOING_AWAY, message=b"server shutting down")

    # --- commands to the gateway -----------------------------------------------------------

    def send(self, kind: str, data: dict[str, Any]) -> None:
        self.seq += 1
        text = p.envelope(kind, self.seq, data)
        if self.ws is None or self.ws.closed or self.out is None or self.out.closed:
            self.pending.append(text)
            return
        self.out.send(text)

    async def handle_ws(self, request: web.Request) -> web.StreamResponse:
        authenticate(request, GATEWAY_ROLES, query_token=True)
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=p.MAX_FRAME_BYTES)
        await ws.prepare(request)
        if self.ws is not None and not self.ws.closed:
            old = self.ws
            if self.out is not None:
                self.out.close()
            await old.close(
                code=p.CLOSE_REPLACED, message=b"replaced by a newer gateway connection"
            )
        transport = request.transport
        if transport is None:  # gone already
            return ws
        self.ws = ws
        self.out = FrameBatcher(
            transport, limit=GATEWAY_WRITE_LIMIT, on_overflow=lambda: self._too_slow(ws)
        )
        while self.pending:
            self.out.send(self.pending.popleft())
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._from_gateway(ws, msg.data)
        finally:
            if self.ws is ws:
                self.out.close()
                self.ws, self.out = None, None
        return ws

    def _too_slow(self, ws: web.WebSocketResponse) -> None:
        log.error("the gateway does not read its commands; closing its connection")
        if self.ws is ws:
            self.ws, self.out = None, None
        asyncio.get_running_loop().create_task(ws.close(code=p.CLOSE_TOO_SLOW, message=b"too slow"))

    async def _from_gateway(self, ws: web.WebSocketResponse, raw: str) -> None:
        # The gateway acknowledges commands and reports originate results; anything else
        # is answered with an error so a misbehaving integration hears about it.
        try:
            data = json.loads(raw)
        except ValueError as exc:
            await ws.send_json({"type": "error", "data": {"code": "bad_json", "message": str(exc)}})
            return
        kind = data.get("type") if isinstance(data, dict) else None
        if kind == "originate_result":
            await self._originate_result(ws, data.get("data"))
        elif kind not in ("ack", "ping"):
            await ws.send_json(
                {
                    "type": "error",
                    "data": {
                        "code": "unknown_type",
                        "message": f"unknown message type {kind!r}; "
                        "the gateway sends 'ack' (with the seq of a command), 'ping' or "
                        "'originate_result'",
                    },
                }
            )

    async def _originate_result(self, ws: web.WebSocketResponse, data: Any) -> None:
        call_id = data.get("call_id") if isinstance(data, dict) else None
        try:
            body = OriginateResultIn.model_validate(data)
            if self.campaign_results is None or not await self.campaign_results(body):
                await self.dialer.result(body.call_id, body.result)
        except ValidationError as exc:
            await ws.send_json(
                {
                    "type": "error",
                    "data": {
                        "code": "invalid_result",
                        "message": _invalid(exc),
                        "call_id": call_id,
                    },
                }
            )
        except (RoutingError, AcdUnavailable) as exc:
            await ws.send_json(
                {
                    "type": "error",
                    "data": {"code": exc.code, "message": str(exc), "call_id": call_id},
                }
            )

    # --- calls in ----------------------------------------------------------------------------

    async def arrive(self, call: CallIn) -> dict[str, Any]:
        engine = self.acd.engine
        tree = self.ivr.voice_tree(call.dnis) if self.ivr and call.queue is None else None
        if self.ivr is not None and tree is not None:
            return await ivr_runner.voice_arrive(self.ivr, tree, call)
        queue = call.queue or (self.dnis_map.get(call.dnis) if call.dnis else None)
        if queue is None:
            fail(
                400,
                "no_queue",
                f"no queue given and dnis {call.dnis!r} maps to none; "
                "send 'queue' or configure the dnis mapping",
            )
        try:
            channel = engine.queue_config(queue).channel
        except UnknownQueue as exc:
            fail(400, "unknown_queue", str(exc))
        # The log outlives the engine's memory of ended calls: a call id is used once.
        # Checked in the same round trip as the caller's CRM look-up (account, then ANI).
        caller = await find_caller(self.pool, call.call_id, account=call.account, ani=call.ani)
        if caller.duplicate:
            fail(409, "duplicate_call", f"call {call.call_id} is already known")
        customer, matches = caller.customer, caller.matches
        attached: dict[str, Any] = {
            **call.data,
            **{
                k: v
                for k, v in (("ani", call.ani), ("dnis", call.dnis), ("account", call.account))
                if v is not None
            },
        }
        if customer is not None:
            attached["customer_id"] = customer.id
            if customer.tier:
                attached["tier"] = customer.tier
        spec = ContactSpec(
            id=call.call_id,
            queue_id=queue,
            priority=call.priority,
            skills=call.skills,
            data=attached,
        )

        def arrived(now: float) -> list[EventRecord]:
            return [
                EventRecord(
                    type="contact.arrived",
                    ts=now,
                    contact_id=call.call_id,
                    queue_id=queue,
                    data={
                        "channel": str(channel),
                        "direction": "inbound",
                        "ani": call.ani,
                        "dnis": call.dnis,
                        "customer_id": attached.get("customer_id"),
                        "priority": call.priority,
                        "skills": call.skills,
                        "attached": attached,
                    },
                )
            ]

        self.acd.remember_caller(call.call_id, customer, matches)
        try:
            await self.acd.execute(lambda now: engine.arrive(spec, now), before=arrived)
        except DuplicateContact as exc:
            fail(409, exc.code, str(exc))
        except RoutingError as exc:
            fail(400, exc.code, str(exc))
        except AcdUnavailable as exc:
            fail(503, exc.code, str(exc))
        try:
            state = engine.contact(call.call_id).state
        except UnknownContact:
            state = "gone"
        if state == "queued":
            self.send("play", {"call_id": call.call_id, "prompt": "queue_hold"})
        return {
            "call_id": call.call_id,
            "queue": queue,
            "state": state,
            "customer_id": attached.get("customer_id"),
        }

    async def hangup(self, call_id: str) -> dict[str, Any]:
        engine = self.acd.engine
        if self.ivr is not None and self.ivr.owns(call_id):
            left = await ivr_runner.voice_hangup(self.ivr, call_id)
            if left is not None:
                return left
        await self._run(lambda now: engine.hangup(call_id, now))
        return {"call_id": call_id, "state": "ended"}

    async def digits(self, call_id: str, body: DigitsIn) -> dict[str, Any]:
        if self.ivr is not None and self.ivr.owns(call_id):
            return await ivr_runner.voice_digits(self.ivr, call_id, body.digits)
        # Digits for a call in no IVR are only kept in the log.
        try:
            self.acd.engine.contact(call_id)
        except UnknownContact:
            fail(404, "unknown_call", f"call {call_id} is not in progress")

        def record(now: float) -> list[EventRecord]:
            return [
                EventRecord(
                    type="call.digits", ts=now, contact_id=call_id, data={"digits": body.digits}
                )
            ]

        await self._run(lambda now: Outcome(), before=record)
        return {"call_id": call_id, "digits": body.digits}

    async def _run(self, action: Any, **kwargs: Any) -> None:
        try:
            await self.acd.execute(action, **kwargs)
        except UnknownContact as exc:
            fail(404, exc.code, str(exc))
        except RoutingError as exc:
            fail(409, exc.code, str(exc))
        except AcdUnavailable as exc:
            fail(503, exc.code, str(exc))


# --- routes ------------------------------------------------------------------------------


async def post_call(request: web.Request) -> web.Response:
    authenticate(request, GATEWAY_ROLES)
    try:
        call = CallIn.model_validate(await read_json(request))
    except ValidationError as exc:
        fail(400, "invalid_call", _invalid(exc))
    logs.bind(contact_id=call.call_id)  # the request's log lines name the call
    result = await request.app[GATEWAY].arrive(call)
    log.info(
        "call %s arrived for %s: %s",
        call.call_id,
        result["queue"],
        result["state"],
        extra={"queue_id": result["queue"]},
    )
    return web.json_response(result, status=201)


async def post_hangup(request: web.Request) -> web.Response:
    authenticate(request, GATEWAY_ROLES)
    logs.bind(contact_id=request.match_info["call_id"])
    return web.json_response(await request.app[GATEWAY].hangup(request.match_info["call_id"]))


async def post_digits(request: web.Request) -> web.Response:
    authenticate(request, GATEWAY_ROLES)
    try:
        body = DigitsIn.model_validate(await read_json(request))
    except ValidationError as exc:
        fail(400, "invalid_digits", _invalid(exc))
    gateway = request.app[GATEWAY]
    return web.json_response(await gateway.digits(request.match_info["call_id"], body))


async def gateway_ws(request: web.Request) -> web.StreamResponse:
    return await request.app[GATEWAY].handle_ws(request)


def setup(app: web.Application) -> None:
    app.router.add_post("/gateway/calls", post_call)
    app.router.add_post("/gateway/calls/{call_id}/hangup", post_hangup)
    app.router.add_post("/gateway/calls/{call_id}/digits", post_digits)
    app.router.add_get("/gateway/ws", gateway_ws)
