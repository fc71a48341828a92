"""Supervisor actions, explanations and reports: REST under ``/api/supervisor/``.

- ``POST /api/supervisor/agents/{agent_id}/status`` ``{"status"}``: force a status (a
  not-ready status while the agent holds contacts becomes its next status, as when the
  agent chooses it). The agent must be logged in: a supervisor does not log anyone in.
- ``POST /api/supervisor/agents/{agent_id}/logout`` ``{"force": true}``: log out; with
  force, contacts in hand go back to their queues (``Engine.logout(force=True)``).
- ``PUT /api/supervisor/agents/{agent_id}/skills`` ``{"skills": {name: 1-10}}``: replace
  the skills in the engine (the next routing decision uses them) and in the stored profile.
- ``GET /api/supervisor/waiting``: the contacts waiting now, oldest first per queue.
- ``GET /api/supervisor/contacts/{contact_id}/explain``: ``Engine.explain``.
- ``GET /api/supervisor/reports/intervals?date=YYYY-MM-DD&interval=15|30[&queue=][&format=csv]``:
  the interval report of one UTC day, folded from the event log with the same statistics
  fold as the live figures.
- ``POST /api/supervisor/wallboard-token`` (admin) ``{"name", "days"}``: a long-lived,
  read-only token for a wallboard screen (token kind ``wallboard``); served by
  ``session_api.SessionService`` because the token is a stored, revocable session (its
  bodies are defined here).

Actions need the supervisor or admin role; the wallboard token kind is refused here (403).
Errors are JSON ``{"error": {"code", "message"}}``: 400 bad input, 404 unknown agent or
contact, 409 not possible in the current state, 503 event log failure.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contactcenter.acd import AcdUnavailable
from contactcenter.appkeys import services
from contactcenter.export.csvsafe import csv_writer
from contactcenter.store.users import UnknownUser, update_skills
from contactcenter.webcommon import POOL, authenticate, fail, read_json
from routing import Outcome
from routing.errors import InvalidStatus, RoutingError, UnknownAgent, UnknownContact
from routing.events import EVENT_TYPES, event_from_record
from routing.stats import StatsFold

log = logging.getLogger(__name__)

ACTION_ROLES = frozenset({"supervisor", "admin"})
ID_PATTERN = r"^[A-Za-z0-9_.:@-]{1,128}$"
_ID = re.compile(ID_PATTERN)
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
SKILL_NAME = r"^[A-Za-z0-9_.-]{1,64}$"
REPORT_PARAMS = frozenset({"date", "interval", "queue", "format", "raw_formulas"})


# --- bodies and answers ----------------------------------------------------------------------


class StatusIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: str = Field(min_length=1, max_length=64)


class LogoutIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    force: bool = True
    """Contacts in hand go back to their queues (else the logout waits for them)."""


class SkillsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    skills: dict[str, int] = Field(max_length=64)
    """Replaces all the agent's skills: name -> proficiency 1-10."""


class AgentActionOut(BaseModel):
    agent_id: str
    status: str
    activity: str
    next_status: str | None
    contacts: dict[str, str]
    skills: dict[str, int]


class WaitingOut(BaseModel):
    contact_id: str
    queue_id: str
    channel: str
    step: str
    priority: int
    wait_s: float
    ani: str | None


class WaitingListOut(BaseModel):
    now: float
    contacts: list[WaitingOut]


class ExplanationOut(BaseModel):
    contact_id: str
    state: str
    queue_id: str
    step: str
    step_index: int
    priority: int
    wait_s: float
    position: int | None
    eligible_logged_in: int
    eligible_routable: int
    eligible_by_activity: dict[str, int]
    agent_id: str | None
    decision: dict[str, Any] | None
    summary: str


class IntervalRow(BaseModel):
    queue_id: str
    interval_start: str
    """ISO 8601, UTC."""
    interval_end: str
    offered: int
    answered: int
    abandoned: int
    """Short abandons excluded (they are in ``short_abandoned``)."""
    short_abandoned: int
    flowed_out: int
    answered_within: int
    service_level: float | None
    asa_s: float | None
    abandon_rate: float | None
    aht_s: float | None
    occupancy: float | None


class IntervalReportOut(BaseModel):
    date: str
    interval_minutes: int
    queue: str | None
    rows: list[IntervalRow]


CSV_COLUMNS = list(IntervalRow.model_fields)


# --- helpers ---------------------------------------------------------------------------------


def _path_id(request: web.Request, key: str) -> str:
    value = request.match_info[key]
    if not _ID.match(value):
        fail(400, f"bad_{key}", f"{key} must match {ID_PATTERN}")
    return value


_Body = TypeVar("_Body", bound=BaseModel)


async def _body(request: web.Request, model: type[_Body]) -> _Body:
    try:
        return model.model_validate(await read_json(request))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(body)'}: {err['msg']}"
            for err in exc.errors()
        )
        fail(400, "invalid_body", problems)


