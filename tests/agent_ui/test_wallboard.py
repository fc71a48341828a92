"""The supervisor page and the wallboard screen in headless Chromium against the real
server and PostgreSQL: live tiles from the push feed as calls arrive through the gateway
contract, thresholds turning a tile amber, a forced break, why a contact waits, an
interval report (shown and downloaded as CSV) that matches the call log, an agent whose
name is markup shown as text, and the read-only screen with its own token. Screenshots at
1366x768 go to test-output/."""

from __future__ import annotations

import csv
import io
import time
from pathlib import Path
from typing import Any

import asyncpg
from playwright.async_api import Browser, expect

from contactcenter.appkeys import NODE
from contactcenter.settings import Settings
from contactcenter.store.users import AgentProfileIn, create_user, save_agent_profile
from tests.agent_ui.support import VIEWPORT, patient_config
from tests.agent_ui.test_browser import PageWatch, not_pwned, sign_in
from tests.contactcenter.server_support import (
    PASSWORD,
    add_agent,
    bearer,
    console,
    gateway_headers,
    running_app,
)

OUT = Path(__file__).resolve().parents[2] / "test-output"
EVIL_AGENT = 'Bob <img src=x onerror="window.__pwned=5"><script>window.__pwned=6</script>'
TIMEOUT_MS = 20_000


async def post_call(client: Any, settings: Settings, call_id: str, ani: str) -> None:
    resp = await client.post(
        "/gateway/calls",
        headers=gateway_headers(settings),
        json={"call_id": call_id, "ani": ani, "queue": "sales"},
    )
    assert resp.status == 201, await resp.text()


