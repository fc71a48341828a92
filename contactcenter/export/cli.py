"""``contactcenter export queue-log|calls``: reporting exports from the server's database.

Both connect with the server's settings (DATABASE_URL, or the embedded PostgreSQL in
CC_DATA_DIR) and read one consistent snapshot, so they can run while the server is live.
With --output the file appears only once complete (written beside it, then renamed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TextIO

import asyncpg
from pydantic import ValidationError

from contactcenter.export.calls_csv import COLUMNS, row_cells
from contactcenter.export.csvsafe import csv_writer
from contactcenter.export.queue_log import QueueLogFold, in_window
from contactcenter.export.reading import calls_in_window, events_with_context
from contactcenter.export.window import ACCEPTED, Window, time_argument
from contactcenter.settings import Settings, SettingsError
from contactcenter.store.db import DatabaseUnavailable, Queryable, open_database

Export = Callable[[Queryable, Window, TextIO], Awaitable[int]]


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "export",
        help="write reports: the queue_log of the event log, the call log as CSV",
        description="Reporting exports from the server's database (DATABASE_URL, or the "
        "embedded PostgreSQL in CC_DATA_DIR). See docs/reporting.md.",
    )
    parser.set_defaults(func=lambda args: _usage(parser))
    kinds = parser.add_subparsers(dest="export", metavar="KIND")
    queue_log = kinds.add_parser(
        "queue-log",
        help="the event log as Asterisk-style queue_log lines",
        description="Write the events of the window as queue_log lines "
        "(epoch|callid|queue|agent|EVENT|data...), in log order, for queue reporting tools.",
    )
    _window_options(queue_log)
    queue_log.set_defaults(func=lambda args: _run(args, write_queue_log))
    calls = kinds.add_parser(
        "calls",
        help="the call log as CSV",
        description="Write the call log rows of the contacts that started in the window as "
        "CSV with a header row, oldest first.",
    )
    _window_options(calls)
    calls.add_argument(
        "--raw-formulas",
        action="store_true",
        help="write cells as stored, also those a spreadsheet would run as formulas "
        "(starting with = + - @ tab or CR); by default they get a leading ' (OWASP)",
    )
    calls.set_defaults(
        func=lambda args: _run(args, functools.partial(write_calls, raw=args.raw_formulas))
    )


def _window_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--since",
        required=True,
        type=time_argument,
        metavar="T",
        help=f"start of the window, inclusive: {ACCEPTED}",
    )
    parser.add_argument(
        "--until",
        type=time_argument,
        metavar="T",
        help="end of the window, exclusive (default: everything up to now)",
    )
    parser.add_argument(
        "--output", "-o", type=Path, metavar="FILE", help="write to FILE instead of standard output"
    )


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


# --- the exports -------------------------------------------------------------------------


async def write_queue_log(db: Queryable, window: Window, out: TextIO) -> int:
    """Write the window's queue_log lines; how many."""
    fold = QueueLogFold()
    since, until = window.since_ts, window.until_ts
    count = 0
    async for event in events_with_context(db, window.since, window.until):
        lines = fold.apply(event)  # events before the window are context: folded, not written
        if in_window(event.ts, since, until):
            for line in lines:
                out.write(line.render() + "\n")
                count += 1
    return count


async def write_calls(db: Queryable, window: Window, out: TextIO, *, raw: bool = False) -> int:
    """Write the header and the window's call log rows; how many rows. Cells a spreadsheet
    would run as formulas are neutralised unless ``raw`` (csvsafe.py)."""
    writer = csv_writer(out, raw=raw)
    writer.writerow(COLUMNS)
    count = 0
    async for row in calls_in_window(db, window.since, window.until):
        writer.writerow(row_cells(row))
        count += 1
    return count


# --- running -----------------------------------------------------------------------------


def _run(args: argparse.Namespace, export: Export) -> int:
    name = f"contactcenter export {args.export}"
    try:
        window = Window(since=args.since, until=args.until)
    except ValidationError as exc:
        message = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        print(f"{name}: error: {message}", file=sys.stderr)
        return 2
    try:
        settings = Settings.from_env()
        count = asyncio.run(_export(settings, window, args.output, export))
    except (SettingsError, DatabaseUnavailable) as exc:
        print(f"{name}: {exc}", file=sys.stderr)
        return 1
    except asyncpg.UndefinedTableError as exc:
        print(
            f"{name}: the database has no contact-centre schema ({exc}). "
            "Fix: run `contactcenter migrate`, or point DATABASE_URL at the server's "
            "database.",
            file=sys.stderr,
        )
        return 1
    except asyncpg.PostgresError as exc:
        print(f"{name}: the database refused the export: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # the output file, or the connection lost midway
        where = f" ({exc.filename})" if exc.filename else ""
        print(f"{name}: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    where = args.output if args.output is not None else "standard output"
    print(
        f"{name}: wrote {count} {'lines' if export is write_queue_log else 'rows'} to {where}",
        file=sys.stderr,
    )
    return 0


async def _export(settings: Settings, window: Window, output: Path | None, export: Export) -> int:
    async with (
        await open_database(settings, min_size=1, max_size=1) as database,
        database.pool.acquire() as conn,
        conn.transaction(isolation="repeatable_read", readonly=True),
    ):
        with _destination(output) as out:
            return await export(conn, window, out)


@contextlib.contextmanager
def _destination(output: Path | None) -> Iterator[TextIO]:
    """Standard output, or a temporary file renamed to ``output`` once all went well."""
    if output is None:
        yield sys.stdout
        sys.stdout.flush()
        return
    target = output.resolve()
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as exc:  # name the file asked for, not the temporary one
        raise OSError(exc.errno, exc.strerror, str(output)) from None
    try:
        # newline="": the csv module writes its own CRLF line ends
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            yield f
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
