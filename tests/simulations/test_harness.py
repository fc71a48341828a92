"""The harness drives the real routing engine: strategies, steps, shifts, chat capacity,
patience, timers and reproducibility all show up in what the simulation measures."""

from __future__ import annotations

from typing import Any

import pytest

from routing.model import ContactState
from simulations.harness import Simulation, run_replication
from simulations.replications import run_replications
from simulations.scenario import Scenario, parse_scenario


def scenario(**changes: Any) -> Scenario:
    data: dict[str, Any] = {
        "duration": "4h",
        "queues": [
            {
                "name": "sales",
                "arrival_rate_per_hour": 300,
                "handle_time": {"dist": "exponential", "mean_s": 240},
                "patience": {"dist": "exponential", "mean_s": 120},
            }
        ],
        "agents": [{"count": 24, "skills": {"sales": 5}}],
    }
    data.update(changes)
    return parse_scenario(data)


def queue(**changes: Any) -> dict[str, Any]:
    q: dict[str, Any] = {
        "name": "sales",
        "arrival_rate_per_hour": 300,
        "handle_time": {"dist": "exponential", "mean_s": 240},
    }
    q.update(changes)
    return q


def run(s: Scenario, replication: int = 0) -> Simulation:
    sim = Simulation(s, replication)
    sim.result = sim.run()  # type: ignore[attr-defined]
    return sim


def test_counts_balance_and_engine_stays_consistent() -> None:
    sim = run(scenario())
    r = sim.result  # type: ignore[attr-defined]
    q = r.queues["sales"]
    waiting = sum(1 for c in sim.engine.contacts() if c.state == ContactState.QUEUED.value)
    assert q["offered"] > 1000
    assert q["answered"] + q["abandoned"] + q["short_abandoned"] + waiting <= q["offered"]
    assert q["offered"] - (q["answered"] + q["abandoned"] + q["short_abandoned"]) < 40
    assert 0 < q["service_level"] <= 1 and q["asa_s"] >= 0
    assert q["wait_p50_s"] <= q["wait_p90_s"] <= q["wait_p95_s"] <= q["longest_wait_s"]
    assert r.arrivals == q["offered"]
    sim.engine.check_invariants()


def test_timers_do_not_outlive_their_contacts() -> None:
    sim = run(scenario(answer_delay={"dist": "constant", "mean_s": 2}))
    live = {c.id for c in sim.engine.contacts()}
    scheduled = [key for key, ev in sim._timers.items() if ev is not None]
    assert all(key[1] in live for key in scheduled)
    assert not sim._new_timers


def test_offers_answered_at_once_never_schedule_their_timer() -> None:
    sim = Simulation(scenario(), 0)
    scheduled: list[Any] = []
    original = sim._schedule

    def spy(ev: Any, priority: int, delay: float) -> None:
        scheduled.append(ev)
        original(ev, priority, delay)

    sim._schedule = spy  # type: ignore[method-assign]
    sim.run()
    assert not any(ev.callbacks == sim._cb_timer for ev in scheduled if hasattr(ev, "a"))


def test_without_patience_nobody_abandons() -> None:
    s = scenario(queues=[queue()])
    q = run_replication(s).queues["sales"]
    assert q["abandoned"] == 0 and q["short_abandoned"] == 0 and q["abandon_rate"] == 0


def test_deterministic_for_a_seed_and_different_across_replications() -> None:
    s = scenario()
    a, b, c = run_replication(s, 0), run_replication(s, 0), run_replication(s, 1)
    assert a.queues == b.queues
    assert a.queues != c.queues


def test_common_random_numbers_across_scenarios() -> None:
    """More agents, same callers: the arrivals and their handle times do not change."""
    lean, rich = scenario(), scenario(agents=[{"count": 30, "skills": {"sales": 5}}])
    a, b = Simulation(lean, 3), Simulation(rich, 3)
    assert a._queues[0].times == b._queues[0].times
    assert a._queues[0].handle == b._queues[0].handle
    ra, rb = a.run(), b.run()
    assert ra.queues["sales"]["offered"] == rb.queues["sales"]["offered"]
    assert rb.queues["sales"]["service_level"] > ra.queues["sales"]["service_level"]


def two_skill_levels(strategy: str) -> Scenario:
    return scenario(
        strategy=strategy,
        duration="6h",
        queues=[queue(arrival_rate_per_hour=180)],
        agents=[
            {"name": "experts", "count": 10, "skills": {"sales": 9}},
            {"name": "juniors", "count": 10, "skills": {"sales": 2}},
        ],
    )


def test_strategy_changes_who_takes_the_calls() -> None:
    """At 60% load the routing strategy decides who is busy: most_skilled feeds the experts
    first, longest_idle shares the calls out evenly."""
    skilled = run_replication(two_skill_levels("most_skilled")).groups
    idle = run_replication(two_skill_levels("longest_idle")).groups
    experts, juniors = skilled["experts"]["handled"], skilled["juniors"]["handled"]
    assert experts > 2 * juniors
    assert idle["experts"]["handled"] == pytest.approx(idle["juniors"]["handled"], rel=0.15)
    assert skilled["experts"]["occupancy"] > idle["experts"]["occupancy"] + 0.15


