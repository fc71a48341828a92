"""The statistics fold: one definition of service level, ASA, abandons, AHT, occupancy."""

from __future__ import annotations

from typing import Any

import pytest

from routing import AgentProfile, QueueConfig, WrapUpPolicy
from routing.events import (
    AgentStateChanged,
    ContactAbandoned,
    ContactAnswered,
    ContactEnded,
    ContactFlowedOut,
    ContactQueued,
    ContactTransferred,
    Event,
    WrapUpCompleted,
    event_from_record,
)
from routing.model import ServiceLevelTarget
from routing.stats import (
    SL_FORMULAS,
    AgentTime,
    DialerAgentTime,
    SLVariant,
    StatsFold,
    agent_state,
    board_counts,
    describe_service_level,
    lines_per_ready_agent,
    occupancy,
    pooled_time,
    service_level,
    talk_minutes_per_agent_hour,
    wait_between_calls_s,
)

from .support import Driver, engine_with

V = SLVariant
WORKED = {
    V.ALL_ABANDONS_FAIL: 81,
    V.ANSWERED_ONLY: 86,
    V.ABANDONS_WITHIN_T_EXCLUDED: 83,
    V.ABANDONS_WITHIN_T_MET: 83,
}


def _pct(x: float | None) -> int:
    assert x is not None
    return round(100 * x)


# ------------------------------------------------------------------------ the worked example


@pytest.mark.parametrize("variant", list(V), ids=lambda v: v.value)
def test_worked_example_by_formula(variant: SLVariant) -> None:
    got = service_level(
        answered=1000, abandoned=60, answered_within=860, abandoned_within=20, variant=variant
    )
    assert _pct(got) == WORKED[variant]


def test_worked_example_exact_values() -> None:
    assert service_level(1000, 60, 860, 20, V.ALL_ABANDONS_FAIL) == pytest.approx(860 / 1060)
    assert service_level(1000, 60, 860, 20, V.ANSWERED_ONLY) == pytest.approx(0.86)
    assert service_level(1000, 60, 860, 20, V.ABANDONS_WITHIN_T_EXCLUDED) == pytest.approx(
        860 / 1040
    )
    assert service_level(1000, 60, 860, 20, V.ABANDONS_WITHIN_T_MET) == pytest.approx(880 / 1060)
    assert service_level(0, 0, 0, 0) is None
    assert service_level(1000, 60, 860, 20) == service_level(1000, 60, 860, 20, V.ALL_ABANDONS_FAIL)


def _worked_events() -> list[Event]:
    """1060 contacts: 860 answered within 20 s (some exactly at 20), 140 answered later,
    20 abandoned within 20 s, 40 abandoned later."""
    events: list[Event] = []
    answered = [float(i % 21) for i in range(860)] + [20.5 + (i % 50) for i in range(140)]
    abandoned = [1.0 + (i % 20) for i in range(20)] + [21.0 + i for i in range(40)]
    n = 0
    for waits, cls in ((answered, ContactAnswered), (abandoned, ContactAbandoned)):
        for wait in waits:
            cid = f"c{n}"
            n += 1
            events.append(
                ContactQueued(
                    ts=0.0,
                    contact_id=cid,
                    queue_id="q",
                    channel="voice",
                    priority=0,
                    enqueued_at=0.0,
                    step="default",
                )
            )
            kw: dict[str, Any] = {"agent_id": "A"} if cls is ContactAnswered else {}
            events.append(cls(ts=wait, contact_id=cid, queue_id="q", wait_s=wait, **kw))
    return events


WORKED_QUEUE = QueueConfig(
    id="q", short_abandon_s=0, service_level=ServiceLevelTarget(threshold_s=20, target=0.8)
)


@pytest.mark.parametrize("variant", list(V), ids=lambda v: v.value)
def test_worked_example_through_the_fold(variant: SLVariant) -> None:
    fold = StatsFold([WORKED_QUEUE], variant=variant)
    fold.apply_all(_worked_events())
    c = fold.totals["q"]
    assert (c.offered, c.answered, c.abandoned, c.short_abandoned) == (1060, 1000, 60, 0)
    assert (c.answered_within, c.abandoned_within) == (860, 20)
    assert _pct(c.service_level(variant)) == WORKED[variant]
    snap = fold.queue_snapshot("q", 100)
    assert _pct(snap["service_level"]) == WORKED[variant]
    assert snap["service_level_formula"] == describe_service_level(variant, 20, 0)


