"""Staffing solver: the fewest agents that meet a service target, per interval or in bulk.

Without patience the model is Erlang C; with a mean patience it is Erlang A. Every
constraint (service level up, ASA down, occupancy down, abandonment down) is monotone in
the number of agents, so the answer is the first n where all hold; the solvers return
exactly that n, never an approximation.

Speed: a single Erlang C solve walks the O(1)-per-step Erlang B recursion up to the answer.
Bulk solves (a forecast day: intervals x queues) run the same recursion for all problems at
once with numpy and then scan a window of candidate n around the square-root staffing
estimate A + beta sqrt(A). Erlang A solves start from the Erlang C answer and gallop/bisect.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path

import numpy as np
import numpy.typing as npt

from simulations.erlang import (
    ErlangAResult,
    ErlangCResult,
    QueueTooLongError,
    erlang_a_metrics,
    erlang_c_metrics,
    offered_load,
)
from simulations.forecast_csv import START, ForecastError, read_forecast_rows

__all__ = [
    "ALLOWED_INTERVAL_MINUTES",
    "Forecast",
    "ForecastError",
    "ForecastInterval",
    "ForecastStaffing",
    "InfeasibleTargetError",
    "StaffingBatch",
    "StaffingResult",
    "StaffingTarget",
    "meets_target",
    "read_forecast",
    "required_agents",
    "required_agents_batch",
    "scheduled_agents",
    "square_root_staffing",
    "staff_forecast",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

ALLOWED_INTERVAL_MINUTES = (15, 30, 60)
# Slack on comparisons so that a target met exactly on paper is not missed by rounding.
_TOLERANCE = 1e-12
# Guard for targets that are feasible only in theory (e.g. SL 0.999999999999 at t = 0).
_MAX_AGENTS = 10_000_000
# Square-root staffing: beta = 4 covers service levels far beyond any real target; problems
# that need more fall back to the exact scalar search.
_WINDOW_BETA = 4.0
_WINDOW_SLACK = 10
# Bulk solve memory bound: candidate rows x problems held at once per chunk.
_CHUNK_PROBLEMS = 8192
_CHUNK_CELLS = 3_000_000


class InfeasibleTargetError(ValueError):
    """No number of agents (within the search limit) meets the target."""


# --------------------------------------------------------------------------- targets


def _check_fraction(name: str, value: float, *, low_open: bool, high_open: bool) -> None:
    low_ok = value > 0.0 if low_open else value >= 0.0
    high_ok = value < 1.0 if high_open else value <= 1.0
    if not (math.isfinite(value) and low_ok and high_ok):
        interval = ("(" if low_open else "[") + "0, 1" + (")" if high_open else "]")
        raise ValueError(f"{name} must be in {interval}, got {value!r}")


@dataclass(frozen=True, slots=True)
class StaffingTarget:
    """What an interval must achieve.

    service_level: fraction answered within ``threshold`` seconds (0 disables it); with
        patience this is ans<=T / (answered + abandoned).
    max_asa: mean wait of answered callers, seconds. max_occupancy: in (0, 1].
    max_abandon: abandonment probability (only binding with patience).
    shrinkage: share of paid time not available for calls; scheduled = ceil(n / (1 - s)).
    min_agents: floor on agents, e.g. to keep one agent on a quiet night queue.
    """

    service_level: float = 0.8
    threshold: float = 20.0
    max_asa: float | None = None
    max_occupancy: float | None = None
    max_abandon: float | None = None
    shrinkage: float = 0.0
    min_agents: int = 0

    def __post_init__(self) -> None:
        _check_fraction("service level target", self.service_level, low_open=False, high_open=True)
        if not (math.isfinite(self.threshold) and self.threshold >= 0.0):
            raise ValueError(f"threshold must be >= 0 seconds, got {self.threshold!r}")
        if self.max_asa is not None and not (self.max_asa > 0.0 and math.isfinite(self.max_asa)):
            raise ValueError(f"max ASA must be a positive number of seconds, got {self.max_asa!r}")
        if self.max_occupancy is not None:
            _check_fraction("max occupancy", self.max_occupancy, low_open=True, high_open=False)
        if self.max_abandon is not None:
            _check_fraction("max abandon", self.max_abandon, low_open=True, high_open=False)
        _check_fraction("shrinkage", self.shrinkage, low_open=False, high_open=True)
        if isinstance(self.min_agents, bool) or not isinstance(self.min_agents, int):
            raise TypeError(f"min_agents must be an integer, got {self.min_agents!r}")
        if self.min_agents < 0:
            raise ValueError(f"min_agents must be >= 0, got {self.min_agents}")


def scheduled_agents(agents: int, shrinkage: float) -> int:
    """Agents to schedule so that ``agents`` remain after shrinkage."""
    _check_fraction("shrinkage", shrinkage, low_open=False, high_open=True)
    # 14 / (1 - 0.3) is 20.000000000000004 in floating point; do not round that up to 21
    return max(0, math.ceil(agents / (1.0 - shrinkage) - 1e-9))


def square_root_staffing(load: float, beta: float) -> int:
    """The square-root staffing rule n = ceil(A + beta sqrt(A))."""
    return math.ceil(load + beta * math.sqrt(load))


def _occupancy_ok(load: float, agents: int, target: StaffingTarget) -> bool:
    return target.max_occupancy is None or load / agents <= target.max_occupancy + _TOLERANCE


def meets_target(metrics: ErlangCResult | ErlangAResult, target: StaffingTarget) -> bool:
    """Do these metrics satisfy every constraint in ``target`` (shrinkage aside)?"""
    if metrics.agents < target.min_agents:
        return False
    if metrics.service_level < target.service_level - _TOLERANCE:
        return False
    if target.max_asa is not None and metrics.asa > target.max_asa * (1.0 + _TOLERANCE):
        return False
    if target.max_occupancy is not None and (metrics.occupancy > target.max_occupancy + _TOLERANCE):
        return False
    return not (
        target.max_abandon is not None
        and isinstance(metrics, ErlangAResult)
        and metrics.p_abandon > target.max_abandon + _TOLERANCE
    )


# --------------------------------------------------------------------------- results


@dataclass(frozen=True, slots=True)
class StaffingResult:
    """The fewest agents meeting the target and what they achieve.

    p_abandon is None for Erlang C (no patience modelled).
    """

    agents: int
    scheduled: int
    load: float
    service_level: float
    asa: float
    occupancy: float
    p_wait: float
    p_abandon: float | None


def _result_from(
    metrics: ErlangCResult | ErlangAResult, target: StaffingTarget, agents: int
) -> StaffingResult:
    p_abandon = metrics.p_abandon if isinstance(metrics, ErlangAResult) else None
    return StaffingResult(
        agents=agents,
        scheduled=scheduled_agents(agents, target.shrinkage),
        load=metrics.load,
        service_level=metrics.service_level,
        asa=metrics.asa,
        occupancy=metrics.occupancy,
        p_wait=metrics.p_wait,
        p_abandon=p_abandon,
    )


def _no_traffic_result(target: StaffingTarget, patience: float | None) -> StaffingResult:
    agents = target.min_agents
    return StaffingResult(
        agents=agents,
        scheduled=scheduled_agents(agents, target.shrinkage),
        load=0.0,
        service_level=1.0,
        asa=0.0,
        occupancy=0.0,
        p_wait=0.0,
        p_abandon=None if patience is None else 0.0,
    )


# --------------------------------------------------------------------------- Erlang C


def _lower_bound(load: float, target: StaffingTarget) -> int:
    """Smallest n worth testing: stable (n > A), min_agents, and the occupancy cap."""
    lower = max(math.floor(load) + 1, target.min_agents, 1)
    if target.max_occupancy is not None:
        bound = max(1, math.floor(load / target.max_occupancy))
        while bound > 1 and _occupancy_ok(load, bound - 1, target):
            bound -= 1
        while not _occupancy_ok(load, bound, target):
            bound += 1
        lower = max(lower, bound)
    return lower


def _erlang_c_ok(
    agents: int, load: float, blocking: float, aht: float, target: StaffingTarget
) -> bool:
    # same arithmetic, in the same order, as erlang_c_metrics, so the answers agree exactly
    p_wait = agents * blocking / (agents - load * (1.0 - blocking))
    gap = agents - load
    if 1.0 - p_wait * math.exp(-gap * target.threshold / aht) < (target.service_level - _TOLERANCE):
        return False
    return target.max_asa is None or p_wait * aht / gap <= target.max_asa * (1.0 + _TOLERANCE)


def _solve_erlang_c(
    load: float, aht: float, target: StaffingTarget, max_agents: int
) -> tuple[int, float]:
    """(fewest agents, Erlang B at that n) by stepping the Erlang B recursion upwards."""
    lower = _lower_bound(load, target)
    blocking = 1.0
    for k in range(1, lower):
        ab = load * blocking
        blocking = ab / (k + ab)
    n = lower - 1
    while n < max_agents:
        n += 1
        ab = load * blocking
        blocking = ab / (n + ab)
        if _erlang_c_ok(n, load, blocking, aht, target):
            return n, blocking
    raise InfeasibleTargetError(
        f"no staffing up to {max_agents} agents meets the target for a load of {load:.6g} Erlangs"
    )


# --------------------------------------------------------------------------- Erlang A


class _BlockingTable:
    """Erlang B values for one load, extended on demand (the recursion only goes up)."""

    def __init__(self, load: float) -> None:
        self.load = load
        self.values = [1.0]

    def __getitem__(self, agents: int) -> float:
        values = self.values
        load = self.load
        blocking = values[-1]
        for k in range(len(values), agents + 1):
            ab = load * blocking
            blocking = ab / (k + ab)
            values.append(blocking)
        return values[agents]


def _solve_erlang_a(
    rate: float,
    aht: float,
    patience: float,
    target: StaffingTarget,
    max_agents: int,
    guess: int | None,
) -> tuple[int, ErlangAResult]:
    """Fewest agents under Erlang A: gallop from ``guess`` to a bracket, then bisect."""
    table = _BlockingTable(rate * aht)
    cache: dict[int, ErlangAResult] = {}

    def evaluate(agents: int) -> ErlangAResult:
        if agents not in cache:
            cache[agents] = erlang_a_metrics(
                rate, aht, agents, target.threshold, patience, blocking=table[agents]
            )
        return cache[agents]

    def ok(agents: int) -> bool:
        try:
            return meets_target(evaluate(agents), target)
        except QueueTooLongError:
            # hopelessly overloaded with near-endless patience: treat as missing the target
            return False

    lower = max(1, target.min_agents)
    start = min(max(lower, guess if guess is not None else lower), max_agents)
    # invariant for the bisection below: ok(good) and not ok(bad); bad = lower - 1 is a
    # sentinel for "nothing below the lower bound"
    if ok(start):
        good, step = start, 1
        while True:
            probe = good - step
            if probe < lower:
                bad = lower - 1
                break
            if not ok(probe):
                bad = probe
                break
            good, step = probe, step * 2
    else:
        bad, step = start, 1
        while True:
            probe = min(bad + step, max_agents)
            if probe <= bad:
                raise InfeasibleTargetError(
                    f"no staffing up to {max_agents} agents meets the target "
                    f"(load {rate * aht:.6g} Erlangs, patience {patience:g} s)"
                )
            if ok(probe):
                good = probe
                break
            bad, step = probe, step * 2
    while good - bad > 1:
        middle = (good + bad) // 2
        if ok(middle):
            good = middle
        else:
            bad = middle
    return good, evaluate(good)


# --------------------------------------------------------------------------- single solve


def required_agents(
    arrival_rate: float,
    aht: float,
    target: StaffingTarget,
    *,
    patience: float | None = None,
    interval_s: float = 1.0,
    max_agents: int = _MAX_AGENTS,
) -> StaffingResult:
    """Fewest agents for ``arrival_rate`` calls per ``interval_s`` seconds (default: per s).

    ``patience`` (mean seconds a caller waits before hanging up) selects Erlang A;
    without it the model is Erlang C. Raises InfeasibleTargetError past ``max_agents``.
    """
    load = offered_load(arrival_rate, aht, interval_s=interval_s)
    rate = arrival_rate / interval_s
    if patience is not None and not patience > 0.0:
        raise ValueError(f"patience must be a positive number of seconds, got {patience!r}")
    if load == 0.0:
        return _no_traffic_result(target, patience)
    if patience is None or math.isinf(patience):
        agents, blocking = _solve_erlang_c(load, aht, target, max_agents)
        metrics_c = erlang_c_metrics(rate, aht, agents, target.threshold, blocking=blocking)
        result = _result_from(metrics_c, target, agents)
        return result if patience is None else _with_zero_abandon(result)
    guess = _erlang_c_guess(load, aht, target, max_agents)
    agents, metrics_a = _solve_erlang_a(rate, aht, patience, target, max_agents, guess)
    return _result_from(metrics_a, target, agents)


def _with_zero_abandon(result: StaffingResult) -> StaffingResult:
    return StaffingResult(
        result.agents,
        result.scheduled,
        result.load,
        result.service_level,
        result.asa,
        result.occupancy,
        result.p_wait,
        0.0,
    )


def _erlang_c_guess(load: float, aht: float, target: StaffingTarget, max_agents: int) -> int:
    """Starting point for Erlang A: the Erlang C answer (abandonment rarely needs more)."""
    try:
        return _solve_erlang_c(load, aht, target, max_agents)[0]
    except InfeasibleTargetError:
        return square_root_staffing(load, 1.0)


# --------------------------------------------------------------------------- bulk solve


@dataclass(frozen=True, slots=True)
class StaffingBatch:
    """Column-oriented results of a bulk solve (one entry per problem)."""

    load: FloatArray
    agents: IntArray
    scheduled: IntArray
    service_level: FloatArray
    asa: FloatArray
    occupancy: FloatArray
    p_wait: FloatArray
    p_abandon: FloatArray | None

    def __len__(self) -> int:
        return int(self.agents.size)

    def result(self, index: int) -> StaffingResult:
        return StaffingResult(
            agents=int(self.agents[index]),
            scheduled=int(self.scheduled[index]),
            load=float(self.load[index]),
            service_level=float(self.service_level[index]),
            asa=float(self.asa[index]),
            occupancy=float(self.occupancy[index]),
            p_wait=float(self.p_wait[index]),
            p_abandon=None if self.p_abandon is None else float(self.p_abandon[index]),
        )


def _as_vector(name: str, values: Sequence[float] | FloatArray, size: int | None) -> FloatArray:
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    if size is not None and array.size != size:
        raise ValueError(f"{name} has {array.size} values, expected {size}")
    if not np.all(np.isfinite(array)) or np.any(array < 0.0):
        raise ValueError(f"{name} must be finite and non-negative")
    return array


def _vector_lower_bounds(load: FloatArray, target: StaffingTarget) -> IntArray:
    lower = np.maximum(np.floor(load).astype(np.int64) + 1, max(target.min_agents, 1))
    if target.max_occupancy is not None:
        cap = target.max_occupancy + _TOLERANCE
        bound = np.maximum(np.floor(load / target.max_occupancy).astype(np.int64), 1)
        # nudge to exactly the scalar rule: the first n with load / n <= cap
        while True:
            lower_ok = (bound > 1) & (load / np.maximum(bound - 1, 1) <= cap)
            if not lower_ok.any():
                break
            bound -= lower_ok
        while True:
            too_busy = load / bound > cap
            if not too_busy.any():
                break
            bound += too_busy
        lower = np.maximum(lower, bound)
    return lower


def _vector_window_ends(
    load: FloatArray, aht: FloatArray, lower: IntArray, target: StaffingTarget
) -> IntArray:
    """Last n to scan: the square-root staffing bound, or a proven bound if tighter.

    Since P(wait) <= 1, n - A >= (aht / t) ln(1 / (1 - SL)) guarantees the service level
    and n - A >= aht / max_asa guarantees the ASA, whatever the load.
    """
    heuristic = np.ceil(load + _WINDOW_BETA * np.sqrt(load)) + _WINDOW_SLACK
    gap = np.zeros_like(load)
    with np.errstate(over="ignore"):  # a tiny threshold proves nothing: gap = inf
        if target.service_level > 0.0:
            if target.threshold > 0.0:
                gap = aht / target.threshold * -math.log1p(-target.service_level)
            else:
                gap = np.full_like(load, np.inf)
        if target.max_asa is not None:
            gap = np.maximum(gap, aht / target.max_asa)
    proven = np.floor(load + np.minimum(gap, 1e15)) + 1
    end: IntArray = np.maximum(np.minimum(heuristic, proven).astype(np.int64), lower)
    return end


def _chunks(order: IntArray, lower: IntArray, end: IntArray) -> list[IntArray]:
    """Split problems (sorted by lower bound) so each chunk's candidate table stays small."""
    firsts = lower[order].tolist()
    tops = end[order].tolist()
    chunks: list[IntArray] = []
    start = 0
    count = len(firsts)
    while start < count:
        first = firsts[start]
        top = tops[start]
        stop = start + 1
        while stop < count and stop - start < _CHUNK_PROBLEMS:
            next_top = top if tops[stop] < top else tops[stop]
            if (next_top - first + 1) * (stop - start + 1) > _CHUNK_CELLS:
                break
            top = next_top
            stop += 1
        chunks.append(order[start:stop])
        start = stop
    return chunks


