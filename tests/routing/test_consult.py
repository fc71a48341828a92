"""Consult (warm) transfer and three-way conference in the engine."""

from __future__ import annotations

import pytest

from routing import AgentProfile, QueueConfig, WrapUpPolicy
from routing import errors as E
from routing.events import (
    ConferenceLeft,
    ConferenceStarted,
    ConsultAccepted,
    ConsultCancelled,
    ConsultRejected,
    ConsultStarted,
    ContactAnswered,
    ContactEnded,
    ContactHeld,
    ContactResumed,
    ContactTransferred,
    StartTimer,
)

from .support import Driver, assert_refused, drain, engine_with, events_of


def _call() -> Driver:
    """A has caller c connected since t=10; B and C are logged in and free."""
    queues = (QueueConfig(id="q", skills={"s": 1}, wrap_up=WrapUpPolicy(mode="mandatory")),)
    agents = [AgentProfile(id=a, skills={"s": 5}) for a in ("A", "B", "C")]
    d = Driver(engine_with(queues, agents))
    d.login("A")
    d.arrive("c", "q")
    d.at(10).accept("A", "c")
    d.login("B")
    d.login("C")
    return d


def test_consult_holds_the_caller_and_reserves_the_target() -> None:
    d = _call()
    out = d.at(20).consult("A", "c", "B")
    assert [type(e) for e in out.events if not e.type.startswith("agent.")] == [
        ContactHeld,
        ConsultStarted,
    ]
    started = events_of(out, ConsultStarted)[0]
    assert (started.agent_id, started.to_agent, started.expires_at) == ("A", "B", 35.0)
    assert [c.timer for c in out.commands if isinstance(c, StartTimer)] == [("consult", "c", 1)]
    e = d.engine
    assert e.contact("c").state == "held"
    assert e.contact("c").agent_id == "A"
    assert e.agent("A").contacts == {"c": "consult_hold"}
    assert e.agent("A").activity == "on_hold"
    assert e.agent("B").contacts == {"c": "consult_offered"}
    assert e.agent("B").activity == "offered"
    assert e.agent("B").in_use["voice"] == 1
    # B's voice slot is taken: a new caller goes to C, not to B.
    d.arrive("c2", "q")
    assert e.contact("c2").agent_id == "C"
    e.check_invariants()


def test_consult_to_an_agent_who_cannot_take_it_is_refused() -> None:
    d = _call()
    d.set_status("B", "break")
    assert_refused(d, E.TargetUnavailable, "consult", "A", "c", "B", d.now)
    assert_refused(d, E.TargetUnavailable, "consult", "A", "c", "A", d.now)
    assert_refused(d, E.UnknownAgent, "consult", "A", "c", "nobody", d.now)
    assert_refused(d, E.NotYourContact, "consult", "C", "c", "B", d.now)
    d.consult("A", "c", "C")
    # one consult at a time; no hold / end / transfer while it is open
    d.set_status("B", "available")
    assert_refused(d, E.IllegalTransition, "consult", "A", "c", "B", d.now)
    assert_refused(d, E.IllegalTransition, "resume", "A", "c", d.now)
    assert_refused(d, E.IllegalTransition, "end", "A", "c", d.now)
    assert_refused(d, E.IllegalTransition, "transfer_to_queue", "A", "c", "q", d.now)
    # only the consulted agent answers; only the first agent completes
    assert_refused(d, E.NotYourContact, "accept_consult", "B", "c", d.now)
    assert_refused(d, E.NotYourContact, "complete_consult", "C", "c", d.now)
    # not answered yet: nothing to complete or conference
    assert_refused(d, E.IllegalTransition, "complete_consult", "A", "c", d.now)
    assert_refused(d, E.IllegalTransition, "conference", "A", "c", d.now)


def test_consult_complete_hands_the_caller_over() -> None:
    d = _call()
    d.at(20).consult("A", "c", "B")
    out = d.at(22).accept_consult("B", "c")
    assert [(e.agent_id, e.from_agent) for e in events_of(out, ConsultAccepted)] == [("B", "A")]
    assert d.engine.agent("B").contacts == {"c": "consulting"}
    assert d.engine.agent("B").activity == "on_contact"
    assert not d.pending_timers("consult"), "answering cancels the consult timer"
    out = d.at(30).complete_consult("A", "c")
    [xfer] = events_of(out, ContactTransferred)
    assert (xfer.agent_id, xfer.to_agent, xfer.talk_s, xfer.hold_s) == ("A", "B", 10.0, 10.0)
    [ans] = events_of(out, ContactAnswered)
    assert (ans.agent_id, ans.in_queue) == ("B", False)
    e = d.engine
    assert e.contact("c").state == "connected"
    assert e.contact("c").agent_id == "B"
    assert e.agent("A").contacts == {"c": "wrap_up"}
    assert e.agent("B").contacts == {"c": "connected"}
    out = d.at(50).end("B", "c")
    [ended] = events_of(out, ContactEnded)
    assert (ended.agent_id, ended.talk_s, ended.hold_s) == ("B", 20.0, 0.0)
    e.check_invariants()
    drain(d)


def test_consult_cancel_resumes_the_caller_and_frees_the_target() -> None:
    d = _call()
    d.at(20).consult("A", "c", "B")
    d.at(22).accept_consult("B", "c")
    out = d.at(25).cancel_consult("A", "c")
    assert [(e.agent_id, e.to_agent) for e in events_of(out, ConsultCancelled)] == [("A", "B")]
    assert [e.hold_s for e in events_of(out, ContactResumed)] == [5.0]
    e = d.engine
    assert e.contact("c").state == "connected"
    assert e.agent("A").contacts == {"c": "connected"}
    assert e.agent("B").contacts == {}
    assert e.agent("B").activity == "idle"
    # B is routable again at once
    d.arrive("c2", "q")
    assert e.contact("c2").agent_id in ("B", "C")
    out = d.at(40).end("A", "c")
    [ended] = events_of(out, ContactEnded)
    assert (ended.talk_s, ended.hold_s) == (25.0, 5.0)


@pytest.mark.parametrize("how", ["reject", "timeout"])
def test_consult_not_taken_leaves_the_caller_on_hold_with_the_first_agent(how: str) -> None:
    d = _call()
    d.at(20).consult("A", "c", "B")
    if how == "reject":
        out = d.at(21).reject_consult("B", "c")
    else:
        before = len(d.events)
        d.at(40)
        out_events = d.events[before:]
        out = None
    events = out.events if out is not None else out_events
    [rej] = [e for e in events if isinstance(e, ConsultRejected)]
    assert (rej.agent_id, rej.from_agent) == ("B", "A")
    assert rej.reason == ("rejected" if how == "reject" else "timed_out")
    e = d.engine
    assert e.contact("c").state == "held"
    assert e.agent("A").contacts == {"c": "held"}
    assert e.agent("B").contacts == {}
    assert e.agent("B").activity == "idle", "a consult is not a routed offer"
    # the consult is gone: a late answer finds nothing
    assert_refused(d, E.IllegalTransition, "accept_consult", "B", "c", d.now)
    d.resume("A", "c")
    assert e.contact("c").state == "connected"


def test_accepting_a_consult_after_its_expiry_is_refused() -> None:
    d = _call()
    d.at(20).consult("A", "c", "B")
    d.now = 35.5  # the timer is due but the driver has not fired it yet
    assert_refused(d, E.OfferExpired, "accept_consult", "B", "c", 35.5)


def test_caller_hangs_up_during_consult() -> None:
    d = _call()
    d.at(20).consult("A", "c", "B")
    d.at(21).accept_consult("B", "c")
    out = d.at(24).hangup("c")
    assert [e.reason for e in events_of(out, ConsultRejected)] == ["caller_left"]
    [ended] = events_of(out, ContactEnded)
    assert (ended.agent_id, ended.ended_by, ended.hold_s) == ("A", "customer", 4.0)
    assert d.engine.agent("B").contacts == {}
    assert d.engine.agent("A").contacts == {"c": "wrap_up"}
    d.engine.check_invariants()


def test_conference_then_first_agent_leaves_then_caller_hangs_up() -> None:
    d = _call()
    d.at(20).consult("A", "c", "B")
    d.at(22).accept_consult("B", "c")
    out = d.at(25).conference("A", "c")
    [conf] = events_of(out, ConferenceStarted)
    assert (conf.agent_id, conf.with_agent, conf.hold_s) == ("A", "B", 5.0)
    e = d.engine
    assert e.contact("c").state == "connected"
    assert e.agent("A").contacts == e.agent("B").contacts == {"c": "conferenced"}
    assert e.agent("A").activity == e.agent("B").activity == "on_contact"
    assert_refused(d, E.IllegalTransition, "hold", "A", "c", d.now)
    assert_refused(d, E.IllegalTransition, "end", "A", "c", d.now)
    assert_refused(d, E.IllegalTransition, "complete_consult", "A", "c", d.now)
    assert_refused(d, E.NotYourContact, "leave_conference", "C", "c", d.now)
    out = d.at(30).leave_conference("A", "c")
    [left] = events_of(out, ConferenceLeft)
    assert (left.agent_id, left.remaining, left.in_conference_s) == ("A", "B", 5.0)
    assert e.contact("c").agent_id == "B"
    assert e.agent("A").contacts == {"c": "wrap_up"}
    assert e.agent("B").contacts == {"c": "connected"}
    out = d.at(60).hangup("c")
    [ended] = events_of(out, ContactEnded)
    # the owner is the one who kept it; talk counts from the original answer (t=10)
    assert (ended.agent_id, ended.talk_s, ended.hold_s) == ("B", 45.0, 5.0)
    e.check_invariants()
    drain(d)


def test_caller_hangs_up_during_conference_both_wrap_up() -> None:
    d = _call()
    d.at(20).consult("A", "c", "B")
    d.at(22).accept_consult("B", "c")
    d.at(25).conference("A", "c")
    out = d.at(40).hangup("c")
    [ended] = events_of(out, ContactEnded)
    assert (ended.agent_id, ended.talk_s) == ("A", 25.0)
    [left] = events_of(out, ConferenceLeft)
    assert (left.agent_id, left.remaining, left.reason) == ("B", None, "caller_left")
    assert d.engine.agent("A").contacts == {"c": "wrap_up"}
    assert d.engine.agent("B").contacts == {"c": "wrap_up"}
    d.engine.check_invariants()
    d.complete_wrapup("A", "c")
    d.complete_wrapup("B", "c")
    assert d.engine.agent("B").activity == "idle"
    d.engine.check_invariants()


def test_forced_logout_of_the_consulted_agent_drops_the_consult() -> None:
    d = _call()
    d.at(20).consult("A", "c", "B")
    d.at(21).accept_consult("B", "c")
    out = d.at(22).logout("B", force=True)
    assert [e.reason for e in events_of(out, ConsultRejected)] == ["agent_logged_out"]
    assert d.engine.agent("B").status == "offline"
    assert d.engine.agent("A").contacts == {"c": "held"}
    assert d.engine.consult_of("c") is None
    d.engine.check_invariants()
