"""A fuzz run over the four websockets that CI can afford (issue 13): hypothesis generates
frames (random JSON, text that is not JSON, and near-valid frames built from the frame
types of contactcenter/protocol.py with fields missing, extra, of the wrong type, huge or
non-finite numbers, odd unicode) and sends them to the agent console, supervisor
wallboard, chat visitor and telephony gateway sockets of one running server. Every answer
must be a typed frame of protocol.py (or a documented close), the server must still
answer /healthz afterwards, and nothing may be logged at ERROR (an unhandled exception).

Hypothesis runs in a worker thread (it is synchronous); each example's socket I/O runs on
the test's event loop, where the server and its client live."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar, get_args

import aiohttp
import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from contactcenter import protocol as p
from contactcenter.gateway_contract import OriginateResultIn
from contactcenter.settings import Settings
from tests.contactcenter.server_support import SocketKind, add_agent, open_socket, running_app

EXAMPLES = 200
"""Per socket: the four runs together take some seconds."""
T = TypeVar("T")


class Raw(str):
    """JSON text written as is into a frame (``1e400``, ``NaN``, a lone surrogate...)."""


RAW_VALUES = [
    "1e400",
    "-1e400",
    "1e309",
    "NaN",
    "Infinity",
    "-Infinity",
    "9" * 40,
    "-" + "9" * 25,
    '"\\ud800"',
    '"a\\u0000b"',
    '"\\udfff\\ud800"',
    "[" * 40 + "]" * 40,
    '{"a":' * 40 + "1" + "}" * 40,
    "1.5e-400",
    "-0",
]
PLAUSIBLE: list[Any] = [
    0,
    3,
    True,
    None,
    "c1",
    "call-1",
    "available",
    "offline",
    "+14155550123",
    "123",
    "sales",
    "ann",
    "answered",
    "human",
    "hello",
    "",
    " ",
    "x" * 70,
]

FIELD_VALUES: dict[str, Any] = {
    "id": "c1",
    "contact_id": "c1",
    "status": "available",
    "last_seq": 0,
    "session": "s1",
    "number": "+14155550123",
    "digits": "123",
    "typing": True,
    "muted": True,
    "text": "hello",
    "question": "a question",
    "name": "Vic",
    "token": "t" * 20,
    "to_queue": "sales",
    "agent_id": "ann",
    "disposition": "sale",
    "notes": "notes",
}
"""A value of the right shape for fields of protocol.py's frames (by name)."""

_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs"]),  # lone surrogates go in as Raw
    max_size=40,
)
_scalars: st.SearchStrategy[Any] = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _text
    | st.sampled_from(PLAUSIBLE)
    | st.sampled_from(RAW_VALUES).map(Raw)
)
json_values: st.SearchStrategy[Any] = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_text, inner, max_size=4),
    max_leaves=12,
)


