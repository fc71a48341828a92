"""Agents: registration, skills, and the agent's chosen status.

Status changes (log in, choose available or a reason code, log out, the next status taking
effect) all go through ``AGENT_TRANSITIONS`` in routing/transitions.py. What the agent is
*doing* (its activity) is derived elsewhere (``EngineCore._touch_agent``), never chosen.
"""

from __future__ import annotations

from routing import errors
from routing.core import (
    _CI_REQUEUE,
    _QUEUED,
    _S_CONNECTED,
    _S_HELD,
    _S_OFFERED,
    _S_WRAP_UP,
    EngineCore,
)
from routing.model import (
    AVAILABLE,
    OFFLINE,
    AgentProfile,
    Channel,
)
from routing.records import (
    Outcome,
    _Agent,
    _Contact,
    _solo_channel,
)
from routing.transitions import (
    AGENT_TRANSITIONS,
    DEFERRED_WHILE_BUSY,
    AgentInput,
    StatusKind,
    status_kind,
)

_AGENT_TRANSITIONS = AGENT_TRANSITIONS
_DEFERRED_WHILE_BUSY = DEFERRED_WHILE_BUSY
_AI_LOG_IN_AVAILABLE = AgentInput.LOG_IN_AVAILABLE
_AI_LOG_IN_NOT_READY = AgentInput.LOG_IN_NOT_READY
_AI_CHOOSE_AVAILABLE = AgentInput.CHOOSE_AVAILABLE
_AI_CHOOSE_NOT_READY = AgentInput.CHOOSE_NOT_READY
_AI_LOG_OUT = AgentInput.LOG_OUT


