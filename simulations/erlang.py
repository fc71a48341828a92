"""Analytic queueing formulas for workforce planning: Erlang B, Erlang C and Erlang A.

Units: arrival rates are per second (or pass ``interval_s`` to give a count per interval),
handle times, thresholds and patience are seconds. ``load`` is the offered load
A = arrival rate x mean handle time, in Erlangs.

Numerical approach
------------------
* Erlang B uses the forward recursion B(k) = A B(k-1) / (k + A B(k-1)). It is a contraction,
  so rounding errors die out instead of piling up, and it never forms A^n or n!.
* Erlang C is derived from Erlang B: C = n B / (n - A (1 - B)).
* Erlang A (M/M/n+M, exponential patience with rate theta = 1/patience) is computed exactly
  from its birth-death chain. States below n are summed through Erlang B; queue states
  n+k are weighted in log space and truncated where their mass is below e^-50 of the peak.
  A caller who finds k callers waiting ahead enters service after a sum of independent
  exponential stages with rates n mu + m theta (m = k..0) while racing his own
  exponential patience. The stage sum has density proportional to
  e^{-n mu s} (1 - e^{-theta s})^k, which turns "served within t" into a regularised
  incomplete beta function, i.e. a negative-binomial tail; both are evaluated with
  vectorised log-space sums (no alternating series, no overflow).
"""

from __future__ import annotations

import math
import operator
from dataclasses import dataclass
from typing import SupportsIndex

import numpy as np
import numpy.typing as npt

__all__ = [
    "MAX_QUEUE_STATES",
    "ErlangAResult",
    "ErlangCResult",
    "QueueTooLongError",
    "UnstableQueueError",
    "erlang_a_metrics",
    "erlang_b",
    "erlang_b_sequence",
    "erlang_c",
    "erlang_c_metrics",
    "offered_load",
]

FloatArray = npt.NDArray[np.float64]

# The recursion may start part-way (see _erlang_b_start) only when that saves this many steps;
# below it the plain recursion is cheap and bit-for-bit reproducible by erlang_b_sequence.
_SKIP_MIN_STEPS = 1000
# Start 9.5 sqrt(A) below A: the recursion then shrinks the start error by ~e^-45.
_SKIP_SQRT_FACTOR = 9.5
# Queue states whose weight is below e^-50 of the largest one are dropped (~2e-22 relative).
_TRUNCATION_NATS = 50.0
# How far past the queue truncation an upper tail may be summed before falling back to 1 - cdf.
_TAIL_EXTRA_STATES = 200_000
# Guard against absurd inputs (e.g. patience of years on an overloaded queue).
MAX_QUEUE_STATES = 1_000_000


class UnstableQueueError(ValueError):
    """Erlang C has no steady state: the offered load is not below the number of agents."""

    def __init__(self, load: float, agents: int) -> None:
        super().__init__(
            f"unstable queue: offered load {load:.6g} Erlangs needs more than {agents} agents "
            f"(Erlang C requires agents > load; add agents or model abandonment with Erlang A)"
        )
        self.load = load
        self.agents = agents


class QueueTooLongError(ValueError):
    """Erlang A would need more than MAX_QUEUE_STATES queue states (overload, huge patience)."""

    def __init__(self, states: int) -> None:
        super().__init__(
            f"Erlang A would need {states} queue states (more than {MAX_QUEUE_STATES}): "
            "the queue is overloaded and callers almost never abandon; add agents or use a "
            "shorter patience"
        )
        self.states = states


@dataclass(frozen=True, slots=True)
class ErlangCResult:
    """Erlang C (M/M/n, callers never abandon) steady-state metrics.

    service_level is P(wait <= threshold) over all callers; asa is the mean wait of all
    callers in seconds (everyone is answered); occupancy is load / agents.
    """

    agents: int
    load: float
    threshold: float
    p_wait: float
    service_level: float
    asa: float
    occupancy: float


@dataclass(frozen=True, slots=True)
class ErlangAResult:
    """Erlang A (M/M/n+M) steady-state metrics, all per arriving caller.

    service_level: answered within the threshold / all offered, i.e.
        ans<=T / (answered + abandoned) -- the "all abandons fail" variant.
    service_level_answered: answered within the threshold / answered.
    p_abandon_within_threshold: caller abandoned after waiting at most the threshold; it
        gives the remaining variants (see the properties below).
    asa: mean wait of answered callers, seconds.
    mean_wait: mean time in queue of all callers (abandoners until they hang up), seconds.
    occupancy: carried (served) load / agents.
    """

    agents: int
    load: float
    threshold: float
    patience: float
    p_wait: float
    p_abandon: float
    service_level: float
    service_level_answered: float
    p_abandon_within_threshold: float
    asa: float
    mean_wait: float
    occupancy: float

    @property
    def service_level_excluding_threshold_abandons(self) -> float:
        """ans<=T / (answered + abandoned - abn<=T): early abandons are not counted."""
        denominator = 1.0 - self.p_abandon_within_threshold
        return self.service_level / denominator if denominator > 0.0 else 0.0

    @property
    def service_level_threshold_abandons_met(self) -> float:
        """(ans<=T + abn<=T) / (answered + abandoned): early abandons count as met."""
        return min(1.0, self.service_level + self.p_abandon_within_threshold)


