"""The interaction log (call detail records), derived from the event log.

``apply_event`` is a pure fold: (row so far, event) -> new row. ``InteractionProjection``
runs it inside the event writer's transaction (store/events.py), so the call log always
matches the committed events. Each row remembers the seq of the last event folded into it,
which makes re-applying events (replay, rebuild) harmless.

Segments: a transferred contact has one agent segment per agent. ``contact.transferred``
and ``contact.ended`` close the current segment; their ``talk_s`` / ``hold_s`` payloads,
when present, are that segment's own talk and hold (the routing core measures them) and
replace what the fold measured from the timestamps. The row's totals add up the segments.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from asyncpg import Record
from pydantic import BaseModel

from contactcenter.store.db import Connection, Queryable
from contactcenter.store.records import StoredEvent

Outcome = Literal[
    "handled",
    "abandoned",
    "flowed_out",
    "unanswered",
    "ended_in_ivr",
    "busy",
    "no_answer",
    "invalid_number",
    "failed",
    "cancelled",
    "transferred",
]
"""``busy`` to ``cancelled`` are outbound calls the callee never answered (``dial.result``),
or that the agent hung up while they rang (``cancelled``); ``transferred``: the agent sent
the call out to an external number (``outcome_reason``)."""
DIAL_FAILURES = frozenset({"busy", "no_answer", "invalid_number", "failed"})
DIRECTIONS = frozenset({"inbound", "outbound", "internal"})
# bounds the row size of a caller looping in an IVR menu
MAX_IVR_STEPS = 500


class Interaction(BaseModel):
    """One row of the call log."""

    contact_id: str
    channel: str | None = None
    direction: str | None = None
    ani: str | None = None
    dnis: str | None = None
    customer_id: str | None = None
    queue_id: str | None = None
    agent_id: str | None = None
    """The agent who answered last."""
    priority: int | None = None
    started_at: datetime
    arrived_at: datetime | None = None
    queued_at: datetime | None = None
    offered_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    wrapup_ended_at: datetime | None = None
    wait_s: float | None = None
    hold_s: float = 0.0
    talk_s: float | None = None
    wrapup_s: float | None = None
    offers: int = 0
    transfers: int = 0
    outcome: Outcome | None = None
    outcome_reason: str | None = None
    disposition: str | None = None
    notes: str | None = None
    ivr_path: list[dict[str, Any]] = []
    attached: dict[str, Any] = {}
    csat: int | None = None
    """Post-contact survey: satisfaction 1-5, and whether the issue was resolved."""
    resolved: bool | None = None
    held_since: datetime | None = None
    segment_answered_at: datetime | None = None
    segment_hold_s: float = 0.0
    last_seq: int = 0
    updated_at: datetime | None = None

    @property
    def handle_s(self) -> float:
        """Talk + hold + wrap-up: this contact's share of AHT."""
        return (self.talk_s or 0.0) + self.hold_s + (self.wrapup_s or 0.0)


# --- the fold ----------------------------------------------------------------------------

_Handler = Callable[[Interaction, StoredEvent, datetime, Mapping[str, Any]], None]


def apply_event(row: Interaction | None, event: StoredEvent) -> Interaction | None:
    """The row after ``event`` (a new object; ``row`` is not modified); None when the
    event does not change the call log."""
    if not _applies(row, event):
        return None
    new = _start_row(event) if row is None else _copy(row)
    _apply_in_place(new, event)
    return new


def fold_events(
    events: Iterable[StoredEvent], rows: Mapping[str, Interaction] | None = None
) -> dict[str, Interaction]:
    """Fold events (in seq order) into rows by contact id, in memory.

    Rows given in ``rows`` are not modified; a changed row is a new object in the result.
    """
    result = dict(rows or {})
    copied: set[str] = set()  # rows this call owns: later events may change them in place
    for event in events:
        contact_id = event.contact_id
        if contact_id is None:
            continue
        row = result.get(contact_id)
        if not _applies(row, event):
            continue
        if row is None:
            row = result[contact_id] = _start_row(event)
        elif contact_id not in copied:
            row = result[contact_id] = _copy(row)
        copied.add(contact_id)
        _apply_in_place(row, event)
    return result


