"""Connecting to PostgreSQL: the pool, its codecs, and the embedded server.

``open_database(settings)`` is the one way in. With ``settings.database_url`` it connects
to that server; without it, it starts a PostgreSQL of its own (the ``pgserver`` package
from PyPI, a real server) in ``settings.data_dir/pgdata`` and stops it on close.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import warnings
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from contactcenter.store.migrate import migrate as apply_migrations
from contactcenter.store.queryable import Connection, Queryable, connection, transaction

if TYPE_CHECKING:
    from contactcenter.settings import Settings

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 10.0
# a server that is still starting up refuses connections for a moment
STARTUP_RETRY_S = 15.0
EMBEDDED_START_ATTEMPTS = 2


__all__ = ["Connection", "Queryable", "connection", "transaction"]


class DatabaseUnavailable(RuntimeError):
    """PostgreSQL could not be reached or started; the message says what to do."""


async def keep_session(conn: asyncpg.Connection) -> None:
    """The pool's reset on release: nothing beyond asyncpg's own rollback of an open
    transaction. asyncpg's default (unlock all advisory locks, close cursors, UNLISTEN,
    RESET ALL) costs a round trip per release, i.e. per query on the hot path, and the
    store leaves no session state behind: its locks are transaction-scoped, and the one
    session lock (migrate) is released by its holder."""


async def init_connection(conn: asyncpg.Connection) -> None:
    """Every store connection takes and returns jsonb/json as Python values."""
    for type_name in ("jsonb", "json"):
        await conn.set_type_codec(
            type_name,
            schema="pg_catalog",
            format="text",
            encoder=_json_dumps,
            decoder=json.loads,
        )


def _json_dumps(value: Any) -> str:
    # NaN/Infinity are not JSON and PostgreSQL rejects them
    return json.dumps(value, separators=(",", ":"), allow_nan=False)


def redact_url(url: str) -> str:
    """The URL with any password replaced, for messages and logs."""
    parts = urlsplit(url)
    if not parts.password:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    user = (parts.username or "") + ":***"
    return urlunsplit(parts._replace(netloc=f"{user}@{netloc[-1]}"))


async def create_pool(
    url: str, *, min_size: int = 1, max_size: int = 10, application_name: str = "contactcenter"
) -> asyncpg.Pool:
    """A pool with the store's codecs; raises ``DatabaseUnavailable`` with a fix to try."""
    deadline = asyncio.get_running_loop().time() + STARTUP_RETRY_S
    while True:
        try:
            pool = await asyncpg.create_pool(
                url,
                min_size=min_size,
                max_size=max_size,
                init=init_connection,
                reset=keep_session,
                timeout=CONNECT_TIMEOUT_S,
                server_settings={"application_name": application_name},
            )
            assert pool is not None
            return pool
        except asyncpg.CannotConnectNowError:
            if asyncio.get_running_loop().time() > deadline:
                raise DatabaseUnavailable(
                    f"PostgreSQL at {redact_url(url)} is still starting up after "
                    f"{STARTUP_RETRY_S:.0f} s. Fix: wait for it, or check its log."
                ) from None
            await asyncio.sleep(0.25)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
            raise DatabaseUnavailable(_connect_failure_message(url, exc)) from exc


def _connect_failure_message(url: str, exc: BaseException) -> str:
    where = redact_url(url)
    if isinstance(exc, asyncpg.InvalidCatalogNameError):
        hint = (
            f"create the database (e.g. `createdb {urlsplit(url).path.lstrip('/')}`), "
            "fix DATABASE_URL, or unset DATABASE_URL to use the embedded PostgreSQL"
        )
    elif isinstance(
        exc, asyncpg.InvalidAuthorizationSpecificationError | asyncpg.InvalidPasswordError
    ):
        hint = (
            "fix the user name or password in DATABASE_URL, or unset DATABASE_URL to "
            "use the embedded PostgreSQL"
        )
    else:
        hint = (
            "start PostgreSQL (e.g. `pg_ctlcluster <version> main start` or "
            "`service postgresql start`), check the host and port in DATABASE_URL, or "
            "unset DATABASE_URL to use the embedded PostgreSQL"
        )
    return f"cannot connect to PostgreSQL at {where}: {exc}. Fix: {hint}."


class EmbeddedPostgres:
    """A PostgreSQL server of our own, run by the ``pgserver`` package.

    The data directory survives stop/start, so data persists across server restarts.
    Listens on a unix socket only, inside its data directory.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self._server: Any = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("embedded PostgreSQL is not running")
        return str(self._server.get_uri())

    async def start(self) -> str:
        # pgserver blocks (initdb, pg_ctl); keep the event loop free meanwhile
        await asyncio.to_thread(self._start_blocking)
        return self.url

    async def stop(self) -> None:
        if self._server is not None:
            server, self._server = self._server, None
            await asyncio.to_thread(server.cleanup)

    def _start_blocking(self) -> None:
        if self._server is not None:
            return
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset, which is normal on servers
            warnings.simplefilter("ignore")
            from pgserver.postgres_server import get_server
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        for attempt in range(EMBEDDED_START_ATTEMPTS):
            try:
                # "stop": stop the server when the last process using it lets go; keep data
                self._server = get_server(self.data_dir.resolve(), cleanup_mode="stop")
                return
            except Exception as exc:
                # pg_ctl gives up after 10 s on a loaded machine although the server may
                # still come up; a second attempt adopts it (or starts it) then.
                if attempt + 1 < EMBEDDED_START_ATTEMPTS:
                    log.warning("embedded PostgreSQL did not start (%s); retrying", exc)
                    time.sleep(1.0)
                    continue
                raise DatabaseUnavailable(
                    f"cannot start the embedded PostgreSQL in {self.data_dir}: {exc}. "
                    f"Fix: see its log in {self.data_dir / 'log'}; make sure the directory "
                    "is writable and not used by another PostgreSQL version (when running "
                    "as root, PostgreSQL runs as the user 'pgserver', which must be able to "
                    "reach it), or set DATABASE_URL to use an existing PostgreSQL server."
                ) from exc


class Database:
    """An open pool, plus the embedded server it runs on, if any. Close it when done."""

    def __init__(
        self, pool: asyncpg.Pool, url: str, embedded: EmbeddedPostgres | None = None
    ) -> None:
        self.pool = pool
        self.url = url
        self.embedded = embedded

    async def close(self) -> None:
        try:
            await self.pool.close()
        finally:
            if self.embedded is not None:
                await self.embedded.stop()

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


async def open_database(
    settings: Settings,
    *,
    min_size: int = 1,
    max_size: int = 10,
    migrate: bool = False,
) -> Database:
    """Connect (starting the embedded server when no URL is set); optionally migrate."""
    embedded: EmbeddedPostgres | None = None
    if settings.database_url is None:
        embedded = EmbeddedPostgres(settings.pg_data_dir)
        url = await embedded.start()
        log.info("embedded PostgreSQL running in %s", settings.pg_data_dir)
    else:
        url = settings.database_url
    try:
        pool = await create_pool(url, min_size=min_size, max_size=max_size)
    except BaseException:
        if embedded is not None:
            await embedded.stop()
        raise
    database = Database(pool, url, embedded)
    if migrate:
        try:
            await apply_migrations(pool)
        except BaseException:
            await database.close()
            raise
    return database
