"""The campaigns of this process: one ``CampaignRunner`` per started campaign, the
gateway's results and the ACD's committed events routed to them, and the lifecycle
(``cleanup_ctx``): campaigns left running by a previous process start again after
``rebuild`` (attempts without an outcome are marked lost, never re-dialed)."""

from __future__ import annotations

import logging

import asyncpg

from contactcenter.acd import Acd
from contactcenter.campaigns.runner import CampaignRunner, Timing, campaign_of
from contactcenter.clock import Scheduler
from contactcenter.gateway_contract import OriginateResultIn
from contactcenter.ports import GatewayDialer
from contactcenter.store import campaigns as store
from routing.events import Event, WrapUpCompleted

log = logging.getLogger(__name__)


class CampaignService:
    def __init__(
        self,
        acd: Acd,
        gateway: GatewayDialer,
        pool: asyncpg.Pool,
        timing: Timing,
        scheduler: Scheduler,
    ) -> None:
        self.acd = acd
        self.gateway = gateway
        self.pool = pool
        self.timing = timing
        self.scheduler = scheduler
        self.runners: dict[str, CampaignRunner] = {}
        self.dnc: set[str] = set()
        """Do-not-call numbers (store: dnc_numbers), one set shared by every campaign's
        compliance; the API and DNC dispositions add to it."""

    def add_dnc(self, number: str) -> None:
        """A number never to dial again, for every campaign of this process."""
        self.dnc.add(number)

    async def runner(self, campaign: store.Campaign) -> CampaignRunner:
        """The campaign's runner, built (and its cores rebuilt from the store) once."""
        r = self.runners.get(campaign.id)
        if r is None:
            r = CampaignRunner(
                campaign, self.acd, self.gateway, self.pool, self.timing, self.scheduler, self.dnc
            )
            await r.rebuild()
            self.runners[campaign.id] = r
        else:
            r.campaign = campaign
        return r

    async def start(self, campaign: store.Campaign) -> None:
        (await self.runner(campaign)).start()

    async def halt(self, campaign_id: str) -> None:
        r = self.runners.get(campaign_id)
        if r is not None:
            await r.halt()

    async def resume_running(self) -> None:
        self.dnc |= await store.dnc_numbers(self.pool)
        for campaign in await store.list_campaigns(self.pool, "running"):
            try:
                await self.start(campaign)
            except Exception:
                log.exception("campaign %s cannot start again", campaign.id)

    async def close(self) -> None:
        for r in self.runners.values():
            await r.close()

    async def result(self, body: OriginateResultIn) -> bool:
        campaign_id = campaign_of(body.call_id)
        if campaign_id is None:
            return False
        r = self.runners.get(campaign_id)
        if r is None:
            log.info(
                "result %s for %s: campaign not running here; ignored", body.result, body.call_id
            )
        else:
            await r.result(body)
        return True

    def on_contact_event(self, event: Event) -> bool:
        """Committed-event hook: the campaign's own calls go to their runner."""
        campaign_id = campaign_of(event.contact_id or "")
        r = self.runners.get(campaign_id) if campaign_id else None
        if r is not None:
            r.on_event(event)
        elif isinstance(event, WrapUpCompleted) and event.agent_id:
            # a click-to-dial call may be a preview-mode record's
            for runner in self.runners.values():
                if event.agent_id in runner.previews:
                    runner.spawn(runner.preview_done(event))
        return False  # the ACD bridges and hangs up as for any call