def _applies(row: Interaction | None, event: StoredEvent) -> bool:
    return (
        event.type in _HANDLERS
        and event.contact_id is not None
        and (row is None or event.seq > row.last_seq)
    )


def _start_row(event: StoredEvent) -> Interaction:
    assert event.contact_id is not None
    return Interaction(
        contact_id=event.contact_id, started_at=datetime.fromtimestamp(event.ts, UTC)
    )


def _copy(row: Interaction) -> Interaction:
    new = row.model_copy()
    new.ivr_path = list(row.ivr_path)
    new.attached = dict(row.attached)
    return new


def _apply_in_place(row: Interaction, event: StoredEvent) -> None:
    at = datetime.fromtimestamp(event.ts, UTC)
    row.started_at = min(row.started_at, at)
    data = event.data
    _HANDLERS[event.type](row, event, at, data)
    if row.customer_id is None:
        row.customer_id = _text(data.get("customer_id"))
    if row.channel is None:
        row.channel = _text(data.get("channel"))
    if row.queue_id is None:
        row.queue_id = event.queue_id or _text(data.get("queue_id"))
    if isinstance(data.get("attached"), dict):
        row.attached.update(data["attached"])
    row.last_seq = event.seq


def _arrived(r: Interaction, e: StoredEvent, at: datetime, d: Mapping[str, Any]) -> None:
    r.arrived_at = r.arrived_at or at
    r.channel = _text(d.get("channel")) or r.channel
    direction = _text(d.get("direction"))
    if direction in DIRECTIONS:
        r.direction = direction
    r.ani = _text(d.get("ani")) or r.ani
    r.dnis = _text(d.get("dnis")) or r.dnis


def _ivr_step(r: Interaction, e: StoredEvent, at: datetime, d: Mapping[str, Any]) -> None:
    if len(r.ivr_path) >= MAX_IVR_STEPS:
        return
    step: dict[str, Any] = {"node": d.get("node"), "ts": e.ts}
    if "input" in d:
        step["input"] = d["input"]
    r.ivr_path.append(step)


def _ivr_started(r: Interaction, e: StoredEvent, at: datetime, d: Mapping[str, Any]) -> None:
    # the survey of an ended contact starts a session too: it changes nothing here
    r.channel = r.channel or _text(d.get("channel"))
    r.arrived_at = r.arrived_at or at


def _ivr_input(r: Interaction, e: StoredEvent, at: datetime, d: Mapping[str, Any]) -> None:
    # ivr/ has masked the value of a sensitive prompt already
    if r.ivr_path and "input" not in r.ivr_path[-1] and isinstance(d.get("value"), str):
        r.ivr_path[-1] = {**r.ivr_path[-1], "input": d["value"]}


def _ivr_exited(r: Interaction, e: StoredEvent, at: datetime, d: Mapping[str, Any]) -> None:
    outcome = _text(d.get("outcome"))
    if outcome is not None and outcome != "queue" and r.ended_at is None:
        r.outcome = r.outcome or "ended_in_ivr"
        r.outcome_reason = r.outcome_reason or outcome
        r.ended_at = at


def _ivr_left(r: Interaction, e: StoredEvent, at: datetime, d: Mapping[str, Any]) -> None:
    if r.ended_at is None:
        r.outcome = r.outcome or "ended_in_ivr"
        r.outcome_reason = r.outcome_reason or "caller_left"
        r.ended_at = at


def _ivr_restarted(r: Interaction, e: StoredEvent, at: datetime, d: Mapping[str, Any]) -> None:
    # the server restarted while the caller was in the tree, which starts again: the path
    # carries on, marked, with the nodes of the fresh session after this step
    if len(r.ivr_path) < MAX_IVR_STEPS:
        r.ivr_path.append({"node": "(server restart)", "ts": e.ts})


