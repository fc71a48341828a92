"""Outbound campaign simulator: SimPy time driving the real pacing and compliance code.

The pacer (routing.pacing.Pacer) decides how many numbers to dial and the compliance core
(routing.compliance.Compliance) vets every dial at dispatch time, runs the 2-second rule and
keeps the abandon ledger, exactly as the server's campaign runner will. This module only
plays the world: the network's verdict on each dial (busy / no answer / machine / live,
with its time to answer), answering-machine detection latency, talk and wrap-up times, and
virtual agents who take the longest-waiting answered call when they free up.

Like simulations/harness.py, future actions are tiny slotted events put straight on
SimPy's schedule (no process per call), and random inputs come from numpy batches, one
stream per purpose, so two pacing modes run on the same seed see the same sequence of
dial outcomes and talk times (common random numbers: differences are the pacing's).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import simpy
from pydantic import BaseModel, ConfigDict, Field, model_validator

from routing.compliance import (
    Allowed,
    Compliance,
    ComplianceConfig,
    ContactRecord,
    DialOutcome,
    RegulatoryMode,
    days_from_civil,
)
from routing.pacing import Pacer, PacingConfig, PacingMode
from routing.stats import talk_minutes_per_agent_hour, wait_between_calls_s
from simulations.distributions import BATCH

NORMAL = 1
_NOOP: tuple[Callable[[Any], None], ...] = ()
DEFAULT_START = days_from_civil(2026, 6, 2) * 86_400.0 + 13 * 3600.0
"""A Tuesday, 09:00 in New York (EDT): the list below is all +1 212 numbers."""


class OutboundScenario(BaseModel):
    """One campaign day. Defaults are scenario S1 of issue 7."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = "S1"
    agents: int = Field(25, ge=1)
    hours: float = Field(8.0, gt=0)
    p_live: float = Field(0.25, ge=0, le=1)
    p_busy: float = Field(0.15, ge=0, le=1)
    p_machine: float = Field(0.30, ge=0, le=1)
    """The rest of the dials are not answered."""
    p_live_after: float | None = Field(None, ge=0, le=1)
    """Live-answer rate after ``change_at_h`` (busy and machine shares stay; no answer
    takes up the difference)."""
    change_at_h: float | None = Field(None, ge=0)
    live_answer_s: tuple[float, float] = (4.0, 16.0)
    """Uniform time from dial to a live answer."""
    machine_answer_s: tuple[float, float] = (4.0, 16.0)
    busy_s: tuple[float, float] = (2.0, 5.0)
    no_answer_s: float = Field(26.0, gt=0)
    """Ring timeout the campaign asks for (compliance enforces at least 15 s)."""
    amd_live_latency_s: float = Field(1.0, ge=0)
    """From a person's answer to the detector's "human" verdict: spent out of the 2 s."""
    amd_machine_latency_s: float = Field(2.5, ge=0)
    talk_mean_s: float = Field(120.0, gt=0)
    talk_sd_s: float = Field(80.0, gt=0)
    """Lognormal talk time with this mean and standard deviation."""
    wrap_s: float = Field(15.0, ge=0)
    tick_s: float = Field(1.0, gt=0)
    """Besides reacting to every event, the driver asks the pacer at least this often."""
    mode: RegulatoryMode = RegulatoryMode.US
    amd_false_positive_rate: float = Field(0.0, ge=0, le=1)
    start: float = DEFAULT_START

    @model_validator(mode="after")
    def _shares(self) -> OutboundScenario:
        for p in (self.p_live, self.p_live_after or 0.0):
            if p + self.p_busy + self.p_machine > 1 + 1e-9:
                raise ValueError("live + busy + machine shares exceed 1")
        if (self.p_live_after is None) != (self.change_at_h is None):
            raise ValueError("p_live_after and change_at_h go together")
        return self


