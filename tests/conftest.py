"""The suite's PostgreSQL and Redis fixtures (the only place that provides them).

PostgreSQL: with ``DATABASE_URL`` set, each test session creates its own uniquely named
database on that server and drops it at the end, so parallel runs never collide. Without
it, the session starts an embedded PostgreSQL (pgserver, from PyPI) in a temporary
directory. Nothing here is autouse and every fixture is lazy: tests that do not ask for
a database (e.g. tests/routing) start none.

Redis: ``REDIS_URL`` (default redis://127.0.0.1:6379/0); unreachable Redis fails the test
that asked for it, with instructions, rather than skipping it.

Fixtures: ``database_url`` (session), ``db_pool`` (session, migrated), ``db`` (the same
pool, emptied before the test), ``empty_database_url`` (a fresh unmigrated database),
``embedded_pg_url`` (always the embedded server), ``redis_url``, ``cc_settings``.
"""

from __future__ import annotations

import functools
import os
import secrets
import shutil
import tempfile
import warnings
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

# contactcenter is imported inside the fixtures: tests that use none of them (routing,
# ivr, simulations) must not depend on the server package even importing cleanly.
if TYPE_CHECKING:
    from contactcenter.settings import Settings

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
EMBEDDED_MARK = "embedded_pg"
FULL_PASSWORD_COST = "full_password_cost"
CHEAP_SCRYPT_N = 2**10


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{FULL_PASSWORD_COST}: hash passwords at the production scrypt cost (the tests of "
        "the hashing itself); every other test hashes at n=2**10",
    )
    config.addinivalue_line(
        "markers",
        f"{EMBEDDED_MARK}: runs against an embedded PostgreSQL (pgserver) even when "
        "DATABASE_URL is set, to prove the no-configuration path works",
    )


# --- passwords -----------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _cheap_password_hashing(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Passwords hashed at scrypt n=2**10 instead of 2**15 in this process: the cost is a
    security setting that the tests marked full_password_cost check (test_auth.py,
    test_store_users.py); elsewhere each account would cost a tenth of a second of CPU
    for nothing the test looks at. The cost travels with each hash, so a server
    subprocess verifies these at the same low cost."""
    if request.node.get_closest_marker(FULL_PASSWORD_COST) is not None:
        return
    from contactcenter import auth

    monkeypatch.setattr(
        auth, "ScryptParams", functools.partial(auth.ScryptParams, n=CHEAP_SCRYPT_N)
    )


# --- PostgreSQL ----------------------------------------------------------------------------


class _EmbeddedServer:
    """Starts the embedded PostgreSQL on first use only."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory
        self._server: Any = None

    def url(self) -> str:
        if self._server is None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset
                from pgserver.postgres_server import get_server
            self._server = get_server(self._directory, cleanup_mode="delete")
        return str(self._server.get_uri())

    def stop(self) -> None:
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def embedded_pg_parent() -> Path:
    """A fresh directory for an embedded server's data, outside pytest's tmp_path.

    Running as root, pgserver runs PostgreSQL as an unprivileged user that must be able
    to traverse to its data directory; every pytest start (another run on the same
    machine included) resets /tmp/pytest-of-<user> to mode 0700, which would lock it out.
    """
    return Path(tempfile.mkdtemp(prefix="cc-test-pg-"))


@pytest.fixture(scope="session")
def _embedded_server() -> Iterator[_EmbeddedServer]:
    parent = embedded_pg_parent()
    server = _EmbeddedServer(parent / "pgdata")
    yield server
    server.stop()
    shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture(scope="session")
def embedded_pg_url(_embedded_server: _EmbeddedServer) -> str:
    """URL of the session's embedded PostgreSQL, whatever DATABASE_URL says."""
    return _embedded_server.url()


def _redact(url: str) -> str:
    parts = urlsplit(url)
    if not parts.password:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def with_database(url: str, name: str) -> str:
    """``url`` pointing at database ``name`` on the same server."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _admin_connect(url: str) -> asyncpg.Connection:
    try:
        return await asyncpg.connect(url, timeout=10)
    except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"DATABASE_URL={_redact(url)} is set but that PostgreSQL cannot be used: {exc}. "
            "Start it (e.g. `pg_ctlcluster <version> main start`), fix DATABASE_URL, or unset "
            "DATABASE_URL to test against an embedded PostgreSQL.",
            pytrace=False,
        )


async def _create_database(server_url: str, label: str) -> str:
    name = f"cc_test_{label}_{os.getpid()}_{secrets.token_hex(4)}"
    conn = await _admin_connect(server_url)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return name


async def _drop_database(server_url: str, name: str) -> None:
    conn = await asyncpg.connect(server_url, timeout=10)
    try:
        # FORCE: a test that leaked a connection must not leave the database behind
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def _server_url(_embedded_server: _EmbeddedServer) -> str:
    """A maintenance URL of the server the suite uses (DATABASE_URL's or the embedded)."""
    return os.environ.get("DATABASE_URL") or _embedded_server.url()


@pytest.fixture(scope="session")
async def database_url(_server_url: str) -> AsyncIterator[str]:
    """An empty database of this test session (unmigrated; see db_pool)."""
    name = await _create_database(_server_url, "session")
    yield with_database(_server_url, name)
    await _drop_database(_server_url, name)


@pytest.fixture
async def empty_database_url(_server_url: str) -> AsyncIterator[str]:
    """A fresh, unmigrated database for one test (e.g. migration tests)."""
    name = await _create_database(_server_url, "empty")
    yield with_database(_server_url, name)
    await _drop_database(_server_url, name)


@pytest.fixture(scope="session")
async def db_pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A pool on the session database with all migrations applied."""
    from contactcenter.store.db import create_pool
    from contactcenter.store.migrate import migrate

    pool = await create_pool(database_url, min_size=1, max_size=20)
    await migrate(pool)
    yield pool
    await pool.close()


async def truncate_all(pool: asyncpg.Pool) -> None:
    """Empty every table except the migration record, and restart sequences."""
    tables = await pool.fetch(
        """SELECT quote_ident(tablename) AS name FROM pg_tables
           WHERE schemaname = current_schema() AND tablename <> 'schema_migrations'"""
    )
    if tables:
        names = ", ".join(t["name"] for t in tables)
        await pool.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")


@pytest.fixture
async def db(db_pool: asyncpg.Pool) -> asyncpg.Pool:
    """The migrated pool, with every table emptied before the test."""
    await truncate_all(db_pool)
    return db_pool


# --- Redis ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A reachable Redis (REDIS_URL or the local default); fails, never skips, without one."""
    import redis

    url = os.environ.get("REDIS_URL") or DEFAULT_REDIS_URL
    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as exc:
        pytest.fail(
            f"Redis at {_redact(url)} is not reachable ({exc}). Tests that need Redis do "
            "not skip. Fix: install it (`apt-get install redis-server`) and start it "
            "(`redis-server --daemonize yes --port 6379`), or set REDIS_URL to a running one.",
            pytrace=False,
        )
    finally:
        client.close()
    return url


# --- settings ------------------------------------------------------------------------------


@pytest.fixture
def cc_settings(database_url: str, tmp_path: Path) -> Settings:
    """Server settings on the session database, a temporary data dir and no Redis."""
    from pydantic import SecretStr

    from contactcenter.settings import Settings

    return Settings(
        database_url=database_url,
        data_dir=tmp_path / "var",
        token_secret=SecretStr(secrets.token_urlsafe(48)),
        port=0,
    )
