"""A contact re-queued by a restart keeps the wait it had (``arrive(waiting_since=...)``).

Expected values are worked by hand from the times below: the caller joined the queue at
t=100, the server came back at t=130.
"""

from __future__ import annotations

from typing import Any

import pytest

from routing import AgentProfile, ContactSpec, QueueConfig, RoutingStep, WrapUpPolicy
from routing.events import ContactFlowedOut, ContactOffered, ContactQueued, ContactStepChanged
from routing.model import MaxWait

from .support import Driver, engine_with, events_of


def _q(**kw: Any) -> QueueConfig:
    kw.setdefault("skills", {"s": 1})
    kw.setdefault("wrap_up", WrapUpPolicy(mode="none"))
    kw.setdefault("offer_timeout_s", 1000)
    return QueueConfig(id="q", **kw)


def _restored(d: Driver, cid: str, since: float, **spec: Any) -> None:
    d.record(d.engine.arrive(ContactSpec(id=cid, queue_id="q", **spec), d.now, waiting_since=since))


def test_the_wait_counts_from_the_logged_queue_entry() -> None:
    d = Driver(engine_with([_q()], [AgentProfile(id="A", skills={"s": 5})]), now=130.0)
    _restored(d, "c", since=100.0)
    (queued,) = d.of_type(ContactQueued)
    assert queued.enqueued_at == 100.0
    assert d.engine.contact("c").enqueued_at == 100.0
    d.at(140.0).login("A")
    (offered,) = d.of_type(ContactOffered)
    assert offered.wait_s == pytest.approx(40.0)  # 140 - 100, not 140 - 130


def test_a_restored_caller_keeps_its_place_ahead_of_a_newer_one() -> None:
    d = Driver(engine_with([_q()], [AgentProfile(id="A", skills={"s": 5})]), now=130.0)
    d.arrive("new", "q")  # queued at 130
    _restored(d, "old", since=100.0)  # queued at 100: first in line
    d.at(131.0).login("A")
    (offered,) = d.of_type(ContactOffered)
    assert offered.contact_id == "old"


def test_max_wait_counts_from_the_logged_entry_and_an_overdue_one_fires_at_once() -> None:
    q = _q(max_wait=MaxWait(seconds=60, action="flow_out", target="voicemail"))
    d = Driver(engine_with([q]), now=130.0)
    _restored(d, "c", since=100.0)
    d.at(159.0)
    assert d.of_type(ContactFlowedOut) == []
    d.at(160.0)  # 100 + 60
    (flowed,) = d.of_type(ContactFlowedOut)
    assert flowed.wait_s == pytest.approx(60.0)

    late = Driver(engine_with([q]), now=200.0)
    _restored(late, "c", since=100.0)  # due at 160, already past
    late.at(200.0)
    (flowed,) = late.of_type(ContactFlowedOut)
    assert flowed.wait_s == pytest.approx(100.0)


def test_the_first_step_timer_counts_from_the_logged_entry() -> None:
    steps = (
        RoutingStep(name="experts", timeout_s=30, skills={"s": 8}),
        RoutingStep(name="anyone", skills={"s": 1}),
    )
    d = Driver(engine_with([_q(steps=steps)]), now=110.0)
    _restored(d, "c", since=100.0)
    d.at(129.9)
    assert d.of_type(ContactStepChanged) == []
    d.at(130.0)  # 100 + 30, not 110 + 30
    (changed,) = d.of_type(ContactStepChanged)
    assert changed.step == "anyone"


def test_a_future_waiting_since_is_refused() -> None:
    d = Driver(engine_with([_q()]), now=100.0)
    with pytest.raises(ValueError, match="after now"):
        d.engine.arrive(ContactSpec(id="c", queue_id="q"), 100.0, waiting_since=101.0)
    assert events_of(d.engine.arrive(ContactSpec(id="c", queue_id="q"), 100.0), ContactQueued)
