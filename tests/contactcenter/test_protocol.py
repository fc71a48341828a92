"""The websocket message types: every bad frame becomes a ProtocolError with a code."""

from __future__ import annotations

import json

import pytest

from contactcenter import protocol as p


def test_commands_parse_to_their_types() -> None:
    c = p.parse_command(
        json.dumps(
            {"type": "wrapup", "id": 3, "contact_id": "c1", "disposition": "sold", "notes": "ok"}
        )
    )
    assert isinstance(c, p.Wrapup) and c.id == 3 and c.disposition == "sold"
    c = p.parse_command(b'{"type": "transfer", "id": "t", "contact_id": "c", "to_agent": "a"}')
    assert isinstance(c, p.Transfer) and c.to_agent == "a"
    assert isinstance(p.parse_command('{"type": "hello", "id": "h"}'), p.Hello)


@pytest.mark.parametrize(
    ("raw", "code", "command_id"),
    [
        ("{nope", "bad_json", None),
        ("[1, 2]", "bad_message", None),
        ('{"type": "fly", "id": "f"}', "unknown_type", "f"),
        ('{"id": 9}', "unknown_type", 9),
        ('{"type": "accept", "id": "a"}', "invalid_command", "a"),
        ('{"type": "accept", "id": "a", "contact_id": "c", "extra": 1}', "invalid_command", "a"),
        ('{"type": "transfer", "id": "t", "contact_id": "c"}', "invalid_command", "t"),
        (
            '{"type": "transfer", "id": "t", "contact_id": "c", "to_queue": "q", "to_agent": "a"}',
            "invalid_command",
            "t",
        ),
        ('{"type": "resume", "id": "r", "last_seq": -1}', "invalid_command", "r"),
        ('{"type": "hello", "id": "' + "x" * (p.MAX_FRAME_BYTES) + '"}', "frame_too_large", None),
        (b"\xff\xfe", "bad_json", None),
    ],
)
def test_bad_frames_name_the_problem(raw: str | bytes, code: str, command_id: object) -> None:
    with pytest.raises(p.ProtocolError) as info:
        p.parse_command(raw)
    assert info.value.code == code
    assert info.value.command_id == command_id
    assert info.value.message


def test_envelope_shape() -> None:
    msg = json.loads(p.envelope("offer", 4, {"contact_id": "c"}, ts=1.5))
    assert msg == {"type": "offer", "seq": 4, "ts": 1.5, "data": {"contact_id": "c"}}
