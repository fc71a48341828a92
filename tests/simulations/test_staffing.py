"""Staffing solver: exact fewest agents, constraints, bulk solve, forecast CSV handling."""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from simulations.erlang import UnstableQueueError, erlang_a_metrics, erlang_c_metrics
from simulations.staffing import (
    ForecastError,
    InfeasibleTargetError,
    StaffingResult,
    StaffingTarget,
    meets_target,
    read_forecast,
    required_agents,
    required_agents_batch,
    scheduled_agents,
    square_root_staffing,
    staff_forecast,
)

CONFIG = Path(__file__).resolve().parents[2] / "config"


def same_staffing(bulk: StaffingResult, single: StaffingResult) -> bool:
    """The bulk (numpy) and scalar solvers agree: the same integers, and the same figures to
    the last few ulps (numpy's vectorised arithmetic may round differently)."""
    return (
        bulk.agents == single.agents
        and bulk.scheduled == single.scheduled
        and all(
            (a is None and b is None)
            or (a is not None and b is not None and math.isclose(a, b, rel_tol=1e-12))
            for a, b in (
                (bulk.load, single.load),
                (bulk.service_level, single.service_level),
                (bulk.asa, single.asa),
                (bulk.occupancy, single.occupancy),
                (bulk.p_wait, single.p_wait),
                (bulk.p_abandon, single.p_abandon),
            )
        )
    )


def erlang_c_meets(rate: float, aht: float, agents: int, target: StaffingTarget) -> bool:
    if agents < 1:
        return False
    try:
        metrics = erlang_c_metrics(rate, aht, agents, target.threshold)
    except UnstableQueueError:
        return False
    return meets_target(metrics, target)


def erlang_a_meets(
    rate: float, aht: float, agents: int, target: StaffingTarget, patience: float
) -> bool:
    if agents < 1:
        return False
    return meets_target(erlang_a_metrics(rate, aht, agents, target.threshold, patience), target)


# --------------------------------------------------------------------------- worked example


def test_worked_example_fewest_agents() -> None:
    # CRAN ErlangC README calculate_agents(100 calls / 30 min, AHT 180 s, 20 s, SL 0.8,
    # max occupancy 0.85, shrinkage 0.3) -> 14 agents; pyworkforce README: raw_positions 14,
    # positions 20 (with 30% shrinkage).
    target = StaffingTarget(service_level=0.8, threshold=20, max_occupancy=0.85, shrinkage=0.3)
    result = required_agents(100, 180, target, interval_s=1800)
    assert result.agents == 14
    assert result.scheduled == 20
    assert result.service_level == pytest.approx(0.88835, abs=1e-6)
    assert result.p_wait == pytest.approx(0.1741319, abs=1e-6)
    assert result.asa == pytest.approx(7.836, abs=5e-4)
    assert result.occupancy == pytest.approx(0.714, abs=5e-4)
    assert result.p_abandon is None
    # 13 agents give SL 0.7956 < 0.8 (CRAN ErlangC $process table)
    assert not erlang_c_meets(100 / 1800, 180, 13, target)


def test_scheduled_agents_rounding() -> None:
    assert scheduled_agents(14, 0.3) == 20  # 14 / 0.7 is 20.000000000000004 in floats
    assert scheduled_agents(10, 0.0) == 10
    assert scheduled_agents(1, 0.5) == 2
    assert scheduled_agents(7, 0.3) == 10
    assert scheduled_agents(0, 0.3) == 0
    with pytest.raises(ValueError, match="shrinkage"):
        scheduled_agents(3, 1.0)


def test_square_root_staffing() -> None:
    assert square_root_staffing(100.0, 1.0) == 110
    assert square_root_staffing(10.0, 0.0) == 10


# --------------------------------------------------------------------------- constraints


def test_max_occupancy_binds() -> None:
    # A = 100 Erlangs: 80/20 alone needs few spare agents; 85% occupancy needs 118 (100/0.85)
    rate, aht = 100 / 180, 180.0
    plain = required_agents(rate, aht, StaffingTarget())
    capped = required_agents(rate, aht, StaffingTarget(max_occupancy=0.85))
    assert plain.agents < 118
    assert capped.agents == 118
    assert capped.occupancy <= 0.85
    assert 100 / 117 > 0.85