@dataclass(slots=True)
class _Columns:
    agents: IntArray
    p_wait: FloatArray
    service_level: FloatArray
    asa: FloatArray


def _chunk_rows(lower: IntArray, end: IntArray) -> tuple[int, int]:
    """(first, last) n whose Erlang B values a chunk keeps."""
    return int(lower.min()), int(end.max())


def _solve_chunk(
    load: FloatArray,
    aht: FloatArray,
    lower: IntArray,
    end: IntArray,
    target: StaffingTarget,
    workspace: FloatArray,
) -> tuple[IntArray, FloatArray, BoolArray]:
    """Vectorised Erlang C search for one chunk of problems.

    Returns (agents, B at those agents, mask of problems found in their window).
    """
    count = load.size
    first_row, last_row = _chunk_rows(lower, end)
    height = last_row - first_row + 1
    # reuse one buffer for all chunks: fresh pages cost more than the arithmetic here
    table = workspace[: height * count]
    rows = table.reshape(height, count)
    blocking = np.ones(count)
    scratch = np.empty(count)
    denominator = np.empty(count)
    # the same recursion as the scalar solver, one step for every problem at once
    for k in range(1, last_row + 1):
        np.multiply(load, blocking, out=scratch)
        np.add(scratch, float(k), out=denominator)
        if k >= first_row:
            blocking = rows[k - first_row]
        np.divide(scratch, denominator, out=blocking)

    # candidates n = lower + step for step in 0..width-1, one column per problem
    width = int((end - lower).max()) + 1
    steps = np.arange(width)
    ok = steps[:, np.newaxis] <= (end - lower)[np.newaxis, :]
    base = (lower - first_row) * count + np.arange(count)
    index = np.minimum(base[np.newaxis, :] + (steps * count)[:, np.newaxis], table.size - 1)
    b = table.take(index)
    n = lower.astype(np.float64)[np.newaxis, :] + steps[:, np.newaxis]
    p_wait = n * b / (n - load * (1.0 - b))
    if target.service_level > 0.0:
        # e^{-(n - A) t / aht} is geometric in n: its first value times e^{-t / aht} per step
        decay = np.empty((width, count))
        decay[0] = np.exp((load - lower) * target.threshold / aht)
        decay[1:] = np.exp(-target.threshold / aht)
        np.cumprod(decay, axis=0, out=decay)
        ok &= p_wait * decay <= 1.0 - target.service_level + _TOLERANCE
    if target.max_asa is not None:
        ok &= p_wait * aht / (n - load) <= target.max_asa * (1.0 + _TOLERANCE)

    found: BoolArray = np.any(ok, axis=0)
    first: IntArray = ok.argmax(axis=0)
    chosen: FloatArray = b[first, np.arange(count)]
    return lower + first, chosen, found


