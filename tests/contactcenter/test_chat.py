"""Web chat end to end: visitors on ``/ws/chat`` run the chat tree (config/ivr/chat.yaml),
queue as CHAT contacts, and reach an agent who holds two chats at once (capacity 2) while
a third waits; lines flow both ways through the hub and land in the transcript; a visitor
who leaves while waiting is an abandon. Real PostgreSQL, server and websockets."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import asyncpg
from aiohttp.test_utils import TestClient

from contactcenter.appkeys import NODE
from contactcenter.chat import GRACE_S
from contactcenter.clock import ManualScheduler
from contactcenter.settings import Settings
from contactcenter.store.events import read_contact
from contactcenter.store.interactions import get_interaction
from contactcenter.store.transcripts import transcript
from tests.contactcenter.server_support import SocketClient, armed, bearer, console, until
from tests.contactcenter.test_ivr_voice import OPEN_AT, add_agent, ivr_app


class Visitor(SocketClient):
    """A web-chat visitor's socket (no login; a chat token after ``start``)."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        super().__init__(ws)
        self.chat_id = ""
        self.token = ""

    @classmethod
    async def connect(cls, client: TestClient[Any, Any]) -> Visitor:
        return cls(await client.ws_connect("/ws/chat"))

    async def send(self, kind: str, **fields: Any) -> None:
        await self.ws.send_json({"type": kind, **fields})

    async def start(self, name: str, question: str) -> str:
        await self.send("start", name=name, question=question)
        started = (await self.next("started"))["data"]
        self.chat_id, self.token = started["chat_id"], started["token"]
        return self.chat_id

    async def bot_says(self, fragment: str) -> dict[str, Any]:
        """The next bot line containing ``fragment``."""
        while True:
            msg = await self.next("message", sender="bot")
            if fragment in msg["data"]["text"]:
                return dict(msg["data"])

    async def to_queue(self, name: str, question: str, topic: str = "sales") -> str:
        """Start a chat and answer the chat tree's menu; back when it is queued."""
        chat_id = await self.start(name, question)
        await self.bot_says("What can we help you with?")
        await self.send("message", text=topic)
        await self.next("state", state="queued")
        return chat_id

    def lines(self, sender: str) -> list[str]:
        return [
            m["data"]["text"]
            for m in self.seen + self.inbox
            if m["type"] == "message" and m["data"]["sender"] == sender
        ]

    async def close(self) -> None:
        await self.ws.close()


async def ready(c: Any) -> None:
    await c.next("agent_state")
    assert (await c.command("set_status", status="available"))["type"] == "reply"
    await c.next("agent_state", activity="idle")