def test_exact_occupancy_boundary_is_met() -> None:
    # 8.5 Erlangs on 10 agents is exactly 85% occupancy
    result = required_agents(8.5 / 100, 100, StaffingTarget(service_level=0.0, max_occupancy=0.85))
    assert result.agents == 10


def test_max_asa_binds() -> None:
    rate, aht = 100 / 1800, 180.0
    target = StaffingTarget(service_level=0.8, threshold=20, max_asa=2.0)
    result = required_agents(rate, aht, target)
    assert result.asa <= 2.0
    assert erlang_c_meets(rate, aht, result.agents, target)
    assert not erlang_c_meets(rate, aht, result.agents - 1, target)
    assert result.agents > 14


def test_min_agents_and_zero_traffic() -> None:
    assert required_agents(0.0, 180, StaffingTarget()).agents == 0
    night = required_agents(0.0, 180, StaffingTarget(min_agents=2, shrinkage=0.5))
    assert (night.agents, night.scheduled, night.service_level) == (2, 4, 1.0)
    assert required_agents(100 / 1800, 180, StaffingTarget(min_agents=20)).agents == 20


def test_patience_model() -> None:
    target = StaffingTarget(service_level=0.8, threshold=20)
    result = required_agents(100, 180, target, patience=120, interval_s=1800)
    assert result.p_abandon is not None and 0.0 < result.p_abandon < 0.2
    assert erlang_a_meets(100 / 1800, 180, result.agents, target, 120)
    assert not erlang_a_meets(100 / 1800, 180, result.agents - 1, target, 120)
    # an abandonment ceiling can only add agents
    strict = StaffingTarget(service_level=0.8, threshold=20, max_abandon=0.01)
    tighter = required_agents(100, 180, strict, patience=120, interval_s=1800)
    assert tighter.agents >= result.agents and tighter.p_abandon is not None
    assert tighter.p_abandon <= 0.01
    assert not erlang_a_meets(100 / 1800, 180, tighter.agents - 1, strict, 120)
    # infinite patience is Erlang C
    assert required_agents(100, 180, target, patience=math.inf, interval_s=1800).agents == 14


def test_target_validation() -> None:
    with pytest.raises(ValueError, match="service level"):
        StaffingTarget(service_level=1.0)
    with pytest.raises(ValueError, match="threshold"):
        StaffingTarget(threshold=-1)
    with pytest.raises(ValueError, match="occupancy"):
        StaffingTarget(max_occupancy=0.0)
    with pytest.raises(ValueError, match="ASA"):
        StaffingTarget(max_asa=0.0)
    with pytest.raises(ValueError, match="shrinkage"):
        StaffingTarget(shrinkage=1.0)
    with pytest.raises(ValueError, match="min_agents"):
        StaffingTarget(min_agents=-1)
    with pytest.raises(ValueError, match="patience"):
        required_agents(1.0, 180, StaffingTarget(), patience=0.0)


def test_infeasible_within_limit() -> None:
    with pytest.raises(InfeasibleTargetError):
        required_agents(1.0, 180, StaffingTarget(), max_agents=50)
    with pytest.raises(InfeasibleTargetError):
        required_agents(1.0, 180, StaffingTarget(), patience=60, max_agents=50)


# --------------------------------------------------------------------------- exactness


