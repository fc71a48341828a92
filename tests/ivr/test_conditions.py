"""The condition language: what it allows, what it refuses, how it reads missing data."""

from __future__ import annotations

from typing import Any

import pytest

from ivr.conditions import ConditionError, Scope, compile_expression


def _scope(**kw: Any) -> Scope:
    base: dict[str, Any] = {"vars": {}, "customer": {}, "contact": {}, "hours": {}, "holiday": {}}
    base.update(kw)
    return Scope(**base)


@pytest.mark.parametrize(
    ("source", "scope", "expected"),
    [
        ("vars.language == 'fr'", {"vars": {"language": "fr"}}, True),
        ("vars.language == 'fr'", {}, False),
        ("vars.missing == None", {}, True),
        ("customer.tier in ('gold', 'platinum')", {"customer": {"tier": "gold"}}, True),
        ("customer.tier in ('gold', 'platinum')", {}, False),
        (
            "hours.office and not holiday.office",
            {"hours": {"office": True}, "holiday": {"office": False}},
            True,
        ),
        ("contact.channel == 'chat'", {"contact": {"channel": "chat"}}, True),
        ("vars.count >= 3", {"vars": {"count": 3}}, True),
        ("vars.count >= -1", {"vars": {"count": -2}}, False),
    ],
)
def test_evaluates(source: str, scope: dict[str, Any], expected: bool) -> None:
    assert compile_expression(source).holds(_scope(**scope)) is expected


@pytest.mark.parametrize(
    ("source", "words"),
    [
        ("vars.x ==", "is not valid"),
        ("open()", "Call, which is not allowed"),
        ("__import__('os')", "Call"),
        ("agent.id == 1", "names 'agent'"),
        ("vars.__class__", "private"),
        ("vars['x'] == 1", "Subscript, which is not allowed"),
        ("hours", "name a schedule"),
        ("[x for x in vars]", "not allowed"),
        ("lambda: 1", "Lambda"),
    ],
)
def test_refuses(source: str, words: str) -> None:
    with pytest.raises(ConditionError, match=words):
        compile_expression(source)


def test_schedules_read_are_listed() -> None:
    expr = compile_expression("hours.office or holiday.shop or vars.hours")
    assert expr.schedules == frozenset({"office", "shop"})


def test_value_returns_the_result() -> None:
    assert compile_expression("customer.tier").value(_scope(customer={"tier": "gold"})) == "gold"


def test_variables_read_are_listed() -> None:
    expr = compile_expression("vars.account == vars.other or customer.vars == 1")
    assert expr.variables == frozenset({"account", "other"})
