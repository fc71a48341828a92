"""The example trees of config/ivr: walked through by hand, then by random callers."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ivr import events as ev
from ivr.actions import Callback, Gather, Hangup, Lookup, Queue, Terminal, Voicemail
from ivr.loader import Catalog, build_catalog, read_sources
from ivr.session import Session
from tests.ivr.support import IVR_DIR, at, routing_queue_ids

CATALOG: Catalog = build_catalog(read_sources(IVR_DIR), routing_queue_ids())
WEDNESDAY_LONDON = at("2026-11-25T10:00:00Z")
WEDNESDAY_NEW_YORK = at("2026-11-25T15:00:00Z")


def _voice(now: float, ani: str = "+447700900123") -> tuple[Session, Any]:
    s = Session(CATALOG.entry("voice"), contact_id="call-1", ani=ani)
    return s, s.start(now)


def test_voice_call_identified_by_account_is_queued_with_tier_priority() -> None:
    s, first = _voice(WEDNESDAY_LONDON)
    assert isinstance(first, Gather) and first.node == "language"
    assert isinstance(s.input("1", WEDNESDAY_LONDON), Lookup)  # by ANI
    ask = s.lookup_result(None, WEDNESDAY_LONDON)
    assert isinstance(ask, Gather) and ask.node == "ask_account" and ask.sensitive
    lookup = s.input("41234567#", WEDNESDAY_LONDON)
    assert isinstance(lookup, Lookup) and (lookup.by, lookup.key) == ("account", "41234567")
    menu = s.lookup_result({"id": "cus-7", "tier": "platinum"}, WEDNESDAY_LONDON)
    assert isinstance(menu, Gather) and menu.node == "main_menu"
    queued = s.input("3", WEDNESDAY_LONDON)
    assert isinstance(queued, Queue)
    assert (queued.queue_id, queued.priority, dict(queued.skills)) == (
        "billing",
        10,
        {"billing": 3},
    )
    assert queued.data["account"] == "41234567" and queued.data["language"] == "en"
    assert queued.data["customer_id"] == "cus-7" and queued.data["department"] == "billing"
    assert queued.path == (
        "welcome",
        "language",
        "hours_check",
        "identify",
        "ask_account",
        "lookup_account",
        "known_caller",
        "main_menu",
        "queue_billing",
    )
    assert "41234567" not in repr([e.payload() for e in s.take_events()])


def test_voice_support_goes_through_the_support_subtree() -> None:
    s, _ = _voice(WEDNESDAY_LONDON)
    s.input("2", WEDNESDAY_LONDON)
    s.lookup_result({"id": "cus-1", "tier": "standard"}, WEDNESDAY_LONDON)
    product = s.input("2", WEDNESDAY_LONDON)
    assert isinstance(product, Gather) and product.node == "support/product"
    queued = s.input("2", WEDNESDAY_LONDON)
    assert isinstance(queued, Queue) and queued.queue_id == "support" and queued.priority == 0
    assert queued.data["language"] == "fr" and queued.data["product"] == "mobile"


@pytest.mark.parametrize(
    ("instant", "first_prompt"),
    [
        ("2026-11-25T18:00:00Z", "Our offices are open"),  # Wednesday, exactly at closing
        ("2026-11-28T13:00:00Z", "Our offices are open"),  # Saturday 13:00: just closed
        ("2026-12-25T10:00:00Z", "Our offices are closed today for the public holiday."),
        ("2026-12-24T12:00:00Z", "Our offices are closed today for the public holiday."),
    ],
)
def test_voice_after_hours(instant: str, first_prompt: str) -> None:
    s, _ = _voice(at(instant))
    menu = s.input("1", at(instant))
    assert isinstance(menu, Gather) and menu.node == "after_hours_menu"
    assert menu.prompts[0].text.startswith(first_prompt)  # type: ignore[union-attr]
    callback = s.input("1", at(instant))
    assert isinstance(callback, Callback)
    assert (callback.number, callback.queue_id) == ("+447700900123", "support")


def test_voice_christmas_eve_morning_is_open() -> None:
    s, _ = _voice(at("2026-12-24T11:59:00Z"))
    assert isinstance(s.input("1", at("2026-12-24T11:59:00Z")), Lookup)


def test_voice_after_hours_voicemail_and_silence() -> None:
    now = at("2026-11-29T10:00:00Z")  # Sunday
    s, _ = _voice(now)
    s.timeout(now)
    s.timeout(now)
    menu = s.timeout(now)  # no language chosen: carries on in English
    assert isinstance(menu, Gather) and menu.node == "after_hours_menu"
    assert isinstance(s.input("2", now), Voicemail)
    s, _ = _voice(now)
    s.input("1", now)
    for _ in range(2):
        assert isinstance(s.timeout(now), Gather)
    bye = s.timeout(now)
    assert isinstance(bye, Hangup) and bye.reason == "no_choice"


def _chat(now: float) -> tuple[Session, Any]:
    s = Session(CATALOG.entry("chat"), contact_id="chat-1", channel="chat")
    return s, s.start(now)


def test_chat_support_by_keyword_is_queued_on_the_chat_queue() -> None:
    s, first = _chat(WEDNESDAY_NEW_YORK)
    assert isinstance(first, Gather) and first.node == "topic"
    assert next(p.text for p in first.prompts) == "Hi! Welcome to Example Telecom chat."
    product = s.input("my phone is not working", WEDNESDAY_NEW_YORK)
    assert isinstance(product, Gather) and product.node == "support/product"
    assert product.prompts[0].text.startswith("Which product")  # type: ignore[union-attr]
    queued = s.input("the wifi keeps dropping", WEDNESDAY_NEW_YORK)
    assert isinstance(queued, Queue) and queued.queue_id == "chat_support"
    assert queued.data == {"topic": "support", "product": "broadband"}
    assert queued.channel == "chat"


def test_chat_billing_collects_the_account() -> None:
    s, _ = _chat(WEDNESDAY_NEW_YORK)
    ask = s.input("question about my invoice", WEDNESDAY_NEW_YORK)
    assert isinstance(ask, Gather) and ask.node == "ask_account"
    lookup = s.input("4123 4567", WEDNESDAY_NEW_YORK)
    assert isinstance(lookup, Lookup) and lookup.key == "41234567"
    queued = s.lookup_result({"id": "cus-3", "tier": "gold"}, WEDNESDAY_NEW_YORK)
    assert isinstance(queued, Queue) and queued.priority == 5


def test_chat_offline_offers_a_callback() -> None:
    thanksgiving = at("2026-11-26T15:00:00Z")
    s, ask = _chat(thanksgiving)
    assert isinstance(ask, Gather) and ask.node == "offline_phone"
    cb = s.input("+1 (212) 555-0100", thanksgiving)
    assert isinstance(cb, Gather)  # brackets and + are not digits: asked again
    cb = s.input("212-555-0100", thanksgiving)
    assert isinstance(cb, Callback) and cb.number == "2125550100"


def test_survey_example() -> None:
    s = Session(CATALOG.trees["survey"], channel="chat")
    s.start(WEDNESDAY_LONDON)
    s.input("5", WEDNESDAY_LONDON)
    end = s.input("yes", WEDNESDAY_LONDON)
    assert isinstance(end, Hangup) and end.variables == {"csat": 5, "resolved": True}


# --- random callers -------------------------------------------------------------------------

INSTANTS = st.floats(min_value=at("2026-01-01T00:00:00Z"), max_value=at("2027-12-31T00:00:00Z"))
SECRET = "98765432"


def _answer(data: st.DataObject, action: Gather, channel: str) -> str | None:
    """None means the caller says nothing (a timeout)."""
    keys = [c.key for c in action.choices]
    if action.kind == "digits":
        # the secret is typed only where the tree marks the input sensitive
        keys = [SECRET, SECRET + "#", "12"] if action.sensitive else ["2125550100", "12"]
    words = ["sales", "help", "invoice", "yes", "no", "wifi", "", "??", "buy help"]
    pool = keys + ["9", "*", "#", "00"] + (words if channel == "chat" else [])
    return data.draw(st.none() | st.sampled_from(pool))


@pytest.mark.parametrize(
    ("tree_id", "channel"),
    [
        ("main", "voice"),
        ("chat", "chat"),
        ("support", "voice"),
        ("support", "chat"),
        ("survey", "voice"),
        ("survey", "chat"),
    ],
)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), now=INSTANTS)
def test_random_callers_always_reach_an_end(
    tree_id: str, channel: str, data: st.DataObject, now: float
) -> None:
    tree = CATALOG.trees[tree_id]
    session = Session(tree, contact_id="r", channel=channel, ani="+15550100")  # type: ignore[arg-type]
    action = session.start(now)
    bound = 2 * (tree.model.max_inputs + 1)
    steps = 0
    while not isinstance(action, Terminal):
        steps += 1
        assert steps <= bound, f"no end after {bound} steps; path {session.path}"
        now += data.draw(st.floats(min_value=0, max_value=30))
        if isinstance(action, Lookup):
            choice = data.draw(st.sampled_from(["found", "missing", "timeout"]))
            if choice == "timeout":
                action = session.timeout(now)
            else:
                tier = data.draw(st.sampled_from(["gold", "platinum", "standard"]))
                record = {"id": "cus-r", "tier": tier} if choice == "found" else None
                action = session.lookup_result(record, now)
            continue
        assert isinstance(action, Gather)
        answer = _answer(data, action, channel)
        action = session.timeout(now) if answer is None else session.input(answer, now)
    assert session.state == "ended" and session.result is action
    events = session.take_events()
    assert events[0].type == "ivr.started" and events[-1].type == "ivr.exited"
    assert sum(isinstance(e, ev.Exited) for e in events) == 1
    assert tuple(session.path) == action.path and action.path
    if isinstance(action, Queue):
        assert action.queue_id in routing_queue_ids()
    # what a caller typed at a sensitive prompt never reaches the event log
    assert SECRET not in repr([e.payload() for e in events])