@dataclass(slots=True)
class DayResult:
    """One simulated campaign day."""

    seed: int
    agents: int
    hours: float
    dials: int = 0
    lives: int = 0
    connects: int = 0
    abandons: int = 0
    refused: int = 0
    talk_s: float = 0.0
    ready_s: float = 0.0
    windows: list[float] = field(default_factory=list)
    """Abandon rate of each regulatory window of the ledger."""
    talk_by_interval: list[float] = field(default_factory=list)
    """Talk minutes per agent hour in each 15-minute interval."""

    @property
    def talk_min_per_agent_hour(self) -> float:
        figure = talk_minutes_per_agent_hour(self.talk_s, self.agents * self.hours * 3600.0)
        return float("nan") if figure is None else figure

    @property
    def abandon_rate(self) -> float:
        return self.abandons / self.lives if self.lives else 0.0

    @property
    def wait_between_calls_s(self) -> float:
        figure = wait_between_calls_s(self.ready_s, self.connects)
        return float("nan") if figure is None else figure


@dataclass(slots=True)
class Summary:
    """Several days (seeds) of one scenario under one pacing configuration."""

    scenario: str
    mode: str
    ratio: float | None
    agents: int
    days: list[DayResult]

    def _mean(self, f: Callable[[DayResult], float]) -> float:
        return float(np.mean([f(d) for d in self.days]))

    @property
    def talk_min_per_agent_hour(self) -> float:
        return self._mean(lambda d: d.talk_min_per_agent_hour)

    @property
    def talk_ci95(self) -> float:
        xs = [d.talk_min_per_agent_hour for d in self.days]
        return 1.96 * float(np.std(xs, ddof=1)) / math.sqrt(len(xs)) if len(xs) > 1 else 0.0

    @property
    def abandon_rate_mean(self) -> float:
        return self._mean(lambda d: d.abandon_rate)

    @property
    def worst_window(self) -> float:
        return max((w for d in self.days for w in d.windows), default=0.0)

    @property
    def windows_in_breach(self) -> float:
        ws = [w for d in self.days for w in d.windows]
        return sum(w > 0.03 for w in ws) / len(ws) if ws else 0.0

    @property
    def wait_between_calls_s(self) -> float:
        return self._mean(lambda d: d.wait_between_calls_s)

    def as_dict(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "mode": self.mode,
            "ratio": self.ratio,
            "agents": self.agents,
            "seeds": len(self.days),
            "talk_min_per_agent_hour": round(self.talk_min_per_agent_hour, 3),
            "talk_ci95": round(self.talk_ci95, 3),
            "abandon_rate_mean": round(self.abandon_rate_mean, 5),
            "abandon_rate_worst_window": round(self.worst_window, 5),
            "windows_in_breach": round(self.windows_in_breach, 4),
            "wait_between_calls_s": round(self.wait_between_calls_s, 2),
            "dials_per_day": round(self._mean(lambda d: d.dials), 1),
            "live_answers_per_day": round(self._mean(lambda d: d.lives), 1),
            "abandons_per_day": round(self._mean(lambda d: d.abandons), 2),
            "talk_by_15min": [round(x, 2) for x in self.talk_by_interval],
        }

    @property
    def talk_by_interval(self) -> list[float]:
        """Talk minutes per agent hour in each 15-minute interval, mean over the days."""
        n = min(len(d.talk_by_interval) for d in self.days)
        return [float(np.mean([d.talk_by_interval[k] for d in self.days])) for k in range(n)]


def _stream(
    rng: np.random.Generator, draw: Callable[[np.random.Generator], np.ndarray]
) -> Iterator[float]:
    while True:
        yield from draw(rng).tolist()


class _Ev:
    """The least an object needs to sit on SimPy's schedule (see Environment.step)."""

    __slots__ = ("a", "callbacks")
    _ok = True
    _value = None

    def __init__(self, callbacks: tuple[Callable[[Any], None], ...], a: Any = None) -> None:
        self.callbacks = callbacks
        self.a = a


@dataclass(slots=True)
class _Line:
    line_id: str
    number: str
    placed: float
    outcome: DialOutcome
    answered_at: float = 0.0
    deadline: float = 0.0


