"""The report directory, the terminal table and the analytic figure beside it."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest

from simulations.erlang import erlang_a_metrics
from simulations.replications import run_replications
from simulations.report import analytic_for, format_table, to_json, write_report
from simulations.scenario import Scenario, parse_scenario


def single_queue(**queue_changes: Any) -> Scenario:
    queue: dict[str, Any] = {
        "name": "sales",
        "arrival_rate_per_hour": 240,
        "handle_time": {"dist": "exponential", "mean_s": 200},
        "patience": {"dist": "exponential", "mean_s": 150},
        "short_abandon_s": 0,
    }
    queue.update(queue_changes)
    return parse_scenario(
        {
            "name": "report test",
            "duration": "1h",
            "queues": [queue],
            "agents": [{"count": 15, "skills": {"sales": 5}}],
        }
    )


def forecast_two_queues() -> Scenario:
    return parse_scenario(
        {
            "name": "two queues",
            "start": "09:00",
            "interval_min": 30,
            "queues": [
                {
                    "name": "sales",
                    "forecast": [
                        {"interval_start": "09:00", "arrivals": 60},
                        {"interval_start": "09:30", "arrivals": 90, "aht_s": 220},
                    ],
                    "handle_time": {"dist": "lognormal", "mean_s": 200, "sd_s": 100},
                },
                {
                    "name": "support",
                    "arrival_rate_per_hour": 60,
                    "handle_time": {"dist": "gamma", "mean_s": 300, "cv": 0.8},
                    "patience": {"dist": "exponential", "mean_s": 200},
                },
            ],
            "agents": [
                {"name": "sales", "count": 8, "skills": {"sales": 6}},
                {"name": "support", "count": 6, "skills": {"support": 6, "sales": 2}},
            ],
        }
    )


def test_report_directory_has_data_plots_and_a_page(tmp_path: Path) -> None:
    scenario = forecast_two_queues()
    summary = run_replications(scenario, 3, workers=1, keep_samples=True)
    page = write_report(summary, tmp_path / "out", analytic_for(scenario))
    out = tmp_path / "out"
    pngs = [
        "service_level_by_interval.png",
        "staffing_by_interval.png",
        "wait_histogram.png",
    ]
    for name in [*pngs, "summary.json", "queues.csv", "intervals.csv", "replications.csv"]:
        assert (out / name).stat().st_size > 0, name
    for name in pngs:
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = page.read_text()
    assert page == out / "index.html"
    assert set(re.findall(r'<img src="([^"]+)"', html)) == set(pngs)
    assert "two queues" in html and "support" in html
    data = json.loads((out / "summary.json").read_text())
    assert data["replications"] == 3 and set(data["queues"]) == {"sales", "support"}
    with (out / "intervals.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert {r["interval_start"] for r in rows} == {"09:00", "09:30"}
    assert {"service_level", "service_level_half_width", "staffed"} <= set(rows[0])


def test_table_shows_ci_and_erlang_a_beside_the_simulation() -> None:
    scenario = single_queue()
    summary = run_replications(scenario, 4, workers=1)
    analytic = analytic_for(scenario)
    assert analytic is not None and analytic.model == "Erlang A" and analytic.exact
    exact = erlang_a_metrics(240 / 3600, 200, 15, 20, 150)
    assert analytic.figures["service_level"] == pytest.approx(exact.service_level)
    table = format_table(summary, analytic)
    assert "Erlang A" in table and "±" in table
    assert "answered within 20 s / (answered + abandoned)" in table
    line = next(ln for ln in table.splitlines() if ln.startswith("  service level "))
    assert "service level of" not in line
    assert f"{100 * exact.service_level:.1f}%" in line


def test_analytic_is_erlang_c_without_patience_and_flags_approximations() -> None:
    c = analytic_for(single_queue(patience=None))
    assert c is not None and c.model == "Erlang C" and c.figures["abandon_rate"] == 0
    approx = analytic_for(single_queue(handle_time={"dist": "constant", "mean_s": 200}))
    assert approx is not None and not approx.exact
    assert "handle time is not exponential" in approx.notes
    assert analytic_for(forecast_two_queues()) is None


def test_unstable_erlang_c_is_reported_not_raised() -> None:
    s = single_queue(patience=None, arrival_rate_per_hour=400)  # 22 Erlangs on 15 agents
    analytic = analytic_for(s)
    assert analytic is not None and analytic.unstable


def test_json_is_plain_data() -> None:
    scenario = forecast_two_queues()
    summary = run_replications(scenario, 2, workers=1)
    data = json.loads(json.dumps(to_json(summary, analytic_for(scenario))))
    sl = data["queues"]["support"]["service_level"]
    assert set(sl) == {"mean", "half_width", "low", "high", "n"} and sl["n"] == 2
    assert data["intervals"][0]["queue_id"] in {"sales", "support"}
    assert data["analytic"] is None
    assert data["run"]["arrivals"] > 0
