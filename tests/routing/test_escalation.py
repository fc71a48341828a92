"""Routing policy over time: ordered steps, max wait, overflow, and explain()."""

from __future__ import annotations

from typing import Any

from routing import AgentProfile, QueueConfig, RoutingStep, WrapUpPolicy
from routing import errors as E
from routing.events import (
    ContactFlowedOut,
    ContactOffered,
    ContactQueued,
    ContactStepChanged,
    FlowOut,
    Offer,
    StartTimer,
)
from routing.model import MaxWait

from .support import Driver, engine_with, events_of, offers_in

NO_WRAP = WrapUpPolicy(mode="none")


def _q(qid: str = "q", **kw: Any) -> QueueConfig:
    kw.setdefault("skills", {"s": 1})
    kw.setdefault("wrap_up", NO_WRAP)
    kw.setdefault("offer_timeout_s", 1000)
    return QueueConfig(id=qid, **kw)


def _agent(aid: str, **kw: Any) -> AgentProfile:
    kw.setdefault("skills", {"s": 5})
    return AgentProfile(id=aid, **kw)


def _offered_steps(d: Driver) -> list[tuple[str, str, str]]:
    return [(e.contact_id, e.agent_id, e.step) for e in d.of_type(ContactOffered)]


# ------------------------------------------------------------------------------ steps


def test_step_timeout_moves_to_the_next_step_and_widens_skills() -> None:
    steps = (
        RoutingStep(name="experts", timeout_s=30, skills={"s": 8}),
        RoutingStep(name="anyone", skills={"s": 1}),
    )
    d = Driver(engine_with([_q(steps=steps)], [_agent("A", skills={"s": 3})]))
    d.login("A")
    out = d.arrive("c", "q")
    assert offers_in(out) == []
    (queued,) = events_of(out, ContactQueued)
    assert queued.step == "experts"
    assert d.engine.contact("c").step == "experts"
    assert ("step", "c", 1) in [c.timer for c in out.commands if isinstance(c, StartTimer)]
    d.at(29.9)
    assert d.engine.contact("c").state == "queued"
    d.at(30)
    (changed,) = d.of_type(ContactStepChanged)
    assert (changed.step, changed.reason, changed.ts) == ("anyone", "step_timeout", 30)
    assert _offered_steps(d) == [("c", "A", "anyone")]
    (offer,) = d.of_type(Offer)
    assert offer.step == "anyone"
    d.engine.check_invariants()


def test_a_contact_offered_in_its_first_step_carries_that_step() -> None:
    steps = (RoutingStep(name="first", timeout_s=30), RoutingStep(name="second"))
    d = Driver(engine_with([_q(steps=steps)], [_agent("A")]))
    d.login("A")
    d.arrive("c", "q")
    assert _offered_steps(d) == [("c", "A", "first")]
    d.accept("A", "c")
    d.at(100)  # the step timer was cancelled by the answer: nothing happens
    assert not d.of_type(ContactStepChanged)
    assert d.engine.contact("c").step == "first"


def test_lowering_minimum_proficiency() -> None:
    steps = (
        RoutingStep(name="strict", timeout_s=20),
        RoutingStep(name="relaxed", min_proficiency_delta=-4),
    )
    agents = [_agent("weak", skills={"s": 3}), _agent("ok", skills={"s": 4})]
    d = Driver(engine_with([_q(skills={"s": 8}, steps=steps)], agents))
    d.login("weak")
    d.login("ok")
    d.arrive("c", "q")
    assert d.engine.explain("c", 0).eligible_logged_in == 0
    d.at(20)
    assert _offered_steps(d) == [("c", "ok", "relaxed")]  # 8 - 4 = 4: ok, not weak


def test_fallback_queue_agents_join_in_the_later_step() -> None:
    steps = (
        RoutingStep(name="own", timeout_s=10),
        RoutingStep(name="help", fallback_queues=("qB",)),
    )
    queues = [_q("qA", skills={"a": 5}, steps=steps), _q("qB", skills={"b": 5})]
    d = Driver(engine_with(queues, [_agent("B", skills={"b": 6})]))
    d.login("B")
    d.arrive("c", "qA")
    d.at(9)
    assert not d.of_type(Offer)
    d.at(10)
    assert _offered_steps(d) == [("c", "B", "help")]


