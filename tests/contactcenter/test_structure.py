"""The server shell's structure: services get their collaborators from the composition
root, so the import graph has no cycles (type-only imports included) and no module
assigns attributes of another module's objects or appends to their lists."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "contactcenter"
MUTATORS = frozenset({"append", "insert", "extend", "add", "update", "setdefault", "remove"})


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, ast.Module]:
    return {
        _module_name(p): ast.parse(p.read_text(), str(p)) for p in sorted(PACKAGE.rglob("*.py"))
    }


def _imports(name: str, tree: ast.Module, known: set[str]) -> set[str]:
    """Modules of the package this one imports, anywhere in it (TYPE_CHECKING blocks and
    function bodies included): a cycle of type-only imports is still a cycle to a reader."""
    found: set[str] = set()
    package = name if name in {"contactcenter"} or _is_package(name) else name.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")
                parent = parent[: len(parent) - (node.level - 1)]
                base = ".".join([*parent, base] if base else parent)
            found.add(base)
            for alias in node.names:
                found.add(f"{base}.{alias.name}")
    return {m for m in found if m in known and m != name}


def _is_package(name: str) -> bool:
    return (ROOT / Path(*name.split(".")) / "__init__.py").exists()


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)) is not None:
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)) is not None:
            return found
    return None


def test_import_graph_of_the_server_has_no_cycle() -> None:
    modules = _modules()
    known = set(modules)
    graph = {name: _imports(name, tree, known) for name, tree in modules.items()}
    # a package's __init__ importing its own submodules is how packages are made
    for name in graph:
        graph[name] = {m for m in graph[name] if not m.startswith(name + ".")}
    cycle = _find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_cycle_finder_finds_a_planted_cycle() -> None:
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b"}, "b": set()}) is None


def _is_record(cls: ast.ClassDef) -> bool:
    """A data record (dataclass, pydantic model, NamedTuple, exception) rather than a
    service: its fields are data that whoever builds it may fill in."""
    names = {ast.unparse(d).split("(")[0] for d in cls.decorator_list}
    bases = {ast.unparse(b) for b in cls.bases}
    return bool(
        names & {"dataclass", "dataclasses.dataclass"}
        or bases & {"BaseModel", "NamedTuple", "TypedDict", "Exception", "RuntimeError"}
    )


def _service_attributes(tree: ast.Module) -> set[str]:
    """Attributes that this module's service classes (not records) set on ``self``."""
    names: set[str] = set()
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        if _is_record(cls):
            continue
        for node in ast.walk(cls):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Store)
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
            ):
                names.add(node.attr)
    return names


def _own_attributes(tree: ast.Module) -> set[str]:
    """Every attribute name this module's classes declare (fields or ``self.x = ``)."""
    names = _service_attributes(tree)
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        for item in ast.walk(cls):
            if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name):
                names.add(item.target.id)
            elif (
                isinstance(item, ast.Attribute)
                and isinstance(item.ctx, ast.Store)
                and isinstance(item.value, ast.Name)
                and item.value.id == "self"
            ):
                names.add(item.attr)
    return names


def _rooted_at_self(node: ast.expr) -> bool:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return isinstance(node, ast.Name) and node.id in {"self", "cls"}


def _foreign_writes(tree: ast.Module, foreign: set[str]) -> list[str]:
    """``x.attr = ...`` and ``x.attr.append(...)`` where ``attr`` belongs to a service
    class of another module (``foreign``), is not declared by this module's classes,
    and ``x`` is not this object (or reached from it)."""
    own = _own_attributes(tree)
    found: list[str] = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = list(node.targets) if isinstance(node, ast.Assign) else [node.target]
            flat: list[ast.expr] = []
            for t in targets:
                flat.extend(t.elts if isinstance(t, ast.Tuple) else [t])
            targets = flat
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in MUTATORS
            and isinstance(node.func.value, ast.Attribute)
        ):
            targets = [node.func.value]
        for t in targets:
            if not isinstance(t, ast.Attribute) or _rooted_at_self(t.value):
                continue
            if t.attr in own or t.attr not in foreign:
                continue
            found.append(f"line {t.lineno}: {ast.unparse(t)}")
    return sorted(found)


def test_no_module_writes_another_modules_attributes() -> None:
    modules = _modules()
    attributes = {name: _service_attributes(tree) for name, tree in modules.items()}
    offenders = {}
    for name, tree in modules.items():
        foreign = set().union(*(a for other, a in attributes.items() if other != name))
        if writes := _foreign_writes(tree, foreign):
            offenders[name] = writes
    assert offenders == {}


def test_foreign_write_check_catches_a_planted_write() -> None:
    planted = ast.parse(
        "class Mine:\n    def __init__(self):\n        self.ok = 1\n"
        "def wire(acd, hub):\n    acd.agent_sink = hub.deliver\n"
        "    acd.contact_hooks.append(hub.on_event)\n    mine = Mine()\n    mine.ok = 2\n"
    )
    assert _foreign_writes(planted, {"agent_sink", "contact_hooks", "ok"}) == [
        "line 5: acd.agent_sink",
        "line 6: acd.contact_hooks",
    ]
