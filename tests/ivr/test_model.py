"""What one model checks on its own: formats, ranges, timezones, patterns, keys."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from ivr.model import (
    CollectNode,
    MenuNode,
    Schedule,
    SetNode,
    TransferNode,
    TreeModel,
    parse_time_range,
)


def test_time_range_in_minutes() -> None:
    assert parse_time_range("08:30-18:00") == (510, 1080)
    assert parse_time_range("00:00-24:00") == (0, 1440)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("8-18", "must look like"),
        ("25:00-26:00", "impossible time"),
        ("08:60-09:00", "impossible time"),
        ("24:30-24:45", "impossible time"),
        ("18:00-08:00", "crosses midnight"),
        ("09:00-09:00", "end before they start"),
    ],
)
def test_bad_time_ranges(text: str, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_time_range(text)


def test_bad_timezone_names_the_fix() -> None:
    with pytest.raises(ValidationError, match="use an IANA name such as 'Europe/London'"):
        Schedule(timezone="Europe/Lundon")


def test_holidays_accept_bare_dates() -> None:
    s = Schedule.model_validate({"timezone": "UTC", "holidays": ["2026-12-25"]})
    assert str(s.holidays[0].date) == "2026-12-25"
    assert s.holidays[0].hours == ()


def _menu(**kw: Any) -> dict[str, Any]:
    return {
        "type": "menu",
        "prompt": "p",
        "options": [{"key": "1", "label": "One", "next": "x"}],
        **kw,
    }


def test_menu_keys_must_be_dtmf_and_unique() -> None:
    with pytest.raises(ValidationError, match="one DTMF key"):
        MenuNode.model_validate(_menu(options=[{"key": "12", "label": "x", "next": "x"}]))
    with pytest.raises(ValidationError, match="repeated: \\['1'\\]"):
        MenuNode.model_validate(
            _menu(
                options=[
                    {"key": "1", "label": "a", "next": "x"},
                    {"key": "1", "label": "b", "next": "x"},
                ]
            )
        )


def test_menu_chat_keywords_must_pick_one_option() -> None:
    with pytest.raises(ValidationError, match="picks both option 1 and option 2"):
        MenuNode.model_validate(
            _menu(
                options=[
                    {"key": "1", "label": "Billing", "next": "x"},
                    {"key": "2", "label": "Payments", "keywords": ["billing"], "next": "x"},
                ]
            )
        )


def test_collect_checks() -> None:
    base = {"type": "collect", "prompt": "p", "variable": "acct", "next": "x"}
    assert CollectNode.model_validate(base).terminator == "#"
    with pytest.raises(ValidationError, match="not a valid regular expression"):
        CollectNode.model_validate({**base, "pattern": "([0-9]"})
    with pytest.raises(ValidationError, match="min_length 9 is above max_length 8"):
        CollectNode.model_validate({**base, "min_length": 9, "max_length": 8})
    with pytest.raises(ValidationError, match="terminator"):
        CollectNode.model_validate({**base, "terminator": "5"})
    with pytest.raises(ValidationError, match="letters, digits and _"):
        CollectNode.model_validate({**base, "variable": "acct-no"})


def test_set_needs_something_to_set() -> None:
    with pytest.raises(ValidationError, match="needs 'values' or 'expressions'"):
        SetNode.model_validate({"type": "set", "next": "x"})


def test_transfer_number_format() -> None:
    assert TransferNode(type="transfer", number="+442071234567").number == "+442071234567"
    with pytest.raises(ValidationError, match="digits with an optional leading"):
        TransferNode(type="transfer", number="call-me")


def test_tree_node_ids_and_unknown_keys() -> None:
    hang = {"type": "hangup"}
    with pytest.raises(ValidationError, match="node id '1st'"):
        TreeModel.model_validate({"start": "1st", "nodes": {"1st": hang}})
    with pytest.raises(ValidationError, match="Extra inputs"):
        TreeModel.model_validate({"start": "a", "nodes": {"a": {**hang, "colour": "red"}}})
    with pytest.raises(ValidationError, match="at least one channel"):
        TreeModel.model_validate({"start": "a", "channels": [], "nodes": {"a": hang}})


def test_yaml_booleans_in_labels_get_a_quoting_hint() -> None:
    with pytest.raises(ValidationError, match='quote labels and keywords such as "Yes"'):
        MenuNode.model_validate(_menu(options=[{"key": "1", "label": True, "next": "x"}]))
    with pytest.raises(ValidationError, match="YAML read a word as false"):
        MenuNode.model_validate(
            _menu(options=[{"key": "1", "label": "x", "keywords": [False], "next": "x"}])
        )
