"""Issue 13 §3: no bearer token in a URL or a log line. The agent and supervisor sockets
authenticate with their first frame (or an Authorization header), ``?token=`` is refused,
and the access log redacts token-like parameters and never logs headers."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from contactcenter import protocol as p
from contactcenter.accesslog import RedactFilter, redact
from contactcenter.clock import ManualScheduler
from contactcenter.settings import Settings
from tests.contactcenter.server_support import (
    add_agent,
    armed,
    authed_ws,
    running_app,
    token,
)
from tests.security.support import bearer_of, closed_with, login

UI_JS = Path(__file__).resolve().parents[2] / "agent_ui" / "js"


def test_the_browser_never_puts_a_token_in_a_socket_url() -> None:
    for name in ("channel.js", "feed.js"):
        text = (UI_JS / name).read_text()
        assert "token=" not in text, name
        assert '{ type: "auth", token }' in text, name


async def test_no_token_reaches_the_access_log(
    db: asyncpg.Pool, cc_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """The issue counted 17 admin and 83 agent tokens in one access log."""
    await add_agent(db, "alice", {"sales": 5})
    from tests.security.support import add_user

    await add_user(db, "root", "admin")
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    # running_app serves with the production access logger (RedactingAccessLogger)
    async with running_app(cc_settings, db) as client:
        admin = await login(client, "root")
        agent = await login(client, "alice")
        secrets_seen = [admin["token"], agent["token"], admin["refresh_token"]]
        ws = await authed_ws(client.ws_connect, "/ws/agent", agent["token"])
        assert (await ws.receive_json(timeout=5))["type"] == "agent_state"
        await ws.close()
        feed = await authed_ws(client.ws_connect, "/ws/supervisor", admin["token"])
        assert (await feed.receive_json(timeout=5))["type"] == "wallboard_snapshot"
        await feed.close()
        await client.get("/api/queues", headers=bearer_of(admin))
        # an old client (or a lifted link) still putting the token in the URL: refused,
        # and its line redacted all the same
        resp = await client.get(f"/ws/agent?token={agent['token']}&client=x")
        assert resp.status == 400
        assert (await resp.json())["error"]["code"] == "token_in_url"
        resp = await client.get(f"/api/queues?access_token={admin['token']}")
        assert resp.status == 401
        await client.post("/api/session/refresh", json={"refresh_token": admin["refresh_token"]})
    lines = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert any("/ws/agent" in line for line in lines) and len(lines) >= 6
    for line in lines:
        for secret in secrets_seen:
            assert secret not in line, line
        assert "Bearer" not in line
    assert any("token=[redacted]&client=x" in line for line in lines)


def test_redaction_of_lines_the_default_format_would_write() -> None:
    tok = "eyJzdWIiOiJhIn0.c2lnbmF0dXJl"
    line = f'127.0.0.1 "GET /gateway/ws?token={tok}&x=1 HTTP/1.1" 101 "Bearer {tok}"'
    cleaned = redact(line)
    assert tok not in cleaned and "token=[redacted]&x=1" in cleaned
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "url %s", (line,), None)
    assert RedactFilter().filter(record) and tok not in record.getMessage()
    assert redact("/ui/wallboard.html#token=abc.def") == "/ui/wallboard.html#token=[redacted]"


async def test_a_socket_that_does_not_authenticate_is_closed(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    """On the fake clock: no auth frame within the timeout -> error frame and 4401."""
    scheduler = ManualScheduler()
    async with running_app(cc_settings, db, scheduler=scheduler) as client:
        for path in ("/ws/agent", "/ws/supervisor"):
            ws = await client.ws_connect(path)
            await armed(scheduler, p.AUTH_TIMEOUT_S, "the auth timeout")
            await scheduler.advance(p.AUTH_TIMEOUT_S)
            assert await closed_with(ws) == ("auth_timeout", p.CLOSE_UNAUTHENTICATED)


async def test_sockets_take_the_first_frame_or_a_header(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "alice", {"sales": 5})
    async with running_app(cc_settings, db) as client:
        tok = token(cc_settings, "alice", "agent")
        ws = await authed_ws(client.ws_connect, "/ws/agent", tok)
        assert (await ws.receive_json(timeout=5))["type"] == "agent_state"
        await ws.close()
        ws = await client.ws_connect("/ws/agent", headers={"Authorization": f"Bearer {tok}"})
        assert (await ws.receive_json(timeout=5))["type"] == "agent_state"
        await ws.close()
        # the agent's token on the supervisor feed: forbidden
        feed = await authed_ws(client.ws_connect, "/ws/supervisor", tok)
        assert await closed_with(feed) == ("forbidden", p.CLOSE_FORBIDDEN)
        # a supervisor without an agent profile on the agent socket
        sup: Any = await authed_ws(
            client.ws_connect, "/ws/agent", token(cc_settings, "sam", "supervisor")
        )
        assert await closed_with(sup) == ("forbidden", p.CLOSE_FORBIDDEN)
        ghost = await authed_ws(
            client.ws_connect, "/ws/agent", token(cc_settings, "nobody", "agent")
        )
        assert await closed_with(ghost) == ("no_agent_profile", p.CLOSE_FORBIDDEN)
        for path in ("/ws/agent", "/ws/supervisor"):
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await client.ws_connect(f"{path}?token={tok}")
            assert info.value.status == 400


def test_every_close_code_is_distinct() -> None:
    codes = [v for k, v in vars(p).items() if re.fullmatch(r"CLOSE_[A-Z_]+", k)]
    assert len(codes) == len(set(codes))