def test_worked_example_replayed_from_log_records() -> None:
    """The fold gives the same figures from events rebuilt out of their log records."""
    live = StatsFold([WORKED_QUEUE])
    live.apply_all(_worked_events())
    replayed = StatsFold([WORKED_QUEUE])
    for ev in _worked_events():
        rebuilt = event_from_record(
            ev.type, ev.ts, ev.contact_id, ev.agent_id, ev.queue_id, ev.payload()
        )
        assert rebuilt == ev
        replayed.apply(rebuilt)
    assert replayed.totals == live.totals


def test_short_abandons_are_apart_from_service_level_and_abandon_rate() -> None:
    q = QueueConfig(id="q", short_abandon_s=5)
    fold = StatsFold([q])
    evs: list[Event] = []
    for i, (kind, wait) in enumerate(
        [("ans", 10.0), ("ans", 30.0), ("ab", 2.0), ("ab", 4.99), ("ab", 5.0), ("ab", 40.0)]
    ):
        cid = f"c{i}"
        evs.append(
            ContactQueued(
                ts=0,
                contact_id=cid,
                queue_id="q",
                channel="voice",
                priority=0,
                enqueued_at=0,
                step="default",
            )
        )
        if kind == "ans":
            evs.append(ContactAnswered(ts=wait, contact_id=cid, queue_id="q", wait_s=wait))
        else:
            evs.append(ContactAbandoned(ts=wait, contact_id=cid, queue_id="q", wait_s=wait))
    fold.apply_all(evs)
    c = fold.totals["q"]
    assert (c.offered, c.abandoned, c.short_abandoned, c.abandoned_within) == (6, 4, 2, 1)
    # SL: 1 answered within 20 / (2 answered + 2 abandons that count)
    assert c.service_level() == pytest.approx(1 / 4)
    assert c.abandon_rate == pytest.approx(2 / 6)
    snap = fold.queue_snapshot("q", 50)
    assert (snap["abandoned"], snap["short_abandoned"]) == (2, 2)
    assert "abandons under 5 s are not counted" in snap["service_level_formula"]


# ------------------------------------------------------------------------ other figures


def _queued(cid: str, ts: float, qid: str = "q") -> ContactQueued:
    return ContactQueued(
        ts=ts,
        contact_id=cid,
        queue_id=qid,
        channel="voice",
        priority=0,
        enqueued_at=ts,
        step="default",
    )


def test_asa_is_the_mean_wait_of_answered_contacts() -> None:
    fold = StatsFold([QueueConfig(id="q")])
    fold.apply_all([_queued("a", 0), _queued("b", 0), _queued("c", 0)])
    fold.apply(ContactAnswered(ts=10, contact_id="a", agent_id="A", queue_id="q", wait_s=10))
    fold.apply(ContactAnswered(ts=30, contact_id="b", agent_id="A", queue_id="q", wait_s=30))
    fold.apply(ContactAbandoned(ts=99, contact_id="c", queue_id="q", wait_s=99))
    c = fold.totals["q"]
    assert c.asa_s == pytest.approx(20)
    assert c.max_wait_answered_s == 30
    assert fold.queue_snapshot("q", 100)["asa_s"] == pytest.approx(20)


def test_transfers_to_an_agent_are_not_queue_answers() -> None:
    fold = StatsFold([QueueConfig(id="q")])
    fold.apply(_queued("a", 0))
    fold.apply(ContactAnswered(ts=5, contact_id="a", agent_id="A", queue_id="q", wait_s=5))
    fold.apply(
        ContactAnswered(ts=50, contact_id="a", agent_id="B", queue_id="q", wait_s=1, in_queue=False)
    )
    assert fold.totals["q"].answered == 1
    assert fold.totals["q"].asa_s == 5


def test_aht_is_talk_plus_hold_plus_wrap_over_handled() -> None:
    fold = StatsFold([QueueConfig(id="q")])
    fold.apply(
        ContactEnded(
            ts=100,
            contact_id="a",
            agent_id="A",
            queue_id="q",
            talk_s=100,
            hold_s=20,
            ended_by="agent",
        )
    )
    fold.apply(
        WrapUpCompleted(
            ts=130,
            contact_id="a",
            agent_id="A",
            queue_id="q",
            wrapup_s=30,
            disposition=None,
            notes=None,
            timed_out=False,
        )
    )
    assert fold.totals["q"].aht_s == pytest.approx(150)
    fold.apply(
        ContactTransferred(
            ts=200, contact_id="b", agent_id="A", queue_id="q", to_queue="q2", talk_s=40, hold_s=0
        )
    )
    fold.apply(
        WrapUpCompleted(
            ts=210,
            contact_id="b",
            agent_id="A",
            queue_id="q",
            wrapup_s=10,
            disposition=None,
            notes=None,
            timed_out=True,
        )
    )
    c = fold.totals["q"]
    assert (c.handled, c.transferred_out) == (2, 1)
    assert c.aht_s == pytest.approx((100 + 20 + 30 + 40 + 10) / 2)


