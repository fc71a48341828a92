"""Reservation and the life of a contact with its agent: offer, answer, hold, wrap-up,
transfers, statuses, logout, and the typed errors for bad input."""

from __future__ import annotations

from typing import Any

import pytest

from routing import AgentProfile, Channel, QueueConfig, WrapUpPolicy
from routing import errors as E
from routing.events import (
    AgentStateChanged,
    CancelTimer,
    ContactAbandoned,
    ContactAnswered,
    ContactEnded,
    ContactOffered,
    ContactQueued,
    ContactResumed,
    ContactTransferred,
    Offer,
    OfferRejected,
    OfferRescinded,
    OfferTimedOut,
    RescindOffer,
    StartTimer,
    WrapUpCompleted,
)
from routing.stats import StatsFold

from .support import Driver, assert_refused, commands_of, engine_with, events_of, offers_in

NO_WRAP = WrapUpPolicy(mode="none")


def _q(qid: str = "q", **kw: Any) -> QueueConfig:
    kw.setdefault("skills", {"s": 1})
    kw.setdefault("wrap_up", NO_WRAP)
    kw.setdefault("offer_timeout_s", 15)
    return QueueConfig(id=qid, **kw)


def _agent(aid: str, **kw: Any) -> AgentProfile:
    kw.setdefault("skills", {"s": 5})
    return AgentProfile(id=aid, **kw)


def _world(*queues: QueueConfig, agents: str = "AB", **cfg: Any) -> Driver:
    return Driver(engine_with(queues or [_q()], [_agent(a) for a in agents], **cfg))


def _offer_timer(out: Any, cid: str) -> tuple[str, str, int]:
    (timer,) = [c.timer for c in commands_of(out, StartTimer) if c.timer[:2] == ("offer", cid)]
    return timer


# ------------------------------------------------------------------------------ offers


def test_offer_then_accept() -> None:
    d = _world()
    d.login("A")
    out = d.at(2).arrive("c", "q")
    (offer,) = out.offers()
    assert (offer.contact_id, offer.agent_id, offer.queue_id, offer.channel) == (
        "c",
        "A",
        "q",
        "voice",
    )
    assert offer.expires_at == 17
    (offered,) = events_of(out, ContactOffered)
    assert offered.expires_at == 17 and offered.wait_s == 0
    assert d.engine.contact("c").state == "offered"
    assert d.engine.agent("A").activity == "offered"
    timer = _offer_timer(out, "c")
    out = d.at(5).accept("A", "c")
    (answered,) = events_of(out, ContactAnswered)
    assert (answered.agent_id, answered.wait_s, answered.in_queue) == ("A", 3, True)
    assert CancelTimer(timer=timer) in out.commands
    assert d.engine.contact("c").state == "connected"
    assert d.engine.agent("A").activity == "on_contact"
    assert d.engine.agent("A").contacts == {"c": "connected"}
    d.engine.check_invariants()


def test_reject_returns_the_contact_to_its_original_place() -> None:
    d = _world()
    d.login("A")
    d.arrive("c1", "q")
    d.at(1).arrive("c2", "q")
    out = d.at(2).reject("A", "c1")
    assert [e.contact_id for e in events_of(out, OfferRejected)] == ["c1"]
    assert d.engine.waiting() == ["c1", "c2"], "the rejected contact keeps its place"
    assert d.engine.contact("c1").enqueued_at == 0
    a = d.engine.agent("A")
    assert a.activity == "not_responding" and a.status == "available"
    assert offers_in(d.at(3).login("B")) == [("c1", "B")]
    # the agent comes back by choosing available again
    assert offers_in(d.set_status("A", "available")) == [("c2", "A")]
    d.engine.check_invariants()


def test_reject_without_not_responding() -> None:
    d = _world(_q(missed_offer_not_responding=False))
    d.login("A")
    d.arrive("c1", "q")
    d.at(1).arrive("c2", "q")
    out = d.at(2).reject("A", "c1")
    a = d.engine.agent("A")
    assert a.activity != "not_responding" and a.status == "available"
    # still routable: offered again, and the head of the queue is still c1
    assert offers_in(out) == [("c1", "A")]
    assert d.engine.waiting() == ["c2"]
    d.engine.check_invariants()


