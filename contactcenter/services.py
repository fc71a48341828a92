"""The services of one generation (what the composition root, app.py, builds), so that
handler modules can be typed against them without importing the root."""

from __future__ import annotations

from dataclasses import dataclass

from contactcenter.acd import Acd
from contactcenter.campaigns.service import CampaignService
from contactcenter.chat import ChatService
from contactcenter.clicktodial import ClickToDial
from contactcenter.clock import Scheduler
from contactcenter.consult import Consults
from contactcenter.gateway import Gateway, GatewayLink
from contactcenter.hooks import CommittedHooks
from contactcenter.hub import Consoles, Hub
from contactcenter.ivr_runner import IvrService
from contactcenter.session_api import SessionService
from contactcenter.store import EventLog
from contactcenter.voice import VoiceControls
from contactcenter.wallboard import Wallboard
from contactcenter.webcommon import Authenticator


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
