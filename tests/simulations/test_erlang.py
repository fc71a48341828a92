"""Erlang B / C / A formulas: published values, independent computations, limits, stability."""

from __future__ import annotations

import math
import time
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import expm

from simulations.erlang import (
    ErlangAResult,
    UnstableQueueError,
    erlang_a_metrics,
    erlang_b,
    erlang_b_sequence,
    erlang_c,
    erlang_c_metrics,
    offered_load,
)

# --------------------------------------------------------------------------- Erlang B


def exact_erlang_b(agents: int, load: Fraction) -> Fraction:
    """B = (A^n / n!) / sum_{i<=n} A^i / i!, in exact rational arithmetic."""
    terms = [load**i / math.factorial(i) for i in range(agents + 1)]
    return terms[-1] / sum(terms)


@pytest.mark.parametrize(
    ("agents", "load"),
    [
        (0, Fraction(3)),
        (1, Fraction(1, 2)),
        (2, Fraction(2)),
        (5, Fraction(7, 3)),
        (10, Fraction(10)),
        (12, Fraction(37, 4)),
        (30, Fraction(45, 2)),
        (40, Fraction(55)),
    ],
)
def test_erlang_b_matches_exact_rational_arithmetic(agents: int, load: Fraction) -> None:
    expected = float(exact_erlang_b(agents, load))
    assert erlang_b(agents, float(load)) == pytest.approx(expected, rel=1e-13)


def test_erlang_b_classic_values() -> None:
    # B(A=10, n=10) = 0.21458 (classic Erlang B table value; also exact_erlang_b above)
    assert erlang_b(10, 10.0) == pytest.approx(0.2145823431, abs=1e-9)
    assert round(erlang_b(10, 10.0), 5) == 0.21458
    # B(A=2, n=2) = (2^2/2) / (1 + 2 + 2) = 2/5, worked by hand
    assert erlang_b(2, 2.0) == pytest.approx(0.4, abs=1e-15)


@pytest.mark.parametrize(
    ("agents", "load"),
    # Erlang B table, 1% grade of service: carried load in Erlangs for n lines
    # (standard published tables, loads printed to 3 decimals -> B within ~1e-5 of 0.01)
    [(10, 4.461), (20, 12.031), (50, 37.901), (100, 84.064)],
)
def test_erlang_b_one_percent_table(agents: int, load: float) -> None:
    assert erlang_b(agents, load) == pytest.approx(0.01, abs=2e-5)


def test_erlang_b_edge_cases() -> None:
    assert erlang_b(0, 5.0) == 1.0
    assert erlang_b(3, 0.0) == 0.0
    assert erlang_b(0, 0.0) == 1.0
    # far more agents than load: underflows gracefully to 0, never NaN
    assert erlang_b(5000, 1.0) == 0.0
    with pytest.raises(ValueError, match="load"):
        erlang_b(3, -1.0)
    with pytest.raises(ValueError, match="agents"):
        erlang_b(-1, 1.0)
    with pytest.raises(TypeError, match="agents"):
        erlang_b(2.5, 1.0)  # type: ignore[arg-type]


@pytest.mark.parametrize("load", [1500.0, 2000.0, 4990.0, 9900.0])
@pytest.mark.parametrize("offset", [0, 1, 7, 60, 400])
def test_erlang_b_shortcut_start_matches_full_recursion(load: float, offset: int) -> None:
    # large loads start the recursion part-way; it must agree with the full recursion
    agents = math.ceil(load) + offset
    full = erlang_b_sequence(agents, load)[-1]
    assert erlang_b(agents, load) == pytest.approx(full, rel=1e-13)


def test_erlang_b_sequence_matches_pointwise() -> None:
    values = erlang_b_sequence(30, 12.5)
    assert len(values) == 31
    for n, value in enumerate(values):
        assert value == pytest.approx(float(exact_erlang_b(n, Fraction(25, 2))), rel=1e-13)


# --------------------------------------------------------------------------- Erlang C


