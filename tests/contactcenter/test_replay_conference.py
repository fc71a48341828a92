"""Restart after a conference: the agent who stayed keeps the caller, the one who left
wraps up (replay of the conference events)."""

from __future__ import annotations

from typing import Any

from contactcenter.replay import LogReplay
from contactcenter.store.records import StoredEvent


def _fold(*events: tuple[str, str | None, dict[str, Any]]) -> LogReplay:
    replay = LogReplay()
    for seq, (kind, agent_id, data) in enumerate(events, start=1):
        replay.track(
            StoredEvent(
                type=kind,
                ts=float(seq),
                contact_id="call-1",
                agent_id=agent_id,
                queue_id="sales",
                data=data,
                seq=seq,
            )
        )
    return replay


def test_the_agent_who_stays_in_the_conference_keeps_the_caller() -> None:
    replay = _fold(
        ("contact.arrived", None, {"channel": "voice"}),
        ("contact.queued", None, {}),
        ("contact.offered", "ann", {}),
        ("contact.answered", "ann", {}),
        ("contact.held", "ann", {}),
        ("consult.started", "ann", {"to_agent": "bob", "expires_at": 30.0}),
        ("consult.accepted", "bob", {"from_agent": "ann"}),
        ("conference.started", "ann", {"with_agent": "bob", "hold_s": 4.0}),
        ("conference.left", "ann", {"remaining": "bob", "reason": "left", "in_conference_s": 9.0}),
    )
    contact = replay.contacts["call-1"]
    assert (contact.state, contact.agent_id) == ("connected", "bob")
    assert ("ann", "call-1") in replay.wrapups


def test_a_consult_still_open_leaves_the_caller_on_hold_with_its_agent() -> None:
    replay = _fold(
        ("contact.arrived", None, {"channel": "voice"}),
        ("contact.queued", None, {}),
        ("contact.offered", "ann", {}),
        ("contact.answered", "ann", {}),
        ("contact.held", "ann", {}),
        ("consult.started", "ann", {"to_agent": "bob", "expires_at": 30.0}),
    )
    contact = replay.contacts["call-1"]
    assert (contact.state, contact.agent_id) == ("held", "ann")
