"""Facts of the websocket protocol have one home, contactcenter/protocol.py: every close
code the server sends and every pydantic model of a frame. An AST scan of the server
package keeps them there (a literal close code or a frame model elsewhere fails)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

from contactcenter import protocol

PACKAGE = Path(__file__).resolve().parents[2] / "contactcenter"
PROTOCOL = PACKAGE / "protocol.py"


def _modules() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path, ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _protocol_names(tree: ast.Module) -> tuple[set[str], set[str]]:
    """(names the protocol module is bound to, names imported from it)."""
    modules: set[str] = set()
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "contactcenter":
            modules |= {a.asname or a.name for a in node.names if a.name == "protocol"}
        elif isinstance(node, ast.ImportFrom) and node.module == "contactcenter.protocol":
            names |= {a.asname or a.name for a in node.names}
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "contactcenter.protocol" and alias.asname:
                    modules.add(alias.asname)
    return modules, names


def _is_protocol_close_code(node: ast.expr, modules: set[str], names: set[str]) -> bool:
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return node.value.id in modules and node.attr.startswith("CLOSE_")
    return isinstance(node, ast.Name) and node.id in names and node.id.startswith("CLOSE_")


def _literal_closes(tree: ast.Module) -> list[ast.expr]:
    """The codes of ``close(...)`` calls that are not the protocol's constants."""
    modules, names = _protocol_names(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
        if name != "close":
            continue
        code = next((k.value for k in node.keywords if k.arg == "code"), None)
        if code is None and node.args:
            code = node.args[0]
        if code is not None and not _is_protocol_close_code(code, modules, names):
            found.append(code)
    return found


def _frame_classes(tree: ast.Module) -> list[ast.ClassDef]:
    """Classes with a ``type: Literal[...]`` field: the discriminator of a frame union."""
    return [
        node
        for node in ast.walk(tree)
        if isinstance(node, ast.ClassDef)
        and any(
            isinstance(item, ast.AnnAssign)
            and isinstance(item.target, ast.Name)
            and item.target.id == "type"
            and "Literal" in ast.unparse(item.annotation)
            for item in node.body
        )
    ]


def _close_codes_outside_protocol() -> list[str]:
    return [
        f"{path.name}:{code.lineno}: close(code={ast.unparse(code)})"
        for path, tree in _modules()
        if path != PROTOCOL
        for code in _literal_closes(tree)
    ]


def _frame_models_outside_protocol() -> list[str]:
    return [
        f"{path.name}:{cls.lineno}: class {cls.name}"
        for path, tree in _modules()
        if path != PROTOCOL
        for cls in _frame_classes(tree)
    ]


def test_every_close_code_is_a_protocol_constant() -> None:
    assert _close_codes_outside_protocol() == []


def test_no_frame_model_outside_the_protocol_module() -> None:
    assert _frame_models_outside_protocol() == []


def test_the_close_codes_are_distinct_websocket_codes() -> None:
    codes = {name: getattr(protocol, name) for name in dir(protocol) if name.startswith("CLOSE_")}
    assert codes == {
        "CLOSE_GOING_AWAY": 1001,
        "CLOSE_TOO_SLOW": 1008,
        "CLOSE_REPLACED": 4000,
        "CLOSE_OTHER_TAB": 4001,
    }


def test_the_scan_finds_what_it_looks_for() -> None:
    # The checks above pass on an empty result; make sure the scan would see a violation.
    tree = ast.parse(
        "from contactcenter import protocol as p\n"
        "from contactcenter.protocol import CLOSE_OTHER_TAB\n"
        "from pydantic import BaseModel\n"
        "from typing import Literal\n"
        "class Start(BaseModel):\n"
        "    type: Literal['start']\n"
        "class Reply(BaseModel):\n"
        "    kind: Literal['reply']\n"
        "async def f(ws):\n"
        "    await ws.close(code=4000)\n"
        "    await ws.close(code=p.CLOSE_REPLACED)\n"
        "    await ws.close(code=REPLACED)\n"
        "    await ws.close(code=CLOSE_OTHER_TAB)\n"
        "    await ws.close(1001)\n"
    )
    assert [ast.unparse(c) for c in _literal_closes(tree)] == ["4000", "REPLACED", "1001"]
    assert [c.name for c in _frame_classes(tree)] == ["Start"]