def test_erlang_c_worked_example() -> None:
    # CRAN ErlangC README (erlang_c(100 calls, 30 min, 180 s AHT, 20 s, 14 agents)) and the
    # pyworkforce README (ErlangC(transactions=100, aht=3, interval=30, asa=20/60)):
    # wait 0.1741319, SL 0.88835, ASA 7.83593701177724 s, occupancy 0.7142857.
    result = erlang_c_metrics(100, 180, 14, 20, interval_s=1800)
    assert result.load == pytest.approx(10.0, abs=1e-12)
    assert result.p_wait == pytest.approx(0.1741319, abs=1e-6)
    assert round(result.p_wait, 7) == 0.1741319
    assert round(result.service_level, 5) == 0.88835
    assert result.service_level == pytest.approx(0.88835, abs=1e-6)
    assert result.asa == pytest.approx(7.83593701177724, abs=1e-9)
    assert round(result.asa, 3) == 7.836
    assert result.occupancy == pytest.approx(0.7142857, abs=1e-6)
    assert round(result.occupancy, 3) == 0.714
    # pyworkforce README prints the unrounded values
    assert result.p_wait == pytest.approx(0.1741319335950498, rel=1e-12)
    assert result.service_level == pytest.approx(0.8883500191794669, rel=1e-12)


def test_erlang_c_worked_example_other_staffing_levels() -> None:
    # CRAN ErlangC README, calculate_agents $process table, first row (11 agents):
    # wait probability 0.6821182, service level 0.3896138
    result = erlang_c_metrics(100, 180, 11, 20, interval_s=1800)
    assert result.p_wait == pytest.approx(0.6821182, abs=1e-6)
    assert result.service_level == pytest.approx(0.3896138, abs=1e-6)


def exact_erlang_c(agents: int, load: Fraction) -> Fraction:
    top = load**agents / math.factorial(agents) * agents / (agents - load)
    return top / (sum(load**i / math.factorial(i) for i in range(agents)) + top)


@pytest.mark.parametrize(
    ("agents", "load"),
    [(1, Fraction(1, 2)), (3, Fraction(5, 2)), (14, Fraction(10)), (25, Fraction(99, 4))],
)
def test_erlang_c_matches_exact_rational_arithmetic(agents: int, load: Fraction) -> None:
    assert erlang_c(agents, float(load)) == pytest.approx(
        float(exact_erlang_c(agents, load)), rel=1e-13
    )


@pytest.mark.parametrize(("agents", "load"), [(10, 10.0), (10, 10.5), (1, 3.0), (5000, 5000.0)])
def test_erlang_c_unstable_raises_typed_error(agents: int, load: float) -> None:
    with pytest.raises(UnstableQueueError) as caught:
        erlang_c(agents, load)
    assert isinstance(caught.value, ValueError)
    message = str(caught.value)
    assert f"{load:g} Erlangs" in message
    assert f"more than {agents} agents" in message
    with pytest.raises(UnstableQueueError):
        erlang_c_metrics(load / 100.0, 100.0, agents, 20.0)


def test_erlang_c_large_and_near_saturation_is_finite() -> None:
    # n = 5000, A = 4990: heavy but stable
    result = erlang_c_metrics(4990 / 180, 180, 5000, 20)
    assert 0.0 < result.p_wait < 1.0
    assert 0.0 < result.service_level < 1.0
    assert math.isfinite(result.asa) and result.asa > 0.0
    assert result.occupancy == pytest.approx(0.998)
    big = erlang_c_metrics(9990 / 180, 180, 10000, 20)
    assert 0.0 < big.p_wait < 1.0 and math.isfinite(big.asa)
    # many idle agents: P(wait) underflows to 0 and SL is 1
    idle = erlang_c_metrics(1 / 180, 180, 3000, 20)
    assert idle.p_wait == 0.0 and idle.service_level == 1.0


def test_erlang_c_zero_traffic_and_units() -> None:
    assert erlang_c(3, 0.0) == 0.0
    result = erlang_c_metrics(0.0, 180, 3, 20)
    assert (result.p_wait, result.service_level, result.asa, result.occupancy) == (0, 1, 0, 0)
    # a rate per interval equals the same rate per second
    per_interval = erlang_c_metrics(100, 180, 14, 20, interval_s=1800)
    per_second = erlang_c_metrics(100 / 1800, 180, 14, 20)
    assert per_interval.service_level == pytest.approx(per_second.service_level, rel=1e-14)
    assert offered_load(100, 180, interval_s=1800) == pytest.approx(10.0)


