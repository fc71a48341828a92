"""Structured logs: the formatters, the ids that follow a request or a connection through
its tasks, and ``contactcenter serve --log-format json`` as a real process."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from contactcenter import logs
from contactcenter.clock import ManualScheduler
from contactcenter.hub import DROP_GRACE_S
from contactcenter.settings import Settings
from tests.contactcenter.server_support import (
    CONFIG_DIR,
    add_agent,
    armed,
    console,
    gateway_headers,
    running_app,
    until,
)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def json_logs() -> Iterator[io.StringIO]:
    """The root logger writing JSON lines into a buffer for the test."""
    stream = io.StringIO()
    root = logging.getLogger()
    level = root.level
    handler = logs.configure("INFO", "json", stream)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_json_line_has_the_fields_and_the_ids(json_logs: io.StringIO) -> None:
    log = logging.getLogger("cc.test")
    with logs.context(agent_id="kim"):
        log.warning("offer to %s timed out", "kim", extra={"contact_id": "c-1", "attempt": 2})
        try:
            raise ValueError('boom "quoted"\nsecond line')
        except ValueError:
            log.exception("it failed")
    log.info("outside")
    first, second, third = lines(json_logs)
    assert first["level"] == "WARNING" and first["logger"] == "cc.test"
    assert first["message"] == "offer to kim timed out"
    assert (first["contact_id"], first["agent_id"], first["attempt"]) == ("c-1", "kim", 2)
    assert first["ts"].endswith("Z") and "T" in first["ts"]
    assert "queue_id" not in first
    assert second["message"] == "it failed" and "ValueError" in second["exc"]
    assert second["agent_id"] == "kim"
    # the block's ids do not leak past it
    assert "agent_id" not in third and third["message"] == "outside"


def test_text_lines_append_the_ids() -> None:
    stream = io.StringIO()
    handler = logs.configure("INFO", "text", stream)
    try:
        with logs.context(contact_id="c-9", queue_id="sales"):
            logging.getLogger("cc.test").info("queued")
        logging.getLogger("cc.test").info("plain")
    finally:
        logging.getLogger().removeHandler(handler)
    queued, plain = stream.getvalue().splitlines()
    assert queued.endswith("INFO cc.test: queued [contact_id=c-9 queue_id=sales]")
    assert plain.endswith("INFO cc.test: plain")


def test_bound_ids_follow_into_tasks_started_later(json_logs: io.StringIO) -> None:
    async def scenario() -> None:
        logs.bind(agent_id="ann", contact_id="c-2")
        logs.bind(contact_id=None)  # None removes an id

        async def child() -> None:
            logging.getLogger("cc.test").info("from a child task")

        await asyncio.get_running_loop().create_task(child())

    asyncio.run(scenario())
    (line,) = lines(json_logs)
    assert line["agent_id"] == "ann" and "contact_id" not in line


async def test_server_logs_name_the_call_and_the_agent(
    db: asyncpg.Pool, cc_settings: Settings, json_logs: io.StringIO
) -> None:
    await add_agent(db, "kim", {"billing": 3})
    scheduler = ManualScheduler()
    async with running_app(cc_settings, db, scheduler=scheduler) as client:
        resp = await client.post(
            "/gateway/calls",
            headers=gateway_headers(cc_settings),
            json={"call_id": "log-1", "queue": "billing"},
        )
        assert resp.status == 201
        async with console(client, cc_settings, "kim") as kim:
            await kim.command("set_status", status="available")
        # the console left; after the grace period the agent is logged out, from a timer
        await armed(scheduler, DROP_GRACE_S, "the reconnect grace")
        await scheduler.advance(DROP_GRACE_S)
        await until(
            lambda: any("did not reconnect" in line["message"] for line in lines(json_logs)),
            what="the logout's log line",
        )
    found = lines(json_logs)
    arrived = next(line for line in found if line["message"].startswith("call log-1 arrived"))
    assert (arrived["contact_id"], arrived["queue_id"]) == ("log-1", "billing")
    dropped = next(line for line in found if "did not reconnect" in line["message"])
    assert dropped["agent_id"] == "kim" and dropped["logger"] == "contactcenter.hub"


async def test_serve_writes_json_lines(database_url: str, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "CC_DATA_DIR": str(tmp_path / "var"),
        "CC_CONFIG_DIR": str(CONFIG_DIR),
        "CC_LOG_LEVEL": "INFO",
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "contactcenter",
        "serve",
        "--port",
        "0",
        "--log-format",
        "json",
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        first = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        assert "serving on http://" in first, first
        url = first.rsplit(" ", 1)[1].strip()
        async with aiohttp.ClientSession() as session, session.get(f"{url}/readyz") as resp:
            assert resp.status == 200
    finally:
        proc.terminate()
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    records = [json.loads(line) for line in err.decode().splitlines() if line.strip()]
    access = [r for r in records if r["logger"] == "aiohttp.access"]
    assert access and "GET /readyz" in access[0]["message"]
    assert all({"ts", "level", "logger", "message"} <= r.keys() for r in records)
