"""Timing of the analytic formulas and the staffing solver.

Run from the repository root:  python benchmarks/erlang_bench.py [--json] [--repeats N]

Targets: one Erlang A service-level evaluation at 1,000 agents < 5 ms; a 96-interval x
50-queue staffing day (Erlang C, 4,800 solves) < 50 ms. Figures are medians over repeats.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

# the checkout's root: benchmarks.machine (and simulations without an installed package)
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.machine import machine_line, machine_report
from simulations.erlang import erlang_a_metrics, erlang_c_metrics
from simulations.staffing import StaffingTarget, required_agents, required_agents_batch

TARGET_ERLANG_A_MS = 5.0
TARGET_STAFFING_DAY_MS = 50.0
QUEUES = 50
INTERVALS = 96  # 15-minute intervals
INTERVAL_S = 900.0


def median_ms(action: Callable[[], object], repeats: int) -> float:
    action()  # warm caches and imports outside the measurement
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        samples.append((time.perf_counter() - start) * 1e3)
    return statistics.median(samples)


def forecast_day(seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Calls per 15 minutes and AHT for 50 queues x 96 intervals: an inbound day curve
    (quiet night, morning ramp, lunch dip, afternoon peak) scaled per queue, with noise."""
    rng = np.random.default_rng(seed)
    hours = np.arange(INTERVALS) / 4.0
    curve = (
        0.02
        + 0.85 * np.exp(-(((hours - 10.0) / 2.2) ** 2))
        + 1.0 * np.exp(-(((hours - 15.0) / 2.0) ** 2))
        - 0.2 * np.exp(-(((hours - 12.5) / 0.7) ** 2))
    )
    peak_calls = rng.uniform(20.0, 400.0, QUEUES)
    calls = peak_calls[:, None] * curve[None, :] * rng.uniform(0.9, 1.1, (QUEUES, INTERVALS))
    aht = rng.uniform(180.0, 420.0, QUEUES)[:, None] * rng.uniform(0.95, 1.05, (QUEUES, INTERVALS))
    return np.round(calls).ravel(), aht.ravel()


def run(repeats: int) -> dict[str, float | int | bool | str]:
    aht = 180.0
    # Erlang A at 1,000 agents, 95% loaded, 3 minutes mean patience, 20 s threshold
    erlang_a_ms = median_ms(
        lambda: erlang_a_metrics(950.0 / aht, aht, 1000, 20.0, 180.0).service_level, repeats
    )
    erlang_c_1k_ms = median_ms(lambda: erlang_c_metrics(950.0 / aht, aht, 1000, 20.0), repeats)
    erlang_c_10k_ms = median_ms(lambda: erlang_c_metrics(9900.0 / aht, aht, 10000, 20.0), repeats)

    calls, handle = forecast_day()
    target = StaffingTarget(service_level=0.8, threshold=20.0, shrinkage=0.3)
    day = required_agents_batch(calls, handle, target, interval_s=INTERVAL_S)
    day_ms = median_ms(
        lambda: required_agents_batch(calls, handle, target, interval_s=INTERVAL_S), repeats
    )
    pairs = list(zip(calls.tolist(), handle.tolist(), strict=True))
    scalar_ms = median_ms(
        lambda: [required_agents(c, h, target, interval_s=INTERVAL_S) for c, h in pairs],
        max(1, repeats // 10),
    )
    # Erlang A day: every interval searched with the exact M/M/n+M model (one run, slow)
    start = time.perf_counter()
    required_agents_batch(calls, handle, target, patience=180.0, interval_s=INTERVAL_S)
    erlang_a_day_ms = (time.perf_counter() - start) * 1e3

    return {
        "erlang_a_sl_1000_agents_ms": erlang_a_ms,
        "erlang_c_1000_agents_ms": erlang_c_1k_ms,
        "erlang_c_10000_agents_ms": erlang_c_10k_ms,
        "staffing_day_ms": day_ms,
        "staffing_day_solves": int(calls.size),
        "staffing_day_model": "erlang_c (bulk solver)",
        "staffing_day_scalar_loop_ms": scalar_ms,
        "staffing_day_erlang_a_ms": erlang_a_day_ms,
        "staffing_day_peak_agents": int(day.agents.max()),
        "erlang_a_target_met": erlang_a_ms < TARGET_ERLANG_A_MS,
        "staffing_day_target_met": day_ms < TARGET_STAFFING_DAY_MS,
        "repeats": repeats,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--repeats", type=int, default=51, help="timed repeats (median)")
    args = parser.parse_args(argv)
    figures = run(max(1, args.repeats))
    machine = machine_report()
    if args.json:
        print(json.dumps({**figures, "machine_report": machine}))
        return 0
    print(machine_line(machine))
    solves = figures["staffing_day_solves"]
    print(
        f"Erlang A service level, 1,000 agents : {figures['erlang_a_sl_1000_agents_ms']:8.3f} ms"
        f"  (target < {TARGET_ERLANG_A_MS:g} ms)"
    )
    print(f"Erlang C, 1,000 agents               : {figures['erlang_c_1000_agents_ms']:8.3f} ms")
    print(f"Erlang C, 10,000 agents              : {figures['erlang_c_10000_agents_ms']:8.3f} ms")
    print(f"Staffing day, {QUEUES} queues x {INTERVALS} intervals ({solves} solves, Erlang C)")
    print(
        f"  bulk solver                        : {figures['staffing_day_ms']:8.3f} ms"
        f"  (target < {TARGET_STAFFING_DAY_MS:g} ms)"
    )
    print(
        f"  one-at-a-time loop                 : {figures['staffing_day_scalar_loop_ms']:8.3f} ms"
    )
    print(f"  Erlang A, patience 180 s (1 run)   : {figures['staffing_day_erlang_a_ms']:8.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
