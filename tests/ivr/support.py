"""Helpers of the IVR tests: small trees from YAML snippets, instants from ISO text."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

from ivr.loader import Tree, load_tree
from routing.policy import parse_routing_config

ROOT = Path(__file__).resolve().parents[2]
IVR_DIR = ROOT / "config" / "ivr"
QUEUES = frozenset({"sales", "support", "billing", "chat_support"})

_HEADER = """\
channels: [voice, chat]
start: {start}
defaults:
  timeout_s: 5
  retries: 1
  no_input_prompt: No input.
  invalid_prompt: Invalid.
  on_failure: fail
"""


def routing_queue_ids() -> frozenset[str]:
    """The queue ids of config/routing.yaml (what the server passes to the loader)."""
    path = ROOT / "config" / "routing.yaml"
    config = parse_routing_config(path.read_text(encoding="utf-8"), str(path))
    return frozenset(q.id for q in config.queues)


def tree_text(nodes: str, *, start: str = "a", extra: str = "", fail: bool = True) -> str:
    body = textwrap.indent(textwrap.dedent(nodes).strip("\n"), "  ")
    fail_node = '  fail: {type: hangup, prompt: "Failed.", reason: failed}\n' if fail else ""
    return (
        _HEADER.format(start=start) + textwrap.dedent(extra) + "nodes:\n" + fail_node + body + "\n"
    )


def tree(nodes: str, *, start: str = "a", extra: str = "", fail: bool = True) -> Tree:
    return load_tree(tree_text(nodes, start=start, extra=extra, fail=fail), "t.yaml", QUEUES)


def at(iso: str) -> float:
    """POSIX seconds of an ISO 8601 instant (with its offset or Z)."""
    return dt.datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


NOON = at("2026-11-25T12:00:00Z")
