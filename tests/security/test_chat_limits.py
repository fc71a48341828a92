"""The anonymous chat surface is bounded (issue 13 §2): sockets per client address and in
total, starts per address, lines per chat, allowed origins, widget keys; a start/leave
loop is throttled and its bot-only chats are no queue's abandons; /metrics shows the
limits and their refusals. A real server on a real socket, real PostgreSQL, the fake
clock for every wait on time. Client addresses are simulated with X-Forwarded-For
through a trusted proxy (the test client's own 127.0.0.1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from contactcenter.chat_config import ChatConfigError, load_chat_config
from contactcenter.clock import ManualScheduler
from contactcenter.protocol import CLOSE_CHAT_LIMITED
from contactcenter.settings import Settings
from contactcenter.store.events import read_contact
from contactcenter.store.interactions import get_interaction
from tests.contactcenter.server_support import bearer
from tests.contactcenter.test_chat import Visitor
from tests.contactcenter.test_ivr_voice import OPEN_AT, copy_config, ivr_app

LIMITS_YAML = """
limits:
  sockets_per_ip: 3
  sockets_total: 6
  starts_per_ip_per_minute: 2
  starts_per_ip_burst: 3
  messages_per_s: 1
  messages_burst: 3
allowed_origins: ["https://shop.example.com"]
"""
KEY = "k3y-of-the-shop-site-0123"
PROXY = "127.0.0.1/32"
"""The test client is the reverse proxy (CC_TRUSTED_PROXIES): X-Forwarded-For names
the visitor's address."""


def config_with(tmp_path: Path, chat_yaml: str) -> Path:
    config = copy_config(tmp_path / "config")
    (config / "chat.yaml").write_text(chat_yaml)
    return config


def at(address: str, **headers: str) -> dict[str, str]:
    return {"X-Forwarded-For": address, **headers}


async def visitor(client: TestClient[Any, Any], address: str, path: str = "/ws/chat") -> Visitor:
    return Visitor(await client.ws_connect(path, headers=at(address)))


async def refused(
    client: TestClient[Any, Any], headers: dict[str, str], path: str = "/ws/chat"
) -> tuple[int, dict[str, Any]]:
    """The upgrade is refused: its status and JSON error (asked once as a websocket, once
    as a plain GET to read the body)."""
    with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
        await client.ws_connect(path, headers=headers)
    resp = await client.get(path, headers=headers)
    assert resp.status == caught.value.status
    body: dict[str, Any] = (await resp.json())["error"]
    return resp.status, body


async def metrics(client: TestClient[Any, Any]) -> dict[str, float]:
    text = await (await client.get("/metrics")).text()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("contactcenter_limit") and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


async def test_sockets_are_capped_per_address_and_another_address_still_gets_in(
    db: asyncpg.Pool, cc_settings: Settings, tmp_path: Path
) -> None:
    config = config_with(tmp_path, LIMITS_YAML)
    scheduler = ManualScheduler(start=OPEN_AT)
    async with ivr_app(
        cc_settings, db, config_dir=config, trusted_proxies=PROXY, scheduler=scheduler
    ) as client:
        # the flooder: its forged entry on the left is ignored, the proxy's counts
        flood = "6.6.6.6, 198.51.100.1"
        held = [await visitor(client, flood) for _ in range(3)]
        status, error = await refused(client, at(flood))
        assert status == 429
        assert error["code"] == "too_many_sockets" and error["limit"] == "sockets_per_ip"
        # the forged left-most entry does not make it another client
        assert (await refused(client, at("198.51.100.77, 198.51.100.1")))[0] == 429

        # a real visitor from another address starts a chat
        ann = await visitor(client, "203.0.113.20")
        await ann.start("Ann", "Hello")
        await ann.bot_says("What can we help you with?")

        shown = await metrics(client)
        assert shown['contactcenter_limited_connections_open{surface="chat"}'] == 4.0
        assert shown['contactcenter_limit{limit="sockets_per_ip",surface="chat"}'] == 3.0
        assert (
            shown['contactcenter_limit_refusals_total{limit="sockets_per_ip",surface="chat"}']
            == 4.0  # two addresses x (websocket + plain GET)
        )
        assert shown['contactcenter_limit_refusals_total{limit="origin",surface="chat"}'] == 0.0

        # the total cap (6): two more from new addresses fill it, a third is refused
        more = [await visitor(client, f"203.0.113.{30 + i}") for i in range(2)]
        status, error = await refused(client, at("203.0.113.99"))
        assert (status, error["code"], error["limit"]) == (429, "busy", "sockets_total")

        # a closed socket frees its slot
        await held[0].close()
        for v in more:
            await v.close()
        again = await visitor(client, flood)
        for v in [*held[1:], again, ann]:
            await v.close()


