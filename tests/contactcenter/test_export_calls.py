"""The call log CSV export: run as the command, parsed back with the csv module and compared
with the interactions rows it came from."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import math
import os
import subprocess
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import asyncpg

from contactcenter import cli
from contactcenter.store import EventLog, EventRecord
from contactcenter.store.interactions import Interaction, get_interaction

T = 1_700_000_000.0  # 2023-11-14T22:13:20Z
NOTES = 'He said "call me, later"\nthen hung up'


def contact(kind: str, ts: float, cid: str, agent: str | None = None, **data: Any) -> EventRecord:
    return EventRecord(
        type=kind, ts=ts, contact_id=cid, agent_id=agent, queue_id="sales", data=data
    )


async def seed(pool: asyncpg.Pool) -> None:
    """k1 handled with awkward notes, k2 abandoned, k3 long after the window."""
    async with EventLog(pool) as log:
        await log.append(
            [
                contact(
                    "contact.arrived",
                    T + 1,
                    "k1",
                    channel="voice",
                    direction="inbound",
                    ani="+15550001",
                    dnis="+18005550100",
                ),
                contact("contact.queued", T + 1, "k1", channel="voice", priority=2),
                contact("contact.arrived", T + 2, "k2", channel="voice", direction="inbound"),
                contact("contact.queued", T + 2, "k2", channel="voice", priority=0),
                contact("contact.offered", T + 3, "k1", "dan", wait_s=2.0),
                contact("contact.answered", T + 5.25, "k1", "dan", wait_s=4.25),
                contact("contact.held", T + 10, "k1", "dan"),
                contact("contact.resumed", T + 20, "k1", "dan", hold_s=10.0),
                contact("contact.abandoned", T + 32, "k2", wait_s=30.0),
                contact(
                    "contact.ended",
                    T + 65,
                    "k1",
                    "dan",
                    talk_s=49.75,
                    hold_s=10.0,
                    ended_by="customer",
                ),
                contact(
                    "wrapup.completed",
                    T + 80,
                    "k1",
                    "dan",
                    wrapup_s=15.0,
                    disposition="sold",
                    notes=NOTES,
                ),
                contact("contact.arrived", T + 5000, "k3", channel="voice"),
            ]
        )


def run_cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "contactcenter", "export", "calls", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )


def run_cli_in_process(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """The same command through contactcenter.cli.main in this process: what a subprocess
    adds is its interpreter start-up and imports (most of a second or more per call), and
    test_calls_csv_round_trips_through_the_csv_module runs the command as a real
    subprocess. Standard output and error are captured as text, the exit code is main's
    return value or argparse's SystemExit."""
    out, err = io.StringIO(), io.StringIO()
    saved = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = database_url
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                code = cli.main(["export", "calls", *args])
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else 1
    finally:
        if saved is None:
            del os.environ["DATABASE_URL"]
        else:
            os.environ["DATABASE_URL"] = saved
    return subprocess.CompletedProcess(list(args), code, out.getvalue(), err.getvalue())


def parse_time(cell: str) -> datetime | None:
    return datetime.fromisoformat(cell) if cell else None


def parse_float(cell: str) -> float | None:
    return float(cell) if cell else None


def assert_row_matches(cells: dict[str, str], row: Interaction) -> None:
    for name in (
        "contact_id",
        "channel",
        "direction",
        "ani",
        "dnis",
        "queue_id",
        "agent_id",
        "outcome",
        "disposition",
        "notes",
    ):
        assert cells[name] == (getattr(row, name) or ""), name
    for name in (
        "started_at",
        "arrived_at",
        "queued_at",
        "offered_at",
        "answered_at",
        "ended_at",
        "wrapup_ended_at",
    ):
        assert parse_time(cells[name]) == getattr(row, name), name
    for name in ("wait_s", "hold_s", "talk_s", "wrapup_s"):
        got, want = parse_float(cells[name]), getattr(row, name)
        assert (got is None) == (want is None), name
        if got is not None:
            assert math.isclose(got, want, abs_tol=0.0005), name
    assert int(cells["offers"]) == row.offers and int(cells["transfers"]) == row.transfers
    assert cells["priority"] == ("" if row.priority is None else str(row.priority))
    assert cells["customer_id"] == (row.customer_id or "")
    assert json.loads(cells["attached"]) == row.attached
    assert json.loads(cells["ivr_path"]) == row.ivr_path


async def test_calls_csv_round_trips_through_the_csv_module(
    db: asyncpg.Pool, database_url: str, tmp_path: Path
) -> None:
    await seed(db)
    target = tmp_path / "calls.csv"
    done = await asyncio.to_thread(
        run_cli,
        database_url,
        "--since",
        "2023-11-14T22:13:20Z",
        "--until",
        str(int(T + 1000)),
        "--output",
        str(target),
    )
    assert done.returncode == 0, done.stderr
    assert "wrote 2 rows" in done.stderr

    raw = target.read_bytes().decode("utf-8")
    # RFC 4180: CRLF between records, the quotes in the note doubled inside a quoted cell
    assert raw.startswith("contact_id,channel,direction,ani,dnis,")
    assert raw.count("\r\n") == 3
    assert '"He said ""call me, later""\nthen hung up"' in raw

    with target.open(newline="", encoding="utf-8") as f:
        records = list(csv.reader(f))
    header, rows = records[0], records[1:]
    assert len(set(header)) == len(header) and len(rows) == 2
    by_name = [dict(zip(header, r, strict=True)) for r in rows]
    assert [r["contact_id"] for r in by_name] == ["k1", "k2"]  # oldest first; k3 is later
    for cells in by_name:
        row = await get_interaction(db, cells["contact_id"])
        assert row is not None
        assert_row_matches(cells, row)
    k1, k2 = by_name
    assert k1["notes"] == NOTES
    assert (k1["outcome"], k1["talk_s"], k1["hold_s"], k1["wait_s"]) == (
        "handled",
        "49.750",
        "10.000",
        "4.250",
    )
    assert (k2["outcome"], k2["agent_id"], k2["answered_at"]) == ("abandoned", "", "")
    assert k1["started_at"] == "2023-11-14T22:13:21.000000Z"


async def test_calls_csv_to_standard_output_and_an_empty_window(
    db: asyncpg.Pool, database_url: str
) -> None:
    await seed(db)
    done = await asyncio.to_thread(run_cli_in_process, database_url, "--since", str(int(T + 4000)))
    assert done.returncode == 0, done.stderr
    records = list(csv.reader(io.StringIO(done.stdout, newline="")))
    assert [r[0] for r in records] == ["contact_id", "k3"]
    empty = await asyncio.to_thread(run_cli_in_process, database_url, "--since", "2030-01-01")
    assert empty.returncode == 0, empty.stderr
    assert list(csv.reader(io.StringIO(empty.stdout, newline=""))) == [records[0]]
    bad = await asyncio.to_thread(
        run_cli_in_process, database_url, "--since", "1700000000", "--until", "next week"
    )
    assert bad.returncode == 2 and "--until" in bad.stderr and "ISO 8601" in bad.stderr
