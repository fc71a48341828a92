"""The supervisor page shows post-contact survey results (CSAT and first-contact
resolution per queue and overall) from the answers stored with the interactions."""

from __future__ import annotations

import asyncpg
from playwright.async_api import Browser, expect

from contactcenter.settings import Settings
from contactcenter.store.users import create_user
from tests.agent_ui.support import VIEWPORT, patient_config
from tests.agent_ui.test_browser import PageWatch, sign_in
from tests.contactcenter.server_support import PASSWORD, running_app


async def store_answers(
    db: asyncpg.Pool, rows: list[tuple[str, str, int | None, bool | None]]
) -> None:
    # what the IVR survey leaves in the call log (interactions.csat / resolved)
    for seq, (contact_id, queue, csat, resolved) in enumerate(rows, 1):
        await db.execute(
            """INSERT INTO interactions (contact_id, channel, queue_id, started_at, last_seq,
                                         csat, resolved)
               VALUES ($1, 'voice', $2, now(), $3, $4, $5)""",
            contact_id,
            queue,
            seq,
            csat,
            resolved,
        )


async def test_supervisor_page_shows_csat_and_fcr(
    db: asyncpg.Pool, cc_settings: Settings, browser: Browser
) -> None:
    await create_user(db, username="sam", password=PASSWORD, role="supervisor")
    await store_answers(
        db,
        [
            ("s1", "sales", 5, True),
            ("s2", "sales", 3, False),
            ("s3", "sales", 4, None),
            ("b1", "billing", 2, True),
        ],
    )
    expect.set_options(timeout=20_000)
    async with running_app(cc_settings, db, patient_config()) as client:
        base = str(client.make_url("")).rstrip("/")
        context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        try:
            page = await context.new_page()
            watch = PageWatch(page)
            await sign_in(page, base + "/ui/supervisor.html", "sam")
            table = page.locator("#surveys table")
            sales = table.locator('tr[data-queue="sales"]')
            await expect(sales.locator(".csat")).to_have_text("4.00")  # (5 + 3 + 4) / 3
            await expect(sales.locator(".fcr")).to_have_text("50.0 %")  # 1 of 2 answered
            billing = table.locator('tr[data-queue="billing"]')
            await expect(billing.locator(".csat")).to_have_text("2.00")
            overall = table.locator('tr[data-queue="all"]')
            await expect(overall.locator(".csat")).to_have_text("3.50")  # 14 / 4
            await expect(overall.locator(".fcr")).to_have_text("66.7 %")  # 2 of 3
            assert watch.problems == []
        finally:
            await context.close()