async def test_supervisor_watches_acts_and_reports(
    db: asyncpg.Pool, cc_settings: Settings, browser: Browser
) -> None:
    OUT.mkdir(exist_ok=True)
    await create_user(
        db, username="sam", password=PASSWORD, role="supervisor", display_name="Sam Supervisor"
    )
    await add_agent(db, "alice", {"sales": 8})
    await create_user(db, username="bob", password=PASSWORD, role="agent", display_name=EVIL_AGENT)
    await save_agent_profile(db, "bob", AgentProfileIn(skills={"sales": 5}, team="blue"))
    for i in range(12):  # a realistic grid for the screenshot
        await add_agent(db, f"agent{i:02d}", {"support": 4})
    expect.set_options(timeout=TIMEOUT_MS)
    async with running_app(cc_settings, db, patient_config()) as client:
        base = str(client.make_url("")).rstrip("/")
        context = await browser.new_context(viewport=VIEWPORT, accept_downloads=True)  # type: ignore[arg-type]
        screen_context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        try:
            boss = await context.new_page()
            watch = PageWatch(boss)
            async with (
                console(client, cc_settings, "alice") as alice,
                console(client, cc_settings, "bob") as bob,
            ):
                await alice.command("set_status", status="available")
                await bob.command("set_status", status="lunch")
                await sign_in(boss, base + "/ui/supervisor.html", "sam")
                opened = time.monotonic()
                await expect(boss.locator("#live")).to_have_text("live")
                sales = boss.locator('#tiles [data-queue="sales"]')
                await expect(sales.locator(".waiting .value")).to_have_text("0")
                await expect(sales).to_have_attribute("data-level", "ok")
                await expect(
                    sales.locator('.agent-counts [data-state="available"] .count')
                ).to_have_text("1")
                await expect(
                    sales.locator('.agent-counts [data-state="not_ready"] .count')
                ).to_have_text("1")
                # bob's name is markup: it shows as text, nothing ran
                bob_row = boss.locator('#agents tr[data-agent="bob"]')
                await expect(bob_row.locator("th")).to_contain_text(EVIL_AGENT)
                await expect(boss.locator("#agents img, #agents script")).to_have_count(0)

                # a call: offered to alice, answered, ended, wrapped up; tiles follow
                await post_call(client, cc_settings, "wb-1", "+15550002001")
                await alice.next("offer", contact_id="wb-1")
                await expect(sales.locator(".offered .value")).to_have_text("1")
                await alice.command("accept", contact_id="wb-1")
                alice_row = boss.locator('#agents tr[data-agent="alice"]')
                await expect(alice_row.locator(".state")).to_have_text("on contact")
                await expect(alice_row.locator(".contacts")).to_contain_text("wb-1")
                await expect(sales.locator(".answered .value")).to_have_text("1")
                await alice.command("end", contact_id="wb-1")
                await alice.command("wrapup", contact_id="wb-1", disposition="sold")
                await expect(alice_row.locator(".state")).to_have_text("idle")

                # the supervisor forces alice to break from the grid
                await alice_row.get_by_role("button", name="Manage").click()
                dialog = boss.locator("#manage")
                await expect(dialog).to_be_visible()
                await dialog.get_by_label("Force status").select_option("break")
                await dialog.get_by_role("button", name="Apply").click()
                await expect(dialog).to_be_hidden()
                await expect(alice_row.locator(".state")).to_have_text("not ready")
                await expect(alice_row.locator(".status")).to_have_text("break")
                await alice.next("agent_state", status="break")
                assert client.app[NODE].services.acd.engine.agent("alice").status == "break"

                # three more calls wait (nobody available): the sales tile turns amber
                for i in (2, 3, 4):
                    await post_call(client, cc_settings, f"wb-{i}", f"+1555000200{i}")
                await expect(sales.locator(".waiting .value")).to_have_text("3")
                await expect(sales).to_have_attribute("data-level", "amber")
                await expect(sales.locator(".figure.waiting")).to_have_attribute(
                    "data-alert", "amber"
                )
                await expect(sales.locator(".longest-wait-s .value")).not_to_have_text("\u2014")

                # why does wb-2 wait?
                await boss.get_by_role("button", name="Refresh").click()
                await boss.get_by_role("button", name="Why is wb-2 waiting?").click()
                explain = boss.locator("#explain")
                await expect(explain).to_contain_text("none is available")
                # step "experts" wants sales>=7: only alice (bob has 5)
                await expect(explain).to_contain_text("1 logged in, 0 routable")
                await expect(explain).to_contain_text("1 on break")

                # the interval report of today, shown and downloaded
                await boss.get_by_role("button", name="Show").click()
                report_rows = boss.locator('#report tbody tr[data-queue="sales"]')
                await expect(report_rows.first).to_be_visible()
                async with boss.expect_download() as info:
                    await boss.get_by_role("button", name="Download CSV").click()
                download = await info.value
                text = Path(await download.path()).read_text()
                parsed = [r for r in csv.DictReader(io.StringIO(text)) if r["queue_id"] == "sales"]
                log_rows = await db.fetch(
                    "SELECT contact_id, answered_at FROM interactions WHERE queue_id = 'sales'"
                )
                assert sum(int(r["offered"]) for r in parsed) == len(log_rows) == 4
                assert (
                    sum(int(r["answered"]) for r in parsed)
                    == sum(1 for r in log_rows if r["answered_at"] is not None)
                    == 1
                )
                shown = await report_rows.locator('[data-col="Offered"]').all_inner_texts()
                assert sum(int(x) for x in shown) == 4

                # trends: today's service level per 15 minutes, as bars (with the target)
                trend = boss.locator("#trend-queue")
                await trend.select_option("billing")
                await trend.select_option("sales")
                await expect(boss.locator("#trend-sl svg rect.bar").first).to_be_visible()
                await expect(boss.locator("#trend-sl svg .target-line")).to_have_count(1)
                await expect(boss.locator("#trend-waiting svg")).to_have_count(1)
                await boss.screenshot(path=str(OUT / "supervisor-full.png"), full_page=True)
                await boss.evaluate("window.scrollTo(0, 0)")
                await boss.screenshot(path=str(OUT / "supervisor.png"))
                # the feed is coalesced: at most one message per period (config/ui.yaml:
                # 0.25 s) since the page opened (test_supervisor_api.py checks a burst)
                messages = int(await boss.locator("#updated").get_attribute("data-messages") or 0)
                elapsed = time.monotonic() - opened
                assert 1 < messages <= elapsed / 0.25 + 2, (messages, elapsed)
                await not_pwned(boss)
                assert watch.problems == []

                # the read-only screen with its own token
                resp = await client.post(
                    "/api/supervisor/wallboard-token",
                    headers=bearer(cc_settings, "root", "admin"),
                    json={"name": "floor", "days": 30},
                )
                assert resp.status == 201
                wall_token = (await resp.json())["token"]
                screen = await screen_context.new_page()
                screen_watch = PageWatch(screen)
                await screen.goto(f"{base}/ui/wallboard.html#token={wall_token}")
                await expect(screen.locator("#live")).to_have_text("live")
                big = screen.locator('#tiles [data-queue="sales"]')
                await expect(big.locator(".waiting .value")).to_have_text("3")
                await expect(big).to_have_attribute("data-level", "amber")
                assert "token" not in screen.url  # taken out of the address bar
                await screen.screenshot(path=str(OUT / "wallboard.png"))
                assert screen_watch.problems == []
        finally:
            await context.close()
            await screen_context.close()