def _erlang_c_columns(
    agents: IntArray, blocking: FloatArray, load: FloatArray, aht: FloatArray, threshold: float
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(P(wait), service level, ASA) with the arithmetic of erlang_c_metrics."""
    n = agents.astype(np.float64)
    p_wait = n * blocking / (n - load * (1.0 - blocking))
    gap = n - load
    service_level = 1.0 - p_wait * np.exp(-gap * threshold / aht)
    return p_wait, service_level, p_wait * aht / gap


def _batch_erlang_c(
    rate: FloatArray, aht: FloatArray, target: StaffingTarget, max_agents: int
) -> _Columns:
    load = rate * aht
    size = load.size
    out = _Columns(
        agents=np.full(size, target.min_agents, dtype=np.int64),
        p_wait=np.zeros(size),
        service_level=np.ones(size),
        asa=np.zeros(size),
    )
    busy = np.flatnonzero(load > 0.0)
    if busy.size == 0:
        return out
    busy_load = load[busy]
    busy_aht = aht[busy]
    lower = _vector_lower_bounds(busy_load, target)
    end = _vector_window_ends(busy_load, busy_aht, lower, target)
    chunks = _chunks(np.argsort(lower, kind="stable"), lower, end)
    cells = 0
    for chunk in chunks:
        first_row, last_row = _chunk_rows(lower[chunk], end[chunk])
        cells = max(cells, (last_row - first_row + 1) * chunk.size)
    workspace = np.empty(cells)
    agents = np.empty(busy.size, dtype=np.int64)
    blocking = np.empty(busy.size)
    missed: list[int] = []
    for chunk in chunks:
        chunk_agents, chunk_blocking, found = _solve_chunk(
            busy_load[chunk], busy_aht[chunk], lower[chunk], end[chunk], target, workspace
        )
        agents[chunk] = chunk_agents
        blocking[chunk] = chunk_blocking
        missed.extend(chunk[~found].tolist())
    # beyond the square-root window (extreme targets): exact scalar search
    for position in missed:
        agents[position], blocking[position] = _solve_erlang_c(
            float(busy_load[position]), float(busy_aht[position]), target, max_agents
        )
    out.agents[busy] = agents
    out.p_wait[busy], out.service_level[busy], out.asa[busy] = _erlang_c_columns(
        agents, blocking, busy_load, busy_aht, target.threshold
    )
    return out


def _batch_erlang_a(
    rate: FloatArray, aht: FloatArray, patience: float, target: StaffingTarget, max_agents: int
) -> tuple[_Columns, FloatArray]:
    size = rate.size
    out = _Columns(
        agents=np.full(size, target.min_agents, dtype=np.int64),
        p_wait=np.zeros(size),
        service_level=np.ones(size),
        asa=np.zeros(size),
    )
    p_abandon = np.zeros(size)
    try:
        erlang_c_agents: list[int] | None = _batch_erlang_c(
            rate, aht, target, max_agents
        ).agents.tolist()
    except InfeasibleTargetError:
        erlang_c_agents = None
    # neighbouring problems (consecutive intervals of a queue) need a similar number of
    # agents fewer than Erlang C; starting there usually brackets the answer at once
    saving = 0
    for index in np.flatnonzero(rate > 0.0).tolist():
        lam, handle = float(rate[index]), float(aht[index])
        if erlang_c_agents is None:
            guess = _erlang_c_guess(lam * handle, handle, target, max_agents)
        else:
            guess = max(1, erlang_c_agents[index] - saving)
        agents, metrics = _solve_erlang_a(lam, handle, patience, target, max_agents, guess)
        saving = guess + saving - agents
        out.agents[index] = agents
        out.p_wait[index] = metrics.p_wait
        out.service_level[index] = metrics.service_level
        out.asa[index] = metrics.asa
        p_abandon[index] = metrics.p_abandon
    return out, p_abandon


def required_agents_batch(
    arrival_rates: Sequence[float] | FloatArray,
    aht: Sequence[float] | FloatArray | float,
    target: StaffingTarget,
    *,
    patience: float | None = None,
    interval_s: float = 1.0,
    max_agents: int = _MAX_AGENTS,
) -> StaffingBatch:
    """Solve many problems at once; each entry equals ``required_agents`` on that problem.

    ``arrival_rates`` are calls per ``interval_s`` seconds; ``aht`` is one value per
    problem or a single value for all.
    """
    if not (math.isfinite(interval_s) and interval_s > 0.0):
        raise ValueError(f"interval_s must be positive, got {interval_s!r}")
    rate = _as_vector("arrival rates", arrival_rates, None) / interval_s
    handle = (
        np.full(rate.size, float(aht))
        if isinstance(aht, int | float)
        else _as_vector("aht", aht, rate.size)
    )
    if np.any(handle <= 0.0):
        raise ValueError("aht must be positive")
    if patience is not None and not patience > 0.0:
        raise ValueError(f"patience must be a positive number of seconds, got {patience!r}")
    load = rate * handle
    p_abandon: FloatArray | None = None
    if patience is None or math.isinf(patience):
        columns = _batch_erlang_c(rate, handle, target, max_agents)
        if patience is not None:
            p_abandon = np.zeros(rate.size)
    else:
        columns, p_abandon = _batch_erlang_a(rate, handle, patience, target, max_agents)
    agents = columns.agents
    occupancy = np.divide(
        load * (1.0 - (p_abandon if p_abandon is not None else 0.0)),
        agents,
        out=np.zeros(rate.size),
        where=agents > 0,
    )
    scheduled = np.maximum(np.ceil(agents / (1.0 - target.shrinkage) - 1e-9), 0).astype(np.int64)
    return StaffingBatch(
        load=load,
        agents=agents,
        scheduled=scheduled,
        service_level=columns.service_level,
        asa=columns.asa,
        occupancy=occupancy,
        p_wait=columns.p_wait,
        p_abandon=p_abandon,
    )


# --------------------------------------------------------------------------- forecasts


@dataclass(frozen=True, slots=True)
class ForecastInterval:
    """One forecast row: calls offered to a queue in one interval."""

    line: int
    queue: str
    start: str
    arrivals: float
    arrival_rate_per_hour: float
    aht: float


@dataclass(frozen=True, slots=True)
class Forecast:
    path: str
    interval_minutes: int
    intervals: tuple[ForecastInterval, ...]

    @property
    def queues(self) -> list[str]:
        return list(dict.fromkeys(row.queue for row in self.intervals))


DEFAULT_QUEUE = "default"


def _parse_start(text: str) -> tuple[datetime, bool]:
    """(timestamp, has_date). Clock times HH:MM[:SS] get a placeholder date."""
    try:
        return datetime.fromisoformat(text), True
    except ValueError:
        pass
    return datetime.combine(date(2000, 1, 1), time.fromisoformat(text)), False


@dataclass(slots=True)
class _RawRow:
    line: int
    queue: str
    start_text: str
    start: datetime
    has_date: bool
    count: float | None
    rate_per_hour: float | None
    aht: float


def _interval_minutes(path: str, rows: list[_RawRow], given: int | None) -> int | None:
    """Check the spacing of interval starts per queue; detect the length if not given."""
    by_queue: dict[str, list[_RawRow]] = {}
    for row in rows:
        by_queue.setdefault(row.queue, []).append(row)
    steps: list[tuple[int, _RawRow]] = []
    for queue_rows in by_queue.values():
        ordered = sorted(queue_rows, key=lambda r: r.start)
        for before, after in itertools.pairwise(ordered):
            seconds = (after.start - before.start).total_seconds()
            if seconds == 0:
                raise ForecastError(
                    path,
                    after.line,
                    START,
                    f"duplicate interval {after.start_text!r} for queue {after.queue!r} "
                    f"(first on line {before.line})",
                )
            steps.append((round(seconds), after))
    if not steps:
        return given
    length = given * 60 if given is not None else min(seconds for seconds, _ in steps)
    for seconds, row in steps:
        if seconds % length:
            raise ForecastError(
                path,
                row.line,
                START,
                f"interval starts {seconds / 60:g} minutes after the previous one, "
                f"not a multiple of the {length / 60:g}-minute interval",
            )
    minutes = length / 60
    if minutes not in ALLOWED_INTERVAL_MINUTES:
        first_row = min((r for _, r in steps), key=lambda r: r.line)
        raise ForecastError(
            path,
            first_row.line,
            START,
            f"intervals are {minutes:g} minutes apart; expected one of "
            f"{', '.join(map(str, ALLOWED_INTERVAL_MINUTES))} (or pass the interval length)",
        )
    return int(minutes)


def _read_rows(path: str | Path) -> list[_RawRow]:
    """The file's rows (forecast_csv reads it) with their starts as timestamps."""
    where = str(path)
    rows: list[_RawRow] = []
    for raw in read_forecast_rows(path, aht_required=True):
        try:
            start, has_date = _parse_start(raw.start)
        except ValueError:
            raise ForecastError(
                where, raw.line, START, f"not an ISO time or HH:MM: {raw.start!r}"
            ) from None
        assert raw.aht_s is not None  # aht_required: the reader refused rows without it
        row = _RawRow(
            raw.line,
            raw.queue or DEFAULT_QUEUE,
            raw.start,
            start,
            has_date,
            raw.arrivals,
            raw.rate_per_hour,
            raw.aht_s,
        )
        if rows and _start_kind(row) != _start_kind(rows[0]):
            raise ForecastError(
                where, row.line, START, "mixes clock times, dates or time zones across rows"
            )
        rows.append(row)
    return rows


def _start_kind(row: _RawRow) -> tuple[bool, bool]:
    return row.has_date, row.start.tzinfo is not None


def _to_interval(row: _RawRow, minutes: int) -> ForecastInterval:
    if row.count is not None:
        count, per_hour = row.count, row.count * 60.0 / minutes
    else:
        per_hour = row.rate_per_hour if row.rate_per_hour is not None else 0.0
        count = per_hour * minutes / 60.0
    return ForecastInterval(row.line, row.queue, row.start_text, count, per_hour, row.aht)


def read_forecast(path: str | Path, *, interval_minutes: int | None = None) -> Forecast:
    """Read a forecast CSV.

    Columns: ``interval_start`` (ISO timestamp or HH:MM), either ``arrivals`` (calls per
    interval) or ``arrival_rate_per_hour``, ``aht_s``, and optionally ``queue``. The
    interval length (15, 30 or 60 minutes) is detected from the spacing of the starts
    unless given. Problems raise ForecastError naming the file, line and column; a missing
    file raises OSError.
    """
    if interval_minutes is not None and interval_minutes not in ALLOWED_INTERVAL_MINUTES:
        raise ValueError(
            f"interval length must be one of {ALLOWED_INTERVAL_MINUTES} minutes, "
            f"got {interval_minutes!r}"
        )
    rows = _read_rows(path)
    minutes = _interval_minutes(str(path), rows, interval_minutes)
    if minutes is None:
        if any(row.count is not None for row in rows):
            raise ForecastError(
                str(path),
                rows[0].line,
                START,
                "cannot detect the interval length from a single interval per queue; "
                "pass the interval length (15 or 30 minutes)",
            )
        minutes = 30  # rates per hour do not depend on it; it only labels the table
    intervals = tuple(_to_interval(row, minutes) for row in rows)
    return Forecast(path=str(path), interval_minutes=minutes, intervals=intervals)


@dataclass(frozen=True, slots=True)
class ForecastStaffing:
    """Per-interval staffing for a forecast, in the forecast's row order."""

    forecast: Forecast
    target: StaffingTarget
    patience: float | None
    staffing: StaffingBatch

    def rows(self) -> list[tuple[ForecastInterval, StaffingResult]]:
        return [
            (interval, self.staffing.result(i))
            for i, interval in enumerate(self.forecast.intervals)
        ]

    def peak_agents(self) -> dict[str, int]:
        peaks: dict[str, int] = {}
        for interval, agents in zip(
            self.forecast.intervals, self.staffing.agents.tolist(), strict=True
        ):
            peaks[interval.queue] = max(peaks.get(interval.queue, 0), agents)
        return peaks

    def scheduled_hours(self) -> float:
        """Paid agent-hours over the forecast (scheduled agents x interval length)."""
        return float(self.staffing.scheduled.sum()) * self.forecast.interval_minutes / 60.0


def staff_forecast(
    forecast: Forecast, target: StaffingTarget, *, patience: float | None = None
) -> ForecastStaffing:
    """Fewest agents per forecast interval (all queues solved in one bulk pass)."""
    rates = np.fromiter(
        (row.arrival_rate_per_hour for row in forecast.intervals),
        dtype=np.float64,
        count=len(forecast.intervals),
    )
    aht = np.fromiter(
        (row.aht for row in forecast.intervals), dtype=np.float64, count=len(forecast.intervals)
    )
    batch = required_agents_batch(rates, aht, target, patience=patience, interval_s=3600.0)
    return ForecastStaffing(forecast=forecast, target=target, patience=patience, staffing=batch)
