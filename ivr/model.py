"""The IVR tree format: pydantic models of one YAML file under config/ivr/.

A tree is a mapping of node ids to nodes plus tree-wide settings (channels, business-hours
schedules, defaults shared by every input node). These models check what one node can
check on its own (types, ranges, time formats, timezones, regular expressions);
``ivr.loader`` checks what needs the whole tree or the whole catalogue (targets,
reachability, loops, queues, sub-trees) and turns every failure into a located message.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Channel = Literal["voice", "chat"]
Scalar = str | int | float | bool | None
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

NODE_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_-]{0,63}")
VARIABLE = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
DTMF_KEY = re.compile(r"[0-9*#]")
PHONE_NUMBER = re.compile(r"\+?[0-9]{3,20}")
_TIME_RANGE = re.compile(r"(\d{2}):(\d{2})-(\d{2}):(\d{2})")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_time_range(text: str) -> tuple[int, int]:
    """'08:00-18:00' -> (480, 1080) minutes of the local day; the end is exclusive."""
    m = _TIME_RANGE.fullmatch(text.strip())
    if m is None:
        raise ValueError(f"opening hours {text!r} must look like '08:00-18:00'")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2 != 0):
        raise ValueError(f"opening hours {text!r} has an impossible time; use 00:00-24:00")
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if end <= start:
        raise ValueError(
            f"opening hours {text!r} end before they start; split a range that crosses "
            "midnight into two days (e.g. '22:00-24:00' and '00:00-02:00')"
        )
    return start, end


def _check_ranges(ranges: tuple[str, ...]) -> tuple[str, ...]:
    for r in ranges:
        parse_time_range(r)
    return ranges


def _check_variable(name: str) -> str:
    if not VARIABLE.fullmatch(name):
        raise ValueError(f"variable name {name!r} must be letters, digits and _ only")
    return name


class Holiday(_Strict):
    """A closed day (or a day with special hours) in the schedule's timezone."""

    date: dt.date
    name: str = ""
    hours: tuple[str, ...] = ()
    """Opening hours on that day instead of the weekly ones; empty means closed all day."""

    @field_validator("hours")
    @classmethod
    def _hours(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return _check_ranges(v)


class Schedule(_Strict):
    """Weekly opening hours in a timezone, with holidays. Times are local wall-clock time,
    so a DST change moves the opening instant in UTC, not the opening time on the clock."""

    timezone: str
    weekly: dict[Weekday, tuple[str, ...]] = Field(default_factory=dict)
    holidays: tuple[Holiday, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {v!r}; use an IANA name such as 'Europe/London' "
                "or 'America/New_York'"
            ) from None
        return v

    @field_validator("weekly")
    @classmethod
    def _weekly(cls, v: dict[Weekday, tuple[str, ...]]) -> dict[Weekday, tuple[str, ...]]:
        for ranges in v.values():
            _check_ranges(ranges)
        return v

    @field_validator("holidays", mode="before")
    @classmethod
    def _bare_dates(cls, v: object) -> object:
        # a plain YAML date (2026-12-25) is the common case: a closed day without a name
        if isinstance(v, list | tuple):
            return [{"date": d} if isinstance(d, dt.date | str) else d for d in v]
        return v


# --- nodes ---------------------------------------------------------------------------------


class _Node(_Strict):
    description: str = ""


class _Prompted(_Node):
    prompt: str | None = None
    """What is said (voice, by text-to-speech) or sent (chat) on entering the node."""
    chat_prompt: str | None = None
    """Text for the chat channel when it should differ from the voice prompt."""


class _Input(_Prompted):
    """Settings every input node has; None takes the tree's ``defaults``."""

    timeout_s: float | None = Field(None, gt=0, le=120)
    retries: int | None = Field(None, ge=0, le=10)
    no_input_prompt: str | None = None
    invalid_prompt: str | None = None
    on_failure: str | None = None
    """Where the caller goes when the retries are used up."""


class SayNode(_Prompted):
    type: Literal["say"]
    next: str


class PlayNode(_Prompted):
    """A recorded prompt; ``prompt`` is its text, used on chat and in transcripts."""

    type: Literal["play"]
    audio: str = Field(min_length=1)
    next: str


class MenuOption(_Strict):
    key: str
    """The DTMF key (0-9, * or #); chat visitors may also type it."""
    label: str = Field(min_length=1)
    keywords: tuple[str, ...] = ()
    """Chat words or phrases that pick this option (the label always does)."""
    value: Scalar = None
    """Stored in the menu's ``variable`` (the key when not given)."""
    set: dict[str, Scalar] = Field(default_factory=dict)
    next: str

    @field_validator("label", "keywords", mode="before")
    @classmethod
    def _yaml_booleans(cls, v: object) -> object:
        # YAML 1.1 reads unquoted Yes/No/on/off as booleans; say so instead of "not a string"
        for item in v if isinstance(v, list | tuple) else [v]:
            if isinstance(item, bool):
                raise ValueError(
                    f"YAML read a word as {str(item).lower()}; quote labels and keywords "
                    'such as "Yes", "No", "On" and "Off"'
                )
        return v

    @field_validator("key")
    @classmethod
    def _key(cls, v: str) -> str:
        if not DTMF_KEY.fullmatch(v):
            raise ValueError(f"menu key {v!r} must be one DTMF key: 0-9, * or #")
        return v

    @field_validator("set")
    @classmethod
    def _set(cls, v: dict[str, Scalar]) -> dict[str, Scalar]:
        for name in v:
            _check_variable(name)
        return v


class MenuNode(_Input):
    type: Literal["menu"]
    options: tuple[MenuOption, ...] = Field(min_length=1)
    variable: str | None = None

    @field_validator("variable")
    @classmethod
    def _variable(cls, v: str | None) -> str | None:
        return None if v is None else _check_variable(v)

    @model_validator(mode="after")
    def _unique(self) -> MenuNode:
        keys = [o.key for o in self.options]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"menu keys must be unique; repeated: {dupes}")
        words: dict[str, str] = {}
        for o in self.options:
            for w in (o.label, *o.keywords):
                w = " ".join(w.casefold().split())
                if words.get(w, o.key) != o.key:
                    raise ValueError(
                        f"chat keyword {w!r} picks both option {words[w]} "
                        f"and option {o.key}; give each option its own words"
                    )
                words[w] = o.key
        return self


