"""The typed application keys of the services the composition root (app.py) builds.

Only the root sets them. Route handlers written as module functions (supervisor, ui,
health, campaigns' API) read them, the services through ``services(app)``; a service
whose own module defines its class never reads its own key (the root routes to its
methods instead), so no import cycle runs through this module."""

from __future__ import annotations

from aiohttp import web

from contactcenter.campaigns.runner import Timing
from contactcenter.node import Node
from contactcenter.readiness import Readiness
from contactcenter.services import Services
from contactcenter.store import Database, EventLog
from contactcenter.ui_settings import UiSettings

DATABASE: web.AppKey[Database | None] = web.AppKey("database")
"""The database this app opened (None: the pool was given, e.g. by tests)."""
EVENT_LOG: web.AppKey[EventLog] = web.AppKey("event_log", EventLog)
NODE: web.AppKey[Node[Services]] = web.AppKey("node", Node)
"""The node: its current generation of services (a fail-stop replaces it, node.py)."""
READINESS: web.AppKey[Readiness] = web.AppKey("readiness", Readiness)
UI_SETTINGS: web.AppKey[UiSettings] = web.AppKey("ui_settings", UiSettings)
CAMPAIGN_TIMING: web.AppKey[Timing] = web.AppKey("campaign_timing", Timing)
"""Tests set faster pacing here before the app starts."""


def services(app: web.Application) -> Services:
    """The services of the node's current generation: read per request, never kept (a
    fail-stop replaces them)."""
    return app[NODE].services
