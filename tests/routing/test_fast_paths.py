"""The engine's short paths decide exactly what its general paths decide.

Two engines get the same random inputs. In the second, no agent counts as "one channel,
one contact at a time", so every offer and every wrap-up goes through the general
``_sync_pools`` / ``_route_agent`` search; and its contacts arrive through ``arrive`` with
a ContactSpec where the first uses ``arrive_plain``. Every outcome must be equal.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from routing import AgentProfile, Channel, ContactSpec, Engine, QueueConfig, RoutingConfig
from routing import errors as E
from routing.events import StartTimer, TimerId
from routing.model import WrapUpPolicy

QUEUES = (
    QueueConfig(id="sales", skills={"s": 2}, wrap_up=WrapUpPolicy(mode="mandatory")),
    QueueConfig(id="help", skills={"h": 1}, wrap_up=WrapUpPolicy(mode="timed", seconds=5)),
    QueueConfig(id="quick", skills={"s": 1, "h": 1}, wrap_up=WrapUpPolicy(mode="none")),
    QueueConfig(id="chat", channel=Channel.CHAT, skills={"h": 1}),
)


def _agents(rng: random.Random) -> list[AgentProfile]:
    agents = []
    for i in range(8):
        skills = {s: rng.randint(1, 10) for s in rng.sample(["s", "h"], rng.randint(1, 2))}
        capacity = {Channel.VOICE: 1, Channel.CHAT: 2} if i % 3 == 0 else {Channel.VOICE: 1}
        agents.append(AgentProfile(id=f"a{i}", skills=skills, capacity=capacity))
    return agents


def _engines(strategy: str, seed: int) -> tuple[Engine, Engine]:
    rng = random.Random(seed)
    profiles = _agents(rng)
    engines = []
    for _ in range(2):
        engine = Engine(RoutingConfig(queues=QUEUES, strategy=strategy))
        for p in profiles:
            engine.add_agent(p)
        engines.append(engine)
    for agent in engines[1]._agents.values():
        agent.solo = None  # every agent through the general paths
    return engines[0], engines[1]


def _step(engine: Engine, plain: bool, op: tuple[Any, ...], now: float) -> Any:
    kind = op[0]
    try:
        if kind == "arrive":
            if plain:
                return engine.arrive_plain(op[1], op[2], now)
            return engine.arrive(ContactSpec(id=op[1], queue_id=op[2]), now)
        if kind == "timer":
            return engine.timer(op[1], now)
        method = getattr(engine, kind)
        return (
            method(*op[1:], now=now)
            if kind != "complete_wrapup"
            else method(op[1], op[2], now, "done")
        )
    except E.RoutingError as err:
        return type(err)


@pytest.mark.parametrize("strategy", ["longest_idle", "most_skilled", "least_occupied"])
@pytest.mark.parametrize("seed", range(6))
def test_short_paths_match_the_general_ones(strategy: str, seed: int) -> None:
    fast, general = _engines(strategy, seed)
    rng = random.Random(1000 + seed)
    now = 0.0
    for agent_id in fast._agents:
        assert _step(fast, True, ("login", agent_id), now) == _step(
            general, False, ("login", agent_id), now
        )
    timers: list[tuple[float, TimerId]] = []
    for n in range(400):
        now += rng.random() * 3
        agents = sorted(fast._agents)
        live = sorted(fast._contacts)
        roll = rng.random()
        op: tuple[Any, ...]
        if roll < 0.3:
            op = ("arrive", f"c{n}", rng.choice([q.id for q in QUEUES]))
        elif roll < 0.4 and timers:
            timers.sort()
            at, timer = timers.pop(0)
            now = max(now, at)
            op = ("timer", timer)
        elif roll < 0.5 and live:
            op = ("hangup", rng.choice(live))
        elif roll < 0.55:
            op = ("set_status", rng.choice(agents), rng.choice(["available", "break"]))
        else:
            agent_id = rng.choice(agents)
            held = sorted(fast._agents[agent_id].slots.items())
            if not held:
                continue
            cid, slot = rng.choice(held)
            state = slot.state.value
            if state == "offered":
                op = (rng.choice(["accept", "accept", "reject"]), agent_id, cid)
            elif state == "connected":
                op = (rng.choice(["end", "hold"]), agent_id, cid)
            elif state == "held":
                op = ("resume", agent_id, cid)
            else:
                op = ("complete_wrapup", agent_id, cid)
        a = _step(fast, True, op, now)
        b = _step(general, False, op, now)
        assert a == b, (n, op)
        if not isinstance(a, type):
            timers.extend((c.at, c.timer) for c in a.commands if isinstance(c, StartTimer))
        fast.check_invariants()
        general.check_invariants()
    assert fast.decisions == general.decisions
    assert [fast.agent(a) for a in sorted(fast._agents)] == [
        general.agent(a) for a in sorted(general._agents)
    ]


def test_arrive_plain_refuses_like_arrive() -> None:
    engine = Engine(RoutingConfig(queues=QUEUES))
    engine.arrive_plain("c1", "sales", 0.0)
    with pytest.raises(E.DuplicateContact):
        engine.arrive_plain("c1", "sales", 1.0)
    with pytest.raises(E.UnknownQueue):
        engine.arrive_plain("c2", "nope", 1.0)
    assert engine.contact("c1").state == "queued"
    assert engine.waiting() == ["c1"]


def test_positional_makers_build_what_the_dataclasses_build() -> None:
    """The engine's arrival and offer paths build contacts and slots field by field; a
    field added to the dataclass and not to the maker shows up here."""
    import dataclasses

    from routing import records as eng
    from routing.model import Direction
    from routing.transitions import SlotState

    e = Engine(RoutingConfig(queues=QUEUES))
    queue = e._queues["sales"]
    args = ("c1", Channel.VOICE, Direction.INBOUND, queue, 3, None, (("s", 2),), {"k": 1})
    made = eng._new_contact(*args, 10.0, 12.0, 7)
    built = eng._Contact(*args, 10.0, 12.0, 7)
    for f in dataclasses.fields(eng._Contact):
        assert getattr(made, f.name) == getattr(built, f.name), f.name
    assert made.timers is not built.timers  # a dict of its own, as default_factory gives
    slot_args = ("c1", Channel.VOICE, SlotState.OFFERED, 5.0, "sales")
    made_slot, built_slot = eng._new_slot(*slot_args), eng._Slot(*slot_args)
    for f in dataclasses.fields(eng._Slot):
        assert getattr(made_slot, f.name) == getattr(built_slot, f.name), f.name


def test_states_the_short_paths_store_are_read_from_the_tables() -> None:
    """The arrival, offer and accept paths store a precomputed state instead of looking
    the table up each time; each must be exactly the table's answer."""
    from routing import core, records
    from routing.transitions import (
        CONTACT_ENTRIES,
        SLOT_ENTRIES,
        SLOT_TRANSITIONS,
        Entry,
        SlotInput,
        SlotState,
    )

    assert {records._ARRIVE_STATE} == CONTACT_ENTRIES[Entry.ARRIVE]
    assert {core._S_OFFER_ENTRY} == SLOT_ENTRIES[Entry.OFFER]
    assert core._S_ACCEPTED is SLOT_TRANSITIONS[(SlotState.OFFERED, SlotInput.ACCEPT)]
