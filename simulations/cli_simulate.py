"""`contactcenter simulate SCENARIO`: replications of a scenario, as a table, JSON or a report."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from simulations.replications import Progress, default_workers, run_replications
from simulations.report import analytic_for, format_table, to_json, write_report
from simulations.scenario import ScenarioError, load_scenario

EXIT_BAD_INPUT = 2


def register(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "simulate",
        help="run a staffing simulation scenario (SimPy driving the routing engine)",
        description=(
            "Simulate a scenario YAML file with the real routing engine: replications in "
            "parallel, 95%% confidence intervals, Erlang C/A beside single-queue results."
        ),
    )
    parser.add_argument("scenario", help="scenario YAML file (see config/scenarios/)")
    parser.add_argument(
        "--replications", "-n", type=_positive, help="number of replications (default: scenario)"
    )
    parser.add_argument("--seed", type=_non_negative, help="base seed (default: scenario)")
    parser.add_argument(
        "--workers",
        type=_positive,
        help=f"worker processes (default: {default_workers()}, the usable cores)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--report", metavar="DIR", help="write CSV, JSON, PNG plots and HTML")
    parser.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: only on a terminal)",
    )
    parser.set_defaults(func=run)
    return parser


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not a whole number >= 1")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text} is not a whole number >= 0")
    return value


def run(args: argparse.Namespace) -> int:
    try:
        scenario = load_scenario(args.scenario)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    n = args.replications or scenario.replications
    progress = None
    if args.progress is not False:
        progress = Progress(n, force=bool(args.progress))
    summary = run_replications(
        scenario,
        replications=n,
        seed=args.seed,
        workers=args.workers,
        keep_samples=bool(args.report),
        progress=progress,
    )
    analytic = analytic_for(scenario)
    if args.report:
        page = write_report(summary, args.report, analytic)
        print(f"report written: {page}", file=sys.stderr)
    if args.json:
        print(json.dumps(to_json(summary, analytic), allow_nan=False, default=str))
    else:
        print(format_table(summary, analytic))
    return 0