def _routing_failure(exc: RoutingError) -> NoReturn:
    if isinstance(exc, UnknownAgent | UnknownContact):
        fail(404, exc.code, str(exc))
    if isinstance(exc, InvalidStatus):
        fail(400, exc.code, str(exc))
    fail(409, exc.code, str(exc))


async def _execute(request: web.Request, action: Callable[[float], Outcome]) -> None:
    try:
        await services(request.app).acd.execute(action)
    except RoutingError as exc:
        _routing_failure(exc)
    except AcdUnavailable as exc:
        fail(503, exc.code, str(exc))
    _poke(request.app)


def _poke(app: web.Application) -> None:
    # Skill changes log no event: tell the wallboard itself.
    services(app).wallboard.poke()


async def _agent_or_404(request: web.Request) -> str:
    agent_id = _path_id(request, "agent_id")
    if not await services(request.app).acd.ensure_agent(agent_id):
        fail(404, "unknown_agent", f"no enabled agent {agent_id!r}")
    return agent_id


def _agent_out(request: web.Request, agent_id: str) -> web.Response:
    snap = services(request.app).acd.engine.agent(agent_id)
    out = AgentActionOut(
        agent_id=snap.id,
        status=snap.status,
        activity=snap.activity,
        next_status=snap.next_status,
        contacts=snap.contacts,
        skills=snap.skills,
    )
    return web.json_response(out.model_dump(mode="json"))


# --- actions ---------------------------------------------------------------------------------


async def force_status(request: web.Request) -> web.Response:
    claims = authenticate(request, ACTION_ROLES)
    agent_id = await _agent_or_404(request)
    body: StatusIn = await _body(request, StatusIn)
    engine = services(request.app).acd.engine
    if engine.agent(agent_id).status == "offline" and body.status != "offline":
        fail(
            409,
            "not_logged_in",
            f"agent {agent_id} is not logged in; a supervisor cannot log an agent in",
        )
    status = body.status
    log.info("supervisor %s sets agent %s to %s", claims.user_id, agent_id, status)
    await _execute(request, lambda now: engine.set_status(agent_id, status, now))
    return _agent_out(request, agent_id)


async def force_logout(request: web.Request) -> web.Response:
    claims = authenticate(request, ACTION_ROLES)
    agent_id = await _agent_or_404(request)
    body: LogoutIn = await _body(request, LogoutIn)
    engine = services(request.app).acd.engine
    force = body.force
    log.info("supervisor %s logs agent %s out (force=%s)", claims.user_id, agent_id, force)
    await _execute(request, lambda now: engine.logout(agent_id, now, force=force))
    return _agent_out(request, agent_id)


async def change_skills(request: web.Request) -> web.Response:
    claims = authenticate(request, ACTION_ROLES)
    agent_id = await _agent_or_404(request)
    body: SkillsIn = await _body(request, SkillsIn)
    skills = dict(body.skills)
    for name, level in skills.items():
        if not re.match(SKILL_NAME, name):
            fail(400, "invalid_body", f"skill name {name!r} must match {SKILL_NAME}")
        if not 1 <= level <= 10:
            fail(400, "invalid_body", f"proficiency of {name!r} is {level}; use 1-10")
    engine = services(request.app).acd.engine
    log.info("supervisor %s sets skills of %s to %s", claims.user_id, agent_id, skills)
    await _execute(request, lambda now: engine.set_skills(agent_id, skills, now))
    try:
        # Stored too, so the change survives a restart (the engine already uses it).
        await update_skills(request.app[POOL], agent_id, skills, replace=True)
    except (UnknownUser, ValueError) as exc:
        log.warning("skills of %s changed live but not stored: %s", agent_id, exc)
    return _agent_out(request, agent_id)


# --- reading ---------------------------------------------------------------------------------


async def waiting(request: web.Request) -> web.Response:
    authenticate(request, ACTION_ROLES)
    acd = services(request.app).acd
    engine = acd.engine
    now = acd.clock()
    rows = []
    for cid in engine.waiting():
        c = engine.contact(cid)
        ani = c.data.get("ani")
        rows.append(
            WaitingOut(
                contact_id=c.id,
                queue_id=c.queue_id,
                channel=c.channel,
                step=c.step,
                priority=c.priority,
                wait_s=round(now - c.enqueued_at, 3),
                ani=ani if isinstance(ani, str) else None,
            )
        )
    rows.sort(key=lambda r: -r.wait_s)
    return web.json_response(WaitingListOut(now=now, contacts=rows).model_dump(mode="json"))


async def explain(request: web.Request) -> web.Response:
    authenticate(request, ACTION_ROLES)
    contact_id = _path_id(request, "contact_id")
    acd = services(request.app).acd
    try:
        found = acd.engine.explain(contact_id, acd.clock())
    except RoutingError as exc:
        _routing_failure(exc)
    return web.json_response(ExplanationOut(**asdict(found)).model_dump(mode="json"))


