"""Presenting a simulation: the terminal table, the analytic Erlang figures beside it, and
a report directory (CSV, JSON, PNG plots, one HTML page)."""

from __future__ import annotations

import csv
import html
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from routing.model import Channel
from routing.stats import SLVariant, describe_service_level
from simulations.distributions import Exponential
from simulations.erlang import UnstableQueueError, erlang_a_metrics, erlang_c_metrics
from simulations.replications import Estimate, Summary
from simulations.scenario import Scenario, format_clock

# --------------------------------------------------------------------- analytic


@dataclass(frozen=True, slots=True)
class Analytic:
    """Erlang C or Erlang A for a single-skill single-queue scenario."""

    model: str
    agents: int
    exact: bool
    """False when the scenario breaks an assumption of the formula (then a rough guide)."""
    notes: tuple[str, ...]
    figures: dict[str, float]
    unstable: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "agents": self.agents,
            "exact": self.exact,
            "notes": list(self.notes),
            "unstable": self.unstable,
            **self.figures,
        }


_SL_OF_VARIANT = {
    SLVariant.ALL_ABANDONS_FAIL: "service_level",
    SLVariant.ANSWERED_ONLY: "service_level_answered",
    SLVariant.ABANDONS_WITHIN_T_EXCLUDED: "service_level_excluding_threshold_abandons",
    SLVariant.ABANDONS_WITHIN_T_MET: "service_level_threshold_abandons_met",
}


def analytic_for(scenario: Scenario) -> Analytic | None:
    """The Erlang figure for the scenario, when it has one queue, one rate and agents who
    all serve it for the whole run; None otherwise."""
    if len(scenario.queues) != 1:
        return None
    q = scenario.queues[0]
    if q.forecast is not None or q.channel is not Channel.VOICE:
        return None
    groups = scenario.groups
    if any(g.login_at > 0 or g.logout_at is not None or g.breaks for g in groups):
        return None
    need = q.required_skills
    if not all(all(g.skills.get(s, 0) >= lvl for s, lvl in need.items()) for g in groups):
        return None
    agents = sum(g.agents for g in groups)
    if agents < 1:
        return None
    rate = scenario.segments(q.name)[0].rate
    aht = q.handle_time.mean + (q.wrap_up.mean if q.wrap_up is not None else 0.0)
    threshold = q.service_level.threshold_s
    notes: list[str] = []
    if not isinstance(q.handle_time, Exponential):
        notes.append("handle time is not exponential")
    if q.wrap_up is not None:
        notes.append("wrap-up is added to the handle time")
    if q.patience is not None and not isinstance(q.patience, Exponential):
        notes.append("patience is not exponential (its mean is used)")
    if q.steps or q.max_wait is not None:
        notes.append("routing steps / max wait are not modelled")
    if scenario.answer_delay is not None:
        notes.append("answer delay is not modelled")
    if q.patience is not None and q.short_abandon_s > 0:
        notes.append(f"the formula does not remove abandons under {q.short_abandon_s:g} s")
    try:
        if q.patience is None:
            c = erlang_c_metrics(rate, aht, agents, threshold)
            figures = {  # nobody abandons, so every service-level variant is this one
                "service_level": c.service_level,
                "asa_s": c.asa,
                "abandon_rate": 0.0,
                "occupancy": c.occupancy,
                "p_wait": c.p_wait,
            }
            model = "Erlang C"
        else:
            a = erlang_a_metrics(rate, aht, agents, threshold, q.patience.mean)
            figures = {
                "service_level": float(getattr(a, _SL_OF_VARIANT[scenario.service_level_variant])),
                "asa_s": a.asa,
                "abandon_rate": a.p_abandon,
                "occupancy": a.occupancy,
                "p_wait": a.p_wait,
            }
            model = "Erlang A"
    except UnstableQueueError:
        return Analytic("Erlang C", agents, False, ("unstable: load >= agents",), {}, True)
    return Analytic(model, agents, not notes, tuple(notes), figures)


# --------------------------------------------------------------------- formatting

