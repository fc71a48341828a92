"""Simulation throughput: simulated contacts per wall-clock second.

(a) our harness (SimPy + the real routing engine + the statistics fold) on one voice queue:
    100 agents, 8 hours, 90 Erlangs offered (handle 300 s), exponential patience 180 s;
(b) a plain idiomatic SimPy model of the same queue, written here: one process per call,
    a simpy.Resource for the agents, patience as `request | env.timeout(patience)`;
    and the ratio a / b;
(b') the same plain model with Python's cyclic garbage collector paused during each run, as
    the harness pauses it during its own run, and a / b': the comparison at equal collector
    settings;
(c) our harness on the 1,000-agent multi-skill day (config/scenarios/multiskill_day.yaml).

Everything runs in this one process (no worker pool), after one untimed warm-up run. (a) and
(b) alternate for --rounds rounds and the best round of each counts (as timeit does), so a
busy machine disturbs the ratio less.

    .venv/bin/python benchmarks/sim_bench.py [--json] [--repeat N] [--rounds R] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import pstats
import random
import sys
import time
from pathlib import Path
from typing import Any

import simpy

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.machine import machine_line, machine_report  # noqa: E402
from simulations.harness import run_replication  # noqa: E402
from simulations.scenario import Scenario, load_scenario, parse_scenario  # noqa: E402

AGENTS = 100
LOAD_ERLANGS = 90.0
HANDLE_S = 300.0
PATIENCE_S = 180.0
HOURS = 8.0


def single_queue_scenario() -> Scenario:
    return parse_scenario(
        {
            "name": "bench single queue",
            "duration": f"{HOURS:g}h",
            "queues": [
                {
                    "name": "q",
                    "arrival_rate_per_hour": LOAD_ERLANGS / HANDLE_S * 3600.0,
                    "handle_time": {"dist": "exponential", "mean_s": HANDLE_S},
                    "patience": {"dist": "exponential", "mean_s": PATIENCE_S},
                }
            ],
            "agents": [{"count": AGENTS, "skills": {"q": 1}}],
        },
        source="sim_bench",
    )


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return max(runs, key=lambda r: r["contacts_per_s"])


def bench_harness(scenario: Scenario, repeat: int) -> dict[str, Any]:
    contacts, wall = 0, 0.0
    for r in range(repeat):
        started = time.perf_counter()
        result = run_replication(scenario, replication=r)
        wall += time.perf_counter() - started
        contacts += result.arrivals
    return {"contacts": contacts, "wall_s": wall, "contacts_per_s": contacts / wall}


def plain_simpy_run(seed: int) -> int:
    """The textbook SimPy M/M/n+M model; returns the number of callers simulated."""
    rnd = random.Random(seed)
    env = simpy.Environment()
    agents = simpy.Resource(env, capacity=AGENTS)
    arrival_rate = LOAD_ERLANGS / HANDLE_S
    stats = {"callers": 0, "answered": 0, "abandoned": 0}

    def caller(env: simpy.Environment, handle: float, patience: float) -> Any:
        with agents.request() as request:
            result = yield request | env.timeout(patience)
            if request in result:
                stats["answered"] += 1
                yield env.timeout(handle)
            else:
                stats["abandoned"] += 1

    def source(env: simpy.Environment) -> Any:
        while True:
            yield env.timeout(rnd.expovariate(arrival_rate))
            stats["callers"] += 1
            env.process(
                caller(env, rnd.expovariate(1.0 / HANDLE_S), rnd.expovariate(1.0 / PATIENCE_S))
            )

    env.process(source(env))
    env.run(until=HOURS * 3600.0)
    return stats["callers"]


def bench_plain(repeat: int, gc_paused: bool = False) -> dict[str, Any]:
    """(b); with ``gc_paused`` the cyclic collector is off during each run, as the harness
    does, so that the two can also be compared at equal collector settings."""
    contacts, wall = 0, 0.0
    for r in range(repeat):
        started = time.perf_counter()
        if gc_paused:
            gc.disable()
        try:
            contacts += plain_simpy_run(r)
        finally:
            gc.enable()
        wall += time.perf_counter() - started
    return {"contacts": contacts, "wall_s": wall, "contacts_per_s": contacts / wall}


def profile_harness(scenario: Scenario, lines: int = 25) -> str:
    profiler = cProfile.Profile()
    profiler.enable()
    run_replication(scenario, replication=0)
    profiler.disable()
    buffer = io.StringIO()
    stats = pstats.Stats(profiler, stream=buffer).sort_stats("tottime")
    stats.print_stats(lines)
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument(
        "--repeat", type=int, default=10, help="replications per single-queue figure"
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds of (a), (b)")
    parser.add_argument(
        "--day-repeat", type=int, default=1, help="replications of the 1,000-agent day"
    )
    parser.add_argument("--profile", action="store_true", help="also print a cProfile of (a)")
    args = parser.parse_args(argv)

    single = single_queue_scenario()
    run_replication(single, replication=10_000)  # untimed: imports, caches
    plain_simpy_run(10_000)
    rounds = [
        (
            bench_harness(single, args.repeat),
            bench_plain(args.repeat),
            bench_plain(args.repeat, gc_paused=True),
        )
        for _ in range(args.rounds)
    ]
    ours, plain = best([a for a, _, _ in rounds]), best([b for _, b, _ in rounds])
    plain_nogc = best([c for _, _, c in rounds])
    day = bench_harness(
        load_scenario(ROOT / "config/scenarios/multiskill_day.yaml"), args.day_repeat
    )
    ratio = ours["contacts_per_s"] / plain["contacts_per_s"]
    ratio_same_gc = ours["contacts_per_s"] / plain_nogc["contacts_per_s"]
    result = {
        "python": sys.version.split()[0],
        "simpy": simpy.__version__,
        "single_queue": {
            "agents": AGENTS,
            "load_erlangs": LOAD_ERLANGS,
            "handle_s": HANDLE_S,
            "patience_s": PATIENCE_S,
            "hours": HOURS,
            "harness": ours,
            "plain_simpy": plain,
            "ratio_harness_to_plain": ratio,
            "plain_simpy_gc_paused": plain_nogc,
            "ratio_harness_to_plain_gc_paused": ratio_same_gc,
            "rounds": args.rounds,
        },
        "multiskill_day_1000_agents": day,
        "machine_report": machine_report(),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"(a) harness, 100 agents / 8 h / 90 Erl:  {ours['contacts_per_s']:>9,.0f} contacts/s"
        )
        print(
            f"(b) plain SimPy model, same queue:      {plain['contacts_per_s']:>9,.0f} contacts/s"
        )
        print(f"    ratio a/b:                          {ratio:>9.2f}")
        print(
            f"(b') plain SimPy, collector paused too:  {plain_nogc['contacts_per_s']:>9,.0f}"
            f" contacts/s; ratio a/b' {ratio_same_gc:.2f}"
        )
        print(
            f"(c) harness, 1,000-agent multi-skill day: {day['contacts_per_s']:>7,.0f} contacts/s"
        )
        print(machine_line(result["machine_report"]))
    if args.profile:
        print(profile_harness(single), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