# --------------------------------------------------------------------------- validation


def _finite(name: str, value: float, *, positive: bool = False) -> float:
    number = float(value)
    if not math.isfinite(number) or number < 0.0 or (positive and number == 0.0):
        kind = "a positive" if positive else "a non-negative"
        raise ValueError(f"{name} must be {kind} finite number, got {value!r}")
    return number


def _agents(value: SupportsIndex, minimum: int) -> int:
    if isinstance(value, bool):
        raise TypeError(f"agents must be an integer, got {value!r}")
    try:
        count = operator.index(value)
    except TypeError:
        raise TypeError(f"agents must be an integer, got {value!r}") from None
    if count < minimum:
        raise ValueError(f"agents must be >= {minimum}, got {count}")
    return count


def offered_load(arrival_rate: float, aht: float, *, interval_s: float = 1.0) -> float:
    """Offered load in Erlangs for ``arrival_rate`` arrivals per ``interval_s`` seconds."""
    rate = _finite("arrival_rate", arrival_rate) / _finite("interval_s", interval_s, positive=True)
    return rate * _finite("aht", aht, positive=True)


# --------------------------------------------------------------------------- Erlang B


def _erlang_b_start(agents: int, load: float) -> tuple[int, float]:
    """Where to start the recursion for B(agents, load), and the value to start from.

    Far below the load B(k) ~ 1 - k/A, and each step shrinks a relative error by k/A; over
    the 9.5 sqrt(A) steps up to A that is a factor e^-45, so starting there with the
    approximation gives full double precision while saving most of the loop.
    """
    skip = int(load - _SKIP_SQRT_FACTOR * math.sqrt(load))
    if skip < _SKIP_MIN_STEPS or agents < load:
        return 0, 1.0
    return skip, 1.0 - skip / load


def erlang_b(agents: int, load: float) -> float:
    """Blocking probability of an M/M/n/n system (Erlang B) with n agents and load A."""
    n = _agents(agents, 0)
    a = _finite("load", load)
    if a == 0.0:
        return 1.0 if n == 0 else 0.0
    start, b = _erlang_b_start(n, a)
    for k in range(start + 1, n + 1):
        ab = a * b
        b = ab / (k + ab)
    return b


def erlang_b_sequence(max_agents: int, load: float) -> list[float]:
    """[B(0, A), B(1, A), ..., B(max_agents, A)] from one pass of the recursion."""
    n = _agents(max_agents, 0)
    a = _finite("load", load)
    values = [1.0]
    append = values.append
    b = 1.0
    for k in range(1, n + 1):
        ab = a * b
        b = ab / (k + ab)
        append(b)
    return values


# --------------------------------------------------------------------------- Erlang C


def _erlang_c_from_b(agents: int, load: float, blocking: float) -> float:
    return agents * blocking / (agents - load * (1.0 - blocking))


def erlang_c(agents: int, load: float) -> float:
    """Probability that a caller waits (Erlang C); raises UnstableQueueError if n <= A."""
    n = _agents(agents, 1)
    a = _finite("load", load)
    if a == 0.0:
        return 0.0
    if n <= a:
        raise UnstableQueueError(a, n)
    return _erlang_c_from_b(n, a, erlang_b(n, a))


def erlang_c_metrics(
    arrival_rate: float,
    aht: float,
    agents: int,
    threshold: float,
    *,
    interval_s: float = 1.0,
    blocking: float | None = None,
) -> ErlangCResult:
    """Erlang C metrics for ``agents`` answering ``arrival_rate`` calls per ``interval_s``.

    ``blocking`` may pass a precomputed B(agents, load) to skip the recursion.
    """
    n = _agents(agents, 1)
    load = offered_load(arrival_rate, aht, interval_s=interval_s)
    t = _finite("threshold", threshold)
    if load == 0.0:
        return ErlangCResult(n, 0.0, t, 0.0, 1.0, 0.0, 0.0)
    if n <= load:
        raise UnstableQueueError(load, n)
    b = erlang_b(n, load) if blocking is None else blocking
    p_wait = _erlang_c_from_b(n, load, b)
    gap = n - load
    service_level = 1.0 - p_wait * math.exp(-gap * t / aht)
    return ErlangCResult(n, load, t, p_wait, service_level, p_wait * aht / gap, load / n)


# --------------------------------------------------------------------------- Erlang A


