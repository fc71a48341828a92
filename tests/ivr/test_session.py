"""The interpreter: every node type, retries, timeouts, invalid input, masking, channels."""

from __future__ import annotations

from typing import Any

import pytest

from ivr import events as ev
from ivr.actions import (
    Callback,
    Choice,
    Gather,
    Hangup,
    Lookup,
    Play,
    Queue,
    Say,
    Terminal,
    Transfer,
    Voicemail,
)
from ivr.errors import NotWaiting, SessionEnded, StaleTimeout
from ivr.loader import Tree
from ivr.session import Session
from tests.ivr.support import NOON, at, tree

MENU = """
a:
  type: menu
  prompt: Press 1 for sales, 2 for support.
  chat_prompt: Sales or support?
  variable: dept
  options:
    - {key: "1", label: Sales, keywords: [buy, new plan], value: sales, next: q_sales,
       set: {source: menu}}
    - {key: "2", label: Support, keywords: [help], next: q_support}
q_sales: {type: queue, queue: sales, prompt: Connecting to sales.}
q_support: {type: queue, queue: support}
"""


def _types(session: Session) -> list[str]:
    return [e.type for e in session.take_events()]


def _texts(action: Any) -> list[str]:
    return [p.text for p in action.prompts]


def _start(t: Tree, **kw: Any) -> tuple[Session, Any]:
    s = Session(t, contact_id="c-1", **kw)
    return s, s.start(NOON)


# --- prompts and menus ----------------------------------------------------------------------


def test_say_and_play_are_collected_before_the_first_wait() -> None:
    t = tree("""
        a: {type: say, prompt: Hello., next: b}
        b: {type: play, audio: brand.wav, prompt: Jingle text, next: c}
        c: {type: menu, prompt: Pick one., options: [{key: "1", label: One, next: fail}]}
    """)
    s, action = _start(t)
    assert isinstance(action, Gather)
    assert action.prompts == (Say("Hello."), Play("brand.wav", "Jingle text"), Say("Pick one."))
    assert (action.node, action.kind, action.timeout_s, action.max_digits) == ("c", "menu", 5, 1)
    assert action.choices == (Choice("1", "One"),)
    assert s.path == ["a", "b", "c"]
    assert _types(s) == ["ivr.started"] + ["ivr.entered_node"] * 3


def test_play_on_chat_sends_its_text() -> None:
    t = tree("""
        a: {type: play, audio: brand.wav, prompt: Jingle text, next: fail}
    """)
    _, action = _start(t, channel="chat")
    assert action.prompts == (Say("Jingle text"), Say("Failed."))


def test_menu_by_key_stores_value_and_sets_variables() -> None:
    s, _ = _start(tree(MENU))
    action = s.input("1", NOON + 3)
    assert isinstance(action, Queue)
    assert (action.queue_id, action.node, action.data) == (
        "sales",
        "q_sales",
        {"dept": "sales", "source": "menu"},
    )
    assert _texts(action) == ["Connecting to sales."]
    events = s.take_events()
    assert [e.type for e in events][-5:] == [
        "ivr.input",
        "ivr.collected",
        "ivr.collected",
        "ivr.entered_node",
        "ivr.exited",
    ]
    assert all(e.ts == NOON + 3 for e in events[-5:])


def test_menu_value_defaults_to_the_key() -> None:
    s, _ = _start(tree(MENU))
    action = s.input("2", NOON)
    assert isinstance(action, Queue) and action.data == {"dept": "2"}


