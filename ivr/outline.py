"""A readable outline of a loaded tree, for `contactcenter ivr check PATH` and reviews.

One line per node in the order a caller meets them (breadth-first from the start), each
with its type, what it says or does, and where it leads.
"""

from __future__ import annotations

from ivr.loader import Catalog, Tree, edges
from ivr.model import (
    BranchNode,
    CallbackNode,
    CollectNode,
    HangupNode,
    LookupNode,
    MenuNode,
    Node,
    PlayNode,
    QueueNode,
    SayNode,
    SetNode,
    SubtreeNode,
    SurveyNode,
    TransferNode,
    VoicemailNode,
)

_WIDTH = 60


def _short(text: str | None) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= _WIDTH else text[: _WIDTH - 3] + "..."


def _describe(node: Node) -> str:
    if isinstance(node, SayNode | PlayNode):
        what = f"[{node.audio}] " if isinstance(node, PlayNode) else ""
        return f'{what}"{_short(node.prompt)}" -> {node.next}'
    if isinstance(node, MenuNode):
        opts = "; ".join(f"{o.key} {o.label} -> {o.next}" for o in node.options)
        return f'"{_short(node.prompt)}" {opts}'
    if isinstance(node, CollectNode):
        masked = ", sensitive" if node.sensitive else ""
        n = node.min_length
        size = f"{n}" if n == node.max_length else f"{n}-{node.max_length}"
        return f"{node.variable} ({size} digits{masked}) -> {node.next}"
    if isinstance(node, SurveyNode):
        return f"CSAT and resolved -> {node.next}"
    if isinstance(node, BranchNode):
        cases = "; ".join(f"if {c.when} -> {c.next}" for c in node.cases)
        return f"{cases}; else -> {node.default}"
    if isinstance(node, SetNode):
        names = ", ".join([*node.values, *node.expressions])
        return f"{names} -> {node.next}"
    if isinstance(node, LookupNode):
        key = "ANI" if node.by == "ani" else node.variable
        return f"by {key}: found -> {node.found}, not found -> {node.not_found}"
    if isinstance(node, SubtreeNode):
        return f"tree {node.tree}, then -> {node.next}"
    if isinstance(node, QueueNode):
        tiers = f", by tier {node.tier_priority}" if node.tier_priority else ""
        skills = f", skills {node.skills}" if node.skills else ""
        return f"queue {node.queue} (priority {node.priority}{tiers}{skills})"
    if isinstance(node, TransferNode):
        return f"transfer to {node.number}"
    if isinstance(node, CallbackNode):
        number = node.number_variable or "ANI"
        return f"callback to {number} from queue {node.queue}"
    if isinstance(node, VoicemailNode):
        return f"voicemail box {node.mailbox} (up to {node.max_s:g} s)"
    if isinstance(node, HangupNode):
        return f"hang up ({node.reason})"
    return "back to the calling tree"


def outline(tree: Tree) -> str:
    model = tree.model
    flags = ", ".join([*model.channels, *(["entry"] if model.entry else [])])
    lines = [f"{tree.id} ({tree.source}): {flags}"]
    for name, schedule in model.schedules.items():
        lines.append(f"  schedule {name}: {schedule.timezone}, {len(schedule.holidays)} holiday(s)")
    order = [model.start]
    seen = {model.start}
    for node_id in order:
        for _, target, _ in edges(model, model.nodes[node_id]):
            if target not in seen:
                seen.add(target)
                order.append(target)
    width = max(len(n) for n in order)
    for node_id in order:
        node = model.nodes[node_id]
        line = f"  {node_id:<{width}}  {node.type:<9} {_describe(node)}"
        settings = tree.inputs.get(node_id)
        if settings is not None:
            line += (
                f" [timeout {settings.timeout_s:g} s, retries {settings.retries}, "
                f"on failure -> {settings.on_failure}]"
            )
        lines.append(line)
    return "\n".join(lines)


def outline_catalog(catalog: Catalog) -> str:
    return "\n\n".join(outline(t) for _, t in sorted(catalog.trees.items()))
