"""Instructions per routing decision and per simulated replication, counted by callgrind.

Wall-clock figures on a shared 2-core machine wander by a quarter from run to run; the
number of instructions a piece of work executes does not (valgrind counts them, whatever
else the machine does). Each figure is the difference between a small and a large run of
the same work divided by the difference in units, so start-up and imports cancel out.

    python benchmarks/instruction_counts.py --json                 # this checkout
    python benchmarks/instruction_counts.py --root ../old --json   # another checkout, to compare

Needs ``valgrind`` (Debian package). The workloads: ``benchmarks/routing_bench.py``'s run
(1,000 agents, 50 skills, 20,000 and 60,000 contacts) and replications of
``config/scenarios/basic.yaml`` (3 and 13), both taken from ``--root``.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.machine import machine_line, machine_report  # noqa: E402

ROUTING_SIZES = (20_000, 60_000)
SIM_SIZES = (3, 13)
_COLLECTED = re.compile(r"Collected : (\d+)")


def _work(root: Path, part: str, size: int) -> int:
    """Run one workload in this process (under valgrind); the number of units done."""
    sys.path.insert(0, str(root))
    sys.path.insert(0, str(root / "benchmarks"))
    if part == "routing":
        import routing_bench

        args = argparse.Namespace(
            agents=1000, skills=50, contacts=size, seed=1, strategy="longest_idle", json=True
        )
        return int(routing_bench.run(args)["decisions"])
    from simulations.replications import run_replication
    from simulations.scenario import load_scenario

    scenario = load_scenario(root / "config" / "scenarios" / "basic.yaml")
    for replication in range(size):
        run_replication(scenario, replication, 1)
    return size


def _count(root: Path, part: str, size: int) -> tuple[int, int]:
    """(instructions, units) of one workload run under callgrind."""
    with tempfile.TemporaryDirectory() as tmp:
        done = subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                f"--callgrind-out-file={tmp}/out",
                sys.executable,
                __file__,
                "--work",
                part,
                str(size),
                "--root",
                str(root),
            ],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
        )
    match = _COLLECTED.search(done.stderr)
    if match is None:
        raise SystemExit(f"callgrind printed no count:\n{done.stderr[-2000:]}")
    return int(match.group(1)), int(done.stdout.strip().splitlines()[-1])


def _per_unit(root: Path, part: str, sizes: tuple[int, int]) -> dict[str, Any]:
    (small_i, small_n), (large_i, large_n) = (_count(root, part, s) for s in sizes)
    return {
        "sizes": list(sizes),
        "units": [small_n, large_n],
        "instructions": [small_i, large_i],
        "instructions_per_unit": round((large_i - small_i) / (large_n - small_n)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=HERE.parent, help="checkout to measure")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--work", nargs=2, metavar=("PART", "SIZE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    root = args.root.resolve()
    if args.work:
        print(_work(root, args.work[0], int(args.work[1])))
        return 0
    result = {
        "root": str(root),
        "routing_decision": _per_unit(root, "routing", ROUTING_SIZES),
        "simulated_replication_basic_yaml": _per_unit(root, "sim", SIM_SIZES),
        "machine_report": machine_report(),
    }
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{root}")
    decision = result["routing_decision"]["instructions_per_unit"]
    print(f"  instructions per routing decision : {decision:>14,}")
    sim = result["simulated_replication_basic_yaml"]["instructions_per_unit"]
    print(f"  instructions per replication      : {sim:>14,}  (config/scenarios/basic.yaml)")
    print(machine_line(result["machine_report"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