@pytest.mark.parametrize(
    ("text", "queue"),
    [
        ("1", "sales"),
        ("Sales", "sales"),
        ("  SALES! ", "sales"),
        ("I want a new plan", "sales"),
        ("help me please", "support"),
        ("2", "support"),
    ],
)
def test_chat_menu_takes_number_label_or_keyword(text: str, queue: str) -> None:
    s, first = _start(tree(MENU), channel="chat")
    assert _texts(first) == ["Sales or support?"]
    action = s.input(text, NOON)
    assert isinstance(action, Queue) and action.queue_id == queue
    assert action.channel == "chat"


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("buy help", "ambiguous"),
        ("weather", "no option matches"),
        ("???", "empty message"),
        ("helpful", "no option matches"),
    ],
)
def test_chat_menu_refuses_unclear_text(text: str, reason: str) -> None:
    s, _ = _start(tree(MENU), channel="chat")
    s.take_events()
    action = s.input(text, NOON)
    assert isinstance(action, Gather) and action.attempt == 2
    invalid = [e for e in s.take_events() if isinstance(e, ev.InputInvalid)]
    assert [(e.reason, e.value) for e in invalid] == [(reason, text)]


def test_voice_menu_takes_keys_only() -> None:
    s, _ = _start(tree(MENU))
    action = s.input("Sales", NOON)
    assert isinstance(action, Gather) and _texts(action) == [
        "Invalid.",
        "Press 1 for sales, 2 for support.",
    ]


# --- retries, timeouts, failure -------------------------------------------------------------


def test_invalid_then_valid() -> None:
    s, first = _start(tree(MENU))
    again = s.input("9", NOON + 1)
    assert isinstance(again, Gather)
    assert (again.attempt, again.prompt_id) == (2, first.prompt_id + 1)
    assert s.path == ["a"]  # a retry is not a new visit
    assert isinstance(s.input("1", NOON + 2), Queue)


def test_no_input_reprompts_then_retries_run_out() -> None:
    s, _ = _start(tree(MENU))
    s.take_events()
    again = s.timeout(NOON + 5)
    assert isinstance(again, Gather) and _texts(again) == [
        "No input.",
        "Press 1 for sales, 2 for support.",
    ]
    end = s.timeout(NOON + 10)
    assert isinstance(end, Hangup) and end.reason == "failed" and _texts(end) == ["Failed."]
    events = s.take_events()
    assert [e.type for e in events] == [
        "ivr.no_input",
        "ivr.no_input",
        "ivr.retries_exhausted",
        "ivr.entered_node",
        "ivr.exited",
    ]
    assert [e.attempt for e in events[:2]] == [1, 2]  # type: ignore[attr-defined]
    assert events[2].payload() == {"node": "a", "attempts": 2, "next": "fail"}


def test_mixed_invalid_and_no_input_share_the_retries() -> None:
    t = tree(MENU.replace("  variable: dept", "  variable: dept\n  retries: 2"))
    s, _ = _start(t)
    assert isinstance(s.input("7", NOON), Gather)
    assert isinstance(s.timeout(NOON), Gather)
    assert isinstance(s.input("8", NOON), Hangup)


def test_node_settings_override_defaults() -> None:
    t = tree("""
        a:
          type: menu
          prompt: Pick.
          timeout_s: 9
          retries: 0
          no_input_prompt: Hello?
          on_failure: other
          options: [{key: "1", label: One, next: fail}]
        other: {type: voicemail, mailbox: m1}
    """)
    s, action = _start(t)
    assert action.timeout_s == 9
    end = s.timeout(NOON)
    assert isinstance(end, Voicemail) and (end.mailbox, end.max_s) == ("m1", 120)


def test_stale_timeout_is_refused_and_changes_nothing() -> None:
    s, first = _start(tree(MENU))
    second = s.input("5", NOON)
    assert isinstance(second, Gather)
    with pytest.raises(StaleTimeout):
        s.timeout(NOON + 5, prompt_id=first.prompt_id)
    assert s.waiting is second
    assert isinstance(s.timeout(NOON + 6, prompt_id=second.prompt_id), Hangup)


# --- collect and masking ----------------------------------------------------------------------

COLLECT = """
a:
  type: collect
  prompt: Enter your account number and hash.
  variable: account
  min_length: 6
  max_length: 8
  pattern: "[1-9][0-9]*"
  sensitive: true
  retries: 3
  next: b
b: {type: lookup, by: variable, variable: account, found: q, not_found: q}
q: {type: queue, queue: billing}
"""


