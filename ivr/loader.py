"""Loading and validating IVR trees; the registry that swaps them on reload.

Parsing and checking take text (``sources``: name -> YAML), so they stay free of I/O;
``read_sources`` is the one helper that reads a directory, for the CLI and server start.
Every problem found is reported (not only the first), each naming the file, the node and
the fix. A catalogue is all-or-nothing: one bad tree refuses the whole reload, and
``Registry`` keeps serving the catalogue it had.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ivr.conditions import ConditionError, Expression, compile_expression
from ivr.errors import IvrConfigError, Problem
from ivr.hours import Hours
from ivr.model import (
    INPUT_TYPES,
    BranchNode,
    CallbackNode,
    Channel,
    CollectNode,
    LookupNode,
    MenuNode,
    Node,
    PlayNode,
    QueueNode,
    SayNode,
    SetNode,
    SubtreeNode,
    SurveyNode,
    TreeModel,
)

NODE_TYPES = (
    "say, play, menu, collect, branch, set, lookup, subtree, return, callback, voicemail, "
    "transfer, queue, hangup, survey"
)


@dataclass(frozen=True, slots=True)
class InputSettings:
    """An input node's settings with the tree's defaults filled in."""

    timeout_s: float
    retries: int
    no_input_prompt: str
    invalid_prompt: str
    on_failure: str


@dataclass(frozen=True, slots=True)
class Tree:
    """A validated tree, compiled for the interpreter."""

    id: str
    source: str
    model: TreeModel
    hours: Mapping[str, Hours]
    expressions: Mapping[str, Expression]
    """Compiled branch conditions and set expressions, by their source text."""
    patterns: Mapping[str, re.Pattern[str]]
    """Compiled collect patterns, by node id."""
    inputs: Mapping[str, InputSettings]
    """Resolved settings of every input node, by node id."""
    catalog: Mapping[str, Tree] = field(default_factory=dict, repr=False, compare=False)
    """Every tree of the catalogue this one was loaded with (for sub-trees)."""

    @property
    def nodes(self) -> Mapping[str, Node]:
        return self.model.nodes

    @property
    def channels(self) -> tuple[Channel, ...]:
        return self.model.channels


@dataclass(frozen=True, slots=True)
class Catalog:
    trees: Mapping[str, Tree]
    entries: Mapping[Channel, str]
    """Which tree a new contact on each channel starts in."""

    def entry(self, channel: Channel) -> Tree:
        try:
            return self.trees[self.entries[channel]]
        except KeyError:
            raise KeyError(f"no IVR tree is the entry for {channel}") from None


# --- parsing -------------------------------------------------------------------------------


def _pydantic_problems(source: str, exc: ValidationError) -> list[Problem]:
    errors = exc.errors()
    locs = [tuple(e["loc"]) for e in errors]
    problems: list[Problem] = []
    for err, loc in zip(errors, locs, strict=True):
        # pydantic adds a "too short" for a list whose only item failed; the item's own
        # error is the useful one
        if err["type"] == "too_short" and any(o != loc and o[: len(loc)] == loc for o in locs):
            continue
        node: str | None = None
        rest: tuple[Any, ...] = loc
        if len(loc) >= 2 and loc[0] == "nodes":
            node = str(loc[1])
            rest = loc[2:]
            if rest and isinstance(rest[0], str) and rest[0] in NODE_TYPES.split(", "):
                rest = rest[1:]  # the discriminator tag pydantic puts in the path
        key = ".".join(f"[{p}]" if isinstance(p, int) else str(p) for p in rest)
        key = key.replace(".[", "[")
        msg = str(err["msg"]).removeprefix("Value error, ")
        kind = err["type"]
        if kind == "missing":
            message, fix = f"{key} is missing", f"add '{key.rsplit('.', 1)[-1]}:' to it"
        elif kind == "extra_forbidden":
            message = f"{key} is not a known key"
            fix = "remove it or correct its spelling (see docs/ivr.md)"
        elif kind in ("union_tag_invalid", "union_tag_not_found"):
            message = "its type is missing or unknown"
            fix = f"set 'type:' to one of {NODE_TYPES}"
        elif kind == "value_error":
            message, fix = (f"{key}: {msg}" if key else msg), "change the value as the message says"
        else:
            message = f"{key}: {msg}" if key else msg
            fix = "correct the value (see docs/ivr.md for the format)"
        problems.append(Problem(source, node, message, fix))
    return problems


def parse_tree(text: str, source: str) -> TreeModel:
    """One file's YAML to its model; IvrConfigError on bad YAML or a bad shape."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise IvrConfigError(
            [Problem(source, None, f"not valid YAML: {exc}", "correct the YAML syntax")]
        ) from None
    if not isinstance(data, dict):
        raise IvrConfigError(
            [
                Problem(
                    source,
                    None,
                    "expected a mapping",
                    "start the file with 'start:' and 'nodes:' (see docs/ivr.md)",
                )
            ]
        )
    try:
        return TreeModel.model_validate(data)
    except ValidationError as exc:
        raise IvrConfigError(_pydantic_problems(source, exc)) from None


