"""Errors of the IVR core: refused configuration, and inputs a session cannot take."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a tree: where (file and node), what, and how to fix it."""

    source: str
    node: str | None
    message: str
    fix: str

    def __str__(self) -> str:
        where = self.source if self.node is None else f"{self.source}: node {self.node!r}"
        return f"{where}: {self.message}. Fix: {self.fix}"


class IvrConfigError(ValueError):
    """One or more trees are wrong; nothing was loaded. ``problems`` lists each one."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        self.problems = tuple(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class SessionError(Exception):
    """The session refused the call and is unchanged."""

    code = "ivr_session_error"


class NotWaiting(SessionError):
    """input/timeout/lookup_result came while the session waits for something else."""

    code = "ivr_not_waiting"


class SessionEnded(SessionError):
    code = "ivr_session_ended"


class StaleTimeout(SessionError):
    """A timer of an earlier prompt fired; the current prompt is still waiting."""

    code = "ivr_stale_timeout"