async def test_agent_holds_two_chats_while_a_third_waits(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "cat", {"support": 3}, {"voice": 1, "chat": 2})
    async with ivr_app(cc_settings, db) as client, console(client, cc_settings, "cat") as cat:
        await ready(cat)
        ann, ben, cid = [await Visitor.connect(client) for _ in range(3)]
        try:
            a = await ann.start("Ann <b>", "Can I upgrade my plan?")
            assert (await ann.next("state"))["data"]["state"] == "ivr"
            greeting = await ann.bot_says("Welcome")
            assert greeting["line"] == 2  # line 1 is the visitor's question
            menu = await ann.bot_says("What can we help you with?")
            assert [c["key"] for c in menu["choices"]] == ["1", "2", "3"]
            await ann.send("message", text="I want something I can not say")
            await ann.bot_says("did not understand")
            await ann.send("message", text="upgrade")  # a keyword of option 1 (sales)
            await ann.next("state", state="queued")

            offer = (await cat.next("offer"))["data"]
            assert (offer["contact_id"], offer["channel"], offer["queue"]) == (
                a,
                "chat",
                "chat_support",
            )
            assert offer["screen_pop"]["ivr"]["variables"]["topic"] == "sales"
            assert offer["screen_pop"]["chat"] == {
                "name": "Ann <b>",
                "question": "Can I upgrade my plan?",
            }
            assert (await cat.command("accept", contact_id=a))["type"] == "reply"
            assert (await ann.next("state", state="connected"))["data"]["agent"] == "cat"
            # question, greeting, menu, a wrong answer, sorry + menu, "upgrade", queued
            history = [await cat.next("chat.message", contact_id=a) for _ in range(8)]
            assert [m["data"]["line"] for m in history] == [1, 2, 3, 4, 5, 6, 7, 8]
            assert [m["data"]["sender"] for m in history] == [
                "visitor",
                "bot",
                "bot",
                "visitor",
                "bot",
                "bot",
                "visitor",
                "bot",
            ]
            assert all(m["data"]["history"] for m in history)
            assert history[0]["data"]["text"] == "Can I upgrade my plan?"
            assert history[0]["data"]["name"] == "Ann <b>"

            b = await ben.to_queue("Ben", "Hello")
            offer_b = (await cat.next("offer"))["data"]
            assert offer_b["contact_id"] == b
            assert (await cat.command("accept", contact_id=b))["type"] == "reply"
            await ben.next("state", state="connected")

            c = await cid.to_queue("Cid", "Anyone there?")
            # a command's reply comes after whatever the server pushed to cat before it
            await cat.command("hello")
            assert not [
                m
                for m in cat.seen + cat.inbox
                if m["type"] == "offer" and m["data"]["contact_id"] == c
            ]
            queues = await (
                await client.get("/api/queues", headers=bearer(cc_settings, "cat", "agent"))
            ).json()
            assert queues["waiting_now"]["chat_support"] == 1

            # both ways, with the typing indicator
            sent = await cat.command("chat_send", contact_id=a, text="Hi Ann, happy to help")
            assert sent["type"] == "reply" and sent["data"]["line"] == 9
            got = await ann.next("message", sender="agent")
            assert got["data"]["text"] == "Hi Ann, happy to help"
            await cat.command("chat_typing", contact_id=b, typing=True)
            assert (await ben.next("typing"))["data"] == {"sender": "agent", "typing": True}
            await ann.send("typing", typing=True)
            assert (await cat.next("chat.typing", contact_id=a))["data"]["typing"] is True
            await ann.send("message", text="Great, thanks!")
            heard = await cat.next("chat.message", contact_id=a, sender="visitor")
            assert heard["data"]["text"] == "Great, thanks!" and heard["data"]["line"] == 10
            await ben.send("message", text="I am Ben")
            assert (await cat.next("chat.message", contact_id=b, history=False))["data"][
                "text"
            ] == "I am Ben"

            # errors name the command id
            refused = await cat.send("chat_send", contact_id=c, text="not yours")
            err = await cat.next("error", id=refused)
            assert err["data"]["code"] == "not_your_chat"
            blank = await cat.send("chat_send", contact_id=a, text="")
            assert (await cat.next("error", id=blank))["data"]["code"] == "invalid_command"

            # the agent ends Ann's chat; after the wrap-up Cid's chat is offered
            assert (await cat.command("end", contact_id=a))["type"] == "reply"
            await ann.next("state", state="survey")
            done = await cat.command("wrapup", contact_id=a)
            assert done["type"] == "reply", done
            offer_c = (await cat.next("offer"))["data"]
            assert offer_c["contact_id"] == c

            # a message after the end of the chat is refused, the survey goes on
            survey = await ann.bot_says("How satisfied")
            assert [ch["key"] for ch in survey["choices"]] == ["1", "2", "3", "4", "5"]
            await ann.send("message", text="5")
            await ann.bot_says("resolved")
            await ann.send("message", text="yes")
            await ann.next("state", state="ended")
            await ann.send("message", text="hello?")
            assert (await ann.next("error"))["data"]["code"] == "chat_ended"
        finally:
            for v in (ann, ben, cid):
                await v.close()

    lines = await transcript(db, a)
    assert [(li.seq, li.sender) for li in lines][:2] == [(1, "visitor"), (2, "bot")]
    texts = [(li.sender, li.text) for li in lines]
    assert ("agent", "Hi Ann, happy to help") in texts
    assert ("visitor", "Great, thanks!") in texts
    assert texts[-1][0] == "bot" and "Thank you for your feedback" in texts[-1][1]
    agent_line = next(li for li in lines if li.sender == "agent")
    assert agent_line.agent_id == "cat"
    row = await get_interaction(db, a)
    assert row is not None
    assert (row.channel, row.queue_id, row.agent_id, row.outcome) == (
        "chat",
        "chat_support",
        "cat",
        "handled",
    )
    assert (row.csat, row.resolved) == (5, True)
    assert row.attached["name"] == "Ann <b>" and row.attached["topic"] == "sales"
    assert [s["node"] for s in row.ivr_path][:3] == ["greet", "hours_check", "topic"]


