"""Staffing by simulation: the refined answer is the boundary between meeting and missing
the target in simulation, the group search finds the smallest passing size of a multi-skill
scenario, and the `staff` options drive both."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contactcenter.cli import main
from simulations.scenario import Scenario, parse_scenario
from simulations.staffing import StaffingTarget, required_agents
from simulations.staffing_sim import check_interval, refine_interval, search_group

CONFIG = Path(__file__).resolve().parents[2] / "config"
TARGET = StaffingTarget(service_level=0.8, threshold=20.0)


def test_refined_staffing_is_the_boundary_between_meeting_and_missing() -> None:
    analytic = required_agents(360, 240, TARGET, patience=None, interval_s=3600.0)
    answer, checks = refine_interval(
        360, 240, analytic.agents, TARGET, replications=6, seed=3, horizon_s=4 * 3600.0, workers=1
    )
    by_agents = {c.agents: c for c in checks}
    assert by_agents[answer].meets
    assert by_agents[answer].service_level.mean is not None
    assert by_agents[answer].service_level.mean >= TARGET.service_level
    # the walk always looks one below the answer (unless at the floor) and sees a miss
    assert answer - 1 in by_agents
    assert not by_agents[answer - 1].meets
    # exponential times, no patience: the simulator and Erlang C agree to within one agent
    assert abs(answer - analytic.agents) <= 1


def test_refine_walks_up_from_an_understaffed_start() -> None:
    analytic = required_agents(360, 240, TARGET, patience=120.0, interval_s=3600.0)
    answer, checks = refine_interval(
        360,
        240,
        analytic.agents - 4,
        TARGET,
        patience_s=120.0,
        replications=4,
        seed=5,
        horizon_s=3 * 3600.0,
        workers=1,
    )
    assert [c.agents for c in checks] == list(range(analytic.agents - 4, answer + 1))
    assert [c.meets for c in checks] == [False] * (len(checks) - 1) + [True]


def test_check_interval_judges_every_constraint_on_the_mean() -> None:
    loose = check_interval(
        360, 240, 30, TARGET, replications=4, seed=2, horizon_s=2 * 3600.0, workers=1
    )
    assert loose.meets and loose.replications == 4
    capped = StaffingTarget(service_level=0.8, threshold=20.0, max_occupancy=0.5)
    strict = check_interval(
        360, 240, 30, capped, replications=4, seed=2, horizon_s=2 * 3600.0, workers=1
    )
    assert strict.occupancy.mean is not None and strict.occupancy.mean > 0.5
    assert not strict.meets
    # same seed, same callers: the service level is identical between the two runs
    assert strict.service_level.mean == loose.service_level.mean


def two_group_scenario() -> Scenario:
    return parse_scenario(
        {
            "duration": "4h",
            "warmup": "30m",
            "queues": [
                {
                    "name": "sales",
                    "arrival_rate_per_hour": 240,
                    "handle_time": {"dist": "exponential", "mean_s": 240},
                    "service_level": {"threshold_s": 20, "target": 0.8},
                },
                {
                    "name": "support",
                    "arrival_rate_per_hour": 120,
                    "handle_time": {"dist": "exponential", "mean_s": 300},
                    "service_level": {"threshold_s": 30, "target": 0.7},
                },
            ],
            "agents": [
                {"name": "sales", "count": 12, "skills": {"sales": 5}},
                {"name": "generalists", "count": 4, "skills": {"sales": 3, "support": 6}},
            ],
        },
        "test scenario",
    )


def test_group_search_finds_the_smallest_passing_size() -> None:
    scenario = two_group_scenario()
    found = search_group(scenario, "generalists", replications=4, seed=1, workers=1)
    assert found.group == "generalists"
    passing = {
        n for n, per_queue in found.checks.items() if all(c.meets for c in per_queue.values())
    }
    assert found.count in passing
    assert found.count - 1 in found.checks and found.count - 1 not in passing
    # support (10 Erlangs) is served by generalists only: more than its load is needed
    assert found.count > 10
    # every size tried below the answer fails and every size above passes
    assert all((n >= found.count) == (n in passing) for n in found.checks)


def test_group_search_names_the_groups_when_asked_for_an_unknown_one() -> None:
    with pytest.raises(ValueError, match=r"no agent group named 'nobody'.*'sales', 'generalists'"):
        search_group(two_group_scenario(), "nobody")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["staff", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_staff_verify_forecast_by_simulation_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys,
        "--forecast",
        str(CONFIG / "forecast_short.csv"),
        "--simulate",
        "verify",
        "--replications",
        "3",
        "--sim-hours",
        "1",
        "--json",
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["simulation"]["mode"] == "verify"
    for row in data["intervals"]:
        sim = row["simulation"]
        # verify simulates exactly the analytic staffing, once
        assert sim["agents"] == row["agents"]
        assert [c["agents"] for c in sim["checks"]] == [row["agents"]]
        assert sim["meets"] == (sim["checks"][0]["service_level"]["mean"] >= 0.8)


def test_staff_refine_single_case_human(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys,
        "--arrival-rate-per-hour",
        "120",
        "--aht",
        "180",
        "--simulate",
        "refine",
        "--replications",
        "3",
        "--sim-hours",
        "2",
    )
    assert code == 0, err
    assert "analytic (Erlang C)" in out
    assert "simulation needs" in out
    assert "meets the target" in out


def test_staff_group_search_cli(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text(
        "duration: 2h\nwarmup: 30m\nqueues:\n"
        "  - {name: sales, arrival_rate_per_hour: 120, "
        "handle_time: {dist: exponential, mean_s: 180}, "
        "service_level: {threshold_s: 20, target: 0.8}}\n"
        "agents:\n  - {name: team, count: 3, skills: {sales: 5}}\n"
    )
    code, out, err = run(
        capsys, "--scenario", str(path), "--group", "team", "--replications", "3", "--json"
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["group"] == "team"
    assert data["checks"][str(data["count"])]["sales"]["meets"] is True
    assert data["checks"][str(data["count"] - 1)]["sales"]["meets"] is False


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--scenario", "x.yaml"], "--scenario needs --group"),
        (["--group", "g", "--arrival-rate-per-hour", "1", "--aht", "1"], "--group only applies"),
        (
            [
                "--arrival-rate-per-hour",
                "100",
                "--aht",
                "100",
                "--simulate",
                "verify",
                "--replications",
                "1",
            ],
            "at least 2",
        ),
        (["--scenario", "/nonexistent.yaml", "--group", "g"], "nonexistent.yaml"),
    ],
)
def test_staff_simulation_argument_errors(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert message in err
