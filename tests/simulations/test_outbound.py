"""The outbound simulator drives the real pacing and compliance code; predictive pays off."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from routing.compliance import Compliance, RegulatoryMode
from routing.pacing import Pacer, PacingConfig, PacingMode
from simulations.outbound import OutboundDay, OutboundScenario, run_day, run_days

ROOT = Path(__file__).resolve().parents[2]
PROGRESSIVE = PacingConfig(mode=PacingMode.PROGRESSIVE)
PREDICTIVE = PacingConfig(mode=PacingMode.PREDICTIVE)


def test_the_simulator_uses_the_routing_pacer_and_compliance() -> None:
    day = OutboundDay(OutboundScenario(hours=0.5), PREDICTIVE, seed=3)
    assert type(day.pacer) is Pacer
    assert type(day.compliance) is Compliance
    result = day.run()
    ledger = day.compliance.ledger.windows()
    assert len(ledger) == 1  # one day of a US campaign: one window
    assert (ledger[0].lives, ledger[0].abandons) == (result.lives, result.abandons)
    assert result.windows == [ledger[0].rate]
    assert day.pacer.last.basis == "predictive"
    assert 0.15 < day.pacer.estimates(day.end)["p_live"] < 0.35  # 5-minute window: noisy


def test_progressive_matches_the_back_of_the_envelope() -> None:
    # Per live call: 3 failed dials of ~16 s on average, then ~11 s to the live verdict.
    r = run_day(OutboundScenario(hours=2), PROGRESSIVE, seed=1)
    assert r.abandons == 0
    assert 50 < r.wait_between_calls_s < 68
    assert 34 < r.talk_min_per_agent_hour < 40
    assert r.dials == pytest.approx(4 * r.lives, rel=0.1)


def test_same_seed_same_day_and_common_random_numbers() -> None:
    sc = OutboundScenario(hours=0.5, agents=10)
    a, b = run_day(sc, PREDICTIVE, 5), run_day(sc, PREDICTIVE, 5)
    assert (a.dials, a.lives, a.abandons, a.talk_s) == (b.dials, b.lives, b.abandons, b.talk_s)
    c = run_day(sc, PREDICTIVE, 6)
    assert (a.dials, a.talk_s) != (c.dials, c.talk_s)


def test_predictive_beats_progressive_on_s1_and_stays_under_the_limit() -> None:
    sc = OutboundScenario(hours=2)
    prog = run_days(sc, PROGRESSIVE, [1, 2])
    pred = run_days(sc, PREDICTIVE, [1, 2])
    assert pred.talk_min_per_agent_hour > prog.talk_min_per_agent_hour + 5
    assert pred.wait_between_calls_s < prog.wait_between_calls_s / 2
    assert pred.worst_window <= 0.03
    assert pred.windows_in_breach == 0


def test_predictive_follows_an_answer_rate_drop() -> None:
    sc = OutboundScenario(hours=1.5, p_live_after=0.12, change_at_h=0.5)
    day = OutboundDay(sc, PREDICTIVE, seed=2)
    r = day.run()
    assert day.pacer.estimates(day.end)["p_live"] == pytest.approx(0.12, abs=0.04)
    # After the drop it dials more per live answer: talk time holds up.
    first, last = r.talk_by_interval[:2], r.talk_by_interval[-2:]
    assert sum(last) / 2 > 0.9 * sum(first) / 2
    assert r.abandon_rate <= 0.03


def test_scenario_validation() -> None:
    with pytest.raises(ValidationError, match="exceed 1"):
        OutboundScenario(p_live=0.6, p_busy=0.3, p_machine=0.3)
    with pytest.raises(ValidationError, match="go together"):
        OutboundScenario(p_live_after=0.1)


def test_dialer_bench_smoke_json() -> None:
    result = subprocess.run(
        [
            sys.executable,
            "benchmarks/dialer_bench.py",
            "--quick",
            "--json",
            "--hours",
            "0.5",
            "--scenarios",
            "S1,S1-5",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(r["scenario"], r["mode"]) for r in rows] == [
        (s, m) for s in ("S1", "S1-5") for m in ("progressive", "power", "predictive")
    ]
    for r in rows:
        assert r["seeds"] == 2
        assert r["talk_min_per_agent_hour"] > 20
        assert 0 <= r["abandon_rate_mean"] <= r["abandon_rate_worst_window"] + 1e-9
    assert rows[1]["grid"] and rows[1]["ratio"] >= 1.0
    assert "talk min/ag-h" in result.stderr  # the table goes to stderr with --json


def test_uk_mode_counts_amd_false_positives_and_the_brake_holds_the_window() -> None:
    # 1% of machine verdicts assumed live: about 1.2% on top of the real abandons.
    sc = OutboundScenario(hours=2, mode=RegulatoryMode.UK, amd_false_positive_rate=0.01)
    day = OutboundDay(sc, PREDICTIVE, seed=1)
    r = day.run()
    (window,) = day.compliance.ledger.windows()
    assert window.end - window.start == 24 * 3600
    assert window.fp_estimate == pytest.approx(0.01 * window.machines)
    assert window.rate > r.abandon_rate + 0.008
    assert window.rate <= 0.03
