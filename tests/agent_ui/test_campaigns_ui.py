"""Outbound campaigns in headless Chromium against the real server, PostgreSQL and the
simulated carrier: a supervisor watches a progressive campaign's figures move as the
carrier answers, an admin starts and pauses it from the page, the wallboard token's
screen shows the running campaign's tile, a campaign name and list attributes that are
markup show as text; in preview mode the agent sees the record and dials it."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import asyncpg
from playwright.async_api import Browser, Page, expect

from contactcenter.settings import Settings
from contactcenter.store.users import create_user
from tests.agent_ui.support import VIEWPORT
from tests.agent_ui.test_browser import PageWatch, not_pwned, sign_in
from tests.contactcenter.server_support import PASSWORD, add_agent, bearer, console, until
from tests.contactcenter.test_campaign_runner import (
    CLOCK_UTC_HOUR,
    carrier_for,
    create_campaign,
    start,
)
from tests.contactcenter.test_campaign_support import campaign_app, clock_at

OUT = Path(__file__).resolve().parents[2] / "test-output"
TIMEOUT_MS = 20_000
EVIL_CAMPAIGN = 'Spring <img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
EVIL_PLAN = '<b>gold</b><img src=x onerror="window.__pwned=3">'
EVIL_PERSON = "Ada <script>window.__pwned=4</script>"
PLAN_CSV = '"' + EVIL_PLAN.replace('"', '""') + '"'


def contact_list(rows: int) -> str:
    """New York numbers (callable at the pinned 17:00 UTC), the plan column is markup."""
    lines = ["number,name,timezone,plan"]
    lines += [
        f"+1212555{1000 + i},{EVIL_PERSON} {i},America/New_York,{PLAN_CSV}" for i in range(rows)
    ]
    return "\n".join(lines) + "\n"


async def campaign_state(client: Any, settings: Settings) -> str:
    resp = await client.get("/api/campaigns/spring", headers=bearer(settings, "sue", "supervisor"))
    assert resp.status == 200, await resp.text()
    state: str = (await resp.json())["state"]
    return state


async def figure(card: Any, key: str) -> int:
    return int(await card.locator(f".figure.{key} .value").inner_text())


async def test_supervisor_watches_a_progressive_campaign_and_an_admin_pauses_it(
    db: asyncpg.Pool, cc_settings: Settings, browser: Browser
) -> None:
    await create_user(db, username="root", password=PASSWORD, role="admin")
    await create_user(db, username="sam", password=PASSWORD, role="supervisor")
    await add_agent(db, "alice", {"sales": 5})
    OUT.mkdir(exist_ok=True)
    expect.set_options(timeout=TIMEOUT_MS)
    async with campaign_app(cc_settings, db, clock=clock_at(CLOCK_UTC_HOUR)) as client:
        await create_campaign(client, cc_settings, contact_list(8), name=EVIL_CAMPAIGN)
        base = str(client.make_url("")).rstrip("/")
        carrier = carrier_for(
            base,
            cc_settings,
            campaign_live=1.0,
            campaign_busy=0.0,
            campaign_machine=0.0,
            live_after=(0.3, 0.5),
            amd_human_latency=0.1,
        )
        sup_context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        admin_context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        try:
            boss, admin = await sup_context.new_page(), await admin_context.new_page()
            watches = [PageWatch(boss), PageWatch(admin)]
            async with carrier.serving(), console(client, cc_settings, "alice") as alice:
                assert (await alice.command("set_status", status="available"))["type"] == "reply"

                # the supervisor sees the draft campaign, its markup name as text, no buttons
                await sign_in(boss, base + "/ui/supervisor.html", "sam")
                card = boss.locator('#campaigns .campaign[data-campaign="spring"]')
                await expect(card.locator(".campaign-name")).to_have_text(EVIL_CAMPAIGN)
                await expect(card.locator(".state")).to_have_text("draft")
                await expect(card.locator(".figure.dials .value")).to_have_text("0")
                await expect(card.locator(".figure.contacts .value")).to_have_text("0 / 8")
                await expect(card.locator("button")).to_have_count(0)
                await expect(
                    boss.locator("#campaigns img, #campaigns script, #campaigns b")
                ).to_have_count(0)

                # the admin starts it from the page (its timers on a clock the test can
                # pause, below)
                await admin.clock.install()
                await sign_in(admin, base + "/ui/supervisor.html", "root")
                admin_card = admin.locator('#campaigns .campaign[data-campaign="spring"]')
                await expect(admin_card.locator(".state")).to_have_text("draft")
                await expect(admin_card.get_by_role("button", name="Pause")).to_be_disabled()
                await admin_card.get_by_role("button", name="Start").click()
                await expect(admin_card.locator(".state")).to_have_text("running")
                await expect(admin_card.get_by_role("button", name="Start")).to_be_disabled()

                # the carrier answers (a person, AMD human): alice gets it and talks
                offer = (await alice.next("offer", timeout=15))["data"]
                cid = offer["contact_id"]
                assert (await alice.command("accept", contact_id=cid))["type"] == "reply"
                await expect(card.locator(".state")).to_have_text("running")
                await expect(card.locator(".figure.dials .value")).not_to_have_text("0")
                await expect(card.locator(".figure.live-answers .value")).not_to_have_text("0")
                await expect(card.locator(".figure.connected .value")).to_have_text("1")
                await expect(card.locator(".dial-level")).to_contain_text("progressive")
                await expect(card.locator(".dial-level")).to_contain_text("lines per ready agent")
                rate = card.locator(".figure.abandon-rate")
                await expect(rate.locator(".value")).to_have_text("0.0 %")
                await expect(rate).to_have_attribute("data-alert", "ok")
                await expect(rate.locator(".sub")).to_contain_text("limit 3.0 %")
                await expect(rate.locator(".sub")).to_contain_text("headroom")
                dials_before = await figure(card, "dials")
                lives_before = await figure(card, "live-answers")

                # the read-only wallboard screen shows the running campaign's tile
                resp = await client.post(
                    "/api/supervisor/wallboard-token",
                    headers=bearer(cc_settings, "root", "admin"),
                    json={"name": "floor", "days": 1},
                )
                assert resp.status == 201, await resp.text()
                wb_token = (await resp.json())["token"]
                # the token kind reads the list and the statistics, nothing else of the API
                wb = {"Authorization": f"Bearer {wb_token}"}
                for path in ("/api/campaigns", "/api/campaigns/spring/stats"):
                    assert (await client.get(path, headers=wb)).status == 200, path
                assert (await client.get("/api/campaigns/spring", headers=wb)).status == 403
                for action in ("start", "pause", "stop"):
                    resp = await client.post(f"/api/campaigns/spring/{action}", headers=wb)
                    assert resp.status == 403, action
                screen = await sup_context.new_page()
                watches.append(PageWatch(screen))
                await screen.goto(f"{base}/ui/wallboard.html#token={wb_token}")
                tile = screen.locator('#campaign-tiles [data-campaign="spring"]')
                await expect(tile.locator("h3")).to_have_text(EVIL_CAMPAIGN)
                await expect(tile.locator(".figure.dial-level .sub")).to_contain_text("progressive")
                await expect(tile.locator(".windows li")).to_have_count(1)
                await expect(tile.locator(".windows li")).to_contain_text("0.0 %")
                await expect(tile.locator(".figure.talk-per-hour .name")).to_have_text(
                    "Talk min / agent hour"
                )
                await screen.screenshot(path=str(OUT / "campaigns-wallboard.png"))
                await boss.locator("#campaigns-section").screenshot(
                    path=str(OUT / "campaigns-supervisor.png")
                )

                # the call ends and is wrapped up; alice is ready: the next dial is answered
                assert (await alice.command("end", contact_id=cid))["type"] == "reply"
                done = await alice.command("wrapup", contact_id=cid, disposition="done")
                assert done["type"] == "reply", done
                second = (await alice.next("offer", timeout=15))["data"]
                assert second["contact_id"] != cid
                await expect(card.locator(".figure.dials .value")).not_to_have_text(
                    str(dials_before)
                )
                await expect(card.locator(".figure.live-answers .value")).not_to_have_text(
                    str(lives_before)
                )
                assert await figure(card, "dials") > dials_before
                assert await figure(card, "live-answers") > lives_before
                await expect(card.locator(".figure.talk-per-hour .value")).not_to_have_text(
                    "\u2014"
                )

                # the admin pauses it: the API says paused, every page follows
                await admin_card.get_by_role("button", name="Pause").click()
                await expect(admin_card.locator(".state")).to_have_text("paused")
                await expect(admin_card.locator(".campaign-error")).to_have_text("")
                assert await campaign_state(client, cc_settings) == "paused"
                await expect(card.locator(".state")).to_have_text("paused")
                await expect(screen.locator("#campaign-section")).to_be_hidden()
                await expect(admin_card.get_by_role("button", name="Start")).to_be_enabled()

                # stopped behind the admin page's back (its polls paused): the refused
                # start's JSON error shows on the card as text
                await admin.clock.pause_at(time.time() + 0.2)
                await admin.wait_for_load_state("networkidle")
                await expect(admin_card.locator(".state")).to_have_text("paused")
                resp = await client.post(
                    "/api/campaigns/spring/stop", headers=bearer(cc_settings, "root", "admin")
                )
                assert resp.status == 200, await resp.text()
                await admin_card.get_by_role("button", name="Start").click()
                await expect(admin_card.locator(".campaign-error")).to_have_text(
                    "start failed: a stopped campaign cannot start (illegal_transition)"
                )
                await admin.clock.resume()
                await expect(admin_card.locator(".state")).to_have_text("stopped")
                for name in ("Start", "Pause", "Stop"):
                    await expect(admin_card.get_by_role("button", name=name)).to_be_disabled()
                await expect(card.locator(".state")).to_have_text("stopped")
                for page in (boss, admin, screen):
                    await not_pwned(page)
                boss_watch, admin_watch, screen_watch = watches
                assert boss_watch.problems == [] and screen_watch.problems == []
                # the browser logs the refused start itself; nothing else went wrong
                assert admin_watch.problems == [
                    "console error: Failed to load resource: the "
                    "server responded with a status of 409 "
                    "(Conflict)"
                ]
        finally:
            await sup_context.close()
            await admin_context.close()


async def test_agent_sees_a_preview_record_and_dials_it(
    db: asyncpg.Pool, cc_settings: Settings, browser: Browser
) -> None:
    await add_agent(db, "alice", {"sales": 5})
    OUT.mkdir(exist_ok=True)
    expect.set_options(timeout=TIMEOUT_MS)
    async with campaign_app(cc_settings, db, clock=clock_at(CLOCK_UTC_HOUR)) as client:
        await create_campaign(
            client, cc_settings, contact_list(1), mode="preview", name=EVIL_CAMPAIGN
        )
        base = str(client.make_url("")).rstrip("/")
        # the agent's own call: the click-to-dial model answers it
        carrier = carrier_for(
            base, cc_settings, answer_probability=1.0, busy_probability=0.0, answer_delay=0.2
        )
        context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        try:
            agent: Page = await context.new_page()
            watch = PageWatch(agent)
            async with carrier.serving():
                await sign_in(agent, base + "/ui/agent.html", "alice")
                await expect(agent.locator("#connection")).to_have_text("connected")
                await agent.get_by_label("Status").select_option("available")
                await expect(agent.locator("#activity")).to_have_text("idle")
                await start(client, cc_settings)

                record = agent.locator("#previews .preview")
                await expect(record).to_have_count(1)
                await expect(record.locator(".preview-name")).to_have_text(f"{EVIL_PERSON} 0")
                await expect(record.locator(".preview-number")).to_have_text("+12125551000")
                await expect(record.locator('.preview-attribute[data-key="plan"]')).to_have_text(
                    EVIL_PLAN
                )
                await expect(record.locator(".preview-campaign")).to_have_text("spring")
                await expect(record).to_contain_text("Outbound campaigns")
                await expect(
                    agent.locator("#previews img, #previews script, #previews b")
                ).to_have_count(0)
                await not_pwned(agent)
                await agent.screenshot(path=str(OUT / "console-preview.png"))
                assert carrier.result.outbound == []  # preview: the dialer never dials

                await record.get_by_role("button", name="Dial").click()
                await expect(record).to_have_count(0)
                call = agent.locator("#contacts .contact")
                await expect(call).to_have_count(1)
                await expect(call).to_have_attribute("data-state", "connected")
                await expect(call.locator("h2")).to_contain_text("Outbound campaigns")
                await agent.screenshot(path=str(OUT / "console-call-from-preview.png"))
                (placed,) = carrier.result.outbound
                assert placed.number == "+12125551000" and placed.campaign_id is None

                # end and the campaign queue's required disposition close the record
                await call.get_by_role("button", name="End").click()
                await expect(call).to_have_attribute("data-state", "wrap_up")
                await call.get_by_label("Disposition (required)").select_option("done")
                await call.get_by_role("button", name="Done").click()
                await expect(agent.locator("#contacts .contact")).to_have_count(0)
                await until(lambda: db.fetchval("SELECT final FROM campaign_contacts"), 8.0)
            attempt = await db.fetchrow("SELECT state, agent_id FROM dial_attempts")
            assert (attempt["state"], attempt["agent_id"]) == ("connected", "alice")
            assert watch.problems == []
        finally:
            await context.close()
