"""Reading the engine: snapshots, waiting lists, ``explain`` and the invariant check."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from routing import errors
from routing.core import (
    _CONSULT_SLOTS,
    _OFFERED,
    _QUEUED,
    _S_CONNECTED,
    _S_HELD,
    _S_OFFERED,
    EngineCore,
)
from routing.model import (
    AVAILABLE,
    OFFLINE,
    Channel,
    ContactState,
    QueueConfig,
)
from routing.records import (
    AgentSnapshot,
    ContactSnapshot,
    Explanation,
    _Contact,
)
from routing.transitions import (
    SlotState,
)


class Reading(EngineCore):
    """Read-only views of the engine state."""

    def agent(self, agent_id: str) -> AgentSnapshot:
        a = self._agent(agent_id)
        return AgentSnapshot(
            id=a.id,
            status=a.status,
            activity=a.activity.value,
            next_status=a.next_status,
            status_since=a.status_since,
            activity_since=a.activity_since,
            contacts={cid: s.state.value for cid, s in a.slots.items()},
            in_use={ch.value: n for ch, n in a.in_use.items() if n},
            skills=dict(a.skills),
            team=a.profile.team,
        )

    def agents(self) -> Iterable[AgentSnapshot]:
        return [self.agent(a) for a in self._agents]

    def contact(self, contact_id: str) -> ContactSnapshot:
        c = self._contact(contact_id)
        return ContactSnapshot(
            id=c.id,
            state=c.state.value,
            queue_id=c.queue.config.id,
            channel=c.channel.value,
            priority=c.priority,
            step=c.queue.steps[c.step_index].name,
            agent_id=c.agent_id,
            enqueued_at=c.enqueued_at,
            arrived_at=c.arrived_at,
            data=dict(c.data),
        )

    def contacts(self) -> list[ContactSnapshot]:
        return [self.contact(c) for c in self._contacts]

    def waiting(self, queue_id: str | None = None) -> list[str]:
        """Waiting contact ids in the order they would be served within each group."""
        found = [
            c
            for c in self._contacts.values()
            if c.state is _QUEUED and (queue_id is None or c.queue.config.id == queue_id)
        ]
        found.sort(
            key=lambda c: (c.queue.aging_per_s * c.enqueued_at - c.priority, c.enqueued_at, c.seq)
        )
        return [c.id for c in found]

    def queue_ids(self) -> list[str]:
        return list(self._queues)

    def queue_config(self, queue_id: str) -> QueueConfig:
        queue = self._queues.get(queue_id)
        if queue is None:
            raise errors.UnknownQueue(f"queue {queue_id!r} does not exist")
        return queue.config

    def explain(self, contact_id: str, now: float) -> Explanation:
        """Why a contact went to its agent, or why it is still waiting."""
        c = self._contact(contact_id)
        group = c.group if c.state is _QUEUED else None
        if group is None:
            group = self._group_for(c)
        by_activity: dict[str, int] = {}
        logged_in = 0
        for aid in group.eligible:
            a = self._agents[aid]
            if a.status == OFFLINE and not a.slots:
                continue
            logged_in += 1
            label = a.activity.value if a.status == AVAILABLE else f"status:{a.status}"
            by_activity[label] = by_activity.get(label, 0) + 1
        position: int | None = None
        if c.state is _QUEUED:
            mine = (c.queue.aging_per_s * c.enqueued_at - c.priority, c.enqueued_at, c.seq)
            position = 1 + sum(
                1
                for e in group.heap
                if e[:3] < mine
                and (o := self._contacts.get(e[4])) is not None
                and o.token == e[3]
                and o.group is group
            )
        step = c.queue.steps[c.step_index]
        reqs = " or ".join(
            ", ".join(f"{s}>={lvl}" for s, lvl in req) or "no skills" for req in group.requirements
        )
        if c.state is _QUEUED:
            if logged_in == 0:
                why = f"no logged-in agent meets step '{step.name}' ({reqs})"
            elif not group.pool:
                why = (
                    f"{logged_in} agent(s) meet step '{step.name}' ({reqs}) but none is "
                    f"available: {by_activity}"
                )
            else:
                why = (
                    f"{len(group.pool)} routable agent(s) qualify but the step's expression "
                    f"{step.config.expression if step.config else ''!r} excludes them"
                )
            if position and position > 1:
                why += f"; {position - 1} contact(s) ahead in this step"
        else:
            d = self._decision_dict(c)
            why = (
                f"{c.state.value} with agent {c.agent_id}: chosen by {d.get('strategy')} "
                f"in step '{d.get('step')}' when the {str(d.get('trigger', '')).replace('_', ' ')}"
            )
        return Explanation(
            contact_id=c.id,
            state=c.state.value,
            queue_id=c.queue.config.id,
            step=step.name,
            step_index=c.step_index,
            priority=c.priority,
            wait_s=now - c.enqueued_at,
            position=position,
            eligible_logged_in=logged_in,
            eligible_routable=len(group.pool),
            eligible_by_activity=by_activity,
            agent_id=c.agent_id,
            decision=self._decision_dict(c) or None,
            summary=why,
        )

    def _decision_dict(self, c: _Contact) -> dict[str, Any]:
        if c.decision is None:
            return {}
        agent_id, step, trigger, routable, at = c.decision
        return {
            "agent_id": agent_id,
            "step": step,
            "trigger": trigger,
            "strategy": self.config.strategy,
            "selector": self.config.selector,
            "eligible_routable": routable,
            "at": at,
        }

    def check_invariants(self) -> None:
        """Internal consistency, for tests: raises AssertionError on the first breach."""
        offered_to: dict[str, str] = {}
        for agent in self._agents.values():
            # Nothing is seated with, offered or consulted to a logged-out agent, and a
            # log-out waits for the last contact: so an offline agent holds nothing.
            assert agent.status != OFFLINE or not agent.slots, agent.id
            for ch in Channel:
                used = sum(1 for s in agent.slots.values() if s.channel is ch)
                assert used == agent.in_use[ch], (agent.id, ch, used, agent.in_use[ch])
                cap = agent.profile.capacity.get(ch, 0)
                assert used <= cap, f"agent {agent.id} over capacity on {ch}: {used}>{cap}"
            for cid, slot in agent.slots.items():
                if slot.state in (_S_OFFERED, _S_CONNECTED, _S_HELD, SlotState.CONSULT_HOLD):
                    assert cid not in offered_to, f"contact {cid} held by two agents"
                    offered_to[cid] = agent.id
                elif slot.state in _CONSULT_SLOTS:
                    consult = self._consults.get(cid)
                    assert consult is not None, f"{agent.id}: {slot.state} on {cid} without consult"
                    assert agent.id in (consult.from_agent, consult.to_agent), (agent.id, cid)
            for channel, groups in agent.groups.items():
                routable = self._routable(agent, channel)
                for g in groups:
                    assert (agent.id in g.pool) == routable, (agent.id, g.gid, routable)
        for cid, consult in self._consults.items():
            contact = self._contacts[cid]
            a_slot = self._agents[consult.from_agent].slots[cid]
            b_slot = self._agents[consult.to_agent].slots[cid]
            if consult.conference:
                assert contact.state is ContactState.CONNECTED, cid
                assert a_slot.state is b_slot.state is SlotState.CONFERENCED, cid
                assert contact.agent_id in (consult.from_agent, consult.to_agent), cid
            else:
                assert contact.state is ContactState.HELD, cid
                assert a_slot.state is SlotState.CONSULT_HOLD, cid
                assert contact.agent_id == consult.from_agent, cid
                expected = SlotState.CONSULTING if consult.accepted else SlotState.CONSULT_OFFERED
                assert b_slot.state is expected, cid
        for contact in self._contacts.values():
            if contact.id in self._consults and self._consults[contact.id].conference:
                continue
            if contact.state in (_OFFERED, ContactState.CONNECTED, ContactState.HELD):
                assert offered_to.get(contact.id) == contact.agent_id, contact.id
            if contact.state is _QUEUED:
                assert contact.group is not None and contact.agent_id is None, contact.id
