"""What the exports read from PostgreSQL: the events of a window with the context before it,
and the call log rows of a window. Pass one connection inside a repeatable-read transaction
so that every page comes from the same snapshot while the server keeps writing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime

from asyncpg import Record

from contactcenter.store.db import Queryable
from contactcenter.store.interactions import Interaction
from contactcenter.store.records import StoredEvent

PAGE_SIZE = 2000
_COLUMNS = "seq, ts, type, contact_id, agent_id, queue_id, data, node"

# After one of these a contact writes no more queue_log lines (an overflow's flowed_out is
# followed by contact.queued in the same commit, so it is never a contact's last event).
_FINISHED = ["contact.abandoned", "contact.flowed_out", "contact.ended", "wrapup.completed"]

# The context a window needs from before it: every earlier event of the contacts still
# open when it starts (their caller id, queue entry, offer and answer), and each agent's
# last login (for the logged-in time at logoff) and last state. This scans the log before
# the window, which a reporting export can afford; replaying everything would also do.
_CONTEXT = f"""
WITH last_before AS (
    SELECT DISTINCT ON (contact_id) contact_id, type
    FROM events
    WHERE contact_id IS NOT NULL AND ts < $1
    ORDER BY contact_id, seq DESC
), logins AS (
    SELECT DISTINCT ON (agent_id) seq
    FROM events
    WHERE type = 'agent.state_changed' AND agent_id IS NOT NULL AND ts < $1
      AND data->>'prev_status' = 'offline' AND data->>'status' <> 'offline'
    ORDER BY agent_id, seq DESC
), agent_states AS (
    SELECT DISTINCT ON (agent_id) seq
    FROM events
    WHERE type = 'agent.state_changed' AND agent_id IS NOT NULL AND ts < $1
    ORDER BY agent_id, seq DESC
)
SELECT {_COLUMNS} FROM events
WHERE ts < $1
  AND (contact_id IN (SELECT contact_id FROM last_before WHERE type <> ALL($2::text[]))
       OR seq IN (SELECT seq FROM logins) OR seq IN (SELECT seq FROM agent_states))
ORDER BY seq
"""

_WINDOW = f"""
SELECT {_COLUMNS} FROM events
WHERE ts >= $1 AND ($2::timestamptz IS NULL OR ts < $2) AND seq > $3
ORDER BY seq LIMIT $4
"""


async def events_with_context(
    db: Queryable, since: datetime, until: datetime | None, *, page_size: int = PAGE_SIZE
) -> AsyncIterator[StoredEvent]:
    """The context before ``since``, then the events in [since, until), merged in seq
    order (with clocks of several nodes the two may interleave)."""
    context = [_event(r) for r in await db.fetch(_CONTEXT, since, _FINISHED)]
    pending = 0
    after = 0
    while True:
        page = [_event(r) for r in await db.fetch(_WINDOW, since, until, after, page_size)]
        for event in page:
            while pending < len(context) and context[pending].seq < event.seq:
                yield context[pending]
                pending += 1
            yield event
        if len(page) < page_size:
            break
        after = page[-1].seq
    for event in context[pending:]:
        yield event


def _event(row: Record) -> StoredEvent:
    return StoredEvent(
        seq=row["seq"],
        ts=row["ts"].timestamp(),
        type=row["type"],
        contact_id=row["contact_id"],
        agent_id=row["agent_id"],
        queue_id=row["queue_id"],
        data=row["data"],
        node=row["node"],
    )


_CALLS = """
SELECT * FROM interactions
WHERE started_at >= $1 AND ($2::timestamptz IS NULL OR started_at < $2)
  AND ($3::timestamptz IS NULL OR (started_at, contact_id) > ($3, $4::text))
ORDER BY started_at, contact_id LIMIT $5
"""


async def calls_in_window(
    db: Queryable, since: datetime, until: datetime | None, *, page_size: int = PAGE_SIZE
) -> AsyncIterator[Interaction]:
    """Call log rows of contacts that started in [since, until), oldest first."""
    after: tuple[datetime | None, str | None] = (None, None)
    while True:
        rows = await db.fetch(_CALLS, since, until, after[0], after[1], page_size)
        for row in rows:
            yield Interaction.model_validate(dict(row))
        if len(rows) < page_size:
            return
        last = rows[-1]
        after = (last["started_at"], last["contact_id"])
