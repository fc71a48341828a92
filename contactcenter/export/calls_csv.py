"""The call log (``interactions``) as CSV cells: the columns, and one row per contact.

The command writes them with the csv module (RFC 4180 quoting, CRLF line ends), so notes
with commas, quotes or line breaks stay in their cell. Times are ISO 8601 in UTC, durations
seconds with millisecond precision, an absent value an empty cell; ``attached`` and
``ivr_path`` are JSON. The writer (csvsafe.py) puts a ``'`` before a cell a spreadsheet
would run as a formula (``=HYPERLINK(...)`` in a note, say); plain numbers such as the
caller id +14155550100 are left as they are; ``--raw-formulas`` writes every cell as stored.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from contactcenter.store.interactions import Interaction

COLUMNS: tuple[str, ...] = (
    "contact_id",
    "channel",
    "direction",
    "ani",
    "dnis",
    "customer_id",
    "queue_id",
    "agent_id",
    "priority",
    "started_at",
    "arrived_at",
    "queued_at",
    "offered_at",
    "answered_at",
    "ended_at",
    "wrapup_ended_at",
    "wait_s",
    "hold_s",
    "talk_s",
    "wrapup_s",
    "offers",
    "transfers",
    "outcome",
    "outcome_reason",
    "disposition",
    "notes",
    "attached",
    "ivr_path",
)
"""The exported columns, in order. The projection's own bookkeeping columns (open hold,
current segment, last seq) are not part of the call log."""


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return str(value)


def row_cells(row: Interaction) -> list[str]:
    return [cell(getattr(row, name)) for name in COLUMNS]
