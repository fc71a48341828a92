"""The forecast CSV: its one reader, for ``contactcenter staff --forecast`` and for a
scenario's ``forecast: {file: ...}``.

One row per queue and interval. Columns (any order, names case-insensitive):
``interval_start``; exactly one of ``arrivals`` (calls in the interval) or
``arrival_rate_per_hour``; ``aht_s`` (average handle time, seconds); optionally ``queue``.
Blank lines are skipped. What ``interval_start`` holds is the caller's to read (a staffing
table takes ISO times or HH:MM, a scenario HH:MM or seconds from its start); this module
checks the file's shape and its numbers, and every problem raises ``ForecastError`` naming
the file, line and column.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

START = "interval_start"
ARRIVALS = "arrivals"
RATE = "arrival_rate_per_hour"
AHT = "aht_s"
QUEUE = "queue"
HEADER_HELP = (
    f"the header needs {START} and {ARRIVALS} (or {RATE}), "
    f"optionally {AHT} and {QUEUE}, e.g. {QUEUE},{START},{ARRIVALS},{AHT}"
)


class ForecastError(ValueError):
    """A forecast CSV is unusable; the message names the file, line and column."""

    def __init__(self, path: str, line: int, column: str | None, problem: str) -> None:
        where = f"{path}:{line}" + (f": column '{column}'" if column else "")
        super().__init__(f"{where}: {problem}")
        self.path = path
        self.line = line
        self.column = column
        self.problem = problem


@dataclass(frozen=True, slots=True)
class ForecastRow:
    """One row as written: the start's text, and exactly one of ``arrivals`` and
    ``rate_per_hour``."""

    line: int
    queue: str | None
    """None without a queue column; "" for an empty cell."""
    start: str
    arrivals: float | None
    rate_per_hour: float | None
    aht_s: float | None
    """None only when the file has no aht_s column and the caller allowed that."""


class _Reader:
    def __init__(self, path: str, aht_required: bool) -> None:
        self.path = path
        self.aht_required = aht_required

    def fail(self, line: int, column: str | None, problem: str) -> ForecastError:
        return ForecastError(self.path, line, column, problem)

    def number(self, line: int, column: str, text: str, *, positive: bool) -> float:
        if text == "":
            raise self.fail(line, column, "missing value")
        try:
            value = float(text)
        except ValueError:
            raise self.fail(line, column, f"not a number: {text!r}") from None
        if not math.isfinite(value) or value < 0.0 or (positive and value == 0.0):
            need = "a positive" if positive else "a non-negative"
            raise self.fail(line, column, f"must be {need} finite number, got {text!r}")
        return value

    def header(self, fields: list[str] | None) -> dict[str, int]:
        if fields is None:
            raise self.fail(1, None, "empty file: expected a header row")
        columns: dict[str, int] = {}
        for position, name in enumerate(fields):
            key = name.strip().lower()
            if key in columns:
                raise self.fail(1, key, "column appears twice in the header")
            columns[key] = position
        for required in (START, AHT) if self.aht_required else (START,):
            if required not in columns:
                raise self.fail(
                    1, required, f"required column missing from the header; {HEADER_HELP}"
                )
        if (ARRIVALS in columns) == (RATE in columns):
            raise self.fail(
                1, ARRIVALS, f"the header needs exactly one of '{ARRIVALS}' or '{RATE}'"
            )
        return columns

    def row(self, line: int, fields: list[str], columns: dict[str, int]) -> ForecastRow:
        values: dict[str, str] = {}
        for name, position in columns.items():
            if position >= len(fields):
                raise self.fail(line, name, f"missing value (row has only {len(fields)} fields)")
            values[name] = fields[position].strip()
        if values[START] == "":
            raise self.fail(line, START, "missing value")
        count = rate = aht = None
        if ARRIVALS in values:
            count = self.number(line, ARRIVALS, values[ARRIVALS], positive=False)
        else:
            rate = self.number(line, RATE, values[RATE], positive=False)
        if AHT in values:
            aht = self.number(line, AHT, values[AHT], positive=True)
        return ForecastRow(line, values.get(QUEUE), values[START], count, rate, aht)


def read_forecast_rows(path: str | Path, *, aht_required: bool = True) -> list[ForecastRow]:
    """Every row of a forecast CSV, in file order. A missing file raises OSError."""
    reader = _Reader(str(path), aht_required)
    line = 1
    rows: list[ForecastRow] = []
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            lines = csv.reader(handle)
            columns = reader.header(next(lines, None))
            for fields in lines:
                line = lines.line_num
                if not any(field.strip() for field in fields):
                    continue
                rows.append(reader.row(line, fields, columns))
    except (UnicodeDecodeError, csv.Error) as error:
        raise reader.fail(line + 1, None, f"unreadable CSV: {error}") from None
    if not rows:
        raise reader.fail(1, None, "no forecast rows after the header")
    return rows


__all__ = ["HEADER_HELP", "ForecastError", "ForecastRow", "read_forecast_rows"]
