"""Eligibility expressions: a small safe subset of Python over ``agent`` and ``contact``."""

from __future__ import annotations

from typing import Any

import pytest

from routing import QueueConfig, RoutingConfig, RoutingStep
from routing.engine import Engine
from routing.expressions import AttrView, ExpressionError, SkillView, compile_expression


def _agent(**kw: Any) -> AttrView:
    base: dict[str, Any] = {
        "id": "a1",
        "team": "gold",
        "languages": ("en", "es"),
        "skills": SkillView({"spanish": 7, "billing": 3}),
        "attributes": {"site": "paris", "senior": True, "level": 4},
        "status": "available",
    }
    base.update(kw)
    return AttrView(base)


def _contact(**data: Any) -> AttrView:
    return AttrView(
        {
            "id": "c1",
            "queue": "q",
            "channel": "voice",
            "priority": 2,
            "direction": "inbound",
            "data": data,
        }
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("agent.team == 'gold'", True),
        ("agent.team == 'silver'", False),
        ("agent.team != 'silver'", True),
        ("agent.id == contact.data.preferred_agent", True),
        ("contact.data.language in agent.languages", True),
        ("contact.data.language not in agent.languages", False),
        ("agent.skills.spanish >= 5", True),
        ("agent.skills.spanish >= 8", False),
        ("agent.skills.french == 0", True),  # a missing skill reads as proficiency 0
        ("not agent.skills.french", True),
        ("agent.skills['billing'] > 2", True),
        ("agent.attributes.site == 'paris' and agent.attributes.senior", True),
        ("agent.attributes.level > 5 or contact.priority >= 2", True),
        ("agent.attributes.level > 5 or contact.priority > 2", False),
        ("contact.data.missing is None", True),
        ("contact.data.vip is True", False),
        ("contact.channel in ('voice', 'chat')", True),
        ("contact.channel in ['email']", False),
        ("contact.queue in {'q', 'r'}", True),
        ("contact.data.tier['level'] == 3", True),
        ("contact.data.tier.level == 3", True),
        ("'preferred_agent' in contact.data", True),
        ("-1 < contact.priority", True),
        ("1 <= agent.skills.billing <= 3", True),
        ("True", True),
    ],
)
def test_valid_expressions_evaluate(source: str, expected: bool) -> None:
    predicate = compile_expression(source)
    contact = _contact(preferred_agent="a1", language="es", tier={"level": 3})
    assert predicate(_agent(), contact) is expected


@pytest.mark.parametrize(
    ("source", "named"),
    [
        ("agent.team.upper() == 'GOLD'", "Call"),
        ("len(agent.languages) > 1", "Call"),
        ("__import__('os')", "Call"),
        ("agent.__class__", "__class__"),
        ("agent.__class__.__bases__", "__class__"),
        ("agent._m", "_m"),
        ("().__class__", "__class__"),
        ("contact.data.__dict__", "__dict__"),
        ("lambda: 1", "Lambda"),
        ("[x for x in agent.languages]", "ListComp"),
        ("agent.skills.spanish + 1 > 5", "BinOp"),
        ("(y := 1)", "NamedExpr"),
        ("f'{agent.id}'", "JoinedStr"),
        ("agent.languages[0:1]", "Slice"),
        ("os.system", "'os'"),
        ("open", "'open'"),
        ("x == 1", "'x'"),
        ("__builtins__", "'__builtins__'"),
        ("agent if True else contact", "IfExp"),
    ],
)
def test_unsafe_or_unknown_constructs_are_refused_by_name(source: str, named: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression(source)
    message = str(info.value)
    assert named in message, message
    assert source in message


@pytest.mark.parametrize("source", ["import os", "agent.team ==", "def f(): pass", "", "a b"])
def test_statements_and_syntax_errors_are_refused(source: str) -> None:
    with pytest.raises(ExpressionError) as info:
        compile_expression(source)
    assert "not valid" in str(info.value)


def test_expression_error_is_a_value_error() -> None:
    assert issubclass(ExpressionError, ValueError)


def test_refused_expression_stops_the_engine_from_loading() -> None:
    steps = (RoutingStep(name="bad", expression="agent.team.lower() == 'gold'"),)
    config = RoutingConfig(queues=(QueueConfig(id="q", steps=steps),))
    with pytest.raises(ExpressionError) as info:
        Engine(config)
    assert "Call" in str(info.value)


def test_predicates_return_plain_booleans() -> None:
    assert compile_expression("contact.data.note")(_agent(), _contact()) is False
    assert compile_expression("contact.data.note")(_agent(), _contact(note="x")) is True
    assert compile_expression("agent.languages")(_agent(), _contact()) is True


# ---------------------------------------------------------------------- the views


def test_attr_view_reads_keys_as_attributes_and_items() -> None:
    view = AttrView({"a": 1, "nested": {"b": 2}})
    assert view.a == 1 and view["a"] == 1
    assert view.missing is None and view["missing"] is None
    assert isinstance(view.nested, AttrView) and view.nested.b == 2
    assert "a" in view and "missing" not in view


def test_attr_view_is_read_only() -> None:
    view = AttrView({"a": 1})
    with pytest.raises(AttributeError):
        view.a = 2
    assert view.a == 1


def test_skill_view_reads_missing_skills_as_zero() -> None:
    skills = SkillView({"spanish": 7})
    assert skills.spanish == 7 and skills["spanish"] == 7
    assert skills.klingon == 0 and skills["klingon"] == 0
    assert "spanish" in skills and "klingon" not in skills


def test_contact_data_from_the_engine_is_visible_to_expressions() -> None:
    from routing import AgentProfile, ContactSpec

    steps = (RoutingStep(name="lang", expression="contact.data.language in agent.languages"),)
    engine = Engine(RoutingConfig(queues=(QueueConfig(id="q", steps=steps),)))
    engine.add_agent(AgentProfile(id="en", languages=("en",)))
    engine.add_agent(AgentProfile(id="fr", languages=("fr",)))
    engine.login("en", 0)
    engine.login("fr", 0)
    out = engine.arrive(ContactSpec(id="c", queue_id="q", data={"language": "fr"}), 1)
    assert [(o.contact_id, o.agent_id) for o in out.offers()] == [("c", "fr")]