class AgentStatus(EngineCore):
    """Registering agents, their skills and their status."""

    def add_agent(self, profile: AgentProfile, now: float = 0.0) -> Outcome:
        """Register an agent (logged out). Registering again replaces its profile; a
        logged-in agent stays logged in and is routed under the new profile."""
        out = Outcome([], [])
        existing = self._agents.get(profile.id)
        if existing is not None:
            existing.profile = profile
            existing.capacity = {ch: n for ch, n in profile.capacity.items() if n > 0}
            existing.solo = _solo_channel(existing.capacity)
            for ch in existing.capacity:
                existing.in_use.setdefault(ch, 0)
            self._set_skills(existing, dict(profile.skills))
            if existing.status != OFFLINE:
                self._route_agent(existing, now, out)
            return out
        agent = _Agent(
            id=profile.id,
            profile=profile,
            skills=dict(profile.skills),
            capacity={ch: n for ch, n in profile.capacity.items() if n > 0},
        )
        agent.in_use = {ch: 0 for ch in Channel}
        agent.solo = _solo_channel(agent.capacity)
        self._agents[profile.id] = agent
        for group in self._groups.values():
            if self._qualifies(agent, group):
                group.eligible.add(agent.id)
                self._join(agent, group)
        return out

    def set_skills(self, agent_id: str, skills: dict[str, int], now: float) -> Outcome:
        """Change skills; takes effect on the next routing decision."""
        agent = self._agent(agent_id)
        for name, level in skills.items():
            if not 1 <= level <= 10:
                raise errors.IllegalTransition(
                    f"proficiency of {name!r} is {level}; use a whole number 1-10"
                )
        out = Outcome([], [])
        self._set_skills(agent, dict(skills))
        self._route_agent(agent, now, out)
        return out

    def _set_skills(self, agent: _Agent, skills: dict[str, int]) -> None:
        for channel in list(agent.pooled):
            self._unpool(agent, channel)
        for groups in agent.groups.values():
            for g in groups:
                g.eligible.discard(agent.id)
        agent.groups = {}
        agent.solo_groups = []
        agent.skills = skills
        for group in self._groups.values():
            if self._qualifies(agent, group):
                group.eligible.add(agent.id)
                self._join(agent, group)

    # ------------------------------------------------------------------ status
    #
    # Every change of ``status`` goes through AGENT_TRANSITIONS (routing/transitions.py):
    # ``_status_target`` looks the input up and refuses what is not there; inputs in
    # DEFERRED_WHILE_BUSY only set the next status while contacts are in hand, and
    # ``_apply_next_status`` makes the table's move when the last one is done.

    def login(self, agent_id: str, now: float, status: str = AVAILABLE) -> Outcome:
        agent = self._agent(agent_id)
        event = _AI_LOG_IN_AVAILABLE if status == AVAILABLE else _AI_LOG_IN_NOT_READY
        self._status_target(agent, event)
        self._check_status(status)
        if status == OFFLINE:
            raise errors.InvalidStatus("log in to 'available' or a reason code, not 'offline'")
        out = Outcome([], [])
        agent.login_at = now
        self._move_status(agent, status, now)
        agent.not_responding = False
        agent.next_status = None
        self._route_agent(agent, now, out)
        return out

    def set_status(self, agent_id: str, status: str, now: float) -> Outcome:
        """The agent (or a supervisor) chooses a status. While the agent holds contacts, a
        not-ready status becomes the *next* status and applies when the last one is done.
        On a logged-out agent this is a log-in; ``offline`` is a log-out."""
        agent = self._agent(agent_id)
        self._check_status(status)
        if status == OFFLINE:
            return self.logout(agent_id, now)
        if agent.status == OFFLINE:
            return self.login(agent_id, now, status)
        event = _AI_CHOOSE_AVAILABLE if status == AVAILABLE else _AI_CHOOSE_NOT_READY
        self._status_target(agent, event)
        out = Outcome([], [])
        if event is _AI_CHOOSE_AVAILABLE:
            agent.not_responding = False
            agent.next_status = None
            self._move_status(agent, status, now)
        elif agent.slots and event in _DEFERRED_WHILE_BUSY:
            agent.next_status = status
        else:
            agent.next_status = None
            agent.not_responding = False
            self._move_status(agent, status, now)
        self._route_agent(agent, now, out)
        return out

    def logout(self, agent_id: str, now: float, force: bool = False) -> Outcome:
        """Log out. Pending offers go back to their queues at their original place. Contacts
        in hand stay with the agent until done (logout is then pending), unless ``force``,
        which puts them back in their queues too."""
        agent = self._agent(agent_id)
        self._status_target(agent, _AI_LOG_OUT)
        out = Outcome([], [])
        requeue: list[_Contact] = []
        # Pending logout first (log-out is deferred while busy), so that nothing freed below
        # is offered to this agent again.
        agent.next_status = OFFLINE
        if self._consults:
            self._logout_consults(agent, now, force, out)
        for cid, slot in list(agent.slots.items()):
            contact = self._contacts.get(cid)
            if contact is None or contact.agent_id != agent.id:
                if force and slot.state is _S_WRAP_UP:
                    self._finish_wrapup(agent, slot, now, out, None, None, timed_out=True)
                continue
            if slot.state is _S_OFFERED:
                self._rescind_offer(agent, contact, now, out)
                requeue.append(contact)
            elif force and slot.state in (_S_CONNECTED, _S_HELD):
                self._transition(contact, _CI_REQUEUE)
                # The agent's segment ends as with a transfer back to the queue, but with
                # no wrap-up: the agent is leaving.
                qid = contact.queue.config.id
                leg = self._transfer_out(agent, contact, slot, now, to_queue=qid, to_agent=None)
                out.events.extend(leg.events)
                contact.agent_id = None
                slot.since = now
                self._finish_wrapup(agent, slot, now, out, None, None, timed_out=True)
                self._enqueue(contact, now, out, fresh=True)
                requeue.append(contact)
            elif force and slot.state is _S_WRAP_UP:
                self._finish_wrapup(agent, slot, now, out, None, None, timed_out=True)
        if not agent.slots:
            # Releasing the last contact above may have applied the log-out already.
            if agent.next_status is not None:
                self._apply_next_status(agent, now)
            agent.not_responding = False
        self._sync_pools(agent, now)
        self._touch_agent(agent, now, out)
        for contact in requeue:
            if contact.state is _QUEUED:
                self._route_contact(contact, now, out)
        return out

    def _check_status(self, status: str) -> None:
        if status not in self._statuses:
            raise errors.InvalidStatus(
                f"unknown status {status!r}; use one of {sorted(self._statuses)}"
            )

    def _status_target(self, agent: _Agent, event: AgentInput) -> StatusKind:
        """The kind of status ``event`` leads to from the agent's, per AGENT_TRANSITIONS;
        a pair not in the table is refused (IllegalTransition) before anything changes."""
        target = _AGENT_TRANSITIONS.get((status_kind(agent.status), event))
        if target is None:
            if event is _AI_LOG_IN_AVAILABLE or event is _AI_LOG_IN_NOT_READY:
                raise errors.IllegalTransition(f"agent {agent.id} is already logged in")
            raise errors.IllegalTransition(f"agent {agent.id} is not logged in")
        return target

    @staticmethod
    def _move_status(agent: _Agent, status: str, now: float) -> None:
        # The table was consulted by the caller; a status chosen again keeps its start.
        if agent.status != status:
            agent.status = status
            agent.status_since = now

    def _apply_next_status(self, agent: _Agent, now: float) -> None:
        """The agent's last contact is done: its pending status (a reason code or offline)
        takes effect, as the table's move for the input that was deferred."""
        status = agent.next_status
        assert status is not None
        self._status_target(agent, _AI_LOG_OUT if status == OFFLINE else _AI_CHOOSE_NOT_READY)
        agent.status = status
        agent.status_since = now
        agent.next_status = None
