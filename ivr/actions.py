"""What the interpreter asks the server to do next.

Every step of a session returns exactly one action. ``prompts`` come first: the server
says or plays them in order (on chat it sends them as messages), then performs the action.
``Gather`` and ``Lookup`` wait for the server to call back into the session
(``input``/``timeout`` or ``lookup_result``); every other action ends the session.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ivr.model import Channel, Scalar


@dataclass(frozen=True, slots=True)
class Say:
    """Speak ``text`` (text-to-speech on voice; a message on chat)."""

    text: str


@dataclass(frozen=True, slots=True)
class Play:
    """Play a recording (voice only: on chat the interpreter sends its text as a Say)."""

    audio: str
    text: str | None = None


Prompt = Say | Play


@dataclass(frozen=True, slots=True)
class Choice:
    """A menu option as a chat widget shows it (a button with the key and the label)."""

    key: str
    label: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Action:
    prompts: tuple[Prompt, ...] = ()
    node: str
    """The node that produced the action (qualified ``tree/node`` inside a sub-tree)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Gather(Action):
    """Play the prompts, then wait up to ``timeout_s`` for the caller's answer.

    Voice: collect up to ``max_digits`` DTMF keys, ending early on ``terminator``.
    Chat: wait for the visitor's next message. Then call ``Session.input`` with what came,
    or ``Session.timeout`` when nothing did (``prompt_id`` tells a stale timer apart).
    """

    kind: Literal["menu", "digits", "survey"]
    timeout_s: float
    min_digits: int = 1
    max_digits: int = 1
    terminator: str | None = None
    choices: tuple[Choice, ...] = ()
    sensitive: bool = False
    """Do not log or echo what the caller enters."""
    attempt: int = 1
    prompt_id: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Lookup(Action):
    """Find the customer by ``by`` = ``key``, then call ``Session.lookup_result`` with the
    record (a mapping, ideally with ``id`` and ``tier``) or None; ``Session.timeout``
    after ``timeout_s`` counts as not found."""

    by: Literal["ani", "account"]
    key: str
    timeout_s: float
    sensitive: bool = False
    prompt_id: int = 0
    """Pass it to ``Session.timeout`` so a timer of an earlier step is told apart."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Terminal(Action):
    """The session is over: what the caller did in the IVR, for the contact and its log."""

    path: tuple[str, ...] = ()
    variables: Mapping[str, Scalar] = field(default_factory=dict)
    sensitive: frozenset[str] = frozenset()
    """Variable names whose values must be masked in logs (they still reach the agent)."""
    customer: Mapping[str, Any] | None = None
    channel: Channel = "voice"


@dataclass(frozen=True, slots=True, kw_only=True)
class Queue(Terminal):
    """Put the contact in ``queue_id`` with ``data`` attached (the screen pop shows it)."""

    queue_id: str
    priority: int
    skills: Mapping[str, int]
    data: Mapping[str, Scalar]


@dataclass(frozen=True, slots=True, kw_only=True)
class Transfer(Terminal):
    number: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Callback(Terminal):
    """Schedule a call back to ``number`` from ``queue_id``; then end the contact."""

    number: str | None
    queue_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Voicemail(Terminal):
    mailbox: str
    max_s: float


@dataclass(frozen=True, slots=True, kw_only=True)
class Hangup(Terminal):
    reason: str
