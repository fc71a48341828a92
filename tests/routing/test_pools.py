"""Ordered agent pools: tier order first, then the order agents entered (longest idle)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routing.pools import AgentPool, FifoPool


def test_empty_pool() -> None:
    for pool in (AgentPool(), FifoPool()):
        assert len(pool) == 0
        assert pool.first() is None
        assert list(pool) == []
        assert "a" not in pool
        pool.remove("a")  # removing an absent agent is harmless
        assert len(pool) == 0


def test_tiers_then_entry_order() -> None:
    pool = AgentPool()
    pool.add("late_low", (1.0,))
    pool.add("a", (0.0,))
    pool.add("b", (0.0,))
    pool.add("high", (-5.0,))
    assert list(pool) == ["high", "a", "b", "late_low"]
    assert pool.first() == "high"
    assert len(pool) == 4 and "a" in pool


def test_multi_part_keys_sort_lexicographically() -> None:
    pool = AgentPool()
    pool.add("x", (1.0, -9.0))
    pool.add("y", (0.0, 3.0))
    pool.add("z", (0.0, -3.0))
    assert list(pool) == ["z", "y", "x"]


def test_place_keeps_an_unchanged_agent_in_line_and_moves_a_changed_one() -> None:
    pool = AgentPool()
    for a in "abc":
        pool.add(a, (0.0,))
    pool.place("a", (0.0,))
    assert list(pool) == ["a", "b", "c"]
    pool.place("a", (1.0,))
    assert list(pool) == ["b", "c", "a"]
    pool.place("a", (0.0,))  # back to the tier, but at its end
    assert list(pool) == ["b", "c", "a"]
    pool.place("d", (-1.0,))  # place adds a new agent
    assert list(pool) == ["d", "b", "c", "a"]


def test_add_again_moves_to_the_back_of_its_tier() -> None:
    pool = AgentPool()
    for a in "abc":
        pool.add(a, (0.0,))
    pool.add("a", (0.0,))
    assert list(pool) == ["b", "c", "a"]
    assert len(pool) == 3


def test_remove_drops_empty_tiers() -> None:
    pool = AgentPool()
    pool.add("a", (0.0,))
    pool.add("b", (1.0,))
    pool.remove("a")
    assert pool.first() == "b"
    pool.remove("b")
    assert pool.first() is None and len(pool) == 0
    pool.add("c", (0.0,))
    assert list(pool) == ["c"]


def test_fifo_pool_is_entry_order() -> None:
    pool = FifoPool()
    for a in "abc":
        pool.add(a, (7.0,))
    assert list(pool) == ["a", "b", "c"]
    pool.place("a", (99.0,))  # keys do not matter; present agents keep their place
    assert list(pool) == ["a", "b", "c"]
    pool.add("a", (0.0,))  # add re-enters at the back
    assert list(pool) == ["b", "c", "a"]
    pool.remove("c")
    assert list(pool) == ["b", "a"] and pool.first() == "b" and len(pool) == 2
    pool.place("z", (0.0,))
    assert list(pool) == ["b", "a", "z"]


Op = tuple[str, str, float]
ops = st.lists(
    st.tuples(
        st.sampled_from(["add", "place", "remove"]),
        st.sampled_from(list("abcdef")),
        st.sampled_from([0.0, 1.0, 2.0, -1.5]),
    ),
    max_size=60,
)


def _model(history: list[Op]) -> list[str]:
    """Reference: the sort key, then the time the agent (re-)entered its current tier."""
    keys: dict[str, float] = {}
    entered: dict[str, int] = {}
    for t, (op, agent, key) in enumerate(history):
        if op == "remove":
            keys.pop(agent, None)
            entered.pop(agent, None)
        elif op == "add" or keys.get(agent) != key:
            keys[agent] = key
            entered[agent] = t
    return sorted(keys, key=lambda a: (keys[a], entered[a]))


@settings(max_examples=200, deadline=None, database=None, derandomize=True)
@given(ops)
def test_agent_pool_matches_a_reference_model(history: list[Op]) -> None:
    pool = AgentPool()
    for i, (op, agent, key) in enumerate(history):
        if op == "remove":
            pool.remove(agent)
        else:
            getattr(pool, op)(agent, (key,))
        assert list(pool) == _model(history[: i + 1])
    assert list(pool) == _model(history)
    assert len(pool) == len(_model(history))
    assert pool.first() == (_model(history) or [None])[0]
    for a in "abcdef":
        assert (a in pool) == (a in _model(history))


@settings(max_examples=200, deadline=None, database=None, derandomize=True)
@given(ops)
def test_fifo_pool_matches_a_reference_model(history: list[Op]) -> None:
    pool = FifoPool()
    order: list[str] = []
    for op, agent, key in history:
        if op == "remove":
            pool.remove(agent)
            if agent in order:
                order.remove(agent)
        elif op == "add":
            pool.add(agent, (key,))
            if agent in order:
                order.remove(agent)
            order.append(agent)
        else:
            pool.place(agent, (key,))
            if agent not in order:
                order.append(agent)
        assert list(pool) == order
    assert pool.first() == (order or [None])[0]


@pytest.mark.parametrize("cls", [AgentPool, FifoPool])
def test_pools_use_slots(cls: type) -> None:
    assert hasattr(cls, "__slots__")
    with pytest.raises(AttributeError):
        cls().extra = 1
