"""Liveness and readiness against a real server and real PostgreSQL, including a database
that stops answering and an event log that stopped."""

from __future__ import annotations

import asyncpg

from contactcenter.appkeys import EVENT_LOG
from contactcenter.settings import Settings
from contactcenter.store.db import create_pool
from tests.contactcenter.server_support import running_app


async def test_healthz_and_readyz_answer_without_a_token(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    async with running_app(cc_settings, db) as client:
        live = await client.get("/healthz")
        assert live.status == 200
        body = await live.json()
        assert body["status"] == "ok" and body["uptime_s"] >= 0

        ready = await client.get("/readyz")
        assert ready.status == 200, await ready.text()
        body = await ready.json()
        assert body["status"] == "ready" and body["not_ready"] == []
        assert {name: c["ok"] for name, c in body["checks"].items()} == {
            "database": True,
            "event_log": True,
            "acd": True,
        }


async def test_readyz_names_the_database_when_it_stops_answering(
    database_url: str, db: asyncpg.Pool, cc_settings: Settings
) -> None:
    # A pool of the app's own, which the test then closes under it: every query fails
    # the way it does when the database goes away.
    own = await create_pool(database_url, min_size=1, max_size=4)
    try:
        async with running_app(cc_settings, own) as client:
            assert (await client.get("/readyz")).status == 200
            await own.close()
            ready = await client.get("/readyz")
            assert ready.status == 503
            body = await ready.json()
            assert body["status"] == "not_ready"
            assert body["not_ready"] == ["database"]
            assert body["checks"]["database"]["detail"]
            # liveness does not depend on the database: restarting would not help
            assert (await client.get("/healthz")).status == 200
    finally:
        if not own.is_closing():
            await own.close()


async def test_readyz_names_a_stopped_event_log(db: asyncpg.Pool, cc_settings: Settings) -> None:
    async with running_app(cc_settings, db) as client:
        await client.app[EVENT_LOG].close()
        ready = await client.get("/readyz")
        assert ready.status == 503
        body = await ready.json()
        assert body["not_ready"] == ["event_log"]
        assert "not running" in body["checks"]["event_log"]["detail"]


async def test_readyz_turns_not_ready_when_shutdown_begins(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    async with running_app(cc_settings, db) as client:
        assert (await client.get("/readyz")).status == 200
        # what a SIGTERM starts: the on_shutdown hooks run while requests are still served
        await client.app.shutdown()
        ready = await client.get("/readyz")
        assert ready.status == 503
        body = await ready.json()
        assert body["not_ready"] == ["acd"]
        assert body["checks"]["acd"]["detail"] == "the server is shutting down"