def _log_queue_weight(k: float, arrival_rate: float, alpha: float, theta: float) -> float:
    """log of pi(n+k)/pi(n) = sum_{j<=k} log(lambda / (n mu + j theta)), via lgamma."""
    rising = math.lgamma(alpha + k + 1.0) - math.lgamma(alpha + 1.0)
    return k * math.log(arrival_rate / theta) - rising


def _queue_states(arrival_rate: float, service_rate: float, theta: float) -> int:
    """Largest number of waiting callers whose stationary weight is worth keeping."""
    alpha = service_rate / theta
    # weights rise while lambda > n mu + k theta, then fall; find where they are negligible
    mode = max(0, math.floor((arrival_rate - service_rate) / theta))
    if mode > MAX_QUEUE_STATES:
        raise QueueTooLongError(mode)
    floor_value = _log_queue_weight(mode, arrival_rate, alpha, theta) - _TRUNCATION_NATS
    step = 16
    while _log_queue_weight(mode + step, arrival_rate, alpha, theta) > floor_value:
        step *= 2
        if mode + step > 2 * MAX_QUEUE_STATES:
            break
    low, high = mode + step // 2, mode + step
    while high - low > 1:
        middle = (low + high) // 2
        if _log_queue_weight(middle, arrival_rate, alpha, theta) > floor_value:
            low = middle
        else:
            high = middle
    if high > MAX_QUEUE_STATES:
        raise QueueTooLongError(high)
    return high


def _stage_support(alpha: float, theta_t: float, kmax: int) -> int:
    """How far to tabulate the stage-count distributions for k = 0..kmax.

    Upper tails are summed from the far end where the pmf is negligible, which keeps their
    relative accuracy, so the table reaches past the bulk of N ~ NegBin(alpha + 1, u) when
    that bulk overlaps 0..kmax; otherwise (or if that is too far) kmax suffices.
    """
    if theta_t > 700.0:
        return kmax  # mean ~ alpha e^{theta t}: astronomically beyond any kmax
    mean = (alpha + 1.0) * math.expm1(theta_t)
    spread = math.sqrt(mean * math.exp(theta_t))
    reach = mean + 40.0 * spread + 40.0
    if mean - 10.0 * spread <= kmax and reach < kmax + _TAIL_EXTRA_STATES:
        return max(kmax, math.ceil(reach))
    return kmax


def _stage_distributions(
    alpha: float, theta_t: float, kmax: int, size: int, log_alpha: FloatArray
) -> tuple[FloatArray, FloatArray]:
    """Negative binomials N_s with P(N_s = j) = C(s + j - 1, j) u^j (1 - u)^s, u = 1 - e^{-theta t}.

    Returns (P(N_{alpha+1} > k), P(N_alpha <= k)) for k = 0..kmax. By I_u(k + 1, s) =
    P(N_s >= k + 1) these are the regularised incomplete beta values of the waiting-time
    law. ``log_alpha[m]`` = log(alpha + m) for m = 0..size. log P(N_s = 0) = -s theta t.
    """
    log_u = math.log(-math.expm1(-theta_t))
    log_pmf = np.empty((2, size + 1))
    log_pmf[0, 0] = -(alpha + 1.0) * theta_t
    log_pmf[1, 0] = -alpha * theta_t
    if size:
        log_j = np.log(np.arange(1.0, size + 1.0))
        # pmf(j) / pmf(j - 1) = (s + j - 1) u / j
        np.subtract(log_alpha[1 : size + 1], log_j, out=log_pmf[0, 1:])
        np.subtract(log_alpha[:size], log_j, out=log_pmf[1, 1:])
        log_pmf[:, 1:] += log_u
        np.cumsum(log_pmf, axis=1, out=log_pmf)
    pmf = np.exp(log_pmf)
    cdf = np.cumsum(pmf[:, : kmax + 1], axis=1)
    tail = np.maximum(1.0 - cdf[0], 0.0)
    if size > kmax and cdf[0, -1] >= 0.5:
        # P(N > k) = sum_{j > k} pmf(j), accumulated from the top of the support
        from_top = np.cumsum(pmf[0, :0:-1])[::-1][: kmax + 1]
        tail = np.where(cdf[0] < 0.5, tail, from_top)
    return tail, cdf[1]


def _no_wait_a_result(agents: int, load: float, threshold: float, patience: float) -> ErlangAResult:
    return ErlangAResult(
        agents, load, threshold, patience, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0, 0.0, load / agents
    )


