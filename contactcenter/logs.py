"""Logging setup: one JSON object per line, or plain text lines for people.

JSON lines carry ``ts`` (ISO 8601, UTC), ``level``, ``logger``, ``message`` and, when
known, ``contact_id``, ``agent_id`` and ``queue_id``, plus ``exc`` for a traceback. The
ids come from ``extra={"contact_id": ...}`` on the call, or from the context: ``bind()``
sets them for the current task (an aiohttp request handler, a websocket connection) and
everything it logs or starts afterwards (asyncio tasks copy the context) carries them.
Any other ``extra=`` field is included as well.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from collections.abc import Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import IO, Any, Literal

from contactcenter.accesslog import RedactFilter

IDS = ("contact_id", "agent_id", "queue_id")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# Each bind() sets a new dict, never mutates one, so tasks that copied the context keep theirs.
_context: ContextVar[dict[str, str] | None] = ContextVar("contactcenter_log_ids", default=None)
# Attributes every LogRecord has; anything else on a record came from extra=.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


def bind(**ids: str | None) -> None:
    """Attach ids to everything the current task logs from now on (None removes one)."""
    merged = {**current(), **{k: v for k, v in ids.items() if v is not None}}
    for key in [k for k, v in ids.items() if v is None]:
        merged.pop(key, None)
    _context.set(merged)


@contextlib.contextmanager
def context(**ids: str | None) -> Iterator[None]:
    """``bind`` for a block only."""
    token = _context.set(current())
    bind(**ids)
    try:
        yield
    finally:
        _context.reset(token)


def current() -> dict[str, str]:
    """The ids bound in this context."""
    return dict(_context.get() or {})


class ContextFilter(logging.Filter):
    """Copies the bound ids onto each record (an explicit ``extra=`` id wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in (_context.get() or {}).items():
            if getattr(record, key, None) is None:
                setattr(record, key, value)
        return True


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _STANDARD and not k.startswith("_")}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        extras = _extras(record)
        for key in IDS:
            if extras.get(key) is not None:
                out[key] = extras.pop(key)
        out.update((k, v) for k, v in extras.items() if k not in out and v is not None)
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exc"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        # default=str: an odd extra (a Path, an exception) must not lose the line
        return json.dumps(out, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The classic line, with the known ids appended as ``key=value``."""

    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatMessage(self, record: logging.LogRecord) -> str:
        line = super().formatMessage(record)
        ids = [f"{k}={getattr(record, k)}" for k in IDS if getattr(record, k, None) is not None]
        return f"{line} [{' '.join(ids)}]" if ids else line


def configure(
    level: str = "INFO",
    fmt: Literal["text", "json"] = "text",
    stream: IO[str] | None = None,
) -> logging.Handler:
    """Route the root logger to one handler on ``stream`` (stderr) in ``fmt``; replaces
    the handlers an earlier call installed. Returns the handler."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_contactcenter", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactFilter())  # no bearer token in any line (accesslog.py)
    handler._contactcenter = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    return handler