async def test_visitor_leaving_while_waiting_is_an_abandon(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    scheduler = ManualScheduler(start=OPEN_AT)
    async with ivr_app(cc_settings, db, scheduler=scheduler) as client:
        dee, eve, fay = [await Visitor.connect(client) for _ in range(3)]
        d = await dee.to_queue("Dee", "Help with billing please", topic="sales")
        await dee.send("leave")
        await dee.next("state", state="ended")

        # a dropped connection resumes within the grace period and misses nothing
        f = await fay.to_queue("Fay", "My router is broken", topic="sales")
        last = max(m["seq"] for m in fay.seen + fay.inbox)
        await fay.close()
        fay = await Visitor.connect(client)
        await fay.send("resume", token="x" * 20, last_seq=0)
        assert (await fay.next("error"))["data"]["code"] == "unknown_chat"
        await fay.send("resume", token=fay.token or _token_of(client, f), last_seq=last - 2)
        resumed = (await fay.next("resumed"))["data"]
        assert resumed == {"chat_id": f, "state": "queued", "seq": last, "replayed": 2}
        await fay.send("message", text="still here")
        echoed = await fay.next("message", sender="visitor")
        assert echoed["data"]["text"] == "still here"

        # one that never comes back is an abandon after the grace period
        e = await eve.to_queue("Eve", "Question", topic="sales")
        await eve.close()
        await armed(scheduler, GRACE_S, "eve's grace period")
        await scheduler.advance(GRACE_S - 0.25)
        row = await get_interaction(db, e)
        assert row is not None and row.outcome is None  # within the grace: still waiting
        await scheduler.advance(0.25)

        async def abandoned() -> bool:
            row = await get_interaction(db, e)
            return row is not None and row.outcome is not None

        await until(abandoned, what="eve's abandon in the call log")

        # bad input gets an error reply, the connection stays open
        await fay.ws.send_str("not json")
        assert (await fay.next("error"))["data"]["code"] == "bad_json"
        await fay.send("message", text="x" * 5000)
        assert (await fay.next("error"))["data"]["code"] == "invalid_frame"
        await fay.send("dance")
        assert (await fay.next("error"))["data"]["code"] == "unknown_type"
        for _ in range(12):  # the burst is 8 frames
            await fay.send("typing", typing=True)
        assert (await fay.next("error"))["data"]["code"] == "rate_limited"
        await fay.close()
        await dee.close()

    for chat_id, reason in ((d, "visitor_left"), (e, "visitor_gone")):
        row = await get_interaction(db, chat_id)
        assert row is not None
        assert (row.channel, row.outcome, row.queue_id) == ("chat", "abandoned", "chat_support")
        assert row.answered_at is None
        types = [ev.type for ev in await read_contact(db, chat_id)]
        assert "contact.abandoned" in types, (reason, types)
    lines = await transcript(db, f)
    assert lines[-1].text == "still here"


async def test_transcript_api_for_supervisors_and_the_agent_who_handled_it(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "cat", {"support": 3}, {"voice": 1, "chat": 2})
    await add_agent(db, "dan", {"support": 3}, {"voice": 1})
    async with ivr_app(cc_settings, db) as client, console(client, cc_settings, "cat") as cat:
        await ready(cat)
        ivy = await Visitor.connect(client)
        i = await ivy.to_queue("Ivy", "<script>alert(1)</script>")
        await cat.next("offer", contact_id=i)
        await cat.command("accept", contact_id=i)
        await cat.command("chat_send", contact_id=i, text="Hello Ivy")
        await ivy.next("message", sender="agent")

        def url(cid: str) -> str:
            return f"/api/chats/{cid}/transcript"

        for user, role, status in (
            ("sue", "supervisor", 200),
            ("cat", "agent", 200),
            ("dan", "agent", 403),
        ):
            resp = await client.get(url(i), headers=bearer(cc_settings, user, role))
            assert resp.status == status, (user, await resp.text())
        body = await (
            await client.get(url(i), headers=bearer(cc_settings, "sue", "supervisor"))
        ).json()
        assert body["lines"][0] == {
            **body["lines"][0],
            "seq": 1,
            "sender": "visitor",
            "text": "<script>alert(1)</script>",
        }
        assert body["lines"][-1]["text"] == "Hello Ivy"
        assert body["lines"][-1]["agent_id"] == "cat"
        missing = await client.get(
            url("chat-none"), headers=bearer(cc_settings, "sue", "supervisor")
        )
        assert missing.status == 404
        await ivy.close()


def _token_of(client: TestClient[Any, Any], chat_id: str) -> str:
    return client.server.app[NODE].services.chat.chats[chat_id].token


async def test_sensitive_answers_are_masked_in_the_transcript(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    async with ivr_app(cc_settings, db) as client:
        gus = await Visitor.connect(client)
        g = await gus.start("Gus", "A billing question")
        await gus.bot_says("What can we help you with?")
        await gus.send("message", text="billing")
        await gus.bot_says("account number")
        await gus.send("message", text="1234 5678")
        shown = await gus.next("message", sender="visitor", line=6)
        assert shown["data"]["text"] == "***"
        await gus.next("state", state="queued")
        await gus.close()
    texts = [li.text for li in await transcript(db, g)]
    assert "1234 5678" not in texts and "***" in texts
    events = await read_contact(db, g)
    assert "12345678" not in json.dumps([e.data for e in events])


async def test_chats_waiting_at_a_restart_are_ended_as_abandoned(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    async with ivr_app(cc_settings, db) as client:
        hal = await Visitor.connect(client)
        h = await hal.to_queue("Hal", "Before the restart")
        await hal.close()
    row = await get_interaction(db, h)
    assert row is not None and row.outcome is None  # still waiting when the server stopped

    async with ivr_app(cc_settings, db) as client:
        # the restored contact has no visitor any more: it is ended, not offered
        assert client.server.app[NODE].services.acd.engine.waiting("chat_support") == []
        again = await Visitor.connect(client)
        await again.send("resume", token=hal.token, last_seq=0)
        assert (await again.next("error"))["data"]["code"] == "unknown_chat"
        await again.close()
    row = await get_interaction(db, h)
    assert row is not None and row.outcome == "abandoned"
