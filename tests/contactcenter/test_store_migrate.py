"""Numbered migrations: order, idempotence, concurrency, checksums, rollback; schema rules."""

from __future__ import annotations

import argparse
import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from contactcenter.store.db import create_pool
from contactcenter.store.migrate import (
    MigrationError,
    applied_versions,
    default_directory,
    load_migrations,
    migrate,
    pending_migrations,
)
from contactcenter.store.migrate_cli import register


@pytest.fixture
async def empty_pool(empty_database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(empty_database_url, min_size=1, max_size=8)
    yield pool
    await pool.close()


def write(directory: Path, name: str, sql: str) -> None:
    (directory / name).write_text(sql)


def test_package_migrations_are_numbered_from_one() -> None:
    migrations = load_migrations()
    assert migrations[0].file_name == "0001_initial.sql"
    assert [m.version for m in migrations] == sorted({m.version for m in migrations})
    assert default_directory().is_dir()


async def test_migrate_applies_everything_once(empty_pool: asyncpg.Pool) -> None:
    expected = [m.version for m in load_migrations()]
    assert [m.version for m in await pending_migrations(empty_pool)] == expected
    assert await migrate(empty_pool) == expected
    assert await migrate(empty_pool) == []
    assert sorted(await applied_versions(empty_pool)) == expected
    assert await pending_migrations(empty_pool) == []
    tables = {
        r["tablename"]
        for r in await empty_pool.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
        )
    }
    assert {
        "users",
        "agents",
        "customers",
        "customer_phones",
        "interactions",
        "events",
        "schema_migrations",
    } <= tables


async def test_concurrent_migrators_take_turns(empty_pool: asyncpg.Pool) -> None:
    results = await asyncio.gather(*(migrate(empty_pool) for _ in range(6)))
    applied = [v for r in results for v in r]
    assert sorted(applied) == [m.version for m in load_migrations()]
    assert await empty_pool.fetchval("SELECT count(*) FROM schema_migrations") == len(applied)


async def test_each_migration_is_its_own_transaction(
    empty_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (x int);")
    write(tmp_path, "0002_b.sql", "CREATE TABLE b (x int); SELECT 1/0;")
    write(tmp_path, "0003_c.sql", "CREATE TABLE c (x int);")
    with pytest.raises(MigrationError, match=r"0002_b\.sql failed"):
        await migrate(empty_pool, directory=tmp_path)
    assert sorted(await applied_versions(empty_pool)) == [1]
    assert await empty_pool.fetchval("SELECT to_regclass('b')") is None
    # fixed, the run continues where it stopped
    write(tmp_path, "0002_b.sql", "CREATE TABLE b (x int);")
    assert await migrate(empty_pool, directory=tmp_path) == [2, 3]


async def test_an_applied_migration_must_not_change(
    empty_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (x int);")
    await migrate(empty_pool, directory=tmp_path)
    write(tmp_path, "0001_a.sql", "CREATE TABLE a (x bigint);")
    with pytest.raises(MigrationError, match="changed after it was applied"):
        await migrate(empty_pool, directory=tmp_path)


def test_bad_file_names_and_duplicate_versions(tmp_path: Path) -> None:
    write(tmp_path, "1_a.sql", "")
    with pytest.raises(MigrationError, match=r"NNNN_lowercase_name\.sql"):
        load_migrations(tmp_path)
    (tmp_path / "1_a.sql").unlink()
    write(tmp_path, "0001_a.sql", "")
    write(tmp_path, "0001_b.sql", "")
    with pytest.raises(MigrationError, match="also used by"):
        load_migrations(tmp_path)


async def test_migrations_run_on_a_copy_of_the_package_directory(
    empty_pool: asyncpg.Pool, tmp_path: Path
) -> None:
    directory = tmp_path / "m"
    shutil.copytree(default_directory(), directory)
    write(directory, "9999_extra.sql", "CREATE TABLE extra (x int);")
    applied = await migrate(empty_pool, directory=directory)
    assert applied[-1] == 9999


# --- what the schema enforces ------------------------------------------------------------


async def insert_user(conn: asyncpg.Pool, uid: str, username: str, role: str = "agent") -> None:
    await conn.execute(
        "INSERT INTO users (id, username, password_hash, role) VALUES ($1, $2, 'x', $3)",
        uid,
        username,
        role,
    )


async def test_schema_constraints(db: asyncpg.Pool) -> None:
    await insert_user(db, "alice", "Alice")
    with pytest.raises(asyncpg.UniqueViolationError):
        await insert_user(db, "alice2", "alice")  # case-insensitive
    with pytest.raises(asyncpg.CheckViolationError):
        await insert_user(db, "bob", "bob", role="root")
    for skills in (
        {"billing": 11},
        {"billing": 0},
        {"billing": 2.5},
        {"": 3},
        {"billing": "5"},
        ["billing"],
    ):
        with pytest.raises(asyncpg.CheckViolationError):
            await db.execute("INSERT INTO agents (agent_id, skills) VALUES ('alice', $1)", skills)
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute(
            "INSERT INTO agents (agent_id, capacity) VALUES ('alice', $1)", {"chat": -1}
        )
    await db.execute(
        "INSERT INTO agents (agent_id, skills) VALUES ('alice', $1)", {"billing": 10, "sales": 1}
    )
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await db.execute("INSERT INTO agents (agent_id) VALUES ('ghost')")
    await db.execute("DELETE FROM users WHERE id = 'alice'")
    assert await db.fetchval("SELECT count(*) FROM agents") == 0  # cascades

    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute("INSERT INTO customer_phones (phone, customer_id) VALUES ('12a', 'x')")
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute("INSERT INTO events (ts, type, data) VALUES (now(), 'x', $1)", [1, 2])
    with pytest.raises(asyncpg.CheckViolationError):
        await db.execute(
            """INSERT INTO interactions (contact_id, started_at, last_seq, outcome)
               VALUES ('c', now(), 1, 'lost')"""
        )


async def test_customer_history_uses_its_index(db: asyncpg.Pool) -> None:
    async with db.acquire() as conn:
        await conn.execute("SET enable_seqscan = off")
        try:
            plan = "\n".join(
                r[0]
                for r in await conn.fetch(
                    """EXPLAIN SELECT * FROM interactions WHERE customer_id = 'x'
                   ORDER BY started_at DESC LIMIT 5"""
                )
            )
            phone_plan = "\n".join(
                r[0]
                for r in await conn.fetch(
                    "EXPLAIN SELECT * FROM customer_phones WHERE phone = '+1415'"
                )
            )
        finally:
            await conn.execute("RESET enable_seqscan")
    assert "interactions_customer_idx" in plan
    assert "customer_phones_pkey" in phone_plan


# --- `contactcenter migrate` -------------------------------------------------------------


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(["migrate", *argv])
    return int(args.func(args))


def test_cli_migrate(
    empty_database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("DATABASE_URL", empty_database_url)
    monkeypatch.setenv("CC_DATA_DIR", str(tmp_path))
    assert run_cli("--list") == 0
    assert "0001_initial.sql" in capsys.readouterr().out
    assert run_cli() == 0
    assert "applied" in capsys.readouterr().out
    assert run_cli("--list") == 0
    assert capsys.readouterr().out == ""
    monkeypatch.setenv("CC_PORT", "nope")
    assert run_cli() == 1
    assert "CC_PORT" in capsys.readouterr().err
