"""`contactcenter simulate`: the subcommand on an argparse parser of our own (as the
contactcenter CLI assembles it)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from simulations import cli_simulate

SCENARIO = """\
name: cli test
duration: 1h
queues:
  - name: sales
    arrival_rate_per_hour: 200
    handle_time: {dist: exponential, mean_s: 180}
    patience: {dist: exponential, mean_s: 120}
agents:
  - count: 12
    skills: {sales: 5}
"""


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="contactcenter")
    sub = parser.add_subparsers(dest="command")
    cli_simulate.register(sub)
    args = parser.parse_args(argv)
    return int(args.func(args))


@pytest.fixture
def scenario_file(tmp_path: Path) -> Path:
    path = tmp_path / "cli.yaml"
    path.write_text(SCENARIO)
    return path


def test_json_prints_one_object(scenario_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["simulate", str(scenario_file), "--replications", "3", "--seed", "4", "--json"])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""  # not a terminal: no progress bar
    data = json.loads(out)
    assert data["replications"] == 3 and data["seed"] == 4
    sl = data["queues"]["sales"]["service_level"]
    assert 0 < sl["mean"] <= 1 and sl["half_width"] is not None
    assert data["analytic"]["model"] == "Erlang A"
    again = main(["simulate", str(scenario_file), "-n", "3", "--seed", "4", "--json"])
    assert again == 0 and json.loads(capsys.readouterr().out)["queues"] == data["queues"]


def test_table_and_report(
    scenario_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report = tmp_path / "report"
    code = main(
        ["simulate", str(scenario_file), "-n", "2", "--workers", "2", "--report", str(report)]
    )
    out, err = capsys.readouterr()
    assert code == 0
    assert "queue sales" in out and "Erlang A" in out
    assert (report / "index.html").exists() and "report written" in err


def test_progress_bar_when_asked(scenario_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", str(scenario_file), "-n", "2", "--progress", "--json"]) == 0
    err = capsys.readouterr().err
    assert "2/2 replications" in err


def test_bad_scenario_exits_2_with_the_file_path_and_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(SCENARIO.replace("mean_s: 180", "mean: 180"))
    assert main(["simulate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "queues[0] (sales).handle_time" in err and "Fix:" in err
    assert main(["simulate", str(tmp_path / "missing.yaml")]) == 2
