"""One reader of the forecast CSV: the staffing table and a scenario's forecast file read
it the same way and report the same problems."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulations.forecast_csv import ForecastError, read_forecast_rows
from simulations.scenario import ScenarioError, load_scenario
from simulations.staffing import read_forecast

SCENARIO = """\
start: "08:00"
queues:
  - name: sales
    forecast: {file: f.csv, queue: sales}
    handle_time: {dist: exponential, mean_s: 250}
agents:
  - {count: 3, skills: {sales: 1}}
"""


def _scenario_problem(tmp_path: Path) -> str:
    (tmp_path / "s.yaml").write_text(SCENARIO)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(tmp_path / "s.yaml")
    (issue,) = caught.value.issues
    return f"{issue.problem}; {issue.fix}"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "queue,interval_start,arrivals,aht_s\nsales,08:00,12,200\nsales,08:30,-4,200\n",
            ":3: column 'arrivals': must be a non-negative finite number, got '-4'",
        ),
        (
            "queue,interval_start,arrivals,aht_s\nsales,08:00,12,200\nsales,08:30,4,0\n",
            ":3: column 'aht_s': must be a positive finite number, got '0'",
        ),
        (
            "queue,interval_start,arrivals,arrival_rate_per_hour,aht_s\nsales,08:00,1,2,200\n",
            ":1: column 'arrivals': the header needs exactly one of 'arrivals' or "
            "'arrival_rate_per_hour'",
        ),
        ("queue,interval_start,arrivals,aht_s\n", ":1: no forecast rows after the header"),
    ],
)
def test_staffing_and_scenarios_report_the_same_problem(
    tmp_path: Path, text: str, expected: str
) -> None:
    path = tmp_path / "f.csv"
    path.write_text(text)
    with pytest.raises(ForecastError) as caught:
        read_forecast(path)
    assert str(caught.value) == f"{path}{expected}"
    assert f"{path}{expected}" in _scenario_problem(tmp_path)


def test_aht_is_required_for_staffing_and_optional_in_a_scenario(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("queue,interval_start,arrivals\nsales,08:00,30\nsales,08:15,60\n")
    with pytest.raises(ForecastError, match=r"f\.csv:1: column 'aht_s': required column"):
        read_forecast(path)
    rows = read_forecast_rows(path, aht_required=False)
    assert [(r.line, r.queue, r.start, r.arrivals, r.aht_s) for r in rows] == [
        (2, "sales", "08:00", 30.0, None),
        (3, "sales", "08:15", 60.0, None),
    ]
    (tmp_path / "s.yaml").write_text(SCENARIO)
    sales = load_scenario(tmp_path / "s.yaml").segments("sales")
    # 30 calls in the first 15 minutes, 60 in the next
    assert sales[0].rate == pytest.approx(30 / 900)
    assert sales[1].rate == pytest.approx(60 / 900)


def test_a_header_without_interval_start_says_what_the_header_needs(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("start,calls\n08:00,4\n")
    with pytest.raises(ForecastError) as caught:
        read_forecast_rows(path, aht_required=False)
    assert (caught.value.line, caught.value.column) == (1, "interval_start")
    assert "needs interval_start and arrivals (or arrival_rate_per_hour)" in str(caught.value)
