"""Staffing checked and searched by simulation, with the real routing engine inside.

The analytic solver (staffing.py) is exact for its model, but the model is an idealisation
(Poisson arrivals, exponential handle times, one queue, one skill). Here the same question
is put to the simulator:

* ``check_interval``: simulate one interval's workload as a steady state with a given
  number of agents, and say whether the target is met, with 95% confidence intervals.
* ``refine_interval``: the fewest agents whose *simulated* figures meet the target,
  searching outwards from the analytic answer.
* ``search_group``: for multi-skill scenarios, which have no formula, the smallest size of
  one agent group for which every queue meets its own service-level target.

Decisions use the replication mean, and every candidate size is simulated with the same
seed (common random numbers): the same callers arrive with the same patience and handle
times whatever the staffing, so neighbouring sizes differ by the staffing alone and the
search does not zig-zag on noise. The confidence intervals are reported beside the
decision so a planner can see how close a call it was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from simulations.replications import Estimate, Summary, run_replications
from simulations.scenario import Scenario, parse_scenario
from simulations.staffing import StaffingTarget

__all__ = [
    "GroupSearch",
    "SimCheck",
    "check_interval",
    "interval_scenario",
    "refine_interval",
    "search_group",
]

DEFAULT_HORIZON_S = 8 * 3600.0
DEFAULT_WARMUP_S = 3600.0
# An upper bound on how far a search walks before giving up: far beyond any real gap
# between the analytic answer and the simulated one.
_MAX_STEPS = 200


@dataclass(frozen=True, slots=True)
class SimCheck:
    """Simulated figures for one staffing level, and whether they meet the target."""

    agents: int
    service_level: Estimate
    asa_s: Estimate
    abandon_rate: Estimate
    occupancy: Estimate
    meets: bool
    replications: int

    def as_dict(self) -> dict[str, object]:
        return {
            "agents": self.agents,
            "meets": self.meets,
            "replications": self.replications,
            "service_level": self.service_level.as_dict(),
            "asa_s": self.asa_s.as_dict(),
            "abandon_rate": self.abandon_rate.as_dict(),
            "occupancy": self.occupancy.as_dict(),
        }


@dataclass(frozen=True, slots=True)
class GroupSearch:
    """Result of ``search_group``: the smallest group size meeting every queue's target."""

    group: str
    count: int
    checks: dict[int, dict[str, SimCheck]]
    """Per simulated size, per queue."""

    def as_dict(self) -> dict[str, object]:
        return {
            "group": self.group,
            "count": self.count,
            "checks": {
                str(n): {q: c.as_dict() for q, c in per_queue.items()}
                for n, per_queue in sorted(self.checks.items())
            },
        }


def interval_scenario(
    rate_per_hour: float,
    aht_s: float,
    agents: int,
    target: StaffingTarget,
    *,
    patience_s: float | None = None,
    horizon_s: float = DEFAULT_HORIZON_S,
    warmup_s: float = DEFAULT_WARMUP_S,
) -> Scenario:
    """One queue with a flat rate, exponential handle times (and patience): the workload
    the Erlang formulas describe, as a scenario the simulator runs."""
    if agents < 1:
        raise ValueError(f"agents must be at least 1 to simulate, got {agents}")
    if warmup_s % 900:
        raise ValueError(f"warm-up must be a whole number of 15-minute intervals, got {warmup_s}")
    queue: dict[str, object] = {
        "name": "q",
        "arrival_rate_per_hour": rate_per_hour,
        "handle_time": {"dist": "exponential", "mean_s": aht_s},
        "service_level": {"threshold_s": target.threshold, "target": target.service_level},
    }
    if patience_s is not None:
        queue["patience"] = {"dist": "exponential", "mean_s": patience_s}
    data = {
        "name": "interval check",
        "duration": horizon_s + warmup_s,
        "warmup": warmup_s,
        "queues": [queue],
        "agents": [{"count": agents, "skills": {"q": 5}}],
    }
    return parse_scenario(data, "staffing interval")


def _meets(summary: Summary, queue: str, target: StaffingTarget | None) -> SimCheck:
    q = summary.queues[queue]
    sl, asa, abandon = q["service_level"], q["asa_s"], q["abandon_rate"]
    occupancy = q["occupancy"]
    # No measured service level with callers arriving means none was answered in time to
    # count (e.g. zero agents and endless patience): that misses any target.
    idle = _idle(summary)
    meets = True
    if target is not None:
        meets = _at_least(sl, target.service_level, idle)
        if target.max_asa is not None:
            meets = meets and _at_most(asa, target.max_asa)
        if target.max_occupancy is not None:
            meets = meets and _at_most(occupancy, target.max_occupancy)
        if target.max_abandon is not None:
            meets = meets and _at_most(abandon, target.max_abandon)
    agents = sum(plan.agents for plan in summary.scenario.groups)
    return SimCheck(agents, sl, asa, abandon, occupancy, meets, summary.replications)


def _idle(summary: Summary) -> bool:
    return summary.arrivals == 0


