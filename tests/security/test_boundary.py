"""Input is validated at the boundary, before the engine sees it (issue 13): every HTTP
body and websocket frame goes through one decoder (contactcenter/jsonin.py) that refuses
non-finite numbers, absurd nesting and text PostgreSQL cannot store, naming the field;
free-form attached data is bounded; oversize bodies are 413s and oversize frames get an
error frame or (over the socket's limit) a documented close. Against a real server on a
real socket and real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from contactcenter import protocol as p
from contactcenter.settings import Settings
from contactcenter.webcommon import MAX_JSON_BODY
from tests.contactcenter.server_support import (
    SOCKET_KINDS,
    SocketKind,
    add_agent,
    authed_ws,
    bearer,
    open_socket,
    running_app,
    token,
)
from tests.contactcenter.server_support import gateway_headers as gateway_key_headers
from tests.contactcenter.test_campaign_support import campaign_app

BIG = '{"call_id":"big1","queue":"sales","data":{"x":1e400}}'
"""The issue's request, byte for byte."""
FRAME_LIMIT: dict[SocketKind, int] = {
    "agent": p.MAX_FRAME_BYTES,
    "supervisor": p.WALLBOARD_SOCKET_MAX_BYTES,
    "chat": p.MAX_VISITOR_FRAME_BYTES,
    "gateway": p.MAX_FRAME_BYTES,
}
"""The largest frame each socket reads (and answers) rather than refusing by size."""
SOCKET_LIMIT: dict[SocketKind, int] = {
    "agent": p.AGENT_SOCKET_MAX_BYTES,
    "supervisor": p.WALLBOARD_SOCKET_MAX_BYTES,
    "chat": p.VISITOR_SOCKET_MAX_BYTES,
    "gateway": p.GATEWAY_SOCKET_MAX_BYTES,
}


def gateway_headers(settings: Settings) -> dict[str, str]:
    return {**gateway_key_headers(settings), "Content-Type": "application/json"}


async def error_of(resp: aiohttp.ClientResponse) -> dict[str, Any]:
    assert resp.content_type == "application/json", await resp.text()
    body: dict[str, Any] = (await resp.json())["error"]
    return body


def no_errors_logged(caplog: pytest.LogCaptureFixture) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not bad, [f"{r.name}: {r.getMessage()}" for r in bad]


# --- HTTP --------------------------------------------------------------------------------------


async def test_the_issues_1e400_call_is_refused_naming_the_field_and_never_queued(
    db: asyncpg.Pool, cc_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    headers = gateway_headers(cc_settings)
    async with running_app(cc_settings, db) as client:
        resp = await client.post("/gateway/calls", data=BIG, headers=headers)
        assert resp.status == 400
        err = await error_of(resp)
        assert (err["code"], err["field"]) == ("bad_number", "data.x")
        assert "data.x" in err["message"] and "1e400" in err["message"]
        # the engine never saw it: nothing logged, nothing waiting, the id is free
        assert await db.fetchval("SELECT count(*) FROM events") == 0
        queues = await client.get("/api/queues", headers=bearer(cc_settings, "root", "admin"))
        assert (await queues.json())["waiting_now"].get("sales", 0) == 0
        retry = await client.post(
            "/gateway/calls",
            json={"call_id": "big1", "queue": "sales", "data": {"x": 1}},
            headers=gateway_key_headers(cc_settings),
        )
        assert retry.status == 201, await retry.text()
        assert (await retry.json())["state"] == "queued"
    no_errors_logged(caplog)


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        ('{"call_id":"n1","queue":"sales","data":{"x":-1e999}}', "bad_number", "data.x"),
        ('{"call_id":"n1","queue":"sales","data":{"x":NaN}}', "bad_number", "data.x"),
        ('{"call_id":"n1","queue":"sales","data":{"x":Infinity}}', "bad_number", "data.x"),
        ('{"call_id":"n1","queue":"sales","priority":' + "9" * 40 + "}", "bad_number", "priority"),
        ('{"call_id":"n1","data":{"x":[1,2,{"y":1e309}]}}', "bad_number", "data.x.2.y"),
        ('{"call_id":"n1","data":{"k\\u0000":1}}', "bad_text", "data.k\\x00"),
        ('{"call_id":"n1","queue":"sales","data":{"x":"\\ud800"}}', "bad_text", "data.x"),
        ("[" * 100_000 + "]" * 100_000, "body_too_large", None),
        ("[" * 30_000 + "]" * 30_000, "too_deep", None),
        ('{"a":' * 33 + "1" + "}" * 33, "too_deep", None),
        ('{"call_id": "n1", "queue": ', "bad_json", None),
        ("\xff", "bad_json", None),
    ],
    ids=lambda v: v[:40] if isinstance(v, str) else str(v),
)
async def test_bad_json_bodies_are_client_errors_naming_the_problem(
    db: asyncpg.Pool,
    cc_settings: Settings,
    caplog: pytest.LogCaptureFixture,
    body: str,
    code: str,
    field: str | None,
) -> None:
    async with running_app(cc_settings, db) as client:
        resp = await client.post(
            "/gateway/calls",
            data=b"\xff" if body == "\xff" else body.encode(),
            headers=gateway_headers(cc_settings),
        )
        assert resp.status == (413 if code == "body_too_large" else 400)
        err = await error_of(resp)
        assert err["code"] == code, err
        if field is not None:
            assert err["field"] == field and field in err["message"]
        assert await db.fetchval("SELECT count(*) FROM events") == 0
    no_errors_logged(caplog)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"x": "a" * 1025}, "data.x"),
        ({"x": {"nested": 1}}, "data.x"),
        ({"x": [1, 2]}, "data.x"),
        ({"k" * 65: 1}, "data.kkk"),
        ({f"k{i}": i for i in range(33)}, "data"),
    ],
    ids=["long text", "object", "list", "long key", "too many keys"],
)
async def test_attached_data_is_bounded(
    db: asyncpg.Pool, cc_settings: Settings, data: dict[str, Any], field: str
) -> None:
    async with running_app(cc_settings, db) as client:
        resp = await client.post(
            "/gateway/calls",
            json={"call_id": "d1", "queue": "sales", "data": data},
            headers=gateway_key_headers(cc_settings),
        )
        assert resp.status == 400
        err = await error_of(resp)
        assert err["code"] == "invalid_call" and err["message"].startswith(field), err
        assert await db.fetchval("SELECT count(*) FROM events") == 0


