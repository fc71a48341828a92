"""Bad input to the server: each gets a JSON error naming the problem, never a crash."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import asyncpg
import pytest

from contactcenter.settings import Settings
from contactcenter.store.users import create_user
from tests.contactcenter.server_support import (
    PASSWORD,
    add_agent,
    bearer,
    console,
    gateway_headers,
    running_app,
    token,
)


async def error_of(resp: aiohttp.ClientResponse) -> dict[str, Any]:
    assert resp.content_type == "application/json", await resp.text()
    body: dict[str, Any] = (await resp.json())["error"]
    return body


async def test_agent_socket_answers_bad_frames_with_errors(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "gail", {"sales": 5})
    async with running_app(cc_settings, db) as client, console(client, cc_settings, "gail") as gail:
        await gail.ws.send_str("{not json")
        assert (await gail.next("error"))["data"]["code"] == "bad_json"
        await gail.ws.send_json({"type": "dance", "id": "x1"})
        err = (await gail.next("error"))["data"]
        assert (err["code"], err["id"]) == ("unknown_type", "x1")
        assert "dance" in err["message"]
        await gail.ws.send_json({"type": "accept", "id": "x2"})
        err = (await gail.next("error"))["data"]
        assert (err["code"], err["id"]) == ("invalid_command", "x2")
        assert "contact_id" in err["message"]
        await gail.ws.send_str('{"type": "hello", "id": "big", "pad": "' + "x" * 70_000 + '"}')
        assert (await gail.next("error"))["data"]["code"] == "frame_too_large"
        nothing = await gail.command("accept", contact_id="no-such-call")
        assert nothing["data"]["code"] == "unknown_contact"
        bad_status = await gail.command("set_status", status="napping")
        assert bad_status["data"]["code"] == "invalid_status"
        # and the connection still works
        assert (await gail.command("set_status", status="available"))["type"] == "reply"


async def test_http_auth_errors_are_json(db: asyncpg.Pool, cc_settings: Settings) -> None:
    await add_agent(db, "hal", {"sales": 5})
    await create_user(db, username="sue", password=PASSWORD, role="supervisor")
    async with running_app(cc_settings, db) as client:
        resp = await client.get("/api/queues")
        assert resp.status == 401
        assert (await error_of(resp))["code"] == "token_missing"
        resp = await client.get("/api/queues", headers={"Authorization": "Bearer abc.def"})
        assert resp.status == 401
        assert (await error_of(resp))["code"].startswith("token_")

        resp = await client.post("/api/login", json={"username": "hal", "password": "nope"})
        assert resp.status == 401
        assert (await error_of(resp))["code"] == "bad_credentials"
        resp = await client.post("/api/login", data=b"{oops")
        assert resp.status == 400
        resp = await client.post("/api/login", json={"username": "hal", "password": PASSWORD})
        assert resp.status == 200
        login = await resp.json()
        assert login["role"] == "agent"
        resp = await client.get(
            "/api/queues", headers={"Authorization": f"Bearer {login['token']}"}
        )
        assert resp.status == 200
        assert {q["queue_id"] for q in (await resp.json())["queues"]} >= {"sales", "support"}

        # a user's token is not a gateway key: an agent is not the telephony gateway
        resp = await client.post(
            "/gateway/calls",
            headers=bearer(cc_settings, "hal", "agent"),
            json={"call_id": "c", "queue": "sales"},
        )
        assert resp.status == 401
        assert (await error_of(resp))["code"] == "gateway_key_invalid"
        resp = await client.post(
            "/gateway/calls",
            headers=gateway_headers(cc_settings),
            json={"call_id": "bad id!", "queue": "sales"},
        )
        assert resp.status == 400
        assert (await error_of(resp))["code"] == "invalid_call"
        resp = await client.post(
            "/gateway/calls",
            headers=gateway_headers(cc_settings),
            json={"call_id": "c2", "queue": "nowhere"},
        )
        assert (await error_of(resp))["code"] == "unknown_queue"
        resp = await client.post("/gateway/calls/none/hangup", headers=gateway_headers(cc_settings))
        assert resp.status == 404
        resp = await client.get("/no/such/page")
        assert resp.status == 404
        assert (await error_of(resp))["code"] == "not_found"

        resp = await client.get("/healthz")
        assert resp.status == 200


@pytest.mark.parametrize(
    ("auth", "close", "code"),
    [
        ("forged.token", 4401, "token_malformed"),
        ("{sue}", 4403, "forbidden"),
        ("not-json", 4401, "auth_required"),
    ],
)
async def test_agent_socket_refuses_bad_tokens_and_roles(
    db: asyncpg.Pool, cc_settings: Settings, auth: str, close: int, code: str
) -> None:
    """The socket authenticates with its first frame; a bad one gets an error frame naming
    why and the close code of protocol.py. A token in the URL is refused outright."""
    async with running_app(cc_settings, db) as client:
        sue = token(cc_settings, "sue", "supervisor")
        ws = await client.ws_connect("/ws/agent")
        if auth == "not-json":
            await ws.send_str("hello")
        else:
            await ws.send_json({"type": "auth", "token": auth.format(sue=sue)})
        msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.TEXT
        assert json.loads(msg.data)["data"]["code"] == code
        msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == close
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await client.ws_connect(f"/ws/agent?token={sue}")
        assert info.value.status == 400
        resp = await client.get(f"/ws/agent?token={sue}")
        assert (await error_of(resp))["code"] == "token_in_url"


async def test_duplicate_call_and_hangup(db: asyncpg.Pool, cc_settings: Settings) -> None:
    async with running_app(cc_settings, db) as client:
        call = {"call_id": "dup-1", "queue": "support"}
        assert (
            await client.post("/gateway/calls", headers=gateway_headers(cc_settings), json=call)
        ).status == 201
        resp = await client.post("/gateway/calls", headers=gateway_headers(cc_settings), json=call)
        assert resp.status == 409
        resp = await client.post(
            "/gateway/calls/dup-1/digits",
            headers=gateway_headers(cc_settings),
            json={"digits": "12#"},
        )
        assert resp.status == 200
        resp = await client.post(
            "/gateway/calls/dup-1/hangup", headers=gateway_headers(cc_settings)
        )
        assert resp.status == 200
        resp = await client.post(
            "/gateway/calls/dup-1/hangup", headers=gateway_headers(cc_settings)
        )
        assert resp.status == 404


async def test_nothing_is_announced_when_the_log_refuses_the_events(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    from contactcenter.appkeys import EVENT_LOG

    await add_agent(db, "ivy", {"sales": 5})
    async with running_app(cc_settings, db) as client, console(client, cc_settings, "ivy") as ivy:
        await ivy.next("agent_state")
        await client.server.app[EVENT_LOG].close()
        refused = await ivy.command("set_status", status="available")
        assert refused["type"] == "error"
        assert refused["data"]["code"] == "event_log_failed"
        assert not ivy.inbox  # no agent_state went out for the unrecorded change
