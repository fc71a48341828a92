"""Liveness and readiness: ``GET /healthz`` and ``GET /readyz`` (no authentication).

Liveness answers whether the *process* works (its event loop serves requests); it does not
look at the database, because an orchestrator restarts a process whose liveness fails, and
restarting cannot fix a database outage. Readiness answers whether this process should get
traffic now: the database answers, the event log's writer runs and the ACD has rebuilt its
state from the log. A load balancer stops sending calls while it is 503.
"""

from __future__ import annotations

import asyncio
import time
from typing import Literal

from aiohttp import web
from pydantic import BaseModel

from contactcenter.appkeys import EVENT_LOG, READINESS
from contactcenter.readiness import Readiness
from contactcenter.webcommon import POOL

DB_CHECK_TIMEOUT_S = 2.0


class Liveness(BaseModel):
    status: Literal["ok"]
    uptime_s: float


class Check(BaseModel):
    ok: bool
    detail: str | None = None


class ReadyOut(BaseModel):
    """The readiness answer: every check, and the names of those that are not ready."""

    status: Literal["ready", "not_ready"]
    checks: dict[str, Check]
    not_ready: list[str]


async def healthz(request: web.Request) -> web.Response:
    state = request.app[READINESS]
    body = Liveness(status="ok", uptime_s=round(time.time() - state.started_at, 3))
    return web.json_response(body.model_dump())


async def _database(app: web.Application) -> Check:
    pool = app.get(POOL)
    if pool is None:
        return Check(ok=False, detail="the database is not open yet")
    try:
        await asyncio.wait_for(pool.fetchval("SELECT 1"), DB_CHECK_TIMEOUT_S)
    except TimeoutError:
        return Check(ok=False, detail=f"no answer within {DB_CHECK_TIMEOUT_S} s")
    except Exception as exc:
        return Check(ok=False, detail=f"{type(exc).__name__}: {exc}")
    return Check(ok=True)


def _event_log(app: web.Application) -> Check:
    event_log = app.get(EVENT_LOG)
    if event_log is None:
        return Check(ok=False, detail="the event log is not started yet")
    if not event_log.running:
        return Check(ok=False, detail="the event log writer is not running")
    return Check(ok=True)


def _acd(state: Readiness) -> Check:
    if state.stopping:
        return Check(ok=False, detail="the server is shutting down")
    if state.failed is not None:
        return Check(ok=False, detail=state.failed)
    if not state.acd_restored:
        return Check(ok=False, detail="the ACD has not finished restoring from the log")
    return Check(ok=True)


async def readyz(request: web.Request) -> web.Response:
    app = request.app
    checks = {
        "database": await _database(app),
        "event_log": _event_log(app),
        "acd": _acd(app[READINESS]),
    }
    failing = [name for name, check in checks.items() if not check.ok]
    body = ReadyOut(status="not_ready" if failing else "ready", checks=checks, not_ready=failing)
    return web.json_response(body.model_dump(), status=503 if failing else 200)


async def mark_stopping(app: web.Application) -> None:
    """``on_shutdown``: readiness fails from the moment the server starts stopping."""
    app[READINESS].stopping = True


def routes() -> list[web.RouteDef]:
    return [web.get("/healthz", healthz), web.get("/readyz", readyz)]