def test_escalation_steps_widen_to_more_agents_after_their_timeout() -> None:
    busy_queue = queue(
        arrival_rate_per_hour=200,
        skills={"sales": 8},
        patience={"dist": "exponential", "mean_s": 300},
    )
    agents = [
        {"name": "experts", "count": 12, "skills": {"sales": 9}},
        {"name": "juniors", "count": 6, "skills": {"sales": 3}},
    ]
    plain = run_replication(scenario(queues=[busy_queue], agents=agents))
    stepped = run_replication(
        scenario(
            queues=[
                {
                    **busy_queue,
                    "steps": [
                        {"name": "experts", "timeout_s": 10},
                        {"name": "anyone", "min_proficiency_delta": -6},
                    ],
                }
            ],
            agents=agents,
        )
    )
    assert plain.groups["juniors"]["handled"] == 0
    assert stepped.groups["juniors"]["handled"] > 50
    assert stepped.queues["sales"]["service_level"] > plain.queues["sales"]["service_level"]


def test_max_wait_flows_contacts_out_without_stale_abandons() -> None:
    s = scenario(
        queues=[
            queue(
                arrival_rate_per_hour=400,
                patience={"dist": "exponential", "mean_s": 600},
                max_wait={"seconds": 30, "action": "flow_out", "target": "voicemail"},
            )
        ],
        agents=[{"count": 25, "skills": {"sales": 5}}],
    )
    sim = run(s)
    q = sim.result.queues["sales"]  # type: ignore[attr-defined]
    assert q["flowed_out"] > 20
    assert q["longest_wait_s"] <= 30
    sim.engine.check_invariants()


def test_shifts_and_breaks_change_staffing_by_interval() -> None:
    s = scenario(
        duration="3h",
        queues=[queue(arrival_rate_per_hour=60)],
        agents=[
            {
                "name": "day",
                "count": 10,
                "skills": {"sales": 5},
                "shift": {"start": "0h", "end": "2h"},
                "breaks": [{"start": "30m", "duration": "15m"}],
            },
            {
                "name": "late",
                "count": 4,
                "skills": {"sales": 5},
                "shift": {"start": "1h", "end": "3h"},
            },
        ],
    )
    rows = {row["interval_start"]: row for row in run_replication(s).intervals}
    staffed = {start / 60: round(row["staffed"], 1) for start, row in rows.items()}
    assert staffed[0] == pytest.approx(10, abs=0.1)
    assert staffed[30] < 9.0  # the whole group takes its break together
    assert staffed[60] == pytest.approx(14, abs=0.5)
    assert staffed[150] == pytest.approx(4, abs=0.5)  # the day shift has gone home


def test_chat_capacity_lets_an_agent_hold_several_chats() -> None:
    chat = queue(
        channel="chat",
        arrival_rate_per_hour=120,
        handle_time={"dist": "exponential", "mean_s": 600},
        patience={"dist": "exponential", "mean_s": 300},
    )
    single = run_replication(
        scenario(
            queues=[chat], agents=[{"count": 8, "skills": {"sales": 5}, "capacity": {"chat": 1}}]
        )
    )
    triple = run_replication(
        scenario(
            queues=[chat], agents=[{"count": 8, "skills": {"sales": 5}, "capacity": {"chat": 3}}]
        )
    )
    # 20 Erlangs of chat: 8 agents with one chat each drown, with three each they cope
    assert single.queues["sales"]["abandon_rate"] > 0.3
    assert triple.queues["sales"]["service_level"] > 0.8
    assert triple.queues["sales"]["abandon_rate"] < 0.05


def test_answer_delay_adds_to_every_wait() -> None:
    s = scenario(
        queues=[queue(arrival_rate_per_hour=60)], answer_delay={"dist": "constant", "mean_s": 3}
    )
    q = run_replication(s).queues["sales"]
    assert q["wait_p50_s"] == pytest.approx(3.0)
    assert q["asa_s"] >= 3.0


def test_slow_answers_miss_offers_and_agents_recover() -> None:
    s = scenario(
        queues=[queue(arrival_rate_per_hour=150, offer_timeout_s=4)],
        answer_delay={"dist": "exponential", "mean_s": 2},
    )
    sim = run(s)
    q = sim.result.queues["sales"]  # type: ignore[attr-defined]
    assert q["missed_offers"] > 5
    assert q["answered"] > 0.95 * q["offered"]
    assert all(a.activity != "not_responding" for a in sim.engine.agents())


def test_wrap_up_counts_in_handle_time_and_occupancy() -> None:
    base = run_replication(scenario())
    wrapped = run_replication(scenario(queues=[queue(wrap_up={"dist": "constant", "mean_s": 30})]))
    assert wrapped.queues["sales"]["aht_s"] == pytest.approx(
        base.queues["sales"]["aht_s"] + 30, rel=0.05
    )
    assert wrapped.occupancy > base.occupancy


