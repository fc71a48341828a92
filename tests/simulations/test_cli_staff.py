"""`contactcenter staff`: human and JSON output, forecasts, and exit code 2 on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from contactcenter.cli import main

CONFIG = Path(__file__).resolve().parents[2] / "config"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["staff", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def labelled_lines(out: str) -> dict[str, str]:
    """'  label:   value' lines of the human output as {label: value}."""
    pairs: dict[str, str] = {}
    for line in out.splitlines():
        if line.startswith("  ") and ":" in line:
            label, value = line.split(":", 1)
            pairs[label.strip()] = value.strip()
    return pairs


def test_single_case_human_output(capsys: pytest.CaptureFixture[str]) -> None:
    # the CRAN ErlangC / pyworkforce worked example: 200 calls/hour, AHT 180 s, 80/20
    code, out, err = run(
        capsys,
        "--arrival-rate-per-hour",
        "200",
        "--aht",
        "180",
        "--sl",
        "0.8",
        "--threshold",
        "20",
        "--shrinkage",
        "0.3",
        "--max-occupancy",
        "0.85",
    )
    assert code == 0 and err == ""
    assert "Erlang C" in out
    lines = labelled_lines(out)
    assert lines["agents needed"] == "14"
    assert lines["scheduled (30% shrinkage)"] == "20"
    assert lines["service level"].startswith("88.8%")
    assert lines["ASA"] == "7.8 s"
    assert lines["occupancy"] == "71.4%"
    assert "abandoned" not in lines


def test_single_case_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "--arrival-rate-per-hour", "200", "--aht", "180", "--shrinkage", "0.3", "--json"
    )
    assert code == 0
    payload = json.loads(out)
    assert payload["model"] == "erlang_c"
    assert payload["result"]["agents"] == 14
    assert payload["result"]["scheduled"] == 20
    assert payload["result"]["service_level"] == pytest.approx(0.88835, abs=1e-6)
    assert payload["result"]["p_abandon"] is None
    assert payload["target"]["threshold_s"] == 20.0


def test_single_case_with_patience(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys, "--arrival-rate-per-hour", "200", "--aht", "180", "--patience", "120", "--json"
    )
    assert code == 0
    payload = json.loads(out)
    assert payload["model"] == "erlang_a"
    assert payload["result"]["agents"] <= 14
    assert 0.0 < payload["result"]["p_abandon"] < 0.2
    code, out, _ = run(
        capsys, "--arrival-rate-per-hour", "200", "--aht", "180", "--patience", "120"
    )
    assert code == 0 and "abandoned" in out and "Erlang A" in out


def test_forecast_table(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        capsys, "--forecast", str(CONFIG / "forecast_short.csv"), "--shrinkage", "0.3"
    )
    assert code == 0 and err == ""
    assert "30-minute intervals" in out
    header = next(line for line in out.splitlines() if line.startswith("start"))
    assert header.split() == [
        "start",
        "calls",
        "AHT",
        "s",
        "load",
        "agents",
        "sched",
        "SL",
        "ASA",
        "s",
        "occ",
    ]
    rows = [line for line in out.splitlines() if line[:2].isdigit()]
    assert [row.split()[0] for row in rows] == ["08:00", "08:30", "09:00", "09:30"]
    assert "Peak agents: support" in out


def test_forecast_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        "--forecast",
        str(CONFIG / "forecast_example.csv"),
        "--patience",
        "180",
        "--max-occupancy",
        "0.9",
        "--json",
    )
    assert code == 0
    payload = json.loads(out)
    assert payload["interval_minutes"] == 30
    assert len(payload["intervals"]) == 48
    first = payload["intervals"][0]
    assert first["interval_start"] == "00:00" and first["line"] == 2
    assert all(row["occupancy"] <= 0.9 + 1e-12 for row in payload["intervals"])
    assert payload["summary"]["peak_agents"]["support"] == max(
        row["agents"] for row in payload["intervals"]
    )


def test_bad_csv_exits_2_naming_file_line_column(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("interval_start,arrivals,aht_s\n08:00,10,200\n08:30,ten,200\n")
    code, out, err = run(capsys, "--forecast", str(path))
    assert code == 2 and out == ""
    assert f"{path}:3: column 'arrivals'" in err
    assert "not a number" in err


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["--aht", "180"], "need --arrival-rate-per-hour"),
        (["--arrival-rate-per-hour", "100"], "need --arrival-rate-per-hour"),
        (["--arrival-rate-per-hour", "100", "--aht", "180", "--sl", "1.5"], "service level"),
        (["--arrival-rate-per-hour", "100", "--aht", "-5"], "aht"),
        (["--arrival-rate-per-hour", "-100", "--aht", "180"], "arrival_rate"),
        (["--arrival-rate-per-hour", "100", "--aht", "180", "--patience", "0"], "patience"),
        (
            ["--arrival-rate-per-hour", "100", "--aht", "180", "--max-abandon", "0.1"],
            "--max-abandon needs --patience",
        ),
        (["--arrival-rate-per-hour", "100", "--aht", "180", "--shrinkage", "1"], "shrinkage"),
        (["--forecast", "x.csv", "--aht", "180"], "either --forecast"),
        (["--forecast", "/nonexistent/day.csv"], "cannot read /nonexistent/day.csv"),
        (
            ["--arrival-rate-per-hour", "1", "--aht", "1", "--interval-minutes", "30"],
            "only applies to --forecast",
        ),
    ],
)
def test_bad_arguments_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], fragment: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert err.startswith("contactcenter staff: error:")
    assert fragment in err


def test_unparseable_number_is_an_argparse_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["staff", "--arrival-rate-per-hour", "lots", "--aht", "180"])
    assert caught.value.code == 2
    assert "invalid float value" in capsys.readouterr().err