def _ivr_ended(r: Interaction, e: StoredEvent, at: datetime, d: Mapping[str, Any]) -> None:
    # the server ended a session it could not resume after a restart; with ``queue`` it
    # queued the call directly instead (its contact.arrived follows)
    _ivr_restarted(r, e, at, d)
    if d.get("queue") is None and r.ended_at is None:
        r.outcome = r.outcome or "ended_in_ivr"
        r.outcome_reason = r.outcome_reason or _text(d.get("reason"))
        r.ended_at = at


def _survey(r: Interaction, e: StoredEvent, at: datetime, d: Mapping[str, Any]) -> None:
    csat = _integer(d.get("csat"))
    if csat is not None and 1 <= csat <= 5:
        r.csat = csat
    if isinstance(d.get("resolved"), bool):
        r.resolved = d["resolved"]


def _queued(r: Interaction, e: StoredEvent, at: datetime, d: Mapping[str, Any]) -> None:
    r.queue_id = e.queue_id or _text(d.get("queue_id")) or r.queue_id
    r.queued_at = r.queued_at or at
    priority = _integer(d.get("priority"))
    if priority is not None:
        r.priority = priority


def _step_changed(r: Interaction, e: StoredEvent, at: datetime, d: Mapping[str, Any]) -> None:
    priority = _integer(d.get("priority"))
    if priority is not None:
        r.priority = priority


def _offered(r: Interaction, e: StoredEvent, at: datetime, d: Mapping[str, Any]) -> None:
    r.offered_at = at
    r.offers += 1


def _answered(r: Interaction, e: StoredEvent, at: datetime, d: Mapping[str, Any]) -> None:
    r.answered_at = r.answered_at or at
    r.agent_id = e.agent_id or _text(d.get("agent_id")) or r.agent_id
    r.segment_answered_at = at
    r.segment_hold_s = 0.0
    r.held_since = None
    if r.wait_s is None:
        r.wait_s = _wait(r, at, d)


def _held(r: Interaction, e: StoredEvent, at: datetime, d: Mapping[str, Any]) -> None:
    if r.held_since is None:
        r.held_since = at


def _resumed(r: Interaction, e: StoredEvent, at: datetime, d: Mapping[str, Any]) -> None:
    span = _seconds(d.get("hold_s"))
    if span is None:
        if r.held_since is None:
            return
        span = _elapsed(r.held_since, at)
    r.hold_s += span
    r.segment_hold_s += span
    r.held_since = None


def _conference_left(r: Interaction, e: StoredEvent, at: datetime, d: Mapping[str, Any]) -> None:
    r.agent_id = _text(d.get("remaining")) or r.agent_id


def _transferred(r: Interaction, e: StoredEvent, at: datetime, d: Mapping[str, Any]) -> None:
    _close_segment(r, at, d)
    r.transfers += 1
    r.queue_id = _text(d.get("to_queue")) or r.queue_id


def _abandoned(r: Interaction, e: StoredEvent, at: datetime, d: Mapping[str, Any]) -> None:
    r.outcome = r.outcome or "abandoned"
    r.ended_at = r.ended_at or at
    if r.wait_s is None:
        r.wait_s = _wait(r, at, d)


def _flowed_out(r: Interaction, e: StoredEvent, at: datetime, d: Mapping[str, Any]) -> None:
    r.outcome = r.outcome or "flowed_out"
    r.outcome_reason = _text(d.get("reason")) or r.outcome_reason
    r.ended_at = r.ended_at or at
    if r.wait_s is None:
        r.wait_s = _wait(r, at, d)


def _originated(r: Interaction, e: StoredEvent, at: datetime, d: Mapping[str, Any]) -> None:
    # The agent is on the line from here (ringback), the callee from dial.result: talk
    # and answered_at are the callee's.
    r.agent_id = e.agent_id or r.agent_id
    r.direction = "outbound"
    r.channel = _text(d.get("channel")) or r.channel
    r.segment_answered_at = None
    r.segment_hold_s = 0.0


def _dial_result(r: Interaction, e: StoredEvent, at: datetime, d: Mapping[str, Any]) -> None:
    result = _text(d.get("result"))
    if result == "answered":
        r.answered_at = r.answered_at or at
        r.segment_answered_at = at
        r.segment_hold_s = 0.0
    elif result in DIAL_FAILURES:
        r.outcome = r.outcome or result  # type: ignore[assignment]
        r.outcome_reason = result


