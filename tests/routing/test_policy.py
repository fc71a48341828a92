"""Loading routing configuration from YAML: the example parses, errors say where and why."""

from __future__ import annotations

from pathlib import Path

import pytest

from routing import Engine
from routing.policy import ConfigError, parse_routing_config

ROOT = Path(__file__).resolve().parents[2]


def test_example_config_loads_and_builds_an_engine() -> None:
    path = ROOT / "config" / "routing.yaml"
    config = parse_routing_config(path.read_text(), str(path))
    ids = [q.id for q in config.queues]
    assert ids == ["sales", "support", "billing", "chat_support"]
    assert [s.name for s in config.queues[0].steps] == ["experts", "any_sales", "with_support"]
    engine = Engine(config)
    assert engine.queue_ids() == ids


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "queues:\n  - id: a\n    skills: {x: 11}\n",
            "bad.yaml: queues[0] (a).skills: proficiency",
        ),
        (
            "queues:\n  - id: a\n    offer_timout_s: 3\n",
            "queues[0] (a).offer_timout_s: unknown key",
        ),
        ("queues:\n  - name: nameless\n", "queues[0] (nameless).id: required key is missing"),
        ("strategy: fastest\n", "bad.yaml: strategy:"),
        ("queues: [\n", "bad.yaml: not valid YAML"),
        ("- just a list\n", "expected a mapping"),
        (
            "queues:\n  - id: a\n    steps:\n      - name: s\n        fallback_queues: [zz]\n",
            "fallback queue 'zz' does not exist",
        ),
        (
            "queues:\n  - id: a\n    steps:\n      - name: s\n"
            "        expression: __import__('os')\n",
            "queues[0] (a).steps[0] (s).expression",
        ),
        (
            "queues:\n  - id: a\n    max_wait: {seconds: 10, action: overflow}\n",
            "needs max_wait.target",
        ),
    ],
)
def test_errors_name_the_file_the_key_and_the_reason(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_routing_config(text, "bad.yaml")
    assert expected in str(info.value)
    assert str(info.value).startswith("bad.yaml")
