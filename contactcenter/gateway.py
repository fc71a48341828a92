"""The telephony gateway contract: calls come in over HTTP, commands go out on a websocket.

A PBX, a media server or the built-in simulated carrier speaks this contract; see
docs/gateway.md. The gateway authenticates with its own key (gateway_auth.py), sent as
``Authorization: Bearer <key>``; user tokens, an admin's included, are refused. One gateway
connection holds the command socket at a time: a second is refused while the first is
alive, unless it asks ``?takeover=1`` (logged, and the first is closed).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
from aiohttp import WSMsgType, web
from pydantic import ValidationError

from contactcenter import ivr_runner, logs
from contactcenter import protocol as p
from contactcenter.acd import Acd, AcdUnavailable, Action, RecordsFor
from contactcenter.clicktodial import ClickToDial
from contactcenter.gateway_auth import GatewayKeyring, bearer_key
from contactcenter.gateway_contract import CallIn, DigitsIn, OriginateResultIn, invalid
from contactcenter.ivr_runner import IvrService
from contactcenter.server_events import CallDigits, ContactArrived
from contactcenter.store import EventRecord
from contactcenter.store.customers import find_caller
from contactcenter.webcommon import fail, read_json
from contactcenter.wsframes import FrameBatcher
from routing import ContactSpec, Outcome
from routing.errors import DuplicateContact, RoutingError, UnknownContact, UnknownQueue

log = logging.getLogger(__name__)

PENDING_LIMIT = 1000
"""Commands kept while no gateway is connected (sent when one connects); oldest dropped."""
GATEWAY_WRITE_LIMIT = 16 << 20
"""Unsent bytes after which the gateway connection is closed as not reading."""


@dataclass(frozen=True, slots=True)
class GatewayPeer:
    """Who holds a gateway connection: the gateway its key names, and where from."""

    gateway_id: str
    address: str

    def __str__(self) -> str:
        return f"gateway {self.gateway_id!r} at {self.address}"


class GatewayLink:
    """The command side of the contract: commands queued towards the connected gateway
    (``ports.GatewayCommands``), kept while none is connected."""

    def __init__(self) -> None:
        self.ws: web.WebSocketResponse | None = None
        self.peer: GatewayPeer | None = None
        self.seq = 0
        self.pending: deque[str] = deque(maxlen=PENDING_LIMIT)
        self.out: FrameBatcher | None = None
        """Commands to the connected gateway, written in batches (wsframes.py)."""

    def connected(self) -> int:
        return int(self.available())

    def available(self) -> bool:
        """A gateway is connected now: a command sent now goes out now
        (``ports.GatewayPresence``)."""
        return self.ws is not None and not self.ws.closed and self.out is not None

    def holder(self) -> GatewayPeer | None:
        """The peer of the live connection, if any."""
        return self.peer if self.available() else None

    async def close(self, why: p.Closing = p.SHUTTING_DOWN) -> None:
        if self.ws is not None and not self.ws.closed:
            await self.ws.close(code=why.code, message=why.reason.encode())

    def send(self, kind: p.GatewayCommandType, data: dict[str, Any]) -> None:
        self.seq += 1
        text = p.envelope(kind, self.seq, data)
        if self.ws is None or self.ws.closed or self.out is None or self.out.closed:
            if kind == p.GATEWAY_ORIGINATE:
                # Never dialled late: the dialers check ``available`` first, so only a
                # gateway lost in between gets here; the call's ring timeout settles it.
                log.warning("no gateway connected: originate %s dropped", data.get("call_id"))
                return
            self.pending.append(text)
            return
        self.out.send(text)

    async def attach(
        self,
        ws: web.WebSocketResponse,
        transport: asyncio.Transport,
        peer: GatewayPeer,
        *,
        takeover: bool = False,
    ) -> bool:
        """Commands go to this connection from now on; what was kept while none was
        connected goes first. False (nothing changed) while another connection is alive,
        unless ``takeover``: then that one is closed (``CLOSE_GATEWAY_TAKEN_OVER``) and a
        warning names both."""
        if self.ws is not None and not self.ws.closed:
            if not takeover:
                return False
            old, old_peer = self.ws, self.peer
            log.warning("%s took the gateway command socket over from %s", peer, old_peer)
            if self.out is not None:
                self.out.close()
            self.ws, self.out, self.peer = None, None, None
            await old.close(
                code=p.CLOSE_GATEWAY_TAKEN_OVER,
                message=f"taken over by {peer}".encode()[:120],
            )
        elif self.ws is not None:
            self.detach(self.ws)
        self.ws, self.peer = ws, peer
        self.out = FrameBatcher(
            transport, limit=GATEWAY_WRITE_LIMIT, on_overflow=lambda: self._too_slow(ws)
        )
        while self.pending:
            self.out.send(self.pending.popleft())
        return True

    def detach(self, ws: web.WebSocketResponse) -> None:
        if self.ws is ws:
            if self.out is not None:
                self.out.close()
            self.ws, self.out, self.peer = None, None, None

    def _too_slow(self, ws: web.WebSocketResponse) -> None:
        log.error("the gateway does not read its commands; closing its connection")
        if self.ws is ws:
            self.ws, self.out, self.peer = None, None, None
        asyncio.get_running_loop().create_task(ws.close(code=p.CLOSE_TOO_SLOW, message=b"too slow"))


CampaignResults = Callable[[OriginateResultIn], Awaitable[bool]]
"""Takes the results of the campaign dialer's originates (True: it was one of them)."""