def test_collect_gathers_with_lengths_and_terminator() -> None:
    _, action = _start(tree(COLLECT))
    assert isinstance(action, Gather)
    assert (
        action.kind,
        action.min_digits,
        action.max_digits,
        action.terminator,
        action.sensitive,
    ) == ("digits", 6, 8, "#", True)


@pytest.mark.parametrize(
    ("digits", "reason"),
    [
        ("12345", "length 5, not 6-8"),
        ("123456789#", "length 9, not 6-8"),
        ("0123456", "does not match the pattern"),
        ("12a456", "not digits"),
        ("", "not digits"),
        ("١٢٣٤٥٦٧", "not digits"),
    ],
)
def test_collect_refuses(digits: str, reason: str) -> None:
    s, _ = _start(tree(COLLECT))
    s.take_events()
    assert isinstance(s.input(digits, NOON), Gather)
    invalid = [e for e in s.take_events() if isinstance(e, ev.InputInvalid)]
    assert [(e.reason, e.value) for e in invalid] == [(reason, ev.MASK)]


def test_sensitive_value_is_masked_in_every_event_but_reaches_the_queue() -> None:
    secret = "73519024"
    s, _ = _start(tree(COLLECT))
    s.input("73519", NOON)  # too short
    s.input("0" + secret[1:], NOON)  # starts with 0: refused by the pattern
    lookup = s.input(secret + "#", NOON)
    assert isinstance(lookup, Lookup)
    assert (lookup.by, lookup.key, lookup.sensitive) == ("account", secret, True)
    done = s.lookup_result({"id": "cus-9", "tier": "gold"}, NOON)
    assert isinstance(done, Queue)
    assert done.data["account"] == secret and done.sensitive == frozenset({"account"})
    events = s.take_events()
    assert secret not in repr([e.payload() for e in events])
    assert secret[1:] not in repr([e.payload() for e in events])
    collected = [e for e in events if isinstance(e, ev.Collected)]
    assert [(c.variable, c.value, c.sensitive) for c in collected] == [("account", ev.MASK, True)]
    assert s.masked_variables() == {"account": ev.MASK}


def test_chat_collect_ignores_spaces_and_dashes() -> None:
    s, _ = _start(tree(COLLECT), channel="chat")
    assert isinstance(s.input(" 7351-9024 ", NOON), Lookup)
    assert s.variables["account"] == "73519024"


def test_collect_without_terminator_keeps_a_trailing_hash_invalid() -> None:
    t = tree(COLLECT.replace("  sensitive: true", "  terminator: null"))
    s, first = _start(t)
    assert first.terminator is None
    assert isinstance(s.input("123456#", NOON), Gather)


# --- branch, set, hours ---------------------------------------------------------------------

HOURS = """
a:
  type: branch
  cases:
    - {when: "holiday.office and not hours.office", next: closed_holiday}
    - {when: hours.office, next: open}
  default: closed
open: {type: hangup, reason: open}
closed: {type: hangup, reason: closed}
closed_holiday: {type: hangup, reason: holiday}
"""
HOURS_EXTRA = """\
schedules:
  office:
    timezone: {tz}
    weekly: {{sun: ["08:00-18:00"], mon: ["08:00-18:00"], thu: ["08:00-18:00"]}}
    holidays: [2026-11-26]
"""


def _branch_outcome(tz: str, instant: str) -> str:
    t = tree(HOURS, fail=False, extra=HOURS_EXTRA.format(tz=tz))
    s = Session(t)
    action = s.start(at(instant))
    assert isinstance(action, Hangup)
    return action.reason