def test_offer_timeout_by_timer() -> None:
    d = _world()
    d.login("A")
    out = d.arrive("c1", "q")
    assert StartTimer(timer=_offer_timer(out, "c1"), at=15) in out.commands
    d.at(1).arrive("c2", "q")
    d.at(14.9)
    assert d.engine.contact("c1").state == "offered"
    d.at(15)
    assert [e.contact_id for e in d.of_type(OfferTimedOut)] == ["c1"]
    assert d.engine.agent("A").activity == "not_responding"
    assert d.engine.waiting() == ["c1", "c2"]
    d.engine.check_invariants()


def test_stale_offer_timer_is_a_no_op() -> None:
    d = _world()
    d.login("A")
    timer = _offer_timer(d.arrive("c", "q"), "c")
    d.at(3).accept("A", "c")
    out = d.engine.timer(timer, 15)
    assert out.events == [] and out.commands == []
    assert d.engine.contact("c").state == "connected"


def test_accept_after_expiry_raises_offer_expired_and_changes_nothing() -> None:
    d = _world()
    d.login("A")
    d.arrive("c", "q")
    d.now = 15.0001  # the driver is late: the offer timer has not fired yet
    assert_refused(d, E.OfferExpired, "accept", "A", "c", 15.0001)
    assert_refused(d, E.OfferExpired, "accept", "A", "c", 16)
    assert d.engine.contact("c").state == "offered"
    # the timer then does its work as usual
    d.at(16)
    assert [e.contact_id for e in d.of_type(OfferTimedOut)] == ["c"]
    # at the deadline itself the offer is still valid
    d2 = _world()
    d2.login("A")
    d2.arrive("c", "q")
    assert events_of(d2.engine.accept("A", "c", 15), ContactAnswered)


def test_the_offer_clock_of_a_second_offer_is_stopped_by_the_answer() -> None:
    """Every offer starts an offer timer; answering must cancel the one that is running,
    also when it is not the contact's first offer."""
    d = _world()
    d.login("A")
    d.login("B")
    d.arrive("c", "q")  # to A
    out = d.at(1).reject("A", "c")  # back to the queue, offered to B
    assert offers_in(out) == [("c", "B")]
    timer = _offer_timer(out, "c")
    out = d.at(2).accept("B", "c")
    assert CancelTimer(timer=timer) in out.commands, (
        f"accept did not cancel the running offer timer {timer}"
    )


def test_an_earlier_offer_timer_never_times_out_a_later_offer() -> None:
    """Offer timers of earlier offers must not cut a later offer short."""
    d = _world(agents="ABCD")
    for a in "ABCD":
        d.login(a)
    d.arrive("c", "q")  # A, until 15
    d.at(1).reject("A", "c")  # B, until 16
    d.at(2).reject("B", "c")  # C, until 17
    out = d.at(3).reject("C", "c")  # D, until 18
    (offer,) = out.offers()
    assert (offer.agent_id, offer.expires_at) == ("D", 18)
    d.at(17.5)  # the driver fires every timer still pending
    timed_out = [(e.agent_id, e.ts) for e in d.of_type(OfferTimedOut)]
    assert timed_out == [], f"D's offer (valid until 18) timed out early: {timed_out}"
    assert d.engine.contact("c").state == "offered"


# ------------------------------------------------------------------------------ abandon


def test_abandon_while_queued() -> None:
    d = _world()
    d.arrive("c", "q")
    out = d.at(7).hangup("c")
    (ab,) = events_of(out, ContactAbandoned)
    assert (ab.contact_id, ab.queue_id, ab.wait_s, ab.in_queue) == ("c", "q", 7, True)
    assert not commands_of(out, RescindOffer)
    assert d.engine.waiting() == []
    with pytest.raises(E.UnknownContact):
        d.engine.contact("c")


def test_abandon_while_offered_rescinds_the_offer() -> None:
    d = _world()
    d.login("A")
    d.arrive("c1", "q")
    d.at(1).arrive("c2", "q")
    out = d.at(4).abandon("c1")
    (rescind,) = commands_of(out, RescindOffer)
    assert (rescind.contact_id, rescind.agent_id, rescind.reason) == ("c1", "A", "caller_left")
    assert [e.reason for e in events_of(out, OfferRescinded)] == ["caller_left"]
    assert events_of(out, ContactAbandoned)[0].wait_s == 4
    # the agent is free again (not "not responding") and takes the next contact
    assert offers_in(out) == [("c2", "A")]
    d.engine.check_invariants()


