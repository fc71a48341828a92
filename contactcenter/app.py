"""The aiohttp application: lifecycle of the database, event log and ACD, and the HTTP API.

``create_app(settings)`` wires it; ``cleanup_ctx`` opens things in order at startup
(database, then event log + ACD, which rebuilds live state from the log) and closes them
in reverse at shutdown. Routes: ``POST /api/login``, ``GET /api/queues``, health and
readiness (health.py), ``GET /metrics`` (metrics.py), ``GET /api/openapi.json``
(openapi.py), the agent websocket (hub.py) and the telephony gateway (gateway.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contactcenter import (
    campaigns,
    chat,
    gateway,
    health,
    hub,
    ivr_runner,
    metrics,
    openapi,
    supervisor,
    ui,
    wallboard,
)
from contactcenter.acd import Acd
from contactcenter.auth import issue_token
from contactcenter.settings import Settings
from contactcenter.store import EventLog, open_database
from contactcenter.store.transcripts import survey_summary
from contactcenter.store.users import verify_credentials
from contactcenter.webcommon import (
    ACD,
    DATABASE,
    EVENT_LOG,
    GATEWAY,
    HUB,
    MAX_JSON_BODY,
    METRICS,
    POOL,
    READINESS,
    SETTINGS,
    authenticate,
    fail,
    json_error,
    read_json,
)
from routing import Engine, RoutingConfig
from routing.policy import parse_routing_config

log = logging.getLogger(__name__)

ANY_ROLE = frozenset({"agent", "supervisor", "admin"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def load_routing_config(config_dir: Path) -> RoutingConfig:
    path = config_dir / "routing.yaml"
    return parse_routing_config(path.read_text(), str(path))


def load_dnis_map(config_dir: Path) -> dict[str, str]:
    """``config/gateway.yaml`` ``dnis: {number: queue}``, if the file exists."""
    path = config_dir / "gateway.yaml"
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text()) or {}
    mapping = data.get("dnis", {}) if isinstance(data, dict) else {}
    if not isinstance(mapping, dict):
        raise ValueError(f"{path}: 'dnis' must map numbers to queue ids")
    return {str(k): str(v) for k, v in mapping.items()}


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as a JSON body, including aiohttp's own 404/405."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or exc.status < 400:
            raise
        code = exc.reason.lower().replace(" ", "_")
        return json_error(exc.status, code, exc.text or exc.reason)
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_error(500, "internal", "the server failed on this request; it is logged")


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


async def login(request: web.Request) -> web.Response:
    try:
        body = LoginIn.model_validate(await read_json(request))
    except ValidationError:
        fail(400, "invalid_login", 'send {"username": ..., "password": ...}')
    user = await verify_credentials(request.app[POOL], body.username, body.password)
    if user is None:
        fail(401, "bad_credentials", "wrong username or password, or the account is disabled")
    settings = request.app[SETTINGS]
    now = time.time()
    token = issue_token(
        settings.token_secret_bytes(),
        user_id=user.id,
        role=user.role,
        ttl_s=settings.token_ttl_s,
        now=now,
    )
    return web.json_response(
        {
            "token": token,
            "user_id": user.id,
            "role": user.role,
            "display_name": user.display_name,
            "expires_at": int(now) + settings.token_ttl_s,
        }
    )


async def queues(request: web.Request) -> web.Response:
    authenticate(request, ANY_ROLE)
    acd = request.app[ACD]
    snapshot = acd.stats.snapshot(acd.clock())
    # what the engine holds right now, beside what the fold counted
    snapshot["waiting_now"] = {q: len(acd.engine.waiting(q)) for q in acd.engine.queue_ids()}
    # post-contact survey answers are stored, not folded: CSAT and FCR from the database
    snapshot["surveys"] = await survey_summary(request.app[POOL])
    return web.json_response(snapshot)


def create_app(
    settings: Settings,
    *,
    pool: Any = None,
    routing_config: RoutingConfig | None = None,
    dnis_map: dict[str, str] | None = None,
    clock: Callable[[], float] = time.time,
) -> web.Application:
    """The server. ``pool``: an open asyncpg pool to use (and not close) instead of
    opening the database from ``settings``; tests pass theirs."""
    app = web.Application(middlewares=[json_errors], client_max_size=MAX_JSON_BODY)
    app[SETTINGS] = settings
    config = routing_config or load_routing_config(settings.config_dir)
    numbers = load_dnis_map(settings.config_dir) if dnis_map is None else dnis_map
    app[METRICS] = metrics.Metrics()
    app[METRICS].declare_queues(q.id for q in config.queues)

    async def database(app: web.Application) -> AsyncIterator[None]:
        if pool is not None:
            app[POOL], app[DATABASE] = pool, None
            yield
            return
        db = await open_database(settings, migrate=True)
        app[POOL], app[DATABASE] = db.pool, db
        try:
            yield
        finally:
            await db.close()

    async def routing(app: web.Application) -> AsyncIterator[None]:
        event_log = EventLog(app[POOL])
        await event_log.start()
        acd = Acd(Engine(config), event_log, app[POOL], clock=clock)
        app[EVENT_LOG], app[ACD] = event_log, acd
        app[HUB] = hub.Hub(acd)
        app[GATEWAY] = gateway.Gateway(acd, app[POOL], numbers)
        app[METRICS].bind(event_log, acd, app[HUB], app[GATEWAY])
        try:
            await acd.restore()
            app[READINESS].acd_restored = True
            yield
        finally:
            await app[HUB].close()
            await acd.close()
            await event_log.close()

    async def close_sockets(app: web.Application) -> None:
        # Open websockets would hold the shutdown until its timeout.
        if HUB in app:
            await app[HUB].close()
        if GATEWAY in app:
            await app[GATEWAY].close()

    app.cleanup_ctx.append(database)
    app.cleanup_ctx.append(routing)
    app.on_shutdown.append(close_sockets)
    app.router.add_post("/api/login", login)
    app.router.add_get("/api/queues", queues)
    health.setup(app)
    metrics.setup(app)
    openapi.setup(app)
    hub.setup(app)
    gateway.setup(app)
    ui.setup(app)
    wallboard.setup(app)  # after ui (its settings) and the routing context (the ACD)
    supervisor.setup(app)
    ivr_runner.setup(app)
    chat.setup(app)
    campaigns.setup(app)  # after the routing context: its runners use the ACD and gateway
    return app