@settings(max_examples=150, deadline=None)
@given(
    load=st.floats(0.01, 400.0),
    aht=st.floats(10.0, 1200.0),
    service_level=st.floats(0.0, 0.99),
    threshold=st.floats(0.0, 120.0),
    max_asa=st.none() | st.floats(0.5, 120.0),
    max_occupancy=st.none() | st.floats(0.5, 1.0),
    min_agents=st.integers(0, 5),
)
def test_erlang_c_answer_is_the_fewest(
    load: float,
    aht: float,
    service_level: float,
    threshold: float,
    max_asa: float | None,
    max_occupancy: float | None,
    min_agents: int,
) -> None:
    target = StaffingTarget(
        service_level=service_level,
        threshold=threshold,
        max_asa=max_asa,
        max_occupancy=max_occupancy,
        min_agents=min_agents,
    )
    rate = load / aht
    result = required_agents(rate, aht, target)
    assert erlang_c_meets(rate, aht, result.agents, target)
    assert result.agents == min_agents or not erlang_c_meets(rate, aht, result.agents - 1, target)
    metrics = erlang_c_metrics(rate, aht, result.agents, threshold)
    assert result.service_level == metrics.service_level
    assert result.asa == metrics.asa


@settings(max_examples=40, deadline=None)
@given(
    load=st.floats(0.05, 120.0),
    aht=st.floats(20.0, 900.0),
    patience=st.floats(5.0, 1800.0),
    service_level=st.floats(0.0, 0.95),
    threshold=st.floats(0.0, 90.0),
    max_abandon=st.none() | st.floats(0.01, 0.5),
    max_occupancy=st.none() | st.floats(0.6, 1.0),
)
def test_erlang_a_answer_is_the_fewest(
    load: float,
    aht: float,
    patience: float,
    service_level: float,
    threshold: float,
    max_abandon: float | None,
    max_occupancy: float | None,
) -> None:
    target = StaffingTarget(
        service_level=service_level,
        threshold=threshold,
        max_abandon=max_abandon,
        max_occupancy=max_occupancy,
    )
    rate = load / aht
    result = required_agents(rate, aht, target, patience=patience)
    assert erlang_a_meets(rate, aht, result.agents, target, patience)
    assert not erlang_a_meets(rate, aht, result.agents - 1, target, patience)


@settings(max_examples=40, deadline=None)
@given(
    loads=st.lists(st.floats(0.0, 250.0) | st.just(0.0), min_size=1, max_size=40),
    aht=st.floats(30.0, 900.0),
    service_level=st.floats(0.0, 0.99),
    threshold=st.floats(0.0, 60.0),
    max_occupancy=st.none() | st.floats(0.5, 1.0),
    max_asa=st.none() | st.floats(1.0, 60.0),
)
def test_bulk_solve_equals_one_at_a_time(
    loads: list[float],
    aht: float,
    service_level: float,
    threshold: float,
    max_occupancy: float | None,
    max_asa: float | None,
) -> None:
    target = StaffingTarget(
        service_level=service_level,
        threshold=threshold,
        max_occupancy=max_occupancy,
        max_asa=max_asa,
        shrinkage=0.25,
    )
    rates = [load / aht for load in loads]
    batch = required_agents_batch(rates, aht, target)
    assert len(batch) == len(rates)
    for index, rate in enumerate(rates):
        single = required_agents(rate, aht, target)
        assert batch.result(index).agents == single.agents
        assert batch.result(index).scheduled == single.scheduled
        assert batch.result(index).service_level == pytest.approx(single.service_level, rel=1e-13)
        assert batch.result(index).occupancy == pytest.approx(single.occupancy, rel=1e-13)


def test_bulk_solve_extreme_targets_fall_back_exactly() -> None:
    # 99% in 0 s needs far more than the square-root window: handled by the exact search
    target = StaffingTarget(service_level=0.99, threshold=0.0, max_asa=0.05)
    rates = [0.01, 0.5, 2.0]
    batch = required_agents_batch(rates, 300.0, target)
    for index, rate in enumerate(rates):
        assert batch.result(index) == required_agents(rate, 300.0, target)


def test_bulk_solve_with_patience_matches_single() -> None:
    target = StaffingTarget(service_level=0.8, threshold=20, max_abandon=0.05)
    rates = [0.0, 0.01, 0.05, 0.06, 0.2]
    handle = [200.0, 200.0, 240.0, 240.0, 180.0]
    batch = required_agents_batch(rates, handle, target, patience=90)
    assert batch.p_abandon is not None
    for index, (rate, aht) in enumerate(zip(rates, handle, strict=True)):
        assert batch.result(index) == required_agents(rate, aht, target, patience=90)