def _preferred_world() -> Driver:
    steps = (
        RoutingStep(
            name="preferred",
            timeout_s=30,
            expression="agent.id == contact.data.preferred_agent",
        ),
        RoutingStep(name="anyone"),
    )
    return Driver(engine_with([_q(steps=steps)], [_agent("X"), _agent("P")]))


def test_expression_prefers_the_named_agent_first() -> None:
    d = _preferred_world()
    d.login("X")  # X has been idle longest ...
    d.at(1).login("P")
    out = d.at(2).arrive("c", "q", data={"preferred_agent": "P"})
    assert offers_in(out) == [("c", "P")]  # ... but the contact asks for P
    assert _offered_steps(d) == [("c", "P", "preferred")]


def test_expression_waits_for_the_preferred_agent_then_anyone_after_timeout() -> None:
    d = _preferred_world()
    d.login("P")
    d.arrive("other", "q", data={"preferred_agent": "P"})
    d.accept("P", "other")  # P is busy
    d.at(1).login("X")
    out = d.at(2).arrive("c", "q", data={"preferred_agent": "P"})
    assert offers_in(out) == []
    why = d.engine.explain("c", 10)
    assert why.step == "preferred" and why.state == "queued"
    assert why.eligible_routable == 1  # X is routable, the expression excludes X
    assert "expression" in why.summary and "agent.id == contact.data.preferred_agent" in (
        why.summary
    )
    d.at(31.9)
    assert d.engine.contact("c").state == "queued"
    d.at(32)
    assert _offered_steps(d)[-1] == ("c", "X", "anyone")


def test_expression_is_also_honoured_when_the_agent_frees_up() -> None:
    d = _preferred_world()
    d.login("P")
    d.arrive("other", "q", data={"preferred_agent": "P"})
    d.accept("P", "other")
    d.at(1).login("X")
    d.at(2).arrive("c", "q", data={"preferred_agent": "P"})
    assert offers_in(d.at(5).end("P", "other")) == [("c", "P")]


def test_team_expression() -> None:
    steps = (RoutingStep(name="gold", expression="agent.team == 'gold'"),)
    agents = [_agent("S", team="silver"), _agent("G", team="gold")]
    d = Driver(engine_with([_q(steps=steps)], agents))
    d.login("S")
    assert offers_in(d.arrive("c", "q")) == []
    assert offers_in(d.at(5).login("G")) == [("c", "G")]
    assert offers_in(d.arrive("c2", "q")) == []
    d.engine.check_invariants()


def test_priority_change_of_a_step() -> None:
    steps = (RoutingStep(name="calm", timeout_s=10), RoutingStep(name="urgent", priority_change=5))
    queues = [_q("esc", skills={"a": 1}, steps=steps), _q("other", skills={"b": 1}, priority=3)]
    d = Driver(engine_with(queues, [_agent("X", skills={"a": 5, "b": 5})]))
    d.arrive("o", "other")
    d.at(1).arrive("e", "esc")
    assert d.engine.contact("e").priority == 0
    d.at(11)
    (changed,) = d.of_type(ContactStepChanged)
    assert (changed.contact_id, changed.step, changed.priority) == ("e", "urgent", 5)
    assert d.engine.contact("e").priority == 5
    assert offers_in(d.at(12).login("X")) == [("e", "X")]


def test_escalated_priority_does_not_follow_the_contact_to_another_queue() -> None:
    """A blind transfer queues the contact afresh; the old queue's step boosts (and a
    starvation boost) must not leak into the new queue, whether or not the contact came
    with its own priority."""
    steps = (RoutingStep(name="calm", timeout_s=10), RoutingStep(name="urgent", priority_change=10))
    queues = [_q("esc", steps=steps), _q("next")]
    for explicit in (None, 1):
        d = Driver(engine_with(queues, [_agent("A")]))
        d.arrive("c", "esc", priority=explicit)
        d.at(10)
        assert d.engine.contact("c").priority == (explicit or 0) + 10
        d.at(11).login("A")
        d.accept("A", "c")
        d.at(20).transfer_to_queue("A", "c", "next")
        assert d.engine.contact("c").priority == (explicit or 0), f"explicit={explicit}"


