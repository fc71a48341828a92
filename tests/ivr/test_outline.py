"""The outline printed by `contactcenter ivr check`: every node, in the caller's order."""

from __future__ import annotations

from ivr.loader import build_catalog, read_sources
from ivr.outline import outline, outline_catalog
from tests.ivr.support import IVR_DIR, tree


def test_outline_lists_every_node_in_reach_order() -> None:
    t = tree("""
        a:
          type: menu
          prompt: Press 1 to talk to us, 2 to leave.
          options:
            - {key: "1", label: Talk, next: q}
            - {key: "2", label: Leave, next: fail}
        q: {type: queue, queue: sales, priority: 3, tier_priority: {gold: 9}}
    """)
    text = outline(t)
    lines = text.splitlines()
    assert lines[0] == "t (t.yaml): voice, chat"
    assert [line.split()[0] for line in lines[1:]] == ["a", "q", "fail"]
    assert "1 Talk -> q; 2 Leave -> fail [timeout 5 s, retries 1, on failure -> fail]" in text
    assert "queue sales (priority 3, by tier {'gold': 9})" in text


def test_outline_of_the_examples_names_every_tree_and_node() -> None:
    catalog = build_catalog(read_sources(IVR_DIR))
    text = outline_catalog(catalog)
    for tree_id, t in catalog.trees.items():
        assert f"{tree_id} ({t.source})" in text
        for node_id in t.nodes:
            assert f"  {node_id} " in text
    assert "account (8 digits, sensitive) -> lookup_account" in text
    assert "schedule office: Europe/London, 4 holiday(s)" in text


def test_outline_of_terminal_nodes() -> None:
    t = tree("""
        a:
          type: menu
          prompt: Pick.
          options:
            - {key: "1", label: Out, next: out}
            - {key: "2", label: Box, next: box}
        out: {type: transfer, number: "+15550100"}
        box: {type: voicemail, mailbox: sales, max_s: 60}
    """)
    text = outline(t)
    assert "transfer to +15550100" in text and "voicemail box sales (up to 60 s)" in text
