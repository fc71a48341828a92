"""Walk the transition tables: every listed pair works, every other pair is refused unchanged.

A contact is driven into each state (queued, offered, connected, held, ended in wrap-up,
abandoned, flowed out) and then given every input. The expected answer is read from
CONTACT_TRANSITIONS / SLOT_TRANSITIONS, not written out by hand, so the tables and the
engine are checked against each other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from routing import AgentProfile, QueueConfig, WrapUpPolicy
from routing import errors as E
from routing.events import (
    ContactAbandoned,
    ContactFlowedOut,
    ContactStepChanged,
    FlowOut,
    OfferRescinded,
    OfferTimedOut,
    RescindOffer,
)
from routing.model import TERMINAL_STATES, ContactState, MaxWait, RoutingStep
from routing.transitions import (
    CONTACT_TRANSITIONS,
    SLOT_TRANSITIONS,
    ContactInput,
    SlotInput,
    SlotState,
    contact_next,
    slot_next,
)

from .support import Driver, drain, engine_with, events_of, fingerprint

CS = ContactState
CI = ContactInput
SI = SlotInput

# ---------------------------------------------------------------------------- the world


def _world() -> Driver:
    queues = (
        QueueConfig(
            id="q",
            skills={"s": 1},
            offer_timeout_s=15,
            wrap_up=WrapUpPolicy(mode="mandatory"),
            max_wait=MaxWait(seconds=600, action="flow_out", target="voicemail"),
            steps=(RoutingStep(name="first", timeout_s=300), RoutingStep(name="second")),
        ),
        # Nobody has skill x: a transferred contact just waits there.
        QueueConfig(id="q2", skills={"x": 1}),
    )
    agents = (
        AgentProfile(id="A", skills={"s": 5}),
        AgentProfile(id="B", skills={"s": 5}),
        # T has no skills: never routed to from q, but a valid blind-transfer target.
        AgentProfile(id="T", skills={}),
    )
    d = Driver(engine_with(queues, agents))
    d.login("T")
    return d


def _queued() -> Driver:
    d = _world()
    d.login("A", status="break")
    d.arrive("c", "q")
    return d


def _offered() -> Driver:
    d = _world()
    d.login("A")
    d.arrive("c", "q")
    return d


def _connected() -> Driver:
    d = _offered()
    d.at(1).accept("A", "c")
    return d


def _held() -> Driver:
    d = _connected()
    d.at(2).hold("A", "c")
    return d


def _ended() -> Driver:
    d = _connected()
    d.at(3).end("A", "c")
    return d


def _abandoned() -> Driver:
    d = _queued()
    d.at(4).hangup("c")
    return d


def _flowed_out() -> Driver:
    d = _queued()
    d.at(600)
    assert [e.contact_id for e in d.of_type(ContactFlowedOut)] == ["c"]
    return d


STATES: dict[ContactState, Callable[[], Driver]] = {
    CS.QUEUED: _queued,
    CS.OFFERED: _offered,
    CS.CONNECTED: _connected,
    CS.HELD: _held,
    CS.ENDED: _ended,
    CS.ABANDONED: _abandoned,
    CS.FLOWED_OUT: _flowed_out,
}
SLOT_OF = {CS.OFFERED: SlotState.OFFERED, CS.CONNECTED: SlotState.CONNECTED}
SLOT_OF |= {CS.HELD: SlotState.HELD, CS.ENDED: SlotState.WRAP_UP}

# name -> (contact input or None, slot input or None, engine call)
Call = Callable[[Driver], Any]
INPUTS: dict[str, tuple[ContactInput | None, SlotInput | None, Call]] = {
    "accept": (CI.ACCEPT, SI.ACCEPT, lambda d: d.accept("A", "c")),
    "reject": (CI.REJECT, SI.REJECT, lambda d: d.reject("A", "c")),
    "hold": (CI.HOLD, SI.HOLD, lambda d: d.hold("A", "c")),
    "resume": (CI.RESUME, SI.RESUME, lambda d: d.resume("A", "c")),
    "end": (CI.END, SI.END, lambda d: d.end("A", "c")),
    "abandon": (CI.ABANDON, None, lambda d: d.abandon("c")),
    "hangup": (None, None, lambda d: d.hangup("c")),  # abandon or end, by state
    "transfer_to_queue": (
        CI.TRANSFER_TO_QUEUE,
        SI.TRANSFER,
        lambda d: d.transfer_to_queue("A", "c", "q2"),
    ),
    "transfer_to_agent": (
        CI.TRANSFER_TO_AGENT,
        SI.TRANSFER,
        lambda d: d.transfer_to_agent("A", "c", "T"),
    ),
    "complete_wrapup": (None, SI.COMPLETE_WRAPUP, lambda d: d.complete_wrapup("A", "c")),
}
AGENT_SIDE = {name for name, (_, si, _) in INPUTS.items() if si is not None}


def _contact_input(state: ContactState, name: str) -> ContactInput | None:
    if name == "hangup":
        return CI.ABANDON if state in (CS.QUEUED, CS.OFFERED) else CI.END
    return INPUTS[name][0]


def _allowed(state: ContactState, name: str) -> bool:
    if state in (CS.ABANDONED, CS.FLOWED_OUT):
        return False
    ci = _contact_input(state, name)
    if ci is not None and contact_next(state, ci) is None:
        return False
    si = INPUTS[name][1]
    if si is not None:
        slot = SLOT_OF.get(state)
        return slot is not None and slot_next(slot, si) is not None
    return True


def _expected_error(state: ContactState, name: str) -> tuple[type[E.RoutingError], ...]:
    if state in (CS.ABANDONED, CS.FLOWED_OUT):
        # Terminal contacts leave the engine's memory: it no longer knows them.
        return (E.UnknownContact, E.NotYourContact, E.IllegalTransition)
    if name in AGENT_SIDE and state not in SLOT_OF:
        # A queued contact is nobody's: an agent acting on it is told so.
        return (E.NotYourContact,)
    return (E.IllegalTransition,)


PAIRS = [(state, name) for state in STATES for name in INPUTS]


def _pair_id(pair: tuple[ContactState, str]) -> str:
    return f"{pair[0].value}-{pair[1]}"


# ---------------------------------------------------------------------------- the tables


def test_terminal_states_have_no_outgoing_transitions() -> None:
    for (state, _), _target in CONTACT_TRANSITIONS.items():
        assert state not in TERMINAL_STATES
    assert {s for (s, _) in SLOT_TRANSITIONS} == set(SlotState) - {SlotState.RELEASED}
    assert {CS.ENDED, CS.ABANDONED, CS.FLOWED_OUT} == TERMINAL_STATES


def test_every_state_is_reachable_and_every_input_is_used() -> None:
    reached = {CS.QUEUED} | set(CONTACT_TRANSITIONS.values())
    assert reached == set(ContactState)
    assert {i for (_, i) in CONTACT_TRANSITIONS} == set(ContactInput)
    assert {i for (_, i) in SLOT_TRANSITIONS} == set(SlotInput)
    # Slots start as an offer or as a consult offer (Entry.OFFER, Entry.CONSULT).
    entered = {SlotState.OFFERED, SlotState.CONSULT_OFFERED}
    assert entered | set(SLOT_TRANSITIONS.values()) == set(SlotState)


def test_lookups_agree_with_the_tables() -> None:
    for state in ContactState:
        for ci in ContactInput:
            assert contact_next(state, ci) == CONTACT_TRANSITIONS.get((state, ci))
    for slot in SlotState:
        for si in SlotInput:
            assert slot_next(slot, si) == SLOT_TRANSITIONS.get((slot, si))


@pytest.mark.parametrize("state", list(STATES), ids=lambda s: s.value)
def test_drivers_reach_the_state(state: ContactState) -> None:
    d = STATES[state]()
    d.engine.check_invariants()
    if state in TERMINAL_STATES - {CS.ENDED}:
        with pytest.raises(E.UnknownContact):
            d.engine.contact("c")
        return
    assert d.engine.contact("c").state == state.value
    slot = SLOT_OF.get(state)
    assert d.engine.agent("A").contacts.get("c") == (slot.value if slot else None)


# ---------------------------------------------------------------------------- every pair


@pytest.mark.parametrize("pair", [p for p in PAIRS if not _allowed(*p)], ids=_pair_id)
def test_pair_outside_the_tables_is_refused_and_changes_nothing(
    pair: tuple[ContactState, str],
) -> None:
    state, name = pair
    d = STATES[state]()
    twin = STATES[state]()
    d.at(max(d.now, 5))
    twin.at(max(twin.now, 5))
    before = fingerprint(d.engine, d.now)
    events_before = len(d.events)
    with pytest.raises(E.RoutingError) as info:
        INPUTS[name][2](d)
    assert isinstance(info.value, _expected_error(state, name)), (
        f"{name} on a {state.value} contact raised {type(info.value).__name__}: {info.value}"
    )
    assert str(info.value), "a refusal explains itself"
    assert fingerprint(d.engine, d.now) == before
    assert len(d.events) == events_before
    d.engine.check_invariants()
    # Nothing hidden changed either: from here on the engine behaves exactly like a twin
    # that never saw the refused input.
    drain(d)
    drain(twin)
    assert d.events == twin.events
    assert d.commands == twin.commands
    d.engine.check_invariants()


@pytest.mark.parametrize("pair", [p for p in PAIRS if _allowed(*p)], ids=_pair_id)
def test_pair_in_the_tables_works(pair: tuple[ContactState, str]) -> None:
    state, name = pair
    d = STATES[state]()
    d.at(5)
    INPUTS[name][2](d)
    engine = d.engine
    engine.check_invariants()
    ci = _contact_input(state, name)
    target = CONTACT_TRANSITIONS[(state, ci)] if ci is not None else CS.ENDED
    si = INPUTS[name][1]
    if si is not None:
        slot_target = SLOT_TRANSITIONS[(SLOT_OF[state], si)]
        shown = engine.agent("A").contacts.get("c")
        if slot_target is SlotState.RELEASED:
            assert shown is None, shown
        else:
            assert shown == slot_target.value
    if name == "complete_wrapup" or target in (CS.ABANDONED, CS.FLOWED_OUT):
        with pytest.raises(E.UnknownContact):
            engine.contact("c")
        if target is CS.ABANDONED:
            assert [e.contact_id for e in d.of_type(ContactAbandoned)] == ["c"]
        return
    snap = engine.contact("c")
    assert snap.state == target.value
    if name == "transfer_to_queue":
        assert snap.queue_id == "q2"
    if name == "transfer_to_agent":
        assert snap.agent_id == "T"
    if name == "reject":
        assert engine.agent("A").activity == "not_responding"


def test_refusals_cover_every_input_in_every_state() -> None:
    refused = [p for p in PAIRS if not _allowed(*p)]
    allowed = [p for p in PAIRS if _allowed(*p)]
    assert len(refused) + len(allowed) == len(STATES) * len(INPUTS)
    # terminal states refuse everything
    for state in (CS.ABANDONED, CS.FLOWED_OUT):
        assert all((state, name) in refused for name in INPUTS)
    assert [n for (s, n) in allowed if s is CS.ENDED] == ["complete_wrapup"]


# ------------------------------------------------------------- system inputs of the tables


def _offer_timeout() -> Driver:
    d = _offered()
    d.at(15)
    assert [e.contact_id for e in d.of_type(OfferTimedOut)] == ["c"]
    assert d.engine.contact("c").state == "queued"
    return d


def _rescind_offer_by_logout() -> Driver:
    d = _offered()
    out = d.at(1).logout("A")
    assert [(r.contact_id, r.reason) for r in events_of(out, OfferRescinded)] == [
        ("c", "agent_logged_out")
    ]
    assert any(isinstance(c, RescindOffer) for c in out.commands)
    assert d.engine.contact("c").state == "queued"
    return d


def _requeue_connected() -> Driver:
    d = _connected()
    d.at(2).logout("A", force=True)
    assert d.engine.contact("c").state == "queued"
    assert d.engine.agent("A").status == "offline"
    return d


def _requeue_held() -> Driver:
    d = _held()
    d.at(3).logout("A", force=True)
    assert d.engine.contact("c").state == "queued"
    return d


def _requeue_queued() -> Driver:
    d = _queued()
    d.at(300)
    assert [e.step for e in d.of_type(ContactStepChanged)] == ["second"]
    assert d.engine.contact("c").state == "queued"
    return d


def _flow_out() -> Driver:
    d = _flowed_out()
    assert [f.contact_id for f in d.of_type(FlowOut)] == ["c"]
    return d


def _abandon_offered() -> Driver:
    d = _offered()
    out = d.at(1).hangup("c")
    assert [r.reason for r in events_of(out, OfferRescinded)] == ["caller_left"]
    return d


def _offer() -> Driver:
    d = _offered()
    assert d.engine.contact("c").state == "offered"
    return d


def _via(state: ContactState, name: str) -> Callable[[], Driver]:
    def run() -> Driver:
        d = STATES[state]()
        INPUTS[name][2](d.at(5))
        return d

    return run


# Consult and conference. In the first set A consults B; in the second ("_b_...") B holds
# the contact and consults A, so that the consulted side's slot shows on agent A.


def _consulting(start: Callable[[], Driver] = _connected) -> Driver:
    d = start()
    d.login("B")
    d.at(d.now + 1).consult("A", "c", "B")
    assert d.engine.contact("c").state == "held"
    return d


def _consult_held() -> Driver:
    return _consulting(_held)


def _consult_answered() -> Driver:
    d = _consulting()
    d.at(d.now + 1).accept_consult("B", "c")
    return d


def _consult_cancelled() -> Driver:
    d = _consult_answered()
    d.at(d.now + 1).cancel_consult("A", "c")
    return d


def _consult_rejected() -> Driver:
    d = _consulting()
    d.at(d.now + 1).reject_consult("B", "c")
    return d


def _consult_timed_out() -> Driver:
    d = _consulting()
    d.at(d.now + 15)
    assert d.engine.consult_of("c") is None
    return d


def _consult_completed() -> Driver:
    d = _consult_answered()
    d.at(d.now + 1).complete_consult("A", "c")
    assert d.engine.contact("c").agent_id == "B"
    return d


def _conferenced() -> Driver:
    d = _consult_answered()
    d.at(d.now + 1).conference("A", "c")
    return d


def _conference_left() -> Driver:
    d = _conferenced()
    d.at(d.now + 1).leave_conference("A", "c")
    assert d.engine.contact("c").agent_id == "B"
    return d


def _b_consulting() -> Driver:
    d = _world()
    d.login("B")
    d.arrive("c", "q")
    d.at(1).accept("B", "c")
    d.login("A")
    d.at(2).consult("B", "c", "A")
    return d


def _b_consult_answered() -> Driver:
    d = _b_consulting()
    d.at(3).accept_consult("A", "c")
    return d


def _b_then(step: Callable[[Driver], Any], start: Callable[[], Driver]) -> Callable[[], Driver]:
    def run() -> Driver:
        d = start()
        step(d.at(d.now + 1))
        return d

    return run


def _b_conferenced() -> Driver:
    d = _b_consult_answered()
    d.at(4).conference("B", "c")
    return d


# Every entry of CONTACT_TRANSITIONS, each shown to happen through the public API.
CONTACT_SCENARIOS: dict[tuple[ContactState, ContactInput], Callable[[], Driver]] = {
    (CS.QUEUED, CI.OFFER): _offer,
    (CS.QUEUED, CI.ABANDON): _abandoned,
    (CS.QUEUED, CI.FLOW_OUT): _flow_out,
    (CS.QUEUED, CI.REQUEUE): _requeue_queued,
    (CS.OFFERED, CI.ACCEPT): _connected,
    (CS.OFFERED, CI.REJECT): _via(CS.OFFERED, "reject"),
    (CS.OFFERED, CI.OFFER_TIMEOUT): _offer_timeout,
    (CS.OFFERED, CI.RESCIND): _rescind_offer_by_logout,
    (CS.OFFERED, CI.ABANDON): _abandon_offered,
    (CS.CONNECTED, CI.HOLD): _held,
    (CS.CONNECTED, CI.END): _ended,
    (CS.CONNECTED, CI.TRANSFER_TO_QUEUE): _via(CS.CONNECTED, "transfer_to_queue"),
    (CS.CONNECTED, CI.TRANSFER_TO_AGENT): _via(CS.CONNECTED, "transfer_to_agent"),
    (CS.CONNECTED, CI.REQUEUE): _requeue_connected,
    (CS.HELD, CI.RESUME): _via(CS.HELD, "resume"),
    (CS.HELD, CI.END): _via(CS.HELD, "end"),
    (CS.HELD, CI.TRANSFER_TO_QUEUE): _via(CS.HELD, "transfer_to_queue"),
    (CS.HELD, CI.TRANSFER_TO_AGENT): _via(CS.HELD, "transfer_to_agent"),
    (CS.HELD, CI.REQUEUE): _requeue_held,
    (CS.CONNECTED, CI.CONSULT): _consulting,
    (CS.HELD, CI.CONSULT): _consult_held,
    (CS.HELD, CI.CONSULT_CANCEL): _consult_cancelled,
    (CS.HELD, CI.CONSULT_COMPLETE): _consult_completed,
    (CS.HELD, CI.CONFERENCE): _conferenced,
    (CS.CONNECTED, CI.LEAVE_CONFERENCE): _conference_left,
}


def test_scenarios_cover_the_whole_contact_table() -> None:
    assert set(CONTACT_SCENARIOS) == set(CONTACT_TRANSITIONS)


@pytest.mark.parametrize("key", list(CONTACT_SCENARIOS), ids=lambda k: f"{k[0].value}-{k[1].value}")
def test_every_contact_transition_happens(key: tuple[ContactState, ContactInput]) -> None:
    d = CONTACT_SCENARIOS[key]()
    d.engine.check_invariants()
    target = CONTACT_TRANSITIONS[key]
    if target in (CS.ABANDONED, CS.FLOWED_OUT):
        with pytest.raises(E.UnknownContact):
            d.engine.contact("c")
    else:
        assert d.engine.contact("c").state == target.value


SLOT_SCENARIOS: dict[tuple[SlotState, SlotInput], tuple[Callable[[], Driver], str | None]] = {
    (SlotState.OFFERED, SI.ACCEPT): (_connected, "connected"),
    (SlotState.OFFERED, SI.REJECT): (_via(CS.OFFERED, "reject"), None),
    (SlotState.OFFERED, SI.OFFER_TIMEOUT): (_offer_timeout, None),
    (SlotState.OFFERED, SI.RESCIND): (_rescind_offer_by_logout, None),
    (SlotState.CONNECTED, SI.HOLD): (_held, "held"),
    (SlotState.CONNECTED, SI.END): (_ended, "wrap_up"),
    (SlotState.CONNECTED, SI.TRANSFER): (_via(CS.CONNECTED, "transfer_to_queue"), "wrap_up"),
    (SlotState.CONNECTED, SI.RESCIND): (_requeue_connected, None),
    (SlotState.HELD, SI.RESUME): (_via(CS.HELD, "resume"), "connected"),
    (SlotState.HELD, SI.END): (_via(CS.HELD, "end"), "wrap_up"),
    (SlotState.HELD, SI.TRANSFER): (_via(CS.HELD, "transfer_to_agent"), "wrap_up"),
    (SlotState.HELD, SI.RESCIND): (_requeue_held, None),
    (SlotState.WRAP_UP, SI.COMPLETE_WRAPUP): (_via(CS.ENDED, "complete_wrapup"), None),
    # A consults B.
    (SlotState.CONNECTED, SI.CONSULT): (_consulting, "consult_hold"),
    (SlotState.HELD, SI.CONSULT): (_consult_held, "consult_hold"),
    (SlotState.CONSULT_HOLD, SI.CONSULT_CANCEL): (_consult_cancelled, "connected"),
    (SlotState.CONSULT_HOLD, SI.CONSULT_REJECT): (_consult_rejected, "held"),
    (SlotState.CONSULT_HOLD, SI.CONSULT_TIMEOUT): (_consult_timed_out, "held"),
    (SlotState.CONSULT_HOLD, SI.CONSULT_COMPLETE): (_consult_completed, "wrap_up"),
    (SlotState.CONSULT_HOLD, SI.CONFERENCE): (_conferenced, "conferenced"),
    # B consults A: A's slot is the consulted side.
    (SlotState.CONSULT_OFFERED, SI.CONSULT_ACCEPT): (_b_consult_answered, "consulting"),
    (SlotState.CONSULT_OFFERED, SI.CONSULT_REJECT): (
        _b_then(lambda d: d.reject_consult("A", "c"), _b_consulting),
        None,
    ),
    (SlotState.CONSULT_OFFERED, SI.CONSULT_TIMEOUT): (
        _b_then(lambda d: d.at(d.now + 20), _b_consulting),
        None,
    ),
    (SlotState.CONSULT_OFFERED, SI.CONSULT_CANCEL): (
        _b_then(lambda d: d.cancel_consult("B", "c"), _b_consulting),
        None,
    ),
    (SlotState.CONSULTING, SI.CONSULT_CANCEL): (
        _b_then(lambda d: d.cancel_consult("B", "c"), _b_consult_answered),
        None,
    ),
    (SlotState.CONSULTING, SI.CONSULT_REJECT): (
        _b_then(lambda d: d.reject_consult("A", "c"), _b_consult_answered),
        None,
    ),
    (SlotState.CONSULTING, SI.CONSULT_COMPLETE): (
        _b_then(lambda d: d.complete_consult("B", "c"), _b_consult_answered),
        "connected",
    ),
    (SlotState.CONSULTING, SI.CONFERENCE): (_b_conferenced, "conferenced"),
    (SlotState.CONFERENCED, SI.LEAVE_CONFERENCE): (
        _b_then(lambda d: d.leave_conference("A", "c"), _b_conferenced),
        "wrap_up",
    ),
    (SlotState.CONFERENCED, SI.KEEP_CONFERENCE): (
        _b_then(lambda d: d.leave_conference("B", "c"), _b_conferenced),
        "connected",
    ),
}


def test_scenarios_cover_the_whole_slot_table() -> None:
    assert set(SLOT_SCENARIOS) == set(SLOT_TRANSITIONS)
    for key, (_, shown) in SLOT_SCENARIOS.items():
        target = SLOT_TRANSITIONS[key]
        assert shown == (None if target is SlotState.RELEASED else target.value)


@pytest.mark.parametrize("key", list(SLOT_SCENARIOS), ids=lambda k: f"{k[0].value}-{k[1].value}")
def test_every_slot_transition_happens(key: tuple[SlotState, SlotInput]) -> None:
    scenario, shown = SLOT_SCENARIOS[key]
    d = scenario()
    d.engine.check_invariants()
    assert d.engine.agent("A").contacts.get("c") == shown


# ---------------------------------------------------------------------------- agent inputs


def test_agent_inputs_outside_their_states_are_refused_unchanged() -> None:
    from .support import assert_refused

    d = _connected()
    assert_refused(d, E.IllegalTransition, "login", "A", d.now)
    assert_refused(d, E.InvalidStatus, "set_status", "A", "coffee", d.now)
    assert_refused(d, E.InvalidStatus, "login", "B", d.now, "coffee")
    assert_refused(d, E.InvalidStatus, "login", "B", d.now, "offline")
    assert_refused(d, E.IllegalTransition, "logout", "B", d.now)
    assert_refused(d, E.UnknownAgent, "logout", "nobody", d.now)
    assert_refused(d, E.TargetUnavailable, "transfer_to_agent", "A", "c", "A", d.now)
    assert_refused(d, E.TargetUnavailable, "transfer_to_agent", "A", "c", "B", d.now)
    assert_refused(d, E.UnknownQueue, "transfer_to_queue", "A", "c", "nope", d.now)
    assert_refused(d, E.NotYourContact, "end", "B", "c", d.now)
    assert_refused(d, E.IllegalTransition, "set_skills", "A", {"s": 11}, d.now)
