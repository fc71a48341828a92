"""Domain events: names in the log, payloads, and rebuilding them from log records."""

from __future__ import annotations

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