@pytest.mark.parametrize(
    ("tz", "instant", "outcome"),
    [
        ("Europe/London", "2026-03-29T06:59:59Z", "closed"),  # DST day, 07:59:59 BST
        ("Europe/London", "2026-03-29T07:00:00Z", "open"),  # 08:00 BST: opens exactly
        ("Europe/London", "2026-03-29T17:00:00Z", "closed"),  # 18:00 BST: closes exactly
        ("Europe/London", "2026-03-30T06:59:59Z", "closed"),  # Monday, 07:59:59 BST
        ("Europe/London", "2026-03-30T07:00:00Z", "open"),
        ("America/New_York", "2026-03-08T11:59:59Z", "closed"),
        ("America/New_York", "2026-03-08T12:00:00Z", "open"),
        ("America/New_York", "2026-03-08T22:00:00Z", "closed"),
        ("America/New_York", "2026-11-26T15:00:00Z", "holiday"),  # Thanksgiving, a Thursday
        ("America/New_York", "2026-11-26T04:59:59Z", "closed"),  # still Wednesday there
    ],
)
def test_business_hours_branch_at_the_edges(tz: str, instant: str, outcome: str) -> None:
    assert _branch_outcome(tz, instant) == outcome


def test_branch_events_and_failing_conditions() -> None:
    t = tree(
        """
        a:
          type: branch
          cases:
            - {when: "vars.count > 3", next: big}
            - {when: "customer.tier == 'gold'", next: gold}
          default: other
        big: {type: hangup, reason: big}
        gold: {type: hangup, reason: gold}
        other: {type: hangup, reason: other}
    """,
        fail=False,
    )
    s = Session(t, customer={"tier": "gold"})
    end = s.start(NOON)
    assert isinstance(end, Hangup) and end.reason == "gold"
    branch = next(e for e in s.take_events() if isinstance(e, ev.BranchTaken))
    assert branch.condition == "customer.tier == 'gold'" and branch.next == "gold"
    assert len(branch.errors) == 1 and branch.errors[0].startswith("vars.count > 3: TypeError")
    s2 = Session(t, variables={"count": 4})
    assert s2.start(NOON).reason == "big"  # type: ignore[attr-defined]
    s3 = Session(t, variables={"count": 1})
    assert s3.start(NOON).reason == "other"  # type: ignore[attr-defined]


def test_set_values_and_expressions() -> None:
    t = tree(
        """
        a:
          type: set
          values: {segment: retail, vip: false}
          expressions: {tier: customer.tier, is_chat: "contact.channel == 'chat'",
                        ani: contact.ani}
          next: q
        q: {type: queue, queue: sales, attach: [segment, tier, is_chat, missing]}
    """,
        fail=False,
    )
    s = Session(t, channel="chat", ani="+15550100", customer={"tier": "silver"})
    q = s.start(NOON)
    assert isinstance(q, Queue)
    assert q.data == {"segment": "retail", "tier": "silver", "is_chat": True}
    assert s.variables["ani"] == "+15550100" and s.variables["vip"] is False


# --- lookup ---------------------------------------------------------------------------------

LOOKUP = """
a: {type: lookup, by: ani, found: q, not_found: ask, timeout_s: 3}
ask:
  type: menu
  prompt: Are you a customer? 1 yes 2 no.
  options: [{key: "1", label: "Yes", next: q}, {key: "2", label: "No", next: q}]
q:
  type: queue
  queue: sales
  priority: 2
  tier_priority: {gold: 7}
  skills: {sales: 4}
"""


def test_lookup_found_gives_priority_from_tier() -> None:
    s, action = _start(tree(LOOKUP), ani="+441234567")
    assert isinstance(action, Lookup)
    assert (action.by, action.key, action.timeout_s) == ("ani", "+441234567", 3)
    with pytest.raises(NotWaiting):
        s.input("1", NOON)
    q = s.lookup_result({"id": "cus-1", "tier": "gold", "name": "Ada"}, NOON)
    assert isinstance(q, Queue)
    assert (q.priority, dict(q.skills), q.customer) == (
        7,
        {"sales": 4},
        {"id": "cus-1", "tier": "gold", "name": "Ada"},
    )
    answered = [e for e in s.take_events() if isinstance(e, ev.LookupAnswered)]
    assert [(a.found, a.customer_id, a.timed_out) for a in answered] == [(True, "cus-1", False)]


