"""The browser pages (``agent_ui/``) and the small HTTP API they need beyond ``app.py``'s.

Routes:

- ``GET /`` and ``GET /ui`` redirect to the agent page; ``GET /ui/{path}`` serves the
  files of ``agent_ui/`` (an allow-list of extensions with explicit content types, no
  dotfiles, nothing outside the directory).
- ``GET /api/ui/config`` (any role): what the pages need from the routing configuration:
  the reason codes an agent may choose and, per queue, its name, service-level target
  and wrap-up policy (so the wrap-up form offers the queue's dispositions).
- ``GET /api/agents`` (supervisor, admin): every agent's status, derived activity and
  since-timestamps from the live engine, plus per queue the agents skilled for it counted
  by state (the same labels as ``routing.stats.StatsFold.agents_by_state``).

The static files live beside the package in the repository (``agent_ui/``), which is
where an editable install (``pip install -e .``) finds them.
"""

from __future__ import annotations

import logging
from pathlib import Path

from aiohttp import web
from pydantic import BaseModel

from contactcenter.appkeys import UI_SETTINGS, services
from contactcenter.store.users import list_agents
from contactcenter.ui_settings import UiSettings, load_ui_settings  # re-exported
from contactcenter.wallboard import skilled_for
from contactcenter.webcommon import POOL, authenticate, fail
from routing.engine import AgentSnapshot

log = logging.getLogger(__name__)

UI_DIR = Path(__file__).resolve().parent.parent / "agent_ui"
AGENT_PAGE = "/ui/agent.html"
ANY_ROLE = frozenset({"agent", "supervisor", "admin"})
SUPERVISOR_ROLES = frozenset({"supervisor", "admin"})

# Explicit types rather than the mimetypes module: its answers depend on the machine's
# /etc/mime.types, and a module script served with a non-JavaScript type does not run.
CONTENT_TYPES: dict[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon",
}
# The pages load only their own scripts and styles; data never becomes markup (the pages
# use textContent), and this policy is the second line should that ever slip.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)


# --- static files ----------------------------------------------------------------------------


def resolve_static(root: Path, relative: str) -> Path | None:
    """The file ``relative`` names under ``root``, or None: unknown extension, a dotfile
    or dot-directory, or anything that resolves (symlinks included) outside ``root``."""
    if not relative or "\\" in relative or "\x00" in relative:
        return None
    parts = relative.split("/")
    if any(part in ("", ".", "..") or part.startswith(".") for part in parts):
        return None
    if Path(parts[-1]).suffix.lower() not in CONTENT_TYPES:
        return None
    base = root.resolve()
    path = (base / relative).resolve()
    if not path.is_relative_to(base) or not path.is_file():
        return None
    return path


async def static_file(request: web.Request) -> web.StreamResponse:
    path = resolve_static(UI_DIR, request.match_info["path"])
    if path is None:
        fail(404, "not_found", "no such page or file under /ui/")
    response = web.FileResponse(
        path,
        headers={
            "Content-Type": CONTENT_TYPES[path.suffix.lower()],
            # Small files that change with the code: revalidate instead of caching stale ones.
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": CSP,
            "Referrer-Policy": "no-referrer",
        },
    )
    return response


async def to_agent_page(request: web.Request) -> web.StreamResponse:
    raise web.HTTPFound(AGENT_PAGE)


# --- GET /api/ui/config ----------------------------------------------------------------------


class WrapUpOut(BaseModel):
    mode: str
    seconds: float
    disposition_required: bool
    dispositions: list[str]


class QueueOut(BaseModel):
    id: str
    name: str
    channel: str
    service_level_threshold_s: float
    service_level_target: float
    wrap_up: WrapUpOut


class UiConfigOut(BaseModel):
    reason_codes: list[str]
    """Statuses an agent may choose besides ``available`` and ``offline``."""
    queues: list[QueueOut]
    crm_url_template: str | None = None
    """config/ui.yaml: the screen pop's link to an external CRM (placeholders in braces)."""
    canned_replies: list[str] = []
    """config/ui.yaml: ready-made chat replies."""


async def ui_config(request: web.Request) -> web.Response:
    authenticate(request, ANY_ROLE)
    config = services(request.app).acd.engine.config
    out = UiConfigOut(
        reason_codes=list(config.reason_codes),
        crm_url_template=request.app[UI_SETTINGS].crm_url_template,
        canned_replies=list(request.app[UI_SETTINGS].canned_replies),
        queues=[
            QueueOut(
                id=q.id,
                name=q.name or q.id,
                channel=q.channel.value,
                service_level_threshold_s=q.service_level.threshold_s,
                service_level_target=q.service_level.target,
                wrap_up=WrapUpOut(
                    mode=q.wrap_up.mode,
                    seconds=q.wrap_up.seconds,
                    disposition_required=q.wrap_up.disposition_required,
                    dispositions=list(q.wrap_up.dispositions),
                ),
            )
            for q in config.queues
        ],
    )
    return web.json_response(out.model_dump(mode="json"))


