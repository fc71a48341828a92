"""The simulation options of ``contactcenter staff``: verify or refine the analytic answer
by simulating each interval, or search a multi-skill scenario's group size.

    contactcenter staff --arrival-rate-per-hour 360 --aht 240 --simulate refine
    contactcenter staff --forecast day.csv --simulate verify --replications 10
    contactcenter staff --scenario config/scenarios/multiskill_day.yaml --group generalists
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from simulations.replications import Estimate
from simulations.scenario import load_scenario
from simulations.staffing import (
    ForecastStaffing,
    StaffingResult,
    StaffingTarget,
    scheduled_agents,
)
from simulations.staffing_sim import (
    SimCheck,
    check_interval,
    refine_interval,
    search_group,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sim = parser.add_argument_group(
        "simulation (the real routing engine in SimPy; slower, no formula assumptions)"
    )
    sim.add_argument(
        "--simulate",
        choices=("verify", "refine"),
        help="verify: simulate the analytic staffing and report the simulated figures; "
        "refine: the fewest agents whose simulated figures meet the target",
    )
    sim.add_argument(
        "--scenario",
        metavar="FILE.yaml",
        help="multi-skill scenario (see `contactcenter simulate`): search the size of --group "
        "until every queue meets its service-level target",
    )
    sim.add_argument("--group", metavar="NAME", help="agent group to size, with --scenario")
    sim.add_argument(
        "--replications", type=int, default=10, help="replications per staffing level (10)"
    )
    sim.add_argument("--seed", type=int, default=1, help="base seed (common to all levels)")
    sim.add_argument(
        "--sim-hours",
        type=float,
        default=8.0,
        help="simulated hours per interval check, after a 1-hour warm-up (8)",
    )


def check_arguments(args: argparse.Namespace) -> None:
    if args.replications < 2:
        raise ValueError("--replications must be at least 2 (a confidence interval needs two)")
    if not args.sim_hours > 0:
        raise ValueError("--sim-hours must be a positive number of hours")
    if args.scenario is not None:
        if args.group is None:
            raise ValueError("--scenario needs --group NAME: the agent group to size")
        if args.forecast is not None or args.arrival_rate_per_hour is not None:
            raise ValueError("give either --scenario or a rate/forecast, not both")
        if args.simulate is not None:
            raise ValueError(
                "--simulate applies to a rate or a forecast; --scenario always "
                "searches by simulation"
            )
    elif args.group is not None:
        raise ValueError("--group only applies with --scenario FILE.yaml")


def _checker(args: argparse.Namespace, target: StaffingTarget, patience: float | None) -> Any:
    options = {
        "patience_s": patience,
        "replications": args.replications,
        "seed": args.seed,
        "horizon_s": args.sim_hours * 3600.0,
    }

    def check(rate: float, aht: float, agents: int) -> tuple[int, list[SimCheck]]:
        if args.simulate == "refine":
            return refine_interval(rate, aht, agents, target, **options)
        return agents, [check_interval(rate, aht, agents, target, **options)]

    return check


def run_single(
    args: argparse.Namespace,
    rate_per_hour: float,
    aht: float,
    target: StaffingTarget,
    patience: float | None,
    result: StaffingResult,
    analytic: dict[str, Any],
) -> int:
    agents, checks = _checker(args, target, patience)(rate_per_hour, aht, max(1, result.agents))
    chosen = next(c for c in checks if c.agents == agents)
    simulation = {
        "mode": args.simulate,
        "agents": agents,
        "scheduled": scheduled_agents(agents, target.shrinkage),
        "meets": chosen.meets,
        "checks": [c.as_dict() for c in checks],
    }
    if args.json:
        print(
            json.dumps(
                {
                    "inputs": {"arrival_rate_per_hour": rate_per_hour, "aht_s": aht},
                    "analytic": analytic,
                    "simulation": simulation,
                }
            )
        )
        return 0
    print(f"Staffing for {rate_per_hour:g} calls/hour, AHT {aht:g} s")
    print(
        f"  analytic (Erlang {'C' if patience is None else 'A'}): {result.agents} agents, "
        f"SL {result.service_level:.1%}"
    )
    for c in checks:
        print(
            f"  simulated with {c.agents:>4} agents: SL {_ci(c.service_level)}, "
            f"ASA {_ci(c.asa_s, '.1f')} s, abandoned {_ci(c.abandon_rate)}"
            f"  {'meets' if c.meets else 'misses'} the target"
        )
    verb = "needs" if args.simulate == "refine" else "has"
    print(
        f"  simulation {verb} {agents} agents ({simulation['scheduled']} scheduled); "
        f"{args.replications} replications of {args.sim_hours:g} h, seed {args.seed}, "
        "decisions on the mean, 95% intervals shown"
    )
    return 0


def run_forecast(
    args: argparse.Namespace, staffing: ForecastStaffing, analytic: dict[str, Any]
) -> int:
    check = _checker(args, staffing.target, staffing.patience)
    rows: list[tuple[int, list[SimCheck]] | None] = []
    total = len(staffing.forecast.intervals)
    for i, (interval, result) in enumerate(staffing.rows()):
        if interval.arrival_rate_per_hour <= 0:
            rows.append(None)
            continue
        agents, checks = check(interval.arrival_rate_per_hour, interval.aht, max(1, result.agents))
        rows.append((agents, checks))
        if not args.json:
            print(f"\rsimulating interval {i + 1}/{total}", end="", file=sys.stderr, flush=True)
    if not args.json:
        print("\r" + " " * 40 + "\r", end="", file=sys.stderr)
    for row, entry in zip(analytic["intervals"], rows, strict=True):
        if entry is None:
            row["simulation"] = None
            continue
        agents, checks = entry
        chosen = next(c for c in checks if c.agents == agents)
        row["simulation"] = {
            "agents": agents,
            "scheduled": scheduled_agents(agents, staffing.target.shrinkage),
            "meets": chosen.meets,
            "checks": [c.as_dict() for c in checks],
        }
    analytic["simulation"] = {
        "mode": args.simulate,
        "replications": args.replications,
        "seed": args.seed,
        "hours_per_check": args.sim_hours,
    }
    if args.json:
        print(json.dumps(analytic))
        return 0
    print(
        f"Staffing for {staffing.forecast.path}, checked by simulation ({args.simulate}; "
        f"{args.replications} x {args.sim_hours:g} h per check, seed {args.seed})"
    )
    header = ("queue", "start", "calls/h", "erlang", "sim agents", "sim SL (95% CI)", "meets")
    lines = [header]
    for row in analytic["intervals"]:
        sim = row["simulation"]
        if sim is None:
            cells = (row["queue"], row["interval_start"], "0", "0", "-", "-", "-")
        else:
            chosen = next(c for c in sim["checks"] if c["agents"] == sim["agents"])
            sl = chosen["service_level"]
            cells = (
                row["queue"],
                row["interval_start"],
                f"{row['arrival_rate_per_hour']:g}",
                str(row["agents"]),
                str(sim["agents"]),
                _ci_dict(sl),
                "yes" if sim["meets"] else "NO",
            )
        lines.append(cells)
    widths = [max(len(r[i]) for r in lines) for i in range(len(header))]
    for r in lines:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return 0


def run_group_search(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    found = search_group(scenario, args.group, replications=args.replications, seed=args.seed)
    if args.json:
        print(
            json.dumps(
                {
                    "scenario": args.scenario,
                    "replications": args.replications,
                    "seed": args.seed,
                    **found.as_dict(),
                }
            )
        )
        return 0
    print(
        f"{args.scenario}: group {args.group!r} needs {found.count} agents for every queue "
        f"to meet its service-level target ({args.replications} replications, seed {args.seed})"
    )
    for count, per_queue in sorted(found.checks.items()):
        figures = ", ".join(f"{q} SL {_ci(c.service_level)}" for q, c in per_queue.items())
        ok = all(c.meets for c in per_queue.values())
        print(f"  {count:>5} agents: {figures}  {'meets' if ok else 'misses'}")
    return 0


def _ci(estimate: Estimate, spec: str = ".1%") -> str:
    if estimate.mean is None:
        return "n/a"
    if estimate.low is None or estimate.high is None:
        return format(estimate.mean, spec)
    return f"{estimate.mean:{spec}} [{estimate.low:{spec}}, {estimate.high:{spec}}]"


def _ci_dict(values: dict[str, Any]) -> str:
    mean, low, high = values.get("mean"), values.get("low"), values.get("high")
    if mean is None:
        return "n/a"
    if low is None or high is None:
        return f"{mean:.1%}"
    return f"{mean:.1%} [{low:.1%}, {high:.1%}]"
