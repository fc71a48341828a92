"""Load-time validation: every refusal names the file, the node and the fix."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ivr.errors import IvrConfigError, Problem
from ivr.loader import Registry, build_catalog, load_tree, read_sources
from ivr.session import Session
from tests.ivr.support import IVR_DIR, NOON, QUEUES, at, routing_queue_ids, tree, tree_text


def _problems(
    text: str, source: str = "config/ivr/t.yaml", queues: frozenset[str] | None = QUEUES
) -> list[Problem]:
    with pytest.raises(IvrConfigError) as info:
        load_tree(text, source, queues)
    assert str(info.value) == "\n".join(str(p) for p in info.value.problems)
    return list(info.value.problems)


def _one(text: str, **kw: object) -> Problem:
    problems = _problems(text, **kw)  # type: ignore[arg-type]
    assert len(problems) == 1, problems
    return problems[0]


def test_problem_text_has_file_node_and_fix() -> None:
    p = Problem("config/ivr/main.yaml", "menu", "goes nowhere", "point it somewhere")
    assert str(p) == "config/ivr/main.yaml: node 'menu': goes nowhere. Fix: point it somewhere"


def test_unknown_target_suggests_the_close_name() -> None:
    p = _one(
        tree_text(
            """
        a: {type: say, prompt: Hi, next: goodbye}
        good_bye: {type: hangup}
    """,
            fail=False,
        )
    )
    assert (p.source, p.node) == ("config/ivr/t.yaml", "a")
    assert "next goes to 'goodbye', which is not a node of this tree" in p.message
    assert "did you mean 'good_bye'?" in p.fix
    assert str(p).startswith("config/ivr/t.yaml: node 'a': ")


def test_unknown_target_from_defaults_on_failure() -> None:
    text = tree_text(
        """
        a:
          type: menu
          prompt: Pick
          options: [{key: "1", label: One, next: end}]
        end: {type: hangup}
    """,
        fail=False,
    )
    p = _one(text)
    assert p.node == "a"
    assert "on_failure (from defaults.on_failure) goes to 'fail'" in p.message


def test_unknown_start() -> None:
    p = _one(
        tree_text("b: {type: hangup}", start="bb", fail=False).replace("start: bb", "start: c")
    )
    assert p.node is None and "start 'c' is not a node" in p.message


def test_unreachable_node() -> None:
    p = _one(
        tree_text(
            """
        a: {type: hangup}
        orphan: {type: say, prompt: Nobody hears this, next: a}
    """,
            fail=False,
        )
    )
    assert p.node == "orphan"
    assert "cannot be reached from the start node" in p.message
    assert "delete it" in p.fix


def test_loop_of_nodes_that_take_no_input() -> None:
    p = _one(
        tree_text(
            """
        a: {type: say, prompt: One, next: b}
        b:
          type: branch
          cases: [{when: "vars.x == 1", next: end}]
          default: c
        c: {type: set, values: {y: 1}, next: a}
        end: {type: hangup}
    """,
            fail=False,
        )
    )
    assert "loop that takes no input: a -> b -> c -> a" in p.message
    assert "put a menu or collect node in it" in p.fix


def test_retries_exhausted_back_to_the_same_menu_is_a_loop() -> None:
    p = _one(
        tree_text(
            """
        a:
          type: menu
          prompt: Pick
          on_failure: a
          options: [{key: "1", label: One, next: end}]
        end: {type: hangup}
    """,
            fail=False,
        )
    )
    assert "loop that takes no input: a -> a" in p.message
    assert "send on_failure to a node that ends the call" in p.fix


def test_a_loop_through_a_menu_choice_is_allowed() -> None:
    t = tree("""
        a:
          type: menu
          prompt: Pick
          options:
            - {key: "1", label: Again, next: a}
            - {key: "2", label: Stop, next: fail}
    """)
    assert set(t.nodes) == {"a", "fail"}


def test_queue_that_does_not_exist() -> None:
    p = _one(tree_text("a: {type: queue, queue: salse}", fail=False))
    assert p.node == "a" and "queue 'salse' does not exist" in p.message
    assert "billing, chat_support, sales, support" in p.fix
    assert "did you mean 'sales'?" in p.fix
    # without known queues the check is skipped
    assert load_tree(tree_text("a: {type: queue, queue: salse}", fail=False)).id == "<ivr tree>"


def test_callback_queue_is_checked_too() -> None:
    p = _one(tree_text("a: {type: callback, queue: nowhere}", fail=False))
    assert p.node == "a" and "queue 'nowhere'" in p.message


def test_missing_prompts() -> None:
    problems = _problems(
        textwrap.dedent("""\
        channels: [voice, chat]
        start: a
        defaults: {on_failure: end}
        nodes:
          a: {type: say, next: b}
          b: {type: play, audio: x.wav, next: c}
          c:
            type: menu
            options: [{key: "1", label: One, next: d}]
          d: {type: survey, prompt: "Score?", next: end}
          end: {type: hangup}
    """)
    )
    found = {(p.node, p.message) for p in problems}
    assert ("a", "a say node has no prompt") in found
    assert ("b", "a play node on a chat tree has no text for chat visitors") in found
    assert ("c", "an input node has no prompt") in found
    assert ("c", "an input node has no no_input_prompt") in found
    assert ("c", "an input node has no invalid_prompt") in found
    assert ("d", "a survey has no question whether the issue was resolved") in found
    fixes = {p.fix for p in problems if p.node == "c"}
    assert "add 'no_input_prompt:' to the node or to the tree's 'defaults:'" in fixes


def test_missing_on_failure() -> None:
    text = tree_text(
        """
        a:
          type: collect
          prompt: Digits?
          variable: d
          next: end
        end: {type: hangup}
    """,
        fail=False,
    ).replace("  on_failure: fail\n", "")
    p = _one(text)
    assert p.node == "a" and "does not say where to go when retries run out" in p.message


def test_bad_timezone_names_file_and_key() -> None:
    text = tree_text(
        "a: {type: hangup}",
        fail=False,
        extra="""\
        schedules:
          office: {timezone: Europe/Lundon}
    """,
    )
    p = _one(text)
    assert p.node is None
    assert "schedules.office.timezone: unknown timezone 'Europe/Lundon'" in p.message
    assert str(p).startswith("config/ivr/t.yaml: schedules.office.timezone")


def test_bad_pattern() -> None:
    p = _one(
        tree_text("""
        a:
          type: collect
          prompt: Digits?
          variable: d
          pattern: "[0-9"
          next: fail
    """)
    )
    assert p.node == "a"
    assert p.message.startswith("pattern: pattern '[0-9' is not a valid regular expression")


def test_bad_condition_and_unknown_schedule() -> None:
    problems = _problems(
        tree_text(
            """
        a:
          type: branch
          cases:
            - {when: "vars.x(", next: end}
            - {when: "hours.ofice", next: end}
          default: end
        end: {type: hangup}
    """,
            fail=False,
            extra="""\
        schedules:
          office: {timezone: UTC}
    """,
        )
    )
    assert [p.node for p in problems] == ["a", "a"]
    assert "cases[0].when: expression 'vars.x(' is not valid" in problems[0].message
    assert "cases[1].when reads schedule 'ofice'" in problems[1].message
    assert "did you mean 'office'?" in problems[1].fix


def test_lookup_by_a_variable_nobody_sets() -> None:
    p = _one(
        tree_text(
            """
        a: {type: lookup, by: variable, variable: acct, found: end, not_found: end}
        end: {type: hangup}
    """,
            fail=False,
        )
    )
    assert p.node == "a" and "variable 'acct', which no node sets" in p.message


def test_shape_errors_are_located() -> None:
    problems = _problems(
        tree_text(
            """
        a: {type: sya, prompt: Hi, next: end}
        b: {type: say, prompt: Hi}
        c: {type: say, prompt: Hi, next: end, colour: red}
        end: {type: hangup}
    """,
            fail=False,
        )
    )
    by_node = {p.node: p for p in problems}
    assert "one of say, play, menu" in by_node["a"].fix
    assert by_node["b"].message == "next is missing"
    assert by_node["b"].fix == "add 'next:' to it"
    assert by_node["c"].message == "colour is not a known key"


def test_option_errors_name_the_option() -> None:
    p = _one(
        tree_text("""
        a:
          type: menu
          prompt: Pick
          options: [{key: "1", label: One}]
    """)
    )
    assert p.node == "a" and p.message == "options[0].next is missing"


def test_not_yaml_and_not_a_mapping() -> None:
    assert "not valid YAML" in _one("a: [1, 2", source="x.yaml").message
    assert _one("- 1\n- 2\n", source="x.yaml").message == "expected a mapping"


def _write(directory: Path, name: str, text: str) -> None:
    (directory / name).write_text(textwrap.dedent(text), encoding="utf-8")


SUB = """\
    channels: [voice]
    start: s
    nodes:
      s: {type: say, prompt: In the sub-tree, next: r}
      r: {type: return}
