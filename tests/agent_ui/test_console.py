"""The agent console in headless Chromium against the real server and PostgreSQL: an offer
with its banner, badge and screen pop (customer markup as text), accepted by keyboard
shortcut, hold and resume, a blind transfer to an available agent who gets the pop, a
wrap-up held to its required disposition; a rejected offer leaves the agent not
responding with a way back; the network drops around an offer (none lost, none doubled);
a second tab is refused until it takes over. Screenshots at 1366x768 go to test-output/."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import asyncpg
from playwright.async_api import Browser, Page, expect

from contactcenter.appkeys import NODE
from contactcenter.settings import Settings
from contactcenter.store.customers import CustomerIn, upsert_customer
from contactcenter.store.interactions import get_interaction
from tests.agent_ui.support import VIEWPORT, patient_config
from tests.agent_ui.test_browser import PageWatch, not_pwned, sign_in
from tests.contactcenter.server_support import add_agent, gateway_headers, running_app

OUT = Path(__file__).resolve().parents[2] / "test-output"
EVIL = 'Zoe <img src=x onerror="window.__pwned=7"><script>window.__pwned=8</script>'
CALLER = "+14155550188"
TIMEOUT_MS = 20_000


async def post_call(client: Any, settings: Settings, call_id: str, ani: str = CALLER) -> None:
    resp = await client.post(
        "/gateway/calls",
        headers=gateway_headers(settings),
        json={"call_id": call_id, "ani": ani, "queue": "sales"},
    )
    assert resp.status == 201, await resp.text()


async def available(page: Page) -> None:
    await expect(page.locator("#connection")).to_have_text("connected")
    await page.get_by_label("Status", exact=True).select_option("available")
    await expect(page.locator("#activity")).to_have_text("idle")


async def test_offer_pop_hold_transfer_and_wrapup(
    db: asyncpg.Pool, cc_settings: Settings, browser: Browser
) -> None:
    OUT.mkdir(exist_ok=True)
    await add_agent(db, "alice", {"sales": 8})
    await add_agent(db, "bob", {"sales": 8})
    customer = await upsert_customer(
        db,
        CustomerIn(
            name=EVIL,
            account_number="ACC-7 <i>x</i>",
            phones=[CALLER, "+14155550199"],
            tier="platinum",
            attributes={"plan": "<b>family</b>", "language": "en"},
        ),
    )
    expect.set_options(timeout=TIMEOUT_MS)
    async with running_app(cc_settings, db, patient_config()) as client:
        base = str(client.make_url("")).rstrip("/")
        ctx_a = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        ctx_b = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        try:
            alice, bob = await ctx_a.new_page(), await ctx_b.new_page()
            watch_a, watch_b = PageWatch(alice), PageWatch(bob)
            await sign_in(alice, base + "/ui/agent.html", "alice")
            await sign_in(bob, base + "/ui/agent.html", "bob")
            await available(alice)
            # the status timer ticks (on the server's clock)
            await expect(alice.locator("#status-timer")).to_have_text(re.compile(r"^0:0[1-9]$"))
            await expect(bob.locator("#connection")).to_have_text("connected")
            await bob.get_by_label("Status", exact=True).select_option("training")

            # the offer: banner with caller, queue, wait, countdown; badge in the title
            await post_call(client, cc_settings, "con-1")
            card = alice.locator('.contact[data-contact-id="con-1"]')
            await expect(card).to_have_attribute("data-state", "offered")
            await expect(card.locator("h2")).to_have_text(f"Incoming call · Sales · {EVIL}")
            await expect(card.locator(".countdown")).to_contain_text("s to answer")
            await expect(card.locator(".waited")).to_contain_text("waited 0:0")
            await expect(alice).to_have_title("(1) Agent console · contactcenter")
            # the tone played: the agent has clicked in this session (sign in, status)
            await expect(card).to_have_attribute("data-rang", "true")
            await expect(card.locator(".customer-name")).to_have_text(EVIL)
            await expect(card.locator(".pop")).to_contain_text("<b>family</b>")
            await expect(card.locator(".pop")).to_contain_text("ACC-7 <i>x</i>")
            await expect(card.locator("a.crm-link")).to_have_attribute(
                "href", f"https://crm.example.com/customers/{customer.id}"
            )
            for tag in ("img", "script", "b", "i"):
                await expect(alice.locator(f"#contacts {tag}")).to_have_count(0)
            await alice.screenshot(path=str(OUT / "console-offer.png"))

            # the shortcuts are listed; Alt+A accepts
            await alice.keyboard.press("Alt+/")
            help_box = alice.locator("#help")
            await expect(help_box).to_be_visible()
            # one row per entry of js/shortcuts.js (10, plus 5 for consult and conference)
            await expect(help_box.locator("tbody tr")).to_have_count(15)
            await expect(help_box).to_contain_text("Accept the ringing offer")
            await alice.keyboard.press("Escape")
            await expect(help_box).to_be_hidden()
            await alice.keyboard.press("Alt+a")
            await expect(card).to_have_attribute("data-state", "connected")
            await expect(alice).to_have_title("Agent console · contactcenter")
            await expect(alice.locator("#activity")).to_have_text("on contact")

            # hold by button, resume by shortcut
            await card.get_by_role("button", name="Hold").click()
            await expect(card).to_have_attribute("data-state", "held")
            await expect(alice.locator("#activity")).to_have_text("on hold")
            await alice.keyboard.press("Alt+h")
            await expect(card).to_have_attribute("data-state", "connected")

            # bob becomes available; alice transfers the caller to him
            await bob.get_by_label("Status", exact=True).select_option("available")
            await expect(bob.locator("#activity")).to_have_text("idle")
            target = card.get_by_label("Transfer to")
            await target.focus()
            await expect(target.locator('option[value="agent:bob"]')).to_have_count(1)
            await alice.screenshot(path=str(OUT / "console-call.png"))
            await target.select_option("agent:bob")
            await card.get_by_role("button", name="Transfer", exact=True).click()
            await expect(alice.locator("#notice")).to_contain_text("transferred")

            bob_card = bob.locator('.contact[data-contact-id="con-1"]')
            await expect(bob_card).to_have_attribute("data-state", "offered")
            await expect(bob_card.locator(".customer-name")).to_have_text(EVIL)
            await bob_card.get_by_role("button", name="Accept").click()
            await expect(bob_card).to_have_attribute("data-state", "connected")

            # alice's part: wrap-up, if the queue asks for one; she finishes it
            alice_wrap = alice.locator('.contact[data-contact-id="con-1"][data-state="wrap_up"]')
            if await alice_wrap.count():
                await alice_wrap.get_by_label("Disposition (required)").select_option("callback")
                await alice_wrap.get_by_role("button", name="Done").click()
            await expect(card).to_have_count(0)

            # bob ends; the required disposition holds him in wrap-up until chosen
            await bob_card.get_by_role("button", name="End").click()
            await expect(bob_card).to_have_attribute("data-state", "wrap_up")
            await expect(bob_card.locator(".wrapup-timer")).to_contain_text("In wrap-up 0:0")
            await bob.keyboard.press("Alt+d")
            await expect(bob_card).to_have_attribute("data-state", "wrap_up")
            await bob_card.get_by_label("Disposition (required)").select_option("sold")
            await bob_card.get_by_label("Notes").fill("moved to <b>gold</b>")
            await bob.screenshot(path=str(OUT / "console-wrapup.png"))
            await bob_card.get_by_role("button", name="Done").click()
            await expect(bob_card).to_have_count(0)
            await expect(bob.locator("#activity")).to_have_text("idle")

            # a rejected offer: not responding until the agent comes back
            await bob.get_by_label("Status", exact=True).select_option("training")
            await expect(bob.locator("#activity")).to_have_text("idle")
            await post_call(client, cc_settings, "con-2")
            card2 = alice.locator('.contact[data-contact-id="con-2"]')
            await expect(card2).to_have_attribute("data-state", "offered")
            await alice.keyboard.press("Alt+r")
            await expect(alice.locator("#not-responding")).to_be_visible()
            await expect(alice.locator("#activity")).to_have_text("not responding")
            await alice.get_by_role("button", name="I'm back: make me available").click()
            await expect(alice.locator("#not-responding")).to_be_hidden()
            await expect(card2).to_have_attribute("data-state", "offered")  # offered again
            await card2.get_by_role("button", name="Accept").click()
            await expect(card2).to_have_attribute("data-state", "connected")

            for page in (alice, bob):
                await not_pwned(page)
            assert watch_a.problems == [] and watch_b.problems == []
        finally:
            await ctx_a.close()
            await ctx_b.close()

    row = await get_interaction(db, "con-1")
    assert row is not None
    assert (row.agent_id, row.disposition, row.notes) == ("bob", "sold", "moved to <b>gold</b>")
    assert row.transfers >= 1


async def test_network_drop_mid_offer_and_a_second_tab(
    db: asyncpg.Pool, cc_settings: Settings, browser: Browser
) -> None:
    await add_agent(db, "alice", {"sales": 8})
    expect.set_options(timeout=TIMEOUT_MS)
    async with running_app(cc_settings, db, patient_config()) as client:
        base = str(client.make_url("")).rstrip("/")
        context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        try:
            page = await context.new_page()
            watch = PageWatch(page)
            await sign_in(page, base + "/ui/agent.html", "alice")
            await available(page)
            hub = client.app[NODE].services.hub

            # the network goes while an offer is made: it arrives once, on reconnection
            await context.set_offline(True)
            channel = hub.channels["alice"]
            assert channel.ws is not None
            await channel.ws.close()
            await expect(page.locator("#connection")).not_to_have_text("connected")
            await post_call(client, cc_settings, "net-1")
            await context.set_offline(False)
            await expect(page.locator("#connection")).to_have_text("connected")
            card = page.locator('.contact[data-contact-id="net-1"]')
            await expect(card).to_have_attribute("data-state", "offered")
            await expect(card.locator(".customer-name")).to_have_text("Unknown caller")

            # and again with the offer on screen: still one card, and it can be accepted
            await context.set_offline(True)
            assert hub.channels["alice"].ws is not None
            await hub.channels["alice"].ws.close()
            await expect(page.locator("#connection")).not_to_have_text("connected")
            await context.set_offline(False)
            await expect(page.locator("#connection")).to_have_text("connected")
            await expect(page.locator(".contact")).to_have_count(1)
            await card.get_by_role("button", name="Accept").click()
            await expect(card).to_have_attribute("data-state", "connected")
            await expect(page.locator(".contact")).to_have_count(1)
            offers = [m for m in hub.channels["alice"].buffer if '"type":"offer"' in m[1]]
            assert len(offers) == 1  # the server offered once; the page showed it once

            # a second tab of the same agent is refused politely, until it takes over
            second = await context.new_page()
            await sign_in(second, base + "/ui/agent.html", "alice")
            await expect(second.locator("#other-tab")).to_be_visible()
            await expect(second.locator("#connection")).to_have_text("disconnected")
            await expect(page.locator("#connection")).to_have_text("connected")
            await second.get_by_role("button", name="Use this tab instead").click()
            await expect(second.locator("#connection")).to_have_text("connected")
            await expect(second.locator('.contact[data-contact-id="net-1"]')).to_have_attribute(
                "data-state", "connected"
            )
            await expect(page.locator("#other-tab")).to_be_visible()
            await expect(page.locator("#connection")).to_have_text("disconnected")
            assert client.app[NODE].services.acd.engine.agent("alice").contacts == {
                "net-1": "connected"
            }
            assert watch.problems == []
        finally:
            await context.close()


async def test_two_chats_side_by_side_then_a_call(
    db: asyncpg.Pool, cc_settings: Settings, browser: Browser
) -> None:
    """Chats from the visitor websocket (through the chat tree) and a call from the gateway
    contract: two chat cards side by side with transcripts, typing, unread counts, canned
    replies and Alt+N between them, then the call; the visitors' markup stays text."""
    from tests.contactcenter.test_chat import Visitor
    from tests.contactcenter.test_ivr_voice import add_agent as add_capable_agent
    from tests.contactcenter.test_ivr_voice import ivr_app

    OUT.mkdir(exist_ok=True)
    await add_capable_agent(db, "cat", {"support": 3, "sales": 8}, {"voice": 1, "chat": 2})
    expect.set_options(timeout=TIMEOUT_MS)
    async with ivr_app(cc_settings, db) as client:
        base = str(client.make_url("")).rstrip("/")
        context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        ann, ben = await Visitor.connect(client), await Visitor.connect(client)
        try:
            page = await context.new_page()
            watch = PageWatch(page)
            await sign_in(page, base + "/ui/agent.html", "cat")
            await available(page)

            a = await ann.to_queue(
                'Ann <img src=x onerror="window.__pwned=9">', "Can I upgrade <b>my</b> plan?"
            )
            card_a = page.locator(f'.contact[data-contact-id="{a}"]')
            await expect(card_a).to_have_attribute("data-state", "offered")
            await expect(card_a.locator(".customer-name")).to_have_text(
                'Ann <img src=x onerror="window.__pwned=9">'
            )
            await card_a.get_by_role("button", name="Accept").click()
            await expect(card_a).to_have_attribute("data-state", "connected")
            transcript = card_a.locator(".transcript")
            await expect(transcript).to_contain_text("Can I upgrade <b>my</b> plan?")
            await ann.send("typing", typing=True)
            await expect(card_a.locator(".typing")).to_have_text("The visitor is typing…")

            b = await ben.to_queue("Ben", "Hello")
            card_b = page.locator(f'.contact[data-contact-id="{b}"]')
            await card_b.get_by_role("button", name="Accept").click()
            await expect(card_b).to_have_attribute("data-state", "connected")

            await expect(page.locator("#contacts > .contact")).to_have_count(2)

            # the agent answers Ann with a canned reply, edited, sent with Enter
            await card_a.get_by_label("Canned reply").select_option(index=2)
            box = card_a.get_by_label("Message")
            await expect(box).to_have_value("Could you give me your account number, please?")
            await box.press("End")
            await box.type(" Thanks!")
            await box.press("Enter")
            sent = await ann.next("message", sender="agent")
            assert sent["data"]["text"] == (
                "Could you give me your account number, please? Thanks!"
            )
            await expect(box).to_have_value("")
            # Ben writes while the agent is in Ann's chat: an unread count on Ben's card
            await ben.send("message", text="<script>window.__pwned=10</script> are you there?")
            await expect(card_b.locator(".unread")).to_have_text("1")
            await expect(card_b.locator(".transcript")).to_contain_text(
                "<script>window.__pwned=10</script> are you there?"
            )
            # Alt+N goes to the next chat's message box, which clears the count
            await page.keyboard.press("Alt+n")
            await expect(card_b.get_by_label("Message")).to_be_focused()
            await expect(card_b.locator(".unread")).to_be_hidden()
            await page.screenshot(path=str(OUT / "console-chats.png"))
            for tag in ("img", "script", "b"):
                await expect(page.locator(f"#contacts {tag}")).to_have_count(0)

            # both chats end (by button, and by Alt+E / Alt+D in the focused one); then a
            # call (the agent profiles do not let voice interrupt chats: one after the other)
            await card_a.get_by_role("button", name="End", exact=True).click()
            await expect(card_a).to_have_attribute("data-state", "wrap_up")
            await card_a.get_by_role("button", name="Done").click()
            await expect(card_a).to_have_count(0)
            await card_b.get_by_label("Message").focus()
            await page.keyboard.press("Alt+e")
            await expect(card_b).to_have_attribute("data-state", "wrap_up")
            await page.keyboard.press("Alt+d")
            await expect(card_b).to_have_count(0)
            await post_call(client, cc_settings, "chat-call-1")
            call = page.locator('.contact[data-contact-id="chat-call-1"]')
            await call.get_by_role("button", name="Accept").click()
            await expect(call).to_have_attribute("data-state", "connected")
            await expect(page.locator("#activity")).to_have_text("on contact")
            await not_pwned(page)
            assert watch.problems == []
        finally:
            await ann.close()
            await ben.close()
            await context.close()