def _agent_event(ts: float, aid: str, status: str, activity: str) -> AgentStateChanged:
    return AgentStateChanged(
        ts=ts,
        agent_id=aid,
        status=status,
        activity=activity,
        next_status=None,
        prev_status="",
        prev_activity="",
    )


def test_occupancy_from_agent_state_changes() -> None:
    fold = StatsFold()
    for ev in (
        _agent_event(0, "A", "available", "idle"),  # available 0-100
        _agent_event(100, "A", "available", "on_contact"),  # handling 100-160
        _agent_event(160, "A", "available", "wrap_up"),  # handling 160-180
        _agent_event(180, "A", "available", "idle"),  # available 180-200
        _agent_event(200, "A", "break", "idle"),  # neither 200-300
        _agent_event(300, "A", "available", "not_responding"),  # neither 300-400
    ):
        fold.apply(ev)
    fold.flush_agents(400)
    t = fold.agent_time["A"]
    assert (t.handling_s, t.available_s) == (80, 120)
    assert fold.occupancy() == pytest.approx(80 / 200)
    assert t.occupancy == pytest.approx(0.4)


def test_occupancy_from_a_driven_engine() -> None:
    q = QueueConfig(id="q", wrap_up=WrapUpPolicy(mode="timed", seconds=20))
    d = Driver(engine_with([q], [AgentProfile(id="A")]))
    d.login("A")  # idle from 0
    d.at(100).arrive("c", "q")  # offered 100-105 (counts as available)
    d.at(105).accept("A", "c")
    d.at(165).end("A", "c")  # wrap-up until 185
    fold = StatsFold([q])
    d.at(200)
    fold.apply_all(d.events)
    snap = fold.snapshot(200)
    # handling 105-185 = 80; available 0-105 and 185-200 = 120
    assert snap["occupancy"] == pytest.approx(80 / 200)
    assert snap["agents_by_state"] == {"idle": 1}


def test_longest_wait_and_waiting_count() -> None:
    fold = StatsFold([QueueConfig(id="q")])
    fold.apply_all([_queued("a", 0), _queued("b", 10), _queued("c", 20)])
    assert fold.longest_wait("q", 50) == 50
    fold.apply(ContactAnswered(ts=30, contact_id="a", agent_id="A", queue_id="q", wait_s=30))
    assert fold.longest_wait("q", 50) == 40
    fold.apply(
        ContactFlowedOut(
            ts=40, contact_id="b", queue_id="q", reason="max_wait", target=None, wait_s=30
        )
    )
    assert fold.longest_wait("q", 50) == 30
    snap = fold.queue_snapshot("q", 50)
    assert (snap["waiting"], snap["flowed_out"]) == (1, 1)
    fold.apply(ContactAbandoned(ts=45, contact_id="c", queue_id="q", wait_s=25))
    assert fold.longest_wait("q", 50) == 0
    assert fold.longest_wait("unknown", 50) == 0


def test_agents_by_state() -> None:
    fold = StatsFold()
    for ev in (
        _agent_event(0, "A", "available", "on_contact"),
        _agent_event(0, "B", "available", "idle"),
        _agent_event(0, "C", "lunch", "idle"),
        _agent_event(0, "D", "offline", "offline"),
        _agent_event(0, "E", "available", "not_responding"),
        _agent_event(0, "F", "break", "wrap_up"),
        _agent_event(0, "G", "available", "idle"),
    ):
        fold.apply(ev)
    assert fold.agents_by_state() == {
        "on_contact": 1,
        "idle": 2,
        "not_ready": 1,
        "not_responding": 1,
        "wrap_up": 1,
    }


def test_occupancy_is_handling_over_handling_plus_available() -> None:
    assert occupancy(30, 90) == pytest.approx(0.25)
    assert occupancy(45, 0) == 1.0
    assert occupancy(0, 0) is None
    both = pooled_time([AgentTime(80, 120), AgentTime(50, 50)])
    assert (both.handling_s, both.available_s) == (130, 170)
    assert both.occupancy == pytest.approx(130 / 300)
    assert pooled_time([]).occupancy is None