def test_forecast_aht_scales_handle_times() -> None:
    s = scenario(
        duration=None,
        queues=[
            queue(
                arrival_rate_per_hour=None,
                forecast=[
                    {"interval_start": 0, "arrivals": 60, "aht_s": 120},
                    {"interval_start": 900, "arrivals": 60, "aht_s": 480},
                ],
            )
        ],
        agents=[{"count": 40, "skills": {"sales": 5}}],
    )
    sim = Simulation(s, 0)
    q = sim._queues[0]
    early = [h for t, h in zip(q.times, q.handle, strict=True) if t < 900]
    late = [h for t, h in zip(q.times, q.handle, strict=True) if t >= 900]
    assert sum(late) / len(late) > 2.5 * sum(early) / len(early)


def test_warmup_is_left_out_of_the_statistics() -> None:
    s = scenario(warmup="1h")
    r = run_replication(s)
    assert min(row["interval_start"] for row in r.intervals) == 3600
    assert sum(row["offered"] for row in r.intervals) == r.queues["sales"]["offered"]
    assert r.queues["sales"]["offered"] < 0.8 * r.arrivals


def test_multi_skill_scenario_runs_and_reports_every_queue() -> None:
    s = scenario(
        queues=[
            queue(name="sales", arrival_rate_per_hour=150),
            queue(
                name="support",
                arrival_rate_per_hour=100,
                handle_time={"dist": "gamma", "mean_s": 300, "cv": 0.7},
            ),
        ],
        agents=[
            {"name": "sales", "count": 8, "skills": {"sales": 8}},
            {"name": "support", "count": 7, "skills": {"support": 8}},
            {"name": "both", "count": 4, "skills": {"sales": 4, "support": 4}},
        ],
    )
    sim = run(s)
    r = sim.result  # type: ignore[attr-defined]
    assert set(r.queues) == {"sales", "support"}
    assert all(r.groups[g]["handled"] > 0 for g in ("sales", "support", "both"))
    sim.engine.check_invariants()


def test_replications_do_not_depend_on_worker_count() -> None:
    s = scenario(duration="1h")
    serial = run_replications(s, 3, seed=11, workers=1)
    parallel = run_replications(s, 3, seed=11, workers=2)
    assert [r.queues for r in serial.results] == [r.queues for r in parallel.results]
    assert serial.queues["sales"]["service_level"] == parallel.queues["sales"]["service_level"]


def _busy_scenario(duration: str) -> Scenario:
    """Every feature that makes events of its own: patience, wrap-up, answer delay with
    offer timeouts, shifts and breaks, a chat queue with capacity, warm-up."""
    return scenario(
        duration=duration,
        warmup="15m",
        answer_delay={"dist": "exponential", "mean_s": 4},
        queues=[
            queue(
                arrival_rate_per_hour=400,
                patience={"dist": "exponential", "mean_s": 60},
                wrap_up={"dist": "exponential", "mean_s": 20},
            ),
            queue(name="chat", channel="chat", arrival_rate_per_hour=60),
        ],
        agents=[
            {
                "name": "day",
                "count": 20,
                "skills": {"sales": 5},
                "shift": {"start": "0h", "end": "2h"},
                "breaks": [{"start": "30m", "duration": "15m", "stagger": "20m"}],
            },
            {"name": "chat", "count": 4, "skills": {"chat": 5}, "capacity": {"chat": 3}},
        ],
    )


def test_a_run_leaves_no_reference_cycles_behind() -> None:
    """The harness pauses the cycle collector while SimPy runs; that is only sound if the
    run makes no cyclic garbage, or at least none that grows with the contacts."""
    import gc

    found = []
    for duration in ("2h", "2h", "6h"):  # the first also pays for lazy imports
        sim = Simulation(_busy_scenario(duration), 0)
        gc.collect()
        sim.run()
        assert gc.isenabled()  # restored after the run
        found.append(gc.collect())
    assert found[2] <= found[1] + 50


def test_batched_fold_equals_the_fold_one_event_at_a_time() -> None:
    """The harness folds engine events in batches; the figures are those of folding each
    event as it happens (routing.stats.StatsFold.apply)."""
    from routing.stats import StatsFold

    sim = Simulation(_busy_scenario("3h"), 1)
    events: list[Any] = []
    keep = sim._fold_later

    def tee(batch: Any) -> None:
        events.extend(batch)
        keep(batch)

    sim._fold_later = tee  # type: ignore[method-assign]
    sim.run()
    one = StatsFold(
        sim.engine.config.queues,
        interval_s=sim.fold.interval_s,
        variant=sim.fold.variant,
        keep_wait_samples=True,
    )
    for event in events:
        one.apply(event)
    one.flush_agents(sim.scenario.horizon_s)
    assert one.totals == sim.fold.totals
    assert one.intervals == sim.fold.intervals
    assert one.agent_time == sim.fold.agent_time
    assert one.agent_intervals == sim.fold.agent_intervals
    assert one.waiting == sim.fold.waiting
    assert one.events_seen == sim.fold.events_seen