async def test_origins_outside_the_list_get_403(
    db: asyncpg.Pool, cc_settings: Settings, tmp_path: Path
) -> None:
    config = config_with(tmp_path, LIMITS_YAML)
    async with ivr_app(cc_settings, db, config_dir=config, trusted_proxies=PROXY) as client:
        status, error = await refused(client, at("198.51.100.5", Origin="https://evil.example"))
        assert status == 403 and error["code"] == "origin_not_allowed"
        assert "https://evil.example" in error["message"]
        assert (await refused(client, at("198.51.100.5", Origin="null")))[0] == 403

        own = f"http://{client.server.host}:{client.server.port}"
        for origin in ("https://shop.example.com", own):
            ws = await client.ws_connect("/ws/chat", headers=at("198.51.100.5", Origin=origin))
            await ws.close()
        shown = await metrics(client)
        assert shown['contactcenter_limit_refusals_total{limit="origin",surface="chat"}'] == 4.0


async def test_widget_key_is_required_when_configured(
    db: asyncpg.Pool, cc_settings: Settings, tmp_path: Path
) -> None:
    config = config_with(tmp_path, LIMITS_YAML + f"widget_keys:\n  shop: {KEY}\n")
    async with ivr_app(cc_settings, db, config_dir=config, trusted_proxies=PROXY) as client:
        for path in (
            "/ws/chat",
            "/ws/chat?site=shop",
            "/ws/chat?site=shop&key=wrong",
            (f"/ws/chat?site=other&key={KEY}"),
        ):
            status, error = await refused(client, at("198.51.100.6"), path)
            assert (status, error["code"]) == (403, "widget_key_invalid"), path
            assert KEY not in json.dumps(error)
        ann = await visitor(client, "198.51.100.6", f"/ws/chat?site=shop&key={KEY}")
        await ann.start("Ann", "Hello")
        await ann.bot_says("What can we help you with?")
        await ann.close()
        shown = await metrics(client)
        assert shown['contactcenter_limit_refusals_total{limit="widget_key",surface="chat"}'] == 8


