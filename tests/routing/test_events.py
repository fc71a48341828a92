"""Domain events: names in the log, payloads, and rebuilding them from log records."""

from __future__ import annotations

import dataclasses

import pytest

from routing import AgentProfile, QueueConfig
from routing.events import (
    EVENT_TYPES,
    AgentStateChanged,
    ContactOffered,
    ContactQueued,
    Event,
    event_from_record,
)

from .support import Driver, drain, engine_with

DESIGN_NAMES = {
    "contact.queued",
    "contact.offered",
    "offer.rejected",
    "offer.timed_out",
    "contact.answered",
    "contact.held",
    "contact.transferred",
    "contact.abandoned",
    "contact.ended",
    "wrapup.completed",
    "agent.state_changed",
}


def test_event_names_follow_the_design() -> None:
    assert set(EVENT_TYPES) >= DESIGN_NAMES
    for name, cls in EVENT_TYPES.items():
        assert cls.type == name
        assert issubclass(cls, Event)


def test_payload_leaves_out_time_and_ids() -> None:
    ev = ContactOffered(
        ts=1.0, contact_id="c", agent_id="a", queue_id="q", expires_at=16.0, step="s", wait_s=2.0
    )
    assert ev.payload() == {"expires_at": 16.0, "step": "s", "wait_s": 2.0}


def test_unknown_record_type_is_refused() -> None:
    with pytest.raises(KeyError):
        event_from_record("contact.teleported", 0.0, "c", None, "q", {})


def test_unknown_payload_keys_are_ignored_on_replay() -> None:
    ev = event_from_record(
        "contact.queued",
        5.0,
        "c",
        None,
        "q",
        {"channel": "voice", "priority": 1, "enqueued_at": 5.0, "step": "s", "future": 1},
    )
    assert ev == ContactQueued(
        ts=5.0, contact_id="c", queue_id="q", channel="voice", priority=1, enqueued_at=5.0, step="s"
    )


def test_every_engine_event_survives_a_log_round_trip() -> None:
    queues = [QueueConfig(id="q"), QueueConfig(id="q2")]
    d = Driver(engine_with(queues, [AgentProfile(id="A"), AgentProfile(id="B")]))
    d.login("A")
    d.arrive("c1", "q")
    d.at(1).reject("A", "c1")
    d.login("B")
    d.at(2).accept("B", "c1")
    d.at(3).hold("B", "c1")
    d.at(4).resume("B", "c1")
    d.at(5).transfer_to_queue("B", "c1", "q2")
    d.set_status("A", "available")
    d.at(40)
    drain(d)
    seen = {type(e) for e in d.events}
    assert len(seen) >= 10
    for ev in d.events:
        rebuilt = event_from_record(
            ev.type, ev.ts, ev.contact_id, ev.agent_id, ev.queue_id, ev.payload()
        )
        assert rebuilt == ev
        assert type(rebuilt) is type(ev)
    assert any(isinstance(e, AgentStateChanged) for e in d.events)


def _same(a: object, b: object) -> None:
    assert type(a) is type(b)
    if isinstance(a, tuple):  # a command: a NamedTuple
        names = list(type(a)._fields)  # type: ignore[attr-defined]  # every NamedTuple has it
    else:
        names = [f.name for f in dataclasses.fields(a)]  # type: ignore[arg-type]
    assert {n: getattr(a, n) for n in names} == {n: getattr(b, n) for n in names}
    assert a == b


def test_positional_makers_build_what_the_constructors_build() -> None:
    from routing import events as ev

    _same(
        ev.new_contact_queued(1.0, "c", "q", "voice", 2, 1.0, "s"),
        ev.ContactQueued(
            ts=1.0,
            contact_id="c",
            queue_id="q",
            channel="voice",
            priority=2,
            enqueued_at=1.0,
            step="s",
        ),
    )
    _same(
        ev.new_contact_offered(1.0, "c", "a", "q", 3.0, "s", 0.5),
        ev.ContactOffered(
            ts=1.0,
            contact_id="c",
            agent_id="a",
            queue_id="q",
            expires_at=3.0,
            step="s",
            wait_s=0.5,
        ),
    )
    _same(
        ev.new_contact_answered(1.0, "c", "a", "q", 0.5, False),
        ev.ContactAnswered(
            ts=1.0, contact_id="c", agent_id="a", queue_id="q", wait_s=0.5, in_queue=False
        ),
    )
    _same(
        ev.new_contact_abandoned(1.0, "c", "q", 0.5, True),
        ev.ContactAbandoned(ts=1.0, contact_id="c", queue_id="q", wait_s=0.5),
    )
    _same(
        ev.new_contact_ended(1.0, "c", "a", "q", 4.0, 1.0, "agent"),
        ev.ContactEnded(
            ts=1.0,
            contact_id="c",
            agent_id="a",
            queue_id="q",
            talk_s=4.0,
            hold_s=1.0,
            ended_by="agent",
        ),
    )
    _same(
        ev.new_wrapup_completed(1.0, "c", "a", "q", 2.0, "ok", None, False),
        ev.WrapUpCompleted(
            ts=1.0,
            contact_id="c",
            agent_id="a",
            queue_id="q",
            wrapup_s=2.0,
            disposition="ok",
            notes=None,
            timed_out=False,
        ),
    )
    _same(
        ev.new_agent_state_changed(1.0, "a", "available", "idle", None, "offline", "offline"),
        ev.AgentStateChanged(
            ts=1.0,
            agent_id="a",
            status="available",
            activity="idle",
            next_status=None,
            prev_status="offline",
            prev_activity="offline",
        ),
    )
    _same(
        ev.new_offer("c", "a", "q", "voice", 3.0, "s"),
        ev.Offer(
            contact_id="c", agent_id="a", queue_id="q", channel="voice", expires_at=3.0, step="s"
        ),
    )
    _same(
        ev.new_start_timer(("offer", "c", 1), 3.0),
        ev.StartTimer(timer=("offer", "c", 1), at=3.0),
    )
    _same(ev.new_cancel_timer(("offer", "c", 1)), ev.CancelTimer(timer=("offer", "c", 1)))
