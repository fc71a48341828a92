"""The console's voice controls in headless Chromium against the real server, PostgreSQL
and the simulated carrier: the Mute toggle (button and Alt+M) reaches the carrier, keypad
keys (clicked, and by keyboard after Alt+K) reach the line, and a transfer to an external
number typed in the transfer form sends the call out, leaving the agent in wrap-up and the
call log row ``transferred`` to that number. Screenshot at 1366x768 in test-output/."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg
from playwright.async_api import Browser, expect

from contactcenter.carrier import Carrier, CarrierConfig
from contactcenter.settings import Settings
from contactcenter.store.interactions import get_interaction
from tests.agent_ui.support import VIEWPORT, patient_config
from tests.agent_ui.test_browser import PageWatch, not_pwned, sign_in
from tests.contactcenter.server_support import add_agent, gateway_key, running_app

OUT = Path(__file__).resolve().parents[2] / "test-output"
TIMEOUT_MS = 20_000


async def until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    """Polls the simulated carrier's state: it is a real peer (its own websocket, its
    own real-time delays), not a server timer."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)  # real time: the carrier hears the command


async def test_mute_keypad_and_external_transfer_from_the_console(
    db: asyncpg.Pool, cc_settings: Settings, browser: Browser
) -> None:
    OUT.mkdir(exist_ok=True)
    await add_agent(db, "alice", {"sales": 8})
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
        context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        try:
            async with carrier.serving():
                page = await context.new_page()
                watch = PageWatch(page)
                await sign_in(page, base + "/ui/agent.html", "alice")
                await expect(page.locator("#connection")).to_have_text("connected")
                await page.get_by_label("Status", exact=True).select_option("available")
                await expect(page.locator("#activity")).to_have_text("idle")

                call = asyncio.create_task(carrier.call(queue="sales", patience=60, talk=math.inf))
                await until(lambda: bool(carrier.result.calls))
                cid = carrier.result.calls[0].call_id
                card = page.locator(f'.contact[data-contact-id="{cid}"]')
                await card.get_by_role("button", name="Accept").click()
                await expect(card).to_have_attribute("data-state", "connected")

                # Mute: a toggle whose state is the server's (agent_state.muted)
                mute = card.locator("button.mute")
                await expect(mute).to_have_text("Mute")
                await expect(mute).to_have_attribute("aria-pressed", "false")
                await mute.click()
                await expect(mute).to_have_text("Unmute")
                await expect(mute).to_have_attribute("aria-pressed", "true")
                await until(lambda: carrier.mutes.get(cid) == [True])
                await page.keyboard.press("Alt+m")
                await expect(mute).to_have_text("Mute")
                await until(lambda: carrier.mutes.get(cid) == [True, False])

                # the keypad: labelled keys, by pointer and by keyboard
                keypad = card.get_by_role("group", name="Keypad (tones into the call)")
                await expect(keypad.get_by_role("button")).to_have_count(12)
                await keypad.get_by_role("button", name="Key 4").click()
                await keypad.get_by_role("button", name="Key star").click()
                await keypad.get_by_role("button", name="Key pound").click()
                await until(lambda: carrier.dtmf.get(cid) == "4*#")
                await page.keyboard.press("Alt+k")
                await expect(keypad.get_by_role("button", name="Key 1")).to_be_focused()
                await page.keyboard.press("Enter")
                await until(lambda: carrier.dtmf.get(cid) == "4*#1")
                await expect(page.locator("#notice")).to_contain_text("Sent 1 key(s)")
                await page.screenshot(path=str(OUT / "console-voice-controls.png"))

                # a bad number is refused with the server's reason; nothing is sent
                number = card.get_by_label("or number")
                await number.fill("call me")
                await card.get_by_role("button", name="Transfer", exact=True).click()
                await expect(page.locator("#notice")).to_contain_text("not a phone number")
                await expect(card).to_have_attribute("data-state", "connected")

                # external transfer from the transfer form
                await number.fill("+1 (212) 555-0199")
                await card.get_by_role("button", name="Transfer", exact=True).click()
                await expect(card).to_have_attribute("data-state", "wrap_up")
                await expect(page.locator("#activity")).to_have_text("wrap up")
                record = await asyncio.wait_for(call, 10)
                assert record.ended_by == "server"
                assert carrier.transfers == {cid: "+12125550199"}
                await card.get_by_label("Disposition (required)").select_option("callback")
                await card.get_by_role("button", name="Done").click()
                await expect(card).to_have_count(0)
                await expect(page.locator("#activity")).to_have_text("idle")
                await not_pwned(page)
                assert watch.problems == []
        finally:
            await context.close()

    row = await get_interaction(db, cid)
    assert row is not None
    assert (row.outcome, row.outcome_reason, row.disposition) == (
        "transferred",
        "+12125550199",
        "callback",
    )