def encode(value: Any) -> str:
    """``value`` as JSON text, ``Raw`` parts verbatim, other text as UTF-8."""
    if isinstance(value, Raw):
        return str(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{encode(str(k))}:{encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(encode(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)


def _frame_models(union: Any) -> dict[str, type[BaseModel]]:
    """``type`` -> model, for a discriminated union of protocol.py's frames."""
    members = get_args(get_args(union)[0])
    return {get_args(m.model_fields["type"].annotation)[0]: m for m in members}


AGENT_FRAMES = _frame_models(p.AgentCommand)
VISITOR_FRAMES = _frame_models(p.VisitorFrame)


@st.composite
def near_valid(draw: st.DrawFn, models: dict[str, type[BaseModel]]) -> dict[str, Any]:
    """A frame of one of ``models``' types: each field present with a plausible or a wrong
    value, or missing; sometimes a field no model has, sometimes a wrong ``type``."""
    kind = draw(st.sampled_from(sorted(models)))
    frame: dict[str, Any] = {"type": kind}
    well_formed = draw(st.booleans())  # then only the odd field is off
    for name in models[kind].model_fields:
        how = draw(st.integers(0, 15 if well_formed else 5))
        if name == "type" or how == 0:
            continue  # missing
        if how >= 6 or (how >= 4 and name in FIELD_VALUES):
            frame[name] = FIELD_VALUES.get(name, draw(st.sampled_from(PLAUSIBLE)))
        else:
            frame[name] = draw(st.sampled_from(PLAUSIBLE) if how == 3 else _scalars)
    if draw(st.integers(0, 5)) == 0:
        frame[draw(_text)] = draw(json_values)
    if draw(st.integers(0, 9)) == 0:
        frame["type"] = draw(_scalars | st.sampled_from([k.upper() for k in models]))
    return frame


@st.composite
def gateway_frames(draw: st.DrawFn) -> dict[str, Any]:
    """Reports of the gateway: ``ack``/``ping``/``originate_result`` (its ``data`` with
    plausible or wrong fields) or a wrong ``type``, with ``seq`` sometimes odd."""
    kinds = st.sampled_from([*p.GATEWAY_REPORT_TYPES, *[p.GATEWAY_ORIGINATE_RESULT] * 3])
    kind = draw(kinds if draw(st.integers(0, 3)) else _scalars)
    frame: dict[str, Any] = {"type": kind}
    if draw(st.booleans()):
        frame["seq"] = draw(st.integers(0, 5) | _scalars)
    plausible = {
        "call_id": st.sampled_from(["c1", "cmp-x-1-1"]),
        "result": st.sampled_from(p.DIAL_RESULTS),
        "amd": st.sampled_from(["human", "machine"]),
        "amd_latency_s": st.floats(0, 30),
    }
    assert set(plausible) == set(OriginateResultIn.model_fields)
    data: dict[str, Any] = {}
    for name, values in plausible.items():
        how = draw(st.integers(0, 7))
        if how:  # else missing
            data[name] = draw(values if how > 1 else _scalars)
    if draw(st.integers(0, 7)) == 0:
        data[draw(_text)] = draw(json_values)
    frame["data"] = data if draw(st.integers(0, 7)) else draw(json_values)
    return frame


def frames(near: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[str]:
    """What a socket is sent: mostly near-valid frames, then any JSON, then text."""
    return st.one_of(
        near.map(encode),
        near.map(encode),
        near.map(encode),
        near.map(encode),
        json_values.map(encode),
        _text,
        st.integers(1, 3000).map(lambda n: "[" * n + "]" * n),
        st.sampled_from(RAW_VALUES),
    )


FRAMES: dict[SocketKind, st.SearchStrategy[str]] = {
    "agent": frames(near_valid(AGENT_FRAMES)),
    "chat": frames(near_valid(VISITOR_FRAMES)),
    "supervisor": frames(near_valid(AGENT_FRAMES)),
    "gateway": frames(gateway_frames()),
}


# --- what the server may answer ----------------------------------------------------------------


class _AgentError(BaseModel):
    id: str | int | None
    code: str
    message: str


def check_frame(kind: SocketKind, text: str) -> dict[str, Any]:
    """A server frame, asserted to be one of protocol.py's for this socket."""
    frame: dict[str, Any] = json.loads(text)
    if kind == "gateway":
        if frame["type"] == p.GATEWAY_ERROR and "seq" not in frame:
            p.GatewayErrorData.model_validate(frame["data"])
        else:
            assert frame["type"] in p.GATEWAY_COMMAND_TYPES, frame
            p.Envelope.model_validate(frame)
        return frame
    p.Envelope.model_validate(frame)
    allowed: tuple[str, ...] = {
        "agent": p.AGENT_MESSAGE_TYPES,
        "chat": p.VISITOR_MESSAGE_TYPES,
        "supervisor": (p.WALLBOARD_SNAPSHOT, p.WALLBOARD_UPDATE, p.WALLBOARD_ERROR),
    }[kind]
    assert frame["type"] in allowed, (kind, frame)
    if frame["type"] == p.ERROR:
        error_models: dict[str, type[BaseModel]] = {
            "agent": _AgentError,
            "chat": p.VisitorErrorData,
            "supervisor": p.WallboardErrorData,
        }
        error_model = error_models[kind]
        error_model.model_validate(frame["data"])
        assert frame["data"]["code"] != "internal", frame
    return frame


def sentinel(kind: SocketKind, n: int) -> tuple[str, Callable[[dict[str, Any]], bool]]:
    """A frame sent after each example whose answer is known: everything before that
    answer was the server's answer to the example."""
    if kind == "agent":
        return json.dumps(
            {"type": "hello", "id": f"sentinel-{n}"}
        ), lambda f: f["type"] == p.REPLY and f["data"].get("id") == f"sentinel-{n}"
    if kind == "chat":
        return json.dumps(
            {"type": "leave", f"sentinel_{n}": 1}
        ), lambda f: f["type"] == p.VISITOR_ERROR and f"sentinel_{n}" in f["data"]["message"]
    if kind == "gateway":
        return json.dumps(
            {"type": f"sentinel-{n}"}
        ), lambda f: f["type"] == p.GATEWAY_ERROR and f"sentinel-{n}" in f["data"]["message"]
    return json.dumps({"sentinel": n}), lambda f: f["type"] == p.WALLBOARD_ERROR


@dataclass
class Target:
    client: TestClient[Any, Any]
    settings: Settings
    loop: asyncio.AbstractEventLoop
    ws: aiohttp.ClientWebSocketResponse | None = None
    sent: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    """What the examples were answered: the error codes, ``reply``, ``close <code>``..."""

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)

    async def socket(self, kind: SocketKind) -> aiohttp.ClientWebSocketResponse:
        # A chat gets a fresh socket per example (its rate limit; a started chat), the
        # others one socket for the run unless a frame closed it.
        if kind == "chat" and self.ws is not None:
            await self.ws.close()
            self.ws = None
        if self.ws is None or self.ws.closed:
            self.ws = await open_socket(
                self.client, self.settings, kind, "ann" if kind == "agent" else None
            )
        return self.ws

    async def exchange(self, kind: SocketKind, frame: str) -> None:
        ws = await self.socket(kind)
        self.sent += 1
        probe, answers = sentinel(kind, self.sent)
        await ws.send_str(frame)
        await ws.send_str(probe)
        errors = 0
        while True:
            msg = await ws.receive(timeout=10.0)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                # 1009/1007: the frame itself; 4029: a chat start refused by the start
                # limits (after its typed error frame; the fake clock never refills them)
                allowed = (p.CLOSE_TOO_LARGE, p.CLOSE_BAD_DATA) + (
                    (p.CLOSE_CHAT_LIMITED,) if kind == "chat" else ()
                )
                assert ws.close_code in allowed, ws.close_code
                self.answers[f"close {ws.close_code}"] += 1
                return
            assert msg.type == aiohttp.WSMsgType.TEXT, msg
            answer = check_frame(kind, msg.data)
            if kind == "supervisor" and answer["type"] == p.WALLBOARD_ERROR:
                errors += 1  # one per frame: the example's, then the sentinel's
                if errors == 2:
                    return
            elif answers(answer):
                return
            self.answers[answer["data"].get("code") or answer["type"]] += 1


COMMON_EXAMPLES = [
    "[" * 2000 + "]" * 2000,
    '{"type":"hello","id":1,"last_seq":1e400}',
    "{nope",
    '{"type":"\\u0000"}',
]
EXAMPLES_OF: dict[SocketKind, list[str]] = {
    "agent": [
        '{"type":"dance","id":"x"}',
        '{"type":"accept","id":"x"}',
        '{"type":"accept","id":"x","contact_id":"nope"}',
    ],
    "supervisor": ["{}"],
    "chat": ['{"type":"dance"}', '{"type":"start"}', '{"type":"message","text":"hi"}'],
    "gateway": [
        '{"type":"dance"}',
        '{"type":"originate_result","data":{}}',
        '{"type":"originate_result","data":{"call_id":"c1","result":"busy"}}',
    ],
}
"""Run first, every time (then the generated ones): each reaches one of ``SEEN``."""


def fuzz(kind: SocketKind, target: Target) -> Callable[[], None]:
    """The hypothesis run over one socket (synchronous: call it in a thread)."""

    def answered(frame: str) -> None:
        target.run(target.exchange(kind, frame))

    run = given(frame=FRAMES[kind])(answered)
    for frame in COMMON_EXAMPLES + EXAMPLES_OF[kind]:
        run = example(frame=frame)(run)
    return settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )(run)


SEEN: dict[SocketKind, set[str]] = {
    "agent": {
        "bad_json",
        "too_deep",
        "bad_number",
        "unknown_type",
        "invalid_command",
        "unknown_contact",
    },
    "supervisor": {"read_only", "bad_json", "too_deep", "bad_number"},
    "chat": {"no_chat", "bad_json", "too_deep", "bad_number", "unknown_type", "invalid_frame"},
    "gateway": {
        "bad_json",
        "too_deep",
        "bad_number",
        "unknown_type",
        "invalid_result",
        "unknown_contact",
    },
}
"""Answers each socket's run must have drawn at least once (the explicit examples see to
it): the decoder's refusals, the frame validation and (``unknown_contact``, ``no_chat``)
the services behind it; the counts show how the generated frames spread."""


async def test_fuzzed_frames_get_typed_answers_and_the_server_stays_up(
    db: asyncpg.Pool, cc_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    await add_agent(db, "ann", {"sales": 5, "chat_support": 5})
    caplog.set_level(logging.WARNING)
    async with running_app(cc_settings, db) as client:
        for kind in SEEN:
            target = Target(client, cc_settings, asyncio.get_running_loop())

            await asyncio.to_thread(fuzz(kind, target))
            if target.ws is not None:
                await target.ws.close()
            assert target.sent >= EXAMPLES, kind
            missing = SEEN[kind] - set(target.answers)
            assert not missing, (kind, missing, target.answers)
            health = await client.get("/healthz")
            assert health.status == 200, kind
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [f"{r.name}: {r.getMessage()}" for r in errors]
