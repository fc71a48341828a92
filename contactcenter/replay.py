"""What the event log says the live state was: the fold that ``Acd.restore`` starts from.

``LogReplay.track`` is fed every stored event in seq order and keeps, per contact, where it
last was (queued, offered, connected or held with an agent, done), per agent its last
logged status, and the open wrap-ups (an agent's hold on a contact it ended or
transferred, until ``wrapup.completed``). It does no I/O and touches no engine; acd.py
turns the result into engine calls.

It also keeps the IVR sessions the log shows open (``ivr.started`` without a later exit:
``ivr.exited``, ``ivr.caller_left``, ``ivr.queue_failed``, ``ivr.ended``, or the
``contact.arrived`` of a tree's queue): those sessions lived only in the dead process's
memory, and ivr_runner.py resumes or ends them (``in_ivr``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from contactcenter.store.records import StoredEvent
from ivr.events import MASK
from routing import OFFLINE, Channel, ContactSpec
from routing.model import Direction

# contact states after which the contact still needs the engine
WAITING = frozenset({"queued", "offered"})
ASSIGNED = frozenset({"connected", "held"})


@dataclass
class ReplayedContact:
    state: str = "arrived"
    queue_id: str | None = None
    enqueued_at: float = 0.0
    arrival: dict[str, Any] = field(default_factory=dict)
    arrived_at: float | None = None
    agent_id: str | None = None
    """The agent it is connected to or held by (connected/held only)."""
    answered_at: float | None = None
    """When the current agent segment began (answer or origination)."""
    dialing: bool = False
    """An originated call whose callee has not answered (no ``dial.result`` yet)."""
    ivr: ReplayedIvr | None = None
    """Its IVR session, while the log shows one open."""
    call: dict[str, Any] = field(default_factory=dict)
    """A voice call that went to an IVR: ``ani`` and ``dnis`` (``ivr.call_arrived``)."""
    ivr_restarts: int = 0
    """How many restarts resumed its IVR (``ivr.restarted``)."""


@dataclass
class ReplayedIvr:
    """An IVR session the log shows open (no exit logged)."""

    tree: str
    channel: str
    purpose: str
    """``entry`` (before any queue) or ``survey`` (after the agent leg)."""
    started_at: float
    node: str | None = None
    """The last node it entered."""
    variables: dict[str, Any] = field(default_factory=dict)
    """Values collected so far, sensitive ones left out (they are masked in the log)."""


@dataclass
class ReplayedAgent:
    status: str = OFFLINE
    activity: str = "offline"
    next_status: str | None = None


@dataclass
class LogReplay:
    contacts: dict[str, ReplayedContact] = field(default_factory=dict)
    agents: dict[str, ReplayedAgent] = field(default_factory=dict)
    wrapups: dict[tuple[str, str], str] = field(default_factory=dict)
    """(agent id, contact id) -> the queue whose wrap-up policy applies; oldest first."""

    def track(self, e: StoredEvent) -> None:
        if e.type == "agent.state_changed" and e.agent_id is not None:
            self._agent(e)
        if e.contact_id is None:
            return
        c = self.contacts.setdefault(e.contact_id, ReplayedContact())
        d = e.data
        kind = e.type
        if kind.startswith("ivr."):
            self._ivr(c, e)
        elif kind == "contact.arrived":
            c.ivr = None  # a tree's queue: the session is over
            c.arrival = dict(d)
            c.arrived_at = e.ts
            c.queue_id = e.queue_id or c.queue_id
            c.state = "arrived" if c.queue_id is not None else "done"
        elif kind == "contact.queued":
            c.state, c.queue_id, c.enqueued_at = "queued", e.queue_id or c.queue_id, e.ts
            c.agent_id = None
        elif kind == "contact.offered":
            c.state = "offered"
        elif kind in ("offer.rejected", "offer.timed_out", "offer.rescinded"):
            c.state = "queued"
        elif kind in ("contact.answered", "contact.originated"):
            c.state, c.agent_id, c.answered_at = "connected", e.agent_id, e.ts
            c.queue_id = e.queue_id or c.queue_id
            c.dialing = kind == "contact.originated"
        elif kind == "contact.resumed":
            c.state = "connected"
        elif kind == "contact.held":
            c.state = "held"
        elif kind == "dial.result":
            c.dialing = False
        elif kind == "conference.started":
            c.state = "connected"  # the caller, on hold during the consult, joins the call
        elif kind == "conference.left":
            # the leaver wraps up its leg; the other agent keeps the caller
            if e.agent_id is not None and c.queue_id is not None:
                self.wrapups[(e.agent_id, e.contact_id)] = c.queue_id
            remaining = d.get("remaining")
            if isinstance(remaining, str) and remaining:
                c.agent_id = remaining
        elif kind == "contact.transferred":
            # the transferring agent wraps up; the contact moves on (queued or offered
            # events follow in the same batch)
            if e.agent_id is not None and e.queue_id is not None:
                self.wrapups[(e.agent_id, e.contact_id)] = e.queue_id
            c.agent_id = None
        elif kind == "contact.ended":
            if e.agent_id is not None and e.queue_id is not None:
                self.wrapups[(e.agent_id, e.contact_id)] = e.queue_id
            c.state, c.agent_id = "done", None
        elif kind in ("contact.abandoned", "contact.flowed_out"):
            # an overflow is followed by contact.queued in the new queue, which revives it
            c.state, c.agent_id = "done", None
        elif kind == "wrapup.completed" and e.agent_id is not None:
            self.wrapups.pop((e.agent_id, e.contact_id), None)

    @staticmethod
    def _ivr(c: ReplayedContact, e: StoredEvent) -> None:
        d, kind = e.data, e.type
        if kind == "ivr.call_arrived":
            c.call = {"ani": _text(d.get("ani")), "dnis": _text(d.get("dnis"))}
        elif kind == "ivr.started":
            # after the agent leg (contact.arrived seen) a session is the survey
            c.ivr = ReplayedIvr(
                tree=str(d.get("tree")),
                channel=str(d.get("channel")),
                purpose="survey" if c.arrival else "entry",
                started_at=e.ts,
                node=_text(d.get("node")),
            )
        elif c.ivr is None:
            if kind == "ivr.restarted":
                c.ivr_restarts += 1
        elif kind == "ivr.entered_node":
            c.ivr.node = _text(d.get("node")) or c.ivr.node
        elif kind == "ivr.collected":
            name, value = d.get("variable"), d.get("value")
            if isinstance(name, str) and not d.get("sensitive") and value != MASK:
                c.ivr.variables[name] = value
        elif kind == "ivr.restarted":
            c.ivr_restarts += 1  # the fresh session's ivr.started follows in its batch
        elif kind in ("ivr.exited", "ivr.caller_left", "ivr.queue_failed", "ivr.ended"):
            c.ivr = None

    def _agent(self, e: StoredEvent) -> None:
        assert e.agent_id is not None
        a = self.agents.setdefault(e.agent_id, ReplayedAgent())
        d = e.data
        a.status = _text(d.get("status")) or a.status
        a.activity = _text(d.get("activity")) or a.activity
        a.next_status = _text(d.get("next_status"))

    def waiting(self) -> list[tuple[str, ReplayedContact]]:
        """Contacts to put back into their queues, oldest first."""
        found = [(cid, c) for cid, c in self.contacts.items() if c.state in WAITING and c.queue_id]
        return sorted(found, key=lambda item: item[1].enqueued_at)

    def assigned(self) -> list[tuple[str, ReplayedContact]]:
        """Contacts to seat back with their agent, in the order they were answered."""
        found = [
            (cid, c)
            for cid, c in self.contacts.items()
            if c.state in ASSIGNED and c.queue_id and c.agent_id
        ]
        return sorted(found, key=lambda item: item[1].answered_at or 0.0)

    def in_ivr(self) -> list[tuple[str, ReplayedContact]]:
        """Contacts whose IVR session was open when the log stopped, oldest first."""
        found = [(cid, c) for cid, c in self.contacts.items() if c.ivr is not None]
        return sorted(found, key=lambda item: item[1].ivr.started_at if item[1].ivr else 0.0)

    def logged_in(self) -> list[tuple[str, ReplayedAgent]]:
        return [(aid, a) for aid, a in self.agents.items() if a.status != OFFLINE]


def contact_spec(contact_id: str, c: ReplayedContact) -> ContactSpec:
    """The engine's view of a replayed contact, from its ``contact.arrived`` record."""
    arrival = c.arrival
    skills = arrival.get("skills") if isinstance(arrival.get("skills"), dict) else {}
    priority = arrival.get("priority")
    data = arrival.get("attached") if isinstance(arrival.get("attached"), dict) else {}
    channel = arrival.get("channel")
    direction = arrival.get("direction")
    assert c.queue_id is not None
    return ContactSpec(
        id=contact_id,
        queue_id=c.queue_id,
        channel=Channel(channel) if channel in set(Channel) else None,
        direction=Direction.OUTBOUND if direction == "outbound" else Direction.INBOUND,
        priority=priority if isinstance(priority, int) else None,
        skills=skills or {},
        data=data or {},
        arrived_at=c.arrived_at,
    )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
