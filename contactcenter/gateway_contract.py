"""The telephony gateway contract's inbound bodies (docs/gateway.md): what a PBX, a media
server or the simulated carrier sends the server. The gateway module serves them; the IVR
service reads a call's fields; both import them from here."""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from contactcenter import protocol as p

ID = r"^[A-Za-z0-9_.:@-]{1,64}$"
Scalar = str | int | float | bool | None

MAX_DATA_KEYS = 32
MAX_DATA_KEY = 64
MAX_DATA_TEXT = 1024


def _bounded_scalar(value: object) -> object:
    """One value of attached data: flat (no objects or lists), finite, bounded text."""
    if isinstance(value, str):
        if len(value) > MAX_DATA_TEXT:
            raise ValueError(f"text of {len(value)} characters; at most {MAX_DATA_TEXT}")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("not a finite number")
    elif value is not None and not isinstance(value, int):  # bool is an int
        raise ValueError("must be a string, a number, true/false or null (attached data is flat)")
    return value


DataKey = Annotated[str, Field(min_length=1, max_length=MAX_DATA_KEY)]
AttachedData = Annotated[
    dict[DataKey, Annotated[Scalar, BeforeValidator(_bounded_scalar)]],
    Field(max_length=MAX_DATA_KEYS),
]
"""Free-form attached data from a client: at most 32 keys of 1-64 characters, each value
a scalar (text at most 1024 characters, numbers finite); errors name ``data.<key>``."""
SkillName = Annotated[str, Field(min_length=1, max_length=64)]


class CallIn(BaseModel):
    """``POST /gateway/calls``: a call arrived and should wait for an agent."""

    model_config = ConfigDict(extra="forbid")

    call_id: str = Field(pattern=ID)
    ani: str | None = Field(None, max_length=64)
    dnis: str | None = Field(None, max_length=64)
    queue: str | None = Field(None, pattern=ID)
    """Overrides the dnis -> queue mapping."""
    account: str | None = Field(None, min_length=1, max_length=64)
    """An account number the caller keyed in the IVR: the best screen-pop key."""
    priority: int | None = Field(None, ge=-100, le=100)
    skills: dict[SkillName, int] = Field(default_factory=dict, max_length=8)
    data: AttachedData = Field(default_factory=dict)
    """Attached data (IVR answers, language...); routing expressions see it."""


class OriginateResultIn(BaseModel):
    """``originate_result`` on the gateway websocket: what became of an ``originate``."""

    model_config = ConfigDict(extra="forbid")

    call_id: str = Field(pattern=ID)
    result: p.DialResult
    amd: Literal["human", "machine"] | None = None
    """Campaign dials: the answering-machine detector's verdict on an ``answered`` call."""
    amd_latency_s: float | None = Field(None, ge=0, le=30)
    """Seconds from the answer to that verdict (spent out of the 2-second rule)."""


class DigitsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    digits: str = Field(pattern=r"^[0-9*#A-Da-d]{1,64}$")


def invalid(exc: ValidationError) -> str:
    """A validation error as one line naming each field and what is wrong with it."""
    return "; ".join(
        f"{'.'.join(str(x) for x in err['loc']) or '(body)'}: {err['msg']}" for err in exc.errors()
    )
