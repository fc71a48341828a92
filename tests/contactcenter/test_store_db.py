"""open_database: the embedded PostgreSQL, an explicit URL, and failures that say what to do."""

from __future__ import annotations

import shutil
import socket
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from pydantic import SecretStr

from contactcenter.settings import Settings
from contactcenter.store.db import DatabaseUnavailable, open_database, redact_url
from contactcenter.store.events import EventLog
from contactcenter.store.migrate import load_migrations
from contactcenter.store.records import EventRecord


@pytest.mark.embedded_pg
async def test_embedded_postgres_without_database_url() -> None:
    """Always the embedded server, whatever DATABASE_URL says: proves one-command start."""
    # not under tmp_path: see embedded_pg_parent() in tests/conftest.py
    parent = Path(tempfile.mkdtemp(prefix="cc-test-pg-"))
    try:
        await check_embedded_database(parent / "var")
    finally:
        shutil.rmtree(parent, ignore_errors=True)


async def check_embedded_database(data_dir: Path) -> None:
    settings = Settings(database_url=None, data_dir=data_dir, token_secret=SecretStr("s" * 40))
    database = await open_database(settings, migrate=True)
    try:
        assert database.embedded is not None
        assert (settings.pg_data_dir / "PG_VERSION").exists()
        async with EventLog(database.pool) as log:
            [seq] = await log.append([EventRecord(type="contact.arrived", ts=1.0, contact_id="c1")])
        assert await database.pool.fetchval("SELECT count(*) FROM events") == 1
        versions = await database.pool.fetchval("SELECT count(*) FROM schema_migrations")
        assert versions == len(load_migrations())
    finally:
        await database.close()

    # data persists across a restart of the embedded server
    async with await open_database(settings) as again:
        assert await again.pool.fetchval("SELECT seq FROM events") == seq


async def test_explicit_url(database_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=database_url, data_dir=tmp_path)
    async with await open_database(settings, max_size=2) as database:
        assert database.embedded is None
        assert await database.pool.fetchval("SELECT 1") == 1
        # jsonb comes back as Python values
        assert await database.pool.fetchval("SELECT $1::jsonb", {"a": [1]}) == {"a": [1]}
    assert not (tmp_path / "pgdata").exists()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_unreachable_server_says_what_to_run(tmp_path: Path) -> None:
    url = f"postgresql://postgres:secret@127.0.0.1:{free_port()}/postgres"
    settings = Settings(database_url=url, data_dir=tmp_path)
    with pytest.raises(DatabaseUnavailable) as info:
        await open_database(settings)
    message = str(info.value)
    assert "start PostgreSQL" in message
    assert "unset DATABASE_URL" in message
    assert "secret" not in message


async def test_missing_database_says_what_to_run(database_url: str, tmp_path: Path) -> None:
    url = urlunsplit(urlsplit(database_url)._replace(path="/no_such_db_x"))
    with pytest.raises(DatabaseUnavailable, match="createdb no_such_db_x"):
        await open_database(Settings(database_url=url, data_dir=tmp_path))


def test_redact_url() -> None:
    assert redact_url("postgresql://u:pw@h:5/db") == "postgresql://u:***@h:5/db"
    assert redact_url("postgresql://u@h/db") == "postgresql://u@h/db"
