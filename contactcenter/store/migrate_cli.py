"""``contactcenter migrate``: apply (or list) the pending schema migrations."""

from __future__ import annotations

import argparse
import asyncio
import sys

from contactcenter.store.migrate import MigrationError, migrate, pending_migrations


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "migrate",
        help="apply the database migrations",
        description="Apply pending schema migrations to DATABASE_URL (or to the embedded "
        "PostgreSQL in CC_DATA_DIR when DATABASE_URL is unset).",
    )
    parser.add_argument("--list", action="store_true", help="only list pending migrations")
    parser.set_defaults(func=_run_cli)


def _run_cli(args: argparse.Namespace) -> int:
    from contactcenter.settings import SettingsError, load_settings
    from contactcenter.store.db import DatabaseUnavailable, open_database

    async def run() -> int:
        settings = load_settings()
        async with await open_database(settings, max_size=2) as database:
            if args.list:
                for m in await pending_migrations(database.pool):
                    print(m.file_name)
                return 0
            versions = await migrate(database.pool)
            print(
                f"applied {len(versions)} migration(s)"
                + (f": {', '.join(f'{v:04d}' for v in versions)}" if versions else "")
            )
            return 0

    try:
        return asyncio.run(run())
    except (SettingsError, MigrationError, DatabaseUnavailable) as exc:
        print(f"contactcenter migrate: {exc}", file=sys.stderr)
        return 1