def test_occupancy_of_some_agents() -> None:
    fold = StatsFold()
    for ev in (
        _agent_event(0, "A", "available", "idle"),  # A: available 0-100
        _agent_event(100, "A", "available", "on_contact"),  # A: handling 100-150
        _agent_event(0, "B", "available", "on_contact"),  # B: handling 0-150
        _agent_event(0, "C", "lunch", "idle"),  # C: neither
    ):
        fold.apply(ev)
    fold.flush_agents(150)
    assert fold.occupancy(["A"]) == pytest.approx(50 / 150)
    assert fold.occupancy(["B"]) == 1.0
    # A and B: handling 50 + 150 = 200 of 200 + 100 available
    assert fold.occupancy(["A", "B"]) == pytest.approx(200 / 300)
    assert fold.occupancy(["A", "B", "C", "nobody"]) == pytest.approx(200 / 300)
    assert fold.occupancy(["C"]) is None
    assert fold.occupancy([]) is None
    assert fold.occupancy() == pytest.approx(200 / 300)


def test_agent_state_and_board_columns() -> None:
    assert agent_state("available", "idle") == "idle"
    assert agent_state("lunch", "idle") == "not_ready"
    assert agent_state("break", "wrap_up") == "wrap_up"
    assert agent_state("available", "on_hold") == "on_hold"
    assert agent_state("offline", "offline") == "offline"
    states = ["idle", "offered", "on_contact", "on_hold", "on_hold", "wrap_up", "not_ready"]
    assert board_counts([*states, "not_responding", "offline"]) == {
        "available": 2,
        "on_contact": 3,
        "wrap_up": 1,
        "not_ready": 1,
        "not_responding": 1,
    }
    assert board_counts([]) == {}


def test_oldest_waiting_is_when_the_longest_wait_began() -> None:
    fold = StatsFold([QueueConfig(id="q")])
    assert fold.oldest_waiting("q") is None
    fold.apply_all([_queued("a", 5), _queued("b", 12)])
    assert fold.oldest_waiting("q") == 5
    fold.apply(ContactAbandoned(ts=20, contact_id="a", queue_id="q", wait_s=15))
    assert fold.oldest_waiting("q") == 12
    assert fold.longest_wait("q", 30) == 18


# ------------------------------------------------------------------------ outbound campaigns


def test_dialer_agent_time_counts_each_span_with_the_previous_look() -> None:
    t = DialerAgentTime()
    t.look(0, ready=2, busy=1, max_span_s=11)  # first look: nothing before it
    assert (t.ready_s, t.staffed_s) == (0, 0)
    t.look(10, ready=3, busy=0, max_span_s=11)  # 10 s with 2 ready, 1 busy
    assert (t.ready_s, t.staffed_s) == (20, 30)
    t.look(40, ready=0, busy=4, max_span_s=11)  # 30 s stalled: counts 11 s of 3 ready
    assert (t.ready_s, t.staffed_s) == (53, 63)
    t.look(39, ready=1, busy=0, max_span_s=11)  # a clock step back counts nothing
    assert (t.ready_s, t.staffed_s) == (53, 63)
    assert (t.ready, t.busy) == (1, 0)
    assert t.wait_between_calls_s is None
    t.connected()
    t.connected()
    assert t.wait_between_calls_s == pytest.approx(26.5)  # 53 ready seconds, 2 connects
    # 126 s of talk = 2.1 min, over 63 staffed seconds = 0.0175 h
    assert t.talk_minutes_per_agent_hour(126) == pytest.approx(120)


def test_dialer_figures_without_a_denominator_are_none() -> None:
    assert talk_minutes_per_agent_hour(30, 0) is None
    assert talk_minutes_per_agent_hour(1800, 7200) == pytest.approx(15)  # 30 min / 2 h
    assert wait_between_calls_s(40, 0) is None
    assert wait_between_calls_s(40, 4) == 10
    assert lines_per_ready_agent(3, 0) is None
    assert lines_per_ready_agent(5, 2) == 2.5


# ------------------------------------------------------------------------ intervals


def _interval_events() -> list[Event]:
    return [
        _queued("a", 100),
        _queued("b", 800),
        ContactAnswered(ts=899.9, contact_id="a", agent_id="A", queue_id="q", wait_s=799.9),
        ContactAnswered(ts=950, contact_id="b", agent_id="A", queue_id="q", wait_s=150),
        _queued("c", 1000),
        ContactAbandoned(ts=1900, contact_id="c", queue_id="q", wait_s=900),
        _agent_event(800, "A", "available", "idle"),
        _agent_event(1000, "A", "available", "on_contact"),
        _agent_event(1100, "A", "available", "idle"),
    ]


