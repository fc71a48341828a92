"""Pacing modes, the predictive controller's estimates, feedback and fall-backs."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from routing.compliance import AbandonLedger, DialOutcome
from routing.pacing import (
    AgentReady,
    AgentWrapUp,
    CallAbandoned,
    CallConnected,
    DialPlaced,
    DialResult,
    Pacer,
    PacingConfig,
    PacingMode,
    PredictiveParams,
)


def pacer(mode: PacingMode, **kw: object) -> Pacer:
    return Pacer(PacingConfig.model_validate({"mode": mode, **kw}))


class FakeLedger:
    def __init__(self, headroom: float) -> None:
        self.value = headroom

    def headroom(self, now: float) -> float:
        return self.value


def test_preview_never_dials() -> None:
    assert pacer(PacingMode.PREVIEW).dials_wanted(0.0, 10, 0, 0) == 0


def test_progressive_is_one_line_per_ready_agent() -> None:
    p = pacer(PacingMode.PROGRESSIVE)
    assert p.dials_wanted(0.0, 5, 3, 0) == 5
    assert p.dials_wanted(0.0, 5, 3, 2) == 3
    assert p.dials_wanted(0.0, 2, 3, 4) == 0
    # An answered call waiting for an agent holds its agent as a line does.
    p.dial_placed("L1", 0.0)
    p.dial_result("L1", DialOutcome.LIVE, 9.0)
    assert p.dials_wanted(9.0, 5, 3, 0) == 4


@pytest.mark.parametrize(
    ("ratio", "ready", "lines", "expected"),
    [
        (2.0, 5, 0, 10),
        (2.0, 5, 7, 3),
        (2.5, 3, 0, 8),  # ceil(7.5)
        (0.5, 4, 0, 2),  # below 1: fewer lines than ready agents...
        (0.5, 1, 0, 1),  # ...but a lone ready agent still gets a line
        (0.5, 4, 2, 0),
        (3.0, 0, 0, 0),  # nobody ready: power mode waits
    ],
)
def test_power_ratio(ratio: float, ready: int, lines: int, expected: int) -> None:
    assert pacer(PacingMode.POWER, ratio=ratio).dials_wanted(0.0, ready, 4, lines) == expected


def test_trunk_limit_caps_every_mode() -> None:
    p = pacer(PacingMode.POWER, ratio=3.0, max_lines=10)
    assert p.dials_wanted(0.0, 5, 0, 4) == 6
    assert p.dials_wanted(0.0, 5, 0, 12) == 0


def test_config_validation() -> None:
    with pytest.raises(ValidationError):
        PacingConfig(ratio=0)
    with pytest.raises(ValidationError):
        PredictiveParams(target_abandon_rate=0.05)
    with pytest.raises(ValidationError, match="tau_min"):
        PredictiveParams(tau_min=0.1, tau_max=0.01)
    with pytest.raises(ValidationError, match="brake_hard"):
        PredictiveParams(brake_soft=1, brake_hard=2)
    for bad in [(), (0.5, 0.25), (0.0, 1.0), (0.5, 1.5)]:
        with pytest.raises(ValidationError, match="checkpoints"):
            PredictiveParams(checkpoints=bad)


# --------------------------------------------------------------------------- predictive


def warm(p: Pacer, now: float, p_live: float, n: int = 200, start: int = 0) -> float:
    """Feed n dial outcomes, one a second (a share p_live live after 10 s, connected to an
    agent who talks 120 s and wraps up 15 s; the others no answer after 20 s); returns the
    time reached."""
    acc = 0.0
    for i in range(start, start + n):
        line = f"W{i}"
        p.dial_placed(line, now)
        acc += p_live
        now += 1.0
        if acc >= 1.0:
            acc -= 1.0
            p.dial_result(line, DialOutcome.LIVE, now + 9.0)
            agent = f"h{i}"
            p.connected(line, agent, now + 9.0)
            p.agent_wrapup(agent, now + 129.0)
            p.agent_ready(agent, now + 144.0)
        else:
            p.dial_result(line, DialOutcome.NO_ANSWER, now + 19.0)
    return now + 150.0


def predictive(**params: object) -> Pacer:
    return Pacer(
        PacingConfig(mode=PacingMode.PREDICTIVE, predictive=PredictiveParams.model_validate(params))
    )


def test_predictive_falls_back_to_progressive_on_small_teams_and_while_warming_up() -> None:
    p = predictive(min_agents=8)
    assert p.dials_wanted(0.0, 10, 0, 0) == 10
    assert p.last.basis == "progressive: warming up"
    now = warm(p, 0.0, 0.25)
    assert p.dials_wanted(now, 4, 3, 0) == 4
    assert p.last.basis == "progressive: small team"


def test_predictive_dials_ahead_of_ready_agents_and_holds_back_when_nobody_frees() -> None:
    p = predictive()
    now = warm(p, 0.0, 0.25)
    n = p.dials_wanted(now, 10, 15, 0)
    assert p.last.basis == "predictive"
    assert 10 < n <= 60, "10 ready agents at 25% live answers: more than one line each"
    # Everyone just started talking (2-minute calls): nobody frees within the horizon.
    q = predictive()
    now = warm(q, 0.0, 0.25)
    for i in range(25):
        q.connected(f"x{i}", f"a{i}", now)
    assert q.dials_wanted(now + 1.0, 0, 25, 0) == 0


def test_predictive_dials_more_when_fewer_calls_are_answered() -> None:
    hi, lo = predictive(), predictive()
    t_hi, t_lo = warm(hi, 0.0, 0.30), warm(lo, 0.0, 0.10)
    assert lo.dials_wanted(t_lo, 10, 15, 0) > hi.dials_wanted(t_hi, 10, 15, 0)


def test_ringing_lines_count_less_as_they_age() -> None:
    p = predictive()
    now = warm(p, 0.0, 0.25)
    for i in range(12):
        p.dial_placed(f"R{i}", now)
    fresh = p.dials_wanted(now + 0.1, 6, 19, 12)
    q = predictive()
    now_q = warm(q, 0.0, 0.25)
    for i in range(12):
        q.dial_placed(f"R{i}", now_q - 15.0)  # past every live answer seen (10 s)
    stale = q.dials_wanted(now_q + 0.1, 6, 19, 12)
    assert stale > fresh


def test_live_rate_estimate_follows_an_abrupt_change_within_the_window() -> None:
    p = predictive(window_s=300.0)
    now = warm(p, 0.0, 0.25, n=600)
    assert p.estimates(now)["p_live"] == pytest.approx(0.25, abs=0.01)
    now = warm(p, now, 0.12, n=600, start=600)
    # 600 outcomes at one a second: the 25% ones are all older than the window now.
    assert p.estimates(now)["p_live"] == pytest.approx(0.12, abs=0.01)


def test_feedback_lowers_tau_on_abandons_and_raises_it_on_connects() -> None:
    p = predictive(tau_initial=0.002, gain=0.1)
    now = warm(p, 0.0, 0.25)
    p.dials_wanted(now, 10, 15, 0)  # a predictive decision: the feedback is live
    t0 = p.tau
    p.dial_placed("A", now)
    p.dial_result("A", DialOutcome.LIVE, now + 10)
    p.abandoned("A", now + 12)
    assert p.tau == pytest.approx(t0 * math.exp(-0.1))
    for i in range(100):
        p.connected(f"C{i}", f"c{i}", now + 20)
    assert p.tau > t0
    # Clamped.
    for i in range(1000):
        p.abandoned(f"Z{i}", now + 30)
    assert p.tau == pytest.approx(p.config.predictive.tau_min)


def test_ledger_brake_turns_predictive_into_progressive() -> None:
    cfg = PacingConfig(mode=PacingMode.PREDICTIVE)
    free = Pacer(cfg, ledger=FakeLedger(100.0))
    braked = Pacer(cfg, ledger=FakeLedger(0.5))
    half = Pacer(cfg, ledger=FakeLedger(2.5))
    outs = []
    for p in (free, braked, half):
        now = warm(p, 0.0, 0.25)
        outs.append(p.dials_wanted(now, 10, 15, 0))
    assert braked.last.basis == "progressive: ledger brake"
    assert outs[1] == 10
    assert outs[0] >= outs[2] >= outs[1]
    assert outs[0] > outs[1]


def test_real_ledger_headroom_drives_the_brake() -> None:
    led = AbandonLedger(start=0.0)
    p = Pacer(PacingConfig(mode=PacingMode.PREDICTIVE), ledger=led)
    now = warm(p, 0.0, 0.25)
    assert p.dials_wanted(now, 10, 15, 0) == 10  # no lives yet: no headroom
    for _ in range(400):
        led.record_live(now)
    assert p.dials_wanted(now + 5, 10, 15, 0) > 10  # 12 abandons of room
    for _ in range(11):
        led.record_abandon(now)
    assert p.dials_wanted(now + 10, 10, 15, 0) == 10


def test_on_event_is_the_same_as_the_methods() -> None:
    a, b = predictive(), predictive()
    ta, tb = warm(a, 0.0, 0.25), warm(b, 0.0, 0.25)
    assert ta == tb
    a.dial_placed("L", ta)
    a.dial_result("L", DialOutcome.LIVE, ta + 9)
    a.connected("L", "ag", ta + 9.5)
    a.agent_wrapup("ag", ta + 100)
    a.agent_ready("ag", ta + 115)
    a.dial_placed("M", ta + 116)
    a.dial_result("M", DialOutcome.LIVE, ta + 126)
    a.abandoned("M", ta + 128)
    for ev, t in [
        (DialPlaced(line_id="L"), ta),
        (DialResult(line_id="L", outcome=DialOutcome.LIVE), ta + 9),
        (CallConnected(line_id="L", agent_id="ag"), ta + 9.5),
        (AgentWrapUp(agent_id="ag"), ta + 100),
        (AgentReady(agent_id="ag"), ta + 115),
        (DialPlaced(line_id="M"), ta + 116),
        (DialResult(line_id="M", outcome=DialOutcome.LIVE), ta + 126),
        (CallAbandoned(line_id="M"), ta + 128),
    ]:
        b.on_event(ev, t)
    assert a.estimates(ta + 130) == b.estimates(ta + 130)
    assert a.dials_wanted(ta + 130, 8, 12, 3) == b.dials_wanted(ta + 130, 8, 12, 3)


@settings(max_examples=60, deadline=None)
@given(
    ready=st.integers(0, 40),
    busy=st.integers(0, 40),
    lines=st.integers(0, 80),
    p_live=st.floats(0.05, 0.6),
    mode=st.sampled_from(list(PacingMode)),
    max_lines=st.one_of(st.none(), st.integers(1, 100)),
)
def test_never_below_progressive_nor_over_the_trunk_limit(
    ready: int, busy: int, lines: int, p_live: float, mode: PacingMode, max_lines: int | None
) -> None:
    p = Pacer(PacingConfig(mode=mode, ratio=1.7, max_lines=max_lines))
    now = warm(p, 0.0, p_live, n=80)
    n = p.dials_wanted(now, ready, busy, lines)
    assert n >= 0
    if max_lines is not None:
        assert n <= max(0, max_lines - lines)
    if mode is not PacingMode.PREVIEW and max_lines is None:
        assert n >= ready - lines
    # Deterministic: the same history and question, the same answer.
    q = Pacer(PacingConfig(mode=mode, ratio=1.7, max_lines=max_lines))
    assert q.dials_wanted(warm(q, 0.0, p_live, n=80), ready, busy, lines) == n
