"""Walk the agent-status table: every listed move works, every other one is refused unchanged.

An agent is put in each kind of status (offline, available, a reason code), idle or holding
a contact, and given every status input through the public API. The expected answer is read
from AGENT_TRANSITIONS and DEFERRED_WHILE_BUSY, not written out by hand. A random walk then
checks, step by step, that every status change the engine makes is a move of the table.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing import AgentProfile, QueueConfig, WrapUpPolicy
from routing import errors as E
from routing.transitions import (
    AGENT_TRANSITIONS,
    DEFERRED_WHILE_BUSY,
    AgentInput,
    StatusKind,
    agent_next,
    status_kind,
)

from .support import Driver, assert_refused, engine_with

AI = AgentInput
SK = StatusKind
REASON = "lunch"

# input -> (engine method, its status argument or None, the status the agent asks for)
INPUTS: dict[AgentInput, tuple[str, str | None, str]] = {
    AI.LOG_IN_AVAILABLE: ("login", "available", "available"),
    AI.LOG_IN_NOT_READY: ("login", REASON, REASON),
    AI.CHOOSE_AVAILABLE: ("set_status", "available", "available"),
    AI.CHOOSE_NOT_READY: ("set_status", REASON, REASON),
    AI.LOG_OUT: ("logout", None, "offline"),
}


def _world() -> Driver:
    queues = (QueueConfig(id="q", skills={"s": 1}, wrap_up=WrapUpPolicy(mode="mandatory")),)
    return Driver(engine_with(queues, (AgentProfile(id="A", skills={"s": 5}),)))


def _offline(busy: bool) -> Driver:
    assert not busy  # an agent holds nothing while logged out (check_invariants says so)
    return _world()


def _available(busy: bool) -> Driver:
    d = _world()
    d.login("A")
    if busy:
        d.arrive("c", "q")
        d.at(1).accept("A", "c")
    return d


def _not_ready(busy: bool) -> Driver:
    d = _available(busy)
    d.at(2).set_status("A", "break")
    if busy:
        # The reason code waits for the contact to be done; then no contact is offered,
        # so the agent is made busy again with a wrap-up restored after a "restart".
        assert d.engine.agent("A").status == "available"
        d.at(3).end("A", "c")
        d.complete_wrapup("A", "c")
        assert d.engine.agent("A").status == "break"
        d.record(d.engine.restore_wrapup("A", "c2", "q", d.now))
    return d


STATES: dict[StatusKind, Callable[[bool], Driver]] = {
    SK.OFFLINE: _offline,
    SK.AVAILABLE: _available,
    SK.NOT_READY: _not_ready,
}
CASES = [
    (state, event, busy)
    for state in StatusKind
    for event in AgentInput
    for busy in (False, True)
    if not (state is SK.OFFLINE and busy)
]


def _call_args(event: AgentInput) -> tuple[str, tuple[Any, ...], dict[str, Any]]:
    method, arg, _ = INPUTS[event]
    if arg is None:
        return method, ("A",), {}
    if method == "login":
        return method, ("A",), {"status": arg}
    return method, ("A", arg), {}


def _apply(d: Driver, event: AgentInput) -> None:
    method, args, kwargs = _call_args(event)
    d.call(method, *args, **kwargs)


@pytest.mark.parametrize(("state", "event", "busy"), CASES)
def test_every_pair_of_the_status_table(state: StatusKind, event: AgentInput, busy: bool) -> None:
    d = STATES[state](busy)
    before = d.engine.agent("A")
    assert status_kind(before.status) is state
    assert bool(before.contacts) is busy
    target = agent_next(state, event)
    asked = INPUTS[event][2]
    if state is SK.OFFLINE and event in (AI.CHOOSE_AVAILABLE, AI.CHOOSE_NOT_READY):
        # set_status on a logged-out agent is a log-in: the same move as LOG_IN_*.
        target = agent_next(
            state, AI.LOG_IN_AVAILABLE if asked == "available" else AI.LOG_IN_NOT_READY
        )
    if target is None:
        method, args, kwargs = _call_args(event)
        err = assert_refused(d, E.IllegalTransition, method, *args, now=d.now, **kwargs)
        assert "logged" in str(err)
        return
    _apply(d, event)
    after = d.engine.agent("A")
    d.engine.check_invariants()
    if busy and event in DEFERRED_WHILE_BUSY:
        assert (after.status, after.next_status) == (before.status, asked)
        # The move is made when the last contact is done.
        for cid in sorted(after.contacts):
            if after.contacts[cid] == "connected":
                d.end("A", cid)
            d.complete_wrapup("A", cid)
        after = d.engine.agent("A")
    assert after.next_status is None
    assert status_kind(after.status) is target
    assert after.status == asked


def test_every_table_entry_is_walked() -> None:
    walked = {(s, e) for s, e, _ in CASES if (s, e) in AGENT_TRANSITIONS}
    assert walked == set(AGENT_TRANSITIONS)
    assert {e for e in DEFERRED_WHILE_BUSY} <= {e for _, e in AGENT_TRANSITIONS}


def test_log_in_from_every_state_targets_the_asked_kind() -> None:
    for (state, event), target in AGENT_TRANSITIONS.items():
        _, _, asked = INPUTS[event]
        assert status_kind(asked) is target, (state, event)


# ---------------------------------------------------------------------------- random walk

OPS = ("login", "login_reason", "available", "reason", "logout", "force", "arrive", "work")


def _step(d: Driver, op: str, n: int) -> AgentInput | None:
    """One random operation; returns the status input it was, if any."""
    agent = d.engine.agent("A")
    if op == "login":
        d.login("A")
        return AI.LOG_IN_AVAILABLE
    if op == "login_reason":
        d.login("A", REASON)
        return AI.LOG_IN_NOT_READY
    if op == "available":
        d.set_status("A", "available")
        return AI.CHOOSE_AVAILABLE if agent.status != "offline" else AI.LOG_IN_AVAILABLE
    if op == "reason":
        d.set_status("A", REASON if n % 2 else "break")
        return AI.CHOOSE_NOT_READY if agent.status != "offline" else AI.LOG_IN_NOT_READY
    if op in ("logout", "force"):
        d.logout("A", force=op == "force")
        return AI.LOG_OUT
    if op == "arrive":
        d.arrive(f"c{n}", "q")
        return None
    # work: move the agent's first contact along (answer, end, finish wrap-up)
    for cid, state in sorted(agent.contacts.items()):
        if state == "offered":
            d.accept("A", cid)
        elif state == "connected":
            d.end("A", cid)
        elif state == "wrap_up":
            d.complete_wrapup("A", cid)
        break
    return None


def _walk(ops: list[str]) -> set[tuple[StatusKind, AgentInput]]:
    d = _world()
    seen: set[tuple[StatusKind, AgentInput]] = set()
    for n, op in enumerate(ops):
        d.at(d.now + 1.0)
        before = d.engine.agent("A")
        kind = status_kind(before.status)
        try:
            event = _step(d, op, n)
        except E.RoutingError:
            after = d.engine.agent("A")
            assert (after.status, after.next_status) == (before.status, before.next_status)
            continue
        after = d.engine.agent("A")
        d.engine.check_invariants()
        if event is not None:
            target = agent_next(kind, event)
            assert target is not None, (kind, event)
            seen.add((kind, event))
            if after.next_status is None and (after.status != before.status or not after.contacts):
                assert status_kind(after.status) is target, (kind, event, after)
            else:
                # Deferred while busy: nothing moved yet, the next status is pending.
                assert event in DEFERRED_WHILE_BUSY or after.status == before.status
        elif after.status != before.status:
            # A contact finished and the pending status took effect: the deferred move.
            assert before.next_status == after.status
            deferred = AI.LOG_OUT if after.status == "offline" else AI.CHOOSE_NOT_READY
            assert agent_next(kind, deferred) is status_kind(after.status)
    return seen


def test_a_long_random_walk_makes_every_move_of_the_table() -> None:
    rng = random.Random(7)
    seen = _walk([rng.choice(OPS) for _ in range(3000)])
    assert seen == set(AGENT_TRANSITIONS)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(OPS), max_size=60))
def test_random_walks_change_status_only_by_the_table(ops: list[str]) -> None:
    _walk(ops)
