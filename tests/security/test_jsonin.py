"""The one decoder of client JSON (contactcenter/jsonin.py), on its own: what it refuses,
where it says the problem is, and that it reads every acceptable document as json does."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from contactcenter import jsonin


def refusal(raw: str | bytes) -> tuple[str, str | None]:
    with pytest.raises(jsonin.BadJson) as caught:
        jsonin.loads(raw)
    return caught.value.code, caught.value.field


@pytest.mark.parametrize(
    ("raw", "code", "field"),
    [
        ('{"call_id":"big1","queue":"sales","data":{"x":1e400}}', "bad_number", "data.x"),
        ('{"a":[0,{"b":-1e400}]}', "bad_number", "a.1.b"),
        ("[NaN]", "bad_number", "0"),
        ('{"x":Infinity}', "bad_number", "x"),
        ('{"x":-Infinity}', "bad_number", "x"),
        ('{"n":' + "1" * 20 + "}", "bad_number", "n"),
        ('{"n":-' + "9" * 5000 + "}", "bad_number", "n"),  # past int()'s digit limit
        ('{"n":' + "1" * 400 + ".5}", "bad_number", "n"),  # a float that overflows
        ('{"t":"a\\u0000b"}', "bad_text", "t"),
        ('{"t":["ok","\\ud83d"]}', "bad_text", "t.1"),
        ('{"\\udc00":1}', "bad_text", "\\udc00"),
        ("[" * 33 + "]" * 33, "too_deep", None),
        ("[" * 100_000 + "]" * 100_000, "too_deep", None),
        ("{" * 100_000, "too_deep", None),
        ("{nope", "bad_json", None),
        ("", "bad_json", None),
        (b"\xff\xfe", "bad_json", None),
    ],
)
def test_refusals_name_the_code_and_the_field(raw: str | bytes, code: str, field: str) -> None:
    assert refusal(raw) == (code, field)


def test_depth_limit_is_exact_and_brackets_in_strings_do_not_count() -> None:
    assert jsonin.loads("[" * 32 + "]" * 32) is not None
    assert jsonin.loads('{"a":"' + "[" * 1000 + '"}') == {"a": "[" * 1000}
    assert jsonin.loads('["\\"[[[[", ' + "[" * 30 + "]" * 30 + "]") is not None
    assert refusal('{"a":' * 32 + "[1]" + "}" * 32)[0] == "too_deep"


def test_the_limits_are_what_the_docs_say() -> None:
    assert jsonin.MAX_DEPTH == 32
    assert jsonin.loads(str(jsonin.MAX_INT)) == jsonin.MAX_INT
    assert jsonin.loads(str(-jsonin.MAX_INT)) == -jsonin.MAX_INT
    assert refusal(str(jsonin.MAX_INT + 1))[0] == "bad_number"
    assert jsonin.loads("1e308") == 1e308 and jsonin.loads("1e-400") == 0.0


def test_the_deepest_refusal_costs_no_recursion() -> None:
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(200)  # far below what a recursive check would need
    try:
        assert refusal("[" * 50_000 + "]" * 50_000)[0] == "too_deep"
    finally:
        sys.setrecursionlimit(limit)


def test_a_field_path_is_printable_and_short() -> None:
    code, field = refusal('{"' + "k" * 500 + '\\u0000":1}')
    assert code == "bad_text" and field is not None
    assert len(field) < 80 and "\x00" not in field
    field.encode("utf-8")  # a surrogate in a key is escaped, so the answer can be sent


storable_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00")
)
acceptable: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-jsonin.MAX_INT, jsonin.MAX_INT)
    | st.floats(allow_nan=False, allow_infinity=False)
    | storable_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(storable_text, inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=200, deadline=None)
@given(value=acceptable, ascii_only=st.booleans())
def test_every_acceptable_document_reads_as_json_reads_it(value: Any, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)  # at most 20 leaves: never 32 deep
    decoded = jsonin.loads(text)
    assert decoded == json.loads(text) == value
    assert jsonin.loads(text.encode()) == decoded
