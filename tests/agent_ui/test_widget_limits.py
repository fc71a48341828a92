"""The chat widget under config/chat.yaml's access rules, in headless Chromium against the
real server: a page embedded with ``?site=&key=`` passes its widget key to the chat socket
and chats; a start refused by a limit puts the visitor back at the start form with the
reason, instead of retrying."""

from __future__ import annotations

from pathlib import Path

import asyncpg
from playwright.async_api import Browser, expect

from contactcenter.settings import Settings
from tests.agent_ui.support import VIEWPORT
from tests.contactcenter.test_ivr_voice import copy_config, ivr_app

KEY = "k3y-of-the-shop-site-0123"
CHAT_YAML = f"""
limits:
  starts_per_ip_burst: 1
widget_keys:
  shop: {KEY}
"""


async def test_widget_sends_its_site_key_and_shows_a_refused_start(
    db: asyncpg.Pool, cc_settings: Settings, browser: Browser, tmp_path: Path
) -> None:
    config = copy_config(tmp_path / "config")
    (config / "chat.yaml").write_text(CHAT_YAML)
    expect.set_options(timeout=20_000)
    async with ivr_app(cc_settings, db, config_dir=config) as client:
        page_url = str(client.make_url("/ui/widget/index.html")) + f"?site=shop&key={KEY}"
        contexts = [await browser.new_context(viewport=VIEWPORT) for _ in range(2)]  # type: ignore[arg-type]
        try:
            first, second = [await c.new_page() for c in contexts]
            await first.goto(page_url)
            await first.get_by_label("Your name").fill("Ann")
            await first.get_by_label("Your question").fill("Hello")
            await first.get_by_role("button", name="Start chat").click()
            await expect(first.get_by_role("log")).to_contain_text("What can we help you with?")

            # one start per address in the burst: the second visitor is told, not looped
            await second.goto(page_url)
            await second.get_by_label("Your name").fill("Bob")
            await second.get_by_label("Your question").fill("Hi")
            await second.get_by_role("button", name="Start chat").click()
            await expect(second.locator("#start-form .hint")).to_contain_text(
                "too many chats started from this address"
            )
            await expect(second.get_by_role("button", name="Start chat")).to_be_visible()
        finally:
            for c in contexts:
                await c.close()
