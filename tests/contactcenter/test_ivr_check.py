"""`contactcenter ivr check`: the example trees pass; a broken tree is refused with the file,
the node and the fix, and exit code 2."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from contactcenter.cli import main

CONFIG = Path(__file__).resolve().parents[2] / "config"


def test_example_trees_pass(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["ivr", "check", str(CONFIG / "ivr"), "--outline"])
    out = capsys.readouterr().out
    assert code == 0
    assert "entry trees: chat -> chat, voice -> main" in out
    assert "main (config/ivr/main.yaml)" in out or "main (" in out


def test_unknown_queue_and_target_are_reported(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    trees = tmp_path / "ivr"
    trees.mkdir()
    shutil.copy(CONFIG / "routing.yaml", tmp_path / "routing.yaml")
    (trees / "bad.yaml").write_text(
        "id: bad\nchannels: [voice]\nentry: true\nstart: hello\nnodes:\n"
        "  hello: {type: say, prompt: Hello, next: nowhere}\n"
        "  q: {type: queue, queue: no_such_queue}\n"
    )
    code = main(["ivr", "check", str(trees)])
    err = capsys.readouterr().err
    assert code == 2
    assert "bad.yaml" in err
    assert "'hello'" in err and "nowhere" in err
    assert "no_such_queue" in err
    assert "nothing would be loaded" in err


def test_missing_routing_config_names_the_option(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    (tmp_path / "ivr").mkdir()
    code = main(["ivr", "check", str(tmp_path / "ivr")])
    err = capsys.readouterr().err
    assert code == 2
    assert "routing.yaml" in err and "--routing" in err
