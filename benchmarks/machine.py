"""What every benchmark prints beside its figures: the machine's load and a calibration.

The same code ran three times slower on another machine here, and a busy machine halves
CPU-bound figures; the calibration (a fixed 10M-iteration Python loop, in million
iterations per second) and the load averages let two reports be compared."""

from __future__ import annotations

import os
import platform
import time
from typing import Any

CALIBRATION_ITERATIONS = 10_000_000


def calibration_mips() -> float:
    """Million iterations per second of a fixed pure-Python loop (best of three)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(CALIBRATION_ITERATIONS):
            total += i
        best = min(best, time.perf_counter() - started)
    return round(CALIBRATION_ITERATIONS / best / 1e6, 2)


def machine_report() -> dict[str, Any]:
    load1, load5, load15 = os.getloadavg()
    return {
        "cpus": os.cpu_count(),
        "load_avg": [round(load1, 2), round(load5, 2), round(load15, 2)],
        "calibration_mips": calibration_mips(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }


def machine_line(report: dict[str, Any]) -> str:
    load = "/".join(f"{x:.2f}" for x in report["load_avg"])
    return (
        f"machine: {report['cpus']} cpus {report['machine']}, load {load} (1/5/15 min), "
        f"calibration {report['calibration_mips']} M loop iterations/s, "
        f"CPython {report['python']}"
    )