def test_lookup_unknown_tier_and_not_found_use_the_base_priority() -> None:
    s, _ = _start(tree(LOOKUP))
    q = s.lookup_result({"id": "x", "tier": "bronze"}, NOON)
    assert isinstance(q, Queue) and q.priority == 2
    s, _ = _start(tree(LOOKUP))
    menu = s.lookup_result(None, NOON)
    assert isinstance(menu, Gather) and menu.node == "ask"
    q = s.input("2", NOON)
    assert isinstance(q, Queue) and q.priority == 2 and q.customer is None


def test_lookup_timeout_counts_as_not_found() -> None:
    s, lookup = _start(tree(LOOKUP))
    with pytest.raises(StaleTimeout):
        s.timeout(NOON + 3, prompt_id=lookup.prompt_id - 1)
    menu = s.timeout(NOON + 3, prompt_id=lookup.prompt_id)
    assert isinstance(menu, Gather) and menu.node == "ask"
    answered = [e for e in s.take_events() if isinstance(e, ev.LookupAnswered)]
    assert [(a.found, a.timed_out) for a in answered] == [(False, True)]
    with pytest.raises(NotWaiting):
        s.lookup_result(None, NOON)


# --- terminal nodes -------------------------------------------------------------------------


def test_transfer() -> None:
    t = tree("a: {type: transfer, number: '+442071234567', prompt: Transferring.}", fail=False)
    s, action = _start(t)
    assert isinstance(action, Transfer) and action.number == "+442071234567"
    assert _texts(action) == ["Transferring."] and s.state == "ended"


def test_callback_to_ani_or_collected_number() -> None:
    t = tree("a: {type: callback, queue: support}", fail=False)
    _, action = _start(t, ani="+15550199")
    assert isinstance(action, Callback)
    assert (action.number, action.queue_id) == ("+15550199", "support")
    t2 = tree("""
        a:
          type: collect
          prompt: Your number?
          variable: phone
          min_length: 10
          max_length: 15
          next: cb
        cb: {type: callback, queue: support, number_variable: phone}
    """)
    s, _ = _start(t2, ani="+15550199")
    cb = s.input("4420712345678#", NOON)
    assert isinstance(cb, Callback) and cb.number == "4420712345678"


def test_hangup_and_the_exit_event() -> None:
    t = tree("a: {type: hangup, prompt: Bye., reason: done}", fail=False)
    s, action = _start(t, variables={"lang": "fr"})
    assert isinstance(action, Hangup) and action.reason == "done"
    assert action.path == ("a",) and action.variables == {"lang": "fr"}
    exited = s.take_events()[-1]
    assert isinstance(exited, ev.Exited)
    assert exited.payload() == {
        "node": "a",
        "outcome": "hangup",
        "target": None,
        "path": ("a",),
        "variables": {"lang": "fr"},
    }
    assert s.result is action


def test_ended_session_refuses_everything() -> None:
    s, _ = _start(tree("a: {type: hangup}", fail=False))
    with pytest.raises(SessionEnded):
        s.input("1", NOON)
    with pytest.raises(SessionEnded):
        s.timeout(NOON)
    with pytest.raises(SessionEnded):
        s.lookup_result(None, NOON)
    with pytest.raises(NotWaiting):
        s.start(NOON)


def test_session_refuses_a_channel_the_tree_does_not_serve() -> None:
    t = tree("a: {type: hangup}", fail=False).model.model_copy(update={"channels": ("voice",)})
    from ivr.loader import Tree as _Tree

    voice_only = _Tree(
        id="v", source="v.yaml", model=t, hours={}, expressions={}, patterns={}, inputs={}
    )
    with pytest.raises(ValueError, match="does not serve channel 'chat'"):
        Session(voice_only, channel="chat")


