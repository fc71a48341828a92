"""The agent console in headless Chromium: its socket URL carries no token, it renews its
short access token before expiry (the page's clock moved on by Playwright, not waited
for), and it goes back to the sign-in form when an admin disables its user."""

from __future__ import annotations

import asyncpg
from playwright.async_api import Browser, expect

from contactcenter.settings import Settings
from tests.agent_ui.support import VIEWPORT
from tests.agent_ui.test_browser import PageWatch, sign_in
from tests.contactcenter.server_support import add_agent, bearer, running_app, until

TIMEOUT_MS = 20_000


async def test_console_renews_its_token_and_leaves_when_disabled(
    db: asyncpg.Pool, cc_settings: Settings, browser: Browser
) -> None:
    await add_agent(db, "alice", {"sales": 8})
    expect.set_options(timeout=TIMEOUT_MS)
    async with running_app(cc_settings, db) as client:
        base = str(client.make_url("")).rstrip("/")
        ctx = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        try:
            page = await ctx.new_page()
            watch = PageWatch(page)
            sockets: list[str] = []
            page.on("websocket", lambda ws: sockets.append(ws.url))
            await page.clock.install()
            await sign_in(page, base + "/ui/agent.html", "alice")
            await expect(page.locator("#connection")).to_have_text("connected")
            assert sockets and all("token" not in url for url in sockets), sockets
            # the refresh token: random, where an access token minted in the same second
            # as the first could equal it
            token_js = (
                "() => JSON.parse(sessionStorage.getItem('contactcenter.session.agent'))"
                ".refresh_token"
            )
            first = await page.evaluate(token_js)

            # 14 minutes on the page's clock: the renewal is due (a minute before expiry)
            async with page.expect_request("**/api/session/refresh") as renewal:
                await page.clock.run_for(14 * 60 * 1000 + 1000)
            assert (await (await renewal.value).response()).status == 200  # type: ignore[union-attr]
            # the page stores the renewed token once it has read the answer (the page's
            # timers are on the installed clock, so poll from here)

            async def renewed() -> bool:
                return bool(await page.evaluate(token_js) != first)

            await until(renewed, what="the renewed session in sessionStorage")
            await page.get_by_label("Status", exact=True).select_option("available")
            await expect(page.locator("#activity")).to_have_text("idle")

            # an admin disables alice: her socket is closed and the page signs her out
            resp = await client.post(
                "/api/admin/users/alice/disable",
                headers=bearer(cc_settings, "root", "admin"),
                json={"disabled": True},
            )
            assert resp.status == 200
            await expect(page.get_by_label("Username")).to_be_visible()
            assert (
                await page.evaluate("() => sessionStorage.getItem('contactcenter.session.agent')")
                is None
            )
            assert watch.problems == [], watch.problems
        finally:
            await ctx.close()