def _at_least(estimate: Estimate, bound: float, idle: bool) -> bool:
    return idle if estimate.mean is None else estimate.mean >= bound


def _at_most(estimate: Estimate, bound: float) -> bool:
    return estimate.mean is None or estimate.mean <= bound


def check_interval(
    rate_per_hour: float,
    aht_s: float,
    agents: int,
    target: StaffingTarget,
    *,
    patience_s: float | None = None,
    replications: int = 10,
    seed: int = 1,
    horizon_s: float = DEFAULT_HORIZON_S,
    warmup_s: float = DEFAULT_WARMUP_S,
    workers: int | None = None,
) -> SimCheck:
    scenario = interval_scenario(
        rate_per_hour,
        aht_s,
        agents,
        target,
        patience_s=patience_s,
        horizon_s=horizon_s,
        warmup_s=warmup_s,
    )
    summary = run_replications(scenario, replications, seed, workers)
    return _meets(summary, "q", target)


def refine_interval(
    rate_per_hour: float,
    aht_s: float,
    start_agents: int,
    target: StaffingTarget,
    *,
    patience_s: float | None = None,
    replications: int = 10,
    seed: int = 1,
    horizon_s: float = DEFAULT_HORIZON_S,
    warmup_s: float = DEFAULT_WARMUP_S,
    workers: int | None = None,
) -> tuple[int, list[SimCheck]]:
    """The fewest agents whose simulated means meet ``target``, and every check made.

    Walks up from ``start_agents`` while the target is missed, or down while it is met,
    so the analytic answer (usually right or off by one) costs two or three runs."""

    def check(n: int) -> SimCheck:
        return check_interval(
            rate_per_hour,
            aht_s,
            n,
            target,
            patience_s=patience_s,
            replications=replications,
            seed=seed,
            horizon_s=horizon_s,
            warmup_s=warmup_s,
            workers=workers,
        )

    floor = max(1, target.min_agents)
    answer, checks = _walk(check, max(floor, start_agents), floor)
    return answer, checks


def _walk(check: Callable[[int], SimCheck], start: int, floor: int) -> tuple[int, list[SimCheck]]:
    checks: list[SimCheck] = []
    n = start
    first = check(n)
    checks.append(first)
    if first.meets:
        while n > floor:
            lower = check(n - 1)
            checks.append(lower)
            if not lower.meets:
                break
            n -= 1
        return n, checks
    for _ in range(_MAX_STEPS):
        n += 1
        higher = check(n)
        checks.append(higher)
        if higher.meets:
            return n, checks
    raise ValueError(
        f"no staffing up to {n} agents meets the target in simulation; "
        "check the workload and the target"
    )


def search_group(
    scenario: Scenario,
    group: str,
    *,
    replications: int | None = None,
    seed: int | None = None,
    low: int = 0,
    high: int | None = None,
    workers: int | None = None,
) -> GroupSearch:
    """Smallest ``count`` of agent group ``group`` such that every queue's simulated mean
    service level meets the queue's own target (its ``service_level.target``).

    Bisection between ``low`` and ``high`` (default: double the scenario's count until the
    targets are met). Service level rises with staff, so bisection finds the boundary;
    common random numbers keep it from moving with the noise."""
    names = [g.name for g in scenario.agents]
    if group not in names:
        raise ValueError(
            f"scenario has no agent group named {group!r}; groups: "
            + ", ".join(repr(n) for n in names if n)
            + " (name them with `name:`)"
        )
    index = names.index(group)
    checks: dict[int, dict[str, SimCheck]] = {}

    def run(count: int) -> bool:
        if count not in checks:
            agents = list(scenario.agents)
            agents[index] = agents[index].model_copy(update={"count": count})
            changed = scenario.with_changes(agents=agents)
            summary = run_replications(changed, replications, seed, workers)
            checks[count] = {
                q.name: _queue_check(summary, q.name, q.service_level.target)
                for q in changed.queues
            }
        return all(c.meets for c in checks[count].values())

    if high is None:
        high = max(1, scenario.agents[index].count)
        steps = 0
        while not run(high):
            high *= 2
            steps += 1
            if steps > 12:
                raise ValueError(
                    f"even {high} agents in group {group!r} do not meet every queue's target; "
                    "the other groups or the routing may be the bottleneck"
                )
    elif not run(high):
        raise ValueError(f"{high} agents in group {group!r} do not meet every queue's target")
    lo, hi = low, high
    if run(lo):
        return GroupSearch(group, lo, checks)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if run(mid):
            hi = mid
        else:
            lo = mid
    return GroupSearch(group, hi, checks)


def _queue_check(summary: Summary, queue: str, sl_target: float) -> SimCheck:
    check = _meets(summary, queue, None)
    meets = _at_least(check.service_level, sl_target, _idle(summary))
    return SimCheck(
        check.agents,
        check.service_level,
        check.asa_s,
        check.abandon_rate,
        check.occupancy,
        meets,
        check.replications,
    )