# ------------------------------------------------------------------------------ handling


def test_hold_and_resume_accounting() -> None:
    d = _world()
    d.login("A")
    d.arrive("c", "q")
    d.accept("A", "c")
    d.at(10).hold("A", "c")
    assert d.engine.contact("c").state == "held"
    assert d.engine.agent("A").activity == "on_hold"
    (res,) = events_of(d.at(25).resume("A", "c"), ContactResumed)
    assert res.hold_s == 15
    d.at(30).hold("A", "c")
    d.at(35).resume("A", "c")
    (ended,) = events_of(d.at(40).end("A", "c"), ContactEnded)
    assert (ended.hold_s, ended.talk_s, ended.ended_by) == (20, 20, "agent")


def test_end_while_held_counts_the_open_hold() -> None:
    d = _world()
    d.login("A")
    d.arrive("c", "q")
    d.accept("A", "c")
    d.at(10).hold("A", "c")
    (ended,) = events_of(d.at(16).hangup("c"), ContactEnded)
    assert (ended.hold_s, ended.talk_s, ended.ended_by) == (6, 10, "customer")


def test_timed_wrap_up_finishes_by_timer() -> None:
    d = _world(_q(wrap_up=WrapUpPolicy(mode="timed", seconds=30)))
    d.login("A")
    d.arrive("c", "q")
    d.accept("A", "c")
    out = d.at(10).end("A", "c")
    (start,) = [c for c in commands_of(out, StartTimer) if c.timer[0] == "wrapup"]
    assert start.at == 40
    assert d.engine.agent("A").activity == "wrap_up"
    assert d.engine.contact("c").state == "ended"
    d.at(20).arrive("next", "q")
    assert d.engine.waiting() == ["next"], "no offers during wrap-up"
    d.at(40)
    (done,) = d.of_type(WrapUpCompleted)
    assert (done.wrapup_s, done.timed_out, done.disposition) == (30, True, None)
    assert [(o.contact_id, o.agent_id) for o in d.of_type(Offer)][-1] == ("next", "A")
    assert d.engine.agent("A").activity == "offered"


def test_timed_wrap_up_can_finish_early() -> None:
    d = _world(_q(wrap_up=WrapUpPolicy(mode="timed", seconds=30)))
    d.login("A")
    d.arrive("c", "q")
    d.accept("A", "c")
    out = d.at(10).end("A", "c")
    (start,) = [c for c in commands_of(out, StartTimer) if c.timer[0] == "wrapup"]
    out = d.at(12).complete_wrapup("A", "c")
    assert CancelTimer(timer=start.timer) in out.commands
    (done,) = events_of(out, WrapUpCompleted)
    assert (done.wrapup_s, done.timed_out) == (2, False)
    assert d.engine.agent("A").activity == "idle"
    assert d.engine.timer(start.timer, 40).events == []  # a late fire does nothing


def test_mandatory_wrap_up_waits_for_the_agent() -> None:
    d = _world(_q(wrap_up=WrapUpPolicy(mode="mandatory")))
    d.login("A")
    d.arrive("c", "q")
    d.accept("A", "c")
    out = d.at(10).end("A", "c")
    assert not [c for c in commands_of(out, StartTimer) if c.timer[0] == "wrapup"]
    d.at(20).arrive("next", "q")
    d.at(10_000)
    assert d.engine.agent("A").activity == "wrap_up"
    assert d.engine.waiting() == ["next"]
    out = d.complete_wrapup("A", "c")
    assert offers_in(out) == [("next", "A")]


def test_wrap_up_none_frees_the_agent_at_once() -> None:
    d = _world()
    d.login("A")
    d.arrive("c", "q")
    d.accept("A", "c")
    out = d.at(10).end("A", "c")
    assert [e.wrapup_s for e in events_of(out, WrapUpCompleted)] == [0]
    assert d.engine.agent("A").activity == "idle"
    with pytest.raises(E.UnknownContact):
        d.engine.contact("c")


