"""What the browser-page tests share: the Chromium to drive and a routing config that
waits for the test (no timed wrap-up, long offers) so a slow machine cannot flake it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from contactcenter.app import load_routing_config
from routing import RoutingConfig
from tests.contactcenter.server_support import CONFIG_DIR

CHROMIUM = Path(os.environ.get("CC_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1366, "height": 768}


def chromium_path() -> str:
    """Debian's Chromium; the browser tests fail (never skip) without it."""
    if not CHROMIUM.is_file() or not os.access(CHROMIUM, os.X_OK):
        pytest.fail(
            f"Chromium is not installed at {CHROMIUM}; the browser tests drive it with "
            "Playwright. Install it: `apt-get install chromium` (as root; .ci/run does this), "
            "or point CC_CHROMIUM at a Chromium/Chrome executable.",
            pytrace=False,
        )
    return str(CHROMIUM)


def patient_config() -> RoutingConfig:
    """config/routing.yaml with the sales queue's wrap-up mandatory and offers long, so
    the test decides when things happen, not a timer racing a busy CI machine."""
    config = load_routing_config(CONFIG_DIR)
    queues = tuple(
        q.model_copy(
            update={
                "wrap_up": q.wrap_up.model_copy(update={"mode": "mandatory"}),
                "offer_timeout_s": 120.0,
            }
        )
        if q.id == "sales"
        else q
        for q in config.queues
    )
    return config.model_copy(update={"queues": queues})