async def test_start_leave_loop_is_throttled_and_bot_only_chats_are_no_abandons(
    db: asyncpg.Pool, cc_settings: Settings, tmp_path: Path
) -> None:
    config = config_with(tmp_path, LIMITS_YAML)
    scheduler = ManualScheduler(start=OPEN_AT)
    async with ivr_app(
        cc_settings, db, config_dir=config, trusted_proxies=PROXY, scheduler=scheduler
    ) as client:
        looped: list[str] = []
        for i in range(3):  # the burst
            v = await visitor(client, "198.51.100.9")
            looped.append(await v.start(f"Bot {i}", "spam"))
            await v.send("leave")
            await v.next("state", state="ended")
            await v.close()

        v = await visitor(client, "198.51.100.9")
        await v.send("start", name="Bot 3", question="spam")
        error = await v.next("error")
        assert error["data"]["code"] == "too_many_starts"
        closing = await v.ws.receive()
        assert closing.type == aiohttp.WSMsgType.CLOSE and closing.data == CLOSE_CHAT_LIMITED

        # someone else is not held up by it
        ann = await visitor(client, "203.0.113.20")
        await ann.start("Ann", "Hello")
        await ann.close()

        # 2 a minute: one start back after 30 s of the fake clock, not before
        await scheduler.advance(29.0)
        v = await visitor(client, "198.51.100.9")
        await v.send("start", name="Bot 4", question="spam")
        assert (await v.next("error"))["data"]["code"] == "too_many_starts"
        await scheduler.advance(1.0)
        v = await visitor(client, "198.51.100.9")
        looped.append(await v.start("Bot 5", "spam"))
        await v.send("leave")
        await v.next("state", state="ended")
        await v.close()

        shown = await metrics(client)
        assert (
            shown['contactcenter_limit_refusals_total{limit="starts_per_ip",surface="chat"}'] == 2
        )
        stats = await client.get("/api/queues", headers=bearer(cc_settings, "sue", "supervisor"))
        queues = {q["queue_id"]: q for q in (await stats.json())["queues"]}

    # bot-only chats reached no queue: no contact.* event, no abandon in the stats, and in
    # the call log they ended in the IVR with no queue
    assert (queues["chat_support"]["offered"], queues["chat_support"]["abandoned"]) == (0, 0)
    assert queues["chat_support"]["short_abandoned"] == 0
    for chat_id in looped:
        events = [e.type for e in await read_contact(db, chat_id)]
        assert not [t for t in events if t.startswith("contact.")], events
        assert events[-1] == "ivr.caller_left"
        row = await get_interaction(db, chat_id)
        assert row is not None
        assert (row.outcome, row.outcome_reason, row.queue_id) == (
            "ended_in_ivr",
            "caller_left",
            None,
        )
    # what one bot-only chat writes is bounded: the start, the tree's steps to its first
    # question, the leave
    assert max([len(await read_contact(db, c)) for c in looped]) <= 8


async def test_lines_per_chat_are_rate_limited(
    db: asyncpg.Pool, cc_settings: Settings, tmp_path: Path
) -> None:
    config = config_with(tmp_path, LIMITS_YAML)
    scheduler = ManualScheduler(start=OPEN_AT)
    async with ivr_app(
        cc_settings, db, config_dir=config, trusted_proxies=PROXY, scheduler=scheduler
    ) as client:
        dee = await visitor(client, "198.51.100.10")
        await dee.to_queue("Dee", "Hello", topic="sales")  # line 1 of the burst of 3
        for text in ("one", "two"):
            await dee.send("message", text=text)
            await dee.next("message", sender="visitor", text=text)
        await dee.send("message", text="three")
        error = await dee.next("error")
        assert error["data"]["code"] == "rate_limited"
        # a reconnection does not refill it: the limit is the chat's
        await dee.close()
        dee2 = await visitor(client, "198.51.100.10")
        await dee2.send("resume", token=dee.token, last_seq=0)
        await dee2.next("resumed")
        await dee2.send("message", text="four")
        assert (await dee2.next("error"))["data"]["code"] == "rate_limited"
        await scheduler.advance(1.0)  # one line a second
        await dee2.send("message", text="five")
        await dee2.next("message", sender="visitor", text="five")
        await dee2.close()
        shown = await metrics(client)
        key = 'contactcenter_limit_refusals_total{limit="messages_per_chat",surface="chat"}'
        assert shown[key] == 2


def test_chat_config_defaults_and_errors(tmp_path: Path) -> None:
    defaults = load_chat_config(tmp_path)  # no chat.yaml: every default
    assert defaults.limits.sockets_per_ip == 20 and defaults.widget_keys == {}
    assert load_chat_config(Path(__file__).resolve().parents[2] / "config") == defaults
    for text, key in (
        ("trusted_proxies: [10.0.0.1]\n", "CC_TRUSTED_PROXIES"),
        ("allowed_origins: [shop.example.com]\n", "allowed_origins"),
        ("widget_keys: {shop: short}\n", "widget_keys"),
        ("limits: {sockets_per_ip: 0}\n", "limits.sockets_per_ip"),
        ("limits: {socket_per_ip: 5}\n", "limits.socket_per_ip"),
    ):
        (tmp_path / "chat.yaml").write_text(text)
        with pytest.raises(ChatConfigError) as caught:
            load_chat_config(tmp_path)
        assert str(tmp_path / "chat.yaml") in str(caught.value)
        assert key in str(caught.value), caught.value