def test_disposition_rules() -> None:
    policy = WrapUpPolicy(mode="mandatory", disposition_required=True, dispositions=("sale", "no"))
    d = _world(_q(wrap_up=policy))
    d.login("A")
    d.arrive("c", "q")
    d.accept("A", "c")
    d.at(10).end("A", "c")
    err = assert_refused(d, E.DispositionRequired, "complete_wrapup", "A", "c", 11)
    assert "sale" in str(err)
    assert_refused(d, E.InvalidDisposition, "complete_wrapup", "A", "c", 11, disposition="x")
    assert d.engine.agent("A").activity == "wrap_up"
    out = d.at(11).complete_wrapup("A", "c", disposition="sale")
    (done,) = events_of(out, WrapUpCompleted)
    assert done.disposition == "sale"


def test_free_text_disposition_when_no_list() -> None:
    d = _world(_q(wrap_up=WrapUpPolicy(mode="mandatory", disposition_required=True)))
    d.login("A")
    d.arrive("c", "q")
    d.accept("A", "c")
    d.end("A", "c")
    assert_refused(d, E.DispositionRequired, "complete_wrapup", "A", "c", 1)
    (done,) = events_of(d.complete_wrapup("A", "c", disposition="anything"), WrapUpCompleted)
    assert done.disposition == "anything"


# ------------------------------------------------------------------------------ transfers


def test_transfer_to_queue() -> None:
    queues = (
        _q("q1", wrap_up=WrapUpPolicy(mode="mandatory")),
        _q("q2", skills={"billing": 1}),
    )
    d = Driver(engine_with(queues, [_agent("A"), _agent("B", skills={"billing": 3})]))
    d.login("A")
    d.arrive("c", "q1")
    d.accept("A", "c")
    d.at(10).hold("A", "c")
    d.at(12)
    out = d.transfer_to_queue("A", "c", "q2")
    (tr,) = events_of(out, ContactTransferred)
    assert (tr.queue_id, tr.to_queue, tr.to_agent, tr.talk_s, tr.hold_s) == (
        "q1",
        "q2",
        None,
        10,
        2,
    )
    (queued,) = events_of(out, ContactQueued)
    assert (queued.queue_id, queued.enqueued_at) == ("q2", 12)
    assert d.engine.agent("A").contacts == {"c": "wrap_up"}
    assert d.engine.contact("c").state == "queued"
    out = d.at(13).login("B")
    assert offers_in(out) == [("c", "B")]
    assert events_of(out, ContactOffered)[0].queue_id == "q2"
    (ans,) = events_of(d.at(14).accept("B", "c"), ContactAnswered)
    assert (ans.queue_id, ans.wait_s, ans.in_queue) == ("q2", 2, True)
    d.complete_wrapup("A", "c")
    d.engine.check_invariants()


def test_transfer_to_agent_and_the_target_rejects() -> None:
    d = _world(_q(wrap_up=WrapUpPolicy(mode="mandatory")), agents="ABC")
    d.login("A")
    d.arrive("c", "q")
    d.accept("A", "c")
    d.login("B")
    out = d.at(10).transfer_to_agent("A", "c", "B")
    assert offers_in(out) == [("c", "B")]
    (tr,) = events_of(out, ContactTransferred)
    assert (tr.to_agent, tr.to_queue) == ("B", None)
    assert d.engine.agent("A").contacts == {"c": "wrap_up"}
    d.login("C")
    out = d.at(11).reject("B", "c")
    # lands in its queue (afresh) and goes to the next agent there
    (queued,) = events_of(out, ContactQueued)
    assert queued.queue_id == "q"
    assert offers_in(out) == [("c", "C")]
    d.engine.check_invariants()


def test_transfer_to_agent_accepted_is_not_a_queue_answer() -> None:
    d = _world(agents="AB")
    d.login("A")
    d.arrive("c", "q")
    d.accept("A", "c")
    d.login("B")
    d.at(10).transfer_to_agent("A", "c", "B")
    (ans,) = events_of(d.at(12).accept("B", "c"), ContactAnswered)
    assert (ans.agent_id, ans.in_queue, ans.wait_s) == ("B", False, 2)


def test_transfer_to_an_unavailable_agent_is_refused() -> None:
    d = _world(agents="AB")
    d.login("A")
    d.arrive("c", "q")
    d.accept("A", "c")
    assert_refused(d, E.TargetUnavailable, "transfer_to_agent", "A", "c", "B", 1)  # offline
    d.login("B", status="break")
    assert_refused(d, E.TargetUnavailable, "transfer_to_agent", "A", "c", "B", 1)
    assert_refused(d, E.UnknownAgent, "transfer_to_agent", "A", "c", "Z", 1)


