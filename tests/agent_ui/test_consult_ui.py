"""Consult and conference from two consoles in headless Chromium against the real server,
PostgreSQL and the simulated carrier: Alice picks Bob in the transfer form and clicks
Consult, Bob's console shows the consult request with Accept consult, Alice's Complete /
Conference / Cancel controls follow the consult, a conference puts both agents on the
line at the carrier, Alice leaves with Alt+L and wraps up, Bob keeps the caller and ends
the call; the call log row is Bob's. Screenshot at 1366x768 in test-output/."""

from __future__ import annotations

import asyncio
import math
from pathlib import Path

import asyncpg
from playwright.async_api import Browser, Page, expect

from contactcenter.carrier import Carrier, CarrierConfig
from contactcenter.settings import Settings
from contactcenter.store.interactions import get_interaction
from tests.agent_ui.support import VIEWPORT, patient_config
from tests.agent_ui.test_browser import PageWatch, not_pwned, sign_in
from tests.agent_ui.test_voice_controls_ui import until
from tests.contactcenter.server_support import add_agent, gateway_key, running_app

OUT = Path(__file__).resolve().parents[2] / "test-output"
TIMEOUT_MS = 20_000


async def _available(page: Page, base: str, agent: str) -> None:
    await sign_in(page, base + "/ui/agent.html", agent)
    await expect(page.locator("#connection")).to_have_text("connected")
    await page.get_by_label("Status", exact=True).select_option("available")
    await expect(page.locator("#activity")).to_have_text("idle")


async def test_consult_then_conference_from_two_consoles(
    db: asyncpg.Pool, cc_settings: Settings, browser: Browser
) -> None:
    OUT.mkdir(exist_ok=True)
    await add_agent(db, "alice", {"sales": 8})
    await add_agent(db, "bob", {"sales": 8})
    expect.set_options(timeout=TIMEOUT_MS)
    async with running_app(cc_settings, db, patient_config()) as client:
        base = str(client.make_url("")).rstrip("/")
        carrier = Carrier(
            CarrierConfig(
                url=base,
                gateway_key=gateway_key(cc_settings),
                queue="sales",
                max_calls=0,
                fixed_times=True,
            )
        )
        alice_ctx = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        bob_ctx = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        try:
            async with carrier.serving():
                alice = await alice_ctx.new_page()
                bob = await bob_ctx.new_page()
                watches = [PageWatch(alice), PageWatch(bob)]
                await _available(alice, base, "alice")

                call = asyncio.create_task(carrier.call(queue="sales", patience=60, talk=math.inf))
                await until(lambda: bool(carrier.result.calls))
                cid = carrier.result.calls[0].call_id
                a_card = alice.locator(f'.contact[data-contact-id="{cid}"]')
                await a_card.get_by_role("button", name="Accept").click()
                await expect(a_card).to_have_attribute("data-state", "connected")
                await _available(bob, base, "bob")

                # Consult needs an agent: a queue picked is refused on the page
                consult = a_card.get_by_role("button", name="Consult", exact=True)
                await consult.click()
                await expect(alice.locator("#notice")).to_contain_text("Pick an available agent")
                select = a_card.locator("form.transfer select")
                await select.focus()
                await expect(select.locator('option[value="agent:bob"]')).to_have_count(1)
                await select.select_option("agent:bob")
                await consult.click()
                await expect(a_card).to_have_attribute("data-state", "consult_hold")
                await expect(alice.locator("#activity")).to_have_text("on hold")
                complete = a_card.get_by_role("button", name="Complete transfer")
                await expect(complete).to_be_disabled()  # Bob has not answered yet

                b_card = bob.locator(f'.contact[data-contact-id="{cid}"]')
                await expect(b_card).to_have_attribute("data-state", "consult_offered")
                await expect(b_card.locator("h2")).to_contain_text("Consult from alice")
                await expect(b_card.locator(".countdown")).to_contain_text("s to answer")
                await b_card.get_by_role("button", name="Accept consult").click()
                await expect(b_card).to_have_attribute("data-state", "consulting")
                await expect(complete).to_be_enabled()
                await until(lambda: carrier.consult_legs.get(cid) == ("alice", "bob"))
                await alice.screenshot(path=str(OUT / "console-consult.png"))

                await a_card.get_by_role("button", name="Conference").click()
                await expect(a_card).to_have_attribute("data-state", "conferenced")
                await expect(b_card).to_have_attribute("data-state", "conferenced")
                await until(lambda: carrier.joined.get(cid) == {"alice", "bob"})

                # Alice leaves by keyboard; Bob keeps the caller
                await alice.keyboard.press("Alt+l")
                await expect(a_card).to_have_attribute("data-state", "wrap_up")
                await expect(b_card).to_have_attribute("data-state", "connected")
                await expect(bob.locator("#notice")).to_contain_text("bob keeps the caller")
                await until(lambda: carrier.joined.get(cid) == {"bob"})
                await a_card.get_by_label("Disposition (required)").select_option("callback")
                await a_card.get_by_role("button", name="Done").click()
                await expect(a_card).to_have_count(0)

                await b_card.get_by_role("button", name="End").click()
                await expect(b_card).to_have_attribute("data-state", "wrap_up")
                record = await asyncio.wait_for(call, 10)
                assert record.ended_by == "server"
                await b_card.get_by_label("Disposition (required)").select_option("sold")
                await b_card.get_by_role("button", name="Done").click()
                await expect(b_card).to_have_count(0)
                for page in (alice, bob):
                    await not_pwned(page)
                assert [w.problems for w in watches] == [[], []]
        finally:
            await alice_ctx.close()
            await bob_ctx.close()

    row = await get_interaction(db, cid)
    assert row is not None
    assert (row.outcome, row.agent_id, row.disposition) == ("handled", "bob", "sold")
