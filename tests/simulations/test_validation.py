"""The simulator against the formulas: single-queue, single-skill scenarios with exponential
handle times agree with Erlang C (no abandonment) and Erlang A (exponential patience).

What is compared, definition for definition (see simulations/erlang.py):
* service level: answered within T / (answered + abandoned), short-abandon threshold 0, the
  "all abandons fail" variant = Erlang A's P(answered within T) over all arrivals (and
  Erlang C's P(wait <= T) when nobody abandons);
* ASA: mean wait of answered callers (Erlang C: of everyone, who are all answered);
* abandon rate: abandoned / offered = Erlang A's P(abandon).
The figures are steady-state ones, so each replication runs a warm-up first and only the
intervals after it count. A check passes when the exact value lies inside the simulated
95% confidence interval (Student t over the replications).

The seeds are fixed, so a run is reproducible. A 95% interval misses the truth one time in
twenty by design, so with a dozen checks some fixed seed would fail by chance alone: a case
that misses is run again on an independent seed and must then pass every check (chance of
a false alarm ~0.25% per check; a biased simulator fails both). The slow "honest intervals"
test shows that the intervals are calibrated (about 95 in 100 contain the exact value).
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
from scipy import stats

from simulations.erlang import erlang_a_metrics, erlang_c_metrics
from simulations.harness import run_replication
from simulations.replications import confidence_interval, run_replications, t_quantile
from simulations.scenario import Scenario, parse_scenario

HANDLE_S = 120.0
WORKERS = min(2, len(os.sched_getaffinity(0)))


@dataclass(frozen=True)
class Case:
    agents: int
    load: float
    """Offered load / agents."""
    patience_s: float | None
    warmup_min: int
    measure_h: float
    threshold_s: float = 20.0
    """Large teams answer within seconds: their threshold is short enough that the
    service level says something (and is not a rare-event estimate)."""

    @property
    def arrival_rate(self) -> float:
        return self.load * self.agents / HANDLE_S

    def scenario(self) -> Scenario:
        queue: dict[str, Any] = {
            "name": "q",
            "arrival_rate_per_hour": self.arrival_rate * 3600.0,
            "handle_time": {"dist": "exponential", "mean_s": HANDLE_S},
            "service_level": {"threshold_s": self.threshold_s},
            "short_abandon_s": 0,
        }
        if self.patience_s is not None:
            queue["patience"] = {"dist": "exponential", "mean_s": self.patience_s}
        return parse_scenario(
            {
                "duration": self.warmup_min * 60 + self.measure_h * 3600,
                "warmup": f"{self.warmup_min}m",
                "queues": [queue],
                "agents": [{"count": self.agents, "skills": {"q": 1}}],
            }
        )

    def exact(self) -> dict[str, float]:
        if self.patience_s is None:
            c = erlang_c_metrics(self.arrival_rate, HANDLE_S, self.agents, self.threshold_s)
            return {"service_level": c.service_level, "asa_s": c.asa, "abandon_rate": 0.0}
        a = erlang_a_metrics(
            self.arrival_rate, HANDLE_S, self.agents, self.threshold_s, self.patience_s
        )
        return {"service_level": a.service_level, "asa_s": a.asa, "abandon_rate": a.p_abandon}

    def __str__(self) -> str:
        model = "C" if self.patience_s is None else f"A(patience {self.patience_s:g}s)"
        return f"Erlang {model} n={self.agents} load={self.load:.0%} T={self.threshold_s:g}s"


def agrees(case: Case, seeds: tuple[int, int], replications: int = 20) -> list[str]:
    """Misses on the first seed, re-checked on the second (see the module docstring)."""
    misses = check(case, replications, seeds[0])
    return check(case, replications, seeds[1]) if misses else []


def check(case: Case, replications: int = 20, seed: int = 1) -> list[str]:
    """Misses: metrics whose exact value lies outside the simulated 95% interval."""
    summary = run_replications(case.scenario(), replications, seed=seed, workers=WORKERS)
    estimates = summary.queues["q"]
    misses = []
    for metric, exact in case.exact().items():
        if case.patience_s is None and metric == "abandon_rate":
            assert estimates[metric].mean == 0.0
            continue
        est = estimates[metric]
        if not est.contains(exact):
            misses.append(
                f"{case}: {metric} exact {exact:.5g} outside {est.mean:.5g} ± {est.half_width:.3g}"
            )
    return misses


FAST_CASES = [
    Case(agents=5, load=0.70, patience_s=None, warmup_min=60, measure_h=8),
    Case(agents=50, load=0.90, patience_s=None, warmup_min=30, measure_h=1.5),
    Case(agents=20, load=0.95, patience_s=120.0, warmup_min=30, measure_h=2),
    Case(agents=100, load=0.95, patience_s=240.0, warmup_min=15, measure_h=0.75, threshold_s=10),
]


@pytest.mark.parametrize("case", FAST_CASES, ids=str)
def test_agrees_with_erlang(case: Case) -> None:
    assert agrees(case, seeds=(1, 101)) == []


SLOW_GRID = [
    Case(agents=5, load=0.85, patience_s=None, warmup_min=120, measure_h=24),
    Case(agents=20, load=0.85, patience_s=None, warmup_min=60, measure_h=6),
    Case(agents=100, load=0.90, patience_s=None, warmup_min=60, measure_h=3, threshold_s=10),
    Case(agents=500, load=0.95, patience_s=None, warmup_min=30, measure_h=1.5, threshold_s=5),
    Case(agents=5, load=0.95, patience_s=180.0, warmup_min=60, measure_h=16),
    Case(agents=50, load=0.95, patience_s=60.0, warmup_min=30, measure_h=2),
    Case(agents=200, load=0.95, patience_s=120.0, warmup_min=30, measure_h=1, threshold_s=5),
    Case(agents=500, load=0.97, patience_s=180.0, warmup_min=30, measure_h=1.5, threshold_s=5),
]


@pytest.mark.slow
@pytest.mark.parametrize("case", SLOW_GRID, ids=str)
def test_agrees_with_erlang_over_the_grid(case: Case) -> None:
    assert agrees(case, seeds=(2, 102)) == []


# --------------------------------------------------------------------- honest intervals

HONEST_SEEDS = 100
HONEST_REPLICATIONS = 20
HONEST_CASES = [
    Case(agents=10, load=0.70, patience_s=None, warmup_min=30, measure_h=3),
    Case(agents=10, load=0.90, patience_s=120.0, warmup_min=30, measure_h=1.5),
]


def _honest_one(args: tuple[Scenario, int, int]) -> tuple[int, dict[str, Any]]:
    scenario, seed, replication = args
    return seed, run_replication(scenario, replication, seed).queues["q"]


@pytest.mark.slow
@pytest.mark.parametrize("case", HONEST_CASES, ids=str)
def test_confidence_intervals_are_honest(case: Case) -> None:
    """Over 100 base seeds, the 95% interval of 20 replications contains the exact value
    at least 90 times (for a calibrated interval: 95 expected, fewer than 90 has p < 2%)."""
    scenario = case.scenario()
    jobs = [
        (scenario, 1000 + s, r) for s in range(HONEST_SEEDS) for r in range(HONEST_REPLICATIONS)
    ]
    by_seed: dict[int, list[dict[str, Any]]] = defaultdict(list)
    with ProcessPoolExecutor(WORKERS) as pool:
        for seed, row in pool.map(_honest_one, jobs, chunksize=50):
            by_seed[seed].append(row)
    exact = case.exact()
    metrics = ["service_level", "asa_s"] + (["abandon_rate"] if case.patience_s else [])
    for metric in metrics:
        covered = sum(
            confidence_interval(row[metric] for row in rows).contains(exact[metric])
            for rows in by_seed.values()
        )
        assert covered >= 90, f"{case}: {metric} covered {covered}/{HONEST_SEEDS}"


# --------------------------------------------------------------------- the interval itself


@pytest.mark.parametrize("df", [1, 2, 4, 9, 19, 99, 999])
@pytest.mark.parametrize("p", [0.9, 0.975, 0.995])
def test_t_quantile_matches_scipy(df: int, p: float) -> None:
    assert t_quantile(p, df) == pytest.approx(stats.t.ppf(p, df), rel=1e-9)


def test_confidence_interval_of_known_values() -> None:
    e = confidence_interval([1.0, 2.0, 3.0, 4.0, None])
    assert e.n == 4 and e.mean == 2.5
    assert e.half_width == pytest.approx(stats.t.ppf(0.975, 3) * math.sqrt(5 / 3 / 4))
    assert confidence_interval([None]).mean is None
    assert confidence_interval([7.0]).half_width is None
