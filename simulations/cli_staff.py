"""``contactcenter staff``: the fewest agents meeting a service target.

Single case:   contactcenter staff --arrival-rate-per-hour 200 --aht 180 --sl 0.8 --threshold 20
Per interval:  contactcenter staff --forecast day.csv --sl 0.8 --threshold 20 --shrinkage 0.3
By simulation: add --simulate verify|refine to either; or, for a multi-skill scenario,
               contactcenter staff --scenario day.yaml --group sales
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

from simulations import cli_staff_sim
from simulations.scenario import ScenarioError
from simulations.staffing import (
    ALLOWED_INTERVAL_MINUTES,
    ForecastStaffing,
    InfeasibleTargetError,
    StaffingResult,
    StaffingTarget,
    read_forecast,
    required_agents,
    staff_forecast,
)

EXIT_USAGE = 2
SL_VARIANT = "answered within threshold / all offered (abandons fail)"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "staff",
        help="fewest agents meeting a service-level target (Erlang C, or Erlang A with patience)",
        description=(
            "Find the fewest agents that meet a service-level target, for one arrival rate "
            "or for every interval of a forecast CSV (columns interval_start, arrivals or "
            "arrival_rate_per_hour, aht_s, optional queue). Without --patience the model is "
            "Erlang C; with it, Erlang A (callers abandon after an exponential patience)."
        ),
    )
    source = parser.add_argument_group("workload (give a rate and AHT, or a forecast)")
    source.add_argument("--arrival-rate-per-hour", type=float, metavar="R", help="calls per hour")
    source.add_argument("--aht", type=float, metavar="S", help="average handle time, seconds")
    source.add_argument("--forecast", metavar="FILE.csv", help="per-interval forecast CSV")
    source.add_argument(
        "--interval-minutes",
        type=int,
        choices=ALLOWED_INTERVAL_MINUTES,
        help="forecast interval length (default: detected from the interval starts)",
    )
    targets = parser.add_argument_group("targets")
    targets.add_argument(
        "--sl", type=float, default=0.8, help="service level target, 0..1 (default 0.8)"
    )
    targets.add_argument(
        "--threshold", type=float, default=20.0, help="service level threshold, s (default 20)"
    )
    targets.add_argument("--max-asa", type=float, metavar="S", help="ASA ceiling, seconds")
    targets.add_argument("--max-occupancy", type=float, metavar="F", help="e.g. 0.85")
    targets.add_argument(
        "--max-abandon", type=float, metavar="F", help="abandon rate ceiling (with --patience)"
    )
    targets.add_argument(
        "--shrinkage", type=float, default=0.0, help="share of paid time off the phones, 0..1"
    )
    targets.add_argument("--min-agents", type=int, default=0, help="floor per interval")
    parser.add_argument(
        "--patience", type=float, metavar="S", help="mean caller patience, s (selects Erlang A)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    cli_staff_sim.add_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        target = _target(args)
        patience = _patience(args)
        cli_staff_sim.check_arguments(args)
        if args.scenario is not None:
            return cli_staff_sim.run_group_search(args)
        if args.forecast is not None:
            if args.arrival_rate_per_hour is not None or args.aht is not None:
                raise ValueError("give either --forecast or --arrival-rate-per-hour/--aht")
            return _run_forecast(args, target, patience)
        if args.arrival_rate_per_hour is None or args.aht is None:
            raise ValueError("need --arrival-rate-per-hour and --aht (or --forecast FILE.csv)")
        if args.interval_minutes is not None:
            raise ValueError("--interval-minutes only applies to --forecast")
        return _run_single(args, target, patience)
    except (ValueError, TypeError, InfeasibleTargetError, ScenarioError) as error:
        print(f"contactcenter staff: error: {error}", file=sys.stderr)
        return EXIT_USAGE


def _target(args: argparse.Namespace) -> StaffingTarget:
    return StaffingTarget(
        service_level=args.sl,
        threshold=args.threshold,
        max_asa=args.max_asa,
        max_occupancy=args.max_occupancy,
        max_abandon=args.max_abandon,
        shrinkage=args.shrinkage,
        min_agents=args.min_agents,
    )


def _patience(args: argparse.Namespace) -> float | None:
    patience: float | None = args.patience
    if patience is not None and not (patience > 0.0 and not math.isnan(patience)):
        raise ValueError(f"--patience must be a positive number of seconds, got {patience!r}")
    if args.max_abandon is not None and patience is None:
        raise ValueError("--max-abandon needs --patience (Erlang C has no abandonment)")
    return patience


def _model(patience: float | None) -> str:
    return "erlang_c" if patience is None else "erlang_a"


def _target_json(target: StaffingTarget, patience: float | None) -> dict[str, Any]:
    return {
        "service_level": target.service_level,
        "threshold_s": target.threshold,
        "service_level_variant": SL_VARIANT,
        "max_asa_s": target.max_asa,
        "max_occupancy": target.max_occupancy,
        "max_abandon": target.max_abandon,
        "shrinkage": target.shrinkage,
        "min_agents": target.min_agents,
        "patience_s": patience,
    }


def _result_json(result: StaffingResult) -> dict[str, Any]:
    return {
        "agents": result.agents,
        "scheduled": result.scheduled,
        "load_erlangs": result.load,
        "service_level": result.service_level,
        "asa_s": result.asa,
        "occupancy": result.occupancy,
        "p_wait": result.p_wait,
        "p_abandon": result.p_abandon,
    }


# --------------------------------------------------------------------------- single case


def _run_single(args: argparse.Namespace, target: StaffingTarget, patience: float | None) -> int:
    rate_per_hour: float = args.arrival_rate_per_hour
    aht: float = args.aht
    result = required_agents(rate_per_hour, aht, target, patience=patience, interval_s=3600.0)
    if args.simulate is not None:
        return cli_staff_sim.run_single(
            args, rate_per_hour, aht, target, patience, result, _result_json(result)
        )
    if args.json:
        payload = {
            "model": _model(patience),
            "inputs": {"arrival_rate_per_hour": rate_per_hour, "aht_s": aht},
            "target": _target_json(target, patience),
            "result": _result_json(result),
        }
        print(json.dumps(payload))
        return 0
    model = "Erlang C" if patience is None else f"Erlang A, mean patience {patience:g} s"
    lines = [
        f"Staffing for {rate_per_hour:g} calls/hour, AHT {aht:g} s ({model})",
        f"Target: {_describe_target(target)}",
        "",
        _line("offered load", f"{result.load:.2f} Erlangs"),
        _line("agents needed", str(result.agents)),
        _line(f"scheduled ({target.shrinkage:.0%} shrinkage)", str(result.scheduled)),
        _line(
            "service level",
            f"{_percent(result.service_level)} "
            f"(answered within {target.threshold:g} s / all offered)",
        ),
        _line("ASA", f"{result.asa:.1f} s"),
        _line("occupancy", _percent(result.occupancy)),
        _line("probability of waiting", _percent(result.p_wait)),
    ]
    if result.p_abandon is not None:
        lines.append(_line("abandoned", _percent(result.p_abandon)))
    print("\n".join(lines))
    return 0


def _line(label: str, value: str) -> str:
    return f"  {label + ':':<30}{value}"


def _percent(value: float) -> str:
    return f"{100.0 * value:.1f}%"


def _describe_target(target: StaffingTarget) -> str:
    parts = [f"{target.service_level:.0%} answered within {target.threshold:g} s"]
    if target.max_asa is not None:
        parts.append(f"ASA <= {target.max_asa:g} s")
    if target.max_occupancy is not None:
        parts.append(f"occupancy <= {target.max_occupancy:.0%}")
    if target.max_abandon is not None:
        parts.append(f"abandoned <= {target.max_abandon:.1%}")
    if target.min_agents:
        parts.append(f"at least {target.min_agents} agents")
    return ", ".join(parts)


# --------------------------------------------------------------------------- forecast


def _run_forecast(args: argparse.Namespace, target: StaffingTarget, patience: float | None) -> int:
    try:
        forecast = read_forecast(args.forecast, interval_minutes=args.interval_minutes)
    except OSError as error:
        raise ValueError(f"cannot read {args.forecast}: {error.strerror or error}") from error
    staffing = staff_forecast(forecast, target, patience=patience)
    if args.simulate is not None:
        return cli_staff_sim.run_forecast(args, staffing, _forecast_json(staffing))
    if args.json:
        print(json.dumps(_forecast_json(staffing)))
    else:
        print(_forecast_table(staffing))
    return 0


def _forecast_json(staffing: ForecastStaffing) -> dict[str, Any]:
    intervals = []
    for interval, result in staffing.rows():
        row = {
            "line": interval.line,
            "queue": interval.queue,
            "interval_start": interval.start,
            "arrivals": interval.arrivals,
            "arrival_rate_per_hour": interval.arrival_rate_per_hour,
            "aht_s": interval.aht,
        }
        row.update(_result_json(result))
        intervals.append(row)
    return {
        "model": _model(staffing.patience),
        "file": staffing.forecast.path,
        "interval_minutes": staffing.forecast.interval_minutes,
        "target": _target_json(staffing.target, staffing.patience),
        "intervals": intervals,
        "summary": {
            "peak_agents": staffing.peak_agents(),
            "scheduled_agent_hours": staffing.scheduled_hours(),
        },
    }


def _forecast_table(staffing: ForecastStaffing) -> str:
    forecast = staffing.forecast
    with_abandon = staffing.patience is not None
    multi_queue = len(forecast.queues) > 1
    header = ["start", "calls", "AHT s", "load", "agents", "sched", "SL", "ASA s", "occ"]
    if with_abandon:
        header.append("aband")
    if multi_queue:
        header.insert(0, "queue")
    table = [header]
    for interval, result in staffing.rows():
        cells = [
            interval.start,
            f"{interval.arrivals:g}",
            f"{interval.aht:g}",
            f"{result.load:.1f}",
            str(result.agents),
            str(result.scheduled),
            _percent(result.service_level),
            f"{result.asa:.1f}",
            _percent(result.occupancy),
        ]
        if with_abandon:
            cells.append(_percent(result.p_abandon or 0.0))
        if multi_queue:
            cells.insert(0, interval.queue)
        table.append(cells)
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    text_columns = 2 if multi_queue else 1  # queue and start are left-aligned
    lines = []
    for row in table:
        cells = [
            cell.ljust(width) if i < text_columns else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    model = (
        "Erlang C" if staffing.patience is None else f"Erlang A, patience {staffing.patience:g} s"
    )
    peaks = ", ".join(f"{queue} {agents}" for queue, agents in staffing.peak_agents().items())
    intro = [
        f"Staffing for {forecast.path} ({forecast.interval_minutes}-minute intervals, {model})",
        f"Target: {_describe_target(staffing.target)}; "
        f"SL = answered within threshold / all offered; "
        f"scheduled includes {staffing.target.shrinkage:.0%} shrinkage",
        "",
    ]
    outro = [
        "",
        f"Peak agents: {peaks}",
        f"Scheduled agent-hours: {staffing.scheduled_hours():.1f}",
    ]
    return "\n".join(intro + lines + outro)