# --- graph ---------------------------------------------------------------------------------


def _on_failure(model: TreeModel, node: Node) -> str | None:
    if isinstance(node, INPUT_TYPES):
        return node.on_failure or model.defaults.on_failure
    return None


def edges(model: TreeModel, node: Node) -> Iterator[tuple[str, str, bool]]:
    """(key, target, taken without input) for every way out of ``node``."""
    is_input = isinstance(node, INPUT_TYPES)
    if isinstance(node, MenuNode):
        for opt in node.options:
            yield f"options[{opt.key}].next", opt.next, False
    elif isinstance(node, BranchNode):
        for i, case in enumerate(node.cases):
            yield f"cases[{i}].next", case.next, True
        yield "default", node.default, True
    elif isinstance(node, LookupNode):
        yield "found", node.found, True
        yield "not_found", node.not_found, True
    else:
        nxt = getattr(node, "next", None)
        if isinstance(nxt, str):
            yield "next", nxt, not is_input
    failure = _on_failure(model, node)
    if failure is not None:
        yield "on_failure", failure, True


def _suggest(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _find_cycle(graph: Mapping[str, list[str]]) -> list[str] | None:
    """A cycle in ``graph`` as a node list (first == last), or None."""
    colour: dict[str, int] = {}
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        colour[n] = 1
        stack.append(n)
        for m in graph.get(n, ()):
            if colour.get(m) == 1:
                return [*stack[stack.index(m) :], m]
            if m not in colour:
                found = visit(m)
                if found:
                    return found
        stack.pop()
        colour[n] = 2
        return None

    for n in sorted(graph):
        if n not in colour:
            found = visit(n)
            if found:
                return found
    return None


# --- checks of one tree --------------------------------------------------------------------


def _blank(text: str | None) -> bool:
    return text is None or not text.strip()


def _check_tree(
    model: TreeModel,
    source: str,
    known_queues: frozenset[str] | None,
    problems: list[Problem],
) -> tuple[dict[str, Expression], dict[str, re.Pattern[str]], dict[str, InputSettings]]:
    nodes = model.nodes
    expressions: dict[str, Expression] = {}
    patterns: dict[str, re.Pattern[str]] = {}
    inputs: dict[str, InputSettings] = {}

    def bad(node: str | None, message: str, fix: str) -> None:
        problems.append(Problem(source, node, message, fix))

    if model.start not in nodes:
        bad(
            None,
            f"start {model.start!r} is not a node of this tree",
            f"set 'start:' to a node id{_suggest(model.start, nodes)}",
        )

    variables: set[str] = set()
    for node in nodes.values():
        if isinstance(node, CollectNode | MenuNode) and node.variable:
            variables.add(node.variable)
        if isinstance(node, MenuNode):
            for opt in node.options:
                variables.update(opt.set)
        if isinstance(node, SetNode):
            variables.update(node.values)
            variables.update(node.expressions)

    for node_id, node in nodes.items():
        for key, target, _ in edges(model, node):
            if target not in nodes:
                origin = key
                if key == "on_failure" and getattr(node, "on_failure", None) is None:
                    origin = "on_failure (from defaults.on_failure)"
                bad(
                    node_id,
                    f"{origin} goes to {target!r}, which is not a node of this tree",
                    f"use an existing node id{_suggest(target, nodes)} or add node {target!r}",
                )

        if isinstance(node, SayNode) and _blank(node.prompt):
            bad(node_id, "a say node has no prompt", "add 'prompt:' with the text to say")
        if isinstance(node, PlayNode) and "chat" in model.channels and _blank(node.prompt):
            bad(
                node_id,
                "a play node on a chat tree has no text for chat visitors",
                "add 'prompt:' with the recording's text",
            )

        if isinstance(node, INPUT_TYPES):
            d = model.defaults
            if _blank(node.prompt):
                what = "CSAT question" if isinstance(node, SurveyNode) else "prompt"
                bad(node_id, f"an input node has no {what}", "add 'prompt:' with the question")
            if isinstance(node, SurveyNode) and _blank(node.resolved_prompt):
                bad(
                    node_id,
                    "a survey has no question whether the issue was resolved",
                    "add 'resolved_prompt:' (e.g. 'Was your issue resolved? 1 yes, 2 no')",
                )
            no_input = node.no_input_prompt or d.no_input_prompt
            invalid = node.invalid_prompt or d.invalid_prompt
            failure = node.on_failure or d.on_failure
            for name, value in (("no_input_prompt", no_input), ("invalid_prompt", invalid)):
                if _blank(value):
                    bad(
                        node_id,
                        f"an input node has no {name}",
                        f"add '{name}:' to the node or to the tree's 'defaults:'",
                    )
            if failure is None:
                bad(
                    node_id,
                    "an input node does not say where to go when retries run out",
                    "add 'on_failure:' to the node or to the tree's 'defaults:'",
                )
            inputs[node_id] = InputSettings(
                timeout_s=node.timeout_s if node.timeout_s is not None else d.timeout_s,
                retries=node.retries if node.retries is not None else d.retries,
                no_input_prompt=no_input or "",
                invalid_prompt=invalid or "",
                on_failure=failure or "",
            )

        if isinstance(node, CollectNode) and node.pattern is not None:
            patterns[node_id] = re.compile(node.pattern)

        sources: list[tuple[str, str]] = []
        if isinstance(node, BranchNode):
            sources = [(f"cases[{i}].when", c.when) for i, c in enumerate(node.cases)]
        elif isinstance(node, SetNode):
            sources = [(f"expressions.{k}", v) for k, v in node.expressions.items()]
        for key, text in sources:
            try:
                expr = compile_expression(text)
            except ConditionError as exc:
                bad(node_id, f"{key}: {exc}", "rewrite the condition (see docs/ivr.md)")
                continue
            expressions[text] = expr
            for name in sorted(expr.schedules - set(model.schedules)):
                bad(
                    node_id,
                    f"{key} reads schedule {name!r}, which the tree does not define",
                    f"add it under 'schedules:'{_suggest(name, model.schedules)}",
                )

        if (
            isinstance(node, QueueNode | CallbackNode)
            and known_queues is not None
            and node.queue not in known_queues
        ):
            bad(
                node_id,
                f"queue {node.queue!r} does not exist in the routing configuration",
                f"use one of {', '.join(sorted(known_queues))}"
                f"{_suggest(node.queue, known_queues)} or define it in config/routing.yaml",
            )

        if (
            isinstance(node, LookupNode)
            and node.by == "variable"
            and node.variable not in variables
        ):
            bad(
                node_id,
                f"looks up by variable {node.variable!r}, which no node sets",
                "collect it first with a collect node ('variable:') or fix the name",
            )

    if problems:
        return expressions, patterns, inputs

    # unreachable nodes: a node nobody can get to is almost always a wiring mistake
    seen = {model.start}
    todo = [model.start]
    while todo:
        for _, target, _ in edges(model, nodes[todo.pop()]):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    for node_id in nodes:
        if node_id not in seen:
            bad(
                node_id,
                "cannot be reached from the start node",
                f"send a caller to {node_id!r} from another node, or delete it",
            )

    # loops that take no input: following only edges taken without a caller's answer (and
    # the retries-exhausted exits) must not come back, or a silent caller loops forever
    silent = {n: [t for _, t, auto in edges(model, node) if auto] for n, node in nodes.items()}
    cycle = _find_cycle(silent)
    if cycle is not None:
        bad(
            cycle[0],
            "loop that takes no input: " + " -> ".join(cycle),
            "break the loop: put a menu or collect node in it, or send on_failure to a "
            "node that ends the call (hangup, queue, voicemail)",
        )
    return expressions, patterns, inputs


# --- the catalogue -------------------------------------------------------------------------


def build_catalog(sources: Mapping[str, str], known_queues: Iterable[str] | None = None) -> Catalog:
    """Parse and check every tree in ``sources`` (file name -> YAML text).

    ``known_queues`` are the queue ids of the routing configuration; None skips that check.
    Raises IvrConfigError listing every problem; returns nothing partial.
    """
    queues = None if known_queues is None else frozenset(known_queues)
    problems: list[Problem] = []
    models: dict[str, tuple[str, TreeModel]] = {}
    for source, text in sorted(sources.items()):
        try:
            model = parse_tree(text, source)
        except IvrConfigError as exc:
            problems.extend(exc.problems)
            continue
        tree_id = model.id or Path(source).stem
        if tree_id in models:
            problems.append(
                Problem(
                    source,
                    None,
                    f"tree id {tree_id!r} is also used by {models[tree_id][0]}",
                    "give each tree its own 'id:'",
                )
            )
            continue
        models[tree_id] = (source, model)

    trees: dict[str, Tree] = {}
    for tree_id, (source, model) in models.items():
        found: list[Problem] = []
        expressions, patterns, inputs = _check_tree(model, source, queues, found)
        for node_id, node in model.nodes.items():
            if not isinstance(node, SubtreeNode):
                continue
            callee = models.get(node.tree)
            if callee is None:
                found.append(
                    Problem(
                        source,
                        node_id,
                        f"sub-tree {node.tree!r} does not exist",
                        f"use a tree id{_suggest(node.tree, models)} or add "
                        f"config/ivr/{node.tree}.yaml",
                    )
                )
                continue
            missing = set(model.channels) - set(callee[1].channels)
            if missing:
                found.append(
                    Problem(
                        source,
                        node_id,
                        f"sub-tree {node.tree!r} does not serve "
                        f"channel {', '.join(sorted(missing))}",
                        f"add it to 'channels:' in {callee[0]}",
                    )
                )
        problems.extend(found)
        trees[tree_id] = Tree(
            id=tree_id,
            source=source,
            model=model,
            hours={name: Hours.compile(s) for name, s in model.schedules.items()},
            expressions=expressions,
            patterns=patterns,
            inputs=inputs,
        )

    calls = {
        tid: [n.tree for n in m.nodes.values() if isinstance(n, SubtreeNode) and n.tree in models]
        for tid, (_, m) in models.items()
    }
    cycle = _find_cycle(calls)
    if cycle is not None:
        problems.append(
            Problem(
                models[cycle[0]][0],
                None,
                "sub-trees call each other in a loop: " + " -> ".join(cycle),
                "use a return node to go back instead of calling the caller",
            )
        )

    entries: dict[Channel, str] = {}
    for tree_id, (source, model) in models.items():
        if not model.entry:
            continue
        for ch in model.channels:
            if ch in entries:
                problems.append(
                    Problem(
                        source,
                        None,
                        f"is the {ch} entry, and so is tree {entries[ch]!r}",
                        "set 'entry: true' on one only",
                    )
                )
            entries[ch] = tree_id

    if problems:
        raise IvrConfigError(problems)
    for tree in trees.values():
        # every tree sees the whole catalogue, so a session can enter any sub-tree
        object.__setattr__(tree, "catalog", trees)
    return Catalog(trees=trees, entries=entries)


def load_tree(
    text: str, source: str = "<ivr tree>", known_queues: Iterable[str] | None = None
) -> Tree:
    """One self-contained tree (no sub-trees of other files)."""
    catalog = build_catalog({source: text}, known_queues)
    return next(iter(catalog.trees.values()))


def read_sources(directory: str | Path) -> dict[str, str]:
    """Every *.yaml / *.yml file of ``directory``, by path (the one place that reads files)."""
    root = Path(directory)
    files = sorted([*root.glob("*.yaml"), *root.glob("*.yml")])
    return {str(p): p.read_text(encoding="utf-8") for p in files}


class Registry:
    """The catalogue in service. ``reload`` swaps it only when the new one is valid."""

    def __init__(self, catalog: Catalog, known_queues: Iterable[str] | None = None) -> None:
        self._catalog = catalog
        self._queues = None if known_queues is None else frozenset(known_queues)

    @classmethod
    def from_sources(
        cls, sources: Mapping[str, str], known_queues: Iterable[str] | None = None
    ) -> Registry:
        return cls(build_catalog(sources, known_queues), known_queues)

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    def entry(self, channel: Channel) -> Tree:
        return self._catalog.entry(channel)

    def reload(
        self, sources: Mapping[str, str], known_queues: Iterable[str] | None = None
    ) -> Catalog:
        """Validate ``sources`` and put them in service; on IvrConfigError the catalogue
        in service is untouched. Sessions already running keep the tree they started with.
        """
        if known_queues is not None:
            queues: frozenset[str] | None = frozenset(known_queues)
        else:
            queues = self._queues
        catalog = build_catalog(sources, queues)
        self._catalog = catalog
        self._queues = queues
        return catalog