def _skip_world(skip_if: str) -> Driver:
    steps = (
        RoutingStep(name="vip", timeout_s=60, skills={"vip": 5}, skip_if=skip_if),  # type: ignore[arg-type]
        RoutingStep(name="general"),
    )
    agents = [_agent("V", skills={"vip": 9, "s": 9}), _agent("G")]
    return Driver(engine_with([_q(steps=steps)], agents))


def test_skip_if_no_eligible_logged_in() -> None:
    d = _skip_world("no_eligible_logged_in")
    d.login("G")
    out = d.arrive("c", "q")
    (queued,) = events_of(out, ContactQueued)
    assert queued.step == "general"
    assert offers_in(out) == [("c", "G")]
    # control: with the VIP agent logged in (even busy) the step is not skipped
    d2 = _skip_world("no_eligible_logged_in")
    d2.login("V")
    d2.arrive("x", "q")
    d2.accept("V", "x")
    d2.login("G")
    out = d2.arrive("c", "q")
    (queued,) = events_of(out, ContactQueued)
    assert queued.step == "vip"
    assert offers_in(out) == []


def test_skip_if_no_eligible_available() -> None:
    d = _skip_world("no_eligible_available")
    d.login("V")
    d.arrive("x", "q")
    d.accept("V", "x")  # the VIP agent is logged in but busy
    d.login("G")
    out = d.arrive("c", "q")
    (queued,) = events_of(out, ContactQueued)
    assert queued.step == "general"
    assert offers_in(out) == [("c", "G")]
    # control: the VIP agent idle means the VIP step applies and V gets it
    d2 = _skip_world("no_eligible_available")
    d2.login("G")
    d2.login("V")
    out = d2.arrive("c", "q")
    assert offers_in(out) == [("c", "V")]
    assert events_of(out, ContactOffered)[0].step == "vip"


# ------------------------------------------------------------------------------ max wait


def test_max_wait_flow_out() -> None:
    q = _q(max_wait=MaxWait(seconds=60, action="flow_out", target="voicemail"))
    d = Driver(engine_with([q], [_agent("A")]))
    d.arrive("c", "q")
    d.at(59)
    assert d.engine.waiting() == ["c"]
    d.at(60)
    (flowed,) = d.of_type(ContactFlowedOut)
    assert (flowed.contact_id, flowed.reason, flowed.target, flowed.wait_s) == (
        "c",
        "max_wait",
        "voicemail",
        60,
    )
    (cmd,) = d.of_type(FlowOut)
    assert (cmd.contact_id, cmd.queue_id, cmd.target) == ("c", "q", "voicemail")
    # terminal: gone from routing; nothing more can happen to it
    assert d.engine.waiting() == []
    for call in (
        lambda: d.engine.contact("c"),
        lambda: d.engine.hangup("c", d.now),
        lambda: d.engine.abandon("c", d.now),
    ):
        try:
            call()
        except (E.UnknownContact, E.IllegalTransition):
            pass
        else:
            raise AssertionError("a flowed-out contact still accepts input")
    # and an agent logging in does not get it
    assert offers_in(d.at(61).login("A")) == []
    d.engine.check_invariants()


def test_max_wait_overflow_to_another_queue() -> None:
    queues = [
        _q(
            "first", skills={"a": 1}, max_wait=MaxWait(seconds=30, action="overflow", target="next")
        ),
        _q("next", skills={"b": 1}),
    ]
    d = Driver(engine_with(queues, [_agent("B", skills={"b": 5})]))
    d.login("B")
    d.arrive("c", "first")
    d.at(30)
    (flowed,) = d.of_type(ContactFlowedOut)
    assert (flowed.queue_id, flowed.reason, flowed.target) == ("first", "overflow", "next")
    assert not d.of_type(FlowOut)
    queued = [(e.queue_id, e.ts) for e in d.of_type(ContactQueued)]
    assert queued == [("first", 0), ("next", 30)]
    assert _offered_steps(d) == [("c", "B", "default")]
    assert d.engine.contact("c").queue_id == "next"


def test_max_wait_reached_during_an_offer_flows_out_when_the_offer_fails() -> None:
    q = _q(max_wait=MaxWait(seconds=60, action="flow_out"), offer_timeout_s=15)
    d = Driver(engine_with([q], [_agent("A")]))
    d.arrive("c", "q")
    d.at(55).login("A")  # offered until 70
    d.at(60)
    assert d.engine.contact("c").state == "offered"
    d.at(65).reject("A", "c")
    assert [f.contact_id for f in d.of_type(FlowOut)] == ["c"]
    assert d.engine.waiting() == []