class Gateway:
    """The contract's inbound side: calls, hang-ups and digits over HTTP, the websocket
    that carries the commands (``GatewayLink``) and brings back originate results."""

    def __init__(
        self,
        acd: Acd,
        link: GatewayLink,
        pool: asyncpg.Pool,
        keys: GatewayKeyring,
        *,
        dnis_map: dict[str, str],
        ivr: IvrService | None,
        dialer: ClickToDial,
        campaign_results: CampaignResults | None,
    ) -> None:
        self.acd = acd
        self.link = link
        self.pool = pool
        self.keys = keys
        self.dnis_map = dict(dnis_map)
        self.ivr = ivr
        """Calls to numbers with an IVR tree run it first."""
        self.dialer = dialer
        self.campaign_results = campaign_results
        """Sees the results of originates before click-to-dial does."""

    def authenticate(self, request: web.Request) -> str:
        """The gateway id of the request's key (``Authorization: Bearer <key>``); 401
        otherwise. A key in the URL is refused, so it never lands in an access log."""
        if "token" in request.query or "key" in request.query:
            fail(
                401,
                "key_in_url",
                "send the gateway key in the Authorization header (Bearer), never in the URL",
            )
        key = bearer_key(request.headers.get("Authorization"))
        if key is None:
            fail(401, "gateway_key_missing", "no gateway key; send Authorization: Bearer <key>")
        identity = self.keys.verify(key)
        if identity is None:
            fail(
                401,
                "gateway_key_invalid",
                "not a valid gateway key (user tokens are not accepted here); see "
                "`contactcenter gateway-key`",
            )
        return identity.gateway_id

    async def handle_ws(self, request: web.Request) -> web.StreamResponse:
        gateway_id = self.authenticate(request)
        takeover = request.query.get("takeover", "") in ("1", "true", "yes")
        peer = GatewayPeer(gateway_id, _address(request))
        holder = self.link.holder()
        if holder is not None and not takeover:
            log.warning("%s refused: %s holds the gateway command socket", peer, holder)
            raise web.HTTPConflict(
                text=json.dumps(
                    {
                        "error": {
                            "code": "gateway_connected",
                            "message": f"{holder} holds the gateway command socket; close it "
                            "first, or connect with ?takeover=1 to replace it",
                            "gateway_id": holder.gateway_id,
                        }
                    }
                ),
                content_type="application/json",
            )
        ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=p.GATEWAY_SOCKET_MAX_BYTES)
        await ws.prepare(request)
        transport = request.transport
        if transport is None:  # gone already
            return ws
        if not await self.link.attach(ws, transport, peer, takeover=takeover):
            # another connection attached while this one was opening
            await ws.close(
                code=p.CLOSE_GATEWAY_REFUSED, message=b"another gateway connection is live"
            )
            return ws
        log.info("%s connected", peer)
        try:
            async for msg in ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    await self._from_gateway(ws, msg.data)
        finally:
            self.link.detach(ws)
        return ws

    async def _from_gateway(self, ws: web.WebSocketResponse, raw: str | bytes) -> None:
        # The gateway acknowledges commands and reports originate results; anything else
        # is answered with an error so a misbehaving integration hears about it.
        try:
            kind, data = p.parse_gateway_frame(raw)
        except p.ProtocolError as exc:
            await self._error(ws, exc.code, exc.message)
            return
        if kind == p.GATEWAY_ORIGINATE_RESULT:
            await self._originate_result(ws, data.get("data"))

    async def _error(
        self, ws: web.WebSocketResponse, code: str, message: str, call_id: str | None = None
    ) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):  # the gateway is gone
            await ws.send_str(p.gateway_error(code, message, call_id))

    async def _originate_result(self, ws: web.WebSocketResponse, data: Any) -> None:
        call_id = data.get("call_id") if isinstance(data, dict) else None
        call_id = call_id if isinstance(call_id, str) and len(call_id) <= 64 else None
        try:
            body = OriginateResultIn.model_validate(data)
            if self.campaign_results is None or not await self.campaign_results(body):
                await self.dialer.result(body.call_id, body.result)
        except ValidationError as exc:
            await self._error(ws, "invalid_result", invalid(exc), call_id)
        except (RoutingError, AcdUnavailable) as exc:
            await self._error(ws, exc.code, str(exc), call_id)
        except Exception:
            log.exception("gateway originate_result for %s failed", call_id)
            await self._error(
                ws, "internal", "the server failed on this result; it has been logged", call_id
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
                ContactArrived(
                    contact_id=call.call_id,
                    queue_id=queue,
                    channel=str(channel),
                    direction="inbound",
                    ani=call.ani,
                    dnis=call.dnis,
                    customer_id=attached.get("customer_id"),
                    priority=call.priority,
                    skills=call.skills,
                    attached=attached,
                ).record(now)
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
            self.link.send(p.GATEWAY_PLAY, {"call_id": call.call_id, "prompt": "queue_hold"})
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
            return [CallDigits(contact_id=call_id, digits=body.digits).record(now)]

        await self._run(lambda now: Outcome(), before=record)
        return {"call_id": call_id, "digits": body.digits}

    async def _run(self, action: Action, *, before: RecordsFor | None = None) -> None:
        try:
            await self.acd.execute(action, before=before)
        except UnknownContact as exc:
            fail(404, exc.code, str(exc))
        except RoutingError as exc:
            fail(409, exc.code, str(exc))
        except AcdUnavailable as exc:
            fail(503, exc.code, str(exc))

    # --- routes ------------------------------------------------------------------------------

    async def post_call(self, request: web.Request) -> web.Response:
        self.authenticate(request)
        try:
            call = CallIn.model_validate(await read_json(request))
        except ValidationError as exc:
            fail(400, "invalid_call", invalid(exc))
        logs.bind(contact_id=call.call_id)  # the request's log lines name the call
        result = await self.arrive(call)
        log.info(
            "call %s arrived for %s: %s",
            call.call_id,
            result["queue"],
            result["state"],
            extra={"queue_id": result["queue"]},
        )
        return web.json_response(result, status=201)

    async def post_hangup(self, request: web.Request) -> web.Response:
        self.authenticate(request)
        logs.bind(contact_id=request.match_info["call_id"])
        return web.json_response(await self.hangup(request.match_info["call_id"]))

    async def post_digits(self, request: web.Request) -> web.Response:
        self.authenticate(request)
        try:
            body = DigitsIn.model_validate(await read_json(request))
        except ValidationError as exc:
            fail(400, "invalid_digits", invalid(exc))
        return web.json_response(await self.digits(request.match_info["call_id"], body))


def _address(request: web.Request) -> str:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    if isinstance(peer, tuple) and len(peer) >= 2:
        return f"{peer[0]}:{peer[1]}"
    return request.remote or "unknown"