def _transferred_external(
    r: Interaction, e: StoredEvent, at: datetime, d: Mapping[str, Any]
) -> None:
    # Committed just before the contact.ended of the same transfer, which keeps it.
    r.outcome = "transferred"
    r.outcome_reason = _text(d.get("number")) or r.outcome_reason


def _ended(r: Interaction, e: StoredEvent, at: datetime, d: Mapping[str, Any]) -> None:
    if r.direction == "outbound" and r.transfers == 0:
        # the engine's talk_s counts from the dial; the call log's from the answer
        d = {k: v for k, v in d.items() if k != "talk_s"}
        if r.segment_answered_at is None:
            r.talk_s = r.talk_s or 0.0
    _close_segment(r, at, d)
    r.ended_at = at
    if r.outcome is None:
        if r.answered_at is not None:
            r.outcome = "handled"
        elif r.direction == "outbound":
            r.outcome = "cancelled"
        elif r.queued_at is not None:
            r.outcome = "unanswered"
        else:
            r.outcome = "ended_in_ivr"


def _wrapup_completed(r: Interaction, e: StoredEvent, at: datetime, d: Mapping[str, Any]) -> None:
    r.wrapup_ended_at = at
    spent = _seconds(d.get("wrapup_s"))
    if spent is None and r.ended_at is not None:
        spent = _elapsed(r.ended_at, at)
    if spent is not None:
        r.wrapup_s = (r.wrapup_s or 0.0) + spent
    r.disposition = _text(d.get("disposition")) or r.disposition
    notes = _text(d.get("notes"))
    if notes:
        # several agents may wrap up one transferred contact; keep everyone's notes
        r.notes = f"{r.notes}\n{notes}" if r.notes else notes


def _close_segment(r: Interaction, at: datetime, d: Mapping[str, Any]) -> None:
    if r.held_since is not None:  # ended or transferred while on hold
        span = _elapsed(r.held_since, at)
        r.hold_s += span
        r.segment_hold_s += span
        r.held_since = None
    reported_talk = _seconds(d.get("talk_s"))
    if r.segment_answered_at is not None:
        segment_hold = _seconds(d.get("hold_s"))
        if segment_hold is None:
            segment_hold = r.segment_hold_s
        r.hold_s = max(0.0, r.hold_s - r.segment_hold_s + segment_hold)
        talk = reported_talk
        if talk is None:
            talk = max(0.0, _elapsed(r.segment_answered_at, at) - segment_hold)
        r.talk_s = (r.talk_s or 0.0) + talk
    elif reported_talk:
        r.talk_s = (r.talk_s or 0.0) + reported_talk
    r.segment_answered_at = None
    r.segment_hold_s = 0.0


def _wait(r: Interaction, at: datetime, d: Mapping[str, Any]) -> float | None:
    reported = _seconds(d.get("wait_s"))
    if reported is not None:
        return reported
    since = r.queued_at or r.arrived_at
    return None if since is None else _elapsed(since, at)


_HANDLERS: dict[str, _Handler] = {
    "contact.arrived": _arrived,
    "ivr.step": _ivr_step,
    "ivr.started": _ivr_started,
    "ivr.entered_node": _ivr_step,
    "ivr.input": _ivr_input,
    "ivr.exited": _ivr_exited,
    "ivr.caller_left": _ivr_left,
    "ivr.restarted": _ivr_restarted,
    "ivr.ended": _ivr_ended,
    "ivr.survey": _survey,
    "contact.queued": _queued,
    "contact.step_changed": _step_changed,
    "contact.offered": _offered,
    "contact.answered": _answered,
    "contact.originated": _originated,
    "dial.result": _dial_result,
    "contact.held": _held,
    "contact.resumed": _resumed,
    # a conference ends the caller's hold (its hold_s); an agent who leaves one hands the
    # contact to the remaining agent, who is then the row's agent
    "conference.started": _resumed,
    "conference.left": _conference_left,
    "contact.transferred": _transferred,
    "contact.transferred_external": _transferred_external,
    "contact.abandoned": _abandoned,
    "contact.flowed_out": _flowed_out,
    "contact.ended": _ended,
    "wrapup.completed": _wrapup_completed,
}
EVENT_TYPES: frozenset[str] = frozenset(_HANDLERS)
"""The event types that change the call log (offer.rejected etc. do not)."""


