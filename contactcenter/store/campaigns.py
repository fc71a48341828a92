"""Outbound campaigns: campaigns, contact lists, dial attempts, the do-not-call list.

The runner (contactcenter/campaigns/runner.py) writes an attempt with ``record_attempt``
*before* it sends the originate: the attempt's key (campaign, contact row, attempt number)
is unique, so a second insert of the same attempt (a restart, a second runner) does
nothing and the caller does not dial. Times are POSIX seconds (the runner's clock), as in
the event log.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from contactcenter.store.db import Queryable, transaction

CAMPAIGN_STATES = ("draft", "running", "paused", "stopped")
ATTEMPT_STATES = (
    "placed",
    "answered",
    "connected",
    "abandoned",
    "busy",
    "no_answer",
    "machine",
    "failed",
    "invalid_number",
    "lost",
)


class Campaign(BaseModel):
    id: str
    name: str
    queue_id: str
    skills: dict[str, int] = {}
    mode: str
    ratio: float = 1.0
    max_lines: int | None = None
    abandon_target: float = 0.02
    regulatory_mode: str = "us"
    window_start: str = "08:00"
    window_end: str = "21:00"
    retry: dict[str, float] = {}
    ring_timeout_s: float = 26.0
    identification_message: str = "identification"
    amd_false_positive_rate: float = 0.0
    state: str = "draft"
    started_at: float | None = None


class ContactRow(BaseModel):
    id: int
    campaign_id: str
    line_no: int
    number: str
    name: str | None = None
    timezone: str | None = None
    country: str | None = None
    customer_id: str | None = None
    attributes: dict[str, Any] = {}
    attempts: int = 0
    next_attempt_at: float | None = None
    locked_until: float | None = None
    last_outcome: str | None = None
    final: bool = False


class Attempt(BaseModel):
    call_id: str
    campaign_id: str
    contact_row_id: int
    attempt: int
    number: str
    state: str
    placed_at: float
    outcome_at: float | None = None
    answered_at: float | None = None
    connected_at: float | None = None
    agent_id: str | None = None


_CAMPAIGN_COLUMNS = tuple(Campaign.model_fields)


# --- campaigns ---------------------------------------------------------------------------


async def create_campaign(db: Queryable, campaign: Campaign) -> Campaign | None:
    """Insert; None when the id is taken."""
    cols = ", ".join(_CAMPAIGN_COLUMNS)
    marks = ", ".join(f"${i}" for i in range(1, len(_CAMPAIGN_COLUMNS) + 1))
    values = [getattr(campaign, c) for c in _CAMPAIGN_COLUMNS]
    row = await db.fetchrow(
        f"INSERT INTO campaigns ({cols}) VALUES ({marks}) ON CONFLICT (id) DO NOTHING "
        f"RETURNING {cols}",
        *values,
    )
    return Campaign.model_validate(dict(row)) if row else None


async def get_campaign(db: Queryable, campaign_id: str) -> Campaign | None:
    row = await db.fetchrow(
        f"SELECT {', '.join(_CAMPAIGN_COLUMNS)} FROM campaigns WHERE id = $1", campaign_id
    )
    return Campaign.model_validate(dict(row)) if row else None


async def list_campaigns(db: Queryable, state: str | None = None) -> list[Campaign]:
    rows = await db.fetch(
        f"SELECT {', '.join(_CAMPAIGN_COLUMNS)} FROM campaigns "
        "WHERE $1::text IS NULL OR state = $1 ORDER BY created_at, id",
        state,
    )
    return [Campaign.model_validate(dict(r)) for r in rows]


async def set_state(db: Queryable, campaign_id: str, state: str, now: float) -> Campaign | None:
    """Change the state; the first start also fixes ``started_at`` (the ledger's origin)."""
    row = await db.fetchrow(
        f"""UPDATE campaigns SET state = $2, updated_at = now(),
                   started_at = CASE WHEN $2 = 'running' THEN COALESCE(started_at, $3)
                                     ELSE started_at END
             WHERE id = $1 RETURNING {", ".join(_CAMPAIGN_COLUMNS)}""",
        campaign_id,
        state,
        now,
    )
    return Campaign.model_validate(dict(row)) if row else None


# --- contact lists -----------------------------------------------------------------------


async def add_contacts(
    db: Queryable, campaign_id: str, rows: list[dict[str, Any]]
) -> list[tuple[int, str]]:
    """Insert validated rows (``line_no``, ``number``, ``name``, ``timezone``, ``country``,
    ``customer_id``, ``attributes``); the (line, number) of rows refused because the number
    is already on this campaign's list."""
    duplicates: list[tuple[int, str]] = []
    async with transaction(db) as conn:
        for r in rows:
            inserted = await conn.fetchval(
                """INSERT INTO campaign_contacts
                       (campaign_id, line_no, number, name, timezone, country, customer_id,
                        attributes)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                   ON CONFLICT (campaign_id, number) DO NOTHING RETURNING id""",
                campaign_id,
                r["line_no"],
                r["number"],
                r.get("name"),
                r.get("timezone"),
                r.get("country"),
                r.get("customer_id"),
                r.get("attributes") or {},
            )
            if inserted is None:
                duplicates.append((r["line_no"], r["number"]))
    return duplicates


async def due_contacts(
    db: Queryable, campaign_id: str, now: float, limit: int, skip: set[int] | None = None
) -> list[ContactRow]:
    """Rows that may be due: not final, retry time and lockout passed (compliance has the
    last word at dispatch), oldest due first."""
    rows = await db.fetch(
        """SELECT * FROM campaign_contacts
            WHERE campaign_id = $1 AND NOT final
              AND (next_attempt_at IS NULL OR next_attempt_at <= $2)
              AND (locked_until IS NULL OR locked_until <= $2)
              AND NOT (id = ANY($4::bigint[]))
            ORDER BY next_attempt_at NULLS FIRST, id LIMIT $3""",
        campaign_id,
        now,
        limit,
        list(skip or ()),
    )
    return [ContactRow.model_validate(dict(r)) for r in rows]


async def get_contact(db: Queryable, row_id: int) -> ContactRow | None:
    row = await db.fetchrow("SELECT * FROM campaign_contacts WHERE id = $1", row_id)
    return ContactRow.model_validate(dict(row)) if row else None


async def reschedule(
    db: Queryable,
    row_id: int,
    *,
    outcome: str,
    next_attempt_at: float | None = None,
    locked_until: float | None = None,
    final: bool = False,
) -> None:
    await db.execute(
        """UPDATE campaign_contacts
              SET last_outcome = $2, next_attempt_at = COALESCE($3, next_attempt_at),
                  locked_until = GREATEST(locked_until, $4), final = final OR $5
            WHERE id = $1""",
        row_id,
        outcome,
        next_attempt_at,
        locked_until,
        final,
    )


# --- attempts ----------------------------------------------------------------------------


async def record_attempt(
    db: Queryable, row: ContactRow, attempt: int, call_id: str, number: str, now: float
) -> bool:
    """The idempotency key, committed: True when this call inserted it (dial it now),
    False when the attempt already exists (it was dialed before: never again)."""
    async with transaction(db) as conn:
        inserted = await conn.fetchval(
            """INSERT INTO dial_attempts
                   (call_id, campaign_id, contact_row_id, attempt, number, placed_at)
               VALUES ($1, $2, $3, $4, $5, $6)
               ON CONFLICT DO NOTHING RETURNING call_id""",
            call_id,
            row.campaign_id,
            row.id,
            attempt,
            number,
            now,
        )
        if inserted is None:
            return False
        await conn.execute(
            """UPDATE campaign_contacts SET attempts = GREATEST(attempts, $2),
                      last_outcome = 'placed' WHERE id = $1""",
            row.id,
            attempt,
        )
    return True


async def finish_attempt(
    db: Queryable,
    call_id: str,
    state: str,
    now: float,
    *,
    answered_at: float | None = None,
    agent_id: str | None = None,
) -> None:
    """Move an attempt on: answered / connected / abandoned / a failed outcome."""
    await db.execute(
        """UPDATE dial_attempts
              SET state = $2,
                  outcome_at = COALESCE(outcome_at, $3),
                  answered_at = COALESCE($4, answered_at),
                  connected_at = CASE WHEN $2 = 'connected' THEN $3 ELSE connected_at END,
                  agent_id = COALESCE($5, agent_id)
            WHERE call_id = $1""",
        call_id,
        state,
        now,
        answered_at,
        agent_id,
    )


async def get_attempt(db: Queryable, call_id: str) -> Attempt | None:
    row = await db.fetchrow("SELECT * FROM dial_attempts WHERE call_id = $1", call_id)
    return Attempt.model_validate(dict(row)) if row else None


async def attempts_of(db: Queryable, campaign_id: str) -> list[Attempt]:
    rows = await db.fetch(
        "SELECT * FROM dial_attempts WHERE campaign_id = $1 ORDER BY placed_at, call_id",
        campaign_id,
    )
    return [Attempt.model_validate(dict(r)) for r in rows]


async def mark_lost(db: Queryable, campaign_id: str, now: float) -> list[Attempt]:
    """Attempts left ``placed`` or ``answered`` by a previous run: their outcome never came
    (the server stopped). They become ``lost``; they are never dialed again."""
    rows = await db.fetch(
        """UPDATE dial_attempts SET state = 'lost', outcome_at = $2
            WHERE campaign_id = $1 AND state IN ('placed', 'answered') RETURNING *""",
        campaign_id,
        now,
    )
    return [Attempt.model_validate(dict(r)) for r in rows]


async def ledger_inputs(db: Queryable, campaign_id: str) -> list[tuple[str, float]]:
    rows = await db.fetch(
        "SELECT kind, at FROM campaign_ledger WHERE campaign_id = $1 ORDER BY at", campaign_id
    )
    return [(r["kind"], r["at"]) for r in rows]


async def attempt_counts(db: Queryable, campaign_id: str) -> dict[str, int]:
    rows = await db.fetch(
        "SELECT state, count(*) AS n FROM dial_attempts WHERE campaign_id = $1 GROUP BY state",
        campaign_id,
    )
    return {r["state"]: r["n"] for r in rows}


async def list_counts(db: Queryable, campaign_id: str) -> dict[str, int]:
    row = await db.fetchrow(
        """SELECT count(*) AS total, count(*) FILTER (WHERE final) AS final,
                  count(*) FILTER (WHERE attempts = 0) AS untouched
             FROM campaign_contacts WHERE campaign_id = $1""",
        campaign_id,
    )
    return dict(row) if row else {"total": 0, "final": 0, "untouched": 0}


async def talk_seconds(db: Queryable, campaign_id: str) -> float:
    """Talk time of the campaign's connected calls, from the call log."""
    value = await db.fetchval(
        """SELECT COALESCE(sum(i.talk_s), 0) FROM interactions i
             JOIN dial_attempts a ON a.call_id = i.contact_id
            WHERE a.campaign_id = $1""",
        campaign_id,
    )
    return float(value or 0.0)


# --- do not call -------------------------------------------------------------------------


async def add_dnc(db: Queryable, numbers: list[str], source: str = "api") -> int:
    if not numbers:
        return 0
    rows = await db.fetch(
        """INSERT INTO dnc_numbers (number, source) SELECT unnest($1::text[]), $2
           ON CONFLICT DO NOTHING RETURNING number""",
        numbers,
        source,
    )
    return len(rows)


async def dnc_numbers(db: Queryable) -> set[str]:
    return {r["number"] for r in await db.fetch("SELECT number FROM dnc_numbers")}
