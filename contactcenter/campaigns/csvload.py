"""Contact lists as CSV: validated row by row; bad rows are reported with their line
number and the reason, good rows are kept. Compliance (window, DNC, retries) is *not*
checked here: it moves while a list waits, so the runner checks at dispatch time."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import Any

from routing.compliance import ZONES, normalize_number

COLUMNS = ("number", "name", "timezone", "country", "customer_id")
"""Known columns; any other column becomes an attribute of the row (screen pop)."""
MAX_ROWS = 50_000
_ID = re.compile(r"^[A-Za-z0-9_.:@-]{1,64}$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")


@dataclass
class Parsed:
    rows: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    """``{"line", "reason"}``: 1-based line of the file (the header is line 1)."""


class CsvError(ValueError):
    """The file as a whole is unusable (no header, no number column)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


def parse_contacts(text: str) -> Parsed:
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise CsvError(
            "header",
            "the file is empty; the first line names the columns, e.g. number,name,timezone",
        ) from None
    except csv.Error as exc:
        raise CsvError("header", f"line 1: {exc}") from None
    if "number" not in header:
        raise CsvError("number", "the header has no 'number' column")
    if len(set(header)) != len(header) or "" in header:
        raise CsvError("header", "column names must be distinct and not empty")
    out = Parsed()
    seen: dict[str, int] = {}
    line = 1
    while True:
        try:
            values = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            out.rejected.append({"line": reader.line_num, "reason": f"unreadable: {exc}"})
            break
        line = reader.line_num
        if not any(v.strip() for v in values):
            continue  # blank lines are not rows
        if len(out.rows) + len(out.rejected) >= MAX_ROWS:
            out.rejected.append({"line": line, "reason": f"over {MAX_ROWS} rows; rest ignored"})
            break
        if len(values) != len(header):
            out.rejected.append(
                {"line": line, "reason": f"{len(values)} fields, the header has {len(header)}"}
            )
            continue
        row, reason = _row(dict(zip(header, (v.strip() for v in values), strict=True)))
        if reason is None and row["number"] in seen:
            reason = f"number: {row['number']} repeats line {seen[row['number']]}"
        if reason is not None:
            out.rejected.append({"line": line, "reason": reason})
            continue
        seen[row["number"]] = line
        row["line_no"] = line
        out.rows.append(row)
    return out


def _row(cells: dict[str, str]) -> tuple[dict[str, Any], str | None]:
    raw = cells.get("number", "")
    number = normalize_number(raw) if raw else None
    if number is None:
        return {}, f"number: {raw!r} is not an E.164 number (+ and country code)"
    tz = cells.get("timezone") or None
    if tz is not None and tz not in ZONES:
        return {}, f"timezone: unknown {tz!r}; one of {', '.join(sorted(ZONES))}"
    country = (cells.get("country") or "").upper() or None
    if country is not None and not _COUNTRY.match(country):
        return {}, f"country: {cells['country']!r} is not a two-letter ISO code"
    customer = cells.get("customer_id") or None
    if customer is not None and not _ID.match(customer):
        return {}, f"customer_id: {customer!r} is not a valid id"
    name = cells.get("name") or None
    if name is not None and len(name) > 200:
        return {}, "name: longer than 200 characters"
    attributes = {k: v for k, v in cells.items() if k not in COLUMNS and v}
    return {
        "number": number,
        "name": name,
        "timezone": tz,
        "country": country,
        "customer_id": customer,
        "attributes": attributes,
    }, None
