"""Shared helpers for the routing-core tests: a minimal driver and state fingerprints.

The driver plays the part of the live server or the simulator: it calls the engine with an
explicit ``now``, keeps the timers the engine asks for (StartTimer adds one, CancelTimer
removes every pending one with that id) and fires them in time order when time advances.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest

from routing import (
    AgentProfile,
    ContactSpec,
    Engine,
    Outcome,
    QueueConfig,
    RoutingConfig,
)
from routing import errors as E
from routing.events import CancelTimer, Command, Event, StartTimer, TimerId

LIVE_STATES = ("queued", "offered", "connected", "held")


def engine_with(
    queues: Iterable[QueueConfig],
    agents: Iterable[AgentProfile] = (),
    **config: Any,
) -> Engine:
    engine = Engine(RoutingConfig(queues=tuple(queues), **config))
    for profile in agents:
        engine.add_agent(profile)
    return engine


@dataclass
class Driver:
    """Feeds an engine with time and fires the timers it asked for."""

    engine: Engine
    now: float = 0.0
    pending: list[tuple[float, int, TimerId]] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    _seq: int = 0

    # -- bookkeeping -------------------------------------------------------------------

    def record(self, out: Outcome) -> Outcome:
        self.events.extend(out.events)
        self.commands.extend(out.commands)
        for cmd in out.commands:
            if isinstance(cmd, StartTimer):
                self._seq += 1
                self.pending.append((cmd.at, self._seq, cmd.timer))
            elif isinstance(cmd, CancelTimer):
                self.pending = [p for p in self.pending if p[2] != cmd.timer]
        self.pending.sort()
        return out

    def at(self, t: float) -> Driver:
        """Advance to ``t``, firing every timer due on the way (in time order)."""
        assert t >= self.now, "time runs forward"
        while self.pending and self.pending[0][0] <= t:
            due, _, timer = self.pending.pop(0)
            self.now = max(self.now, due)
            self.record(self.engine.timer(timer, self.now))
        self.now = t
        return self

    def fire_next(self) -> Outcome | None:
        if not self.pending:
            return None
        due, _, timer = self.pending.pop(0)
        self.now = max(self.now, due)
        return self.record(self.engine.timer(timer, self.now))

    def pending_timers(self, kind: str | None = None) -> list[TimerId]:
        return [p[2] for p in self.pending if kind is None or p[2][0] == kind]

    # -- engine inputs at the driver's clock -------------------------------------------

    def call(self, method: str, *args: Any, **kwargs: Any) -> Outcome:
        fn: Callable[..., Outcome] = getattr(self.engine, method)
        return self.record(fn(*args, now=self.now, **kwargs))

    def arrive(self, cid: str, queue_id: str, **spec: Any) -> Outcome:
        return self.record(
            self.engine.arrive(ContactSpec(id=cid, queue_id=queue_id, **spec), self.now)
        )

    def login(self, agent_id: str, status: str = "available") -> Outcome:
        return self.record(self.engine.login(agent_id, self.now, status))

    def logout(self, agent_id: str, force: bool = False) -> Outcome:
        return self.record(self.engine.logout(agent_id, self.now, force=force))

    def set_status(self, agent_id: str, status: str) -> Outcome:
        return self.call("set_status", agent_id, status)

    def accept(self, agent_id: str, cid: str) -> Outcome:
        return self.call("accept", agent_id, cid)

    def reject(self, agent_id: str, cid: str) -> Outcome:
        return self.call("reject", agent_id, cid)

    def hold(self, agent_id: str, cid: str) -> Outcome:
        return self.call("hold", agent_id, cid)

    def resume(self, agent_id: str, cid: str) -> Outcome:
        return self.call("resume", agent_id, cid)

    def end(self, agent_id: str, cid: str) -> Outcome:
        return self.call("end", agent_id, cid)

    def hangup(self, cid: str) -> Outcome:
        return self.call("hangup", cid)

    def abandon(self, cid: str) -> Outcome:
        return self.call("abandon", cid)

    def complete_wrapup(self, agent_id: str, cid: str, disposition: str | None = None) -> Outcome:
        return self.call("complete_wrapup", agent_id, cid, disposition=disposition)

    def transfer_to_queue(self, agent_id: str, cid: str, queue_id: str) -> Outcome:
        return self.call("transfer_to_queue", agent_id, cid, queue_id)

    def transfer_to_agent(self, agent_id: str, cid: str, target: str) -> Outcome:
        return self.call("transfer_to_agent", agent_id, cid, target)

    def set_skills(self, agent_id: str, skills: dict[str, int]) -> Outcome:
        return self.call("set_skills", agent_id, skills)

    def consult(self, agent_id: str, cid: str, target: str) -> Outcome:
        return self.call("consult", agent_id, cid, target)

    def accept_consult(self, agent_id: str, cid: str) -> Outcome:
        return self.call("accept_consult", agent_id, cid)

    def reject_consult(self, agent_id: str, cid: str) -> Outcome:
        return self.call("reject_consult", agent_id, cid)

    def cancel_consult(self, agent_id: str, cid: str) -> Outcome:
        return self.call("cancel_consult", agent_id, cid)

    def complete_consult(self, agent_id: str, cid: str) -> Outcome:
        return self.call("complete_consult", agent_id, cid)

    def conference(self, agent_id: str, cid: str) -> Outcome:
        return self.call("conference", agent_id, cid)

    def leave_conference(self, agent_id: str, cid: str) -> Outcome:
        return self.call("leave_conference", agent_id, cid)

    # -- reading ------------------------------------------------------------------------

    def of_type(self, kind: type[Any]) -> list[Any]:
        return [e for e in (*self.events, *self.commands) if isinstance(e, kind)]


def offers_in(out: Outcome) -> list[tuple[str, str]]:
    """(contact, agent) of every Offer command of an outcome, in order."""
    return [(o.contact_id, o.agent_id) for o in out.offers()]


def events_of(out: Outcome, kind: type[Any]) -> list[Any]:
    return [e for e in out.events if isinstance(e, kind)]


def commands_of(out: Outcome, kind: type[Any]) -> list[Any]:
    return [c for c in out.commands if isinstance(c, kind)]


def fingerprint(engine: Engine, now: float) -> tuple[Any, ...]:
    """Everything the engine shows through its public reading API."""
    agents = sorted(engine.agents(), key=lambda a: a.id)
    contacts = sorted(engine.contacts(), key=lambda c: c.id)
    explained = [engine.explain(c.id, now) for c in contacts]
    waiting = {q: engine.waiting(q) for q in engine.queue_ids()}
    return (agents, contacts, explained, waiting, engine.waiting(), engine.decisions)


def assert_refused(
    driver: Driver,
    error: type[E.RoutingError] | tuple[type[E.RoutingError], ...],
    method: str,
    *args: Any,
    **kwargs: Any,
) -> E.RoutingError:
    """The input raises ``error`` and the engine looks exactly as before."""
    engine = driver.engine
    engine.check_invariants()
    before = fingerprint(engine, driver.now)
    fn = getattr(engine, method)
    with pytest.raises(error) as info:
        fn(*args, **kwargs)
    assert fingerprint(engine, driver.now) == before
    engine.check_invariants()
    return info.value


def drain(driver: Driver, dispositions: dict[str, str] | None = None) -> None:
    """Hang up everything still live, finish every wrap-up and let every timer run."""
    engine = driver.engine
    dispositions = dispositions or {}
    for _ in range(1000):
        live = sorted(c.id for c in engine.contacts() if c.state in LIVE_STATES)
        for cid in live:
            snap = engine.contact(cid)
            if snap.state in LIVE_STATES:
                driver.hangup(cid)
        wraps = sorted(
            (a.id, cid)
            for a in engine.agents()
            for cid, state in a.contacts.items()
            if state == "wrap_up"
        )
        for agent_id, cid in wraps:
            queue_of = _wrapup_queue(driver, agent_id, cid)
            driver.complete_wrapup(agent_id, cid, disposition=dispositions.get(queue_of))
        while driver.fire_next() is not None:
            pass
        busy = any(a.contacts for a in engine.agents())
        if not live and not wraps and not busy and not engine.contacts():
            return
    raise AssertionError("drain did not converge")


def _wrapup_queue(driver: Driver, agent_id: str, cid: str) -> str:
    """The queue whose wrap-up policy applies: that of the agent's last handling event."""
    from routing.events import ConferenceLeft, ContactEnded, ContactTransferred

    for ev in reversed(driver.events):
        if (
            isinstance(ev, ContactEnded | ContactTransferred | ConferenceLeft)
            and ev.contact_id == cid
            and ev.agent_id == agent_id
        ):
            assert ev.queue_id is not None
            return ev.queue_id
    raise AssertionError(f"no handling event for {agent_id}/{cid}")
