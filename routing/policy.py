"""Loading routing configuration (queues, steps, strategy) from YAML text.

Parsing only: the caller reads the file, so this stays free of I/O. Errors name the
source, the key path and what to do about it.
"""

from __future__ import annotations

from typing import Any

import yaml
from pydantic import ValidationError

from routing.expressions import ExpressionError, compile_expression
from routing.model import RoutingConfig


class ConfigError(ValueError):
    """A configuration file is wrong; the message says where and how to fix it."""


def _path(loc: tuple[Any, ...], data: Any) -> str:
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int):
            label = None
            if isinstance(node, list) and 0 <= item < len(node):
                entry = node[item]
                if isinstance(entry, dict) and ("id" in entry or "name" in entry):
                    label = entry.get("id", entry.get("name"))
                node = entry
            else:
                node = None
            parts.append(f"[{item}]" if label is None else f"[{item}] ({label})")
        else:
            parts.append(f".{item}" if parts else str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "(top level)"


def parse_routing_config(text: str, source: str = "<routing config>") -> RoutingConfig:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{source}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: expected a mapping with 'queues:' at the top level")
    try:
        config = RoutingConfig.model_validate(data)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = _path(tuple(err["loc"]), data)
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown key; check the spelling against docs/routing.md"
            elif err["type"] == "missing":
                msg = "required key is missing"
            lines.append(f"{source}: {where}: {msg}")
        raise ConfigError("\n".join(lines)) from None
    for i, queue in enumerate(config.queues):
        for j, step in enumerate(queue.steps):
            if step.expression:
                try:
                    compile_expression(step.expression)
                except ExpressionError as exc:
                    raise ConfigError(
                        f"{source}: queues[{i}] ({queue.id}).steps[{j}] ({step.name})"
                        f".expression: {exc}"
                    ) from None
    return config
