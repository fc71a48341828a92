"""Helpers for the campaign tests: the real app with a campaign queue and short runner
ticks, on a real socket, with an optional shifted clock (calling windows are local times:
the tests pin the time of day instead of depending on when they run)."""

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
from contactcenter.clock import AsyncioScheduler
from contactcenter.settings import Settings
from routing import RoutingConfig
from routing.policy import parse_routing_config
from tests.contactcenter.server_support import CONFIG_DIR

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


def clock_at(utc_hour: float) -> Callable[[], float]:
    """A clock running at real speed whose time of day (UTC) starts at ``utc_hour``."""
    now = time.time()
    day = now - now % 86_400
    offset = day + utc_hour * 3600 - now
    return lambda: time.time() + offset


@asynccontextmanager
async def campaign_app(
    settings: Settings,
    pool: Any,
    *,
    clock: Callable[[], float] = time.time,
    tick_s: float = 0.05,
) -> AsyncIterator[TestClient[Any, Any]]:
    app: web.Application = create_app(
        settings,
        pool=pool,
        routing_config=routing_with_campaign_queue(),
        dnis_map={"+18005550100": "sales"},
        scheduler=AsyncioScheduler(clock),
        campaign_timing=Timing(tick_s=tick_s),
    )
    async with TestServer(app, host="127.0.0.1") as server, TestClient(server) as client:
        yield client
