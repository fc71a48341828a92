"""The composition root: every server service is built here, in order, each given its
collaborators as constructor parameters; nothing else wires services together.

``create_app(settings)`` builds the application: the HTTP routes (each to a handler of the
service that serves it) and one lifecycle (``cleanup_ctx``) that, at start-up, opens the
database, starts the event log, builds the services in the order below, rebuilds live
state from the log and hands each service its part of it; at shutdown it closes them in
reverse order.

Who gives what to whom (docs/server.md, "Services"):

    scheduler, metrics                      (no dependencies; tests give a ManualScheduler)
    database -> event log
    gateway link (gateway.GatewayLink)      -> ACD gateway port (the node's: outlives
                                               a fail-stop, node.py)
    node (node.Node)                        builds, starts, stops each generation below
    consoles (hub.Consoles)                 -> ACD notifier port
    mutes (voice.Mutes)                     -> ACD agent_state
    hooks (hooks.CommittedHooks)            -> ACD, filled below in this order:
    ACD (engine, event log, pool, scheduler, consoles, link, hooks, mutes, metrics,
         node.fail)
    click-to-dial (ACD, link: refuses to dial while no gateway is connected)
    voice controls (ACD, mutes, click-to-dial)      hook 1: external transfer first
    consults (ACD, click-to-dial)                   hook 2
    IVR service (ACD, link, scheduler)              hook 3: survey after the agent leg
    chat service (ACD, IVR, consoles, scheduler, chat.yaml)  hook 4: web chats carry
                                                    themselves; its limits -> metrics
    campaigns (ACD, link, scheduler)                hook 5: the dialer's own calls
    hub (ACD, consoles, click-to-dial, voice, consults, chat)
    gateway (ACD, link, gateway keys, IVR, click-to-dial, campaigns)
    wallboard (ACD, scheduler)
    sessions (registry, throttle, hashing pool; the hub and the wallboard, whose sockets
              of an ended session it closes)

The session registry is made first: the one ``Authenticator`` (every service that checks
a token gets it) refuses the tokens of revoked sessions with it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
from aiohttp import web

from contactcenter import health, openapi, queues_api, supervisor, ui
from contactcenter import protocol as p
from contactcenter.acd import Acd, AcdUnavailable, freeze_startup_heap
from contactcenter.appkeys import (
    CAMPAIGN_TIMING,
    DATABASE,
    EVENT_LOG,
    NODE,
    READINESS,
    UI_SETTINGS,
)
from contactcenter.campaigns import api as campaign_api
from contactcenter.campaigns.runner import Timing
from contactcenter.campaigns.service import CampaignService
from contactcenter.chat import ChatGate, ChatService
from contactcenter.chat_config import load_chat_config
from contactcenter.clicktodial import ClickToDial
from contactcenter.clock import AsyncioScheduler, Scheduler
from contactcenter.consult import Consults
from contactcenter.gateway import Gateway, GatewayLink
from contactcenter.gateway_auth import KEY_STORE_FILE, GatewayKeyring, ensure_local_key
from contactcenter.gateway_config import GatewayConfig, load_gateway_config
from contactcenter.hooks import CommittedHooks
from contactcenter.hub import Consoles, Hub
from contactcenter.ivr_runner import IvrService, load_registry, restore_sessions
from contactcenter.metrics import Metrics
from contactcenter.node import Generation, Node
from contactcenter.openapi import OPENAPI_PATH
from contactcenter.readiness import Readiness
from contactcenter.services import Services
from contactcenter.session_api import SessionService
from contactcenter.sessions import LoginThrottle, PasswordHasher, SessionRegistry, ThrottleLimits
from contactcenter.settings import Settings
from contactcenter.store import EventLog, open_database
from contactcenter.ui_settings import UiSettings, load_ui_settings
from contactcenter.voice import Mutes, VoiceControls
from contactcenter.wallboard import Wallboard
from contactcenter.webcommon import (
    AUTHENTICATOR,
    MAX_JSON_BODY,
    POOL,
    RETRY_AFTER_S,
    SETTINGS,
    Authenticator,
    json_error,
)
from routing import Engine, RoutingConfig
from routing.policy import parse_routing_config

log = logging.getLogger(__name__)

ANY_ROLE = frozenset({"agent", "supervisor", "admin"})
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def load_routing_config(config_dir: Path) -> RoutingConfig:
    path = config_dir / "routing.yaml"
    return parse_routing_config(path.read_text(), str(path))


# Exceptions that mean "the database is not answering": 503 with Retry-After, not 500.
_DATABASE_DOWN = (
    OSError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.OperatorInterventionError,
    asyncpg.exceptions.TooManyConnectionsError,
)
# Paths served whatever the node's state: probes, metrics and the static console pages.
_ALWAYS = ("/healthz", "/readyz", "/metrics", "/ui/", OPENAPI_PATH)


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error leaves as a JSON body, including aiohttp's own 404/405; a database that
    does not answer is a 503 with Retry-After, never a 500."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.content_type == "application/json" or exc.status < 400:
            raise
        code = exc.reason.lower().replace(" ", "_")
        return json_error(exc.status, code, exc.text or exc.reason)
    except AcdUnavailable as exc:
        return unavailable(exc.code, str(exc))
    except _DATABASE_DOWN as exc:
        log.warning("database unavailable on %s %s: %s", request.method, request.path, exc)
        return unavailable("database_unavailable", "the database is not answering; retry shortly")
    except Exception:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return json_error(500, "internal", "the server failed on this request; it is logged")


def unavailable(code: str, message: str) -> web.Response:
    response = json_error(503, code, message, retry_after_s=RETRY_AFTER_S)
    response.headers["Retry-After"] = str(RETRY_AFTER_S)
    return response


@web.middleware
async def while_serving(request: web.Request, handler: Handler) -> web.StreamResponse:
    """While the node rebuilds after a failed commit (fail-stop, node.py) it takes no
    work: 503 with Retry-After, websocket upgrades included."""
    node = request.app.get(NODE)
    if node is not None and not node.serving and not request.path.startswith(_ALWAYS):
        return unavailable(
            "rebuilding",
            "the server is rebuilding its state from the event log after a failed commit; "
            "retry shortly",
        )
    return await handler(request)


def build_services(
    settings: Settings,
    pool: asyncpg.Pool,
    event_log: EventLog,
    config: RoutingConfig,
    gateway_config: GatewayConfig,
    *,
    link: GatewayLink,
    gateway_keys: GatewayKeyring,
    scheduler: Scheduler,
    metrics: Metrics,
    timing: Timing,
    ui_settings: UiSettings,
    on_log_failure: Callable[[BaseException], None],
    chat_gate: ChatGate,
    auth: Authenticator,
    live_sessions: SessionRegistry,
) -> Services:
    """Every service of one generation, in dependency order (the module docstring draws
    it). Synchronous: nothing here does I/O; ``start`` does. ``auth`` and
    ``live_sessions`` are the node's (a token stays valid across a fail-stop)."""
    consoles = Consoles()
    mutes = Mutes()
    hooks = CommittedHooks()
    acd = Acd(
        Engine(config),
        event_log,
        pool,
        scheduler=scheduler,
        consoles=consoles,
        gateway=link,
        hooks=hooks,
        muted_of=mutes.of,
        observe_decision=metrics.on_decision,
        on_log_failure=on_log_failure,
    )
    dialer = ClickToDial(acd, pool, link)
    voice = VoiceControls(acd, mutes, dialer)
    consults = Consults(acd, dialer)
    registry = load_registry(settings.config_dir, acd.engine.queue_ids())
    ivr = IvrService(
        acd,
        pool,
        registry,
        gateway_config.ivr,
        gateway=link,
        scheduler=scheduler,
        auth=auth,
        config_dir=settings.config_dir,
    )
    chat = ChatService(acd, pool, ivr, consoles, scheduler, chat_gate)
    campaign_service = CampaignService(acd, link, pool, timing, scheduler)
    # The order of the committed-event hooks: the external transfer first, so that the
    # leg is transferred rather than hung up whatever later hooks say.
    hooks.register("voice", voice.on_contact_event)
    hooks.register("consults", consults.on_contact_event)
    hooks.register("ivr", ivr.on_contact_event)
    hooks.register("chat", chat.on_contact_event)
    hooks.register("campaigns", campaign_service.on_contact_event)
    hub = Hub(
        acd,
        consoles,
        auth,
        scheduler,
        dialer=dialer,
        voice=voice,
        consults=consults,
        chat=chat.agent_command,
        auth_timeout_s=settings.ws_auth_timeout_s,
        replay_messages_per_s=settings.replay_messages_per_s,
    )
    gateway = Gateway(
        acd,
        link,
        pool,
        gateway_keys,
        dnis_map=gateway_config.dnis,
        ivr=ivr,
        dialer=dialer,
        campaign_results=campaign_service.result,
    )
    wallboard = Wallboard(
        acd, pool, ui_settings, scheduler, auth, auth_timeout_s=settings.ws_auth_timeout_s
    )
    sessions = SessionService(
        settings,
        pool,
        auth,
        live_sessions,
        LoginThrottle(
            ThrottleLimits(
                per_user=settings.login_max_failures_per_user,
                per_address=settings.login_max_failures_per_address,
                window_s=settings.login_failure_window_s,
            ),
            clock=scheduler.now,
        ),
        PasswordHasher(
            workers=settings.password_hash_workers, max_pending=settings.password_hash_queue
        ),
        scheduler,
        sockets=[hub, wallboard],
        wallboard_token_max_days=ui_settings.wallboard.wallboard_token_max_days,
    )
    metrics.bind(acd, consoles, link)
    event_log.add_listener(wallboard.on_commit)
    return Services(
        scheduler=scheduler,
        auth=auth,
        event_log=event_log,
        consoles=consoles,
        link=link,
        hooks=hooks,
        acd=acd,
        dialer=dialer,
        voice=voice,
        consults=consults,
        ivr=ivr,
        chat=chat,
        campaigns=campaign_service,
        hub=hub,
        gateway=gateway,
        wallboard=wallboard,
        sessions=sessions,
    )


