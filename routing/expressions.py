"""Eligibility expressions of routing steps: a small, safe subset of Python expressions.

Examples: ``agent.team == 'gold'``, ``contact.data.language in agent.languages``,
``agent.id == contact.data.preferred_agent``, ``agent.skills.spanish >= 5``.
Names are ``agent`` and ``contact``; allowed are attribute and item access, comparisons,
``and``/``or``/``not``, ``in``, literals and tuples/lists. No calls, no dunders. The
expression is checked once at load time and compiled; a bad one is refused with a message
that names what is not allowed.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping
from types import CodeType
from typing import Any

SAFE_NODES: tuple[type[ast.AST], ...] = (
    ast.Expression,
    ast.BoolOp,
    ast.And,
    ast.Or,
    ast.UnaryOp,
    ast.Not,
    ast.USub,
    ast.Compare,
    ast.Eq,
    ast.NotEq,
    ast.Lt,
    ast.LtE,
    ast.Gt,
    ast.GtE,
    ast.In,
    ast.NotIn,
    ast.Is,
    ast.IsNot,
    ast.Name,
    ast.Load,
    ast.Attribute,
    ast.Subscript,
    ast.Constant,
    ast.Tuple,
    ast.List,
    ast.Set,
)
_NAMES = frozenset({"agent", "contact", "True", "False", "None"})


class ExpressionError(ValueError):
    pass


class AttrView:
    """Read-only attribute view of a mapping; a missing key reads as None."""

    __slots__ = ("_m",)

    def __init__(self, mapping: Mapping[str, Any]) -> None:
        self._m = mapping

    def __getattr__(self, name: str) -> Any:
        value = self._m.get(name)
        return AttrView(value) if isinstance(value, Mapping) else value

    def __getitem__(self, name: str) -> Any:
        return self.__getattr__(name)

    def __contains__(self, item: object) -> bool:
        return item in self._m


class SkillView(AttrView):
    """Skills read as proficiency, 0 when the agent lacks the skill."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        value = self._m.get(name, 0)
        return value


Predicate = Callable[[Any, Any], bool]


def compile_expression(source: str) -> Predicate:
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"expression {source!r} is not valid: {exc.msg}") from None
    for node in ast.walk(tree):
        if not isinstance(node, SAFE_NODES):
            raise ExpressionError(
                f"expression {source!r} uses {type(node).__name__}, which is not allowed; "
                "use comparisons, and/or/not, in, attribute access and literals only"
            )
        if isinstance(node, ast.Name) and node.id not in _NAMES:
            raise ExpressionError(
                f"expression {source!r} names {node.id!r}; only 'agent' and 'contact' exist"
            )
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise ExpressionError(f"expression {source!r}: attribute {node.attr!r} is private")
    code: CodeType = compile(tree, "<routing expression>", "eval")

    def predicate(agent: Any, contact: Any) -> bool:
        return bool(eval(code, {"__builtins__": {}}, {"agent": agent, "contact": contact}))

    return predicate
