"""Selection: the pools of routable agents, and picking the agent for a contact or the
contact for an agent.

Each routing group keeps an ordered pool of the routable agents that qualify for it. A new
contact takes the front of its group's pool; an agent who frees up compares only the heads
of the groups it qualifies for. Neither direction scans all agents or all contacts.
"""

from __future__ import annotations

import heapq
from typing import Any

from routing.core import (
    EngineCore,
)
from routing.model import (
    AVAILABLE,
    Channel,
)
from routing.pools import TierKey
from routing.records import (
    Outcome,
    _Agent,
    _Contact,
    _Group,
)


class Selection(EngineCore):
    """Agent pools and the routing decision in both directions."""

    def _pair_ok(self, group: _Group, agent: _Agent, contact: _Contact) -> bool:
        if contact.id in agent.slots:
            return False
        predicate = group.predicate
        return predicate is None or predicate(self._agent_view(agent), self._contact_view(contact))

    def _route_contact(
        self, contact: _Contact, now: float, out: Outcome, skip: str | None = None
    ) -> None:
        """A contact entered its group: give it the group's best routable agent, if any.

        Any agent in the pool has already passed over every older contact of the group
        (that is why it is still in the pool), so taking it does not break FCFS. ``skip``
        is an agent that has just been freed and has not done that yet (it missed this
        contact's offer): it chooses afterwards, by FCFS and priority, like any agent that
        frees up."""
        group = contact.group
        if group is None or not group.pool:
            return
        predicate = group.predicate
        agents = self._agents
        cid = contact.id
        if predicate is None:
            agent_id = group.pool.first()
            assert agent_id is not None
            agent = agents[agent_id]
            if cid not in agent.slots and agent_id != skip:
                self._offer(contact, agent, now, out, "contact_entered", group)
                return
        cview = self._contact_view(contact) if predicate is not None else None
        for agent_id in group.pool:
            if agent_id == skip:
                continue
            agent = agents[agent_id]
            # An agent still wrapping up this very contact (a chat transferred back into a
            # queue it serves) cannot take it again.
            if cid in agent.slots:
                continue
            if predicate is None or predicate(self._agent_view(agent), cview):
                self._offer(contact, agent, now, out, "contact_entered", group)
                return

    def _routable(self, agent: _Agent, channel: Channel) -> bool:
        if agent.status != AVAILABLE or agent.next_status is not None or agent.not_responding:
            return False
        in_use = agent.in_use
        if in_use[channel] >= agent.capacity.get(channel, 0):
            return False
        if len(agent.slots) == in_use[channel]:
            return True  # every contact in hand is on this channel
        return self._interruptible(agent, channel)

    @staticmethod
    def _interruptible(agent: _Agent, channel: Channel) -> bool:
        """Every other channel in use lets ``channel`` interrupt it."""
        for other, n in agent.in_use.items():
            if (
                n
                and other is not channel
                and channel not in agent.profile.interruptible_by.get(other, ())
            ):
                return False
        return True

    def _route_agent(self, agent: _Agent, now: float, out: Outcome) -> None:
        """The agent may have capacity: give it the best waiting contact it qualifies for,
        as many times as its capacity allows; then file it in the pools."""
        ready = agent.status == AVAILABLE and agent.next_status is None and not agent.not_responding
        if ready and agent.solo is not None and not agent.slots:
            # Room for exactly one contact: one look at the heads, at most one offer.
            chosen: _Contact | None = None
            chosen_rank: tuple[float, float, int] | None = None
            for group in agent.solo_groups:
                if not group.live:
                    continue
                contact = self._head_for(group, agent)
                if contact is None:
                    continue
                rank = self._rank(contact, now)
                if chosen_rank is None or rank < chosen_rank:
                    chosen_rank = rank
                    chosen = contact
            if chosen is not None:
                assert chosen.group is not None
                self._offer(chosen, agent, now, out, "agent_free", chosen.group)
            ready = False
        while ready:
            best: tuple[Any, ...] | None = None
            best_contact: _Contact | None = None
            for channel, groups in agent.groups.items():
                for group in groups:
                    if group.live:
                        break
                else:
                    continue  # nothing waits in this channel's groups
                if not self._routable(agent, channel):
                    continue
                for group in groups:
                    if not group.live:
                        continue
                    contact = self._head_for(group, agent)
                    if contact is None:
                        continue
                    rank = self._rank(contact, now)
                    if best is None or rank < best:
                        best = rank
                        best_contact = contact
            if best_contact is None:
                break
            assert best_contact.group is not None
            self._offer(best_contact, agent, now, out, "agent_free", best_contact.group)
        self._sync_pools(agent, now)
        self._touch_agent(agent, now, out)

    def _rank(self, contact: _Contact, now: float) -> tuple[float, float, int]:
        queue = contact.queue
        if self._cmu:
            score = queue.cmu_weight * (now - contact.enqueued_at)
            return (-float(contact.priority), -score, contact.seq)
        effective = contact.priority + queue.aging_per_s * (now - contact.enqueued_at)
        return (-effective, contact.enqueued_at, contact.seq)

    def _head_for(self, group: _Group, agent: _Agent) -> _Contact | None:
        heap = group.heap
        contacts = self._contacts
        while heap:
            entry = heap[0]
            contact = contacts.get(entry[4])
            if contact is not None and contact.token == entry[3] and contact.group is group:
                break
            heapq.heappop(heap)
        else:
            return None
        predicate = group.predicate
        if predicate is None and contact.id not in agent.slots:
            return contact
        # Pair-specific eligibility: the best entry this agent may take, in heap order.
        aview = self._agent_view(agent) if predicate is not None else None
        slots = agent.slots
        for entry in sorted(heap):
            contact = contacts.get(entry[4])
            if contact is None or contact.token != entry[3] or contact.group is not group:
                continue
            if contact.id in slots:
                continue
            if predicate is None or predicate(aview, self._contact_view(contact)):
                return contact
        return None

    def _pool_key(self, agent: _Agent, group: _Group) -> TierKey:
        channel = group.channel
        load = float(agent.in_use[channel])
        strategy = self.config.strategy
        if strategy == "longest_idle":
            return (load,)
        if strategy == "most_skilled":
            prof = agent.skills.get(group.primary_skill, 0) if group.primary_skill else 0
            return (load, -float(prof))
        if strategy == "least_occupied":
            return (load, agent.handled_s)
        if strategy == "round_robin":
            return (load, agent.last_offer_at)
        weights = self.config.blend
        since = agent.pooled.get(channel, 0.0)
        prof = agent.skills.get(group.primary_skill, 0) if group.primary_skill else 0
        return (
            load,
            weights.idle * since / 60.0
            - weights.skill * prof
            + weights.occupancy * agent.handled_s / 3600.0,
        )

    def _sync_pools(self, agent: _Agent, now: float) -> None:
        pooled = agent.pooled
        ready = agent.status == AVAILABLE and agent.next_status is None and not agent.not_responding
        in_use = agent.in_use
        busy = len(agent.slots)
        for channel, cap in agent.capacity.items():
            load = in_use[channel]
            # _routable, inlined: this runs on every change of every agent.
            if ready and load < cap and (busy == load or self._interruptible(agent, channel)):
                if channel in pooled:
                    if agent.pooled_load.get(channel, 0) == load:
                        continue  # already filed under the same key
                else:
                    pooled[channel] = now
                if load:
                    agent.pooled_load[channel] = load
                else:
                    agent.pooled_load.pop(channel, None)
                groups = agent.groups.get(channel)
                if not groups:
                    continue
                agent_id = agent.id
                if groups[0].fifo:
                    # Every group of a channel has the same kind of pool. Assigning to a
                    # key already there keeps its place, as FifoPool.place does.
                    for group in groups:
                        group.members[agent_id] = None
                elif self._shared_key:
                    key = self._pool_key(agent, groups[0])
                    for group in groups:
                        group.pool.place(agent_id, key)
                else:
                    for group in groups:
                        group.pool.place(agent_id, self._pool_key(agent, group))
            elif channel in pooled:
                self._unpool(agent, channel)

    def _unpool(self, agent: _Agent, channel: Channel) -> None:
        del agent.pooled[channel]
        agent.pooled_load.pop(channel, None)
        groups = agent.groups.get(channel)
        if not groups:
            return
        agent_id = agent.id
        if groups[0].fifo:
            for group in groups:
                group.members.pop(agent_id, None)
        else:
            for group in groups:
                group.pool.remove(agent_id)
