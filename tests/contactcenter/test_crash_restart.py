"""The crash test: a real server process, killed with SIGKILL while one call is offered to an
agent and two wait, then started again on the same database. Every contact must still be
there, once, and the call log must stay consistent."""

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
from tests.contactcenter.server_support import CONFIG_DIR, PASSWORD, Console, add_agent

ROOT = CONFIG_DIR.parent
CALLS = ["crash-1", "crash-2", "crash-3"]


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
                [sys.executable, "-m", "contactcenter", "serve", "--host", "127.0.0.1",
                 "--port", str(port)],
                cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    pytest.fail(f"the server exited with {self.proc.returncode}:\n"
                                f"{self.log_path.read_text()}")
                try:
                    async with http.get(f"{self.url}/healthz") as resp:
                        if resp.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
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


async def test_contacts_survive_a_sigkill(
    db: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    secret = secrets.token_urlsafe(48)
    await create_user(db, username="gateway", password=PASSWORD, role="admin")
    await add_agent(db, "alice", {"sales": 8})
    env = {k: v for k, v in os.environ.items() if not k.startswith("CC_")}
    env.update({"DATABASE_URL": database_url, "CC_TOKEN_SECRET": secret,
                "CC_DATA_DIR": str(tmp_path / "var"), "CC_CONFIG_DIR": str(CONFIG_DIR),
                "CC_LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1"})
    agent_token = issue_token(secret.encode(), user_id="alice", role="agent", ttl_s=600)
    server = ServerProcess(env, tmp_path / "server.log")
    try:
        await server.start()
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{server.url}/api/login", json={
                    "username": "gateway", "password": PASSWORD}) as resp:
                assert resp.status == 200, await resp.text()
                gw = {"Authorization": f"Bearer {(await resp.json())['token']}"}
            ws = await http.ws_connect(f"{server.url}/ws/agent?token={agent_token}")
            alice = Console(ws)
            assert (await alice.command("set_status", status="available"))["type"] == "reply"
            await alice.next("agent_state", activity="idle")
            states = []
            for cid in CALLS:
                async with http.post(f"{server.url}/gateway/calls", headers=gw, json={
                        "call_id": cid, "queue": "sales", "ani": "+14155550101"}) as resp:
                    assert resp.status == 201, await resp.text()
                    states.append((await resp.json())["state"])
            assert states == ["offered", "queued", "queued"]
            offer = await alice.next("offer")
            assert offer["data"]["contact_id"] == "crash-1"

            server.kill()  # no shutdown, no goodbye
            await ws.close()

        before = await _events_by_contact(db)
        assert before["crash-1"][-1] == "contact.offered"
        assert before["crash-2"][-1] == before["crash-3"][-1] == "contact.queued"

        await server.start()
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{server.url}/api/queues", headers=gw) as resp:
                assert resp.status == 200, await resp.text()
                assert (await resp.json())["waiting_now"]["sales"] == 3
            async with http.post(f"{server.url}/gateway/calls", headers=gw, json={
                    "call_id": "crash-2", "queue": "sales"}) as resp:
                assert resp.status == 409  # the id is still known after the crash
            gateway_ws = await http.ws_connect(
                f"{server.url}/gateway/ws?token={gw['Authorization'][7:]}")
            ws = await http.ws_connect(f"{server.url}/ws/agent?token={agent_token}")
            alice = Console(ws)
            hello = await alice.command("hello", last_seq=offer["seq"])
            assert hello["type"] == "reply"
            assert (await alice.command("set_status", status="available"))["type"] == "reply"
            # the oldest contact, the one offered before the crash, is offered again
            again = await alice.next("offer", contact_id="crash-1", timeout=10)
            assert again["data"]["queue"] == "sales"
            assert (await alice.command("accept", contact_id="crash-1"))["type"] == "reply"
            await alice.next("contact_state", contact_id="crash-1", state="connected")
            bridge = await _next_command(gateway_ws, "bridge")
            assert bridge["data"]["call_id"] == "crash-1"
            assert bridge["data"]["agent_id"] == "alice"
            # the caller of crash-3 gives up; crash-2 still waits
            async with http.post(f"{server.url}/gateway/calls/crash-3/hangup",
                                 headers=gw) as resp:
                assert resp.status == 200, await resp.text()
            async with http.get(f"{server.url}/api/queues", headers=gw) as resp:
                assert (await resp.json())["waiting_now"]["sales"] == 1
            await ws.close()
            await gateway_ws.close()
    finally:
        server.stop()

    after = await _events_by_contact(db)
    for cid in CALLS:
        counts = Counter(after[cid])
        assert counts["contact.arrived"] == 1, (cid, after[cid])
        assert counts["contact.queued"] == 1, (cid, after[cid])
        assert after[cid][: len(before[cid])] == before[cid]  # history kept as it was
        assert not (counts["contact.abandoned"] and counts["contact.answered"]), after[cid]
    assert Counter(after["crash-1"])["contact.offered"] == 2
    assert Counter(after["crash-1"])["contact.answered"] == 1
    assert "contact.abandoned" not in after["crash-2"]
    assert after["crash-3"][-1] == "contact.abandoned"

    rows = await list_interactions(db)
    assert sorted(r.contact_id for r in rows) == CALLS  # one row per call
    one = await get_interaction(db, "crash-1")
    assert one is not None and one.agent_id == "alice" and one.answered_at is not None
    assert one.outcome != "abandoned" and one.offers == 2
    two = await get_interaction(db, "crash-2")
    assert two is not None and two.outcome is None and two.answered_at is None
    three = await get_interaction(db, "crash-3")
    assert three is not None and three.outcome == "abandoned" and three.answered_at is None


async def _next_command(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    async def wait() -> dict[str, Any]:
        while True:
            msg = await ws.receive()
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            data: dict[str, Any] = json.loads(msg.data)
            if data["type"] == kind:
                return data

    return await asyncio.wait_for(wait(), 10)
