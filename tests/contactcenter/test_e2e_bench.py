"""benchmarks/e2e_bench.py at a tiny size: it runs end to end and its JSON adds up."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_e2e_bench_tiny() -> None:
    # about eight calls for each server, placed in half a second (16/s, talk 0.2 s, ten
    # agents: no queue), as many as at 4/s for two seconds
    proc = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "e2e_bench.py"),
            "--agents",
            "10",
            "--rate",
            "16",
            "--duration",
            "0.5",
            "--talk",
            "0.2",
            "--drain",
            "10",
            "--json",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    ours, bare = report["ours"], report["bare"]
    assert ours["calls_placed"] > 0
    assert ours["lost"] == 0 and ours["event_log"]["lost"] == 0
    assert ours["offered"] == ours["accepted_201"] == ours["answered"]
    assert ours["offers_without_screen_pop"] == 0
    assert ours["p50_ms"] is not None and ours["p99_ms"] >= ours["p50_ms"]
    assert bare["offered"] == bare["calls_placed"]
    assert report["ratio_p99"] is not None
    assert report["target"]["at_target_settings"] is False
