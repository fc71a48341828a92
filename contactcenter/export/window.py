"""The time window of an export: ``--since`` and ``--until``, as ISO 8601 or epoch seconds."""

from __future__ import annotations

import argparse
import math
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, model_validator

ACCEPTED = (
    "ISO 8601 (e.g. 2026-11-25T19:30:00Z, 2026-11-25T20:30:00+01:00 or 2026-11-25; "
    "without an offset it is UTC) or epoch seconds (e.g. 1764099000 or 1764099000.5)"
)


class InvalidTime(ValueError):
    """A value that is neither ISO 8601 nor epoch seconds; the message says what is."""


def parse_time(text: str) -> datetime:
    """An aware UTC datetime from ISO 8601 or epoch seconds."""
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        seconds = None
    if seconds is not None:
        if not math.isfinite(seconds):
            raise InvalidTime(f"{text!r} is not a time; use {ACCEPTED}")
        try:
            return datetime.fromtimestamp(seconds, UTC)
        except (OverflowError, OSError, ValueError):
            raise InvalidTime(f"{text!r} is out of range; use {ACCEPTED}") from None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidTime(f"{text!r} is not a time; use {ACCEPTED}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def time_argument(text: str) -> datetime:
    """argparse ``type=``: a bad value is a usage error (exit 2) naming the option."""
    try:
        return parse_time(text)
    except InvalidTime as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class Window(BaseModel):
    """Events (or calls) from ``since`` up to, not including, ``until``."""

    model_config = ConfigDict(frozen=True)

    since: datetime
    until: datetime | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.until is not None and self.until <= self.since:
            raise ValueError(
                f"--until ({self.until.isoformat()}) must be later than --since "
                f"({self.since.isoformat()})"
            )
        return self

    @property
    def since_ts(self) -> float:
        return self.since.timestamp()

    @property
    def until_ts(self) -> float | None:
        return None if self.until is None else self.until.timestamp()