# Payloads come from many producers; a malformed value is ignored rather than allowed to
# fail the whole commit batch it travels in.
def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    value = float(value)
    return value if math.isfinite(value) and value >= 0 else None


def _integer(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or abs(value) >= 2**31:
        return None
    return value


def _elapsed(start: datetime, end: datetime) -> float:
    return max(0.0, (end - start).total_seconds())


# --- persistence -------------------------------------------------------------------------

_STORED = [name for name in Interaction.model_fields if name != "updated_at"]
_SELECT = f"SELECT {', '.join([*_STORED, 'updated_at'])} FROM interactions"
_UPSERT = (
    f"INSERT INTO interactions ({', '.join(_STORED)}) "
    f"VALUES ({', '.join(f'${i}' for i in range(1, len(_STORED) + 1))}) "
    "ON CONFLICT (contact_id) DO UPDATE SET "
    + ", ".join(f"{c} = EXCLUDED.{c}" for c in _STORED if c != "contact_id")
    + ", updated_at = now()"
)


def _from_row(row: Record) -> Interaction:
    # Rows of our own table, written from validated models: no need to validate again
    # (this runs for every contact of every committed batch).
    return Interaction.model_construct(**dict(row))


class InteractionProjection:
    """Keeps ``interactions`` in step with the events of each committed batch."""

    async def apply(self, conn: Connection, events: Sequence[StoredEvent]) -> None:
        relevant = [e for e in events if e.contact_id is not None and e.type in EVENT_TYPES]
        if not relevant:
            return
        # sorted: row locks are always taken in the same order
        ids = sorted({e.contact_id for e in relevant if e.contact_id is not None})
        rows = {
            row["contact_id"]: _from_row(row)
            for row in await conn.fetch(
                f"{_SELECT} WHERE contact_id = ANY($1::text[]) ORDER BY contact_id FOR UPDATE",
                ids,
            )
        }
        changed = fold_events(relevant, rows)
        writes = [row for cid, row in changed.items() if rows.get(cid) is not row]
        if writes:
            await conn.executemany(_UPSERT, [[getattr(row, c) for c in _STORED] for row in writes])

    async def reset(self, conn: Connection) -> None:
        await conn.execute("TRUNCATE interactions")


# --- queries -----------------------------------------------------------------------------


async def get_interaction(db: Queryable, contact_id: str) -> Interaction | None:
    row = await db.fetchrow(f"{_SELECT} WHERE contact_id = $1", contact_id)
    return None if row is None else _from_row(row)


async def customer_interactions(
    db: Queryable, customer_id: str, *, limit: int = 10
) -> list[Interaction]:
    """A customer's most recent contacts first (the screen pop's history)."""
    rows = await db.fetch(
        f"{_SELECT} WHERE customer_id = $1 ORDER BY started_at DESC, contact_id LIMIT $2",
        customer_id,
        limit,
    )
    return [_from_row(r) for r in rows]


async def list_interactions(
    db: Queryable,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    queue_id: str | None = None,
    agent_id: str | None = None,
    limit: int = 1000,
) -> list[Interaction]:
    """Contacts started in [since, until), oldest first, optionally for one queue or agent."""
    rows = await db.fetch(
        f"""{_SELECT}
        WHERE ($1::timestamptz IS NULL OR started_at >= $1)
          AND ($2::timestamptz IS NULL OR started_at < $2)
          AND ($3::text IS NULL OR queue_id = $3)
          AND ($4::text IS NULL OR agent_id = $4)
        ORDER BY started_at, contact_id LIMIT $5""",
        since,
        until,
        queue_id,
        agent_id,
        limit,
    )
    return [_from_row(r) for r in rows]
