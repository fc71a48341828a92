"""ivr/ is a pure core: no I/O frameworks, no server or simulator, no clock, no awaits."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "ivr").rglob("*.py"))

IO_MODULES = ("asyncio", "aiohttp", "asyncpg", "redis", "websockets", "socket", "http")
APP_MODULES = ("contactcenter", "simulations")
CLOCK_AND_CHANCE = ("time", "random")
FORBIDDEN = IO_MODULES + APP_MODULES + CLOCK_AND_CHANCE


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            assert node.module is not None
            found.append((node.lineno, node.module))
    return found


def test_the_core_modules_are_checked() -> None:
    names = {p.name for p in SOURCES}
    assert {"model.py", "loader.py", "session.py", "hours.py", "conditions.py"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_forbidden_imports(path: Path) -> None:
    bad = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for line, name in _imports(path)
        if name.split(".", 1)[0] in FORBIDDEN
    ]
    assert not bad, "ivr/ must stay pure: " + "; ".join(bad)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_async_code_or_clock_reads(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    problems: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Await | ast.AsyncFunctionDef | ast.AsyncWith | ast.AsyncFor):
            problems.append(f"line {node.lineno}: async code")
        if isinstance(node, ast.Name) and node.id in ("__import__", "importlib"):
            problems.append(f"line {node.lineno}: {node.id}")
        if isinstance(node, ast.Attribute) and node.attr in (
            "now",
            "utcnow",
            "today",
            "monotonic",
            "perf_counter",
            "time",
        ):
            problems.append(f"line {node.lineno}: .{node.attr} reads the clock")
    assert not problems, f"{path.relative_to(ROOT)}: " + "; ".join(problems)


def test_importing_ivr_loads_no_io_or_app_module() -> None:
    probe = (
        "import json, sys\n"
        "import ivr, ivr.session, ivr.loader, ivr.model, ivr.hours, ivr.conditions\n"
        f"names = {list(IO_MODULES[:5] + APP_MODULES)!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in names)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []
