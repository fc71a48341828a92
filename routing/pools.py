"""Ordered pools of routable agents, one per routing group and channel.

A pool keeps agents in the order the strategy prefers, so that the best eligible agent for
a new contact is found at the front instead of by scanning every agent. Agents are grouped
in tiers (a sort key); within a tier, the one who entered first comes first, which is
longest-idle order because agents enter a pool when they become routable.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterator

TierKey = tuple[float, ...]


class AgentPool:
    __slots__ = ("_keys", "_order", "_tiers")

    def __init__(self) -> None:
        self._tiers: dict[TierKey, dict[str, None]] = {}
        self._order: list[TierKey] = []
        self._keys: dict[str, TierKey] = {}

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self._keys

    def add(self, agent_id: str, key: TierKey) -> None:
        keys = self._keys
        if agent_id in keys:
            self.remove(agent_id)
        tiers = self._tiers
        tier = tiers.get(key)
        if tier is None:
            tier = tiers[key] = {}
            insort(self._order, key)
        tier[agent_id] = None
        keys[agent_id] = key

    def place(self, agent_id: str, key: TierKey) -> None:
        """Add, or move if its key changed; an unchanged agent keeps its place in line."""
        old = self._keys.get(agent_id)
        if old == key:
            return
        if old is not None:
            self.remove(agent_id)
        tiers = self._tiers
        tier = tiers.get(key)
        if tier is None:
            tier = tiers[key] = {}
            insort(self._order, key)
        tier[agent_id] = None
        self._keys[agent_id] = key

    def remove(self, agent_id: str) -> None:
        key = self._keys.pop(agent_id, None)
        if key is None:
            return
        tier = self._tiers[key]
        del tier[agent_id]
        if not tier:
            del self._tiers[key]
            order = self._order
            if order[0] == key:
                del order[0]
            else:
                del order[bisect_left(order, key)]

    def __iter__(self) -> Iterator[str]:
        tiers = self._tiers
        for key in self._order:
            yield from tiers[key]

    def first(self) -> str | None:
        if not self._order:
            return None
        return next(iter(self._tiers[self._order[0]]))


class FifoPool:
    """Longest-idle order with one tier: a plain insertion-ordered dict, the cheapest pool.

    Used for single-capacity channels under the longest-idle strategy, where the sort key
    never differs between agents."""

    __slots__ = ("_d",)

    def __init__(self, members: dict[str, None] | None = None) -> None:
        # The engine may hand in the dict it fills and empties itself on its hot path.
        self._d: dict[str, None] = {} if members is None else members

    def __len__(self) -> int:
        return len(self._d)

    def __contains__(self, agent_id: object) -> bool:
        return agent_id in self._d

    def add(self, agent_id: str, key: TierKey) -> None:
        d = self._d
        d.pop(agent_id, None)
        d[agent_id] = None

    def place(self, agent_id: str, key: TierKey) -> None:
        if agent_id not in self._d:
            self._d[agent_id] = None

    def remove(self, agent_id: str) -> None:
        self._d.pop(agent_id, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._d)

    def first(self) -> str | None:
        return next(iter(self._d), None)


Pool = AgentPool | FifoPool