@settings(max_examples=60, deadline=None)
@given(
    load=st.floats(0.1, 300.0),
    aht=st.floats(10.0, 900.0),
    threshold=st.floats(0.0, 120.0),
)
def test_erlang_c_service_level_increases_with_agents(
    load: float, aht: float, threshold: float
) -> None:
    rate = load / aht
    first = math.floor(load) + 1
    previous = erlang_c_metrics(rate, aht, first, threshold)
    for agents in range(first + 1, first + 12):
        current = erlang_c_metrics(rate, aht, agents, threshold)
        assert current.service_level >= previous.service_level - 1e-12
        assert current.asa <= previous.asa * (1 + 1e-12)
        previous = current


# --------------------------------------------------------------------------- Erlang A


def reference_erlang_a(
    rate: float, aht: float, agents: int, threshold: float, patience: float, extra: int
) -> dict[str, float]:
    """Brute force: stationary law of the truncated birth-death chain by linear algebra,
    and the tagged caller's race by the matrix exponential of its absorbing chain."""
    mu, theta = 1.0 / aht, 1.0 / patience
    size = agents + extra + 1
    generator = np.zeros((size, size))
    for i in range(size):
        if i + 1 < size:
            generator[i, i + 1] = rate
        if i > 0:
            generator[i, i - 1] = min(i, agents) * mu + max(i - agents, 0) * theta
        generator[i, i] = -generator[i].sum()
    system = np.vstack([generator.T, np.ones(size)])
    rhs = np.zeros(size + 1)
    rhs[-1] = 1.0
    pi = np.linalg.lstsq(system, rhs, rcond=None)[0]
    waiting = pi[agents:]  # caller finds k = 0..extra callers ahead (PASTA)

    # tagged caller with m ahead: m -> m-1 (m = 0: -> served) at n mu + m theta, abandons at theta
    ahead = extra + 1
    served, abandoned = ahead, ahead + 1
    chain = np.zeros((ahead + 2, ahead + 2))
    for m in range(ahead):
        chain[m, m - 1 if m > 0 else served] = agents * mu + m * theta
        chain[m, abandoned] = theta
        chain[m, m] = -(agents * mu + (m + 1) * theta)
    at_threshold = expm(chain * threshold)
    transient = chain[:ahead, :ahead]
    occupation = np.linalg.inv(-transient)  # expected time in each transient state
    p_served = occupation @ chain[:ahead, served]
    wait_if_served = occupation @ p_served  # E[wait; served | start]
    wait_all = occupation @ np.ones(ahead)

    p_abandon = float(waiting @ (1.0 - p_served))
    answered_in_t = float(pi[:agents].sum() + waiting @ at_threshold[:ahead, served])
    return {
        "p_wait": float(waiting.sum()),
        "p_abandon": p_abandon,
        "service_level": answered_in_t,
        "p_abandon_within_threshold": float(waiting @ at_threshold[:ahead, abandoned]),
        "asa": float(waiting @ wait_if_served) / (1.0 - p_abandon),
        "mean_wait": float(waiting @ wait_all),
        "occupancy": rate * aht * (1.0 - p_abandon) / agents,
    }


@pytest.mark.parametrize(
    ("rate", "aht", "agents", "threshold", "patience"),
    [
        (100 / 1800, 180.0, 14, 20.0, 300.0),  # the worked example with abandonment
        (100 / 1800, 180.0, 8, 20.0, 300.0),  # understaffed: n < A
        (0.05, 240.0, 3, 30.0, 60.0),  # A = 12 on 3 agents, impatient callers
        (1 / 60, 300.0, 6, 0.0, 120.0),  # threshold 0
        (0.2, 30.0, 7, 10.0, 45.0),
        (0.02, 120.0, 1, 60.0, 600.0),  # single agent
    ],
)
def test_erlang_a_matches_brute_force_chain(
    rate: float, aht: float, agents: int, threshold: float, patience: float
) -> None:
    expected = reference_erlang_a(rate, aht, agents, threshold, patience, extra=160)
    result = erlang_a_metrics(rate, aht, agents, threshold, patience)
    for field, value in expected.items():
        assert getattr(result, field) == pytest.approx(value, rel=1e-9, abs=1e-13), field


def test_erlang_a_internal_identities() -> None:
    result = erlang_a_metrics(100, 180, 12, 20, 240, interval_s=1800)
    # balance: abandonment rate = theta x mean queue = theta x lambda x mean wait
    assert result.p_abandon == pytest.approx(result.mean_wait / 240, rel=1e-10)
    # variants of the service level (REFERENCE.md section 2)
    answered = 1 - result.p_abandon
    assert result.service_level_answered == pytest.approx(result.service_level / answered)
    assert result.service_level_excluding_threshold_abandons == pytest.approx(
        result.service_level / (1 - result.p_abandon_within_threshold)
    )
    assert result.service_level_threshold_abandons_met == pytest.approx(
        result.service_level + result.p_abandon_within_threshold
    )
    assert result.p_abandon_within_threshold <= result.p_abandon