def test_bulk_solve_input_checks() -> None:
    with pytest.raises(ValueError, match="aht"):
        required_agents_batch([1.0, 2.0], [100.0], StaffingTarget())
    with pytest.raises(ValueError, match="arrival rates"):
        required_agents_batch([1.0, -2.0], 100.0, StaffingTarget())


def test_bulk_day_is_fast() -> None:
    rng = np.random.default_rng(3)
    calls = rng.uniform(0, 400, 4800)
    aht = rng.uniform(180, 420, 4800)
    required_agents_batch(calls, aht, StaffingTarget(), interval_s=900)
    samples = []
    for _ in range(3):
        start = time.perf_counter()
        required_agents_batch(calls, aht, StaffingTarget(), interval_s=900)
        samples.append(time.perf_counter() - start)
    assert min(samples) < 0.5  # target 50 ms (see benchmarks/erlang_bench.py); loose for CI


# --------------------------------------------------------------------------- forecasts


def test_example_forecast() -> None:
    forecast = read_forecast(CONFIG / "forecast_example.csv")
    assert forecast.interval_minutes == 30
    assert len(forecast.intervals) == 48
    assert forecast.queues == ["support"]
    first = forecast.intervals[0]
    assert first.line == 2 and first.start == "00:00"
    assert first.arrival_rate_per_hour == pytest.approx(first.arrivals * 2)
    target = StaffingTarget(service_level=0.8, threshold=20, shrinkage=0.3)
    staffing = staff_forecast(forecast, target)
    for interval, result in staffing.rows():
        single = required_agents(interval.arrivals, interval.aht, target, interval_s=1800)
        assert same_staffing(result, single)
    peak = max(result.agents for _, result in staffing.rows())
    assert staffing.peak_agents() == {"support": peak}
    assert staffing.scheduled_hours() == pytest.approx(
        sum(result.scheduled for _, result in staffing.rows()) / 2
    )


def test_short_forecast() -> None:
    forecast = read_forecast(CONFIG / "forecast_short.csv")
    assert len(forecast.intervals) == 4 and forecast.interval_minutes == 30


def write(tmp_path: Path, text: str, name: str = "day.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_rate_column_iso_times_and_queues(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "queue,interval_start,arrival_rate_per_hour,aht_s\n"
        "sales,2024-05-06T09:00:00,120,200\n"
        "sales,2024-05-06T09:15:00,160,210\n"
        "\n"
        "care,2024-05-06T09:00:00,60,300\n"
        "care,2024-05-06T09:30:00,0,300\n",
    )
    forecast = read_forecast(path)
    assert forecast.interval_minutes == 15
    assert forecast.queues == ["sales", "care"]
    assert forecast.intervals[0].arrivals == pytest.approx(30.0)
    assert [row.line for row in forecast.intervals] == [2, 3, 5, 6]
    staffing = staff_forecast(forecast, StaffingTarget(), patience=180)
    assert staffing.staffing.agents[-1] == 0
    assert staffing.staffing.p_abandon is not None


