"""Numbered SQL migrations: ``contactcenter/migrations/NNNN_name.sql``, applied in order.

Each file runs in its own transaction and is recorded in ``schema_migrations`` with a
checksum, so running ``migrate`` again applies only what is new, and an edited migration
that was already applied is reported instead of silently diverging. Concurrent migrators
(several nodes starting at once) take turns on a PostgreSQL advisory lock.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from contactcenter.store.queryable import Connection, Queryable, connection

log = logging.getLogger(__name__)

# any constant works as long as nothing else uses it; derived from the name to say so
MIGRATION_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"contactcenter.migrate").digest()[:8], "big", signed=True
)
_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


class MigrationError(RuntimeError):
    """The migrations cannot be applied as they are; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def file_name(self) -> str:
        return f"{self.version:04d}_{self.name}.sql"


def default_directory() -> Path:
    return Path(str(resources.files("contactcenter") / "migrations"))


def load_migrations(directory: Path | None = None) -> list[Migration]:
    """The migrations in ``directory`` (default: the package's), ordered by version."""
    directory = directory or default_directory()
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise MigrationError(
                f"{path}: migration files are named NNNN_lowercase_name.sql "
                "(e.g. 0002_campaigns.sql); rename it"
            )
        version = int(match.group(1))
        if version in found:
            raise MigrationError(
                f"{path}: version {version:04d} is also used by {found[version].file_name}; "
                "give one of them the next free number"
            )
        found[version] = Migration(version, match.group(2), path.read_text())
    return [found[v] for v in sorted(found)]


async def applied_versions(db: Queryable) -> dict[int, str]:
    """version -> checksum of the migrations recorded in the database ({} if none)."""
    exists = await db.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return {}
    rows = await db.fetch("SELECT version, checksum FROM schema_migrations")
    return {row["version"]: row["checksum"] for row in rows}


async def migrate(db: Queryable, *, directory: Path | None = None) -> list[int]:
    """Apply every pending migration; returns the versions applied by this call."""
    migrations = load_migrations(directory)
    async with connection(db) as conn:
        await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK_KEY)
        try:
            return await _migrate_locked(conn, migrations)
        finally:
            await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK_KEY)


async def _migrate_locked(conn: Connection, migrations: list[Migration]) -> list[int]:
    await conn.execute(
        """
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version    integer PRIMARY KEY,
            name       text NOT NULL,
            checksum   text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    applied = await applied_versions(conn)
    known = {m.version for m in migrations}
    unknown = sorted(set(applied) - known)
    if unknown:
        # e.g. an older build started against a newer database; its queries may still work
        log.warning("database has migrations this code does not know: %s", unknown)
    done: list[int] = []
    for migration in migrations:
        checksum = applied.get(migration.version)
        if checksum is not None:
            if checksum != migration.checksum:
                raise MigrationError(
                    f"migration {migration.file_name} was changed after it was applied to "
                    "this database. Fix: restore the file as it was and put the change in a "
                    "new numbered migration (a throw-away development database can instead "
                    "be dropped and created again)"
                )
            continue
        try:
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                    migration.version,
                    migration.name,
                    migration.checksum,
                )
        except Exception as exc:
            raise MigrationError(
                f"migration {migration.file_name} failed and was rolled back: {exc}"
            ) from exc
        log.info("applied migration %s", migration.file_name)
        done.append(migration.version)
    return done


async def pending_migrations(db: Queryable, *, directory: Path | None = None) -> list[Migration]:
    applied = await applied_versions(db)
    return [m for m in load_migrations(directory) if m.version not in applied]