_LABELS = {
    "service_level": ("service level", "pct"),
    "asa_s": ("ASA", "s"),
    "abandon_rate": ("abandon rate", "pct"),
    "occupancy": ("occupancy", "pct"),
    "aht_s": ("AHT", "s"),
    "longest_wait_s": ("longest wait", "s"),
    "wait_p50_s": ("wait p50", "s"),
    "wait_p90_s": ("wait p90", "s"),
    "wait_p95_s": ("wait p95", "s"),
    "offered": ("offered", "n"),
    "answered": ("answered", "n"),
    "abandoned": ("abandoned", "n"),
}


def fmt(value: float | None, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit == "pct":
        return f"{100.0 * value:.1f}%"
    if unit == "s":
        return f"{value:.1f} s"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.1f}"


def fmt_estimate(e: Estimate, unit: str) -> str:
    if e.mean is None:
        return "-"
    if e.half_width is None:
        return fmt(e.mean, unit)
    hw = fmt(e.half_width, unit).replace(" s", "")
    return f"{fmt(e.mean, unit)} ± {hw}"


def header_lines(summary: Summary) -> list[str]:
    s = summary.scenario
    title = s.name or "scenario"
    lines = [
        f"{title}: {summary.replications} replication(s), seed {summary.seed}, "
        f"{s.horizon_s / 3600:g} h simulated"
        + (f" (first {s.warmup / 60:g} min excluded as warm-up)" if s.warmup else "")
        + f", {100 * summary.level:g}% confidence intervals",
    ]
    for q in s.queues:
        lines.append(
            f"service level of {q.name}: "
            + describe_service_level(
                s.service_level_variant, q.service_level.threshold_s, q.short_abandon_s
            )
            + f" (target {100 * q.service_level.target:g}%)"
        )
    return lines


def format_table(summary: Summary, analytic: Analytic | None = None) -> str:
    s = summary.scenario
    out = header_lines(summary)
    for q in s.queues:
        est = summary.queues[q.name]
        out.append("")
        volume = (
            f"{q.arrival_rate_per_hour:g}/h" if q.arrival_rate_per_hour is not None else "forecast"
        )
        out.append(f"queue {q.name} ({q.channel.value}, {volume}, {q.handle_time.describe()})")
        show = analytic is not None and len(s.queues) == 1
        heading = f"  {'metric':<15}{'simulated':>24}"
        if show and analytic is not None:
            heading += f"{analytic.model + ('' if analytic.exact else ' (approx.)'):>22}"
        out.append(heading)
        for metric in (
            "service_level",
            "asa_s",
            "abandon_rate",
            "occupancy",
            "aht_s",
            "longest_wait_s",
            "wait_p50_s",
            "wait_p90_s",
            "wait_p95_s",
            "offered",
            "answered",
            "abandoned",
        ):
            label, unit = _LABELS[metric]
            line = f"  {label:<15}{fmt_estimate(est[metric], unit):>24}"
            if show and analytic is not None and metric in analytic.figures:
                line += f"{fmt(analytic.figures[metric], unit):>22}"
            out.append(line)
        if show and analytic is not None:
            note = f"{analytic.model} with {analytic.agents} agents"
            if analytic.unstable:
                note = "Erlang C: unstable (offered load >= agents); see the simulated figures"
            elif analytic.notes:
                note += "; approximate: " + "; ".join(analytic.notes)
            out.append(f"  ({note})")
    if summary.groups and len(summary.groups) > 1:
        out.append("")
        out.append(f"  {'agent group':<20}{'agents':>8}{'handled/agent':>22}{'occupancy':>22}")
        for name, g in summary.groups.items():
            out.append(
                f"  {name:<20}{fmt(g['agents'].mean, 'n'):>8}"
                f"{fmt_estimate(g['handled_per_agent'], 'n'):>22}"
                f"{fmt_estimate(g['occupancy'], 'pct'):>22}"
            )
    out.append("")
    out.append(f"overall occupancy {fmt_estimate(summary.occupancy, 'pct')}")
    if s.has_forecast:
        out.append("")
        out.extend(format_intervals(summary))
    return "\n".join(out)