def test_erlang_a_approaches_erlang_c_as_patience_grows() -> None:
    c = erlang_c_metrics(100, 180, 14, 20, interval_s=1800)
    for patience, tolerance in [(1e6, 1e-3), (1e9, 1e-6)]:
        a = erlang_a_metrics(100, 180, 14, 20, patience, interval_s=1800)
        assert a.p_wait == pytest.approx(c.p_wait, rel=tolerance)
        assert a.service_level == pytest.approx(c.service_level, rel=tolerance)
        assert a.asa == pytest.approx(c.asa, rel=tolerance)
        assert a.p_abandon < tolerance
    infinite = erlang_a_metrics(100, 180, 14, 20, math.inf, interval_s=1800)
    assert infinite.service_level == c.service_level and infinite.p_abandon == 0.0


def test_erlang_a_defined_below_the_load() -> None:
    for agents in (1, 5, 9, 10):
        result = erlang_a_metrics(100, 180, agents, 20, 120, interval_s=1800)
        assert 0.0 < result.p_abandon < 1.0
        assert 0.0 <= result.service_level <= 1.0
        assert math.isfinite(result.asa) and math.isfinite(result.mean_wait)
        assert 0.0 < result.occupancy <= 1.0
    # heavily overloaded: the served load is capped by the agents
    overloaded = erlang_a_metrics(1200 / 180, 180, 1000, 20, 600)
    assert overloaded.p_abandon == pytest.approx(1 / 6, rel=1e-9)
    assert overloaded.occupancy == pytest.approx(1.0, rel=1e-9)
    assert 0.0 <= overloaded.service_level < 1e-12


def test_erlang_a_large_near_saturation_is_finite_and_fast() -> None:
    # n = 5000 with A = 4990
    result = erlang_a_metrics(4990 / 180, 180, 5000, 20, 120)
    for value in (result.p_wait, result.p_abandon, result.service_level, result.asa):
        assert math.isfinite(value)
    assert 0.0 < result.p_abandon < 0.05 and 0.9 < result.service_level < 1.0
    start = time.perf_counter()
    erlang_a_metrics(950 / 180, 180, 1000, 20, 180)
    assert time.perf_counter() - start < 0.05  # target 5 ms; loose here against noisy CI


def test_erlang_a_idle_and_empty() -> None:
    idle = erlang_a_metrics(1 / 180, 180, 4000, 20, 60)
    assert idle.p_wait == 0.0 and idle.service_level == 1.0 and idle.p_abandon == 0.0
    empty = erlang_a_metrics(0.0, 180, 3, 20, 60)
    assert isinstance(empty, ErlangAResult) and empty.service_level == 1.0


def test_erlang_a_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="patience"):
        erlang_a_metrics(0.1, 180, 3, 20, 0.0)
    with pytest.raises(ValueError, match="agents"):
        erlang_a_metrics(0.1, 180, 0, 20, 60.0)
    with pytest.raises(ValueError, match="aht"):
        erlang_a_metrics(0.1, -1.0, 3, 20, 60.0)
    with pytest.raises(ValueError, match="threshold"):
        erlang_a_metrics(0.1, 180, 3, math.nan, 60.0)


@settings(max_examples=60, deadline=None)
@given(
    load=st.floats(0.2, 80.0),
    aht=st.floats(20.0, 600.0),
    patience=st.floats(5.0, 1200.0),
    threshold=st.floats(0.0, 120.0),
    start=st.integers(1, 90),
)
def test_erlang_a_monotone_in_agents(
    load: float, aht: float, patience: float, threshold: float, start: int
) -> None:
    rate = load / aht
    previous = erlang_a_metrics(rate, aht, start, threshold, patience)
    for agents in range(start + 1, start + 6):
        current = erlang_a_metrics(rate, aht, agents, threshold, patience)
        assert current.service_level >= previous.service_level - 1e-12
        assert current.p_abandon <= previous.p_abandon + 1e-12
        assert current.occupancy <= previous.occupancy + 1e-12
        assert current.asa <= previous.asa * (1 + 1e-9) + 1e-12
        previous = current