async def start(services: Services, gateway_config: GatewayConfig) -> None:
    """Rebuild live state from the log and hand each service its part, in order."""
    await services.sessions.start()  # before any token is checked
    restored = await services.acd.restore()
    services.dialer.restore(restored.dialing)
    services.hub.await_consoles(restored.logged_in)
    await restore_sessions(services.ivr, restored.in_ivr, gateway_config.dnis)
    await services.chat.end_orphans()
    await services.campaigns.resume_running()
    await services.wallboard.start()
    freeze_startup_heap()


async def stop(services: Services, why: p.Closing = p.SHUTTING_DOWN) -> None:
    """Reverse order: no new work from the sockets, then the timers, then the log's
    listeners (the gateway link is the node's: the lifecycle closes it at shutdown, a
    fail-stop only drops its socket so that the gateway reconnects to the next
    generation)."""
    services.event_log.remove_listener(services.wallboard.on_commit)
    await services.wallboard.close(why)
    await services.campaigns.close()
    await services.chat.close(why)
    await services.ivr.close()
    await services.hub.close(why)
    if why is not p.SHUTTING_DOWN:
        await services.link.close(why)
    await services.acd.close()
    await services.sessions.close()


def create_app(
    settings: Settings,
    *,
    pool: asyncpg.Pool | None = None,
    routing_config: RoutingConfig | None = None,
    dnis_map: dict[str, str] | None = None,
    scheduler: Scheduler | None = None,
    campaign_timing: Timing | None = None,
) -> web.Application:
    """The server. ``pool``: an open asyncpg pool to use (and not close) instead of
    opening the database from ``settings``; ``scheduler``: the clock and timers (tests
    pass a ``ManualScheduler``); ``dnis_map`` replaces gateway.yaml's ``dnis``."""
    app = web.Application(middlewares=[json_errors, while_serving], client_max_size=MAX_JSON_BODY)
    config = routing_config or load_routing_config(settings.config_dir)
    gateway_config = load_gateway_config(settings.config_dir)
    chat_config = load_chat_config(settings.config_dir)
    if dnis_map is not None:
        gateway_config = gateway_config.model_copy(update={"dnis": dict(dnis_map)})
    # The gateway's own credential: with no key configured, the first start creates the
    # key of gateway "local" in the data directory, where the simulated carrier reads it.
    ensure_local_key(settings.data_dir, gateway_config.keys)
    gateway_keys = GatewayKeyring(gateway_config.keys, settings.data_dir / KEY_STORE_FILE)
    clock = scheduler or AsyncioScheduler()
    metrics = Metrics()
    metrics.declare_queues(q.id for q in config.queues)
    app[SETTINGS] = settings
    app[READINESS] = Readiness()
    app[UI_SETTINGS] = load_ui_settings(settings.config_dir)
    app[CAMPAIGN_TIMING] = campaign_timing or Timing()

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        db = None
        if pool is not None:
            app[POOL], app[DATABASE] = pool, None
        else:
            db = await open_database(settings, migrate=True)
            app[POOL], app[DATABASE] = db.pool, db
        event_log = EventLog(app[POOL])
        await event_log.start()
        app[EVENT_LOG] = event_log
        link = GatewayLink()
        chat_gate = ChatGate(chat_config, clock, settings.trusted_proxy_networks())
        live_sessions = SessionRegistry(sessionless_max_ttl_s=settings.access_token_ttl_s)
        auth = Authenticator(settings, live_sessions)
        app[AUTHENTICATOR] = auth
        metrics.bind_limits(chat_gate.stats)

        def build() -> Services:
            return build_services(
                settings,
                app[POOL],
                event_log,
                config,
                gateway_config,
                link=link,
                gateway_keys=gateway_keys,
                scheduler=clock,
                metrics=metrics,
                timing=app[CAMPAIGN_TIMING],
                ui_settings=app[UI_SETTINGS],
                on_log_failure=node.fail,
                chat_gate=chat_gate,
                auth=auth,
                live_sessions=live_sessions,
            )

        async def start_generation(services: Services) -> None:
            await start(services, gateway_config)

        async def stop_generation(services: Services, shutdown: bool) -> None:
            await stop(services, p.SHUTTING_DOWN if shutdown else p.REBUILDING)

        node = Node(
            Generation(build, start_generation, stop_generation),
            event_log=event_log,
            pool=app[POOL],
            readiness=app[READINESS],
            scheduler=clock,
        )
        metrics.observe_log(event_log, lambda: node.serving)
        app[NODE] = node
        try:
            await node.start()
            yield
        finally:
            await node.close()
            await link.close()
            await event_log.close()
            if db is not None:
                await db.close()

    async def close_sockets(app: web.Application) -> None:
        # Open websockets would hold the shutdown until its timeout.
        if NODE in app and app[NODE].serving:
            services = app[NODE].services
            await services.hub.close()
            await services.link.close()
            await services.wallboard.close()

    def to(service: Callable[[Services], Handler]) -> Handler:
        """A route to a method of a service the lifecycle builds."""

        async def handler(request: web.Request) -> web.StreamResponse:
            return await service(request.app[NODE].services)(request)

        return handler

    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(health.mark_stopping)
    app.on_shutdown.append(close_sockets)
    app.add_routes(
        [
            *queues_api.routes(),
            web.post("/api/login", to(lambda s: s.sessions.login)),
            web.post("/api/session/refresh", to(lambda s: s.sessions.refresh)),
            web.post("/api/logout", to(lambda s: s.sessions.logout)),
            web.post("/api/password", to(lambda s: s.sessions.change_password)),
            web.get("/api/sessions", to(lambda s: s.sessions.list_sessions)),
            web.delete("/api/sessions/{session_id}", to(lambda s: s.sessions.revoke)),
            web.post("/api/admin/users/{user_id}/disable", to(lambda s: s.sessions.disable_user)),
            web.post(
                "/api/admin/users/{user_id}/password", to(lambda s: s.sessions.reset_password)
            ),
            web.post("/api/supervisor/wallboard-token", to(lambda s: s.sessions.wallboard_token)),
            *health.routes(),
            *metrics.routes(settings),
            *openapi.routes(),
            web.get("/ws/agent", to(lambda s: s.hub.handle)),
            web.post("/gateway/calls", to(lambda s: s.gateway.post_call)),
            web.post("/gateway/calls/{call_id}/hangup", to(lambda s: s.gateway.post_hangup)),
            web.post("/gateway/calls/{call_id}/digits", to(lambda s: s.gateway.post_digits)),
            web.get("/gateway/ws", to(lambda s: s.gateway.handle_ws)),
            *ui.routes(),
            web.get("/ws/supervisor", to(lambda s: s.wallboard.handle)),
            *supervisor.routes(),
            web.post("/api/ivr/reload", to(lambda s: s.ivr.reload)),
            web.get("/ws/chat", to(lambda s: s.chat.visitor)),
            web.get("/api/chats/{contact_id}/transcript", to(lambda s: s.chat.transcript)),
            *campaign_api.routes(),
        ]
    )
    return app