def test_a_contact_transferred_on_from_an_agent_counts_as_answered_in_its_new_queue() -> None:
    """A -> B (agent) -> queue q2 -> C: C's answer is a real queue answer in q2."""
    queues = (_q("q"), _q("q2", skills={"t": 1}))
    agents = [_agent("A"), _agent("B", skills={}), _agent("C", skills={"t": 5})]
    d = Driver(engine_with(queues, agents))
    d.login("A")
    d.login("B")
    d.arrive("c", "q")
    d.accept("A", "c")
    d.at(5).transfer_to_agent("A", "c", "B")
    d.at(6).accept("B", "c")
    d.at(10).transfer_to_queue("B", "c", "q2")
    d.at(11).login("C")
    (ans,) = events_of(d.at(12).accept("C", "c"), ContactAnswered)
    assert ans.in_queue is True, "an answer out of queue q2 is reported as not from a queue"
    d.at(20).end("C", "c")
    fold = StatsFold(queues)
    fold.apply_all(d.events)
    snap = fold.queue_snapshot("q2", 30)
    assert (snap["offered"], snap["answered"], snap["waiting"]) == (1, 1, 0)


def test_chat_transfer_back_into_a_queue_the_agent_serves() -> None:
    """The transferring agent still has the chat in wrap-up; it must not be offered the
    same contact on top of its own wrap-up (one contact, one slot)."""
    q = _q("chat", channel=Channel.CHAT, wrap_up=WrapUpPolicy(mode="mandatory"))
    d = Driver(engine_with([q], [_agent("A", capacity={Channel.CHAT: 3})]))
    d.login("A")
    d.arrive("c", "chat")
    d.accept("A", "c")
    d.at(5).transfer_to_queue("A", "c", "chat")
    d.engine.check_invariants()
    assert d.engine.agent("A").contacts == {"c": "wrap_up"}
    assert d.engine.contact("c").state == "queued"


# ------------------------------------------------------------------------------ statuses


def test_next_status_applies_after_wrap_up() -> None:
    d = _world(_q(wrap_up=WrapUpPolicy(mode="timed", seconds=20)), agents="A")
    d.login("A")
    d.arrive("c", "q")
    d.accept("A", "c")
    out = d.at(5).set_status("A", "break")
    a = d.engine.agent("A")
    assert (a.status, a.next_status) == ("available", "break")
    (changed,) = events_of(out, AgentStateChanged)
    assert changed.next_status == "break"
    d.at(6).arrive("c2", "q")
    d.at(10).end("A", "c")
    assert d.engine.waiting() == ["c2"], "no offers while a next status is pending"
    d.at(30)  # wrap-up ends by timer
    a = d.engine.agent("A")
    assert (a.status, a.next_status, a.activity) == ("break", None, "idle")
    assert a.status_since == 30
    assert d.engine.waiting() == ["c2"]
    assert offers_in(d.at(40).set_status("A", "available")) == [("c2", "A")]


def test_choosing_available_cancels_a_pending_status() -> None:
    d = _world(agents="A")
    d.login("A")
    d.arrive("c", "q")
    d.accept("A", "c")
    d.set_status("A", "lunch")
    d.set_status("A", "available")
    assert d.engine.agent("A").next_status is None
    d.end("A", "c")
    assert d.engine.agent("A").status == "available"


def test_not_ready_status_while_idle_applies_at_once() -> None:
    d = _world(agents="A")
    d.login("A")
    d.at(3).set_status("A", "lunch")
    a = d.engine.agent("A")
    assert (a.status, a.status_since, a.activity) == ("lunch", 3, "idle")
    assert offers_in(d.arrive("c", "q")) == []


def test_next_status_applies_when_the_last_offer_is_missed() -> None:
    """The agent asked for a break while an offer was ringing, then let it go: with no
    contact left the break starts (the agent must not sit 'available' yet unroutable)."""
    for not_responding in (True, False):
        d = _world(_q(missed_offer_not_responding=not_responding), agents="A")
        d.login("A")
        d.arrive("c", "q")
        d.at(1).set_status("A", "break")
        d.at(2).reject("A", "c")
        a = d.engine.agent("A")
        assert a.contacts == {}
        assert (a.status, a.next_status) == ("break", None), f"nr={not_responding}: {a}"


