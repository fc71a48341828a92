"""The one JSON decoder for what clients send: every HTTP body (``webcommon.read_json``)
and every websocket frame (``protocol.decode_frame``: the agent console, the chat visitor,
the wallboard and the telephony gateway). What it refuses never reaches a handler, let
alone the engine or the event log:

- text that is not JSON (or not UTF-8);
- nesting deeper than ``MAX_DEPTH`` (counted before parsing, so ``[[[[...`` of any depth
  costs one scan and never a ``RecursionError``);
- numbers that are not finite (``1e400``, ``NaN``, ``Infinity``) or integers outside
  ``MAX_INT`` (a PostgreSQL ``bigint``, and beyond what a browser can even read back);
- strings (keys or values) that PostgreSQL cannot store: a NUL character or an unpaired
  UTF-16 surrogate.

Each refusal is a ``BadJson`` with a ``code`` (``bad_json``, ``too_deep``, ``bad_number``,
``bad_text``) and, when one value is to blame, its ``field``: the dotted path of keys and
list indices from the top (``data.x``, ``rows.3.name``).
"""

from __future__ import annotations

import json
import math
import re
import threading
from typing import Any

MAX_DEPTH = 32
"""Objects and arrays nested deeper are refused (no contract needs more than a handful)."""
MAX_INT = 2**63 - 1
"""Integers beyond +-this are refused (``bad_number``)."""
_MAX_INT_DIGITS = len(str(MAX_INT))

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class BadJson(ValueError):
    """Client JSON that is refused: ``code`` says why, ``field`` (or None) where."""

    def __init__(self, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


_refusals = threading.local()
"""``any``: whether the decode running in this thread has refused a number."""


class _Refused:
    """A number the parser met and refused; found with its path after parsing."""

    __slots__ = ("text", "why")

    def __init__(self, text: str, why: str) -> None:
        _refusals.any = True
        self.text = text if len(text) <= 24 else text[:20] + "..."
        self.why = why


def _float(text: str) -> float | _Refused:
    value = float(text)
    return value if math.isfinite(value) else _Refused(text, "is not a finite number")


def _int(text: str) -> int | _Refused:
    value = int(text) if len(text.lstrip("-")) <= _MAX_INT_DIGITS else None
    if value is None or abs(value) > MAX_INT:
        return _Refused(text, f"is out of range (at most {MAX_INT} either way)")
    return value


def _constant(name: str) -> _Refused:
    return _Refused(name, "is not a JSON number")


_DECODER = json.JSONDecoder(parse_float=_float, parse_int=_int, parse_constant=_constant)


def check_depth(text: str, max_depth: int = MAX_DEPTH) -> None:
    """``BadJson("too_deep")`` when objects/arrays in ``text`` nest deeper than
    ``max_depth``. Brackets inside strings do not count; the common case (fewer brackets
    in all than the limit) is two C-speed counts."""
    if text.count("[") + text.count("{") <= max_depth:
        return
    depth = 0
    for match in _BRACKET.finditer(_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            if depth > max_depth:
                raise BadJson("too_deep", f"JSON nests deeper than {max_depth} objects or arrays")
        else:
            depth -= 1


def loads(raw: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    """``raw`` as a JSON value, or ``BadJson`` naming what is wrong (and where)."""
    if isinstance(raw, bytes | bytearray):
        try:
            text = bytes(raw).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadJson("bad_json", f"not UTF-8: {exc}") from None
    else:
        text = raw
    check_depth(text, max_depth)
    _refusals.any = False
    try:
        data = _DECODER.decode(text)
    except RecursionError:  # not reached below the depth limit; kept as a last guard
        raise BadJson("too_deep", "JSON nests too deeply") from None
    except ValueError as exc:
        raise BadJson("bad_json", f"not valid JSON: {exc}") from None
    # The walk that names the culprit runs only when there may be one: a refused number,
    # or an escape (``\u0000``, ``\ud800``) or a surrogate in the text. JSON forbids a raw
    # NUL inside strings, and valid UTF-8 holds no surrogates.
    if _refusals.any or "\\u" in text or (isinstance(raw, str) and unstorable(text) is not None):
        _check_values(data)
    return data


def _check_values(data: Any) -> None:
    """The first refused number or unstorable string in ``data``, as ``BadJson``."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), data)]
    while stack:  # iterative, in document order
        path, item = stack.pop()
        if isinstance(item, dict):
            for key in item:
                if (why := unstorable(key)) is not None:
                    where = dotted((*path, key))
                    raise BadJson("bad_text", f"{where}: the key holds {why}", where)
            stack.extend(((*path, k), v) for k, v in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend(((*path, i), v) for i, v in reversed(list(enumerate(item))))
        elif isinstance(item, str):
            if (why := unstorable(item)) is not None:
                where = dotted(path)
                raise BadJson("bad_text", f"{where}: the text holds {why}", where)
        elif isinstance(item, _Refused):
            where = dotted(path)
            raise BadJson("bad_number", f"{where}: {item.text} {item.why}", where)


def unstorable(text: str) -> str | None:
    """Why ``text`` cannot go into PostgreSQL text/jsonb, or None: a NUL character, or an
    unpaired surrogate (not encodable as UTF-8)."""
    if "\x00" in text:
        return "a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "an unpaired UTF-16 surrogate"
    return None


def dotted(path: tuple[str | int, ...]) -> str:
    """A path of keys and indices as ``a.b.0``; ``(value)`` for the top level. Keys are
    shortened to 64 characters and made printable UTF-8 (they come from the client)."""
    return ".".join(_printable(p) for p in path) or "(value)"


def _printable(part: str | int) -> str:
    text = str(part)
    text = text if len(text) <= 64 else text[:60] + "..."
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


__all__ = ["MAX_DEPTH", "MAX_INT", "BadJson", "check_depth", "dotted", "loads", "unstorable"]
