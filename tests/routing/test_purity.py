"""routing/ is a pure core: no I/O frameworks, no server or simulator, no wall clock."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ROUTING = ROOT / "routing"
SOURCES = sorted(ROUTING.rglob("*.py"))

IO_MODULES = ("asyncio", "aiohttp", "asyncpg", "redis", "websockets")
APP_MODULES = ("contactcenter", "simulations")
CLOCK_AND_CHANCE = ("time", "random", "datetime")
FORBIDDEN = IO_MODULES + APP_MODULES + CLOCK_AND_CHANCE


def _imported_modules(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import: stays inside routing/
                continue
            assert node.module is not None
            found.append((node.lineno, node.module))
    return found


def _top(name: str) -> str:
    return name.split(".", 1)[0]


def test_there_is_routing_source_to_check() -> None:
    names = {p.name for p in SOURCES}
    assert {"engine.py", "model.py", "stats.py", "transitions.py"} <= names


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_forbidden_imports(path: Path) -> None:
    bad = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for line, name in _imported_modules(path)
        if _top(name) in FORBIDDEN
    ]
    assert not bad, "routing/ must stay pure: " + "; ".join(bad)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_dynamic_imports_or_clock_reads(path: Path) -> None:
    """No __import__/importlib to sneak modules in; no awaits; no clock or chance calls."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    problems: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in ("__import__", "importlib"):
            problems.append(f"line {node.lineno}: {node.id}")
        if isinstance(node, ast.Await | ast.AsyncFunctionDef | ast.AsyncWith | ast.AsyncFor):
            problems.append(f"line {node.lineno}: async code ({type(node).__name__})")
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in CLOCK_AND_CHANCE
        ):
            problems.append(f"line {node.lineno}: {node.value.id}.{node.attr}")
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("now", "utcnow", "monotonic", "perf_counter")
            and isinstance(node.value, ast.Name | ast.Attribute)
        ):
            # wall-clock reads such as datetime.now() or time.monotonic()
            problems.append(f"line {node.lineno}: .{node.attr}")
    assert not problems, f"{path.relative_to(ROOT)}: " + "; ".join(problems)


def test_importing_routing_loads_no_io_or_app_module() -> None:
    """A fresh interpreter that imports the routing core has none of them in sys.modules."""
    probe = (
        "import json, sys\n"
        "import routing, routing.stats, routing.engine, routing.expressions\n"
        "import routing.pools, routing.transitions, routing.events, routing.errors\n"
        f"names = {list(IO_MODULES + APP_MODULES)!r}\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in names)\n"
        "print(json.dumps(loaded))\n"
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
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded == [], f"importing routing loaded {loaded}"


def test_importtime_shows_no_io_or_app_module() -> None:
    """Same check through ``python -X importtime``: every module the import touched."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import routing, routing.stats"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    imported = set()
    for line in result.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        name = line.rsplit("|", 1)[1].strip()
        imported.add(_top(name))
    assert "routing" in imported, "the probe did not import routing at all"
    assert not imported & set(IO_MODULES + APP_MODULES)