# ------------------------------------------------------------------------------ logout


def test_logout_with_an_offer_pending_returns_it_to_its_place() -> None:
    d = _world()
    d.login("A")
    d.arrive("c1", "q")
    d.at(1).arrive("c2", "q")
    out = d.at(2).logout("A")
    (rescind,) = commands_of(out, RescindOffer)
    assert (rescind.contact_id, rescind.reason) == ("c1", "agent_logged_out")
    assert d.engine.agent("A").status == "offline"
    assert d.engine.agent("A").activity == "offline"
    assert d.engine.waiting() == ["c1", "c2"]
    assert offers_in(d.at(3).login("B")) == [("c1", "B")]
    d.engine.check_invariants()


def test_logout_with_a_contact_in_hand_is_pending() -> None:
    d = _world(_q(wrap_up=WrapUpPolicy(mode="mandatory")))
    d.login("A")
    d.arrive("c", "q")
    d.accept("A", "c")
    d.at(5).logout("A")
    a = d.engine.agent("A")
    assert (a.status, a.next_status, a.activity) == ("available", "offline", "on_contact")
    d.at(6).arrive("c2", "q")
    assert d.engine.waiting() == ["c2"]
    d.at(10).end("A", "c")
    assert d.engine.agent("A").status == "available"
    d.at(12).complete_wrapup("A", "c")
    a = d.engine.agent("A")
    assert (a.status, a.activity, a.next_status) == ("offline", "offline", None)
    assert d.engine.waiting() == ["c2"]
    d.engine.check_invariants()


def test_forced_logout_requeues_contacts_in_hand() -> None:
    d = _world(_q(wrap_up=WrapUpPolicy(mode="mandatory")), agents="ABC")
    d.login("A")
    d.arrive("c", "q")
    d.accept("A", "c")
    d.login("B")
    d.arrive("c2", "q")  # offered to B
    d.accept("B", "c2")
    d.at(5).end("B", "c2")  # B in wrap-up
    d.login("C")
    out = d.at(10).logout("A", force=True)
    (queued,) = events_of(out, ContactQueued)
    assert (queued.contact_id, queued.enqueued_at) == ("c", 10)
    assert offers_in(out) == [("c", "C")]
    assert d.engine.agent("A").status == "offline"
    out = d.at(11).logout("B", force=True)
    (wrap,) = events_of(out, WrapUpCompleted)
    assert wrap.timed_out is True
    assert d.engine.agent("B").status == "offline"
    d.engine.check_invariants()


def test_forced_logout_does_not_charge_old_hold_time_to_the_next_agent() -> None:
    d = _world(agents="AB")
    d.login("A")
    d.arrive("c", "q")
    d.accept("A", "c")
    d.at(10).hold("A", "c")
    d.at(100).logout("A", force=True)  # 90 s on hold with A
    d.at(101).login("B")
    d.accept("B", "c")
    (ended,) = events_of(d.at(111).end("B", "c"), ContactEnded)
    assert ended.talk_s >= 0 and ended.hold_s >= 0, ended
    assert (ended.talk_s, ended.hold_s) == (10, 0)


def test_logout_when_offline_is_refused() -> None:
    d = _world()
    assert_refused(d, E.IllegalTransition, "logout", "A", 0)


# ------------------------------------------------------------------------------ skills


def test_set_skills_takes_effect_on_the_next_decision() -> None:
    d = _world(_q(skills={"french": 3}), agents="A")
    d.login("A")
    d.arrive("c", "q")
    assert d.engine.waiting() == ["c"]
    out = d.at(1).set_skills("A", {"french": 4})
    assert offers_in(out) == [("c", "A")]
    assert d.engine.agent("A").skills == {"french": 4}
    d.accept("A", "c")
    d.end("A", "c")
    d.set_skills("A", {"french": 2})
    assert offers_in(d.arrive("c2", "q")) == []
    d.engine.check_invariants()


