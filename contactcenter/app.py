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
    consoles (hub.Consoles)                 -> ACD notifier port
    gateway link (gateway.GatewayLink)      -> ACD gateway port
    mutes (voice.Mutes)                     -> ACD agent_state
    hooks (hooks.CommittedHooks)            -> ACD, filled below in this order:
    ACD (engine, event log, pool, scheduler, consoles, link, hooks, mutes, metrics)
    click-to-dial (ACD)
    voice controls (ACD, mutes, click-to-dial)      hook 1: external transfer first
    consults (ACD, click-to-dial)                   hook 2
    IVR service (ACD, link, scheduler)              hook 3: survey after the agent leg
    chat service (ACD, IVR, consoles, scheduler)    hook 4: web chats carry themselves
    campaigns (ACD, link, scheduler)                hook 5: the dialer's own calls
    hub (ACD, consoles, click-to-dial, voice, consults, chat)
    gateway (ACD, link, IVR, click-to-dial, campaigns)
    wallboard (ACD, scheduler)
    sessions (registry, throttle, hashing pool; the hub and the wallboard, whose sockets
              of an ended session it closes)

The session registry is made first: the one ``Authenticator`` (every service that checks
a token gets it) refuses the tokens of revoked sessions with it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
from aiohttp import web

from contactcenter import health, openapi, session_api, supervisor, ui
from contactcenter.acd import Acd, freeze_startup_heap
from contactcenter.appkeys import (
    ACD,
    CAMPAIGN_TIMING,
    CAMPAIGNS,
    DATABASE,
    EVENT_LOG,
    READINESS,
    UI_SETTINGS,
    WALLBOARD_FEED,
)
from contactcenter.campaigns import api as campaign_api
from contactcenter.campaigns.runner import Timing
from contactcenter.campaigns.service import CampaignService
from contactcenter.chat import ChatService
from contactcenter.clicktodial import ClickToDial
from contactcenter.clock import AsyncioScheduler, Scheduler
from contactcenter.consult import Consults
from contactcenter.gateway import Gateway, GatewayLink
from contactcenter.gateway_config import GatewayConfig, load_gateway_config
from contactcenter.hooks import CommittedHooks
from contactcenter.hub import Consoles, Hub
from contactcenter.ivr_runner import IvrService, load_registry, restore_sessions
from contactcenter.metrics import Metrics
from contactcenter.readiness import Readiness
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


@dataclass(frozen=True)
class Services:
    """Everything the root built for one running app (tests reach services through it)."""

    scheduler: Scheduler
    auth: Authenticator
    event_log: EventLog
    consoles: Consoles
    link: GatewayLink
    hooks: CommittedHooks
    acd: Acd
    dialer: ClickToDial
    voice: VoiceControls
    consults: Consults
    ivr: IvrService
    chat: ChatService
    campaigns: CampaignService
    hub: Hub
    gateway: Gateway
    wallboard: Wallboard
    sessions: SessionService


SERVICES: web.AppKey[Services] = web.AppKey("services", Services)


def build_services(
    settings: Settings,
    pool: asyncpg.Pool,
    event_log: EventLog,
    config: RoutingConfig,
    gateway_config: GatewayConfig,
    *,
    scheduler: Scheduler,
    metrics: Metrics,
    timing: Timing,
    ui_settings: UiSettings,
) -> Services:
    """Every service, in dependency order (the module docstring draws it). Synchronous:
    nothing here does I/O; ``start`` does."""
    live_sessions = SessionRegistry(sessionless_max_ttl_s=settings.access_token_ttl_s)
    auth = Authenticator(settings, live_sessions)
    consoles = Consoles()
    link = GatewayLink()
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
    )
    dialer = ClickToDial(acd, pool)
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
    chat = ChatService(acd, pool, ivr, consoles, scheduler)
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
        auth,
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
    )
    metrics.bind(event_log, acd, consoles, link)
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


async def stop(services: Services) -> None:
    """Reverse order: no new work from the sockets, then the timers, then the log."""
    await services.wallboard.close()
    await services.campaigns.close()
    await services.chat.close()
    await services.ivr.close()
    await services.hub.close()
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
    app = web.Application(middlewares=[json_errors], client_max_size=MAX_JSON_BODY)
    config = routing_config or load_routing_config(settings.config_dir)
    gateway_config = load_gateway_config(settings.config_dir)
    if dnis_map is not None:
        gateway_config = gateway_config.model_copy(update={"dnis": dict(dnis_map)})
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
        services = build_services(
            settings,
            app[POOL],
            event_log,
            config,
            gateway_config,
            scheduler=clock,
            metrics=metrics,
            timing=app[CAMPAIGN_TIMING],
            ui_settings=app[UI_SETTINGS],
        )
        app[SERVICES] = services
        app[AUTHENTICATOR] = services.auth
        app[ACD] = services.acd
        app[CAMPAIGNS] = services.campaigns
        app[WALLBOARD_FEED] = services.wallboard
        try:
            await start(services, gateway_config)
            app[READINESS].acd_restored = True
            yield
        finally:
            await stop(services)
            await event_log.close()
            if db is not None:
                await db.close()

    async def close_sockets(app: web.Application) -> None:
        # Open websockets would hold the shutdown until its timeout.
        if SERVICES in app:
            await app[SERVICES].hub.close()
            await app[SERVICES].link.close()
            await app[SERVICES].wallboard.close()

    def to(service: Callable[[Services], Handler]) -> Handler:
        """A route to a method of a service the lifecycle builds."""

        async def handler(request: web.Request) -> web.StreamResponse:
            return await service(request.app[SERVICES])(request)

        return handler

    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(health.mark_stopping)
    app.on_shutdown.append(close_sockets)
    app.add_routes(
        [
            *session_api.routes(),
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