def _erlang_a_core(
    agents: int,
    arrival_rate: float,
    aht: float,
    threshold: float,
    patience: float,
    blocking: float,
) -> ErlangAResult:
    load = arrival_rate * aht
    if blocking <= 0.0:
        # P(wait) is below the smallest float: nobody waits.
        return _no_wait_a_result(agents, load, threshold, patience)
    theta = 1.0 / patience
    service_rate = agents / aht
    alpha = service_rate / theta

    kmax = _queue_states(arrival_rate, service_rate, theta)
    t = threshold
    theta_t = theta * t  # may underflow to 0 for a subnormal threshold: same as t = 0
    size = _stage_support(alpha, theta_t, kmax) if theta_t > 0.0 else kmax
    m = np.arange(0.0, size + 2.0)
    alpha_m = alpha + m
    log_alpha = np.log(alpha_m)  # log(alpha + m); n mu + j theta = theta (alpha + j)
    k = m[: kmax + 1]
    log_weight = np.empty(kmax + 1)
    log_weight[0] = 0.0
    if kmax:
        np.cumsum(math.log(arrival_rate / theta) - log_alpha[1 : kmax + 1], out=log_weight[1:])
    # states below n carry sum_{i<n} pi_i / pi_n = 1/B - 1 (the Erlang B normaliser)
    log_low = math.log1p(-blocking) - math.log(blocking)
    shift = max(log_low, float(log_weight.max()))
    weight = np.exp(log_weight - shift)
    low = math.exp(log_low - shift)
    weight_sum = float(weight.sum())
    total = low + weight_sum
    p_k = weight / total  # arriving caller finds k callers waiting (PASTA)
    p_no_wait = low / total
    p_wait = weight_sum / total

    alpha_k1 = alpha_m[1 : kmax + 2]
    served = alpha / alpha_k1  # P(answered | k ahead), a telescoped product
    p_abandon = float(p_k @ (m[1 : kmax + 2] / alpha_k1))

    if theta_t > 0.0:
        # "stages done by t" ~ I_u(k+1, alpha), discounted by patience ~ I_u(k+1, alpha+1)
        served_by_t, stages_by_t = _stage_distributions(alpha, theta_t, kmax, size, log_alpha)
        answered_late = float(p_k @ (served * served_by_t))
        still_waiting = math.exp(-theta_t) * float(p_k @ stages_by_t)
        answered_in_t = p_no_wait + answered_late
        abandoned_in_t = max(0.0, p_wait - answered_late - still_waiting)
    else:
        answered_in_t = p_no_wait
        abandoned_in_t = 0.0

    # E[wait; answered | k] = P(answered | k) sum_{i=1}^{k+1} 1 / (theta (alpha + i))
    wait_answered = float(p_k @ (served * np.cumsum(1.0 / alpha_k1))) / theta
    answered = 1.0 - p_abandon
    mean_queue = float(p_k @ k)
    return ErlangAResult(
        agents=agents,
        load=load,
        threshold=t,
        patience=patience,
        p_wait=p_wait,
        p_abandon=p_abandon,
        service_level=min(1.0, answered_in_t),
        service_level_answered=min(1.0, answered_in_t / answered) if answered > 0.0 else 0.0,
        p_abandon_within_threshold=abandoned_in_t,
        asa=wait_answered / answered if answered > 0.0 else 0.0,
        mean_wait=mean_queue / arrival_rate,
        occupancy=min(1.0, load * answered / agents),  # rounding can leave it 1 + 1e-12
    )


def erlang_a_metrics(
    arrival_rate: float,
    aht: float,
    agents: int,
    threshold: float,
    patience: float,
    *,
    interval_s: float = 1.0,
    blocking: float | None = None,
) -> ErlangAResult:
    """Erlang A metrics: exponential patience with mean ``patience`` seconds.

    Defined for any agents >= 1, including agents below the load. ``patience = inf`` falls
    back to Erlang C (and then needs agents > load). ``blocking`` may pass a precomputed
    B(agents, load).
    """
    n = _agents(agents, 1)
    rate = _finite("arrival_rate", arrival_rate) / _finite("interval_s", interval_s, positive=True)
    handle = _finite("aht", aht, positive=True)
    t = _finite("threshold", threshold)
    mean_patience = float(patience)
    if math.isnan(mean_patience) or mean_patience <= 0.0:
        raise ValueError(f"patience must be a positive number of seconds, got {patience!r}")
    if rate == 0.0:
        return _no_wait_a_result(n, 0.0, t, mean_patience)
    if math.isinf(mean_patience):
        c = erlang_c_metrics(rate, handle, n, t, blocking=blocking)
        return ErlangAResult(
            agents=n,
            load=c.load,
            threshold=t,
            patience=mean_patience,
            p_wait=c.p_wait,
            p_abandon=0.0,
            service_level=c.service_level,
            service_level_answered=c.service_level,
            p_abandon_within_threshold=0.0,
            asa=c.asa,
            mean_wait=c.asa,
            occupancy=c.occupancy,
        )
    b = erlang_b(n, rate * handle) if blocking is None else blocking
    return _erlang_a_core(n, rate, handle, t, mean_patience, b)