class OutboundDay:
    """One replication: agents, lines, the pacer and the compliance core on SimPy time."""

    def __init__(self, scenario: OutboundScenario, pacing: PacingConfig, seed: int) -> None:
        self.sc = scenario
        self.env = simpy.Environment(initial_time=scenario.start)
        self._schedule = cast(Callable[[Any, int, float], None], self.env.schedule)
        self.end = scenario.start + scenario.hours * 3600.0
        self.compliance = Compliance(
            ComplianceConfig(
                mode=scenario.mode,
                campaign_start=scenario.start,
                amd_false_positive_rate=scenario.amd_false_positive_rate,
            )
        )
        self.pacer = Pacer(pacing, ledger=self.compliance.ledger)
        self.result = DayResult(seed, scenario.agents, scenario.hours)
        ss = np.random.SeedSequence([seed, 7])
        r_out, r_tta, r_talk = (np.random.default_rng(s) for s in ss.spawn(3))
        self._u = _stream(r_out, lambda g: g.random(BATCH))
        self._tta = _stream(r_tta, lambda g: g.random(BATCH))
        sigma2 = math.log(1.0 + (scenario.talk_sd_s / scenario.talk_mean_s) ** 2)
        mu = math.log(scenario.talk_mean_s) - sigma2 / 2.0
        sd = math.sqrt(sigma2)
        self._talk = _stream(r_talk, lambda g: g.lognormal(mu, sd, BATCH))
        self.ready: deque[tuple[str, float]] = deque(
            (f"a{i}", scenario.start) for i in range(scenario.agents)
        )
        self.busy = 0
        self.talking: dict[str, float] = {}
        self.lines: dict[str, _Line] = {}
        self.waiting: deque[_Line] = deque()
        self._seq = 0
        self._ring_s = self.compliance.ring_timeout_s(scenario.no_answer_s)
        n_int = max(1, math.ceil(scenario.hours * 4))
        self._talk_int = [0.0] * n_int
        self._cb_resolve = (self._on_resolve,)
        self._cb_deadline = (self._on_deadline,)
        self._cb_talk_end = (self._on_talk_end,)
        self._cb_wrap_end = (self._on_wrap_end,)
        self._cb_tick = (self._on_tick,)

    # ---- the world ----------------------------------------------------------------------

    def _p_live(self, now: float) -> float:
        sc = self.sc
        if sc.change_at_h is not None and now >= sc.start + sc.change_at_h * 3600.0:
            assert sc.p_live_after is not None
            return sc.p_live_after
        return sc.p_live

    def _draw(self, now: float) -> tuple[DialOutcome, float]:
        """The network's verdict on a new dial and when it reaches the dialer."""
        sc = self.sc
        u, v = next(self._u), next(self._tta)
        p_live = self._p_live(now)
        if u < p_live:
            lo, hi = sc.live_answer_s
            return DialOutcome.LIVE, lo + (hi - lo) * v + sc.amd_live_latency_s
        if u < p_live + sc.p_busy:
            lo, hi = sc.busy_s
            return DialOutcome.BUSY, lo + (hi - lo) * v
        if u < p_live + sc.p_busy + sc.p_machine:
            lo, hi = sc.machine_answer_s
            return DialOutcome.MACHINE, lo + (hi - lo) * v + sc.amd_machine_latency_s
        return DialOutcome.NO_ANSWER, self._ring_s

    def _decide(self, now: float) -> None:
        if now >= self.end:
            return
        n = self.pacer.dials_wanted(now, len(self.ready), self.busy, len(self.lines))
        for _ in range(n):
            self._dial(now)

    def _dial(self, now: float) -> None:
        self._seq += 1
        record = ContactRecord(f"+1212{self._seq:07d}")
        verdict = self.compliance.check_dial(record, now)
        if not isinstance(verdict, Allowed):
            self.result.refused += 1
            return
        line_id = f"L{self._seq}"
        outcome, delay = self._draw(now)
        line = _Line(line_id, verdict.number, now, outcome)
        self.lines[line_id] = line
        self.compliance.dial_placed(verdict.number, now)
        self.pacer.dial_placed(line_id, now)
        self.result.dials += 1
        self._schedule(_Ev(self._cb_resolve, line), NORMAL, delay)

    def _on_resolve(self, ev: _Ev) -> None:
        line: _Line = ev.a
        now = self.env.now
        del self.lines[line.line_id]
        self.compliance.dial_outcome(line.number, line.outcome, now)
        self.pacer.dial_result(line.line_id, line.outcome, now)
        if line.outcome is DialOutcome.LIVE:
            self.result.lives += 1
            line.answered_at = now - self.sc.amd_live_latency_s
            cmd = self.compliance.live_answered(line.line_id, line.number, line.answered_at)
            line.deadline = cmd.at
            if self.ready and self.compliance.connected(line.line_id, now):
                self._connect(line, now)
            else:
                self.waiting.append(line)
                self._schedule(_Ev(self._cb_deadline, line), NORMAL, max(0.0, cmd.at - now))
        self._decide(now)

    def _connect(self, line: _Line, now: float) -> None:
        agent, since = self.ready.popleft()
        self.result.ready_s += now - since
        self.busy += 1
        self.result.connects += 1
        self.talking[agent] = now
        self.pacer.connected(line.line_id, agent, now)
        self._schedule(_Ev(self._cb_talk_end, agent), NORMAL, next(self._talk))

    def _on_deadline(self, ev: _Ev) -> None:
        line: _Line = ev.a
        now = self.env.now
        if self.compliance.connect_deadline(line.line_id, now):
            # The identification message plays and the call ends: no agent time spent.
            if line in self.waiting:
                self.waiting.remove(line)
            self.result.abandons += 1
            self.pacer.abandoned(line.line_id, now)
            self._decide(now)

    def _add_talk(self, start: float, end: float) -> None:
        self.result.talk_s += end - start
        base = self.sc.start
        k0, k1 = int((start - base) // 900), int((end - base) // 900)
        for k in range(k0, min(k1, len(self._talk_int) - 1) + 1):
            lo = max(start, base + k * 900.0)
            hi = min(end, base + (k + 1) * 900.0)
            if hi > lo:
                self._talk_int[k] += hi - lo

    def _on_talk_end(self, ev: _Ev) -> None:
        agent: str = ev.a
        now = self.env.now
        start = self.talking.pop(agent)
        self._add_talk(start, min(now, self.end))
        self.pacer.agent_wrapup(agent, now)
        self._schedule(_Ev(self._cb_wrap_end, agent), NORMAL, self.sc.wrap_s)

    def _on_wrap_end(self, ev: _Ev) -> None:
        agent: str = ev.a
        now = self.env.now
        self.busy -= 1
        self.pacer.agent_ready(agent, now)
        self.ready.append((agent, now))
        # The longest-waiting answered call still inside its 2 seconds gets this agent.
        while self.waiting and self.ready:
            line = self.waiting.popleft()
            if self.compliance.connected(line.line_id, now):
                self._connect(line, now)
        self._decide(now)

    def _on_start(self, ev: _Ev) -> None:
        self._decide(self.env.now)

    def _on_tick(self, ev: _Ev) -> None:
        now = self.env.now
        self._decide(now)
        if now + self.sc.tick_s < self.end:
            self._schedule(_Ev(self._cb_tick), NORMAL, self.sc.tick_s)

    # ---- running ------------------------------------------------------------------------

    def run(self) -> DayResult:
        if self.pacer.config.mode is PacingMode.PREDICTIVE:
            # Its model ages with time (rings get older, talks longer): ask it on a clock too.
            self._schedule(_Ev(self._cb_tick), NORMAL, 0.0)
        else:
            self._schedule(_Ev((self._on_start,)), NORMAL, 0.0)
        self.env.run(until=self.end)
        r = self.result
        for start in self.talking.values():
            self._add_talk(start, self.end)
        r.ready_s += sum(self.end - since for _, since in self.ready)
        r.windows = [w.rate for w in self.compliance.ledger.windows() if w.lives or w.abandons]
        staffed_s = self.sc.agents * 900.0  # each agent, a whole 15-minute interval
        figures = (talk_minutes_per_agent_hour(t, staffed_s) for t in self._talk_int)
        r.talk_by_interval = [float("nan") if x is None else x for x in figures]
        return r


def run_day(scenario: OutboundScenario, pacing: PacingConfig, seed: int) -> DayResult:
    return OutboundDay(scenario, pacing, seed).run()


def run_days(scenario: OutboundScenario, pacing: PacingConfig, seeds: list[int] | range) -> Summary:
    days = [run_day(scenario, pacing, s) for s in seeds]
    ratio = pacing.ratio if pacing.mode.value == "power" else None
    return Summary(scenario.name, pacing.mode.value, ratio, scenario.agents, days)
