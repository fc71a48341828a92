"""Who gets the contact (agent strategies) and which contact goes first (contact selection).

Each scenario is built so that the strategy under test and the default (longest idle)
disagree; the default is run as a control so a scenario cannot pass by accident.
"""

from __future__ import annotations

from typing import Any

import pytest

from routing import AgentProfile, Channel, QueueConfig, WrapUpPolicy
from routing.events import ContactStepChanged, StartTimer
from routing.model import BlendWeights

from .support import Driver, engine_with, offers_in

NO_WRAP = WrapUpPolicy(mode="none")


def _q(qid: str = "q", **kw: Any) -> QueueConfig:
    kw.setdefault("skills", {"s": 1})
    kw.setdefault("wrap_up", NO_WRAP)
    kw.setdefault("offer_timeout_s", 1000)
    return QueueConfig(id=qid, **kw)


def _agent(aid: str, **kw: Any) -> AgentProfile:
    kw.setdefault("skills", {"s": 5})
    return AgentProfile(id=aid, **kw)


def _handle(d: Driver, agent_id: str, cid: str, start: float, stop: float) -> None:
    d.at(start).accept(agent_id, cid)
    d.at(stop).end(agent_id, cid)


# ------------------------------------------------------------------------ agent strategies


def _longest_idle_world(strategy: str | None) -> tuple[Driver, list[tuple[str, str]]]:
    cfg = {} if strategy is None else {"strategy": strategy}
    d = Driver(engine_with([_q()], [_agent(a) for a in "ABC"], **cfg))
    for t, a in enumerate("ABC"):
        d.at(t).login(a)
    got = []
    got += offers_in(d.at(10).arrive("c1", "q"))
    got += offers_in(d.at(11).arrive("c2", "q"))
    _handle(d, "A", "c1", 11, 12)  # A is idle again from 12: now the most recently idle
    got += offers_in(d.at(13).arrive("c3", "q"))
    got += offers_in(d.at(14).arrive("c4", "q"))
    return d, got


def test_longest_idle_is_the_default_and_serves_the_longest_idle_agent() -> None:
    d, got = _longest_idle_world(None)
    assert d.engine.config.strategy == "longest_idle"
    assert got == [("c1", "A"), ("c2", "B"), ("c3", "C"), ("c4", "A")]
    d.engine.check_invariants()


def test_longest_idle_is_the_same_when_named() -> None:
    assert _longest_idle_world("longest_idle")[1] == _longest_idle_world(None)[1]


def _most_skilled_world(strategy: str) -> list[tuple[str, str]]:
    agents = [_agent("A", skills={"s": 3}), _agent("B", skills={"s": 9})]
    agents.append(_agent("C", skills={"s": 5}))
    d = Driver(engine_with([_q()], agents, strategy=strategy))
    for t, a in enumerate("ABC"):
        d.at(t).login(a)
    got = []
    for i in range(3):
        got += offers_in(d.at(10 + i).arrive(f"c{i}", "q"))
    d.engine.check_invariants()
    return got


def test_most_skilled_picks_the_highest_proficiency() -> None:
    assert _most_skilled_world("most_skilled") == [("c0", "B"), ("c1", "C"), ("c2", "A")]
    assert _most_skilled_world("longest_idle") == [("c0", "A"), ("c1", "B"), ("c2", "C")]


def _least_occupied_world(strategy: str) -> str:
    d = Driver(engine_with([_q()], [_agent("A"), _agent("B")], strategy=strategy))
    d.login("A")
    d.login("B")
    assert offers_in(d.arrive("c1", "q")) == [("c1", "A")]
    assert offers_in(d.arrive("c2", "q")) == [("c2", "B")]
    _handle(d, "A", "c1", 0, 100)  # A: 100 s of handling, idle since 100
    _handle(d, "B", "c2", 195, 200)  # B: 5 s of handling, idle since 200
    (offer,) = offers_in(d.at(300).arrive("c3", "q"))
    d.engine.check_invariants()
    return offer[1]