class CollectNode(_Input):
    """Collects digits (DTMF on voice; typed digits on chat) into a variable."""

    type: Literal["collect"]
    variable: str
    min_length: int = Field(1, ge=1, le=64)
    max_length: int = Field(16, ge=1, le=64)
    terminator: str | None = "#"
    pattern: str | None = None
    """A regular expression the whole value must match, checked after the lengths."""
    sensitive: bool = False
    """Masks the value in events and logs; it still travels to the agent's screen pop."""
    next: str

    @field_validator("variable")
    @classmethod
    def _variable(cls, v: str) -> str:
        return _check_variable(v)

    @field_validator("terminator")
    @classmethod
    def _terminator(cls, v: str | None) -> str | None:
        if v is not None and v not in ("#", "*"):
            raise ValueError(f"terminator {v!r} must be '#' or '*' (or null for none)")
        return v

    @field_validator("pattern")
    @classmethod
    def _pattern(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                re.compile(v)
            except re.error as exc:
                msg = f"pattern {v!r} is not a valid regular expression: {exc}"
                raise ValueError(msg) from None
        return v

    @model_validator(mode="after")
    def _lengths(self) -> CollectNode:
        if self.min_length > self.max_length:
            raise ValueError(f"min_length {self.min_length} is above max_length {self.max_length}")
        return self


class Case(_Strict):
    when: str
    """A condition over vars, customer, contact, hours and holiday (see docs/ivr.md)."""
    next: str


class BranchNode(_Node):
    type: Literal["branch"]
    cases: tuple[Case, ...] = Field(min_length=1)
    default: str
    """Where to go when no case holds."""


class SetNode(_Node):
    type: Literal["set"]
    values: dict[str, Scalar] = Field(default_factory=dict)
    expressions: dict[str, str] = Field(default_factory=dict)
    """Variables computed from a condition-language expression, e.g. customer.tier."""
    next: str

    @model_validator(mode="after")
    def _names(self) -> SetNode:
        for name in (*self.values, *self.expressions):
            _check_variable(name)
        if not self.values and not self.expressions:
            raise ValueError("a set node needs 'values' or 'expressions'")
        return self


class LookupNode(_Node):
    """Asks the server to find the customer; it answers with ``Session.lookup_result``."""

    type: Literal["lookup"]
    by: Literal["ani", "variable"] = "ani"
    variable: str | None = None
    """With by: variable, the collected variable holding the account number."""
    timeout_s: float = Field(5.0, gt=0, le=60)
    found: str
    not_found: str

    @model_validator(mode="after")
    def _variable(self) -> LookupNode:
        if self.by == "variable" and not self.variable:
            raise ValueError("a lookup by variable needs 'variable': the collected account")
        if self.variable is not None:
            _check_variable(self.variable)
        return self


class SubtreeNode(_Node):
    type: Literal["subtree"]
    tree: str
    next: str
    """Where to continue when the sub-tree reaches a return node."""


class ReturnNode(_Node):
    type: Literal["return"]


class CallbackNode(_Prompted):
    type: Literal["callback"]
    queue: str
    number_variable: str | None = None
    """The variable holding the number to call back; the caller's ANI when not given."""


class VoicemailNode(_Prompted):
    type: Literal["voicemail"]
    mailbox: str = Field(min_length=1)
    max_s: float = Field(120.0, gt=0, le=600)


class TransferNode(_Prompted):
    type: Literal["transfer"]
    number: str

    @field_validator("number")
    @classmethod
    def _number(cls, v: str) -> str:
        if not PHONE_NUMBER.fullmatch(v):
            raise ValueError(f"number {v!r} must be digits with an optional leading +")
        return v


class QueueNode(_Prompted):
    type: Literal["queue"]
    queue: str
    priority: int = 0
    tier_priority: dict[str, int] = Field(default_factory=dict)
    """Priority by the looked-up customer's tier; ``priority`` when not found or unlisted."""
    skills: dict[str, int] = Field(default_factory=dict)
    attach: tuple[str, ...] | None = None
    """Variables attached to the contact; all of them when not given."""

    @field_validator("skills")
    @classmethod
    def _skills(cls, v: dict[str, int]) -> dict[str, int]:
        for name, level in v.items():
            if not 1 <= level <= 10:
                raise ValueError(f"skill {name!r} level {level} must be 1-10")
        return v


class HangupNode(_Prompted):
    type: Literal["hangup"]
    reason: str = "completed"


class SurveyNode(_Input):
    """Post-contact survey: CSAT 1-5, then resolved yes (1) / no (2)."""

    type: Literal["survey"]
    prompt: str | None = None
    """The CSAT question; ``resolved_prompt`` is the second one."""
    resolved_prompt: str | None = None
    chat_resolved_prompt: str | None = None
    csat_variable: str = "csat"
    resolved_variable: str = "resolved"
    next: str


Node = Annotated[
    SayNode
    | PlayNode
    | MenuNode
    | CollectNode
    | BranchNode
    | SetNode
    | LookupNode
    | SubtreeNode
    | ReturnNode
    | CallbackNode
    | VoicemailNode
    | TransferNode
    | QueueNode
    | HangupNode
    | SurveyNode,
    Field(discriminator="type"),
]
InputNode = MenuNode | CollectNode | SurveyNode
INPUT_TYPES = (MenuNode, CollectNode, SurveyNode)
TERMINAL_TYPES = (CallbackNode, VoicemailNode, TransferNode, QueueNode, HangupNode)


class InputDefaults(_Strict):
    timeout_s: float = Field(6.0, gt=0, le=120)
    retries: int = Field(2, ge=0, le=10)
    no_input_prompt: str | None = None
    invalid_prompt: str | None = None
    on_failure: str | None = None


class TreeModel(_Strict):
    id: str | None = None
    """Defaults to the file name without .yaml."""
    description: str = ""
    channels: tuple[Channel, ...] = ("voice",)
    entry: bool = False
    """The tree a new contact on one of ``channels`` starts in (one per channel)."""
    start: str
    schedules: dict[str, Schedule] = Field(default_factory=dict)
    defaults: InputDefaults = InputDefaults()
    max_inputs: int = Field(40, ge=1, le=1000)
    """A caller who has answered (or not answered) this many prompts is let go."""
    limit_prompt: str | None = None
    nodes: dict[str, Node]

    @field_validator("nodes")
    @classmethod
    def _ids(cls, v: dict[str, Node]) -> dict[str, Node]:
        for node_id in v:
            if not NODE_ID.fullmatch(node_id):
                raise ValueError(
                    f"node id {node_id!r} must start with a letter or _ and hold only "
                    "letters, digits, _ and -"
                )
        return v

    @field_validator("channels")
    @classmethod
    def _channels(cls, v: tuple[Channel, ...]) -> tuple[Channel, ...]:
        if not v:
            raise ValueError("list at least one channel: voice or chat")
        return v