async def test_click_to_dial_from_the_dial_pad_and_the_pop(
    db: asyncpg.Pool, cc_settings: Settings, browser: Browser
) -> None:
    """The Dial field places a call through the simulated carrier: the card shows the
    callee's pop while it rings ("dialing"), connects when the callee answers, ends and
    wraps up with the queue's required disposition."""
    from tests.contactcenter.test_server_dial import carrier_for

    await add_agent(db, "alice", {"sales": 8})
    await upsert_customer(
        db,
        CustomerIn(
            name="Ada <b>Lovelace</b>", phones=["+14155550199", "+14155550100"], tier="gold"
        ),
    )
    expect.set_options(timeout=TIMEOUT_MS)
    async with running_app(cc_settings, db, patient_config()) as client:
        base = str(client.make_url("")).rstrip("/")
        carrier = carrier_for(
            base, cc_settings, answer_probability=1.0, busy_probability=0.0, answer_delay=2.0
        )
        context = await browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        try:
            async with carrier.serving():
                page = await context.new_page()
                watch = PageWatch(page)
                await sign_in(page, base + "/ui/agent.html", "alice")
                await expect(page.locator("#connection")).to_have_text("connected")
                await page.get_by_label("Status", exact=True).select_option("break")
                await page.get_by_label("Dial", exact=True).fill("+1 (415) 555-0199")
                await page.get_by_role("button", name="Call", exact=True).click()
                card = page.locator("#contacts > .contact")
                await expect(card).to_have_count(1)
                await expect(card.locator(".customer-name")).to_have_text("Ada <b>Lovelace</b>")
                await expect(card).to_have_attribute("data-state", "dialing")
                await expect(card.get_by_role("button", name="Hang up")).to_be_visible()
                await expect(card).to_have_attribute("data-state", "connected")
                await expect(page.locator("#notice")).to_contain_text("answered")
                await expect(page.locator("#activity")).to_have_text("on contact")
                await card.get_by_role("button", name="End", exact=True).click()
                await expect(card).to_have_attribute("data-state", "wrap_up")
                await card.get_by_label("Disposition (required)").select_option("callback")
                await card.get_by_role("button", name="Done").click()
                await expect(card).to_have_count(0)
                assert [o.result for o in carrier.result.outbound] == ["answered"]
                await expect(page.locator("b")).to_have_count(0)
                assert watch.problems == []
        finally:
            await context.close()
