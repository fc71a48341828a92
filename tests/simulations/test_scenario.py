"""Scenario files: what loads, what it resolves to, and errors that name file, path and fix."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from routing.model import Channel
from simulations.distributions import (
    STREAM_ARRIVALS,
    Constant,
    Empirical,
    Exponential,
    Gamma,
    Lognormal,
    arrival_times,
    rng_for,
)
from simulations.scenario import (
    Scenario,
    ScenarioError,
    load_scenario,
    parse_duration,
    parse_scenario,
)

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "config" / "scenarios"

MINIMAL = """\
duration: 8h
queues:
  - name: sales
    arrival_rate_per_hour: 360
    handle_time: {dist: exponential, mean_s: 240}
    patience: {dist: exponential, mean_s: 120}   # optional: without it callers never hang up
    service_level: {threshold_s: 20, target: 0.8}
agents:
  - count: 28
    skills: {sales: 5}
"""


def write(tmp_path: Path, text: str, name: str = "scenario.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def error_of(tmp_path: Path, text: str) -> ScenarioError:
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    return info.value


def base(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "duration": "2h",
        "queues": [
            {
                "name": "sales",
                "arrival_rate_per_hour": 100,
                "handle_time": {"dist": "exponential", "mean_s": 200},
            }
        ],
        "agents": [{"count": 8, "skills": {"sales": 5}}],
    }
    data.update(changes)
    return data


# --------------------------------------------------------------------- loading


def test_minimal_form_loads_with_sensible_defaults(tmp_path: Path) -> None:
    s = load_scenario(write(tmp_path, MINIMAL))
    assert s.horizon_s == 8 * 3600
    (segment,) = s.segments("sales")
    assert segment.rate == pytest.approx(0.1)
    (group,) = s.groups
    assert group.agents == 28 and group.login_at == 0 and group.logout_at is None
    assert group.capacity == {Channel.VOICE: 1}
    config = s.routing_config()
    assert config.queues[0].skills == {"sales": 1}
    assert config.queues[0].wrap_up.mode == "none"
    assert config.queues[0].mean_handle_s == 240
    assert config.strategy == "longest_idle"


@pytest.mark.parametrize("path", sorted(SCENARIOS.glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_scenarios_load(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.horizon_s > 0 and scenario.groups


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("8h", 28800), ("30m", 1800), ("90s", 90), ("1h30m", 5400), ("1.5h", 5400), (45, 45)],
)
def test_durations(text: Any, seconds: float) -> None:
    assert parse_duration(text) == seconds


def test_routing_options_pass_through() -> None:
    s = parse_scenario(
        base(
            strategy="most_skilled",
            selector="cmu",
            queues=[
                {
                    "name": "sales",
                    "arrival_rate_per_hour": 100,
                    "handle_time": {"dist": "exponential", "mean_s": 200},
                    "priority": 3,
                    "offer_timeout_s": 9,
                    "steps": [
                        {"name": "experts", "timeout_s": 30},
                        {"name": "all", "min_proficiency_delta": -4},
                    ],
                    "max_wait": {"seconds": 600, "action": "flow_out", "target": "voicemail"},
                    "wrap_up": {"dist": "constant", "mean_s": 20},
                    "skills": {"sales": 5},
                }
            ],
        )
    )
    config = s.routing_config()
    q = config.queues[0]
    assert config.strategy == "most_skilled" and config.selector == "cmu"
    assert [st.name for st in q.steps] == ["experts", "all"]
    assert q.max_wait is not None and q.max_wait.target == "voicemail"
    assert q.priority == 3 and q.offer_timeout_s == 9 and q.skills == {"sales": 5}
    assert q.wrap_up.mode == "mandatory"


def test_forecast_inline_and_csv(tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_text(
        "queue,interval_start,arrivals,aht_s\n"
        "sales,08:00,30,200\nsales,08:15,60,300\nother,08:00,999,1\n"
    )
    s = load_scenario(
        write(
            tmp_path,
            """\
start: "08:00"
queues:
  - name: sales
    forecast: {file: f.csv, queue: sales}
    handle_time: {dist: exponential, mean_s: 250}
  - name: support
    forecast:
      - {interval_start: "08:30", arrival_rate_per_hour: 40}
    handle_time: {dist: exponential, mean_s: 250}
agents:
  - {count: 3, skills: {sales: 1, support: 1}}
