"""Helpers for the campaign tests: the real app with a campaign queue and short runner
ticks, on a real socket, with its clock at a given time of day (calling windows are local
times: the tests pin the time of day instead of depending on when they run). The runner
tests give the app a ManualScheduler: its ticks and the 2-second connect deadline happen
when the test advances the clock."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import yaml
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from contactcenter.app import create_app
from contactcenter.campaigns.runner import Timing
from contactcenter.clock import AsyncioScheduler, ManualScheduler, Scheduler
from contactcenter.settings import Settings
from routing import RoutingConfig
from routing.policy import parse_routing_config
from tests.contactcenter.server_support import CONFIG_DIR, armed

CAMPAIGN_QUEUE = {
    "id": "outbound",
    "name": "Outbound campaigns",
    "channel": "voice",
    "skills": {"sales": 1},
    "priority": -5,
    "offer_timeout_s": 15,
    "wrap_up": {
        "mode": "mandatory",
        "disposition_required": True,
        "dispositions": ["done", "callback", "dnc"],
    },
}


def routing_with_campaign_queue() -> RoutingConfig:
    data = yaml.safe_load((CONFIG_DIR / "routing.yaml").read_text())
    data["queues"].append(CAMPAIGN_QUEUE)
    return parse_routing_config(yaml.safe_dump(data), "routing.yaml + outbound")


TICK_S = 0.05
"""The runner's tick in these tests (on a ManualScheduler its length only moves the clock;
it differs from the wallboard's 1 s so that ``runner_asleep`` can tell the two apart)."""


def at_hour(utc_hour: float) -> float:
    """Today at ``utc_hour`` (UTC): where a test's ManualScheduler starts."""
    now = time.time()
    return now - now % 86_400 + utc_hour * 3600


def clock_at(utc_hour: float) -> Callable[[], float]:
    """A clock running at real speed whose time of day (UTC) starts at ``utc_hour``."""
    offset = at_hour(utc_hour) - time.time()
    return lambda: time.time() + offset


@asynccontextmanager
async def campaign_app(
    settings: Settings,
    pool: Any,
    *,
    clock: Callable[[], float] = time.time,
    tick_s: float = TICK_S,
    scheduler: Scheduler | None = None,
) -> AsyncIterator[TestClient[Any, Any]]:
    """``scheduler``: the app's clock and timers (a ManualScheduler the test advances);
    without one, the wall clock or ``clock`` at real speed."""
    app: web.Application = create_app(
        settings,
        pool=pool,
        routing_config=routing_with_campaign_queue(),
        dnis_map={"+18005550100": "sales"},
        scheduler=scheduler or AsyncioScheduler(clock),
        campaign_timing=Timing(tick_s=tick_s),
    )
    async with TestServer(app, host="127.0.0.1") as server, TestClient(server) as client:
        yield client


async def runner_asleep(scheduler: ManualScheduler) -> None:
    """The campaign runner has finished its tick (its database work included) and sleeps:
    its next tick is set one tick from now."""
    await armed(scheduler, TICK_S, "the campaign runner's next tick")


async def ticks(scheduler: ManualScheduler, n: int = 3) -> None:
    """``n`` more runner ticks, each run to its end."""
    for _ in range(n):
        await runner_asleep(scheduler)
        await scheduler.advance(TICK_S)
    await runner_asleep(scheduler)