def format_intervals(summary: Summary) -> list[str]:
    s = summary.scenario
    lines = [
        f"  {'queue':<12}{'interval':<9}{'offered':>9}{'agents*':>9}{'service level':>18}"
        f"{'ASA':>16}{'abandon':>16}{'occupancy*':>17}"
    ]
    for row in summary.intervals:
        lines.append(
            f"  {row['queue_id']:<12}{format_clock(s.start_s + row['interval_start']):<9}"
            f"{fmt(row['offered'].mean, 'n'):>9}{fmt(row['staffed'].mean, 'n'):>9}"
            f"{fmt_estimate(row['service_level'], 'pct'):>18}"
            f"{fmt_estimate(row['asa_s'], 's'):>16}"
            f"{fmt_estimate(row['abandon_rate'], 'pct'):>16}"
            f"{fmt_estimate(row['occupancy'], 'pct'):>17}"
        )
    lines.append("  * all agents: average logged in and available or handling, and their occupancy")
    return lines


def to_json(summary: Summary, analytic: Analytic | None) -> dict[str, Any]:
    data = summary.to_dict()
    data["service_level_definitions"] = {
        q.name: describe_service_level(
            summary.scenario.service_level_variant, q.service_level.threshold_s, q.short_abandon_s
        )
        for q in summary.scenario.queues
    }
    data["analytic"] = analytic.as_dict() if analytic is not None else None
    return data


# --------------------------------------------------------------------- report directory


def write_report(summary: Summary, directory: str | Path, analytic: Analytic | None = None) -> Path:
    """Write summary.json, queues.csv, intervals.csv, replications.csv, three PNG plots and
    index.html into ``directory``; returns the HTML page's path."""
    import matplotlib

    matplotlib.use("Agg")  # files only; never a window

    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(to_json(summary, analytic), indent=2))
    _write_queues_csv(summary, analytic, out / "queues.csv")
    _write_intervals_csv(summary, out / "intervals.csv")
    _write_replications_csv(summary, out / "replications.csv")
    plots = [
        ("service_level_by_interval.png", _plot_service_level(summary)),
        ("staffing_by_interval.png", _plot_staffing(summary)),
        ("wait_histogram.png", _plot_waits(summary)),
    ]
    for name, fig in plots:
        fig.savefig(out / name, dpi=110, bbox_inches="tight")
        _close(fig)
    page = out / "index.html"
    page.write_text(_html(summary, analytic, [name for name, _ in plots]))
    return page


def _write_queues_csv(summary: Summary, analytic: Analytic | None, path: Path) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["queue", "metric", "mean", "half_width", "low", "high", "n", "analytic"])
        for qname, metrics in summary.queues.items():
            for metric, e in metrics.items():
                exact = analytic.figures.get(metric) if analytic is not None else None
                w.writerow([qname, metric, e.mean, e.half_width, e.low, e.high, e.n, exact])
        for metric, e in (("occupancy_all_agents", summary.occupancy),):
            w.writerow(["(all)", metric, e.mean, e.half_width, e.low, e.high, e.n, None])


def _write_intervals_csv(summary: Summary, path: Path) -> None:
    s = summary.scenario
    metrics = (
        [k for k in summary.intervals[0] if isinstance(summary.intervals[0][k], Estimate)]
        if summary.intervals
        else []
    )
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            ["queue", "interval_start_s", "interval_start"]
            + [f"{m}{suffix}" for m in metrics for suffix in ("", "_half_width")]
        )
        for row in summary.intervals:
            cells: list[Any] = [
                row["queue_id"],
                row["interval_start"],
                format_clock(s.start_s + row["interval_start"]),
            ]
            for m in metrics:
                cells += [row[m].mean, row[m].half_width]
            w.writerow(cells)


def _write_replications_csv(summary: Summary, path: Path) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        metrics = list(next(iter(summary.results[0].queues.values()))) if summary.results else []
        w.writerow(["replication", "queue", *metrics, "arrivals", "wall_s"])
        for r in summary.results:
            for qname, values in r.queues.items():
                w.writerow(
                    [r.replication, qname, *[values.get(m) for m in metrics], r.arrivals, r.wall_s]
                )


def _interval_series(
    summary: Summary, queue: str, metric: str
) -> tuple[list[float], list[float], list[float]]:
    xs, ys, err = [], [], []
    for row in summary.intervals:
        if row["queue_id"] != queue or row[metric].mean is None:
            continue
        xs.append((summary.scenario.start_s + row["interval_start"]) / 3600.0)
        ys.append(row[metric].mean)
        err.append(row[metric].half_width or 0.0)
    return xs, ys, err


