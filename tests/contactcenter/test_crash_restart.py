"""The crash test: a real server process, killed with SIGKILL while one call is offered to an
agent, two wait, one is connected to a second agent and a third agent is wrapping one up;
then started again on the same database. Every contact must still be there, once (the
connected one with the same agent, the wrap-up still open), and the call log must stay
consistent."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from contactcenter.auth import issue_token
from contactcenter.store.events import read_contact
from contactcenter.store.interactions import get_interaction, list_interactions
from contactcenter.store.users import create_user
from tests.contactcenter.server_support import (
    CONFIG_DIR,
    PASSWORD,
    Console,
    add_agent,
    authed_ws,
    gateway_headers,
)

ROOT = CONFIG_DIR.parent
CALLS = ["crash-1", "crash-2", "crash-3", "crash-4", "crash-5"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServerProcess:
    """``python -m contactcenter serve`` in a subprocess, its output in a log file."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    async def start(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        with self.log_path.open("ab") as out:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "contactcenter",
                    "serve",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(port),
                ],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    pytest.fail(
                        f"the server exited with {self.proc.returncode}:\n"
                        f"{self.log_path.read_text()}"
                    )
                try:
                    async with http.get(f"{self.url}/healthz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                # real time: a subprocess starting up (its own clock; nothing to advance)
                await asyncio.sleep(0.1)
        pytest.fail(f"the server did not become healthy:\n{self.log_path.read_text()}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)


async def _events_by_contact(db: asyncpg.Pool) -> dict[str, list[str]]:
    return {cid: [e.type for e in await read_contact(db, cid)] for cid in CALLS}


async def _call(http: aiohttp.ClientSession, url: str, gw: dict[str, str], cid: str) -> str:
    async with http.post(
        f"{url}/gateway/calls",
        headers=gw,
        json={"call_id": cid, "queue": "sales", "ani": "+14155550101"},
    ) as resp:
        assert resp.status == 201, await resp.text()
        return str((await resp.json())["state"])


async def _login(http: aiohttp.ClientSession, url: str, token: str) -> tuple[Console, str]:
    """A console that says hello; the console and the server session it was told."""
    console = Console(await authed_ws(http.ws_connect, f"{url}/ws/agent", token))
    hello = await console.command("hello")
    assert hello["type"] == "reply", hello
    return console, str(hello["data"]["session"])


async def test_contacts_survive_a_sigkill(
    db: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    secret = secrets.token_urlsafe(48)
    await create_user(db, username="gateway", password=PASSWORD, role="admin")
    for agent_id in ("alice", "bob", "carol"):
        await add_agent(db, agent_id, {"sales": 8})
    env = {k: v for k, v in os.environ.items() if not k.startswith("CC_")}
    env.update(
        {
            "DATABASE_URL": database_url,
            "CC_TOKEN_SECRET": secret,
            "CC_DATA_DIR": str(tmp_path / "var"),
            "CC_CONFIG_DIR": str(CONFIG_DIR),
            "CC_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
    )
    tokens = {
        a: issue_token(secret.encode(), user_id=a, role="agent", ttl_s=600)
        for a in ("alice", "bob", "carol")
    }
    server = ServerProcess(env, tmp_path / "server.log")
    try:
        await server.start()
        async with aiohttp.ClientSession() as http:
            async with http.post(
                f"{server.url}/api/login", json={"username": "gateway", "password": PASSWORD}
            ) as resp:
                assert resp.status == 200, await resp.text()
                admin = {"Authorization": f"Bearer {(await resp.json())['token']}"}
            gw = gateway_headers(tmp_path / "var")  # the key the server created there
            # bob takes crash-4 and stays on it
            bob, bob_session = await _login(http, server.url, tokens["bob"])
            assert (await bob.command("set_status", status="available"))["type"] == "reply"
            assert await _call(http, server.url, gw, "crash-4") == "offered"
            await bob.next("offer", contact_id="crash-4")
            assert (await bob.command("accept", contact_id="crash-4"))["type"] == "reply"
            await bob.next("contact_state", contact_id="crash-4", state="connected")
            # carol takes crash-5, ends it and is still wrapping up
            carol, carol_session = await _login(http, server.url, tokens["carol"])
            assert (await carol.command("set_status", status="available"))["type"] == "reply"
            assert await _call(http, server.url, gw, "crash-5") == "offered"
            await carol.next("offer", contact_id="crash-5")
            assert (await carol.command("accept", contact_id="crash-5"))["type"] == "reply"
            assert (await carol.command("end", contact_id="crash-5"))["type"] == "reply"
            await carol.next("contact_state", contact_id="crash-5", state="wrap_up")
            # alice is offered crash-1; crash-2 and crash-3 wait
            alice, alice_session = await _login(http, server.url, tokens["alice"])
            assert (await alice.command("set_status", status="available"))["type"] == "reply"
            await alice.next("agent_state", activity="idle")
            states = [await _call(http, server.url, gw, cid) for cid in CALLS[:3]]
            assert states == ["offered", "queued", "queued"]
            offer = await alice.next("offer")
            assert offer["data"]["contact_id"] == "crash-1"

            server.kill()  # no shutdown, no goodbye
            for console in (alice, bob, carol):
                await console.ws.close()

        before = await _events_by_contact(db)
        assert before["crash-1"][-1] == "contact.offered"
        assert before["crash-2"][-1] == before["crash-3"][-1] == "contact.queued"
        assert before["crash-4"][-1] == "contact.answered"
        assert before["crash-5"][-1] == "contact.ended"
        answered_before = await get_interaction(db, "crash-4")
        assert answered_before is not None and answered_before.answered_at is not None

        await server.start()
        async with aiohttp.ClientSession() as http:
            # alice was restored logged in and available: crash-1 is offered to her again
            # at once; crash-2 and crash-3 wait (bob and carol are busy)
            async with http.get(f"{server.url}/api/queues", headers=admin) as resp:
                assert resp.status == 200, await resp.text()
                assert (await resp.json())["waiting_now"]["sales"] == 2
            async with http.post(
                f"{server.url}/gateway/calls",
                headers=gw,
                json={"call_id": "crash-2", "queue": "sales"},
            ) as resp:
                assert resp.status == 409  # the id is still known after the crash
            gateway_ws = await http.ws_connect(f"{server.url}/gateway/ws", headers=gw)

            # bob's console comes back: he still holds crash-4, connected
            bob = Console(await authed_ws(http.ws_connect, f"{server.url}/ws/agent", tokens["bob"]))
            hello = await bob.command("hello", last_seq=3, session=bob_session)
            assert hello["type"] == "reply", hello
            assert hello["data"]["gap"] is True and hello["data"]["session"] != bob_session
            assert hello["data"]["agent_state"]["status"] == "available"
            assert hello["data"]["agent_state"]["contacts"] == {"crash-4": "connected"}

            # carol's comes back: the wrap-up of crash-5 is still open
            carol = Console(
                await authed_ws(http.ws_connect, f"{server.url}/ws/agent", tokens["carol"])
            )
            hello = await carol.command("hello", last_seq=3, session=carol_session)
            assert hello["data"]["agent_state"]["contacts"] == {"crash-5": "wrap_up"}
            assert hello["data"]["agent_state"]["activity"] == "wrap_up"

            # alice's console is given the offer made while it was away
            alice = Console(
                await authed_ws(http.ws_connect, f"{server.url}/ws/agent", tokens["alice"])
            )
            hello = await alice.command("hello", last_seq=offer["seq"], session=alice_session)
            assert hello["type"] == "reply" and hello["data"]["replayed"] >= 1
            again = await alice.next("offer", contact_id="crash-1", timeout=10)
            assert again["data"]["queue"] == "sales"
            assert again["data"]["screen_pop"]["ani"] == "+14155550101"
            assert (await alice.command("accept", contact_id="crash-1"))["type"] == "reply"
            await alice.next("contact_state", contact_id="crash-1", state="connected")
            bridge = await _next_command(gateway_ws, "bridge")
            assert bridge["data"]["call_id"] == "crash-1"
            assert bridge["data"]["agent_id"] == "alice"
            # the caller of crash-3 gives up; crash-2 still waits
            async with http.post(f"{server.url}/gateway/calls/crash-3/hangup", headers=gw) as resp:
                assert resp.status == 200, await resp.text()
            async with http.get(f"{server.url}/api/queues", headers=admin) as resp:
                assert (await resp.json())["waiting_now"]["sales"] == 1

            # carol submits the disposition of the call she took before the crash
            done = await carol.command(
                "wrapup", contact_id="crash-5", disposition="quote_sent", notes="sent before crash"
            )
            assert done["type"] == "reply", done
            await carol.next("contact_state", contact_id="crash-5", state="done")
            # bob ends his call: the gateway is told to hang up; he wraps up
            assert (await bob.command("end", contact_id="crash-4"))["type"] == "reply"
            hangup = await _next_command(gateway_ws, "hangup")
            assert hangup["data"]["call_id"] == "crash-4"
            await bob.next("contact_state", contact_id="crash-4", state="wrap_up")
            done = await bob.command(
                "wrapup", contact_id="crash-4", disposition="sold", notes="kept across the restart"
            )
            assert done["type"] == "reply", done
            for console in (alice, bob, carol):
                await console.ws.close()
            await gateway_ws.close()
    finally:
        server.stop()

    after = await _events_by_contact(db)
    for cid in CALLS:
        counts = Counter(after[cid])
        assert counts["contact.arrived"] == 1, (cid, after[cid])
        assert counts["contact.queued"] == 1, (cid, after[cid])
        assert counts["contact.answered"] <= 1, (cid, after[cid])
        assert counts["contact.ended"] <= 1, (cid, after[cid])
        assert counts["wrapup.completed"] <= 1, (cid, after[cid])
        assert after[cid][: len(before[cid])] == before[cid]  # history kept as it was
        assert not (counts["contact.abandoned"] and counts["contact.answered"]), after[cid]
    assert Counter(after["crash-1"])["contact.offered"] == 2
    assert Counter(after["crash-1"])["contact.answered"] == 1
    assert "contact.abandoned" not in after["crash-2"]
    assert after["crash-3"][-1] == "contact.abandoned"
    # the connected and the wrapping-up calls went on where they were: nothing replayed
    assert after["crash-4"][len(before["crash-4"]) :] == ["contact.ended", "wrapup.completed"]
    assert after["crash-5"][len(before["crash-5"]) :] == ["wrapup.completed"]

    rows = await list_interactions(db)
    assert sorted(r.contact_id for r in rows) == CALLS  # one row per call
    one = await get_interaction(db, "crash-1")
    assert one is not None and one.agent_id == "alice" and one.answered_at is not None
    assert one.outcome != "abandoned" and one.offers == 2
    two = await get_interaction(db, "crash-2")
    assert two is not None and two.outcome is None and two.answered_at is None
    three = await get_interaction(db, "crash-3")
    assert three is not None and three.outcome == "abandoned" and three.answered_at is None
    four = await get_interaction(db, "crash-4")
    assert four is not None and four.agent_id == "bob" and four.offers == 1
    assert four.answered_at == answered_before.answered_at  # answered once, before the crash
    assert four.outcome == "handled" and four.disposition == "sold"
    assert four.notes == "kept across the restart" and four.wrapup_ended_at is not None
    assert four.ended_at is not None and four.talk_s is not None and four.talk_s > 0
    five = await get_interaction(db, "crash-5")
    assert five is not None and five.agent_id == "carol" and five.outcome == "handled"
    assert five.disposition == "quote_sent" and five.notes == "sent before crash"
    assert five.wrapup_s is not None and five.wrapup_s > 0


async def _next_command(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    async def wait() -> dict[str, Any]:
        while True:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            data: dict[str, Any] = json.loads(msg.data)
            if data["type"] == kind:
                return data

    return await asyncio.wait_for(wait(), 10)
