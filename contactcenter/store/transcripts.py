"""Chat transcripts (every line of a web chat, in order) and the survey statistics.

A line is written before it is relayed to the other side of the chat, so what a visitor
or an agent was shown is always in the transcript. Survey answers live on the interaction
row (``csat``, ``resolved``; folded from ``ivr.survey`` events by store/interactions.py);
``survey_summary`` aggregates them for the supervisor statistics.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from asyncpg import Record
from pydantic import BaseModel

from contactcenter.store.db import Queryable

Sender = Literal["visitor", "bot", "agent", "system"]


class TranscriptLine(BaseModel):
    contact_id: str
    seq: int
    ts: datetime
    sender: Sender
    agent_id: str | None = None
    text: str


async def append_line(
    db: Queryable,
    contact_id: str,
    seq: int,
    sender: Sender,
    text: str,
    *,
    ts: float,
    agent_id: str | None = None,
) -> TranscriptLine:
    """Store line ``seq`` of a chat (the chat numbers its lines, one writer per chat)."""
    row = await db.fetchrow(
        """INSERT INTO chat_transcripts (contact_id, seq, ts, sender, agent_id, text)
           VALUES ($1, $2, $3, $4, $5, $6)
           RETURNING contact_id, seq, ts, sender, agent_id, text""",
        contact_id,
        seq,
        datetime.fromtimestamp(ts, UTC),
        sender,
        agent_id,
        text,
    )
    return TranscriptLine.model_validate(dict(row or {}))


async def transcript(db: Queryable, contact_id: str) -> list[TranscriptLine]:
    rows = await db.fetch(
        """SELECT contact_id, seq, ts, sender, agent_id, text FROM chat_transcripts
           WHERE contact_id = $1 ORDER BY seq""",
        contact_id,
    )
    return [TranscriptLine.model_validate(dict(r)) for r in rows]


def _rates(row: Record) -> dict[str, Any]:
    csat_n, resolved_n = row["csat_n"], row["resolved_n"]
    return {
        "surveys": row["surveys"],
        "csat_responses": csat_n,
        "csat_avg": None if not csat_n else round(float(row["csat_avg"]), 3),
        "fcr_responses": resolved_n,
        "fcr_rate": None if not resolved_n else round(float(row["fcr"]), 4),
    }


_SUMMARY = """
    SELECT {key}
           count(*) AS surveys,
           count(csat) AS csat_n, avg(csat) AS csat_avg,
           count(resolved) AS resolved_n, avg(resolved::int) AS fcr
    FROM interactions
    WHERE (csat IS NOT NULL OR resolved IS NOT NULL)
      AND ($1::timestamptz IS NULL OR started_at >= $1)
    {group}
"""


async def survey_summary(db: Queryable, since: datetime | None = None) -> dict[str, Any]:
    """CSAT average and first-contact-resolution rate (resolved / answered), overall and
    by queue, of the surveyed contacts started since ``since`` (None: all stored)."""
    total = await db.fetchrow(_SUMMARY.format(key="", group=""), since)
    assert total is not None  # an aggregate without GROUP BY always yields one row
    by_queue = await db.fetch(
        _SUMMARY.format(key="queue_id,", group="GROUP BY queue_id ORDER BY queue_id"), since
    )
    return {
        **_rates(total),
        "queues": {r["queue_id"] or "": _rates(r) for r in by_queue},
    }
