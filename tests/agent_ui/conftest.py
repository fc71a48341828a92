"""The headless Chromium every browser test drives (Debian's, through Playwright): one
browser per test session (per worker), started on first use. Each test opens browser
contexts of its own (``browser.new_context``) and closes them, so no cookie or storage
passes from one test to the next; starting Chromium once instead of per test saves about
a third of the browser tests' CPU time."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright

from tests.agent_ui.support import CHROMIUM_ARGS, chromium_path


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()  # fails, saying how to install it, when it is missing
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(
            executable_path=executable, args=CHROMIUM_ARGS, timeout=60_000
        )
        try:
            yield launched
        finally:
            await launched.close()