def test_fifteen_minute_interval_rows() -> None:
    fold = StatsFold([QueueConfig(id="q")], interval_s=900)
    evs = sorted(_interval_events(), key=lambda e: e.ts)
    fold.apply_all(evs)
    fold.flush_agents(1200)
    rows = fold.interval_rows("q")
    got = [(r["interval_start"], r["offered"], r["answered"], r["abandoned"]) for r in rows]
    # counts land where their event happened: the answer at 950 is in the 900 bucket
    assert got == [(0.0, 2, 1, 0), (900.0, 1, 1, 0), (1800.0, 0, 0, 1)]
    assert all(r["interval_s"] == 900 for r in rows)
    # agent time split at the 900 s boundary: idle 800-900 | idle 900-1000, talk 1000-1100,
    # idle 1100-1200
    assert fold.agent_intervals[0.0].available_s == pytest.approx(100)
    assert fold.agent_intervals[900.0].available_s == pytest.approx(200)
    assert fold.agent_intervals[900.0].handling_s == pytest.approx(100)
    assert rows[0]["occupancy"] == pytest.approx(0.0)
    assert rows[1]["occupancy"] == pytest.approx(100 / 300)


def test_thirty_minute_interval_rows() -> None:
    fold = StatsFold([QueueConfig(id="q")], interval_s=1800)
    fold.apply_all(sorted(_interval_events(), key=lambda e: e.ts))
    fold.flush_agents(2000)
    rows = fold.interval_rows()
    got = [(r["interval_start"], r["offered"], r["answered"], r["abandoned"]) for r in rows]
    assert got == [(0.0, 3, 2, 0), (1800.0, 0, 0, 1)]
    # idle 800-1000, talk 1000-1100, idle 1100-1800 | idle 1800-2000
    assert fold.agent_intervals[0.0].available_s == pytest.approx(900)
    assert fold.agent_intervals[0.0].handling_s == pytest.approx(100)
    assert fold.agent_intervals[1800.0].available_s == pytest.approx(200)


def test_interval_rows_of_several_queues_are_ordered_by_time_then_queue() -> None:
    fold = StatsFold([QueueConfig(id="a"), QueueConfig(id="b")])
    fold.apply_all([_queued("x", 1000, "b"), _queued("y", 10, "b"), _queued("z", 20, "a")])
    assert [(r["interval_start"], r["queue_id"]) for r in fold.interval_rows()] == [
        (0.0, "a"),
        (0.0, "b"),
        (900.0, "b"),
    ]
    assert [r["queue_id"] for r in fold.interval_rows("a")] == ["a"]


def test_interval_length_is_checked() -> None:
    with pytest.raises(ValueError):
        StatsFold(interval_s=600)


# ------------------------------------------------------------------------ definitions shown


def test_service_level_formula_text() -> None:
    assert describe_service_level(V.ALL_ABANDONS_FAIL, 20, 0) == (
        "answered within 20 s / (answered + abandoned)"
    )
    assert describe_service_level(V.ANSWERED_ONLY, 30, 0) == "answered within 30 s / answered"
    assert describe_service_level(V.ABANDONS_WITHIN_T_EXCLUDED, 20, 0) == (
        "answered within 20 s / (answered + abandoned - abandoned within 20 s)"
    )
    assert describe_service_level(V.ABANDONS_WITHIN_T_MET, 15, 5) == (
        "(answered within 15 s + abandoned within 15 s) / (answered + abandoned); "
        "abandons under 5 s are not counted"
    )
    assert set(SL_FORMULAS) == set(V)


def test_snapshot_shows_every_queue_with_its_definition() -> None:
    queues = [QueueConfig(id="a"), QueueConfig(id="b", short_abandon_s=0)]
    fold = StatsFold(queues, variant=V.ANSWERED_ONLY)
    snap = fold.snapshot(0)
    assert [q["queue_id"] for q in snap["queues"]] == ["a", "b"]
    assert snap["queues"][0]["service_level"] is None
    assert snap["queues"][0]["service_level_formula"] == (
        "answered within 20 s / answered; abandons under 5 s are not counted"
    )
    assert snap["queues"][1]["service_level_formula"] == "answered within 20 s / answered"
    assert snap["occupancy"] is None