def test_least_occupied_picks_the_agent_with_least_handling_time() -> None:
    assert _least_occupied_world("least_occupied") == "B"
    assert _least_occupied_world("longest_idle") == "A"


def _round_robin_world(strategy: str) -> str:
    d = Driver(engine_with([_q()], [_agent("A"), _agent("B")], strategy=strategy))
    d.login("A")
    d.login("B")
    assert offers_in(d.arrive("c1", "q")) == [("c1", "A")]  # A last offered at 0
    assert offers_in(d.at(50).arrive("c2", "q")) == [("c2", "B")]  # B last offered at 50
    _handle(d, "B", "c2", 50, 60)  # B idle since 60
    d.at(100).accept("A", "c1")
    d.end("A", "c1")  # A idle since 100
    (offer,) = offers_in(d.at(200).arrive("c3", "q"))
    d.engine.check_invariants()
    return offer[1]


def test_round_robin_picks_the_least_recently_offered_agent() -> None:
    assert _round_robin_world("round_robin") == "A"
    assert _round_robin_world("longest_idle") == "B"


def _blend_world(**weights: float) -> str:
    agents = [_agent("A", skills={"s": 2}), _agent("B", skills={"s": 9})]
    d = Driver(engine_with([_q()], agents, strategy="blend", blend=BlendWeights(**weights)))
    d.login("A")  # routable since 0: 3.3 idle minutes at 200
    d.at(120).login("B")  # routable since 120: 1.3 idle minutes at 200
    (offer,) = offers_in(d.at(200).arrive("c", "q"))
    d.engine.check_invariants()
    return offer[1]


def test_blend_weighs_idle_time_against_skill() -> None:
    # score ~ idle minutes * idle + proficiency * skill: A = 3.3 + 2, B = 1.3 + 9
    assert _blend_world(idle=1.0, skill=1.0) == "B"
    # without the skill term, idle time decides
    assert _blend_world(idle=1.0, skill=0.0) == "A"
    # a heavy idle weight outweighs 7 proficiency points (2 idle minutes * 10 = 20)
    assert _blend_world(idle=10.0, skill=1.0) == "A"


# ------------------------------------------------------------------------ contact selection


def _two_queue_world(**cfg: Any) -> Driver:
    queues = [_q("qA", skills={"a": 1}), _q("qB", skills={"b": 1})]
    agents = [_agent("X", skills={"a": 5, "b": 5})]
    return Driver(engine_with(queues, agents, **cfg))


def test_fcfs_across_all_queues_an_agent_serves() -> None:
    d = _two_queue_world()
    d.arrive("b_old", "qB")
    d.at(5).arrive("a_new", "qA")
    assert offers_in(d.at(10).login("X")) == [("b_old", "X")]
    d.accept("X", "b_old")
    assert offers_in(d.at(11).end("X", "b_old")) == [("a_new", "X")]


def test_equal_arrival_time_is_served_in_arrival_order() -> None:
    d = _two_queue_world()
    d.arrive("b1", "qB")
    d.arrive("a1", "qA")
    d.arrive("b2", "qB")
    got = []
    out = d.at(1).login("X")
    for _ in range(3):
        ((cid, _),) = offers_in(out)
        got.append(cid)
        d.accept("X", cid)
        out = d.end("X", cid)
    assert got == ["b1", "a1", "b2"]


def test_higher_priority_first_across_queues() -> None:
    d = _two_queue_world()
    d.arrive("b_old_low", "qB", priority=0)
    d.at(5).arrive("a_new_high", "qA", priority=5)
    assert offers_in(d.at(10).login("X")) == [("a_new_high", "X")]
    assert d.engine.waiting() == ["b_old_low"]


def test_queue_priority_applies_to_its_contacts() -> None:
    queues = [_q("low", skills={"a": 1}), _q("high", skills={"b": 1}, priority=3)]
    d = Driver(engine_with(queues, [_agent("X", skills={"a": 5, "b": 5})]))
    d.arrive("l", "low")
    d.at(1).arrive("h", "high")
    assert d.engine.contact("h").priority == 3
    assert offers_in(d.at(2).login("X")) == [("h", "X")]