# --- GET /api/agents -------------------------------------------------------------------------


class AgentOut(BaseModel):
    agent_id: str
    display_name: str
    team: str
    status: str
    """``available``, ``offline`` or a reason code (chosen by the agent)."""
    activity: str
    """Derived by the engine: offline, idle, offered, on_contact, on_hold, wrap_up,
    not_responding."""
    state: str
    """The supervisor's label: ``not_ready`` for an idle agent on a reason code, else the
    activity (as in the statistics fold's agents_by_state)."""
    next_status: str | None
    status_since: float
    activity_since: float
    since: float
    """When ``state`` last changed: the later of the two timestamps above."""
    contacts: dict[str, str]
    queues: list[str]
    """Queues whose required skills this agent has."""


class AgentsOut(BaseModel):
    now: float
    """The server's clock, for time in state without trusting the browser's clock."""
    agents: list[AgentOut]
    by_queue: dict[str, dict[str, int]]
    """Per queue, the logged-in agents skilled for it, counted by ``state``."""


def state_label(status: str, activity: str) -> str:
    if status != "available" and activity == "idle":
        return "not_ready"
    return activity


async def agents(request: web.Request) -> web.Response:
    authenticate(request, SUPERVISOR_ROLES)
    acd = services(request.app).acd
    engine = acd.engine
    # Names and teams are not in the engine's snapshot; one indexed query per poll.
    profiles = {p.agent_id: p for p in await list_agents(request.app[POOL])}
    required = {q.id: dict(q.skills) for q in engine.config.queues}
    by_queue: dict[str, dict[str, int]] = {qid: {} for qid in required}
    rows: list[AgentOut] = []
    snapshots: list[AgentSnapshot] = sorted(engine.agents(), key=lambda a: a.id)
    for snap in snapshots:
        label = state_label(snap.status, snap.activity)
        queues = [qid for qid, skills in required.items() if skilled_for(snap.skills, skills)]
        if snap.activity != "offline":
            for qid in queues:
                by_queue[qid][label] = by_queue[qid].get(label, 0) + 1
        profile = profiles.get(snap.id)
        rows.append(
            AgentOut(
                agent_id=snap.id,
                display_name=profile.display_name if profile else snap.id,
                team=snap.team or ((profile.team or "") if profile else ""),
                status=snap.status,
                activity=snap.activity,
                state=label,
                next_status=snap.next_status,
                status_since=snap.status_since,
                activity_since=snap.activity_since,
                since=max(snap.status_since, snap.activity_since),
                contacts=snap.contacts,
                queues=queues,
            )
        )
    out = AgentsOut(now=acd.clock(), agents=rows, by_queue=by_queue)
    return web.json_response(out.model_dump(mode="json"))


class AvailableAgentOut(BaseModel):
    agent_id: str
    display_name: str
    team: str
    queues: list[str]


class AvailableAgentsOut(BaseModel):
    agents: list[AvailableAgentOut]
    """Agents available and idle now (transfer targets), by name."""


async def available_agents(request: web.Request) -> web.Response:
    """Who an agent can transfer to right now: logged in, available and idle."""
    claims = authenticate(request, ANY_ROLE)
    engine = services(request.app).acd.engine
    profiles = {p.agent_id: p for p in await list_agents(request.app[POOL])}
    required = {q.id: dict(q.skills) for q in engine.config.queues}
    rows = []
    for snap in engine.agents():
        if snap.id == claims.user_id or snap.status != "available" or snap.activity != "idle":
            continue
        profile = profiles.get(snap.id)
        rows.append(
            AvailableAgentOut(
                agent_id=snap.id,
                display_name=profile.display_name if profile else snap.id,
                team=snap.team or ((profile.team or "") if profile else ""),
                queues=[q for q, skills in required.items() if skilled_for(snap.skills, skills)],
            )
        )
    rows.sort(key=lambda r: (r.display_name.lower(), r.agent_id))
    return web.json_response(AvailableAgentsOut(agents=rows).model_dump(mode="json"))


def routes() -> list[web.RouteDef]:
    """The pages and their API."""
    if not (UI_DIR / "agent.html").is_file():
        # A wheel install without the repository: the API still works, the pages 404.
        log.warning("browser pages not found at %s; /ui/ will answer 404", UI_DIR)
    return [
        web.get("/", to_agent_page),
        web.get("/ui", to_agent_page),
        web.get("/ui/", to_agent_page),
        web.get("/ui/{path:.+}", static_file),
        web.get("/api/ui/config", ui_config),
        web.get("/api/agents", agents),
        web.get("/api/ui/available-agents", available_agents),
    ]


__all__ = ["UI_DIR", "UiSettings", "load_ui_settings", "resolve_static", "routes"]
