"""The campaign HTTP API under ``/api/campaigns`` (docs/dialer.md, "Server runner").

Admins create campaigns, upload contact lists (CSV), start, pause and stop them, and add
numbers to the do-not-call list; supervisors and admins read campaigns and their live
statistics. 4xx errors are ``{"error": {"code", "message", "field"}}``, ``field`` naming
the offending field where there is one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NoReturn

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contactcenter.appkeys import services
from contactcenter.campaigns.csvload import CsvError, parse_contacts
from contactcenter.store import campaigns as store
from contactcenter.webcommon import POOL, authenticate, json_error, read_body, read_json
from routing.compliance import (
    AbandonLedger,
    CallingWindow,
    RegulatoryMode,
    RetryRules,
    normalize_number,
)
from routing.errors import UnknownQueue
from routing.pacing import PacingMode
from routing.stats import lines_per_ready_agent

ADMIN = frozenset({"admin"})
READERS = frozenset({"supervisor", "admin"})
BOARD_READERS = READERS | {"wallboard"}
"""The list and the live statistics: also the read-only wallboard token kind (the screen's
campaign tile); nothing else of this API."""
CAMPAIGN_ID = r"^[a-z0-9][a-z0-9_-]{0,31}$"
QUEUE_ID = r"^[A-Za-z0-9_.:@-]{1,64}$"
MAX_CSV_BYTES = 4 << 20


# --- models --------------------------------------------------------------------------------


class CampaignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=CAMPAIGN_ID)
    name: str = Field(min_length=1, max_length=100)
    queue: str = Field(pattern=QUEUE_ID)
    """The ACD queue answered calls wait in (lower priority than inbound queues)."""
    skills: dict[str, int] = Field(default_factory=dict, max_length=8)
    """Extra skills an agent needs for this campaign, on top of the queue's."""
    mode: PacingMode = PacingMode.PROGRESSIVE
    ratio: float = Field(1.0, gt=0, le=10)
    max_lines: int | None = Field(None, ge=1, le=1000)
    abandon_target: float = Field(0.02, gt=0, le=0.03)
    regulatory_mode: RegulatoryMode = RegulatoryMode.US
    calling_window: CallingWindow = CallingWindow()
    retry: RetryRules = RetryRules()
    ring_timeout_s: float = Field(26.0, ge=15, le=120)
    identification_message: str = Field("identification", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    amd_false_positive_rate: float = Field(0.0, ge=0, le=1)


class CampaignOut(BaseModel):
    id: str
    name: str
    queue: str
    skills: dict[str, int]
    mode: str
    ratio: float
    max_lines: int | None
    abandon_target: float
    regulatory_mode: str
    calling_window: dict[str, str]
    retry: dict[str, float]
    ring_timeout_s: float
    identification_message: str
    amd_false_positive_rate: float
    state: str
    started_at: float | None


class CampaignListOut(BaseModel):
    campaigns: list[CampaignOut]


class RejectedRow(BaseModel):
    line: int
    reason: str


class UploadOut(BaseModel):
    campaign_id: str
    accepted: int
    rejected: list[RejectedRow]


class WindowOut(BaseModel):
    start: float
    end: float
    lives: int
    abandons: int
    machines: int
    rate: float
    in_breach: bool
    headroom: float


class DialLevelOut(BaseModel):
    basis: str
    dials_last_tick: int
    lines_in_progress: int
    answered_waiting: int
    ready_agents: int
    busy_agents: int
    lines_per_ready_agent: float | None
    p_live: float | None
    tau: float | None


class StatsOut(BaseModel):
    campaign_id: str
    state: str
    mode: str
    contacts: dict[str, int]
    dials: int
    live_answers: int
    connected: int
    abandons: int
    machines: int
    busy: int
    no_answer: int
    failed: int
    lost: int
    abandon_rate: float
    """Abandons / live answers in the current ledger window (UK: with the AMD estimate)."""
    windows: list[WindowOut]
    talk_minutes_per_agent_hour: float | None
    """Talk of connected calls per staffed hour of the eligible agents (this run)."""
    agent_wait_s: float | None
    """Ready time of the eligible agents per connected call (this run)."""
    dial_level: DialLevelOut | None
    """The pacer's last decision; null when the campaign does not run in this process."""


class DncIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    numbers: list[str] = Field(min_length=1, max_length=10_000)


class DncOut(BaseModel):
    added: int
    invalid: list[str]


# --- helpers -------------------------------------------------------------------------------


def _fail(status: int, code: str, message: str, field: str | None = None) -> NoReturn:
    kinds: dict[int, type[web.HTTPException]] = {
        400: web.HTTPBadRequest,
        404: web.HTTPNotFound,
        409: web.HTTPConflict,
        413: web.HTTPRequestEntityTooLarge,
    }
    body = json_error(status, code, message, **({"field": field} if field else {})).text
    if status == 413:
        raise web.HTTPRequestEntityTooLarge(
            MAX_CSV_BYTES, 0, text=body, content_type="application/json"
        )
    raise kinds[status](text=body, content_type="application/json")


def _invalid(exc: ValidationError, code: str) -> NoReturn:
    err = exc.errors()[0]
    field = ".".join(str(x) for x in err["loc"]) or "body"
    message = "; ".join(
        f"{'.'.join(str(x) for x in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
    )
    _fail(400, code, message, field)


def campaign_out(c: store.Campaign) -> dict[str, Any]:
    return CampaignOut(
        id=c.id,
        name=c.name,
        queue=c.queue_id,
        skills=c.skills,
        mode=c.mode,
        ratio=c.ratio,
        max_lines=c.max_lines,
        abandon_target=c.abandon_target,
        regulatory_mode=c.regulatory_mode,
        calling_window={"start": c.window_start, "end": c.window_end},
        retry=RetryRules.model_validate(c.retry).model_dump(),
        ring_timeout_s=c.ring_timeout_s,
        identification_message=c.identification_message,
        amd_false_positive_rate=c.amd_false_positive_rate,
        state=c.state,
        started_at=c.started_at,
    ).model_dump(mode="json")


async def _campaign(request: web.Request) -> store.Campaign:
    campaign_id = request.match_info["campaign_id"]
    found = await store.get_campaign(request.app[POOL], campaign_id)
    if found is None:
        _fail(404, "unknown_campaign", f"no campaign {campaign_id!r}")
    return found


# --- handlers ------------------------------------------------------------------------------


async def create(request: web.Request) -> web.Response:
    authenticate(request, ADMIN)
    try:
        body = CampaignIn.model_validate(await read_json(request))
    except ValidationError as exc:
        _invalid(exc, "invalid_campaign")
    try:
        services(request.app).acd.engine.queue_config(body.queue)
    except UnknownQueue:
        _fail(400, "unknown_queue", f"queue {body.queue!r} is not in routing.yaml", "queue")
    campaign = store.Campaign(
        id=body.id,
        name=body.name,
        queue_id=body.queue,
        skills=body.skills,
        mode=body.mode.value,
        ratio=body.ratio,
        max_lines=body.max_lines,
        abandon_target=body.abandon_target,
        regulatory_mode=body.regulatory_mode.value,
        window_start=body.calling_window.start,
        window_end=body.calling_window.end,
        retry=body.retry.model_dump(),
        ring_timeout_s=body.ring_timeout_s,
        identification_message=body.identification_message,
        amd_false_positive_rate=body.amd_false_positive_rate,
    )
    created = await store.create_campaign(request.app[POOL], campaign)
    if created is None:
        _fail(409, "duplicate_campaign", f"campaign {body.id!r} exists already", "id")
    return web.json_response(campaign_out(created), status=201)


async def list_all(request: web.Request) -> web.Response:
    authenticate(request, BOARD_READERS)
    found = await store.list_campaigns(request.app[POOL])
    return web.json_response({"campaigns": [campaign_out(c) for c in found]})


async def get_one(request: web.Request) -> web.Response:
    authenticate(request, READERS)
    return web.json_response(campaign_out(await _campaign(request)))


async def upload(request: web.Request) -> web.Response:
    authenticate(request, ADMIN)
    campaign = await _campaign(request)
    if campaign.state == "stopped":
        _fail(409, "campaign_stopped", f"campaign {campaign.id} is stopped")
    raw = await read_body(request, MAX_CSV_BYTES)
    if raw is None:
        _fail(413, "body_too_large", f"the list exceeds {MAX_CSV_BYTES} bytes")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        _fail(400, "invalid_csv", f"the list is not UTF-8: {exc}", "body")
    if "\x00" in text:
        _fail(400, "invalid_csv", "the list holds a NUL character", "body")
    try:
        parsed = parse_contacts(text)
    except CsvError as exc:
        _fail(400, "invalid_csv", str(exc), exc.field)
    duplicates = await store.add_contacts(request.app[POOL], campaign.id, parsed.rows)
    rejected = [
        *parsed.rejected,
        *(
            {"line": line, "reason": f"number: {number} is already on this campaign's list"}
            for line, number in duplicates
        ),
    ]
    rejected.sort(key=lambda r: r["line"])
    return web.json_response(
        UploadOut(
            campaign_id=campaign.id,
            accepted=len(parsed.rows) - len(duplicates),
            rejected=[RejectedRow.model_validate(r) for r in rejected],
        ).model_dump()
    )


_TRANSITIONS = {
    "start": ({"draft", "paused", "running"}, "running"),
    "pause": ({"running", "paused"}, "paused"),
    "stop": ({"draft", "running", "paused", "stopped"}, "stopped"),
}


def _transition(action: str) -> Callable[[web.Request], Awaitable[web.Response]]:
    async def handler(request: web.Request) -> web.Response:
        return await transition(request, action)

    return handler


async def transition(request: web.Request, action: str) -> web.Response:
    authenticate(request, ADMIN)
    campaign = await _campaign(request)
    allowed, target = _TRANSITIONS[action]
    if campaign.state not in allowed:
        _fail(409, "illegal_transition", f"a {campaign.state} campaign cannot {action}")
    service = services(request.app).campaigns
    updated = await store.set_state(
        request.app[POOL], campaign.id, target, services(request.app).acd.clock()
    )
    assert updated is not None
    if target == "running":
        await service.start(updated)
    else:
        await service.halt(updated.id)
    return web.json_response(campaign_out(updated))


async def stats(request: web.Request) -> web.Response:
    authenticate(request, BOARD_READERS)
    campaign = await _campaign(request)
    return web.json_response(await campaign_stats(request.app, campaign))


async def campaign_stats(app: web.Application, c: store.Campaign) -> dict[str, Any]:
    pool = app[POOL]
    counts = await store.attempt_counts(pool, c.id)
    ledger = AbandonLedger(
        RegulatoryMode(c.regulatory_mode),
        start=c.started_at or 0.0,
        fp_rate=c.amd_false_positive_rate,
    )
    inputs = await store.ledger_inputs(pool, c.id)
    for kind, at in inputs:
        {
            "live": ledger.record_live,
            "abandon": ledger.record_abandon,
            "machine": ledger.record_machine,
        }[kind](at)
    now = services(app).acd.clock()
    windows = [
        WindowOut(
            start=w.start,
            end=w.end,
            lives=w.lives,
            abandons=w.abandons,
            machines=w.machines,
            rate=w.rate,
            in_breach=w.in_breach,
            headroom=w.headroom,
        )
        for w in ledger.windows()
    ]
    runner = services(app).campaigns.runners.get(c.id)
    talk_min = wait = None
    level = None
    if runner is not None:
        t = runner.agent_time
        talk_min = t.talk_minutes_per_agent_hour(await store.talk_seconds(pool, c.id))
        wait = t.wait_between_calls_s
        ready, busy = t.ready, t.busy
        est = runner.pacer.estimates(now)
        lines = len(runner.lines)
        level = DialLevelOut(
            basis=runner.pacer.last.basis,
            dials_last_tick=runner.pacer.last.dials,
            lines_in_progress=lines,
            answered_waiting=len(runner.live),
            ready_agents=ready,
            busy_agents=busy,
            lines_per_ready_agent=lines_per_ready_agent(lines + len(runner.live), ready),
            p_live=est["p_live"],
            tau=est["tau"],
        )
    live = sum(1 for kind, _ in inputs if kind == "live")
    out = StatsOut(
        campaign_id=c.id,
        state=c.state,
        mode=c.mode,
        contacts=await store.list_counts(pool, c.id),
        dials=sum(counts.values()),
        live_answers=live,
        connected=counts.get("connected", 0),
        abandons=counts.get("abandoned", 0),
        machines=counts.get("machine", 0),
        busy=counts.get("busy", 0),
        no_answer=counts.get("no_answer", 0),
        failed=counts.get("failed", 0) + counts.get("invalid_number", 0),
        lost=counts.get("lost", 0),
        abandon_rate=ledger.current(now).rate,
        windows=windows,
        talk_minutes_per_agent_hour=talk_min,
        agent_wait_s=wait,
        dial_level=level,
    )
    return out.model_dump(mode="json")


async def add_dnc(request: web.Request) -> web.Response:
    authenticate(request, ADMIN)
    try:
        body = DncIn.model_validate(await read_json(request))
    except ValidationError as exc:
        _invalid(exc, "invalid_dnc")
    good = [n for n in (normalize_number(x) for x in body.numbers) if n is not None]
    invalid = [x for x in body.numbers if normalize_number(x) is None]
    added = await store.add_dnc(request.app[POOL], sorted(set(good)))
    for number in good:  # running campaigns refuse them from now on
        services(request.app).campaigns.add_dnc(number)
    return web.json_response({"added": added, "invalid": invalid})


def routes() -> list[web.RouteDef]:
    return [
        web.post("/api/campaigns", create),
        web.get("/api/campaigns", list_all),
        web.get("/api/campaigns/{campaign_id}", get_one),
        web.post("/api/campaigns/{campaign_id}/contacts", upload),
        *(
            web.post(f"/api/campaigns/{{campaign_id}}/{action}", _transition(action))
            for action in _TRANSITIONS
        ),
        web.get("/api/campaigns/{campaign_id}/stats", stats),
        web.post("/api/dnc", add_dnc),
    ]
