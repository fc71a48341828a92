"""The customer chat widget (agent_ui/widget/) in headless Chromium against the real server.

A visitor opens the widget, answers the chat menu with a button, and is routed to an agent
(a real console websocket) who already holds another chat (chat capacity 2); both see each
other's messages and the typing indicator, the page survives a reload (resume), the visitor
answers the survey, and the transcript is in PostgreSQL. Text the visitor and the agent
write shows as text: nothing in it runs.
"""

from __future__ import annotations

import asyncpg
from playwright.async_api import Browser, expect

from contactcenter.settings import Settings
from contactcenter.store.interactions import get_interaction
from contactcenter.store.transcripts import transcript
from tests.agent_ui.support import VIEWPORT
from tests.contactcenter.server_support import console
from tests.contactcenter.test_chat import Visitor, ready
from tests.contactcenter.test_ivr_voice import add_agent, ivr_app

EVIL = 'Zoe <img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
TIMEOUT_MS = 20_000


async def test_visitor_chats_with_an_agent_who_holds_another_chat(
    db: asyncpg.Pool, cc_settings: Settings, browser: Browser
) -> None:
    await add_agent(db, "cat", {"support": 3}, {"voice": 1, "chat": 2})
    expect.set_options(timeout=TIMEOUT_MS)
    async with ivr_app(cc_settings, db) as client, console(client, cc_settings, "cat") as cat:
        await ready(cat)
        # the agent already holds one chat
        other = await Visitor.connect(client)
        first = await other.to_queue("Ann", "Hi")
        await cat.next("offer", contact_id=first)
        await cat.command("accept", contact_id=first)
        await other.next("state", state="connected")

        base = str(client.make_url("")).rstrip("/")
        context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        page = await context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        page.on("dialog", lambda dialog: problems.append(f"dialog: {dialog.message}"))
        try:
            await page.goto(base + "/ui/widget/index.html")
            await page.get_by_label("Your name").fill(EVIL)
            await page.get_by_label("Your question").fill("Do you sell <b>fibre</b>?")
            await page.get_by_role("button", name="Start chat").click()
            log = page.get_by_role("log")
            await expect(log).to_contain_text("Do you sell <b>fibre</b>?")
            await expect(log).to_contain_text("What can we help you with?")
            await page.get_by_role("button", name="1. Sales").click()
            await expect(page.locator("#status")).to_have_text("Waiting for an agent…")

            offer = (await cat.next("offer"))["data"]
            chat_id = offer["contact_id"]
            assert offer["channel"] == "chat" and chat_id != first
            assert (await cat.command("accept", contact_id=chat_id))["type"] == "reply"
            await expect(page.locator("#status")).to_have_text("Chatting with an agent")
            history = await cat.next("chat.message", contact_id=chat_id, line=1)
            assert history["data"]["name"] == EVIL  # the agent gets the name as typed

            await cat.command("chat_typing", contact_id=chat_id, typing=True)
            await expect(page.get_by_text("The agent is typing…")).to_be_visible()
            reply = await cat.command(
                "chat_send", contact_id=chat_id, text="Yes! <i>Fibre</i> is available."
            )
            assert reply["type"] == "reply"
            await expect(log).to_contain_text("Yes! <i>Fibre</i> is available.")
            await expect(page.get_by_text("The agent is typing…")).to_be_hidden()

            await page.get_by_label("Your message").fill("Great, how fast is it?")
            await page.get_by_label("Your message").press("Enter")
            heard = await cat.next(
                "chat.message", contact_id=chat_id, sender="visitor", history=False
            )
            assert heard["data"]["text"] == "Great, how fast is it?"
            # the other chat goes on beside it
            await cat.command("chat_send", contact_id=first, text="Still with you, Ann")
            assert (await other.next("message", sender="agent"))["data"][
                "text"
            ] == "Still with you, Ann"

            # a reload resumes the chat: every line once, the chat still connected
            await page.reload()
            await expect(page.locator("#status")).to_have_text("Chatting with an agent")
            await expect(log).to_contain_text("Great, how fast is it?")
            assert await log.locator("li[data-line='1']").count() == 1

            assert (await cat.command("end", contact_id=chat_id))["type"] == "reply"
            await expect(log).to_contain_text("How satisfied were you today")
            await page.get_by_role("button", name="4", exact=True).click()
            await expect(log).to_contain_text("Was your issue resolved?")
            await page.get_by_label("Your message").fill("yes")
            await page.get_by_label("Your message").press("Enter")
            await expect(page.locator("#status")).to_have_text("Chat ended")
            assert await page.evaluate("window.__pwned") is None
            assert problems == []
        finally:
            await context.close()
            await other.close()

    lines = await transcript(db, chat_id)
    texts = [(li.sender, li.text) for li in lines]
    assert texts[0] == ("visitor", "Do you sell <b>fibre</b>?")
    assert ("agent", "Yes! <i>Fibre</i> is available.") in texts
    assert ("visitor", "Great, how fast is it?") in texts
    row = await get_interaction(db, chat_id)
    assert row is not None
    assert (row.channel, row.agent_id, row.csat, row.resolved) == ("chat", "cat", 4, True)