""",
        )
    )
    assert s.horizon_s == 45 * 60  # the end of the last forecast interval
    sales = s.segments("sales")
    assert [(x.start, x.end) for x in sales] == [(0, 900), (900, 1800), (1800, 2700)]
    assert sales[0].rate == pytest.approx(30 / 900) and sales[0].aht_s == 200
    assert sales[2].rate == 0  # after the forecast: nothing arrives
    support = s.segments("support")
    assert support[0].rate == 0 and support[-1].rate == pytest.approx(40 / 3600)


def test_shifts_breaks_and_shrinkage() -> None:
    s = parse_scenario(
        base(
            start="08:00",
            duration="10h",
            shrinkage=0.1,
            agents=[
                {
                    "name": "early",
                    "count": 20,
                    "skills": {"sales": 5},
                    "shift": {"start": "08:00", "end": "16:00"},
                    "breaks": [{"start": "12:00", "duration": "30m", "stagger": "1h"}],
                },
                {
                    "name": "late",
                    "count": 10,
                    "skills": {"sales": 5},
                    "shrinkage": 0,
                    "shift": {"start": "2h", "end": "20:00"},
                },
            ],
        )
    )
    early, late = s.groups
    assert early.agents == 18 and early.scheduled == 20
    assert (early.login_at, early.logout_at) == (0, 8 * 3600)
    assert early.breaks[0].start == 4 * 3600 and early.breaks[0].stagger == 3600
    assert late.agents == 10 and late.login_at == 7200 and late.logout_at is None


# --------------------------------------------------------------------- distributions


@pytest.mark.parametrize(
    "dist",
    [
        Exponential(dist="exponential", mean_s=240),
        Lognormal(dist="lognormal", mean_s=240, sd_s=180),
        Gamma(dist="gamma", mean_s=240, cv=0.6),
        Constant(dist="constant", mean_s=240),
    ],
    ids=lambda d: d.dist,
)
def test_distribution_means(dist: Any) -> None:
    draws = dist.sample(np.random.default_rng(1), 200_000)
    assert draws.mean() == pytest.approx(240, rel=0.01)
    assert (draws >= 0).all()


def test_lognormal_and_gamma_spread() -> None:
    rng = np.random.default_rng(2)
    assert Lognormal(dist="lognormal", mean_s=100, sd_s=50).sample(rng, 200_000).std() == (
        pytest.approx(50, rel=0.03)
    )
    assert Gamma(dist="gamma", mean_s=100, cv=0.5).sample(rng, 200_000).std() == pytest.approx(
        50, rel=0.03
    )


def test_empirical_resamples_the_file(tmp_path: Path) -> None:
    (tmp_path / "d.csv").write_text("handle_s\n100\n200\n600\n")
    s = parse_scenario(
        base(
            queues=[
                {
                    "name": "sales",
                    "arrival_rate_per_hour": 10,
                    "handle_time": {"dist": "empirical", "file": "d.csv"},
                }
            ]
        ),
        base_dir=tmp_path,
    )
    dist = s.queues[0].handle_time
    assert isinstance(dist, Empirical) and dist.mean == pytest.approx(300)
    assert set(dist.sample(np.random.default_rng(0), 1000).tolist()) == {100, 200, 600}


def test_piecewise_arrivals_follow_the_rates() -> None:
    rng = np.random.default_rng(3)
    times = arrival_times([0, 3600], [3600, 7200], [0.5, 0.05], rng)
    first, second = (times < 3600).sum(), (times >= 3600).sum()
    assert first == pytest.approx(1800, rel=0.08) and second == pytest.approx(180, rel=0.25)
    assert np.all(np.diff(times) >= 0) and times.max() < 7200


def test_linear_profile_by_thinning() -> None:
    rng = np.random.default_rng(4)
    starts, ends, rates = [0, 1800, 3600], [1800, 3600, 5400], [0.1, 0.3, 0.1]
    counts = [len(arrival_times(starts, ends, rates, rng, "linear")) for _ in range(30)]
    # flat 0.1 to the first midpoint, up to 0.3 and back: integral = 900 s x 0.1 x 2 + 3600 x 0.2
    assert np.mean(counts) == pytest.approx(180 + 720, rel=0.03)


def test_streams_are_keyed_by_queue_name_not_position() -> None:
    a = rng_for(5, 0, "sales", STREAM_ARRIVALS).random(3)
    b = rng_for(5, 0, "sales", STREAM_ARRIVALS).random(3)
    c = rng_for(5, 1, "sales", STREAM_ARRIVALS).random(3)
    d = rng_for(5, 0, "support", STREAM_ARRIVALS).random(3)
    assert (a == b).all() and not (a == c).any() and not (a == d).any()


# --------------------------------------------------------------------- errors


def test_error_names_file_path_and_fix_for_unknown_distribution(tmp_path: Path) -> None:
    err = error_of(tmp_path, MINIMAL.replace("dist: exponential, mean_s: 240", "dist: expo"))
    text = str(err)
    assert str(tmp_path / "scenario.yaml") in text
    assert "queues[0] (sales).handle_time" in text
    assert "unknown distribution 'expo'" in text
    assert "Fix: set dist: one of exponential, lognormal, gamma, constant, empirical" in text


def test_error_for_missing_parameter_shows_an_example(tmp_path: Path) -> None:
    err = error_of(
        tmp_path,
        MINIMAL.replace("{dist: exponential, mean_s: 120}", "{dist: lognormal, mean_s: 1}"),
    )
    (issue,) = err.issues
    assert issue.path == "queues[0] (sales).patience.sd_s"
    assert issue.problem == "missing"
    assert "{dist: lognormal, mean_s: 240, sd_s: 150}" in issue.fix


def test_error_for_misspelt_key_suggests_the_right_one(tmp_path: Path) -> None:
    err = error_of(tmp_path, MINIMAL.replace("service_level:", "servce_level:"))
    (issue,) = err.issues
    assert issue.path == "queues[0] (sales).servce_level"
    assert "did you mean `service_level`" in issue.fix


def test_error_for_out_of_range_values(tmp_path: Path) -> None:
    err = error_of(
        tmp_path, MINIMAL.replace("count: 28", "count: -1").replace("sales: 5", "sales: 11")
    )
    paths = {i.path: i for i in err.issues}
    assert (
        "agents[0].count" in paths and "greater than or equal to 0" in paths["agents[0].count"].fix
    )
    assert "agents[0].skills.sales" in paths


def test_error_for_bad_duration(tmp_path: Path) -> None:
    err = error_of(tmp_path, MINIMAL.replace("duration: 8h", "duration: 8 hours"))
    (issue,) = err.issues
    assert issue.path == "duration" and "8h, 30m, 90s or 1h30m" in issue.fix


def test_semantic_errors_keep_their_paths(tmp_path: Path) -> None:
    text = MINIMAL.replace("duration: 8h", "duration: 8h\nwarmup: 10m").replace(
        "skills: {sales: 5}",
        "skills: {support: 5}\n    breaks: [{start: '3h', duration: 15m, reason: coffee}]",
    )
    err = error_of(tmp_path, text)
    by_path = {i.path: i for i in err.issues}
    assert "multiple of 15m" in by_path["warmup"].fix
    assert "add skills {sales: 1} to an agent group" in by_path["queues[0] (sales)"].fix
    assert "reason_codes" in by_path["agents[0] (group1).breaks[0].reason"].fix


def test_error_for_rate_and_forecast_together(tmp_path: Path) -> None:
    text = MINIMAL.replace(
        "arrival_rate_per_hour: 360",
        "arrival_rate_per_hour: 360\n    forecast: [{interval_start: '00:00', arrivals: 5}]",
    )
    (issue,) = error_of(tmp_path, text).issues
    assert issue.path == "queues[0] (sales)" and "not both" in issue.problem


def test_error_for_yaml_syntax_gives_the_line(tmp_path: Path) -> None:
    err = error_of(tmp_path, "duration: 8h\nqueues:\n  - name: [sales\n")
    (issue,) = err.issues
    assert issue.path.startswith("line ") and "YAML" in issue.fix


def test_error_for_forecast_file_problems(tmp_path: Path) -> None:
    (tmp_path / "f.csv").write_text("start,calls\n08:00,4\n")
    text = MINIMAL.replace("arrival_rate_per_hour: 360", "forecast: {file: f.csv}")
    (issue,) = error_of(tmp_path, text).issues
    assert issue.path == "queues[0] (sales).forecast"
    assert "needs interval_start and arrivals" in issue.fix
    text = MINIMAL.replace("arrival_rate_per_hour: 360", "forecast: {file: nope.csv}")
    (issue,) = error_of(tmp_path, text).issues
    assert "not found" in issue.problem and "relative to the scenario file" in issue.fix


def test_error_for_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(tmp_path / "absent.yaml")


def test_with_changes_revalidates() -> None:
    s = parse_scenario(base())
    assert s.with_changes(strategy="most_skilled").strategy == "most_skilled"
    with pytest.raises(ScenarioError):
        s.with_changes(warmup="7m")
    assert isinstance(s, Scenario)
