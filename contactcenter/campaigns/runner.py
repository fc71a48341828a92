"""The campaign runner: one asyncio task per running campaign drives routing/pacing.py and
routing/compliance.py against the real ACD and the telephony gateway (docs/dialer.md,
"Server runner").

Every tick: ``Pacer.dials_wanted`` from the ACD's agents eligible for the campaign queue;
for each due contact row ``Compliance.check_dial`` (dispatch time); the attempt is
committed (``store.campaigns.record_attempt``, a unique key) *before* the ``originate``
goes to the gateway, so a restart never sends the same attempt twice. Results come back
through the gateway's ``campaign_results``: a live answer arrives in the ACD as an outbound
contact of the campaign queue and gets a 2-second timer; unconnected by then it is
abandoned (identification message, the ledger counts it). Every attempt and outcome is in
the event log (``contact.arrived`` direction outbound, ``dial.placed``, ``dial.result``,
``dial.abandoned``, ``dial.refused``), so it lands in the call log.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from contactcenter.acd import Acd, AcdUnavailable
from contactcenter.clock import Scheduler, Timer
from contactcenter.gateway_contract import OriginateResultIn
from contactcenter.ports import GatewayDialer
from contactcenter.protocol import (
    CAMPAIGN_PREVIEW,
    GATEWAY_HANGUP,
    GATEWAY_ORIGINATE,
    GATEWAY_PLAY,
    CampaignPreviewData,
    ScreenPop,
)
from contactcenter.server_events import ContactArrived, DialResult
from contactcenter.store import EventRecord
from contactcenter.store import campaigns as store
from contactcenter.store.customers import get_customer
from contactcenter.store.interactions import get_interaction
from routing import AVAILABLE, Channel, ContactSpec, Outcome
from routing.compliance import (
    Allowed,
    CallingWindow,
    Compliance,
    ComplianceConfig,
    ContactRecord,
    DialOutcome,
    Disposition,
    RefusalReason,
    RegulatoryMode,
    RetryRules,
)
from routing.errors import RoutingError
from routing.events import ContactAnswered, ContactEnded, Event, WrapUpCompleted
from routing.model import Direction
from routing.pacing import Pacer, PacingConfig, PacingMode, PredictiveParams
from routing.stats import DialerAgentTime

log = logging.getLogger(__name__)

CALL_PREFIX = "cmp-"
HELD = 1e12
"""next_attempt_at of a row whose live call awaits its disposition (not due)."""
# Refusals that no later check can lift: the row is closed.
_FINAL_REFUSALS = frozenset(
    {
        RefusalReason.DNC,
        RefusalReason.FINAL,
        RefusalReason.ATTEMPT_LIMIT,
        RefusalReason.INVALID_NUMBER,
        RefusalReason.UNKNOWN_TIMEZONE,
    }
)
_RESULTS = {
    "busy": DialOutcome.BUSY,
    "no_answer": DialOutcome.NO_ANSWER,
    "failed": DialOutcome.FAILED,
    "invalid_number": DialOutcome.FAILED,
}


@dataclass
class Timing:
    """How often the runner looks; tests make it short."""

    tick_s: float = 1.0
    max_batch: int = 50
    """At most this many dials per tick (a guard; the pacer decides)."""
    preview_s: float = 120.0
    """Preview mode: how long an agent may look at a record before it goes back."""


def call_id_for(campaign_id: str, row_id: int, attempt: int) -> str:
    return f"{CALL_PREFIX}{campaign_id}-{row_id}-{attempt}"


def campaign_of(call_id: str) -> str | None:
    if not call_id.startswith(CALL_PREFIX):
        return None
    parts = call_id[len(CALL_PREFIX) :].rsplit("-", 2)
    return parts[0] if len(parts) == 3 else None


def compliance_for(c: store.Campaign, dnc: set[str]) -> Compliance:
    retry = RetryRules.model_validate(c.retry) if c.retry else RetryRules()
    return Compliance(
        ComplianceConfig(
            mode=RegulatoryMode(c.regulatory_mode),
            window=CallingWindow(start=c.window_start, end=c.window_end),
            retry=retry,
            amd_false_positive_rate=c.amd_false_positive_rate,
            identification_message=c.identification_message,
            campaign_start=c.started_at or 0.0,
        ),
        dnc=dnc,
    )


def pacer_for(c: store.Campaign, compliance: Compliance) -> Pacer:
    return Pacer(
        PacingConfig(
            mode=PacingMode(c.mode),
            ratio=c.ratio,
            max_lines=c.max_lines,
            predictive=PredictiveParams(target_abandon_rate=c.abandon_target),
        ),
        ledger=compliance.ledger,
    )


@dataclass
class _Line:
    row_id: int
    number: str
    placed_at: float


@dataclass
class _LiveCall:
    row_id: int
    number: str
    deadline: float
    timer: Timer | None = None


@dataclass
class _Preview:
    call_ref: str
    row_id: int
    number: str
    expires_at: float


@dataclass
class CampaignRunner:
    campaign: store.Campaign
    acd: Acd
    gateway: GatewayDialer
    """Originates go out only while a gateway is connected: none is kept for later."""
    pool: asyncpg.Pool
    timing: Timing
    scheduler: Scheduler
    dnc: set[str] = field(default_factory=set)
    """The do-not-call numbers, shared by every campaign of the process (service.py)."""
    compliance: Compliance = field(init=False)
    pacer: Pacer = field(init=False)
    lines: dict[str, _Line] = field(default_factory=dict)
    live: dict[str, _LiveCall] = field(default_factory=dict)
    previews: dict[str, _Preview] = field(default_factory=dict)
    """Preview mode: agent id -> the record it was shown (one at a time)."""
    agent_time: DialerAgentTime = field(default_factory=DialerAgentTime)
    """Integrated over the runner's ticks (since this process started the runner)."""
    dialing: bool = False
    task: asyncio.Task[None] | None = None
    _tick: asyncio.Future[int] | None = field(default=None, init=False)
    _no_gateway: bool = field(default=False, init=False)
    """The last tick found no gateway connected (warned once per outage)."""
    _settling: set[int] = field(default_factory=set, init=False)
    """Rows whose dial has ended and whose outcome is being written: no tick may take
    them as due before their reschedule is stored (they are in no line nor live call)."""

    def __post_init__(self) -> None:
        self.compliance = compliance_for(self.campaign, self.dnc)
        self.pacer = pacer_for(self.campaign, self.compliance)

    @property
    def id(self) -> str:
        return self.campaign.id

    # --- lifecycle ---------------------------------------------------------------------------

    async def rebuild(self) -> None:
        """The cores' state from the store: every attempt replayed with its own times (the
        ledger and the per-number history), attempts a previous run left without an
        outcome marked lost (never dialed again; the row waits the failed-retry time)."""
        now = self.acd.clock()
        lost = {a.call_id for a in await store.mark_lost(self.pool, self.id, now)}
        comp = self.compliance
        limit = comp.config.connect_limit_s
        for a in await store.attempts_of(self.pool, self.id):
            comp.dial_placed(a.number, a.placed_at)
            at = a.outcome_at or a.placed_at
            if a.state in ("connected", "abandoned") and a.answered_at is not None:
                comp.dial_outcome(a.number, DialOutcome.LIVE, at)
                comp.live_answered(a.call_id, a.number, a.answered_at)
                if a.state == "connected":
                    comp.connected(a.call_id, a.answered_at)
                else:
                    comp.connect_deadline(a.call_id, a.answered_at + limit)
            elif a.state == "machine":
                comp.dial_outcome(a.number, DialOutcome.MACHINE, at)
            else:
                comp.dial_outcome(a.number, _RESULTS.get(a.state, DialOutcome.FAILED), at)
        for row_id in {int(c.rsplit("-", 2)[-2]) for c in lost}:
            await store.reschedule(
                self.pool, row_id, outcome="lost", next_attempt_at=now + comp.config.retry.failed_s
            )
        rows = await self.pool.fetch(
            "SELECT number, last_outcome, final, next_attempt_at FROM campaign_contacts "
            "WHERE campaign_id = $1 AND (final OR last_outcome = 'callback')",
            self.id,
        )
        for r in rows:
            if r["final"]:
                comp.disposition(r["number"], Disposition.DONE, now)
            else:
                comp.disposition(r["number"], Disposition.CALLBACK, now, r["next_attempt_at"])
        if lost:
            log.warning(
                "campaign %s: %d attempts had no outcome when the server stopped; "
                "marked lost, not dialed again",
                self.id,
                len(lost),
            )
        await self._drop_requeued(lost, now)

    async def _drop_requeued(self, lost: set[str], now: float) -> None:
        """Answered calls that were waiting when the server stopped were put back in the
        queue by the ACD's restore; the gateway has dropped them long since (their 2 s
        are over), so they leave the queue instead of reaching an agent as dead air."""
        engine = self.acd.engine
        for call_id in sorted(lost):
            try:
                waiting = engine.contact(call_id).state in ("queued", "offered")
            except RoutingError:
                continue
            if not waiting:
                continue
            record = EventRecord(
                type="dial.lost",
                ts=now,
                contact_id=call_id,
                queue_id=self.campaign.queue_id,
                data={"campaign_id": self.id, "reason": "server restart"},
            )
            try:
                await self._hang_up(call_id, record)
            except (RoutingError, AcdUnavailable) as exc:
                log.error("campaign %s: lost call %s stays queued: %s", self.id, call_id, exc)

    async def _hang_up(self, call_id: str, record: EventRecord) -> None:
        """The engine's hang-up of a waiting call (an abandon), logged after ``record``."""
        engine = self.acd.engine
        await self.acd.execute(lambda t: engine.hangup(call_id, t), before=lambda t: [record])

    def start(self) -> None:
        self.dialing = True
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._loop())

    async def halt(self) -> None:
        """Stop dialing; lines in flight still get their results. A tick under way is
        finished, not cut: an attempt committed is also sent."""
        self.dialing = False
        task, self.task = self.task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if self._tick is not None:
            await asyncio.gather(self._tick, return_exceptions=True)

    async def close(self) -> None:
        await self.halt()
        for call in self.live.values():
            if call.timer is not None:
                call.timer.cancel()

    async def _loop(self) -> None:
        while self.dialing:
            self._tick = asyncio.ensure_future(self.tick())
            try:
                await asyncio.shield(self._tick)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("campaign %s: tick failed", self.id)
            await self.scheduler.sleep(self.timing.tick_s)

    # --- agents ------------------------------------------------------------------------------

    def agent_counts(self) -> tuple[int, int]:
        """(ready, busy) agents eligible for the campaign queue. Inbound keeps priority:
        every inbound voice call waiting in a queue one of these agents could serve takes
        a ready agent away from the campaign (the ACD offers it first anyway: the
        campaign queue's priority is lower)."""
        ready, busy = self._eligible()
        if not ready:
            return 0, busy
        engine = self.acd.engine
        skills = [engine.agent(a).skills for a in ready]
        inbound = 0
        for q in engine.queue_ids():
            config = engine.queue_config(q)
            if q == self.campaign.queue_id or config.channel is not Channel.VOICE:
                continue
            if any(all(s.get(k, 0) >= v for k, v in config.skills.items()) for s in skills):
                inbound += len(engine.waiting(q))
        return max(0, len(ready) - inbound), busy

    def _eligible(self) -> tuple[list[str], int]:
        """Ready agents (ids) and the number of busy ones with the campaign's skills."""
        engine = self.acd.engine
        need = {**engine.queue_config(self.campaign.queue_id).skills, **self.campaign.skills}
        ready: list[str] = []
        busy = 0
        for a in engine.agents():
            if a.status != AVAILABLE or any(a.skills.get(k, 0) < v for k, v in need.items()):
                continue
            if a.activity == "idle" and not a.in_use.get(Channel.VOICE, 0):
                ready.append(a.id)
            elif a.activity in ("on_contact", "on_hold", "wrap_up", "offered"):
                busy += 1
        return ready, busy

    # --- dispatch ----------------------------------------------------------------------------

    async def tick(self) -> int:
        """One look: dial what the pacer wants; the number of originates sent."""
        now = self.acd.clock()
        ready, busy = self.agent_counts()
        # A gap much longer than a tick is the loop stalling, not agents waiting.
        self.agent_time.look(now, ready, busy, max_span_s=10 * self.timing.tick_s + 1)
        if not self.gateway.available():
            # A dial that cannot be placed now is not placed: nothing is queued for a
            # gateway that may connect much later (nor previewed to an agent who could
            # not dial it).
            if not self._no_gateway and self.dialing:
                log.warning("campaign %s: no telephony gateway connected; not dialling", self.id)
            self._no_gateway = True
            return 0
        self._no_gateway = False
        if self.campaign.mode == PacingMode.PREVIEW.value:
            return await self._preview_tick(now)
        wanted = min(
            self.pacer.dials_wanted(now, ready, busy, len(self.lines)), self.timing.max_batch
        )
        if wanted <= 0 or not self.dialing:
            return 0
        rows = await store.due_contacts(self.pool, self.id, now, wanted * 3, self._busy_rows())
        sent = 0
        for row in rows:
            if sent >= wanted or not self.dialing:
                break
            verdict = self.compliance.check_dial(
                ContactRecord(row.number, row.timezone), now, self.campaign.ring_timeout_s
            )
            if not isinstance(verdict, Allowed):
                await self._refused(row, verdict.reason, verdict.detail, verdict.retry_at, now)
                continue
            if await self._dial(row, verdict, now):
                sent += 1
        return sent

    def _busy_rows(self) -> set[int]:
        return (
            {line.row_id for line in self.lines.values()}
            | {call.row_id for call in self.live.values()}
            | {p.row_id for p in self.previews.values()}
            | self._settling
        )

    # --- preview mode ------------------------------------------------------------------------

    async def _preview_tick(self, now: float) -> int:
        """Each ready agent without a record gets one (``campaign_preview``); the agent
        calls it with click-to-dial. Compliance is checked and the attempt recorded when
        the record is shown; its outcome comes from the agent's call (wrap-up)."""
        for agent_id, p in list(self.previews.items()):
            if now >= p.expires_at:
                del self.previews[agent_id]
                await store.finish_attempt(self.pool, p.call_ref, "lost", now)
                await store.reschedule(
                    self.pool, p.row_id, outcome="preview_expired", next_attempt_at=now
                )
                self.compliance.dial_outcome(p.number, DialOutcome.FAILED, now)
        ready, _ = self._eligible()
        shown = 0
        for agent_id in ready:
            if agent_id in self.previews or not self.dialing:
                continue
            for row in await store.due_contacts(self.pool, self.id, now, 3, self._busy_rows()):
                verdict = self.compliance.check_dial(
                    ContactRecord(row.number, row.timezone), now, self.campaign.ring_timeout_s
                )
                if not isinstance(verdict, Allowed):
                    await self._refused(row, verdict.reason, verdict.detail, verdict.retry_at, now)
                    continue
                if await self._show(agent_id, row, verdict.number, now):
                    shown += 1
                break
        return shown

    async def _show(self, agent_id: str, row: store.ContactRow, number: str, now: float) -> bool:
        attempt = row.attempts + 1
        ref = call_id_for(self.id, row.id, attempt)
        if not await store.record_attempt(self.pool, row, attempt, ref, number, now):
            return False
        self.compliance.dial_placed(number, now)
        preview = _Preview(ref, row.id, number, now + self.timing.preview_s)
        self.previews[agent_id] = preview
        await self._log(
            [
                EventRecord(
                    type="dial.previewed",
                    ts=now,
                    contact_id=ref,
                    agent_id=agent_id,
                    queue_id=self.campaign.queue_id,
                    data={
                        "campaign_id": self.id,
                        "row_id": row.id,
                        "attempt": attempt,
                        "number": number,
                    },
                )
            ]
        )
        customer = await get_customer(self.pool, row.customer_id) if row.customer_id else None
        pop = None
        if customer is not None:
            pop = ScreenPop(
                known=True,
                ani=number,
                matches=1,
                message=customer.name,
                customer=customer.model_dump(mode="json", exclude={"created_at", "updated_at"}),
            )
        data = CampaignPreviewData(
            campaign_id=self.id,
            call_ref=ref,
            number=number,
            queue=self.campaign.queue_id,
            name=row.name,
            customer_id=row.customer_id,
            attributes=row.attributes,
            screen_pop=pop,
            expires_at=preview.expires_at,
        )
        self.acd.agent_sink(agent_id, CAMPAIGN_PREVIEW, data.model_dump(mode="json"))
        return True

    async def preview_done(self, event: WrapUpCompleted) -> None:
        """The agent wrapped up a call: if it was the previewed record's, its outcome is
        the attempt's (from the call log row, committed with the wrap-up)."""
        p = self.previews.get(event.agent_id or "")
        if p is None or event.contact_id is None:
            return
        row = await get_interaction(self.pool, event.contact_id)
        if row is None or row.dnis != p.number:
            return
        del self.previews[event.agent_id or ""]
        now = event.ts
        await self._log(
            [
                EventRecord(
                    type="dial.preview_done",
                    ts=now,
                    contact_id=p.call_ref,
                    agent_id=event.agent_id,
                    data={
                        "campaign_id": self.id,
                        "call_id": row.contact_id,
                        "outcome": row.outcome,
                    },
                )
            ]
        )
        if row.outcome == "handled":
            answered = row.answered_at.timestamp() if row.answered_at else now
            self.compliance.dial_outcome(p.number, DialOutcome.LIVE, answered)
            self.compliance.live_answered(p.call_ref, p.number, answered)
            self.compliance.connected(p.call_ref, answered)
            await store.finish_attempt(
                self.pool,
                p.call_ref,
                "connected",
                now,
                answered_at=answered,
                agent_id=event.agent_id,
            )
            await self._disposition(p.call_ref, event.disposition, now)
        else:
            kind = row.outcome if row.outcome in _RESULTS else "failed"
            self.lines[p.call_ref] = _Line(p.row_id, p.number, now)
            await self._outcome(p.call_ref, kind, now, logged=False)

    async def _refused(
        self,
        row: store.ContactRow,
        reason: RefusalReason,
        detail: str,
        retry_at: float | None,
        now: float,
    ) -> None:
        final = reason in _FINAL_REFUSALS
        next_at = retry_at if retry_at is not None else (None if final else now + 60.0)
        await store.reschedule(
            self.pool,
            row.id,
            outcome=f"refused:{reason.value}",
            next_attempt_at=next_at,
            final=final,
        )
        await self._log(
            [
                EventRecord(
                    type="dial.refused",
                    ts=now,
                    data={
                        "campaign_id": self.id,
                        "row_id": row.id,
                        "number": row.number,
                        "reason": reason.value,
                        "detail": detail,
                        "retry_at": retry_at,
                    },
                )
            ]
        )

    async def _dial(self, row: store.ContactRow, allowed: Allowed, now: float) -> bool:
        attempt = row.attempts + 1
        call_id = call_id_for(self.id, row.id, attempt)
        # The key is committed before anything leaves: a restart finds it and never
        # sends this attempt again.
        if not await store.record_attempt(self.pool, row, attempt, call_id, allowed.number, now):
            log.warning("campaign %s: attempt %s exists already; not dialed", self.id, call_id)
            return False
        self.compliance.dial_placed(allowed.number, now)
        self.pacer.dial_placed(call_id, now)
        self.lines[call_id] = _Line(row.id, allowed.number, now)
        attached = {
            "campaign_id": self.id,
            "row_id": row.id,
            "attempt": attempt,
            "name": row.name,
            **{f"attr_{k}": v for k, v in row.attributes.items()},
        }
        queue = self.campaign.queue_id
        records = [
            ContactArrived(
                contact_id=call_id,
                queue_id=queue,
                channel="voice",
                direction="outbound",
                dnis=allowed.number,
                customer_id=row.customer_id,
                attached=attached,
            ).record(now),
            EventRecord(
                type="dial.placed",
                ts=now,
                contact_id=call_id,
                queue_id=queue,
                data={
                    "campaign_id": self.id,
                    "row_id": row.id,
                    "attempt": attempt,
                    "number": allowed.number,
                    "zone": allowed.zone,
                    "ring_timeout_s": allowed.ring_timeout_s,
                },
            ),
        ]
        try:
            await self._log(records, strict=True)
        except AcdUnavailable:
            # not logged, so not sent: the attempt stays without an outcome (lost)
            self.lines.pop(call_id, None)
            await self._outcome(call_id, "failed", now, logged=False)
            return False
        if not self.gateway.available():
            # the gateway went while the attempt was logged: it fails now, never dialled late
            log.warning("campaign %s: gateway gone before %s was sent; failed", self.id, call_id)
            await self._outcome(call_id, "failed", now)
            return False
        self.gateway.send(
            GATEWAY_ORIGINATE,
            {
                "call_id": call_id,
                "number": allowed.number,
                "agent_id": None,
                "extension": None,
                "campaign_id": self.id,
                "ring_timeout_s": allowed.ring_timeout_s,
                "amd": True,
            },
        )
        return True

    async def _log(self, records: list[EventRecord], *, strict: bool = False) -> None:
        try:
            await self.acd.execute(lambda now: Outcome(), before=lambda now: records)
        except AcdUnavailable:
            if strict:
                raise
            log.error("campaign %s: events not logged: %s", self.id, [r.type for r in records])

    # --- results -----------------------------------------------------------------------------

    async def result(self, body: OriginateResultIn) -> None:
        now = self.acd.clock()
        line = self.lines.get(body.call_id)
        if line is None:
            log.info(
                "campaign %s: result %s for %s, which is not ringing; ignored",
                self.id,
                body.result,
                body.call_id,
            )
            return
        if body.result == "answered" and body.amd != "machine":
            await self._answered(body, line, now)
        else:
            kind = "machine" if body.result == "answered" else body.result
            await self._outcome(body.call_id, kind, now)

    async def _outcome(self, call_id: str, kind: str, now: float, *, logged: bool = True) -> None:
        """A dial that reached nobody: busy, no answer, machine, failed, invalid number."""
        line = self.lines.pop(call_id, None)
        if line is not None:
            self._settling.add(line.row_id)
        try:
            await self._settle_outcome(call_id, line, kind, now, logged)
        finally:
            if line is not None:
                self._settling.discard(line.row_id)

    async def _settle_outcome(
        self, call_id: str, line: _Line | None, kind: str, now: float, logged: bool
    ) -> None:
        attempt = await store.get_attempt(self.pool, call_id)
        if attempt is None:
            return
        number = line.number if line else attempt.number
        outcome = DialOutcome.MACHINE if kind == "machine" else _RESULTS[kind]
        self.compliance.dial_outcome(number, outcome, now)
        self.pacer.dial_result(call_id, outcome, now)
        await store.finish_attempt(self.pool, call_id, kind, now)
        cfg = self.compliance.config
        row = await store.get_contact(self.pool, attempt.contact_row_id)
        delay = cfg.retry.delay(outcome)
        locked = (
            now + cfg.uk_machine_lockout_s
            if outcome is DialOutcome.MACHINE and self.compliance.uk
            else None
        )
        final = kind == "invalid_number" or (
            row is not None and row.attempts >= cfg.retry.max_attempts
        )
        await store.reschedule(
            self.pool,
            attempt.contact_row_id,
            outcome=kind,
            next_attempt_at=None if delay is None else now + delay,
            locked_until=locked,
            final=final,
        )
        if machine := kind == "machine":
            # a machine answered: the gateway drops it (no message is left)
            self.gateway.send(GATEWAY_HANGUP, {"call_id": call_id, "reason": "machine"})
        if logged:
            # the call log's outcome is one of its own (machine: no_answer); the dialer's
            # own word is in attached.dial_outcome and in dial_attempts
            shown = "no_answer" if machine else kind
            await self._log(
                [
                    DialResult(
                        contact_id=call_id,
                        result=shown,
                        campaign_id=self.id,
                        attached={"dial_outcome": kind},
                    ).record(now)
                ]
            )

    async def _answered(self, body: OriginateResultIn, line: _Line, now: float) -> None:
        call_id = body.call_id
        del self.lines[call_id]
        # busy until it is a live call: the awaits below must not let a tick dial it again
        self._settling.add(line.row_id)
        try:
            await self._answered_live(body, line, now)
        finally:
            self._settling.discard(line.row_id)

    async def _answered_live(self, body: OriginateResultIn, line: _Line, now: float) -> None:
        call_id = body.call_id
        # the answer came before the AMD verdict: its latency is spent out of the 2 s
        answered_at = max(line.placed_at, now - (body.amd_latency_s or 0.0))
        self.compliance.dial_outcome(line.number, DialOutcome.LIVE, now)
        self.pacer.dial_result(call_id, DialOutcome.LIVE, now)
        deadline = self.compliance.live_answered(call_id, line.number, answered_at)
        await store.finish_attempt(self.pool, call_id, "answered", now, answered_at=answered_at)
        await store.reschedule(self.pool, line.row_id, outcome="answered", next_attempt_at=HELD)
        call = self.live[call_id] = _LiveCall(line.row_id, line.number, deadline.at)
        delay = max(0.0, deadline.at - self.acd.clock())
        call.timer = self.scheduler.call_later(delay, lambda: self.spawn(self._deadline(call_id)))
        row = await store.get_contact(self.pool, line.row_id)
        customer = (
            await get_customer(self.pool, row.customer_id)
            if row is not None and row.customer_id
            else None
        )
        data: dict[str, Any] = {"dnis": line.number, "campaign_id": self.id, "row_id": line.row_id}
        if customer is not None:
            data["customer_id"] = customer.id
        if row is not None:
            data["contact_name"] = row.name
            data.update(
                {
                    f"attr_{k}": v
                    for k, v in row.attributes.items()
                    if isinstance(v, str | int | float | bool)
                }
            )
        self.acd.remember_caller(call_id, customer, 1 if customer else 0)
        spec = ContactSpec(
            id=call_id,
            queue_id=self.campaign.queue_id,
            channel=Channel.VOICE,
            direction=Direction.OUTBOUND,
            skills=dict(self.campaign.skills),
            data=data,
        )
        record = DialResult(
            contact_id=call_id,
            queue_id=self.campaign.queue_id,
            result="answered",
            campaign_id=self.id,
            amd=body.amd,
            answered_at=answered_at,
            attached={"dial_outcome": "live"},
        ).record(now)
        try:
            await self.acd.execute(
                lambda t: self.acd.engine.arrive(spec, t), before=lambda t: [record]
            )
        except (RoutingError, AcdUnavailable) as exc:
            log.error("campaign %s: answered call %s not queued: %s", self.id, call_id, exc)

    async def _deadline(self, call_id: str) -> None:
        """The 2-second timer: abandon the call unless an agent has it."""
        call = self.live.get(call_id)
        if call is None:
            return
        now = self.acd.clock()
        try:
            state = self.acd.engine.contact(call_id).state
        except RoutingError:
            state = None
        if state in ("connected", "held"):
            return  # accepted in time; the hook is on its way
        commands = self.compliance.connect_deadline(call_id, now)
        if not commands:
            return
        del self.live[call_id]
        self.pacer.abandoned(call_id, now)
        cfg = self.compliance.config
        await store.finish_attempt(self.pool, call_id, "abandoned", now)
        await store.reschedule(
            self.pool,
            call.row_id,
            outcome="abandoned",
            next_attempt_at=now + cfg.retry.abandoned_s,
            locked_until=now + cfg.uk_abandon_lockout_s if self.compliance.uk else None,
        )
        record = EventRecord(
            type="dial.abandoned",
            ts=now,
            contact_id=call_id,
            queue_id=self.campaign.queue_id,
            data={
                "campaign_id": self.id,
                "message": commands[0].message,
                "uk_lockout": self.compliance.uk,
            },
        )
        try:
            await self._hang_up(call_id, record)
        except (RoutingError, AcdUnavailable) as exc:
            log.error("campaign %s: abandon of %s not recorded: %s", self.id, call_id, exc)
        for cmd in commands:
            # the recorded identification message, then the gateway hangs up
            self.gateway.send(
                GATEWAY_PLAY, {"call_id": cmd.call_id, "prompt": cmd.message, "then": "hangup"}
            )

    # --- the ACD's committed events ----------------------------------------------------------

    def on_event(self, event: Event) -> None:
        now = event.ts
        cid = event.contact_id or ""
        if isinstance(event, ContactAnswered) and cid in self.live:
            call = self.live.pop(cid)
            if call.timer is not None:
                call.timer.cancel()
            # The engine accepted before the deadline timer ran (it checks the engine).
            self.compliance.connected(cid, min(now, call.deadline))
            self.pacer.connected(cid, event.agent_id or "", now)
            self.agent_time.connected()
            self.spawn(
                store.finish_attempt(self.pool, cid, "connected", now, agent_id=event.agent_id)
            )
            self.spawn(store.reschedule(self.pool, call.row_id, outcome="connected"))
        elif isinstance(event, ContactEnded) and event.agent_id:
            self.pacer.agent_wrapup(event.agent_id, now)
        elif isinstance(event, WrapUpCompleted) and event.agent_id:
            self.pacer.agent_ready(event.agent_id, now)
            self.spawn(self._disposition(cid, event.disposition, now))

    async def _disposition(self, call_id: str, disposition: str | None, now: float) -> None:
        attempt = await store.get_attempt(self.pool, call_id)
        if attempt is None:
            return
        if disposition == "dnc":
            await store.add_dnc(self.pool, [attempt.number], source=f"campaign:{self.id}")
            self.compliance.disposition(attempt.number, Disposition.DNC, now)
            await store.reschedule(self.pool, attempt.contact_row_id, outcome="dnc", final=True)
        elif disposition == "callback":
            at = now + 3600.0
            self.compliance.disposition(attempt.number, Disposition.CALLBACK, now, at)
            await store.reschedule(
                self.pool, attempt.contact_row_id, outcome="callback", next_attempt_at=at
            )
        else:
            self.compliance.disposition(attempt.number, Disposition.DONE, now)
            await store.reschedule(self.pool, attempt.contact_row_id, outcome="done", final=True)

    def spawn(self, coro: Coroutine[Any, Any, object]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        task.add_done_callback(_log_failure)


def _log_failure(task: asyncio.Task[object]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("campaign store update failed: %s", task.exception())