# --- survey ---------------------------------------------------------------------------------

SURVEY = """
a:
  type: survey
  prompt: Rate us 1 to 5.
  chat_prompt: Rate us from 1 to 5.
  resolved_prompt: Resolved? 1 yes 2 no.
  chat_resolved_prompt: Was it resolved?
  next: thanks
thanks: {type: hangup, reason: survey_done}
"""


@pytest.mark.parametrize(
    ("channel", "answers", "csat", "resolved"),
    [
        ("voice", ["5", "1"], 5, True),
        ("voice", ["1", "2"], 1, False),
        ("chat", ["4", "Yes"], 4, True),
        ("chat", [" 3 ", "no"], 3, False),
    ],
)
def test_survey(channel: str, answers: list[str], csat: int, resolved: bool) -> None:
    s, first = _start(tree(SURVEY), channel=channel)
    assert first.kind == "survey" and [c.key for c in first.choices] == ["1", "2", "3", "4", "5"]
    second = s.input(answers[0], NOON)
    assert isinstance(second, Gather) and [c.label for c in second.choices] == ["Yes", "No"]
    expect = "Resolved? 1 yes 2 no." if channel == "voice" else "Was it resolved?"
    assert _texts(second) == [expect]
    end = s.input(answers[1], NOON)
    assert isinstance(end, Hangup) and end.reason == "survey_done"
    assert end.variables == {"csat": csat, "resolved": resolved}
    survey = [e for e in s.take_events() if isinstance(e, ev.SurveyAnswered)]
    assert [(e.csat, e.resolved) for e in survey] == [(csat, resolved)]


def test_survey_invalid_score_and_partial_answers() -> None:
    s, _ = _start(tree(SURVEY))
    again = s.input("6", NOON)
    assert isinstance(again, Gather) and _texts(again)[0] == "Invalid."
    s.input("4", NOON)
    s.timeout(NOON)
    end = s.timeout(NOON)
    assert isinstance(end, Hangup) and end.reason == "failed"
    survey = [e for e in s.take_events() if isinstance(e, ev.SurveyAnswered)]
    assert [(e.csat, e.resolved) for e in survey] == [(4, None)]


# --- sub-trees and limits -------------------------------------------------------------------


def test_subtree_and_return() -> None:
    from ivr.loader import build_catalog

    main = """\
        channels: [voice]
        start: a
        defaults: {no_input_prompt: x, invalid_prompt: y, on_failure: end}
        nodes:
          a: {type: subtree, tree: sub, next: end}
          end: {type: hangup}
    """
    sub = """\
        channels: [voice]
        start: m
        defaults: {no_input_prompt: "Sub hello?", invalid_prompt: y, on_failure: r, retries: 0}
        nodes:
          m: {type: menu, prompt: Sub menu., options: [{key: "1", label: x, next: r}]}
          r: {type: return}
    """
    import textwrap

    cat = build_catalog({"main.yaml": textwrap.dedent(main), "sub.yaml": textwrap.dedent(sub)})
    s = Session(cat.trees["main"])
    menu = s.start(NOON)
    assert isinstance(menu, Gather) and menu.node == "sub/m" and s.tree.id == "sub"
    end = s.timeout(NOON)  # the sub-tree's own defaults: no retries, on_failure -> return
    assert isinstance(end, Hangup)
    assert end.path == ("a", "sub/m", "sub/r", "end") and s.tree.id == "main"
    # a sub-tree run as an entry has nowhere to return to
    s2 = Session(cat.trees["sub"])
    s2.start(NOON)
    done = s2.input("1", NOON)
    assert isinstance(done, Hangup) and done.reason == "returned_from_entry"


