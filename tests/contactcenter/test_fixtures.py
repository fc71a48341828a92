"""The suite's shared fixtures (tests/conftest.py) give what they promise."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import asyncpg
import redis

from contactcenter.settings import Settings


def test_redis_url_reaches_redis(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url, socket_connect_timeout=2)
    try:
        assert client.ping()
    finally:
        client.close()


async def test_session_database_is_private_and_migrated(
    database_url: str, db: asyncpg.Pool
) -> None:
    name = urlsplit(database_url).path.lstrip("/")
    assert name.startswith("cc_test_session_")
    assert await db.fetchval("SELECT current_database()") == name
    assert await db.fetchval("SELECT count(*) FROM schema_migrations") >= 1
    if os.environ.get("DATABASE_URL"):
        assert name != urlsplit(os.environ["DATABASE_URL"]).path.lstrip("/")


async def test_db_starts_empty(db: asyncpg.Pool) -> None:
    for table in ("events", "interactions", "users", "customers"):
        assert await db.fetchval(f"SELECT count(*) FROM {table}") == 0
    await db.execute("INSERT INTO events (ts, type) VALUES (now(), 'x')")
    assert await db.fetchval("SELECT max(seq) FROM events") == 1  # sequences restart


def test_cc_settings(cc_settings: Settings) -> None:
    assert cc_settings.database_url is not None
    assert len(cc_settings.token_secret_bytes()) >= 32
