"""Outbound pacing: how many numbers a campaign should dial now.

Sans-I/O and synchronous: the driver (the server's campaign runner, or the simulator)
reports what happened with ``now`` (seconds, any epoch, but one clock per pacer) and asks
``dials_wanted``. Nothing here reads a clock, draws a random number or does I/O, so a given
sequence of inputs always gives the same decisions.

Modes (``PacingMode``):

* preview: the agent sees the record and dials it; the pacer never dials (0).
* progressive: one line per ready agent that has no line yet.
* power: ``ratio`` lines per ready agent (ceil(ratio x ready)), ratio may be below 1.
* predictive: a model of the next few seconds plus feedback on the abandon rate, below.

The predictive controller, at most every ``recompute_s`` (in between it answers from the
last computation less the dials placed since):

1. Estimates from a sliding window of observed outcomes (``window_s``): the live-answer
   rate p and 1-second histograms of the time to a live answer and to any other outcome;
   from the last ``handle_samples`` calls, talk and wrap-up time samples.
2. Checkpoints: a few instants ahead (the quantiles ``checkpoints`` of the time to a live
   answer). At each one it compares demand and supply as normal approximations:
   demand A_k = answered calls already waiting + for each ringing line, the probability
   that it turns live by then given its age (a line ringing for 20 s will not) + n new
   dials x P(live answer by then); supply S_k = ready agents + for each talking or
   wrapping agent, the probability that it is free by then + ``connect_grace_s`` given how
   long it has been busy (empirical conditional distributions).
3. Picks the largest n whose worst expected overflow max_k E[(A_k - S_k)+] stays within
   tau x the expected live answers of all lines: tau is the share of this cohort of
   answers the campaign is willing to lose.
4. tau is steered by feedback: a stochastic-approximation step on log tau, down by
   ``gain`` on every abandon and up by gain x target / (1 - target) on every connected
   answer, which settles where the realised abandon rate is ``target_abandon_rate``. The
   model is optimistic (expectations at a few instants miss the worst moment of a random
   path), so tau settles well below the target: about 0.002 for 2% in scenario S1, at
   both 25% and 12% live answers and with 10 or 25 agents; ``tau_initial`` starts there.
5. Braked by the compliance ledger: as the headroom of the regulator's current window
   (abandons still allowed) falls from ``brake_soft`` to ``brake_hard``, tau goes to zero
   and the pacer dials progressively, which cannot abandon while AMD is faster than 2 s.
6. Never dials fewer than progressive would; falls back to progressive outright while the
   team is smaller than ``min_agents`` (no pooling, no safe over-dialling) or the
   estimates are not warm yet.
"""

from __future__ import annotations

import math
from bisect import bisect_right, insort
from collections import deque
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from routing.compliance import DialOutcome

_BINS = 64
"""Histogram bins of 1 s for time-to-outcome; longer rings land in the last bin."""
_SQRT2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


class PacingMode(StrEnum):
    PREVIEW = "preview"
    PROGRESSIVE = "progressive"
    POWER = "power"
    PREDICTIVE = "predictive"


class PredictiveParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    target_abandon_rate: float = Field(0.02, gt=0, le=0.03)
    """What the feedback steers to: below the legal 3% to leave room for day-to-day noise."""
    window_s: float = Field(300.0, gt=0)
    """Sliding window of dial outcomes: short enough to re-settle within minutes after the
    answer rate jumps, long enough for a usable estimate (~200 outcomes at 25 agents)."""
    min_outcomes: int = Field(40, ge=1)
    """Outcomes kept even when older than the window, and needed before predicting."""
    handle_samples: int = Field(300, ge=10)
    """Talk and wrap-up durations kept (by count: they shift far less than answer rates)."""
    min_agents: int = Field(8, ge=1)
    """Smaller teams (ready + busy) dial progressively."""
    connect_grace_s: float = Field(1.0, ge=0, le=2.0)
    """How long an answered call may wait for an agent: 2 s minus the AMD latency."""
    checkpoints: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)
    """Where the model compares answers with free agents: at these quantiles of the
    observed time to a live answer (plus the grace for the agents)."""
    recompute_s: float = Field(2.0, ge=0)
    """The model runs at most this often; in between, the last answer less the dials
    placed since (and never fewer than progressive)."""
    tau_initial: float = Field(0.002, gt=0, le=1)
    """Starting point of the feedback. The cohort model is optimistic (it compares
    expectations at a few instants, so it misses the worst moment of a random path): on
    scenario S1 a tau of 0.002 gives about 2.5% abandons. The feedback finds the scale."""
    gain: float = Field(0.1, gt=0, le=1)
    """Feedback step on log tau per abandoned call."""
    tau_min: float = Field(0.0002, gt=0)
    tau_max: float = Field(0.05, gt=0, le=1)
    brake_soft: float = Field(4.0, ge=0)
    """Ledger headroom (abandons still allowed in the window) where braking starts..."""
    brake_hard: float = Field(1.0, ge=0)
    """...and where it is complete (progressive only)."""
    max_lines_per_agent: float = Field(6.0, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> PredictiveParams:
        if self.tau_min > self.tau_max:
            raise ValueError("tau_min must not exceed tau_max")
        if self.brake_hard > self.brake_soft:
            raise ValueError("brake_hard must not exceed brake_soft")
        cp = self.checkpoints
        if not cp or list(cp) != sorted(cp) or not all(0 < q <= 1 for q in cp):
            raise ValueError("checkpoints must be increasing quantiles in (0, 1]")
        return self


class PacingConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    mode: PacingMode = PacingMode.PROGRESSIVE
    ratio: float = Field(1.0, gt=0, le=10)
    """Power mode: lines per ready agent."""
    max_lines: int | None = Field(None, ge=1)
    """Trunk limit: never more lines in progress than this."""
    predictive: PredictiveParams = PredictiveParams()


class Ledger(Protocol):
    """What the pacer reads from the compliance ledger (routing.compliance.AbandonLedger)."""

    def headroom(self, now: float) -> float: ...


# --------------------------------------------------------------------------- events


@dataclass(slots=True, kw_only=True)
class DialPlaced:
    line_id: str


@dataclass(slots=True, kw_only=True)
class DialResult:
    """The network's verdict on a line (for LIVE: the AMD verdict said human)."""

    line_id: str
    outcome: DialOutcome


@dataclass(slots=True, kw_only=True)
class CallConnected:
    line_id: str
    agent_id: str


@dataclass(slots=True, kw_only=True)
class CallAbandoned:
    line_id: str


@dataclass(slots=True, kw_only=True)
class AgentReady:
    agent_id: str


@dataclass(slots=True, kw_only=True)
class AgentWrapUp:
    agent_id: str


@dataclass(slots=True, kw_only=True)
class AgentAway:
    """Logged out or not ready: neither ready nor about to be."""

    agent_id: str


PacingEvent = (
    DialPlaced | DialResult | CallConnected | CallAbandoned | AgentReady | AgentWrapUp | AgentAway
)


@dataclass(slots=True)
class Decision:
    """Why the last ``dials_wanted`` answered what it did (for the supervisor page)."""

    at: float = 0.0
    dials: int = 0
    basis: str = "idle"
    """"preview", "progressive", "power", "predictive", or why predictive fell back."""
    p_live: float = 0.0
    tau: float = 0.0
    checkpoints_s: tuple[float, ...] = ()
    supply: float = 0.0
    demand: float = 0.0


# --------------------------------------------------------------------------- estimates


class _SortedWindow:
    """The last ``size`` durations, also kept sorted for conditional probabilities."""

    __slots__ = ("order", "size", "sorted", "total")

    def __init__(self, size: int) -> None:
        self.size = size
        self.order: deque[float] = deque()
        self.sorted: list[float] = []
        self.total = 0.0

    def add(self, x: float) -> None:
        self.order.append(x)
        insort(self.sorted, x)
        self.total += x
        if len(self.order) > self.size:
            old = self.order.popleft()
            del self.sorted[bisect_right(self.sorted, old) - 1]
            self.total -= old

    def __len__(self) -> int:
        return len(self.order)

    @property
    def mean(self) -> float:
        return self.total / len(self.order) if self.order else 0.0

    def p_done_by(self, elapsed: float, extra: float) -> float:
        """P(X <= elapsed + extra | X > elapsed) from the sample."""
        s = self.sorted
        n = len(s)
        if n == 0:
            return 0.0
        gone = bisect_right(s, elapsed)
        left = n - gone
        if left == 0:
            # Longer than anything seen: assume it ends at the sample's average pace.
            return min(1.0, extra / self.mean) if self.mean > 0 else 1.0
        return (bisect_right(s, elapsed + extra) - gone) / left


class _Outcomes:
    """Dial outcomes of the last ``window_s`` seconds (at least ``keep`` of them), as
    1-second histograms of time to a live answer and time to any other outcome."""

    __slots__ = (
        "_cum",
        "_dirty",
        "_qs",
        "_surv",
        "items",
        "keep",
        "live",
        "lives",
        "other",
        "window",
    )

    def __init__(self, window_s: float, keep: int) -> None:
        self.window = window_s
        self.keep = keep
        self.items: deque[tuple[float, bool, int]] = deque()
        self.live = [0] * _BINS
        self.other = [0] * _BINS
        self.lives = 0
        self._cum: list[int] = [0] * (_BINS + 1)
        self._surv: list[int] = [0] * (_BINS + 1)
        self._dirty = True
        self._qs: tuple[tuple[float, ...], list[int]] = ((), [])

    def add(self, now: float, is_live: bool, duration: float) -> None:
        b = min(_BINS - 1, max(0, int(duration)))
        self.items.append((now, is_live, b))
        if is_live:
            self.live[b] += 1
            self.lives += 1
        else:
            self.other[b] += 1
        self._dirty = True

    def expire(self, now: float) -> None:
        items = self.items
        cutoff = now - self.window
        while len(items) > self.keep and items[0][0] < cutoff:
            _, is_live, b = items.popleft()
            if is_live:
                self.live[b] -= 1
                self.lives -= 1
            else:
                self.other[b] -= 1
            self._dirty = True

    @property
    def p_live(self) -> float:
        return self.lives / len(self.items) if self.items else 0.0

    def tables(self) -> tuple[list[int], list[int]]:
        """(cum, surv): cum[b] = live answers that came in under b seconds; surv[a] =
        outcomes (any) that took a seconds or more. Line of age a: P(live answer within
        the next d seconds) = (cum[a + d] - cum[a]) / surv[a]."""
        if self._dirty:
            cum, surv = self._cum, self._surv
            c = 0
            for b in range(_BINS):
                cum[b] = c
                c += self.live[b]
            cum[_BINS] = c
            t = 0
            surv[_BINS] = 0
            for a in range(_BINS - 1, -1, -1):
                t += self.live[a] + self.other[a]
                surv[a] = t
            self._dirty = False
        return self._cum, self._surv

    def live_quantile(self, q: float) -> int:
        """Whole seconds by which a share q of live answers has come in."""
        cum, _ = self.tables()
        need = q * self.lives
        for b in range(1, _BINS + 1):
            if cum[b] >= need:
                return b
        return _BINS

    def live_quantiles(self, qs: tuple[float, ...]) -> list[int]:
        if self._dirty or self._qs[0] != qs:
            self._qs = (qs, [self.live_quantile(q) for q in qs])
        return self._qs[1]


def _expected_excess(mean: float, var: float) -> float:
    """E[max(D, 0)] for D ~ Normal(mean, var)."""
    if var <= 1e-12:
        return max(mean, 0.0)
    sd = math.sqrt(var)
    z = mean / sd
    cdf = 0.5 * math.erfc(-z / _SQRT2)
    pdf = _INV_SQRT_2PI * math.exp(-0.5 * z * z)
    return mean * cdf + sd * pdf


# --------------------------------------------------------------------------- pacer


@dataclass(slots=True)
class _Busy:
    talking: bool
    since: float


@dataclass(slots=True)
class Pacer:
    """One campaign's pacing controller. See the module docstring for the model."""

    config: PacingConfig = field(default_factory=PacingConfig)
    ledger: Ledger | None = None
    last: Decision = field(default_factory=Decision, init=False)
    _lines: dict[str, float] = field(default_factory=dict, init=False)
    _waiting: set[str] = field(default_factory=set, init=False)
    _busy: dict[str, _Busy] = field(default_factory=dict, init=False)
    _outcomes: _Outcomes = field(init=False)
    _talk: _SortedWindow = field(init=False)
    _wrap: _SortedWindow = field(init=False)
    _log_tau: float = field(init=False)
    _active: bool = field(default=False, init=False)
    _cached: int | None = field(default=None, init=False)
    _computed_at: float = field(default=float("-inf"), init=False)
    _placed_since: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        p = self.config.predictive
        self._outcomes = _Outcomes(p.window_s, p.min_outcomes)
        self._talk = _SortedWindow(p.handle_samples)
        self._wrap = _SortedWindow(p.handle_samples)
        self._log_tau = math.log(min(p.tau_max, max(p.tau_min, p.tau_initial)))

    # ---- observations -------------------------------------------------------------------

    def dial_placed(self, line_id: str, now: float) -> None:
        self._lines[line_id] = now
        self._placed_since += 1

    def dial_result(self, line_id: str, outcome: DialOutcome, now: float) -> None:
        placed = self._lines.pop(line_id, None)
        if placed is None:
            return
        # A failed dial says nothing about people answering: keep it out of the estimates.
        if outcome is not DialOutcome.FAILED:
            self._outcomes.add(now, outcome is DialOutcome.LIVE, now - placed)
        if outcome is DialOutcome.LIVE:
            self._waiting.add(line_id)

    def connected(self, line_id: str, agent_id: str, now: float) -> None:
        self._lines.pop(line_id, None)
        self._waiting.discard(line_id)
        self._busy[agent_id] = _Busy(True, now)
        if self._active:
            p = self.config.predictive
            aim = p.target_abandon_rate
            self._step_tau(p.gain * aim / (1.0 - aim))

    def abandoned(self, line_id: str, now: float) -> None:
        self._lines.pop(line_id, None)
        self._waiting.discard(line_id)
        if self._active:
            self._step_tau(-self.config.predictive.gain)

    def agent_wrapup(self, agent_id: str, now: float) -> None:
        b = self._busy.get(agent_id)
        if b is not None and b.talking:
            self._talk.add(now - b.since)
        self._busy[agent_id] = _Busy(False, now)

    def agent_ready(self, agent_id: str, now: float) -> None:
        b = self._busy.pop(agent_id, None)
        if b is not None and not b.talking:
            self._wrap.add(now - b.since)

    def agent_away(self, agent_id: str, now: float) -> None:
        self._busy.pop(agent_id, None)

    def on_event(self, event: PacingEvent, now: float) -> None:
        """The same observations as one typed event (handy for drivers that log them)."""
        match event:
            case DialPlaced(line_id=line):
                self.dial_placed(line, now)
            case DialResult(line_id=line, outcome=outcome):
                self.dial_result(line, outcome, now)
            case CallConnected(line_id=line, agent_id=agent):
                self.connected(line, agent, now)
            case CallAbandoned(line_id=line):
                self.abandoned(line, now)
            case AgentReady(agent_id=agent):
                self.agent_ready(agent, now)
            case AgentWrapUp(agent_id=agent):
                self.agent_wrapup(agent, now)
            case AgentAway(agent_id=agent):
                self.agent_away(agent, now)

    def _step_tau(self, step: float) -> None:
        p = self.config.predictive
        self._log_tau = min(math.log(p.tau_max), max(math.log(p.tau_min), self._log_tau + step))

    # ---- estimates, for reports ---------------------------------------------------------

    @property
    def tau(self) -> float:
        return math.exp(self._log_tau)

    def estimates(self, now: float) -> dict[str, float]:
        self._outcomes.expire(now)
        o = self._outcomes
        return {
            "p_live": o.p_live,
            "outcomes": float(len(o.items)),
            "median_live_tta_s": float(o.live_quantile(0.5)),
            "mean_talk_s": self._talk.mean,
            "mean_wrap_s": self._wrap.mean,
            "tau": self.tau,
        }

    # ---- the decision -------------------------------------------------------------------

    def dials_wanted(
        self, now: float, agents_ready: int, agents_busy: int, lines_in_progress: int
    ) -> int:
        """How many new dials to place now.

        ``agents_ready``: logged in, idle, waiting for a call; ``agents_busy``: talking or in
        wrap-up; ``lines_in_progress``: dials placed whose outcome is not known yet. These
        counts are the driver's truth; the per-line and per-agent detail the predictive
        model uses comes from the observations above.
        """
        cfg = self.config
        waiting = len(self._waiting)
        committed = lines_in_progress + waiting
        progressive = max(0, agents_ready - committed)
        mode = cfg.mode
        basis: str = mode.value
        self._active = False
        if mode is PacingMode.PREVIEW:
            n = 0
        elif mode is PacingMode.PROGRESSIVE:
            n = progressive
        elif mode is PacingMode.POWER:
            target = math.ceil(cfg.ratio * agents_ready - 1e-9) if agents_ready else 0
            n = max(0, target - committed)
        else:
            n, basis = self._predictive(now, agents_ready, agents_busy, lines_in_progress)
            n = max(n, progressive)
        if cfg.max_lines is not None:
            n = max(0, min(n, cfg.max_lines - lines_in_progress))
        last = self.last
        last.at, last.dials, last.basis = now, n, basis
        return n

    def _predictive(self, now: float, ready: int, busy: int, lines: int) -> tuple[int, str]:
        p = self.config.predictive
        if ready + busy < p.min_agents:
            self._cached = None
            return 0, "progressive: small team"
        o = self._outcomes
        o.expire(now)
        if len(o.items) < p.min_outcomes or o.lives < 5 or len(self._talk) < 10:
            self._cached = None
            return 0, "progressive: warming up"
        brake = 1.0
        if self.ledger is not None:
            head = self.ledger.headroom(now)
            if head < p.brake_soft:
                span = p.brake_soft - p.brake_hard
                brake = max(0.0, (head - p.brake_hard) / span) if span > 0 else 0.0
        if brake <= 0.0:
            self._cached = None
            return 0, "progressive: ledger brake"
        self._active = True
        if self._cached is not None and now - self._computed_at < p.recompute_s:
            return max(0, self._cached - self._placed_since), "predictive"
        n = self._model(now, ready, busy, lines, self.tau * brake)
        self._cached, self._computed_at, self._placed_since = n, now, 0
        return n, "predictive"

    def _model(self, now: float, ready: int, busy: int, lines: int, tau: float) -> int:
        p = self.config.predictive
        o = self._outcomes
        cum, surv = o.tables()
        p_live = o.p_live
        offs = o.live_quantiles(p.checkpoints)
        k_range = range(len(offs))
        grace = p.connect_grace_s
        talk, wrap = self._talk, self._wrap
        wrap_mean = wrap.mean

        # Supply at checkpoint k: ready agents, plus busy agents free by offs[k] + grace.
        ms = [float(ready)] * len(offs)
        vs = [0.0] * len(offs)
        # A talking agent is free only after talk + wrap-up: only the checkpoints beyond
        # the mean wrap-up can see one, and most talks are then out of reach.
        talk_ks = [(k, offs[k] + grace - wrap_mean) for k in k_range]
        talk_ks = [(k, h) for k, h in talk_ks if h > 0]
        t_sorted, t_n = talk.sorted, len(talk.sorted)
        seen = 0
        for b in self._busy.values():
            if seen >= busy:
                break
            seen += 1
            el = now - b.since
            if b.talking:
                if not talk_ks:
                    continue
                gone = bisect_right(t_sorted, el)
                left = t_n - gone
                for k, h in talk_ks:
                    if left:
                        q = (bisect_right(t_sorted, el + h) - gone) / left
                    else:
                        q = talk.p_done_by(el, h)
                    ms[k] += q
                    vs[k] += q * (1.0 - q)
            else:
                for k in k_range:
                    q = wrap.p_done_by(el, offs[k] + grace) if len(wrap) else 1.0
                    ms[k] += q
                    vs[k] += q * (1.0 - q)
        if seen < busy:  # busy agents we were not told about: assume just connected
            for k, h in talk_ks:
                q = talk.p_done_by(0.0, h)
                ms[k] += (busy - seen) * q
                vs[k] += (busy - seen) * q * (1.0 - q)

        # Demand at checkpoint k: live answers in by then (answered calls already waiting,
        # ringing lines by their age), and in total (for the share that may overflow).
        ages: dict[int, int] = {}
        top = _BINS - 1
        counted = 0
        for placed in self._lines.values():
            if counted >= lines:
                break
            counted += 1
            a = int(now - placed)
            a = 0 if a < 0 else (a if a < top else top)
            ages[a] = ages.get(a, 0) + 1
        if counted < lines:
            ages[0] = ages.get(0, 0) + lines - counted
        waiting = float(len(self._waiting))
        ma = [waiting] * len(offs)
        va = [0.0] * len(offs)
        total = waiting
        all_live = cum[_BINS]
        for a, c in ages.items():
            sv = surv[a]
            if sv == 0:
                continue  # older than any outcome seen: it will not turn live
            base = cum[a]
            total += c * (all_live - base) / sv
            for k in k_range:
                d = a + offs[k]
                x = ((cum[d] if d < _BINS else all_live) - base) / sv
                ma[k] += c * x
                va[k] += c * x * (1.0 - x)
        n_out = len(o.items)
        fk = [(cum[d] if d < _BINS else all_live) / n_out for d in offs]

        def ok(n: int) -> bool:
            worst = 0.0
            for k in k_range:
                f = fk[k]
                e = _expected_excess(ma[k] + n * f - ms[k], va[k] + vs[k] + n * f * (1.0 - f))
                if e > worst:
                    worst = e
            return worst <= tau * (total + n * p_live)

        cap = max(0, int(p.max_lines_per_agent * (ready + busy)) - lines)
        lo, hi = 0, cap
        if not ok(0):
            hi = 0
        while lo < hi:  # the largest n with ok(n): ok is monotone in n
            mid = (lo + hi + 1) // 2
            if ok(mid):
                lo = mid
            else:
                hi = mid - 1
        last = self.last
        last.p_live, last.tau, last.checkpoints_s = p_live, tau, tuple(float(x) for x in offs)
        last.supply, last.demand = ms[-1], total + lo * p_live
        return lo
