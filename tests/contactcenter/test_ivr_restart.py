"""IVR sessions across a crash: a real server process is killed with SIGKILL while three
calls wait at IVR menus and a web chat is in the chat tree, then started again on the same
database with one of the trees deleted. Nobody is left in limbo: the call whose tree is
still there hears it again from its start (a new ``gather``), answers, is queued and
reaches an agent; the one whose tree is gone is queued to its number's fallback queue;
the one with neither is hung up; the chat is ended. One call-log row per contact, each with
an outcome that says what happened."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from contactcenter.auth import issue_token
from contactcenter.replay import LogReplay
from contactcenter.store import StoredEvent
from contactcenter.store.events import read_contact
from contactcenter.store.interactions import get_interaction
from tests.contactcenter.server_support import (
    CONFIG_DIR,
    Console,
    add_agent,
    authed_ws,
    gateway_headers,
)
from tests.contactcenter.test_crash_restart import ServerProcess

KEPT, DOOMED, ORPHAN = "+18005550155", "+18005550177", "+18005550188"
"""A number whose tree survives the restart; one whose tree is deleted but that has a
fallback queue (``dnis:``); one whose tree is deleted and has no queue."""

MENU_TREE = """
id: {id}
description: restart test - one menu, then the sales queue
channels: [voice]
start: hello
defaults:
  timeout_s: 30
  retries: 2
  no_input_prompt: Sorry, I did not hear a choice.
  invalid_prompt: Sorry, that is not one of the options.
  on_failure: bye
nodes:
  hello:
    type: say
    prompt: Welcome to the {id} line.
    next: choose
  choose:
    type: menu
    prompt: For sales, press 1. To hang up, press 2.
    variable: department
    options:
      - {{key: "1", label: Sales, value: sales, next: to_sales}}
      - {{key: "2", label: Goodbye, value: none, next: bye}}
  to_sales:
    type: queue
    queue: sales
    prompt: Connecting you to sales.
  bye:
    type: hangup
    prompt: Goodbye.
    reason: no_choice
"""

GATEWAY_YAML = f"""
dnis:
  "{DOOMED}": sales
ivr:
  dnis:
    "{KEPT}": kept
    "{DOOMED}": doomed
    "{ORPHAN}": orphan
"""


class GatewayWs:
    """The gateway websocket: commands kept in order, taken by type and call."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.inbox: list[dict[str, Any]] = []

    async def next(self, kind: str, call_id: str, timeout: float = 10.0) -> dict[str, Any]:
        def matches(m: dict[str, Any]) -> bool:
            return bool(m["type"] == kind and m["data"].get("call_id") == call_id)

        for m in self.inbox:
            if matches(m):
                self.inbox.remove(m)
                return m

        async def wait() -> dict[str, Any]:
            while True:
                msg = await self.ws.receive()
                assert msg.type == aiohttp.WSMsgType.TEXT, msg
                data: dict[str, Any] = json.loads(msg.data)
                if matches(data):
                    return data
                self.inbox.append(data)

        return await asyncio.wait_for(wait(), timeout)

    def commands(self, call_id: str) -> list[str]:
        return [m["type"] for m in self.inbox if m["data"].get("call_id") == call_id]


def make_config(target: Path) -> Path:
    shutil.copytree(CONFIG_DIR, target)
    for tree in ("kept", "doomed", "orphan"):
        (target / "ivr" / f"{tree}.yaml").write_text(MENU_TREE.format(id=tree))
    (target / "gateway.yaml").write_text(GATEWAY_YAML)
    return target


async def _types(db: asyncpg.Pool, contact_id: str) -> list[str]:
    return [e.type for e in await read_contact(db, contact_id)]


async def _wait_chat_in_ivr(ws: aiohttp.ClientWebSocketResponse) -> str:
    """Start a chat; back once the bot spoke (its step is committed: it waits in the
    tree for the visitor's answer)."""
    await ws.send_json({"type": "start", "name": "Vera", "question": "Is my router ok?"})
    chat_id = ""

    async def wait() -> str:
        nonlocal chat_id
        while True:
            msg = json.loads((await ws.receive()).data)
            if msg["type"] == "started":
                chat_id = msg["data"]["chat_id"]
            if msg["type"] == "message" and msg["data"].get("sender") == "bot":
                assert chat_id
                return chat_id

    return await asyncio.wait_for(wait(), 10)