def _plot_service_level(summary: Summary) -> Any:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4))
    width = summary.scenario.interval_s / 3600.0
    for q in summary.scenario.queues:
        xs, ys, err = _interval_series(summary, q.name, "service_level")
        mid = [x + width / 2 for x in xs]
        ax.errorbar(
            mid,
            [100 * y for y in ys],
            yerr=[100 * e for e in err],
            marker="o",
            ms=3,
            capsize=2,
            label=q.name,
        )
        ax.axhline(100 * q.service_level.target, ls="--", lw=0.8, color="grey")
    ax.set_xlabel("time of day (h)")
    ax.set_ylabel("service level (%)")
    ax.set_title("Service level by interval (mean and 95% CI over replications)")
    ax.set_ylim(0, 105)
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def _plot_staffing(summary: Summary) -> Any:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4))
    width = summary.scenario.interval_s / 3600.0
    first = summary.scenario.queues[0].name
    xs, staffed, _ = _interval_series(summary, first, "staffed")
    if xs:  # the last interval's level holds to its end
        xs, staffed = [*xs, xs[-1] + width], [*staffed, staffed[-1]]
    ax.step(
        xs,
        staffed,
        where="post",
        color="black",
        label="agents staffed (available or handling)",
    )
    ax.set_xlabel("time of day (h)")
    ax.set_ylabel("agents")
    ax2 = ax.twinx()
    for q in summary.scenario.queues:
        qx, offered, _ = _interval_series(summary, q.name, "offered")
        ax2.plot([x + width / 2 for x in qx], offered, marker=".", lw=1, label=f"{q.name} offered")
    ax2.set_ylabel("contacts offered per interval")
    handles = ax.get_legend_handles_labels()
    handles2 = ax2.get_legend_handles_labels()
    ax.legend(handles[0] + handles2[0], handles[1] + handles2[1], loc="upper left", fontsize=8)
    ax.set_title("Staffing and offered contacts by interval")
    ax.grid(alpha=0.3)
    return fig


def _plot_waits(summary: Summary) -> Any:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 4))
    for q in summary.scenario.queues:
        parts = [r.wait_samples[q.name] for r in summary.results if q.name in r.wait_samples]
        waits = np.concatenate(parts) if parts else np.empty(0)
        if not len(waits):
            continue
        top = max(float(np.percentile(waits, 99.5)), q.service_level.threshold_s * 1.5, 1.0)
        ax.hist(
            waits,
            bins=60,
            range=(0.0, top),
            histtype="step",
            density=True,
            label=f"{q.name} (n={len(waits):,})",
        )
        ax.axvline(q.service_level.threshold_s, ls="--", lw=0.8, color="grey")
    ax.set_yscale("log")
    ax.set_xlabel("wait of answered contacts (s)")
    ax.set_ylabel("density")
    ax.set_title("Wait-time distribution (all replications; dashed: service-level threshold)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def _close(fig: Any) -> None:
    import matplotlib.pyplot as plt

    plt.close(fig)


def _html(summary: Summary, analytic: Analytic | None, images: list[str]) -> str:
    e = html.escape
    table = format_table(summary, analytic)
    figures = "\n".join(
        f'<figure><img src="{e(name)}" alt="{e(name)}"><figcaption>{e(name)}</figcaption></figure>'
        for name in images
    )
    files = " · ".join(
        f'<a href="{n}">{n}</a>'
        for n in ("summary.json", "queues.csv", "intervals.csv", "replications.csv")
    )
    title = e(summary.scenario.name or "simulation report")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1000px; color: #222; }}
pre {{ background: #f6f6f6; padding: 1rem; overflow-x: auto; font-size: 0.85rem; }}
figure {{ margin: 1.5rem 0; }} img {{ max-width: 100%; border: 1px solid #ddd; }}
figcaption {{ font-size: 0.8rem; color: #666; }}
</style></head><body>
<h1>{title}</h1>
<p>{e(summary.scenario.description)}</p>
<pre>{e(table)}</pre>
{figures}
<p>Data: {files}</p>
</body></html>
"""