def test_input_limit_lets_the_caller_go() -> None:
    t = tree(
        """
        a:
          type: menu
          prompt: Again?
          options: [{key: "1", label: Again, next: a}]
    """,
        extra="max_inputs: 3\nlimit_prompt: Too many tries.\n",
    )
    s, _ = _start(t)
    assert isinstance(s.input("1", NOON), Gather)
    assert isinstance(s.input("1", NOON), Gather)
    assert isinstance(s.input("1", NOON), Gather)
    end = s.input("1", NOON)
    assert isinstance(end, Hangup) and end.reason == "input_limit"
    assert _texts(end) == ["Too many tries."]
    assert "ivr.limit" in _types(s)


def test_terminal_actions_are_frozen() -> None:
    _, action = _start(tree("a: {type: hangup}", fail=False))
    assert isinstance(action, Hangup) and isinstance(action, Terminal)
    with pytest.raises(AttributeError):
        action.reason = "x"  # type: ignore[misc]


def test_event_types_are_registered() -> None:
    assert set(ev.EVENT_TYPES) >= {
        "ivr.started",
        "ivr.entered_node",
        "ivr.input",
        "ivr.invalid",
        "ivr.no_input",
        "ivr.collected",
        "ivr.exited",
        "ivr.retries_exhausted",
        "ivr.lookup",
        "ivr.lookup_result",
        "ivr.branch",
        "ivr.survey",
        "ivr.limit",
    }
    assert all(cls.type == name for name, cls in ev.EVENT_TYPES.items())


def test_a_value_computed_from_a_sensitive_one_stays_masked() -> None:
    t = tree("""
        a:
          type: collect
          prompt: PIN?
          variable: pin
          sensitive: true
          next: b
        b: {type: set, expressions: {pin_copy: vars.pin, plain: "'x'"}, next: q}
        q: {type: queue, queue: sales}
    """)
    s, _ = _start(t)
    q = s.input("4321", NOON)
    assert isinstance(q, Queue)
    assert q.data == {"pin": "4321", "pin_copy": "4321", "plain": "x"}
    assert q.sensitive == frozenset({"pin", "pin_copy"})
    assert "4321" not in repr([e.payload() for e in s.take_events()])


def test_the_input_that_passes_the_limit_is_still_logged() -> None:
    t = tree(MENU, extra="max_inputs: 1\n")
    s, _ = _start(t)
    s.input("9", NOON)
    end = s.input("1", NOON)
    assert isinstance(end, Hangup) and end.reason == "input_limit"
    types = _types(s)
    assert types[-3:] == ["ivr.input", "ivr.limit", "ivr.exited"]


def test_silence_counts_towards_the_input_limit() -> None:
    t = tree(
        MENU.replace("  variable: dept", "  variable: dept\n  retries: 5"), extra="max_inputs: 2\n"
    )
    s, _ = _start(t)
    assert isinstance(s.timeout(NOON), Gather)
    assert isinstance(s.timeout(NOON), Gather)
    end = s.timeout(NOON)
    assert isinstance(end, Hangup) and end.reason == "input_limit"


def test_survey_resolved_must_be_yes_or_no() -> None:
    s, _ = _start(tree(SURVEY), channel="chat")
    s.input("3", NOON)
    again = s.input("maybe", NOON)
    assert isinstance(again, Gather) and again.kind == "survey" and again.attempt == 2
    invalid = [e for e in s.take_events() if isinstance(e, ev.InputInvalid)]
    assert [e.reason for e in invalid] == ["not yes (1) or no (2)"]
    end = s.input("y", NOON)
    assert isinstance(end, Hangup) and end.variables == {"csat": 3, "resolved": True}


def test_set_expression_that_fails_or_is_not_a_scalar() -> None:
    t = tree(
        """
        a:
          type: set
          expressions: {bad: "vars.n > 1", listed: "[vars.a, 2]"}
          next: q
        q: {type: queue, queue: sales}
    """,
        fail=False,
    )
    s = Session(t, variables={"a": 1})
    q = s.start(NOON)
    assert isinstance(q, Queue)
    assert q.data == {"a": 1, "bad": None, "listed": "[1, 2]"}