def _ageing_world(login_at: float, aging: float) -> str:
    queues = [
        _q("old", skills={"a": 1}, priority=0, priority_aging_per_min=aging),
        _q("vip", skills={"b": 1}, priority=5),
    ]
    d = Driver(engine_with(queues, [_agent("X", skills={"a": 5, "b": 5})]))
    d.arrive("o", "old")
    d.at(200).arrive("v", "vip")
    (offer,) = offers_in(d.at(login_at).login("X"))
    return offer[0]


def test_priority_ageing_lets_an_old_low_priority_contact_overtake() -> None:
    # at 400 s the old contact's effective priority is 0 + 400/60 = 6.7 > 5
    assert _ageing_world(400, aging=1.0) == "o"
    # at 250 s it is only 4.2 < 5
    assert _ageing_world(250, aging=1.0) == "v"
    # without ageing, priority alone decides
    assert _ageing_world(400, aging=0.0) == "v"


def _cmu_world(selector: str, b_arrives: float, **qb: Any) -> str:
    queues = [_q("qA", skills={"a": 1}), _q("qB", skills={"b": 1}, **qb)]
    d = Driver(engine_with(queues, [_agent("X", skills={"a": 5, "b": 5})], selector=selector))
    d.arrive("a", "qA")
    d.at(b_arrives).arrive("b", "qB")
    (offer,) = offers_in(d.at(60).login("X"))
    return offer[0]


def test_cmu_prefers_the_queue_with_higher_cost_over_handle_time() -> None:
    # equal waits: qB's weight 2/300 beats qA's 1/300
    assert _cmu_world("cmu", 0, cost_of_wait=2.0) == "b"
    assert _cmu_world("fcfs", 0, cost_of_wait=2.0) == "a"
    # shorter handle time: qB waited 30 s at weight 1/100 = 0.3 > qA's 60 s at 1/300 = 0.2
    assert _cmu_world("cmu", 30, mean_handle_s=100.0) == "b"
    assert _cmu_world("fcfs", 30, mean_handle_s=100.0) == "a"
    # a long enough wait in the cheaper queue wins back (60/300 = 0.2 > 2*5/300)
    assert _cmu_world("cmu", 55, cost_of_wait=2.0) == "a"


def _starvation_world(starvation_s: float | None) -> Driver:
    queues = [
        _q("low", skills={"a": 1}, starvation_s=starvation_s),
        _q("high", skills={"b": 1}, priority=10),
    ]
    d = Driver(engine_with(queues, [_agent("X", skills={"a": 5, "b": 5})]))
    d.login("X")
    d.arrive("busy", "high")
    d.accept("X", "busy")
    d.at(1).arrive("starving", "low")
    d.at(10).arrive("vip", "high")
    return d


def test_starvation_watchdog_raises_the_contact_to_top_priority() -> None:
    d = _starvation_world(starvation_s=60)
    assert ("starve", "starving", 1) in [
        c.timer for c in d.commands if isinstance(c, StartTimer) and c.timer[0] == "starve"
    ]
    d.at(61)
    (raised,) = d.of_type(ContactStepChanged)
    assert (raised.contact_id, raised.reason) == ("starving", "starvation")
    assert raised.priority == d.engine.config.starvation_priority
    assert d.engine.contact("starving").priority == d.engine.config.starvation_priority
    assert offers_in(d.at(70).end("X", "busy")) == [("starving", "X")]
    d.engine.check_invariants()


def test_without_starvation_the_higher_priority_contact_goes_first() -> None:
    d = _starvation_world(starvation_s=None)
    d.at(61)
    assert not d.of_type(ContactStepChanged)
    assert offers_in(d.at(70).end("X", "busy")) == [("vip", "X")]


