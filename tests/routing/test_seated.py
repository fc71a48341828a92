"""Contacts seated directly with an agent: restore after a restart, and click-to-dial.

``restore_assigned`` and ``restore_wrapup`` rebuild what the event log says was going on;
``originate`` is an agent's outbound call. None of them queues or offers anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from routing import AgentProfile, Channel, ContactSpec, ContactState, QueueConfig, WrapUpPolicy
from routing import errors as E
from routing.events import (
    AgentStateChanged,
    CancelTimer,
    ContactAnswered,
    ContactEnded,
    ContactOffered,
    ContactOriginated,
    ContactQueued,
    ContactResumed,
    StartTimer,
    WrapUpCompleted,
    event_from_record,
)
from routing.stats import StatsFold
from routing.transitions import CONTACT_ENTRIES, SLOT_ENTRIES, Entry

from .support import Driver, assert_refused, drain, engine_with, events_of, offers_in

QUEUES = (
    QueueConfig(id="sales", skills={"s": 1}, wrap_up=WrapUpPolicy(mode="mandatory")),
    QueueConfig(id="timed", skills={"s": 1}, wrap_up=WrapUpPolicy(mode="timed", seconds=30)),
    QueueConfig(id="quick", skills={"s": 1}, wrap_up=WrapUpPolicy(mode="none")),
    QueueConfig(
        id="chat",
        channel=Channel.CHAT,
        skills={"s": 1},
        wrap_up=WrapUpPolicy(mode="mandatory"),
    ),
)


def _driver(*logged_in: str) -> Driver:
    agents = (
        AgentProfile(id="A", skills={"s": 5}),
        AgentProfile(id="B", skills={"s": 5}),
        AgentProfile(id="M", skills={"s": 5}, capacity={Channel.VOICE: 1, Channel.CHAT: 2}),
    )
    d = Driver(engine_with(QUEUES, agents))
    for agent_id in logged_in:
        d.login(agent_id)
    return d


def _spec(cid: str, queue_id: str = "sales", **kw: Any) -> ContactSpec:
    return ContactSpec(id=cid, queue_id=queue_id, **kw)


def _contact_events(out_events: Sequence[object]) -> list[object]:
    return [e for e in out_events if not isinstance(e, AgentStateChanged)]


# ---------------------------------------------------------------------- restore_assigned


def test_restore_connected_seats_without_routing_events() -> None:
    d = _driver("A")
    d.now = 100.0
    out = d.record(
        d.engine.restore_assigned(_spec("c1"), "A", ContactState.CONNECTED, 100.0, answered_at=40)
    )
    assert _contact_events(out.events) == []
    assert out.commands == []
    assert d.engine.contact("c1").state == "connected"
    assert d.engine.contact("c1").agent_id == "A"
    snap = d.engine.agent("A")
    assert snap.activity == "on_contact"
    assert snap.contacts == {"c1": "connected"}
    d.engine.check_invariants()

    # The agent is busy: a new contact goes to B, not A.
    d.login("B")
    assert offers_in(d.arrive("c2", "sales")) == [("c2", "B")]
    d.accept("B", "c2")

    d.at(160.0)
    ended = events_of(d.end("A", "c1"), ContactEnded)
    assert ended[0].talk_s == pytest.approx(120.0)  # since answered_at=40
    assert d.engine.agent("A").activity == "wrap_up"
    d.complete_wrapup("A", "c1")
    assert d.engine.agent("A").activity == "idle"
    with pytest.raises(E.UnknownContact):
        d.engine.contact("c1")
    d.engine.check_invariants()


def test_restore_held_counts_hold_from_restore() -> None:
    d = _driver("A")
    d.at(10.0)
    d.record(d.engine.restore_assigned(_spec("c1"), "A", ContactState.HELD, 10.0))
    assert d.engine.agent("A").activity == "on_hold"
    d.at(25.0)
    resumed = events_of(d.resume("A", "c1"), ContactResumed)
    assert resumed[0].hold_s == pytest.approx(15.0)
    d.at(30.0)
    ended = events_of(d.hangup("c1"), ContactEnded)
    assert ended[0].ended_by == "customer"
    assert ended[0].hold_s == pytest.approx(15.0)
    assert ended[0].talk_s == pytest.approx(5.0)
    drain(d)
    d.engine.check_invariants()


def test_restored_agent_is_offered_work_after_wrapup() -> None:
    d = _driver("A")
    d.record(d.engine.restore_assigned(_spec("c1"), "A", ContactState.CONNECTED, 0.0))
    assert offers_in(d.arrive("w", "sales")) == []
    d.end("A", "c1")
    out = d.complete_wrapup("A", "c1")
    assert offers_in(out) == [("w", "A")]
    d.engine.check_invariants()


def test_restore_chats_up_to_capacity() -> None:
    d = _driver("M")
    for cid in ("x1", "x2"):
        d.record(d.engine.restore_assigned(_spec(cid, "chat"), "M", ContactState.CONNECTED, 0.0))
    assert d.engine.agent("M").in_use == {"chat": 2}
    err = assert_refused(
        d,
        E.TargetUnavailable,
        "restore_assigned",
        _spec("x3", "chat"),
        "M",
        ContactState.CONNECTED,
        0.0,
    )
    assert "capacity" in str(err)


def test_restore_transfer_and_transfer_back_work() -> None:
    d = _driver("A", "B")
    d.record(d.engine.restore_assigned(_spec("c1"), "A", ContactState.CONNECTED, 0.0))
    out = d.transfer_to_queue("A", "c1", "sales")
    assert offers_in(out) == [("c1", "B")]
    assert events_of(out, ContactQueued)
    d.accept("B", "c1")
    drain(d)
    d.engine.check_invariants()


@pytest.mark.parametrize(
    ("agent_id", "state", "error", "words"),
    [
        ("nobody", ContactState.CONNECTED, E.UnknownAgent, "not known"),
        ("B", ContactState.CONNECTED, E.TargetUnavailable, "not logged in"),
        ("A", ContactState.QUEUED, E.IllegalTransition, "connected or held"),
        ("A", ContactState.ENDED, E.IllegalTransition, "connected or held"),
    ],
)
def test_restore_assigned_refusals(
    agent_id: str, state: ContactState, error: type[E.RoutingError], words: str
) -> None:
    d = _driver("A")
    err = assert_refused(d, error, "restore_assigned", _spec("c1"), agent_id, state, 0.0)
    assert words in str(err)


def test_restore_assigned_refuses_busy_agent_duplicate_and_unknown_queue() -> None:
    d = _driver("A")
    d.record(d.engine.restore_assigned(_spec("c1"), "A", ContactState.CONNECTED, 0.0))
    assert_refused(
        d, E.TargetUnavailable, "restore_assigned", _spec("c2"), "A", ContactState.CONNECTED, 0.0
    )
    d.login("B")
    assert_refused(
        d, E.DuplicateContact, "restore_assigned", _spec("c1"), "B", ContactState.CONNECTED, 0.0
    )
    assert_refused(
        d,
        E.UnknownQueue,
        "restore_assigned",
        _spec("c3", "nope"),
        "B",
        ContactState.CONNECTED,
        0.0,
    )


# ---------------------------------------------------------------------- restore_wrapup


def test_restore_wrapup_mandatory_then_complete() -> None:
    d = _driver("A")
    out = d.record(d.engine.restore_wrapup("A", "old", "sales", d.now))
    assert out.events and all(isinstance(e, AgentStateChanged) for e in out.events)
    assert d.engine.agent("A").contacts == {"old": "wrap_up"}
    with pytest.raises(E.IllegalTransition):
        d.engine.end("A", "old", d.now)
    done = d.complete_wrapup("A", "old", "resolved")
    assert events_of(done, WrapUpCompleted)[0].disposition == "resolved"
    assert d.engine.agent("A").contacts == {}
    drain(d)
    d.engine.check_invariants()


def test_restore_wrapup_timed_starts_a_fresh_timer() -> None:
    d = _driver("A")
    d.at(50.0)
    out = d.record(d.engine.restore_wrapup("A", "old", "timed", 50.0))
    (timer,) = [c for c in out.commands if isinstance(c, StartTimer)]
    assert timer.at == pytest.approx(80.0)
    assert d.arrive("w", "sales").offers() == []
    d.at(80.0)
    finished = d.of_type(WrapUpCompleted)
    assert finished and finished[-1].timed_out
    assert [c for c in d.commands if isinstance(c, ContactOffered)] == []
    assert d.engine.contact("w").agent_id == "A"
    d.engine.check_invariants()


def test_restore_wrapup_early_done_cancels_timer() -> None:
    d = _driver("A")
    d.record(d.engine.restore_wrapup("A", "old", "timed", 0.0))
    out = d.complete_wrapup("A", "old")
    assert [c for c in out.commands if isinstance(c, CancelTimer)]
    assert d.pending_timers("wrapup") == []


def test_restore_wrapup_with_no_wrapup_policy_finishes_at_once() -> None:
    d = _driver("A")
    out = d.record(d.engine.restore_wrapup("A", "old", "quick", 0.0))
    assert events_of(out, WrapUpCompleted)
    assert d.engine.agent("A").contacts == {}
    d.engine.check_invariants()


def test_restore_wrapup_refusals() -> None:
    d = _driver("A")
    assert_refused(d, E.TargetUnavailable, "restore_wrapup", "B", "old", "sales", 0.0)
    assert_refused(d, E.UnknownAgent, "restore_wrapup", "Z", "old", "sales", 0.0)
    assert_refused(d, E.UnknownQueue, "restore_wrapup", "A", "old", "nope", 0.0)
    d.record(d.engine.restore_wrapup("A", "old", "sales", 0.0))
    assert_refused(d, E.DuplicateContact, "restore_wrapup", "A", "old", "sales", 0.0)
    # Voice is exclusive: a second voice wrap-up does not fit.
    assert_refused(d, E.TargetUnavailable, "restore_wrapup", "A", "old2", "sales", 0.0)
    d.login("B")
    d.arrive("live", "sales")
    assert d.engine.contact("live").agent_id == "B"
    assert_refused(d, E.DuplicateContact, "restore_wrapup", "M", "live", "chat", 0.0)


# ---------------------------------------------------------------------- originate


def test_originate_connects_at_once_as_outbound() -> None:
    d = _driver("A")
    d.at(5.0)
    out = d.record(d.engine.originate(_spec("o1"), "A", 5.0))
    (orig,) = events_of(out, ContactOriginated)
    assert (orig.contact_id, orig.agent_id, orig.queue_id) == ("o1", "A", "sales")
    assert orig.direction == "outbound" and orig.channel == "voice"
    assert not events_of(out, ContactQueued) and not events_of(out, ContactAnswered)
    assert out.offers() == []
    assert d.engine.contact("o1").state == "connected"
    assert d.engine.agent("A").activity == "on_contact"
    # Busy on the outbound call: inbound work waits.
    assert d.arrive("in1", "sales").offers() == []
    d.at(65.0)
    assert events_of(d.end("A", "o1"), ContactEnded)[0].talk_s == pytest.approx(60.0)
    out = d.complete_wrapup("A", "o1")
    assert offers_in(out) == [("in1", "A")]
    d.engine.check_invariants()


def test_originate_from_not_ready_keeps_the_status() -> None:
    d = _driver()
    d.login("A", status="break")
    d.record(d.engine.originate(_spec("o1"), "A", 0.0))
    assert d.engine.agent("A").status == "break"
    d.hold("A", "o1")
    d.resume("A", "o1")
    d.hangup("o1")
    d.complete_wrapup("A", "o1")
    snap = d.engine.agent("A")
    assert (snap.status, snap.activity) == ("break", "idle")
    d.engine.check_invariants()


def test_originate_is_not_an_inbound_offer_in_the_statistics() -> None:
    d = _driver("A")
    d.record(d.engine.originate(_spec("o1"), "A", 0.0))
    d.at(100.0)
    d.end("A", "o1")
    d.at(110.0)
    d.complete_wrapup("A", "o1")
    d.at(190.0)
    d.arrive("in1", "sales")
    d.at(200.0)
    d.accept("A", "in1")
    d.at(300.0)
    d.end("A", "in1")
    d.at(305.0)
    d.complete_wrapup("A", "in1")
    fold = StatsFold(QUEUES)
    fold.apply_all(d.events)
    counts = fold.totals["sales"]
    assert (counts.offered, counts.answered) == (1, 1)
    assert (counts.outbound, counts.outbound_handled) == (1, 1)
    assert counts.outbound_handle_s == pytest.approx(110.0)
    assert counts.handled == 1
    assert counts.aht_s == pytest.approx(100.0 + 5.0)


def test_originate_refusals() -> None:
    d = _driver("A", "B")
    assert_refused(d, E.TargetUnavailable, "originate", _spec("o"), "M", 0.0)  # logged out
    assert_refused(d, E.UnknownAgent, "originate", _spec("o"), "Z", 0.0)
    assert_refused(d, E.UnknownQueue, "originate", _spec("o", "nope"), "A", 0.0)
    assert_refused(
        d, E.IllegalTransition, "originate", _spec("o", "chat", channel=Channel.CHAT), "A", 0.0
    )
    d.arrive("c1", "sales")  # offered to A (longest idle)
    err = assert_refused(d, E.TargetUnavailable, "originate", _spec("o"), "A", 0.0)
    assert "offer" in str(err)
    d.accept("A", "c1")
    err = assert_refused(d, E.TargetUnavailable, "originate", _spec("o"), "A", 0.0)
    assert "capacity" in str(err)
    assert_refused(d, E.DuplicateContact, "originate", _spec("c1"), "B", 0.0)
    d.set_status("B", "offline")
    assert_refused(d, E.TargetUnavailable, "originate", _spec("o"), "B", 0.0)


def test_originated_event_survives_the_log() -> None:
    event = ContactOriginated(
        ts=1.0, contact_id="o", agent_id="A", queue_id="sales", channel="voice"
    )
    again = event_from_record(
        event.type, event.ts, event.contact_id, event.agent_id, event.queue_id, event.payload()
    )
    assert again == event
    assert event.payload() == {"channel": "voice", "direction": "outbound"}


def test_entry_tables_name_the_seated_states() -> None:
    assert CONTACT_ENTRIES[Entry.ORIGINATE] == {ContactState.CONNECTED}
    assert CONTACT_ENTRIES[Entry.RESTORE] == {ContactState.CONNECTED, ContactState.HELD}
    assert {s.value for s in SLOT_ENTRIES[Entry.RESTORE]} == {"connected", "held"}
    assert {s.value for s in SLOT_ENTRIES[Entry.RESTORE_WRAPUP]} == {"wrap_up"}