"""


def test_subtree_checks(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "main.yaml",
        """\
        channels: [voice, chat]
        entry: true
        start: a
        nodes:
          a: {type: subtree, tree: sub, next: b}
          b: {type: subtree, tree: subb, next: end}
          end: {type: hangup}
    """,
    )
    _write(tmp_path, "sub.yaml", SUB)
    with pytest.raises(IvrConfigError) as info:
        build_catalog(read_sources(tmp_path))
    messages = {(p.node, p.message, p.fix) for p in info.value.problems}
    main = str(tmp_path / "main.yaml")
    assert any(n == "a" and "does not serve channel chat" in m for n, m, _ in messages)
    assert any(
        n == "b" and "sub-tree 'subb' does not exist" in m and "did you mean 'sub'" in f
        for n, m, f in messages
    )
    assert all(p.source == main for p in info.value.problems)


def test_subtrees_calling_each_other(tmp_path: Path) -> None:
    for name, other in (("one", "two"), ("two", "one")):
        _write(
            tmp_path,
            f"{name}.yaml",
            f"""\
            start: a
            nodes:
              a: {{type: subtree, tree: {other}, next: b}}
              b: {{type: return}}
        """,
        )
    with pytest.raises(
        IvrConfigError, match="sub-trees call each other in a loop: one -> two -> one"
    ):
        build_catalog(read_sources(tmp_path))


def test_two_entries_for_one_channel_and_duplicate_ids(tmp_path: Path) -> None:
    for name in ("a", "b"):
        _write(
            tmp_path,
            f"{name}.yaml",
            """\
            id: same
            entry: true
            start: x
            nodes: {x: {type: hangup}}
        """,
        )
    _write(tmp_path, "c.yaml", "entry: true\nstart: x\nnodes: {x: {type: hangup}}\n")
    with pytest.raises(IvrConfigError) as info:
        build_catalog(read_sources(tmp_path))
    text = str(info.value)
    assert "tree id 'same' is also used by" in text
    assert "is the voice entry, and so is tree" in text


def test_every_problem_is_reported_at_once() -> None:
    problems = _problems(
        tree_text(
            """
        a: {type: say, prompt: Hi, next: nowhere}
        b: {type: queue, queue: nope}
    """,
            fail=False,
        )
    )
    assert len(problems) == 2


# --- the example trees and the registry ---------------------------------------------------


def test_example_trees_load_against_the_routing_queues() -> None:
    queues = routing_queue_ids()
    assert {"sales", "support", "billing", "chat_support"} <= queues
    catalog = build_catalog(read_sources(IVR_DIR), queues)
    assert dict(catalog.entries) == {"voice": "main", "chat": "chat"}
    assert {"main", "chat", "support", "survey"} <= set(catalog.trees)
    assert len(catalog.trees["main"].nodes) >= 12
    assert catalog.trees["main"].catalog["support"] is catalog.trees["support"]


def test_reload_rejects_a_bad_tree_and_keeps_the_running_one(tmp_path: Path) -> None:
    good = tree_text("a: {type: hangup, prompt: Version one}", fail=False)
    registry = Registry.from_sources({"t.yaml": good}, QUEUES)
    old = registry.catalog
    session = Session(old.trees["t"], channel="voice")

    bad = tree_text("a: {type: queue, queue: gone}", fail=False)
    with pytest.raises(IvrConfigError, match="queue 'gone' does not exist"):
        registry.reload({"t.yaml": bad})
    assert registry.catalog is old

    newer = tree_text("a: {type: hangup, prompt: Version two}", fail=False)
    assert registry.reload({"t.yaml": newer}) is registry.catalog
    assert registry.catalog is not old
    # a session that started before the reload finishes on the tree it started with
    assert session.start(NOON).prompts[0].text == "Version one"
    fresh = Session(registry.catalog.trees["t"])
    assert fresh.start(NOON).prompts[0].text == "Version two"


def test_registry_entry_and_read_sources(tmp_path: Path) -> None:
    _write(
        tmp_path,
        "front.yml",
        "entry: true\nchannels: [chat]\nstart: x\nnodes: {x: {type: hangup}}\n",
    )
    (tmp_path / "notes.txt").write_text("not a tree", encoding="utf-8")
    sources = read_sources(tmp_path)
    assert list(sources) == [str(tmp_path / "front.yml")]
    registry = Registry.from_sources(sources)
    assert registry.entry("chat").id == "front"
    with pytest.raises(KeyError, match="no IVR tree is the entry for voice"):
        registry.entry("voice")


def test_the_example_in_docs_loads_and_runs() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "ivr.md").read_text(encoding="utf-8")
    text = doc.split("```yaml\n", 1)[1].split("```", 1)[0]
    t = load_tree(text, "docs/ivr.md", QUEUES)
    assert t.id == "main" and len(t.nodes) == 9
    s = Session(t, ani="+447700900123")
    menu = s.start(at("2026-11-23T09:00:00Z"))  # a Monday morning
    assert menu.node == "menu"
    assert s.input("2", NOON).node == "account"
