"""Branch conditions and computed variables: a small, safe subset of Python expressions.

Same style as routing's eligibility expressions (checked once at load time, compiled, no
calls, no dunders) over the IVR's own names:

``vars``      the session's variables: ``vars.language == 'fr'``
``customer``  the looked-up customer record (all fields None before or without a match):
              ``customer.tier in ('gold', 'platinum')``
``contact``   ``contact.ani``, ``contact.dnis``, ``contact.channel``
``hours``     per schedule, open now: ``hours.office`` (False on a closed holiday)
``holiday``   per schedule, today is a holiday: ``holiday.office``

A missing variable or field reads as None. An expression that fails while running (say,
``vars.count > 3`` while count is None) counts as false; the branch event records why.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from types import CodeType
from typing import Any

from routing.expressions import SAFE_NODES, AttrView

NAMES = ("vars", "customer", "contact", "hours", "holiday")
SCHEDULE_NAMES = ("hours", "holiday")

# routing's safe subset, less item access: IVR names are records read by attribute only
_ALLOWED: tuple[type[ast.AST], ...] = tuple(n for n in SAFE_NODES if n is not ast.Subscript)
_CONSTANTS = frozenset({"True", "False", "None"})


class ConditionError(ValueError):
    """The expression is not allowed; the message says what to use instead."""


@dataclass(frozen=True, slots=True)
class Scope:
    """What an expression can see at one instant."""

    vars: Mapping[str, Any]
    customer: Mapping[str, Any]
    contact: Mapping[str, Any]
    hours: Mapping[str, bool]
    holiday: Mapping[str, bool]

    def names(self) -> dict[str, Any]:
        return {
            "vars": AttrView(self.vars),
            "customer": AttrView(self.customer),
            "contact": AttrView(self.contact),
            "hours": AttrView(self.hours),
            "holiday": AttrView(self.holiday),
        }


@dataclass(frozen=True, slots=True)
class Expression:
    source: str
    schedules: frozenset[str]
    """Schedule names the expression reads through ``hours.X`` or ``holiday.X``."""
    variables: frozenset[str]
    """Variable names the expression reads through ``vars.X``."""
    _code: CodeType

    def value(self, scope: Scope) -> Any:
        return eval(self._code, {"__builtins__": {}}, scope.names())

    def holds(self, scope: Scope) -> bool:
        return bool(self.value(scope))


def compile_expression(source: str) -> Expression:
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ConditionError(f"expression {source!r} is not valid: {exc.msg}") from None
    schedules: set[str] = set()
    variables: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ConditionError(
                f"expression {source!r} uses {type(node).__name__}, which is not allowed; "
                "use comparisons, and/or/not, in, attribute access and literals only"
            )
        if isinstance(node, ast.Name) and node.id not in NAMES and node.id not in _CONSTANTS:
            raise ConditionError(
                f"expression {source!r} names {node.id!r}; the names are " + ", ".join(NAMES)
            )
        if isinstance(node, ast.Attribute):
            if node.attr.startswith("_"):
                raise ConditionError(f"expression {source!r}: {node.attr!r} is private")
            if isinstance(node.value, ast.Name) and node.value.id in SCHEDULE_NAMES:
                schedules.add(node.attr)
            if isinstance(node.value, ast.Name) and node.value.id == "vars":
                variables.add(node.attr)
        if isinstance(node, ast.Name) and node.id in SCHEDULE_NAMES:
            # bare `hours` would always be truthy: insist on a schedule name
            parent_ok = any(
                isinstance(p, ast.Attribute) and p.value is node for p in ast.walk(tree)
            )
            if not parent_ok:
                raise ConditionError(
                    f"expression {source!r}: name a schedule, e.g. {node.id}.office"
                )
    code = compile(tree, "<ivr expression>", "eval")
    return Expression(
        source=source, schedules=frozenset(schedules), variables=frozenset(variables), _code=code
    )
