"""Helpers of the security tests: logins over HTTP, the services of a running app."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from contactcenter.appkeys import NODE
from contactcenter.services import Services
from contactcenter.store.users import create_user
from tests.contactcenter.server_support import PASSWORD


def services(client: TestClient[Any, Any]) -> Services:
    return client.server.app[NODE].services


async def add_user(pool: Any, user_id: str, role: str) -> None:
    await create_user(pool, username=user_id, password=PASSWORD, role=role)  # type: ignore[arg-type]


async def login(
    client: TestClient[Any, Any], username: str, password: str = PASSWORD
) -> dict[str, Any]:
    resp = await client.post("/api/login", json={"username": username, "password": password})
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


def bearer_of(body: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {body['token']}"}


async def closed_with(
    ws: aiohttp.ClientWebSocketResponse, timeout: float = 1.0
) -> tuple[str | None, int]:
    """The error code of the frame before the close, and the close code; within
    ``timeout`` seconds (messages before the error frame are skipped)."""
    code = None
    while True:
        msg = await ws.receive(timeout=timeout)
        if msg.type == aiohttp.WSMsgType.TEXT:
            data = json.loads(msg.data)
            if data["type"] == "error" and data["seq"] == 0:
                code = data["data"]["code"]
            continue
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), msg
        return code, int(msg.data or ws.close_code or 0)
