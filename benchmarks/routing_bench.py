"""Routing-engine benchmark: decisions per second and per-decision latency.

A synthetic contact centre: agents in teams with 5-8 skills each (proficiency 1-10), some
with chat capacity; queues that need 1-3 of a team's skills, voice and chat, mixed
priorities. Contacts arrive as a Poisson stream at ~98% of agent capacity, so the engine
works both ways: contacts finding idle agents and agents freeing up to waiting contacts.
Agents accept at once, talk for an exponential time, wrap up, and say done; 10% of callers
hang up if they wait too long.

A *decision* is one offer made by the engine. Timed are the engine calls that can make
decisions (a contact arriving, an agent finishing wrap-up): decisions_per_s is decisions
divided by the time spent in those calls; p99_decision_us is the 99th percentile of those
calls that made at least one offer. lifecycle_contacts_per_s divides contacts by the time
spent in every engine call of their life (arrive, accept, end, wrap-up, hang-up).

    python benchmarks/routing_bench.py --agents 1000 --skills 50 --contacts 200000
    python benchmarks/routing_bench.py --agents 10000 --skills 50 --json
"""

from __future__ import annotations

import argparse
import gc
import heapq
import json
import platform
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.machine import machine_line, machine_report
from routing import (
    AgentProfile,
    Channel,
    ContactSpec,
    Engine,
    QueueConfig,
    RoutingConfig,
    WrapUpPolicy,
)
from routing.events import Offer

MEAN_TALK_S = 240.0
WRAP_S = 15.0


def build(
    n_agents: int, n_skills: int, rng: random.Random, strategy: str
) -> tuple[Engine, list[QueueConfig], float]:
    skills = [f"s{i}" for i in range(n_skills)]
    n_teams = max(5, n_skills // 3)
    team_skills = [rng.sample(skills, min(len(skills), rng.randint(5, 8))) for _ in range(n_teams)]
    queues: list[QueueConfig] = []
    for t, ts in enumerate(team_skills):
        for k in range(4):
            need = rng.sample(ts, rng.choice((1, 1, 2, 3)))
            chat = k == 3
            queues.append(
                QueueConfig(
                    id=f"q{t}_{k}",
                    channel=Channel.CHAT if chat else Channel.VOICE,
                    skills={s: rng.randint(1, 4) for s in need},
                    priority=rng.choice((0, 0, 0, 1, 2)),
                    offer_timeout_s=30,
                    wrap_up=WrapUpPolicy(mode="mandatory"),
                )
            )
    engine = Engine(RoutingConfig(queues=tuple(queues), strategy=strategy))  # type: ignore[arg-type]
    capacity_units = 0.0
    for i in range(n_agents):
        t = i % n_teams
        own = {s: rng.randint(5, 10) for s in team_skills[t]}
        for s in rng.sample(skills, 2):
            own.setdefault(s, rng.randint(1, 10))
        chat = 2 if i % 4 == 0 else 0
        capacity = {Channel.VOICE: 1, Channel.CHAT: chat} if chat else {Channel.VOICE: 1}
        engine.add_agent(AgentProfile(id=f"a{i}", team=f"t{t}", skills=own, capacity=capacity))
        capacity_units += 1
    return engine, queues, capacity_units


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    engine, queues, units = build(args.agents, args.skills, rng, args.strategy)
    now = 0.0
    for i in range(args.agents):
        engine.login(f"a{i}", now)
    # Arrival rate so that offered work is ~98% of what the agents can do.
    per_contact_s = MEAN_TALK_S + WRAP_S
    rate = 0.98 * units / per_contact_s
    # heap of (time, order, kind, a, b)
    agenda: list[tuple[float, int, str, str, str]] = []
    order = 0
    t = 0.0
    for i in range(args.contacts):
        t += rng.expovariate(rate)
        order += 1
        agenda.append((t, order, "arrive", f"c{i}", ""))
    heapq.heapify(agenda)
    specs = {}
    for i in range(args.contacts):
        q = queues[rng.randrange(len(queues))]
        specs[f"c{i}"] = ContactSpec(id=f"c{i}", queue_id=q.id)
    patience = {f"c{i}": rng.expovariate(1 / 120.0) for i in range(args.contacts) if i % 10 == 0}

    decision_times: list[float] = []
    decide_total = 0.0
    other_total = 0.0
    decisions_before = engine.decisions
    answered: set[str] = set()
    gc.collect()
    gc.disable()
    perf = time.perf_counter

    def handle_offers(commands: list[Any], at: float) -> None:
        nonlocal order, other_total
        for cmd in commands:
            if type(cmd) is Offer:
                t0 = perf()
                engine.accept(cmd.agent_id, cmd.contact_id, at)
                other_total += perf() - t0
                answered.add(cmd.contact_id)
                order += 1
                talk = rng.expovariate(1 / MEAN_TALK_S)
                heapq.heappush(agenda, (at + talk, order, "end", cmd.agent_id, cmd.contact_id))

    while agenda:
        now, _, kind, a, b = heapq.heappop(agenda)
        if kind == "arrive":
            spec = specs[a]  # the benchmark's own look-up stays outside the timed call
            t0 = perf()
            out = engine.arrive(spec, now)
            dt = perf() - t0
            decide_total += dt
            if out.commands and any(type(c) is Offer for c in out.commands):
                decision_times.append(dt)
            handle_offers(out.commands, now)
            if a in patience:
                order += 1
                heapq.heappush(agenda, (now + patience[a], order, "patience", a, ""))
        elif kind == "patience":
            if a not in answered:
                t0 = perf()
                out = engine.hangup(a, now)
                other_total += perf() - t0
                handle_offers(out.commands, now)
        elif kind == "end":
            t0 = perf()
            engine.end(a, b, now)
            other_total += perf() - t0
            order += 1
            heapq.heappush(agenda, (now + WRAP_S, order, "done", a, b))
        else:  # done
            t0 = perf()
            out = engine.complete_wrapup(a, b, now, "resolved")
            dt = perf() - t0
            decide_total += dt
            if any(type(c) is Offer for c in out.commands):
                decision_times.append(dt)
            handle_offers(out.commands, now)
    gc.enable()
    decisions = engine.decisions - decisions_before
    decision_times.sort()
    p99 = decision_times[int(0.99 * (len(decision_times) - 1))] if decision_times else 0.0
    p50 = decision_times[len(decision_times) // 2] if decision_times else 0.0
    rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "agents": args.agents,
        "skills": args.skills,
        "queues": len(queues),
        "contacts": args.contacts,
        "strategy": args.strategy,
        "seed": args.seed,
        "decisions": decisions,
        "answered": len(answered),
        "decisions_per_s": round(decisions / decide_total) if decide_total else None,
        "per_decision_us": round(decide_total / decisions * 1e6, 2) if decisions else None,
        "p50_decision_us": round(p50 * 1e6, 2),
        "p99_decision_us": round(p99 * 1e6, 2),
        "lifecycle_contacts_per_s": round(args.contacts / (decide_total + other_total)),
        "peak_rss_mb": round(rss_kb / 1024, 1),
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=1000)
    parser.add_argument("--skills", type=int, default=50)
    parser.add_argument("--contacts", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--strategy",
        default="longest_idle",
        choices=["longest_idle", "most_skilled", "least_occupied", "round_robin", "blend"],
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    result = run(args)
    machine = machine_report()  # after the run: the calibration must not warm or load it
    if args.json:
        print(json.dumps({**result, "machine_report": machine}))
        return
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    print(machine_line(machine))


if __name__ == "__main__":
    main()
