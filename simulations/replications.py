"""Independent replications of a scenario, in parallel, with Student-t confidence intervals.

Replication r of base seed s draws from streams keyed (s, r, subject, purpose), so results
do not depend on how many worker processes ran them or in which order.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, TextIO

from simulations.harness import ReplicationResult, run_replication
from simulations.scenario import Scenario

QUEUE_METRICS = (
    "offered",
    "answered",
    "abandoned",
    "service_level",
    "asa_s",
    "abandon_rate",
    "aht_s",
    "occupancy",
    "longest_wait_s",
    "wait_p50_s",
    "wait_p90_s",
    "wait_p95_s",
)
INTERVAL_METRICS = (
    "offered",
    "answered",
    "abandoned",
    "service_level",
    "asa_s",
    "abandon_rate",
    "aht_s",
    "occupancy",
    "staffed",
)
GROUP_METRICS = ("agents", "handled", "handled_per_agent", "occupancy")


# --------------------------------------------------------------------- statistics


@dataclass(frozen=True, slots=True)
class Estimate:
    """Mean over replications with the half-width of its confidence interval."""

    mean: float | None
    half_width: float | None
    n: int

    @property
    def low(self) -> float | None:
        if self.mean is None or self.half_width is None:
            return None
        return self.mean - self.half_width

    @property
    def high(self) -> float | None:
        if self.mean is None or self.half_width is None:
            return None
        return self.mean + self.half_width

    def contains(self, value: float) -> bool:
        low, high = self.low, self.high
        return low is not None and high is not None and low <= value <= high

    def as_dict(self) -> dict[str, float | int | None]:
        return {
            "mean": self.mean,
            "half_width": self.half_width,
            "low": self.low,
            "high": self.high,
            "n": self.n,
        }


def confidence_interval(values: Iterable[float | None], level: float = 0.95) -> Estimate:
    """Student-t interval for the mean; replications without a value are left out."""
    xs = [float(v) for v in values if v is not None]
    n = len(xs)
    if n == 0:
        return Estimate(None, None, 0)
    mean = math.fsum(xs) / n
    if n == 1:
        return Estimate(mean, None, 1)
    var = math.fsum((x - mean) ** 2 for x in xs) / (n - 1)
    return Estimate(mean, t_quantile(0.5 + level / 2.0, n - 1) * math.sqrt(var / n), n)


@lru_cache(maxsize=256)
def t_quantile(p: float, df: int) -> float:
    """Quantile of Student's t with ``df`` degrees of freedom (0.5 < p < 1).

    Bisection on the exact cdf (regularised incomplete beta), so the runtime needs no scipy.
    """
    if not 0.5 < p < 1.0 or df < 1:
        raise ValueError("need 0.5 < p < 1 and df >= 1")
    low, high = 0.0, 1.0
    while _t_cdf(high, df) < p:
        high *= 2.0
    for _ in range(200):
        mid = (low + high) / 2.0
        if _t_cdf(mid, df) < p:
            low = mid
        else:
            high = mid
        if high - low < 1e-12 * high:
            break
    return (low + high) / 2.0


def _t_cdf(t: float, df: int) -> float:
    x = df / (df + t * t)
    tail = 0.5 * _betainc(df / 2.0, 0.5, x)
    return 1.0 - tail if t >= 0 else tail


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b) by Lentz's continued fraction."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x > (a + 1.0) / (a + b + 2.0):
        return 1.0 - _betainc(b, a, 1.0 - x)
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 500):
        m2 = 2 * m
        for num in (
            m * (b - m) * x / ((a + m2 - 1.0) * (a + m2)),
            -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < 1e-15:
            break
    return math.exp(log_front) * h / a


# --------------------------------------------------------------------- progress


class Progress:
    """A one-line progress bar on stderr; silent unless it is a terminal or forced."""

    def __init__(
        self, total: int, label: str = "simulate", stream: TextIO | None = None, force: bool = False
    ) -> None:
        self.total = total
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.enabled = force or bool(isatty())
        self.started = time.perf_counter()
        self.done = 0

    def update(self, done: int) -> None:
        self.done = done
        if not self.enabled:
            return
        width = 30
        filled = int(width * done / self.total) if self.total else width
        elapsed = time.perf_counter() - self.started
        eta = elapsed / done * (self.total - done) if done else 0.0
        bar = "#" * filled + "." * (width - filled)
        self.stream.write(
            f"\r{self.label} [{bar}] {done}/{self.total} replications "
            f"{elapsed:5.1f}s elapsed, ~{eta:4.0f}s left"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


# --------------------------------------------------------------------- running


@dataclass(slots=True)
class Summary:
    scenario: Scenario
    seed: int
    results: list[ReplicationResult]
    wall_s: float
    workers: int
    level: float = 0.95
    queues: dict[str, dict[str, Estimate]] = field(default_factory=dict)
    intervals: list[dict[str, Any]] = field(default_factory=list)
    groups: dict[str, dict[str, Estimate]] = field(default_factory=dict)
    occupancy: Estimate = Estimate(None, None, 0)

    @property
    def replications(self) -> int:
        return len(self.results)

    @property
    def arrivals(self) -> int:
        return sum(r.arrivals for r in self.results)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        s = self.scenario
        return {
            "scenario": s.name,
            "seed": self.seed,
            "replications": self.replications,
            "confidence_level": self.level,
            "horizon_s": s.horizon_s,
            "warmup_s": s.warmup,
            "interval_s": s.interval_s,
            "service_level_variant": s.service_level_variant.value,
            "queues": {
                q: {m: e.as_dict() for m, e in metrics.items()}
                for q, metrics in self.queues.items()
            },
            "occupancy": self.occupancy.as_dict(),
            "groups": {
                g: {m: e.as_dict() for m, e in metrics.items()}
                for g, metrics in self.groups.items()
            },
            "intervals": [
                {k: (v.as_dict() if isinstance(v, Estimate) else v) for k, v in row.items()}
                for row in self.intervals
            ],
            "run": {
                "wall_s": self.wall_s,
                "workers": self.workers,
                "arrivals": self.arrivals,
                "contacts_per_s": self.arrivals / self.wall_s if self.wall_s > 0 else None,
            },
        }


def summarize(
    scenario: Scenario,
    results: Sequence[ReplicationResult],
    seed: int,
    wall_s: float = 0.0,
    workers: int = 1,
    level: float = 0.95,
) -> Summary:
    ordered = sorted(results, key=lambda r: r.replication)
    summary = Summary(scenario, seed, ordered, wall_s, workers, level)
    for q in scenario.queues:
        summary.queues[q.name] = {
            m: confidence_interval((r.queues[q.name].get(m) for r in ordered), level)
            for m in QUEUE_METRICS
        }
    for plan in scenario.groups:
        summary.groups[plan.name] = {
            m: confidence_interval((r.groups[plan.name].get(m) for r in ordered), level)
            for m in GROUP_METRICS
        }
    summary.occupancy = confidence_interval((r.occupancy for r in ordered), level)
    rows: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for r in ordered:
        for row in r.intervals:
            rows.setdefault((row["queue_id"], row["interval_start"]), []).append(row)
    for (qid, start), group in sorted(rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        entry: dict[str, Any] = {"queue_id": qid, "interval_start": start}
        for m in INTERVAL_METRICS:
            entry[m] = confidence_interval((row.get(m) for row in group), level)
        summary.intervals.append(entry)
    return summary


_WORKER_SCENARIO: Scenario | None = None


def _init_worker(scenario: Scenario) -> None:
    global _WORKER_SCENARIO
    _WORKER_SCENARIO = scenario


def _run_in_worker(replication: int, seed: int, keep_samples: bool) -> ReplicationResult:
    assert _WORKER_SCENARIO is not None
    return run_replication(_WORKER_SCENARIO, replication, seed, keep_samples)


def default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def run_replications(
    scenario: Scenario,
    replications: int | None = None,
    seed: int | None = None,
    workers: int | None = None,
    keep_samples: bool = False,
    progress: Progress | None = None,
    level: float = 0.95,
    on_result: Callable[[ReplicationResult], None] | None = None,
) -> Summary:
    """Run replications 0..n-1 (in worker processes when workers > 1) and summarise."""
    n = replications if replications is not None else scenario.replications
    base = scenario.seed if seed is None else seed
    procs = min(workers if workers is not None else default_workers(), n)
    started = time.perf_counter()
    results: list[ReplicationResult] = []

    def collect(result: ReplicationResult) -> None:
        results.append(result)
        if on_result is not None:
            on_result(result)
        if progress is not None:
            progress.update(len(results))

    if procs <= 1:
        for r in range(n):
            collect(run_replication(scenario, r, base, keep_samples))
    else:
        with ProcessPoolExecutor(
            max_workers=procs, initializer=_init_worker, initargs=(scenario,)
        ) as pool:
            pending: set[Future[ReplicationResult]] = {
                pool.submit(_run_in_worker, r, base, keep_samples) for r in range(n)
            }
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    collect(future.result())
    if progress is not None:
        progress.close()
    return summarize(scenario, results, base, time.perf_counter() - started, procs, level)