@pytest.mark.parametrize("path", ["/gateway/calls", "/api/login", "/api/campaigns"])
async def test_oversize_bodies_are_413(db: asyncpg.Pool, cc_settings: Settings, path: str) -> None:
    body = json.dumps({"call_id": "o1", "pad": "x" * MAX_JSON_BODY})
    headers = (
        gateway_headers(cc_settings)
        if path.startswith("/gateway")
        else {**bearer(cc_settings, "root", "admin"), "Content-Type": "application/json"}
    )
    async with running_app(cc_settings, db) as client:
        resp = await client.post(path, data=body, headers=headers)
        assert resp.status == 413
        assert (await error_of(resp))["code"] == "body_too_large"

        async def chunks() -> Any:  # no Content-Length: the limit holds while reading
            for start in range(0, len(body), 4096):
                yield body[start : start + 4096].encode()

        resp = await client.post(path, data=chunks(), headers=headers)
        assert resp.status == 413
        assert (await error_of(resp))["code"] == "body_too_large"


async def test_a_chunked_body_is_read_whole_not_only_its_first_chunk(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    """A campaign list sent without Content-Length, in many chunks: every row counts (one
    ``read(n)`` returns only what has arrived, which silently dropped the rest)."""
    admin = bearer(cc_settings, "root", "admin")
    rows = 400
    listing = "number,name\n" + "".join(f"+1212555{i:04d},N{i}\n" for i in range(rows))

    async def chunks() -> Any:
        for start in range(0, len(listing), 512):
            yield listing[start : start + 512].encode()
            await asyncio.sleep(0)

    async with campaign_app(cc_settings, db) as client:
        resp = await client.post(
            "/api/campaigns",
            headers=admin,
            json={
                "id": "chunky",
                "name": "Chunked list",
                "queue": "outbound",
                "mode": "progressive",
                "calling_window": {"start": "09:00", "end": "20:00"},
            },
        )
        assert resp.status == 201, await resp.text()
        resp = await client.post(
            "/api/campaigns/chunky/contacts",
            data=chunks(),
            headers={**admin, "Content-Type": "text/csv"},
        )
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["accepted"] == rows


# --- websockets --------------------------------------------------------------------------------


async def receive_json(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await ws.receive(timeout=5.0)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    data: dict[str, Any] = json.loads(msg.data)
    return data


async def next_error(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    """The data of the next ``error`` frame (what comes before it: the socket's greeting,
    wallboard updates, must be typed frames of the protocol too)."""
    while True:
        frame = await receive_json(ws)
        if frame["type"] == p.ERROR:
            data: dict[str, Any] = frame["data"]
            return data
        assert frame["type"] in (
            *p.AGENT_MESSAGE_TYPES,
            p.WALLBOARD_SNAPSHOT,
            p.WALLBOARD_UPDATE,
            *p.GATEWAY_COMMAND_TYPES,
        ), frame


async def still_answers(kind: SocketKind, ws: aiohttp.ClientWebSocketResponse) -> None:
    """A well-formed frame after the refused one is answered as usual."""
    if kind == "agent":
        await ws.send_json({"type": "hello", "id": "after"})
        while (frame := await receive_json(ws))["type"] != p.REPLY:
            assert frame["type"] in p.AGENT_MESSAGE_TYPES
        assert frame["data"]["id"] == "after"
    elif kind == "chat":
        await ws.send_json({"type": "leave"})
        assert (await next_error(ws))["code"] == "no_chat"
    elif kind == "supervisor":
        await ws.send_json({})
        assert (await next_error(ws))["code"] == "read_only"
    else:
        await ws.send_json({"type": "hangup"})
        assert (await next_error(ws))["code"] == "unknown_type"


async def connect(
    client: TestClient[Any, Any], settings: Settings, kind: SocketKind
) -> aiohttp.ClientWebSocketResponse:
    ws = await open_socket(client, settings, kind, "ann" if kind == "agent" else None)
    if kind == "supervisor":
        assert (await receive_json(ws))["type"] == p.WALLBOARD_SNAPSHOT
    return ws


def deep_frames(kind: SocketKind) -> list[str]:
    """Frames nested far past the limit (and past the recursion limit of Python's own
    parser) that still fit in the socket's frame size."""
    depth = min(FRAME_LIMIT[kind] // 2 - 32, 20_000)
    return [
        "[" * depth + "]" * depth,
        '{"type":"hello","id":"d","x":' + "[" * depth + "]" * depth + "}",
        '{"a":' * (depth // 6) + "1" + "}" * (depth // 6),
        "[" * depth,  # not even closed
    ]


@pytest.mark.parametrize("kind", SOCKET_KINDS)
async def test_deeply_nested_frames_get_a_clean_error_frame(
    db: asyncpg.Pool, cc_settings: Settings, caplog: pytest.LogCaptureFixture, kind: SocketKind
) -> None:
    await add_agent(db, "ann", {"sales": 5})
    async with running_app(cc_settings, db) as client:
        ws = await connect(client, cc_settings, kind)
        for frame in deep_frames(kind):
            await ws.send_str(frame)
            err = await next_error(ws)
            assert err["code"] == "too_deep", err
            assert str(32) in err["message"]
        await still_answers(kind, ws)
        await ws.close()
        assert (await client.get("/healthz")).status == 200
    no_errors_logged(caplog)


@pytest.mark.parametrize("kind", SOCKET_KINDS)
async def test_bad_numbers_and_text_in_frames_get_an_error_naming_the_field(
    db: asyncpg.Pool, cc_settings: Settings, caplog: pytest.LogCaptureFixture, kind: SocketKind
) -> None:
    await add_agent(db, "ann", {"sales": 5})
    async with running_app(cc_settings, db) as client:
        ws = await connect(client, cc_settings, kind)
        for frame, code, field in [
            ('{"type":"hello","id":"n","last_seq":1e400}', "bad_number", "last_seq"),
            ('{"type":"ack","seq":NaN}', "bad_number", "seq"),
            ('{"type":"x","data":{"call_id":"\\u0000"}}', "bad_text", "data.call_id"),
            ('{"type":"x","id":' + "1" * 30 + "}", "bad_number", "id"),
        ]:
            await ws.send_str(frame)
            err = await next_error(ws)
            assert err["code"] == code and err["message"].startswith(f"{field}: "), err
        await still_answers(kind, ws)
        await ws.close()
    no_errors_logged(caplog)


@pytest.mark.parametrize("kind", SOCKET_KINDS)
async def test_oversize_frames_are_refused_and_over_the_socket_limit_closed(
    db: asyncpg.Pool, cc_settings: Settings, caplog: pytest.LogCaptureFixture, kind: SocketKind
) -> None:
    await add_agent(db, "ann", {"sales": 5})
    async with running_app(cc_settings, db) as client:
        ws = await connect(client, cc_settings, kind)
        if FRAME_LIMIT[kind] < SOCKET_LIMIT[kind]:
            # over the protocol's frame size, under the socket's: an error, the socket stays
            await ws.send_str(json.dumps({"type": "hello", "pad": "x" * FRAME_LIMIT[kind]}))
            assert (await next_error(ws))["code"] == "frame_too_large"
            await still_answers(kind, ws)
        await ws.send_str(json.dumps({"type": "hello", "pad": "x" * SOCKET_LIMIT[kind]}))
        while (msg := await ws.receive(timeout=5.0)).type == aiohttp.WSMsgType.TEXT:
            pass  # wallboard updates may still come
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg
        assert ws.close_code == p.CLOSE_TOO_LARGE
        assert (await client.get("/healthz")).status == 200
    no_errors_logged(caplog)


async def test_the_console_id_in_the_agent_socket_url_is_bounded(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    """``?client=`` is kept in memory per agent: a long or unprintable one is refused
    before the upgrade (400 naming it); one of 64 characters is taken."""
    await add_agent(db, "ann", {"sales": 5})
    async with running_app(cc_settings, db) as client:
        for bad in ("x" * 65, "tab%0A1"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await client.ws_connect(f"/ws/agent?client={bad}")
            assert refused.value.status == 400
            resp = await client.get(f"/ws/agent?client={bad}")
            assert (await error_of(resp))["code"] == "bad_client"
        ws = await authed_ws(
            client.ws_connect, f"/ws/agent?client={'y' * 64}", token(cc_settings, "ann", "agent")
        )
        await ws.send_json({"type": "hello", "id": "h1"})
        reply = json.loads((await ws.receive(timeout=5)).data)
        while reply["type"] != "reply":
            reply = json.loads((await ws.receive(timeout=5)).data)
        assert reply["data"]["id"] == "h1"
        await ws.close()