async def test_ivr_sessions_survive_a_sigkill(
    db: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    secret = secrets.token_urlsafe(48)
    config = make_config(tmp_path / "config")
    await add_agent(db, "alice", {"sales": 8})
    env = {k: v for k, v in os.environ.items() if not k.startswith("CC_")}
    env.update(
        {
            "DATABASE_URL": database_url,
            "CC_TOKEN_SECRET": secret,
            "CC_DATA_DIR": str(tmp_path / "var"),
            "CC_CONFIG_DIR": str(config),
            "CC_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
    )
    alice_token = issue_token(secret.encode(), user_id="alice", role="agent", ttl_s=600)
    gw = gateway_headers(tmp_path / "var")  # the server finds this key in its data dir
    server = ServerProcess(env, tmp_path / "server.log")
    calls = {"ivr-kept": KEPT, "ivr-doomed": DOOMED, "ivr-orphan": ORPHAN}
    try:
        await server.start()
        async with aiohttp.ClientSession() as http:
            gateway = GatewayWs(await http.ws_connect(f"{server.url}/gateway/ws", headers=gw))
            first_gather: dict[str, Any] = {}
            for call_id, number in calls.items():
                async with http.post(
                    f"{server.url}/gateway/calls",
                    headers=gw,
                    json={"call_id": call_id, "dnis": number, "ani": "+14155550111"},
                ) as resp:
                    assert resp.status == 201, await resp.text()
                    assert (await resp.json())["state"] == "ivr"
                first_gather[call_id] = await gateway.next("gather", call_id)
                assert first_gather[call_id]["data"]["node"] == "choose"
            visitor = await http.ws_connect(f"{server.url}/ws/chat")
            chat_id = await _wait_chat_in_ivr(visitor)

            server.kill()  # every caller waits at a menu: no shutdown, no goodbye
            await gateway.ws.close()
            await visitor.close()

        for call_id in calls:
            types = await _types(db, call_id)
            assert types[:2] == ["ivr.call_arrived", "ivr.started"], types
            assert "contact.arrived" not in types and "ivr.exited" not in types
        assert "ivr.started" in await _types(db, chat_id)
        assert (await get_interaction(db, "ivr-kept")).outcome is None  # type: ignore[union-attr]

        # the trees change while the server is down: two of them are gone
        (config / "ivr" / "doomed.yaml").unlink()
        (config / "ivr" / "orphan.yaml").unlink()
        await server.start()
        async with aiohttp.ClientSession() as http:
            gateway = GatewayWs(await http.ws_connect(f"{server.url}/gateway/ws", headers=gw))
            # the kept tree starts again from its start: the same menu is gathered again
            gather = await gateway.next("gather", "ivr-kept")
            assert gather["data"]["node"] == "choose"
            assert gather["data"]["attempt"] == 1
            spoken = [p.get("say") for p in gather["data"]["prompts"]]
            assert "Welcome to the kept line." in spoken
            # the doomed tree's caller waits in its number's queue; the orphan is hung up
            assert (await gateway.next("play", "ivr-doomed"))["data"]["prompt"] == "queue_hold"
            hangup = await gateway.next("hangup", "ivr-orphan")
            assert hangup["data"]["reason"] == "server_restart"
            admin = issue_token(secret.encode(), user_id="root", role="admin", ttl_s=600)
            async with http.get(
                f"{server.url}/api/queues", headers={"Authorization": f"Bearer {admin}"}
            ) as resp:
                assert (await resp.json())["waiting_now"]["sales"] == 1
            # the orphan is over: the server no longer takes its digits
            async with http.post(
                f"{server.url}/gateway/calls/ivr-orphan/digits", headers=gw, json={"digits": "1"}
            ) as resp:
                assert resp.status == 404, await resp.text()
            # the doomed tree's caller gives up waiting
            async with http.post(
                f"{server.url}/gateway/calls/ivr-doomed/hangup", headers=gw
            ) as resp:
                assert resp.status == 200, await resp.text()

            # the kept caller answers the menu and is queued to sales
            async with http.post(
                f"{server.url}/gateway/calls/ivr-kept/digits", headers=gw, json={"digits": "1"}
            ) as resp:
                assert resp.status == 200, await resp.text()
                assert (await resp.json())["state"] == "done"
            await gateway.next("play", "ivr-kept")  # queue_hold
            alice = Console(await authed_ws(http.ws_connect, f"{server.url}/ws/agent", alice_token))
            assert (await alice.command("hello"))["type"] == "reply"
            assert (await alice.command("set_status", status="available"))["type"] == "reply"
            offer = await alice.next("offer", contact_id="ivr-kept", timeout=10)
            assert offer["data"]["queue"] == "sales"
            assert offer["data"]["screen_pop"]["ani"] == "+14155550111"
            assert offer["data"]["screen_pop"]["ivr"]["tree"] == "kept"
            assert (await alice.command("accept", contact_id="ivr-kept"))["type"] == "reply"
            bridge = await gateway.next("bridge", "ivr-kept")
            assert bridge["data"]["agent_id"] == "alice"
            assert (await alice.command("end", contact_id="ivr-kept"))["type"] == "reply"
            await gateway.next("hangup", "ivr-kept")
            done = await alice.command("wrapup", contact_id="ivr-kept", disposition="sold")
            assert done["type"] == "reply", done
            await alice.ws.close()
            await gateway.ws.close()
    finally:
        server.stop()

    kept = await _types(db, "ivr-kept")
    counts = Counter(kept)
    assert counts["ivr.restarted"] == 1 and counts["ivr.started"] == 2, kept
    assert counts["contact.arrived"] == 1 and counts["contact.answered"] == 1, kept
    # the restart is logged before the fresh session's events, and the call queued after
    assert kept.index("ivr.restarted") < len(kept) - 1 - kept[::-1].index("ivr.started")
    assert kept.index("ivr.restarted") < kept.index("contact.arrived")
    restarted = next(e for e in await read_contact(db, "ivr-kept") if e.type == "ivr.restarted")
    assert restarted.data["tree"] == "kept" and restarted.data["node"] == "choose"

    row = await get_interaction(db, "ivr-kept")
    assert row is not None and row.outcome == "handled" and row.agent_id == "alice"
    assert row.disposition == "sold" and row.queue_id == "sales"
    # one path: the steps before the crash, the restart, then the fresh session's
    nodes = [step["node"] for step in row.ivr_path]
    assert nodes == ["hello", "choose", "(server restart)", "hello", "choose", "to_sales"]
    assert "input" not in row.ivr_path[1] and row.ivr_path[4]["input"] == "1"

    doomed = await get_interaction(db, "ivr-doomed")
    assert doomed is not None and doomed.outcome == "abandoned"
    assert doomed.queue_id == "sales" and doomed.ani == "+14155550111"
    assert Counter(await _types(db, "ivr-doomed"))["ivr.ended"] == 1

    orphan = await get_interaction(db, "ivr-orphan")
    assert orphan is not None and orphan.outcome == "ended_in_ivr"
    assert orphan.outcome_reason == "server_restart" and orphan.ended_at is not None
    assert orphan.queued_at is None

    chat = await get_interaction(db, chat_id)
    assert chat is not None and chat.channel == "chat"
    assert chat.outcome == "ended_in_ivr" and chat.outcome_reason == "server_restart"


def _fold(*events: tuple[str, str, dict[str, Any]]) -> LogReplay:
    replay = LogReplay()
    for seq, (kind, contact_id, data) in enumerate(events, start=1):
        replay.track(
            StoredEvent(type=kind, ts=float(seq), contact_id=contact_id, data=data, seq=seq)
        )
    return replay


def test_replay_finds_the_sessions_left_open() -> None:
    started = {"tree": "kept", "channel": "voice", "node": "hello"}
    replay = _fold(
        # a: in the menu, one answer kept, the sensitive one left out
        ("ivr.call_arrived", "a", {"ani": "+1415", "dnis": KEPT}),
        ("ivr.started", "a", started),
        ("ivr.collected", "a", {"node": "lang", "variable": "language", "value": "en"}),
        (
            "ivr.collected",
            "a",
            {"node": "acct", "variable": "account", "value": "***", "sensitive": True},
        ),
        ("ivr.entered_node", "a", {"node": "choose", "node_type": "menu"}),
        # b: queued by its tree; c: hung up in it; d: exited to a transfer
        ("ivr.started", "b", started),
        ("contact.arrived", "b", {"channel": "voice"}),
        ("ivr.started", "c", started),
        ("ivr.caller_left", "c", {"node": "choose"}),
        ("ivr.started", "d", started),
        ("ivr.exited", "d", {"outcome": "transfer"}),
        # b again: its survey after the agent leg is open
        ("contact.ended", "b", {}),
        ("ivr.started", "b", {"tree": "survey", "channel": "voice", "node": "csat"}),
        # e: resumed by one restart already, still in the tree
        ("ivr.started", "e", started),
        ("ivr.restarted", "e", {"tree": "kept"}),
        ("ivr.started", "e", started),
        # f: ended at a restart
        ("ivr.started", "f", started),
        ("ivr.ended", "f", {"reason": "server_restart", "queue": None}),
    )
    found = dict(replay.in_ivr())
    assert sorted(found) == ["a", "b", "e"]
    a = found["a"]
    assert a.ivr is not None and a.ivr.purpose == "entry" and a.ivr.node == "choose"
    assert a.ivr.variables == {"language": "en"}
    assert a.call == {"ani": "+1415", "dnis": KEPT} and a.ivr_restarts == 0
    b = found["b"]
    assert b.ivr is not None and b.ivr.purpose == "survey" and b.ivr.tree == "survey"
    assert found["e"].ivr_restarts == 1
