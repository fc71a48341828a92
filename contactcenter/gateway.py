"""The telephony gateway contract: calls come in over HTTP, commands go out on a websocket.

A PBX, a media server or the built-in simulated carrier speaks this contract; see
docs/gateway.md. The gateway authenticates with a bearer token of an ``admin`` user (a
service account), the same tokens as everyone else.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from typing import Any

from aiohttp import WSMsgType, web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contactcenter import protocol as p
from contactcenter.acd import Acd, AcdUnavailable
from contactcenter.store import EventRecord
from contactcenter.store.customers import find_by_account, find_by_ani
from contactcenter.store.interactions import get_interaction
from contactcenter.webcommon import GATEWAY, authenticate, fail, read_json
from routing import ContactSpec, Outcome
from routing.errors import DuplicateContact, RoutingError, UnknownContact, UnknownQueue

log = logging.getLogger(__name__)

GATEWAY_ROLES = frozenset({"admin"})
PENDING_LIMIT = 1000
"""Commands kept while no gateway is connected (sent when one connects); oldest dropped."""
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


class DigitsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    digits: str = Field(pattern=r"^[0-9*#A-Da-d]{1,64}$")


def _invalid(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(x) for x in err['loc']) or '(body)'}: {err['msg']}"
        for err in exc.errors()
    )


class Gateway:
    def __init__(self, acd: Acd, pool: Any, dnis_map: dict[str, str] | None = None) -> None:
        self.acd = acd
        self.pool = pool
        self.dnis_map = dict(dnis_map or {})
        self.ws: web.WebSocketResponse | None = None
        self.seq = 0
        self.pending: deque[str] = deque(maxlen=PENDING_LIMIT)
        acd.gateway_sink = self.send

    async def close(self) -> None:
        if self.ws is not None and not self.ws.closed:
            await self.ws.close(code=1001, message=b"server shutting down")

    # --- commands to the gateway -----------------------------------------------------------

    def send(self, kind: str, data: dict[str, Any]) -> None:
        self.seq += 1
        text = p.envelope(kind, self.seq, data)
        if self.ws is None or self.ws.closed:
            self.pending.append(text)
            return
        task = asyncio.get_running_loop().create_task(self.ws.send_str(text))
        task.add_done_callback(_log_failure)

    async def handle_ws(self, request: web.Request) -> web.StreamResponse:
        authenticate(request, GATEWAY_ROLES, query_token=True)
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=p.MAX_FRAME_BYTES)
        await ws.prepare(request)
        if self.ws is not None and not self.ws.closed:
            await self.ws.close(code=4000, message=b"replaced by a newer gateway connection")
        self.ws = ws
        while self.pending:
            await ws.send_str(self.pending.popleft())
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._from_gateway(ws, msg.data)
        finally:
            if self.ws is ws:
                self.ws = None
        return ws

    async def _from_gateway(self, ws: web.WebSocketResponse, raw: str) -> None:
        # The gateway only acknowledges commands for now; anything else is answered with
        # an error so a misbehaving integration hears about it.
        try:
            data = json.loads(raw)
        except ValueError as exc:
            await ws.send_json({"type": "error", "data": {"code": "bad_json",
                                                          "message": str(exc)}})
            return
        kind = data.get("type") if isinstance(data, dict) else None
        if kind not in ("ack", "ping"):
            await ws.send_json({"type": "error", "data": {
                "code": "unknown_type", "message": f"unknown message type {kind!r}; "
                "the gateway sends 'ack' (with the seq of a command) or 'ping'"}})

    # --- calls in ----------------------------------------------------------------------------

    async def arrive(self, call: CallIn) -> dict[str, Any]:
        engine = self.acd.engine
        queue = call.queue or (self.dnis_map.get(call.dnis) if call.dnis else None)
        if queue is None:
            fail(400, "no_queue", f"no queue given and dnis {call.dnis!r} maps to none; "
                 "send 'queue' or configure the dnis mapping")
        try:
            channel = engine.queue_config(queue).channel
        except UnknownQueue as exc:
            fail(400, "unknown_queue", str(exc))
        # The log outlives the engine's memory of ended calls: a call id is used once.
        if await get_interaction(self.pool, call.call_id) is not None:
            fail(409, "duplicate_call", f"call {call.call_id} is already known")
        customer = None
        if call.account:
            customer = await find_by_account(self.pool, call.account)
        if customer is None and call.ani:
            found = await find_by_ani(self.pool, call.ani)
            customer = found[0] if found else None
        attached: dict[str, Any] = {
            **call.data,
            **{k: v for k, v in (("ani", call.ani), ("dnis", call.dnis),
                                 ("account", call.account)) if v is not None},
        }
        if customer is not None:
            attached["customer_id"] = customer.id
            if customer.tier:
                attached["tier"] = customer.tier
        spec = ContactSpec(id=call.call_id, queue_id=queue, priority=call.priority,
                           skills=call.skills, data=attached)

        def arrived(now: float) -> list[EventRecord]:
            return [EventRecord(
                type="contact.arrived", ts=now, contact_id=call.call_id, queue_id=queue,
                data={"channel": str(channel), "direction": "inbound", "ani": call.ani,
                      "dnis": call.dnis, "customer_id": attached.get("customer_id"),
                      "priority": call.priority, "skills": call.skills,
                      "attached": attached},
            )]

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
        return {"call_id": call.call_id, "queue": queue, "state": state,
                "customer_id": attached.get("customer_id")}

    async def hangup(self, call_id: str) -> dict[str, Any]:
        engine = self.acd.engine
        await self._run(lambda now: engine.hangup(call_id, now))
        return {"call_id": call_id, "state": "ended"}

    async def digits(self, call_id: str, body: DigitsIn) -> dict[str, Any]:
        # Kept in the log until the IVR interpreter consumes them.
        try:
            self.acd.engine.contact(call_id)
        except UnknownContact:
            fail(404, "unknown_call", f"call {call_id} is not in progress")

        def record(now: float) -> list[EventRecord]:
            return [EventRecord(type="call.digits", ts=now, contact_id=call_id,
                                data={"digits": body.digits})]

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


def _log_failure(task: asyncio.Task[None]) -> None:
    with contextlib.suppress(asyncio.CancelledError):
        if task.exception() is not None:
            log.warning("sending to the gateway failed: %s", task.exception())


# --- routes ------------------------------------------------------------------------------


async def post_call(request: web.Request) -> web.Response:
    authenticate(request, GATEWAY_ROLES)
    try:
        call = CallIn.model_validate(await read_json(request))
    except ValidationError as exc:
        fail(400, "invalid_call", _invalid(exc))
    result = await request.app[GATEWAY].arrive(call)
    return web.json_response(result, status=201)


async def post_hangup(request: web.Request) -> web.Response:
    authenticate(request, GATEWAY_ROLES)
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
