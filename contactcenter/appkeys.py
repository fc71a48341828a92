"""The typed application keys of the services the composition root (app.py) builds.

Only the root sets them. Route handlers written as module functions (supervisor, ui,
health, campaigns' API) read them; a service whose own module defines its class never
reads its own key (the root routes to its methods instead), so no import cycle runs
through this module."""

from __future__ import annotations

from aiohttp import web

from contactcenter.acd import Acd
from contactcenter.campaigns.runner import Timing
from contactcenter.campaigns.service import CampaignService
from contactcenter.readiness import Readiness
from contactcenter.store import Database, EventLog
from contactcenter.ui_settings import UiSettings
from contactcenter.wallboard import Wallboard

DATABASE: web.AppKey[Database | None] = web.AppKey("database")
"""The database this app opened (None: the pool was given, e.g. by tests)."""
EVENT_LOG: web.AppKey[EventLog] = web.AppKey("event_log", EventLog)
ACD: web.AppKey[Acd] = web.AppKey("acd", Acd)
READINESS: web.AppKey[Readiness] = web.AppKey("readiness", Readiness)
UI_SETTINGS: web.AppKey[UiSettings] = web.AppKey("ui_settings", UiSettings)
CAMPAIGNS: web.AppKey[CampaignService] = web.AppKey("campaigns", CampaignService)
CAMPAIGN_TIMING: web.AppKey[Timing] = web.AppKey("campaign_timing", Timing)
"""Tests set faster pacing here before the app starts."""
WALLBOARD_FEED: web.AppKey[Wallboard] = web.AppKey("wallboard", Wallboard)