def test_starvation_still_applies_when_the_timer_fires_during_an_offer() -> None:
    """The contact was being offered (not answered) when its starvation time came; the
    offer then timed out. It has still waited past starvation_s and must be top priority."""
    queues = [_q("q", starvation_s=10, offer_timeout_s=15)]
    d = Driver(engine_with(queues, [_agent("A"), _agent("B")]))
    d.login("A")
    d.arrive("old", "q")  # offered to A, who never answers
    d.at(12).arrive("vip", "q", priority=5)
    d.at(15)  # starvation fired at 10 (during the offer); the offer times out at 15
    assert d.engine.contact("old").state == "queued"
    (offer,) = offers_in(d.at(20).login("B"))
    assert offer == ("old", "B"), "the starving contact lost its top priority"


# ------------------------------------------------------------------------ channels


def _chat_world(**agent: Any) -> Driver:
    queues = [_q("chat", channel=Channel.CHAT), _q("voice", channel=Channel.VOICE)]
    agent.setdefault("capacity", {Channel.CHAT: 3, Channel.VOICE: 1})
    return Driver(engine_with(queues, [_agent("X", **agent)]))


def test_chat_capacity_allows_n_concurrent_chats_not_more() -> None:
    d = _chat_world(capacity={Channel.CHAT: 3})
    d.login("X")
    got = []
    for i in range(4):
        got += offers_in(d.arrive(f"ch{i}", "chat"))
    assert got == [("ch0", "X"), ("ch1", "X"), ("ch2", "X")]
    assert d.engine.waiting() == ["ch3"]
    assert d.engine.agent("X").in_use == {"chat": 3}
    for i in range(3):
        d.accept("X", f"ch{i}")
    assert offers_in(d.at(5).end("X", "ch0")) == [("ch3", "X")]
    assert d.engine.agent("X").in_use == {"chat": 3}
    d.engine.check_invariants()


def test_a_free_chat_agent_takes_several_waiting_chats_at_once() -> None:
    d = _chat_world(capacity={Channel.CHAT: 3})
    for i in range(5):
        d.arrive(f"ch{i}", "chat")
    out = d.at(1).login("X")
    assert offers_in(out) == [("ch0", "X"), ("ch1", "X"), ("ch2", "X")]


def test_voice_is_exclusive() -> None:
    d = _chat_world()
    d.login("X")
    assert offers_in(d.arrive("v", "voice")) == [("v", "X")]
    d.accept("X", "v")
    assert offers_in(d.arrive("ch", "chat")) == []
    assert offers_in(d.at(5).end("X", "v")) == [("ch", "X")]
    d.accept("X", "ch")
    # busy on a chat: a voice call does not interrupt unless the profile allows it
    assert offers_in(d.arrive("v2", "voice")) == []
    assert d.engine.waiting() == ["v2"]
    d.engine.check_invariants()


def test_interruptible_by_lets_voice_reach_an_agent_on_chats() -> None:
    d = _chat_world(interruptible_by={Channel.CHAT: (Channel.VOICE,)})
    d.login("X")
    d.arrive("ch", "chat")
    d.accept("X", "ch")
    assert offers_in(d.arrive("v", "voice")) == [("v", "X")]
    d.accept("X", "v")
    # but voice is not interruptible by chat: no more chats while on the call
    assert offers_in(d.arrive("ch2", "chat")) == []
    assert d.engine.agent("X").in_use == {"chat": 1, "voice": 1}
    d.engine.check_invariants()


def test_agent_without_capacity_for_a_channel_never_gets_it() -> None:
    d = _chat_world(capacity={Channel.VOICE: 1})
    d.login("X")
    assert offers_in(d.arrive("ch", "chat")) == []
    assert d.engine.explain("ch", d.now).eligible_logged_in == 0


@pytest.mark.parametrize(
    "strategy", ["longest_idle", "most_skilled", "least_occupied", "round_robin", "blend"]
)
def test_every_strategy_respects_eligibility(strategy: str) -> None:
    agents = [_agent("no", skills={"s": 1}), _agent("yes", skills={"s": 7})]
    d = Driver(engine_with([_q(skills={"s": 5})], agents, strategy=strategy))
    d.login("no")
    d.login("yes")
    assert offers_in(d.arrive("c", "q")) == [("c", "yes")]
    assert offers_in(d.arrive("c2", "q")) == []
    d.engine.check_invariants()
