"""Outbound dialer benchmark (issue 7): progressive vs the best fixed ratio vs predictive.

Everything runs in this one process, on the same seeds for every mode (common random
numbers: seed s gives every mode the same sequence of dial outcomes and talk times).

Scenarios (8-hour days, US mode: each simulated day is one campaign, so one ledger window):
  S1        25 agents; 25% of dials live after 4-16 s, 15% busy, 30% machine, the rest no
            answer at 26 s; talk lognormal mean 120 s (sd 80 s); wrap-up 15 s
  S1-drop   S1 with the live-answer rate dropping from 25% to 12% at mid-day
  S1-10     S1 with 10 agents
  S1-5      S1 with 5 agents

Best fixed ratio: power mode (lines per ready agent) over a grid of ratios: a coarse pass
(1.0 to 4.0, step 0.3) and a fine pass (step 0.1) on 6 screening seeds find the largest ratio
with no window over 3%; it is then run on all seeds, stepping down by 0.1 while any seed's
window is over 3%. The best ratio is the one with the most talk minutes per agent hour and
no window over 3% (talk grows with the ratio, so that is the largest one that passes).

    .venv/bin/python benchmarks/dialer_bench.py [--seeds 30] [--json] [--plot FILE.png]
    .venv/bin/python benchmarks/dialer_bench.py --quick --json      # smoke run, seconds

With --json, stdout has one JSON object per scenario and mode (one per line) and the table
goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from routing.pacing import PacingConfig, PacingMode  # noqa: E402
from simulations.outbound import OutboundScenario, Summary, run_days  # noqa: E402

LIMIT = 0.03


def scenarios(hours: float) -> list[OutboundScenario]:
    return [
        OutboundScenario(name="S1", hours=hours),
        OutboundScenario(name="S1-drop", hours=hours, p_live_after=0.12, change_at_h=hours / 2.0),
        OutboundScenario(name="S1-10", agents=10, hours=hours),
        OutboundScenario(name="S1-5", agents=5, hours=hours),
    ]


def feasible(s: Summary) -> bool:
    return s.worst_window <= LIMIT


def best_fixed_ratio(
    sc: OutboundScenario,
    seeds: list[int],
    screen: list[int],
    coarse: list[float],
    fine_step: float,
    log: Callable[[str], None],
) -> tuple[Summary, list[dict[str, Any]]]:
    """Grid search over power-mode ratios; returns the best and what was tried."""
    tried: list[dict[str, Any]] = []

    def run(ratio: float, on: list[int], stage: str) -> Summary:
        s = run_days(sc, PacingConfig(mode=PacingMode.POWER, ratio=round(ratio, 2)), on)
        tried.append(
            {
                "ratio": round(ratio, 2),
                "stage": stage,
                "seeds": len(on),
                "talk": round(s.talk_min_per_agent_hour, 3),
                "worst_window": round(s.worst_window, 5),
            }
        )
        log(
            f"  {sc.name} power {ratio:.2f} ({stage}, {len(on)} seeds): "
            f"talk {s.talk_min_per_agent_hour:.2f}, worst window {s.worst_window:.2%}"
        )
        return s

    # Coarse pass on the screening seeds: the last ratio with no window over 3%.
    last_ok = coarse[0]
    for r in coarse:
        if not feasible(run(r, screen, "coarse")):
            break
        last_ok = r
    # Fine pass, still on the screening seeds, up from there.
    cand = last_ok
    step = coarse[1] - coarse[0] if len(coarse) > 1 else fine_step
    r = last_ok + fine_step
    while r < last_ok + step - 1e-9:
        if not feasible(run(r, screen, "fine")):
            break
        cand = r
        r += fine_step
    # Confirm on all seeds, stepping down while some seed's window is over 3%. Talk grows
    # with the ratio (more lines, less waiting), so the largest ratio that passes is the
    # best; a ratio that fails on the screening seeds cannot pass on all of them.
    best: Summary | None = None
    r = cand
    while best is None and r > 0.05:
        s = run(r, seeds, "all seeds")
        if feasible(s):
            best = s
        r -= fine_step
    assert best is not None or s is not None
    if best is None:  # even the lowest ratio breaches: report the last one tried
        best = s
    return best, tried


def table(rows: list[dict[str, Any]]) -> str:
    head = (
        f"{'scenario':<8} {'mode':<18} {'talk min/ag-h':>14} {'abandon mean':>12} "
        f"{'worst window':>12} {'windows >3%':>11} {'wait s':>7} {'dials/day':>9} "
        f"{'lives/day':>9}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        mode = r["mode"] if r["ratio"] is None else f"power {r['ratio']:.2f}"
        lines.append(
            f"{r['scenario']:<8} {mode:<18} "
            f"{r['talk_min_per_agent_hour']:>8.2f} ±{r['talk_ci95']:<4.2f} "
            f"{r['abandon_rate_mean']:>12.2%} {r['abandon_rate_worst_window']:>12.2%} "
            f"{r['windows_in_breach']:>11.1%} {r['wait_between_calls_s']:>7.1f} "
            f"{r['dials_per_day']:>9.0f} {r['live_answers_per_day']:>9.0f}"
        )
    return "\n".join(lines)


def targets(rows: list[dict[str, Any]]) -> list[tuple[str, bool, str]]:
    by = {(r["scenario"], r["mode"]): r for r in rows}
    out: list[tuple[str, bool, str]] = []

    def talk(s: str, m: str) -> float:
        return float(by[(s, m)]["talk_min_per_agent_hour"])

    worst = max(r["abandon_rate_worst_window"] for r in rows if r["mode"] != "power")
    worst_power = max(r["abandon_rate_worst_window"] for r in rows if r["mode"] == "power")
    out.append(
        (
            "no window over 3% (progressive, best ratio, predictive)",
            max(worst, worst_power) <= LIMIT,
            f"worst {max(worst, worst_power):.2%}",
        )
    )
    if ("S1", "predictive") in by:
        p, b = talk("S1", "predictive"), talk("S1", "power")
        out.append(("S1 predictive >= 45 talk min/agent hour", p >= 45.0, f"{p:.2f}"))
        out.append(
            ("S1 predictive within 1 min of best fixed ratio", p >= b - 1.0, f"{p - b:+.2f}")
        )
    if ("S1-drop", "predictive") in by:
        p, b = talk("S1-drop", "predictive"), talk("S1-drop", "power")
        out.append(("S1-drop predictive beats best ratio by >= 2", p - b >= 2.0, f"{p - b:+.2f}"))
    for s in ("S1-10", "S1-5"):
        if (s, "predictive") in by:
            p, g = talk(s, "predictive"), talk(s, "progressive")
            breach = by[(s, "predictive")]["windows_in_breach"]
            out.append(
                (
                    f"{s} predictive: no breach, >= progressive - 0.5",
                    breach == 0 and p >= g - 0.5,
                    f"{p - g:+.2f} vs progressive, breach share {breach:.0%}",
                )
            )
    return out


def plot(path: str, rows: list[dict[str, Any]], series: dict[str, list[float]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
    names = list(dict.fromkeys(r["scenario"] for r in rows))
    modes = ["progressive", "power", "predictive"]
    width = 0.27
    for i, m in enumerate(modes):
        ys = [
            next(
                (
                    r["talk_min_per_agent_hour"]
                    for r in rows
                    if r["scenario"] == n and r["mode"] == m
                ),
                0.0,
            )
            for n in names
        ]
        label = "best fixed ratio" if m == "power" else m
        ax1.bar([j + (i - 1) * width for j in range(len(names))], ys, width, label=label)
    ax1.set_xticks(range(len(names)), names)
    ax1.set_ylabel("talk minutes per agent hour")
    ax1.set_ylim(30, 55)
    ax1.legend(fontsize=8, loc="upper right")
    ax1.set_title("Mean over seeds")
    for label, ys in series.items():
        ax2.plot([(k + 0.5) / 4 for k in range(len(ys))], ys, label=label)
    ax2.set_xlabel("hour of the day (S1-drop: live answers 25% -> 12% at mid-day)")
    ax2.set_ylabel("talk min per agent hour (15-min)")
    ax2.legend(fontsize=8)
    ax2.set_title("S1-drop through the day")
    fig.tight_layout()
    fig.savefig(path, dpi=72)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=30)
    ap.add_argument("--hours", type=float, default=8.0)
    ap.add_argument("--json", action="store_true", help="one JSON object per line")
    ap.add_argument("--plot", metavar="FILE.png")
    ap.add_argument("--scenarios", default="S1,S1-drop,S1-10,S1-5")
    ap.add_argument("--quick", action="store_true", help="smoke run: 2 seeds, 1 hour")
    args = ap.parse_args(argv)
    if args.quick:
        args.seeds, args.hours = min(args.seeds, 2), min(args.hours, 1.0)
    seeds = list(range(1, args.seeds + 1))
    screen = seeds[: min(len(seeds), 6)]
    coarse = [1.0, 1.6, 2.2] if args.quick else [round(1.0 + 0.3 * i, 1) for i in range(11)]
    fine = 0.3 if args.quick else 0.1
    human = sys.stderr if args.json else sys.stdout

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    wanted = set(args.scenarios.split(","))
    rows: list[dict[str, Any]] = []
    series: dict[str, list[float]] = {}
    t0 = time.perf_counter()
    for sc in scenarios(args.hours):
        if sc.name not in wanted:
            continue
        prog = run_days(sc, PacingConfig(mode=PacingMode.PROGRESSIVE), seeds)
        power, tried = best_fixed_ratio(sc, seeds, screen, coarse, fine, log)
        pred = run_days(sc, PacingConfig(mode=PacingMode.PREDICTIVE), seeds)
        for s in (prog, power, pred):
            row = s.as_dict()
            if s is power:
                row["grid"] = tried
            rows.append(row)
            if args.json:
                print(json.dumps(row), flush=True)
        log(
            f"{sc.name}: progressive {prog.talk_min_per_agent_hour:.2f}, best ratio "
            f"{power.ratio} {power.talk_min_per_agent_hour:.2f}, predictive "
            f"{pred.talk_min_per_agent_hour:.2f} ({time.perf_counter() - t0:.0f} s)"
        )
        if sc.name == "S1-drop":
            for label, s in (
                ("progressive", prog),
                (f"best fixed ratio {power.ratio}", power),
                ("predictive", pred),
            ):
                series[label] = s.talk_by_interval
    print(table(rows), file=human)
    print(
        f"\n{args.seeds} seeds, {args.hours:g}-hour days, {time.perf_counter() - t0:.0f} s",
        file=human,
    )
    for name, ok, detail in targets(rows):
        print(f"  [{'met' if ok else 'NOT met'}] {name}: {detail}", file=human)
    if args.plot:
        plot(args.plot, rows, series)
        print(f"plot written to {args.plot}", file=human)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