# ------------------------------------------------------------------------------ explain


def test_explain_a_waiting_contact_nobody_can_take() -> None:
    d = Driver(engine_with([_q(skills={"s": 9})], [_agent("A", skills={"s": 5})]))
    d.login("A")
    d.arrive("c", "q")
    why = d.engine.explain("c", 42)
    assert (why.contact_id, why.state, why.queue_id, why.step, why.step_index) == (
        "c",
        "queued",
        "q",
        "default",
        0,
    )
    assert why.wait_s == 42 and why.position == 1
    assert why.eligible_logged_in == 0 and why.eligible_routable == 0
    assert why.agent_id is None
    assert "no logged-in agent" in why.summary and "s>=9" in why.summary


def test_explain_a_waiting_contact_whose_agents_are_busy() -> None:
    d = Driver(engine_with([_q()], [_agent("A"), _agent("B"), _agent("C")]))
    d.login("A")
    d.login("B")
    d.login("C", status="lunch")
    d.arrive("x", "q")
    d.arrive("y", "q")
    d.accept("A", "x")
    d.at(1).arrive("c1", "q")
    d.at(2).arrive("c2", "q")
    why = d.engine.explain("c2", 10)
    assert why.eligible_logged_in == 3
    assert why.eligible_routable == 0
    assert why.eligible_by_activity == {"on_contact": 1, "offered": 1, "status:lunch": 1}
    assert why.position == 2
    assert "none is available" in why.summary
    assert "1 contact(s) ahead" in why.summary
    assert d.engine.explain("c1", 10).position == 1


def test_explain_an_offered_contact_gives_the_decision() -> None:
    steps = (RoutingStep(name="first", timeout_s=30, skills={"s": 8}), RoutingStep(name="wide"))
    d = Driver(engine_with([_q(steps=steps)], [_agent("A", skills={"s": 2})]))
    d.login("A")
    d.arrive("c", "q")
    d.at(30)
    why = d.engine.explain("c", 31)
    assert why.state == "offered" and why.agent_id == "A" and why.step == "wide"
    assert why.position is None
    assert why.decision is not None
    assert why.decision["agent_id"] == "A"
    assert why.decision["step"] == "wide"
    assert why.decision["strategy"] == "longest_idle"
    assert why.decision["trigger"] == "contact_entered"
    assert why.decision["at"] == 30
    assert "agent A" in why.summary and "'wide'" in why.summary
    assert "longest_idle" in why.summary


def test_explain_records_an_agent_free_decision() -> None:
    d = Driver(engine_with([_q()], [_agent("A")], strategy="most_skilled"))
    d.arrive("c", "q")
    d.at(5).login("A")
    why = d.engine.explain("c", 6)
    assert why.decision is not None
    assert why.decision["trigger"] == "agent_free"
    assert why.decision["strategy"] == "most_skilled"
    assert "agent free" in why.summary


def test_explain_unknown_contact() -> None:
    d = Driver(engine_with([_q()]))
    try:
        d.engine.explain("ghost", 0)
    except E.UnknownContact:
        return
    raise AssertionError("explain of an unknown contact must raise UnknownContact")


def test_skip_if_no_eligible_available_honours_the_step_expression() -> None:
    """A preferred-agent step is skipped at once when the preferred agent is not available,
    even though other agents with the skills are."""
    from routing import AgentProfile, ContactSpec, Engine, QueueConfig, RoutingConfig, RoutingStep

    queue = QueueConfig(
        id="support",
        skills={"support": 1},
        steps=(
            RoutingStep(
                name="preferred",
                expression="agent.id == contact.data.preferred_agent",
                skip_if="no_eligible_available",
                timeout_s=30,
            ),
            RoutingStep(name="anyone"),
        ),
    )
    engine = Engine(RoutingConfig(queues=(queue,)))
    engine.add_agent(AgentProfile(id="ann", skills={"support": 5}))
    engine.login("ann", 0.0)
    out = engine.arrive(
        ContactSpec(id="c1", queue_id="support", data={"preferred_agent": "bob"}), 1.0
    )
    offers = out.offers()
    assert [(o.agent_id, o.step) for o in offers] == [("ann", "anyone")]
