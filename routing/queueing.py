"""Contacts in queues: arrival, the group heaps, routing steps, max wait and starvation,
abandon.

Waiting contacts live in *routing groups* (queue, routing step, extra skills); each group
keeps a heap of its contacts in FCFS-within-priority order.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable

from routing import errors
from routing.core import (
    _CI_ABANDON,
    _CI_FLOW_OUT,
    _CI_REQUEUE,
    _CONTACT_TIMERS,
    _INBOUND,
    _OFFERED,
    _QUEUE_TIMERS,
    _QUEUED,
    _SI_RESCIND,
    _T_MAXWAIT,
    _T_STARVE,
    _T_STEP,
    EngineCore,
)
from routing.events import (
    ContactFlowedOut,
    ContactStepChanged,
    FlowOut,
    OfferRescinded,
    RescindOffer,
    new_contact_abandoned,
    new_contact_queued,
)
from routing.model import (
    OFFLINE,
    Channel,
    ContactSpec,
)
from routing.pools import AgentPool, FifoPool
from routing.records import (
    Outcome,
    Requirement,
    _Agent,
    _Contact,
    _Group,
    _meets,
    _merge,
    _new_contact,
    _Queue,
)


class Queueing(EngineCore):
    """Contacts entering, moving within and leaving queues."""

    def arrive(
        self, spec: ContactSpec, now: float, *, waiting_since: float | None = None
    ) -> Outcome:
        """A contact enters its queue (after IVR). It may be offered at once.

        ``waiting_since``: a contact that already waited in this queue since then (one
        re-queued by a restart): its wait, its place among the others and its queue
        timers (maximum wait, starvation, first step) count from then, not from ``now``,
        so a restart neither forgives a wait nor flatters the service level. Timers that
        are already due fire at once."""
        if waiting_since is not None and not waiting_since <= now:
            raise ValueError(f"waiting_since {waiting_since} is after now {now}")
        cid = spec.id
        if cid in self._contacts:
            raise errors.DuplicateContact(f"contact {cid} is already known")
        queue = self._queues.get(spec.queue_id)
        if queue is None:
            raise errors.UnknownQueue(
                f"queue {spec.queue_id!r} does not exist; known queues: {sorted(self._queues)}"
            )
        skills = spec.skills
        extra: Requirement = ()
        if skills:
            for name, level in skills.items():
                if not 1 <= level <= 10:
                    raise errors.IllegalTransition(f"required proficiency of {name!r} must be 1-10")
            extra = tuple(sorted(skills.items()))
        base = spec.priority
        priority = queue.priority if base is None else base
        arrived_at = spec.arrived_at
        data = spec.data
        channel = spec.channel or queue.channel
        self._seq += 1
        contact = _new_contact(
            cid,
            channel,
            spec.direction,
            queue,
            priority,
            base,
            extra,
            dict(data) if data else {},
            now if arrived_at is None else arrived_at,
            now if waiting_since is None else waiting_since,
            self._seq,
        )
        self._contacts[cid] = contact
        return self._admit(contact, now, waiting_since)

    def arrive_plain(self, contact_id: str, queue_id: str, now: float) -> Outcome:
        """``arrive`` for a contact that is nothing but an id and a queue (inbound, the
        queue's channel and priority, no extra skills or data): the simulator's callers,
        spared building and validating a ContactSpec each."""
        if contact_id in self._contacts:
            raise errors.DuplicateContact(f"contact {contact_id} is already known")
        queue = self._queues.get(queue_id)
        if queue is None:
            raise errors.UnknownQueue(
                f"queue {queue_id!r} does not exist; known queues: {sorted(self._queues)}"
            )
        self._seq += 1
        contact = _new_contact(
            contact_id,
            queue.channel,
            _INBOUND,
            queue,
            queue.priority,
            None,
            (),
            {},
            now,
            now,
            self._seq,
        )
        self._contacts[contact_id] = contact
        return self._admit(contact, now)

    def _admit(self, contact: _Contact, now: float, since: float | None = None) -> Outcome:
        """A new contact enters its queue: offered at once if it can be, else it waits
        (``since``: see ``arrive``'s ``waiting_since``)."""
        out = Outcome([], [])
        group: _Group | None = None
        queue = contact.queue
        cid = contact.id
        channel = contact.channel
        if queue.simple and not contact.extra and channel is queue.channel:
            # What _enqueue does for a fresh entry, for a queue without steps or timers.
            out.events.append(
                new_contact_queued(
                    now,
                    cid,
                    queue.id,
                    channel,
                    contact.priority,
                    now if since is None else since,
                    queue.default_step,
                )
            )
            group = queue.plain_groups.get(0)
        else:
            self._enqueue(contact, now, out, fresh=True, push=False, since=since)
        if group is None:
            group = self._group_for(contact)
        # A contact that meets a routable agent at once never enters the heap: pushing it
        # and taking it out again would leave the same order behind.
        if group.predicate is None:
            agent_id: str | None = None
            if group.fifo:
                members = group.members
                if members:
                    agent_id = next(iter(members))
            elif group.pool:
                agent_id = group.pool.first()
            if agent_id is not None:
                agent = self._agents[agent_id]
                if cid not in agent.slots:
                    self._offer(contact, agent, now, out, "contact_entered", group)
                    return out
        self._push(contact)
        self._route_contact(contact, now, out)
        return out

    def _enqueue(
        self,
        contact: _Contact,
        now: float,
        out: Outcome,
        fresh: bool,
        push: bool = True,
        since: float | None = None,
    ) -> None:
        """Put a contact into its group's heap (unless not ``push``: the caller does).
        ``fresh``: a new entry into the queue (new position, steps and timers start over,
        counted from ``since`` when given: see ``arrive``); otherwise it returns to its old
        place."""
        queue = contact.queue
        if fresh:
            start = now if since is None else since
            contact.direct = False
            self._seq += 1
            contact.seq = self._seq
            contact.enqueued_at = start
            contact.step_index = 0
            # Step priority changes belong to the queue the contact leaves.
            base = contact.base_priority
            contact.priority = queue.priority if base is None else base
            if queue.steps[0].config is not None:
                self._enter_step(contact, now, out, start)
            cfg = queue.config
            out.events.append(
                new_contact_queued(
                    now,
                    contact.id,
                    queue.id,
                    contact.channel,
                    contact.priority,
                    start,
                    queue.steps[contact.step_index].name,
                )
            )
            if cfg.max_wait is not None:
                contact.maxwait_at = start + cfg.max_wait.seconds
                self._start_timer(contact, _T_MAXWAIT, contact.maxwait_at, out)
            else:
                contact.maxwait_at = None
            if cfg.starvation_s is not None:
                self._start_timer(contact, _T_STARVE, start + cfg.starvation_s, out)
        if push:
            self._push(contact)

    def _push(self, contact: _Contact) -> None:
        group = self._group_for(contact)
        contact.group = group
        contact.token += 1
        key0 = contact.queue.aging_per_s * contact.enqueued_at - contact.priority
        heapq.heappush(
            group.heap, (key0, contact.enqueued_at, contact.seq, contact.token, contact.id)
        )
        group.live += 1

    def _unqueue(self, contact: _Contact) -> None:
        """Take a contact out of its heap (lazily: its entry goes stale)."""
        group = contact.group
        if group is not None:
            group.live -= 1
            contact.token += 1
            contact.group = None
            if group.live == 0:
                group.heap.clear()

    def _enter_step(
        self, contact: _Contact, now: float, out: Outcome, since: float | None = None
    ) -> None:
        """Apply the current step, skipping steps whose skip_if holds; start its timer
        (counted from ``since``, when the step began before ``now``)."""
        queue = contact.queue
        while True:
            step = queue.steps[contact.step_index]
            cfg = step.config
            if cfg is not None and cfg.skip_if and contact.step_index + 1 < len(queue.steps):
                group = self._group_for(contact)
                # Eligible includes the step's expression for this very contact, so a
                # preferred-agent step is skipped when that agent is not there.
                if cfg.skip_if == "no_eligible_available":
                    candidates: Iterable[str] = group.pool
                else:
                    candidates = (a for a in group.eligible if self._agents[a].status != OFFLINE)
                skip = not any(self._pair_ok(group, self._agents[a], contact) for a in candidates)
                if skip:
                    contact.step_index += 1
                    continue
            break
        if cfg is not None:
            if cfg.priority_change:
                contact.priority += cfg.priority_change
            if cfg.timeout_s is not None and contact.step_index + 1 < len(queue.steps):
                began = now if since is None else since
                self._start_timer(contact, _T_STEP, began + cfg.timeout_s, out)

    @staticmethod
    def _join(agent: _Agent, group: _Group) -> None:
        groups = agent.groups.get(group.channel)
        if groups is None:
            groups = agent.groups[group.channel] = []
        groups.append(group)
        if group.channel is agent.solo:
            agent.solo_groups = groups

    def _qualifies(self, agent: _Agent, group: _Group) -> bool:
        if agent.capacity.get(group.channel, 0) <= 0:
            return False
        return any(_meets(agent.skills, req) for req in group.requirements)

    def _group_for(self, contact: _Contact) -> _Group:
        queue = contact.queue
        plain = not contact.extra and contact.channel is queue.channel
        if plain:
            found = queue.plain_groups.get(contact.step_index)
            if found is not None:
                return found
        key = (queue.id, contact.step_index, contact.channel, contact.extra)
        group = self._groups.get(key)
        if group is None:
            group = self._make_group(queue, contact.step_index, contact.channel, contact.extra)
            self._groups[key] = group
        if plain:
            queue.plain_groups[contact.step_index] = group
        return group

    def _make_group(
        self, queue: _Queue, step_index: int, channel: Channel, extra: Requirement
    ) -> _Group:
        step = queue.steps[step_index]
        cfg = step.config
        base = (
            dict(cfg.skills)
            if cfg is not None and cfg.skills is not None
            else dict(queue.config.skills)
        )
        own = _merge(base, extra)
        if cfg is not None and cfg.min_proficiency_delta:
            own = {k: max(1, v + cfg.min_proficiency_delta) for k, v in own.items()}
        requirements: list[Requirement] = [tuple(sorted(own.items()))]
        if cfg is not None:
            for fb in cfg.fallback_queues:
                fb_skills = _merge(dict(self._queues[fb].config.skills), extra)
                requirements.append(tuple(sorted(fb_skills.items())))
        primary = next(iter(own), None)
        # Voice is exclusive, so under longest-idle every agent in a voice pool has the same
        # key and the pool is a plain FIFO.
        fifo = self.config.strategy == "longest_idle" and channel is Channel.VOICE
        members: dict[str, None] = {}
        group = _Group(
            gid=len(self._groups),
            queue=queue,
            step_index=step_index,
            channel=channel,
            requirements=tuple(requirements),
            primary_skill=primary,
            predicate=step.predicate,
            pool=FifoPool(members) if fifo else AgentPool(),
            fifo=fifo,
            members=members,
            step_name=step.name,
        )
        # A new group is rare (bounded by queues x steps); scanning agents once here is
        # what lets every later decision avoid it.
        routable: list[tuple[float, _Agent]] = []
        for agent in self._agents.values():
            if self._qualifies(agent, group):
                group.eligible.add(agent.id)
                self._join(agent, group)
                since = agent.pooled.get(channel)
                if since is not None:
                    routable.append((since, agent))
        routable.sort(key=lambda pair: pair[0])
        for _, agent in routable:
            group.pool.add(agent.id, self._pool_key(agent, group))
        return group

    def abandon(self, contact_id: str, now: float) -> Outcome:
        contact = self._contact(contact_id)
        if contact.state not in (_QUEUED, _OFFERED):
            raise errors.IllegalTransition(
                f"contact {contact_id} is {contact.state.value}; only a waiting or offered "
                "contact can be abandoned"
            )
        out = Outcome([], [])
        agent: _Agent | None = None
        if contact.state is _OFFERED:
            assert contact.agent_id is not None
            agent = self._agents[contact.agent_id]
            slot = agent.slots[contact_id]
            self._apply_slot(agent, slot, _SI_RESCIND)
            self._free_slot(agent, slot)
            out.commands.append(
                RescindOffer(contact_id=contact_id, agent_id=agent.id, reason="caller_left")
            )
            out.events.append(
                OfferRescinded(
                    ts=now,
                    contact_id=contact_id,
                    agent_id=agent.id,
                    queue_id=contact.queue.config.id,
                    reason="caller_left",
                )
            )
        self._transition(contact, _CI_ABANDON)
        self._unqueue(contact)
        for kind in _CONTACT_TIMERS:
            self._cancel_timer(contact, kind, out)
        out.events.append(
            new_contact_abandoned(
                now, contact_id, contact.queue.id, now - contact.enqueued_at, not contact.direct
            )
        )
        contact.agent_id = None
        self._forget(contact)
        if agent is not None:
            self._after_release(agent, now, out)
        return out

    def _flow(self, contact: _Contact, now: float, out: Outcome) -> None:
        """Max wait reached while queued: flow out, or overflow to another queue."""
        cfg = contact.queue.config
        assert cfg.max_wait is not None
        self._unqueue(contact)
        for kind in _QUEUE_TIMERS:
            self._cancel_timer(contact, kind, out)
        out.events.append(
            ContactFlowedOut(
                ts=now,
                contact_id=contact.id,
                queue_id=cfg.id,
                reason="max_wait" if cfg.max_wait.action == "flow_out" else "overflow",
                target=cfg.max_wait.target,
                wait_s=now - contact.enqueued_at,
            )
        )
        if cfg.max_wait.action == "overflow":
            self._transition(contact, _CI_REQUEUE)
            assert cfg.max_wait.target is not None
            contact.queue = self._queues[cfg.max_wait.target]
            self._enqueue(contact, now, out, fresh=True)
            self._route_contact(contact, now, out)
            return
        self._transition(contact, _CI_FLOW_OUT)
        out.commands.append(
            FlowOut(
                contact_id=contact.id,
                queue_id=cfg.id,
                target=cfg.max_wait.target,
                reason="max_wait",
            )
        )
        self._forget(contact)

    def _next_step(self, contact: _Contact, now: float, out: Outcome) -> None:
        queue = contact.queue
        if contact.step_index + 1 >= len(queue.steps):
            return
        queued = contact.state is _QUEUED
        if queued:
            self._transition(contact, _CI_REQUEUE)
            self._unqueue(contact)
        contact.step_index += 1
        self._enter_step(contact, now, out)
        out.events.append(
            ContactStepChanged(
                ts=now,
                contact_id=contact.id,
                queue_id=queue.config.id,
                step=queue.steps[contact.step_index].name,
                priority=contact.priority,
                reason="step_timeout",
            )
        )
        if queued:
            self._push(contact)
            self._route_contact(contact, now, out)

    def _raise_priority(self, contact: _Contact, priority: int, now: float, out: Outcome) -> None:
        if contact.priority >= priority:
            return
        self._transition(contact, _CI_REQUEUE)
        self._unqueue(contact)
        contact.priority = priority
        out.events.append(
            ContactStepChanged(
                ts=now,
                contact_id=contact.id,
                queue_id=contact.queue.config.id,
                step=contact.queue.steps[contact.step_index].name,
                priority=priority,
                reason="starvation",
            )
        )
        self._push(contact)
        self._route_contact(contact, now, out)

    # ------------------------------------------------------------------ timers

    def step_timed_out(self, contact_id: str, gen: int, now: float) -> Outcome:
        """``TimerKind.STEP`` fired: the contact moves on to its queue's next step."""
        out = Outcome([], [])
        contact = self._fired(contact_id, _T_STEP, gen)
        if contact is not None:
            self._next_step(contact, now, out)
        return out

    def max_wait_reached(self, contact_id: str, gen: int, now: float) -> Outcome:
        """``TimerKind.MAXWAIT`` fired: a waiting contact flows out or overflows. One on
        offer is left to its offer (a missed offer sends it out then)."""
        out = Outcome([], [])
        contact = self._fired(contact_id, _T_MAXWAIT, gen)
        if contact is not None and contact.state is _QUEUED:
            self._flow(contact, now, out)
        return out

    def starved(self, contact_id: str, gen: int, now: float) -> Outcome:
        """``TimerKind.STARVE`` fired: the contact goes to the top priority."""
        out = Outcome([], [])
        contact = self._fired(contact_id, _T_STARVE, gen)
        if contact is None:
            return out
        if contact.state is _QUEUED:
            self._raise_priority(contact, self.config.starvation_priority, now, out)
        elif contact.state is _OFFERED:
            # It goes back to the queue at the top if this offer is not taken.
            contact.priority = max(contact.priority, self.config.starvation_priority)
        return out
