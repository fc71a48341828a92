"""The load test against a real server: a tiny scenario sped up, virtual callers through the
gateway and virtual agents on their websockets; the report has the server's figures beside
the harness's expectation."""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path

import asyncpg
import pytest

from contactcenter.settings import Settings
from contactcenter.store.users import create_user
from simulations import loadtest
from simulations.scenario import load_scenario
from tests.contactcenter.server_support import PASSWORD, add_agent, running_app

SCENARIO = """\
name: tiny
duration: 2m
seed: 3
replications: 3
queues:
  - name: sales
    arrival_rate_per_hour: 900
    handle_time: {dist: exponential, mean_s: 8}
    patience: {dist: exponential, mean_s: 40}
    wrap_up: {dist: constant, mean_s: 2}
agents:
  - count: 2
    skills: {sales: 5}
"""


def test_arrivals_are_bounded(tmp_path: Path) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(SCENARIO)
    scenario = load_scenario(path)
    config = loadtest.LoadTestConfig(
        url="http://127.0.0.1:1",
        username="a",
        password="b",
        agents=[("x", "y")],
        max_duration=60,
        max_calls=5,
    )
    calls = loadtest.LoadTest(scenario, config).arrivals()
    assert 0 < len(calls) <= 5
    assert all(0 <= t < 60 and q == "sales" for t, q in calls)
    assert [t for t, _ in calls] == sorted(t for t, _ in calls)


def test_agents_file(tmp_path: Path) -> None:
    path = tmp_path / "agents.txt"
    path.write_text("# accounts\nalice pw one\n\nbob secret\n")
    assert loadtest.read_agents_file(path) == [("alice", "pw one"), ("bob", "secret")]
    path.write_text("carol\n")
    with pytest.raises(ValueError, match="username password"):
        loadtest.read_agents_file(path)


SPEED = 60
"""Two scenario minutes in two wall seconds: talk 130 ms, patience 0.7 s on average,
offers answered within milliseconds, so the same traffic as at a slower speed."""


async def test_loadtest_reports_server_beside_expected(
    db: asyncpg.Pool,
    cc_settings: Settings,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(SCENARIO)
    scenario = load_scenario(path)
    await create_user(db, username="gateway", password=PASSWORD, role="admin")
    for name in ("alice", "bob"):
        await add_agent(db, name, {"sales": 5})
    parser = argparse.ArgumentParser()
    loadtest.register(parser.add_subparsers())
    # the carrier finds the gateway key the server created in its data directory
    monkeypatch.setenv("CC_DATA_DIR", str(cc_settings.data_dir))
    monkeypatch.delenv("CC_GATEWAY_KEY", raising=False)
    async with running_app(cc_settings, db, routing_config=scenario.routing_config()) as client:
        args = parser.parse_args(
            [
                "loadtest",
                str(path),
                "--url",
                str(client.make_url("")),
                "--username",
                "gateway",
                "--password",
                PASSWORD,
                "--agent",
                "alice",
                "--agent",
                "bob",
                "--agent-password",
                PASSWORD,
                "--speed",
                str(SPEED),
                "--drain",
                "3",
                "--json",
            ]
        )
        # the command runs its own event loop: give it a thread
        code = await asyncio.wait_for(asyncio.to_thread(args.func, args), 60)
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["scenario_seconds"] == 120 and report["speed"] == SPEED
    assert report["agents"]["logged_in"] == 2
    calls = report["calls"]
    assert calls["placed"] > 0 and calls["bridged"] > 0 and calls["errors"] == 0, report
    sales = report["queues"]["sales"]
    server, expected = sales["server"], sales["expected"]
    assert server["offered"] == calls["placed"], report
    assert 0 < server["answered"] <= server["offered"], report
    assert expected["offered"] > 0 and expected["answered"] > 0, report
    assert expected["replications"] == 3
    assert report["analytic"]["model"] == "Erlang A"
    text = loadtest.format_report(report)
    assert "server" in text and "expected" in text and "offered" in text
    agents = report["agents"]
    assert agents["wrapped_up"] == agents["accepted"] > 0, agents
    # the only refusals: an accept or an end that crossed the caller's hang-up
    races = {
        "accept:offer_expired",
        "accept:unknown_contact",
        "accept:illegal_transition",
        "end:unknown_contact",
        "end:illegal_transition",
    }
    assert set(agents["error_codes"]) <= races, agents["error_codes"]
    assert agents["errors"] <= 3, agents["error_codes"]


def test_command_refuses_bad_input_and_an_unreachable_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "tiny.yaml"
    path.write_text(SCENARIO)
    parser = argparse.ArgumentParser()
    loadtest.register(parser.add_subparsers())
    base = [
        "loadtest",
        str(path),
        "--url",
        "http://127.0.0.1:9",
        "--username",
        "gateway",
        "--password",
        "pw",
    ]
    args = parser.parse_args(base)
    assert args.func(args) == loadtest.EXIT_BAD_INPUT  # no agent accounts
    assert "agent accounts" in capsys.readouterr().err
    args = parser.parse_args([*base, "--agent", "alice", "--agent-password", "pw"])
    assert args.func(args) == 1
    assert "cannot log in" in capsys.readouterr().err
