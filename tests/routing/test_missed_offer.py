"""A missed offer (rejected or timed out) while the agent stays routable: the agent then
chooses like any agent that frees up, so a higher-priority or older contact that arrived
during the offer comes first, and the missed contact goes to another idle agent if there
is one. The case where the engine used to offer the missed contact straight back while a
higher-priority one waited needs particular pool states; the FCFS check of the consult
property in test_properties.py finds it within a few thousand sessions."""

from __future__ import annotations

from routing import AgentProfile, ContactSpec, Engine, QueueConfig, RoutingConfig
from routing.events import Offer


def engine(*agents: str) -> Engine:
    queues = (
        QueueConfig(
            id="low", skills={"s0": 1}, offer_timeout_s=30, missed_offer_not_responding=False
        ),
        # another skill, so another routing group: the two contacts wait in different heaps
        QueueConfig(
            id="high",
            skills={"s1": 1},
            priority=2,
            offer_timeout_s=30,
            missed_offer_not_responding=False,
        ),
    )
    e = Engine(RoutingConfig(queues=queues))
    for a in agents:
        e.add_agent(AgentProfile(id=a, skills={"s0": 5, "s1": 5}))
        e.login(a, now=0.0)
    return e


def offers(out: object) -> list[tuple[str, str]]:
    return [
        (c.contact_id, c.agent_id)
        for c in out.commands  # type: ignore[attr-defined]
        if isinstance(c, Offer)
    ]


def test_after_a_reject_the_agent_takes_the_higher_priority_contact() -> None:
    e = engine("ann")
    assert offers(e.arrive(ContactSpec(id="c1", queue_id="low"), now=1.0)) == [("c1", "ann")]
    assert offers(e.arrive(ContactSpec(id="c2", queue_id="high"), now=2.0)) == []  # ann busy
    assert offers(e.reject("ann", "c1", now=3.0)) == [("c2", "ann")]
    assert e.contact("c1").state == "queued"
    e.check_invariants()


def test_a_rejected_contact_goes_to_another_idle_agent_first() -> None:
    e = engine("ann", "bob")
    assert offers(e.arrive(ContactSpec(id="c1", queue_id="low"), now=1.0)) == [("c1", "ann")]
    # bob is idle and has been idle longer than ann: he gets it, ann stays free
    assert offers(e.reject("ann", "c1", now=3.0)) == [("c1", "bob")]
    assert e.agent("ann").activity == "idle"
    e.check_invariants()


def test_alone_the_agent_is_offered_the_missed_contact_again() -> None:
    e = engine("ann")
    e.arrive(ContactSpec(id="c1", queue_id="low"), now=1.0)
    assert offers(e.reject("ann", "c1", now=3.0)) == [("c1", "ann")]