def test_re_registering_a_logged_in_agent_keeps_it_routable() -> None:
    """Saving a logged-in agent's profile again must not silently drop it from routing:
    either the engine refuses (and changes nothing) or the agent stays routable."""
    d = _world(agents="A")
    d.login("A")
    d.arrive("warm", "q")  # the routing group exists before the re-registration
    d.accept("A", "warm")
    d.end("A", "warm")
    try:
        d.engine.add_agent(_agent("A"))
    except E.RoutingError:
        d.engine.check_invariants()
        return
    d.engine.check_invariants()
    assert d.engine.agent("A").status == "available"
    assert offers_in(d.at(1).arrive("c", "q")) == [("c", "A")]


def test_re_registering_a_logged_out_agent_changes_its_skills() -> None:
    d = _world(_q(skills={"s": 7}), agents="A")
    d.arrive("c", "q")
    d.engine.add_agent(_agent("A", skills={"s": 8}))
    assert offers_in(d.at(1).login("A")) == [("c", "A")]
    d.engine.check_invariants()


def test_contact_extra_skills_narrow_eligibility() -> None:
    d = Driver(engine_with([_q()], [_agent("A"), _agent("B", skills={"s": 5, "es": 6})]))
    d.login("A")
    d.login("B")
    assert offers_in(d.arrive("c", "q", skills={"es": 5})) == [("c", "B")]


# ------------------------------------------------------------------------------ errors


def test_typed_errors_for_bad_input_change_nothing() -> None:
    from routing import ContactSpec

    d = _world()
    d.login("A")
    d.arrive("c", "q")  # offered to A
    d.arrive("w", "q")  # waiting
    assert_refused(d, E.UnknownAgent, "login", "nobody", 1)
    assert_refused(d, E.UnknownAgent, "accept", "nobody", "c", 1)
    assert_refused(d, E.UnknownContact, "accept", "A", "ghost", 1)
    assert_refused(d, E.UnknownContact, "hangup", "ghost", 1)
    assert_refused(d, E.UnknownContact, "abandon", "ghost", 1)
    assert_refused(d, E.UnknownQueue, "arrive", ContactSpec(id="n", queue_id="nope"), 1)
    assert_refused(d, E.DuplicateContact, "arrive", ContactSpec(id="c", queue_id="q"), 1)
    assert_refused(d, E.DuplicateContact, "arrive", ContactSpec(id="w", queue_id="q"), 1)
    assert_refused(d, E.NotYourContact, "accept", "B", "c", 1)
    assert_refused(d, E.NotYourContact, "accept", "A", "w", 1)
    assert_refused(d, E.NotYourContact, "complete_wrapup", "A", "w", 1)
    assert_refused(d, E.InvalidStatus, "set_status", "A", "coffee", 1)
    assert_refused(d, E.InvalidStatus, "login", "B", 1, "coffee")
    assert_refused(d, E.UnknownAgent, "set_skills", "nobody", {"s": 1}, 1)
    assert_refused(d, E.IllegalTransition, "set_skills", "A", {"s": 0}, 1)
    bad_extra = ContactSpec(id="n", queue_id="q", skills={"s": 11})
    with pytest.raises(Exception):  # noqa: B017 - pydantic or the engine may refuse it
        d.engine.arrive(bad_extra, 1)
    assert d.engine.waiting() == ["w"]
    with pytest.raises(E.UnknownQueue):
        d.engine.queue_config("nope")
    for cls in (
        E.UnknownAgent,
        E.UnknownContact,
        E.UnknownQueue,
        E.DuplicateContact,
        E.IllegalTransition,
        E.NotYourContact,
        E.OfferExpired,
        E.InvalidStatus,
        E.DispositionRequired,
        E.InvalidDisposition,
        E.TargetUnavailable,
    ):
        assert issubclass(cls, E.RoutingError)
        assert cls.code != E.RoutingError.code
    codes = [c.code for c in (E.UnknownAgent, E.UnknownContact, E.UnknownQueue, E.NotYourContact)]
    assert len(set(codes)) == len(codes)


def test_agent_on_another_agents_contact() -> None:
    d = _world()
    d.login("A")
    d.login("B")
    d.arrive("c", "q")
    d.accept("A", "c")
    for method in ("hold", "end", "reject", "accept"):
        assert_refused(d, E.NotYourContact, method, "B", "c", 1)
    assert_refused(d, E.NotYourContact, "transfer_to_queue", "B", "c", "q", 1)
    assert_refused(d, E.NotYourContact, "transfer_to_agent", "B", "c", "A", 1)
