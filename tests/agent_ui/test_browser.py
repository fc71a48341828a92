"""The browser pages against the real server: headless Chromium driven by Playwright.

An agent logs in on the agent page, a call comes from the simulated carrier through the
gateway contract, the screen pop shows a customer whose name is HTML and script (it must
show as text, and nothing may run), the agent accepts, ends and wraps up; meanwhile a
supervisor page in a second browser context shows the queue's numbers change. The
interaction row in PostgreSQL has the disposition and notes typed in the browser.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

import asyncpg
from playwright.async_api import Browser, Page, expect

from contactcenter.appkeys import NODE
from contactcenter.carrier import Carrier, CarrierConfig, CarrierResult
from contactcenter.settings import Settings
from contactcenter.store import EventLog, EventRecord
from contactcenter.store.customers import CustomerIn, upsert_customer
from contactcenter.store.interactions import get_interaction
from contactcenter.store.users import create_user
from tests.agent_ui.support import VIEWPORT, patient_config
from tests.contactcenter.server_support import (
    PASSWORD,
    add_agent,
    gateway_headers,
    gateway_key,
    running_app,
)

EVIL_NAME = 'Eve <img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> Mallory'
EVIL_NOTES = "<b>router</b> reset <script>window.__pwned=3</script>"
EVIL_PLAN = '<a href="javascript:window.__pwned=4">family</a>'
CALLER = "+14155550177"
TIMEOUT_MS = 20_000


class PageWatch:
    """Collects what must not happen on a page: script errors and dialogs (an XSS that
    ran would typically raise or alert)."""

    def __init__(self, page: Page) -> None:
        self.problems: list[str] = []
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))
        page.on("dialog", self._dialog)
        page.on(
            "console",
            lambda msg: (
                self.problems.append(f"console {msg.type}: {msg.text}")
                if msg.type == "error"
                else None
            ),
        )

    async def _dialog(self, dialog: Any) -> None:
        self.problems.append(f"dialog: {dialog.message}")
        await dialog.dismiss()


async def seed(db: asyncpg.Pool) -> str:
    """Users, alice's agent profile, and a customer with markup everywhere; his earlier
    call (to support, wrapped up by alice) appears in the screen pop."""
    await create_user(
        db, username="sam", password=PASSWORD, role="supervisor", display_name="Sam Supervisor"
    )
    await add_agent(db, "alice", {"sales": 8})
    customer = await upsert_customer(
        db,
        CustomerIn(
            name=EVIL_NAME,
            account_number="ACC-<b>9</b>",
            phones=[CALLER],
            tier="gold",
            attributes={"plan": EVIL_PLAN, "since": 2019},
        ),
    )
    t = 1_700_000_000.0
    story = [
        (
            "contact.arrived",
            t,
            None,
            {"channel": "voice", "ani": CALLER, "customer_id": customer.id},
        ),
        (
            "contact.queued",
            t + 1,
            None,
            {"channel": "voice", "priority": 0, "enqueued_at": t + 1, "step": "anyone"},
        ),
        ("contact.answered", t + 5, "alice", {"wait_s": 4.0}),
        ("contact.ended", t + 65, "alice", {"talk_s": 60.0, "hold_s": 0.0, "ended_by": "agent"}),
        (
            "wrapup.completed",
            t + 80,
            "alice",
            {"wrapup_s": 15.0, "disposition": "resolved", "notes": EVIL_NOTES, "timed_out": False},
        ),
    ]
    async with EventLog(db) as log:
        await log.append(
            [
                EventRecord(
                    type=kind,
                    ts=ts,
                    contact_id="old-1",
                    agent_id=agent,
                    queue_id="support",
                    data=data,
                )
                for kind, ts, agent, data in story
            ]
        )
    return customer.id


async def sign_in(page: Page, url: str, username: str) -> None:
    await page.goto(url)
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()


async def not_pwned(page: Page) -> None:
    assert await page.evaluate("() => window.__pwned === undefined"), "injected script ran"


async def test_agent_takes_a_carrier_call_while_the_supervisor_watches(
    db: asyncpg.Pool, cc_settings: Settings, browser: Browser, tmp_path: Path
) -> None:
    customer_id = await seed(db)
    expect.set_options(timeout=TIMEOUT_MS)
    async with running_app(cc_settings, db, patient_config()) as client:
        base = str(client.make_url("")).rstrip("/")
        agent_context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        supervisor_context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        agent = await agent_context.new_page()
        boss = await supervisor_context.new_page()
        agent_watch, boss_watch = PageWatch(agent), PageWatch(boss)
        carrier_task: asyncio.Task[CarrierResult] | None = None
        try:
            # / redirects to the agent page; an agent signs in and the socket connects
            await agent.goto(base + "/")
            await agent.screenshot(path=str(tmp_path / "agent-login.png"))
            await expect(agent.get_by_role("button", name="Log out")).to_be_hidden()
            await expect(agent.get_by_label("Status")).to_be_hidden()
            await sign_in(agent, base + "/", "alice")
            assert agent.url == base + "/ui/agent.html"
            await expect(agent.locator("#connection")).to_have_text("connected")
            await expect(agent.locator("#activity")).to_have_text("offline")
            await expect(agent.locator("#user-name")).to_contain_text("alice")
            status = agent.get_by_label("Status")
            # the reason codes of routing.yaml are offered
            options = await status.locator("option").evaluate_all("els => els.map(e => e.value)")
            assert options == [
                "available",
                "break",
                "lunch",
                "training",
                "meeting",
                "coaching",
                "offline",
            ]
            await status.select_option("break")
            await expect(agent.locator("#activity")).to_have_text("idle")

            # the supervisor signs in (an agent may not) and sees the queues and alice
            await sign_in(boss, base + "/ui/supervisor.html", "alice")
            await expect(boss.locator("#login-error")).to_contain_text("supervisor")
            await boss.get_by_label("Password").fill(PASSWORD)
            await boss.get_by_label("Username").fill("sam")
            await boss.get_by_role("button", name="Sign in").click()
            sales = boss.locator('#tiles [data-queue="sales"]')
            await expect(sales.locator(".waiting .value")).to_have_text("0")
            await expect(sales.locator(".offered .value")).to_have_text("0")
            await expect(sales.locator(".answered .value")).to_have_text("0")
            await expect(sales.locator(".formula")).to_have_text(
                "SL = answered within 20 s / (answered + abandoned); "
                "abandons under 5 s are not counted"
            )
            await expect(boss.locator("#live")).to_have_text("live")
            alice_row = boss.locator('#agents tr[data-agent="alice"]')
            await expect(alice_row.locator(".state")).to_have_text("not ready")
            await expect(alice_row.locator(".status")).to_have_text("break")
            await expect(
                sales.locator('.agent-counts [data-state="not_ready"] .count')
            ).to_have_text("1")

            # the simulated carrier places one call from the customer's number; alice is on
            # break, so it waits
            carrier = Carrier(
                CarrierConfig(
                    url=base,
                    gateway_key=gateway_key(cc_settings),
                    rate=20.0,
                    duration=1.0,
                    max_calls=1,
                    patience_mean=600.0,
                    talk_mean=600.0,
                    dnis="+18005550100",
                    anis=(CALLER,),
                    fixed_times=True,
                    call_prefix="ui",
                    drain=120.0,
                )
            )
            carrier_task = asyncio.create_task(carrier.run())
            await expect(sales.locator(".waiting .value")).to_have_text("1")
            await expect(sales.locator(".offered .value")).to_have_text("1")
            await expect(sales.locator(".longest-wait-s .value")).not_to_have_text("\u2014")

            # available: the offer and its screen pop arrive
            await status.select_option("available")
            card = agent.locator('.contact[data-contact-id="ui-1"]')
            await expect(card).to_have_attribute("data-state", "offered")
            await expect(card.locator(".customer-name")).to_have_text(EVIL_NAME)
            pop = card.locator(".pop")
            await expect(pop).to_contain_text("gold")
            await expect(pop).to_contain_text("ACC-<b>9</b>")
            await expect(pop).to_contain_text(EVIL_PLAN)
            await expect(pop).to_contain_text(CALLER)
            history = card.locator("table.history tbody tr")
            await expect(history).to_have_count(1)
            await expect(history.locator(".disposition")).to_have_text("resolved")
            await expect(history.locator(".notes")).to_have_text(EVIL_NOTES)
            # markup stayed text: no element was made from it, and nothing ran
            for tag in ("img", "script", "a:not(.crm-link)", "b"):
                await expect(card.locator(tag)).to_have_count(0)
            # the CRM link of config/ui.yaml, built with the customer's id
            await expect(card.locator("a.crm-link")).to_have_attribute(
                "href", f"https://crm.example.com/customers/{customer_id}"
            )
            await not_pwned(agent)
            await expect(card.get_by_role("button", name="Accept")).to_be_focused()
            await agent.screenshot(path=str(tmp_path / "agent-offer.png"))

            await card.get_by_role("button", name="Accept").click()
            await expect(card).to_have_attribute("data-state", "connected")
            await expect(agent.locator("#activity")).to_have_text("on contact")
            await expect(sales.locator(".waiting .value")).to_have_text("0")
            await expect(sales.locator(".answered .value")).to_have_text("1")
            await expect(sales.locator(".service-level .value")).to_have_text("100.0 %")
            await expect(alice_row.locator(".state")).to_have_text("on contact")
            await expect(alice_row.locator(".contacts")).to_contain_text("ui-1 (connected)")
            await boss.screenshot(path=str(tmp_path / "supervisor.png"))

            await card.get_by_role("button", name="End").click()
            await expect(card).to_have_attribute("data-state", "wrap_up")
            await expect(agent.locator("#activity")).to_have_text("wrap up")
            # the sales queue wants one of its dispositions
            await card.get_by_role("button", name="Done").click()
            await expect(card).to_have_attribute("data-state", "wrap_up")
            await card.get_by_label("Disposition (required)").select_option("sold")
            await card.get_by_label("Notes").fill("upgraded <i>plan</i>")
            await agent.screenshot(path=str(tmp_path / "agent-wrapup.png"))
            await card.get_by_role("button", name="Done").click()
            await expect(card).to_have_count(0)
            await expect(agent.locator("#activity")).to_have_text("idle")
            await expect(agent.locator("#no-contacts")).to_be_visible()
            await expect(alice_row.locator(".state")).to_have_text("idle")

            result = await asyncio.wait_for(carrier_task, 30)
            assert (result.placed, result.bridged, result.errors) == (1, 1, 0), result
            assert result.calls[0].agent_id == "alice"
            assert result.calls[0].ended_by == "server"  # alice ended it

            await not_pwned(agent)
            await not_pwned(boss)
            assert agent_watch.problems == [] and boss_watch.problems == []
        finally:
            if carrier_task is not None and not carrier_task.done():
                carrier_task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await carrier_task
            await agent_context.close()
            await supervisor_context.close()

    row = await get_interaction(db, "ui-1")
    assert row is not None
    assert (row.queue_id, row.agent_id, row.customer_id, row.outcome) == (
        "sales",
        "alice",
        customer_id,
        "handled",
    )
    assert (row.disposition, row.notes) == ("sold", "upgraded <i>plan</i>")
    assert row.ani == CALLER


async def test_unknown_caller_survives_a_reload_and_a_dropped_socket(
    db: asyncpg.Pool, cc_settings: Settings, browser: Browser
) -> None:
    """The pop says when nobody matches the caller; a reload brings the call in hand back
    with its pop (the channel replays), and a socket the server drops reconnects and
    resumes, catching up on the caller's hang-up that happened meanwhile."""
    await add_agent(db, "alice", {"sales": 8})
    expect.set_options(timeout=TIMEOUT_MS)
    async with running_app(cc_settings, db, patient_config()) as client:
        base = str(client.make_url("")).rstrip("/")
        context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        try:
            agent = await context.new_page()
            watch = PageWatch(agent)
            await sign_in(agent, base + "/ui/agent.html", "alice")
            await expect(agent.locator("#connection")).to_have_text("connected")
            await agent.get_by_label("Status").select_option("available")
            await expect(agent.locator("#activity")).to_have_text("idle")

            resp = await client.post(
                "/gateway/calls",
                headers=gateway_headers(cc_settings),
                json={"call_id": "anon-1", "ani": "+15550001111", "queue": "sales"},
            )
            assert resp.status == 201, await resp.text()
            card = agent.locator('.contact[data-contact-id="anon-1"]')
            await expect(card.locator(".customer-name")).to_have_text("Unknown caller")
            await expect(card.locator(".pop-message")).to_contain_text("no customer record matches")
            await expect(card.locator(".pop-message")).to_contain_text("+15550001111")
            await card.get_by_role("button", name="Accept").click()
            await expect(card).to_have_attribute("data-state", "connected")

            # a reload keeps the login (sessionStorage) and gets the call back with its pop
            await agent.reload()
            await expect(agent.locator("#connection")).to_have_text("connected")
            await expect(card).to_have_attribute("data-state", "connected")
            await expect(card.locator(".customer-name")).to_have_text("Unknown caller")
            await expect(agent.get_by_label("Status")).to_have_value("available")

            # the server drops the socket; the caller hangs up before the page is back
            channel = client.app[NODE].services.hub.channels["alice"]
            assert channel.ws is not None
            await channel.ws.close()
            hung_up = await client.post(
                "/gateway/calls/anon-1/hangup", headers=gateway_headers(cc_settings), json={}
            )
            assert hung_up.status == 200, await hung_up.text()
            await expect(agent.locator("#connection")).to_have_text("connected")
            await expect(card).to_have_attribute("data-state", "wrap_up")
            await expect(agent.locator("#notice")).to_contain_text("hung up")

            await card.get_by_label("Disposition (required)").select_option("callback")
            await card.get_by_role("button", name="Done").click()
            await expect(card).to_have_count(0)
            await expect(agent.locator("#activity")).to_have_text("idle")

            # logging out of the page logs the agent out of the queues at once
            await agent.get_by_role("button", name="Log out").click()
            await expect(agent.get_by_label("Username")).to_be_visible()
            engine = client.app[NODE].services.acd.engine
            for _ in range(100):
                if engine.agent("alice").status == "offline":
                    break
                # real time: polls for the logout the page sends (the browser's request,
                # then a commit); no server timer is involved
                await asyncio.sleep(0.1)
            assert engine.agent("alice").status == "offline"
            assert watch.problems == []
        finally:
            await context.close()

    row = await get_interaction(db, "anon-1")
    assert row is not None
    assert (row.agent_id, row.customer_id, row.outcome, row.disposition) == (
        "alice",
        None,
        "handled",
        "callback",
    )
