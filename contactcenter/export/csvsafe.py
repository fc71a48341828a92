"""CSV cells a spreadsheet will not run as formulas (OWASP, "CSV Injection").

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return may be read
by Excel, LibreOffice or Google Sheets as a formula (``=HYPERLINK(...)``,
``=cmd|' /C calc'!A0``, ``@SUM(...)``): such a cell gets a leading ``'``, which the
spreadsheet shows as text and which a reader of the raw file can strip. A plain number
(``-12``, ``+14155550100``, ``-0.5``) is left alone: no spreadsheet runs it, and caller ids
and negative priorities stay usable as numbers. The csv module's quoting (RFC 4180) keeps
commas, quotes and line breaks inside their cell.

Every CSV the server or the CLI writes goes through ``csv_writer`` (or ``neutralise``);
``raw=True`` (the CLI's ``--raw-formulas``, the API's ``raw_formulas=1``) writes cells as
stored, for a consumer that is not a spreadsheet.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from typing import Any, Protocol

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""What OWASP lists as the first characters of a cell a spreadsheet may evaluate."""
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def neutralise(value: str) -> str:
    """``value``, with ``'`` before it when a spreadsheet could read it as a formula."""
    if value.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


class RowWriter(Protocol):
    def writerow(self, row: Iterable[Any], /) -> Any: ...


class SafeWriter:
    """A ``csv.writer`` whose cells are neutralised (unless ``raw``)."""

    def __init__(self, writer: RowWriter, *, raw: bool = False) -> None:
        self._writer = writer
        self.raw = raw

    def writerow(self, row: Iterable[Any]) -> None:
        cells = ["" if v is None else str(v) for v in row]
        self._writer.writerow(cells if self.raw else [neutralise(c) for c in cells])


def csv_writer(out: Any, *, raw: bool = False, lineterminator: str = "\r\n") -> SafeWriter:
    """A CSV writer on ``out`` (RFC 4180 quoting, CRLF line ends) that neutralises
    formula cells; ``raw=True`` writes them as given."""
    return SafeWriter(csv.writer(out, lineterminator=lineterminator), raw=raw)