async def interval_report(request: web.Request) -> web.StreamResponse:
    authenticate(request, ACTION_ROLES)
    q = request.query
    unknown = sorted(set(q) - REPORT_PARAMS)
    if unknown:
        fail(
            400,
            "unknown_parameter",
            f"unknown query parameters {unknown}; use {sorted(REPORT_PARAMS)}",
        )
    acd = services(request.app).acd
    day_text = q.get("date")
    if day_text is None:
        day_text = datetime.fromtimestamp(acd.clock(), UTC).date().isoformat()
    try:
        if not re.match(DATE_PATTERN, day_text):
            raise ValueError(day_text)
        day = datetime.strptime(day_text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        fail(400, "bad_date", "date must be a calendar day as YYYY-MM-DD (UTC)")
    minutes_text = q.get("interval", "15")
    if minutes_text not in ("15", "30"):
        fail(400, "bad_interval", "interval must be 15 or 30 (minutes)")
    minutes = int(minutes_text)
    fmt = q.get("format", "json")
    if fmt not in ("json", "csv"):
        fail(400, "bad_format", "format must be json or csv")
    raw_formulas = q.get("raw_formulas", "0")
    if raw_formulas not in ("0", "1"):
        fail(400, "bad_raw_formulas", "raw_formulas must be 0 or 1")
    queue = q.get("queue")
    if queue is not None and queue not in acd.engine.queue_ids():
        fail(400, "unknown_queue", f"no queue {queue!r}")
    rows = await _fold_day(request, day, minutes * 60, queue)
    if fmt == "csv":
        text = io.StringIO()
        # cells a spreadsheet would run as formulas get a leading ' (csvsafe.py)
        writer = csv_writer(text, raw=raw_formulas == "1")
        writer.writerow(CSV_COLUMNS)
        for row in rows:
            values = row.model_dump()
            writer.writerow(values[k] for k in CSV_COLUMNS)
        name = f"intervals-{day_text}-{minutes}min{'-' + queue if queue else ''}.csv"
        return web.Response(
            text=text.getvalue(),
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    out = IntervalReportOut(date=day_text, interval_minutes=minutes, queue=queue, rows=rows)
    return web.json_response(out.model_dump(mode="json"))


async def _fold_day(
    request: web.Request, day: datetime, interval_s: int, queue: str | None
) -> list[IntervalRow]:
    """The day's events through a fresh statistics fold (the live figures' definitions)."""
    acd = services(request.app).acd
    fold = StatsFold(acd.engine.config.queues, interval_s=interval_s)
    end = day + timedelta(days=1)
    types = sorted(EVENT_TYPES)
    async with request.app[POOL].acquire() as conn, conn.transaction():
        cursor = conn.cursor(
            "SELECT ts, type, contact_id, agent_id, queue_id, data FROM events "
            "WHERE ts >= $1 AND ts < $2 AND type = ANY($3::text[]) ORDER BY seq",
            day,
            end,
            types,
            prefetch=2000,
        )
        async for r in cursor:
            try:
                event = event_from_record(
                    r["type"],
                    r["ts"].timestamp(),
                    r["contact_id"],
                    r["agent_id"],
                    r["queue_id"],
                    r["data"],
                )
            except (KeyError, TypeError):
                continue
            fold.apply(event)
    # Agent time up to the end of the day, or now for today.
    fold.flush_agents(min(end.timestamp(), acd.clock()))
    rows = []
    for row in fold.interval_rows(queue):
        start = float(row["interval_start"])
        if not day.timestamp() <= start < end.timestamp():
            continue
        rows.append(
            IntervalRow(
                queue_id=row["queue_id"],
                interval_start=datetime.fromtimestamp(start, UTC).isoformat(),
                interval_end=datetime.fromtimestamp(start + interval_s, UTC).isoformat(),
                **{
                    k: row[k]
                    for k in (
                        "offered",
                        "answered",
                        "abandoned",
                        "short_abandoned",
                        "flowed_out",
                        "answered_within",
                        "service_level",
                        "asa_s",
                        "abandon_rate",
                        "aht_s",
                        "occupancy",
                    )
                },
            )
        )
    return rows


def routes() -> list[web.RouteDef]:
    return [
        web.post("/api/supervisor/agents/{agent_id}/status", force_status),
        web.post("/api/supervisor/agents/{agent_id}/logout", force_logout),
        web.put("/api/supervisor/agents/{agent_id}/skills", change_skills),
        web.get("/api/supervisor/waiting", waiting),
        web.get("/api/supervisor/contacts/{contact_id}/explain", explain),
        web.get("/api/supervisor/reports/intervals", interval_report),
    ]


__all__ = [
    "AgentActionOut",
    "ExplanationOut",
    "IntervalReportOut",
    "SkillsIn",
    "StatusIn",
    "WaitingListOut",
    "routes",
]