def test_interval_length_parameter(tmp_path: Path) -> None:
    path = write(tmp_path, "interval_start,arrivals,aht_s\n08:00,30,200\n")
    with pytest.raises(ForecastError, match="interval length"):
        read_forecast(path)
    assert read_forecast(path, interval_minutes=15).intervals[0].arrival_rate_per_hour == 120
    two = write(tmp_path, "interval_start,arrivals,aht_s\n08:00,30,200\n08:30,30,200\n", "b.csv")
    assert read_forecast(two).interval_minutes == 30
    # 30-minute spacing cannot be 60-minute intervals
    with pytest.raises(ForecastError, match="60-minute"):
        read_forecast(two, interval_minutes=60)


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"),
    [
        (
            "interval_start,arrivals,aht_s\n08:00,12,200\n08:30,lots,200\n",
            3,
            "arrivals",
            "not a number",
        ),
        (
            "interval_start,arrivals,aht_s\n08:00,12,200\n08:30,-4,200\n",
            3,
            "arrivals",
            "non-negative",
        ),
        ("interval_start,arrivals,aht_s\n08:00,12,0\n08:30,4,200\n", 2, "aht_s", "positive"),
        ("interval_start,arrivals,aht_s\n08:00,12,200\n08:30,4,nan\n", 3, "aht_s", "finite"),
        (
            "interval_start,arrivals,aht_s\n08:00,12,200\n8h30,4,200\n",
            3,
            "interval_start",
            "ISO time",
        ),
        ("interval_start,arrivals,aht_s\n08:00,12,200\n08:30,,200\n", 3, "arrivals", "missing"),
        ("interval_start,arrivals,aht_s\n08:00,12,200\n08:30,4\n", 3, "aht_s", "missing"),
        ("interval_start,arrivals\n08:00,12\n", 1, "aht_s", "required column"),
        ("interval_start,aht_s\n08:00,12\n", 1, "arrivals", "exactly one"),
        (
            "interval_start,arrivals,arrival_rate_per_hour,aht_s\n08:00,1,2,3\n",
            1,
            "arrivals",
            "exactly one",
        ),
        (
            "interval_start,arrivals,aht_s\n08:00,12,200\n08:30,4,200\n08:30,5,200\n",
            4,
            "interval_start",
            "duplicate",
        ),
        (
            "interval_start,arrivals,aht_s\n08:00,12,200\n08:20,4,200\n",
            3,
            "interval_start",
            "20 minutes apart",
        ),
        (
            "interval_start,arrivals,aht_s\n08:00,12,200\n08:30,4,200\n08:45,4,200\n09:20,1,200\n",
            5,
            "interval_start",
            "not a multiple",
        ),
        (
            "interval_start,arrivals,aht_s\n08:00,12,200\n2024-01-01T08:30,4,200\n",
            3,
            "interval_start",
            "mixes",
        ),
    ],
)
def test_bad_forecast_names_file_line_and_column(
    tmp_path: Path, text: str, line: int, column: str, fragment: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ForecastError) as caught:
        read_forecast(path)
    error = caught.value
    assert (error.path, error.line, error.column) == (str(path), line, column)
    message = str(error)
    assert message.startswith(f"{path}:{line}: column '{column}'")
    assert fragment in message


def test_empty_forecasts(tmp_path: Path) -> None:
    with pytest.raises(ForecastError, match=r"empty\.csv:1: empty file"):
        read_forecast(write(tmp_path, "", "empty.csv"))
    with pytest.raises(ForecastError, match="no forecast rows"):
        read_forecast(write(tmp_path, "interval_start,arrivals,aht_s\n", "header.csv"))
    with pytest.raises(OSError):
        read_forecast(tmp_path / "missing.csv")
    with pytest.raises(ValueError, match="interval length"):
        read_forecast(CONFIG / "forecast_short.csv", interval_minutes=20)


@settings(max_examples=25, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(0, 500), st.floats(60.0, 900.0)), min_size=2, max_size=12),
    minutes=st.sampled_from([15, 30]),
)
def test_forecast_round_trip(
    tmp_path_factory: pytest.TempPathFactory, rows: list[tuple[int, float]], minutes: int
) -> None:
    assume(len(rows) * minutes <= 24 * 60)
    lines = ["interval_start,arrivals,aht_s"]
    for index, (calls, aht) in enumerate(rows):
        start = index * minutes
        lines.append(f"{start // 60:02d}:{start % 60:02d},{calls},{aht!r}")
    path = tmp_path_factory.mktemp("fc") / "f.csv"
    path.write_text("\n".join(lines) + "\n")
    forecast = read_forecast(path)
    assert forecast.interval_minutes == minutes
    staffing = staff_forecast(forecast, StaffingTarget())
    for (calls, aht), (_, result) in zip(rows, staffing.rows(), strict=True):
        expected = required_agents(calls, aht, StaffingTarget(), interval_s=minutes * 60)
        assert same_staffing(result, expected)
