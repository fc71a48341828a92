"""Each timer kind has one handler, found from the kind through one table."""

from __future__ import annotations

from routing import AgentProfile, QueueConfig
from routing.events import OfferTimedOut, StartTimer
from routing.offers import Offers
from routing.timers import TIMER_HANDLERS
from routing.transitions import TimerKind

from .support import Driver, engine_with


def test_every_timer_kind_has_a_handler() -> None:
    assert set(TIMER_HANDLERS) == set(TimerKind)


def test_an_offer_timing_out_is_handled_by_offer_timed_out() -> None:
    assert TIMER_HANDLERS[TimerKind.OFFER] is Offers.offer_timed_out
    d = Driver(engine_with([QueueConfig(id="q", offer_timeout_s=10)], [AgentProfile(id="A")]))
    d.login("A")
    out = d.arrive("c", "q")
    (timer,) = [c.timer for c in out.commands if isinstance(c, StartTimer)]
    assert timer == (TimerKind.OFFER, "c", 1)
    assert timer[0] is TimerKind.OFFER  # typed, and equal to the plain string "offer"
    d.at(10)
    assert [e.contact_id for e in d.of_type(OfferTimedOut)] == ["c"]
    assert d.engine.contact("c").state == "queued"
    assert d.engine.agent("A").activity == "not_responding"


def test_a_stale_or_unknown_timer_does_nothing() -> None:
    d = Driver(engine_with([QueueConfig(id="q")], [AgentProfile(id="A")]))
    d.login("A")
    d.arrive("c", "q")
    d.accept("A", "c")
    for timer in (("offer", "c", 1), ("bogus", "c", 1), ("offer", "nobody", 1)):
        out = d.engine.timer(timer, 100.0)
        assert out.events == [] and out.commands == []
    assert d.engine.contact("c").state == "connected"
