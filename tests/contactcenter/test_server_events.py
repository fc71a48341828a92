"""The server's own events: one typed record per event type, and no writer building one
of those types by hand."""

from __future__ import annotations

import ast
from pathlib import Path

from contactcenter.server_events import SERVER_EVENT_TYPES, ContactArrived, DialResult, DtmfSent
from contactcenter.store.records import EventRecord

PACKAGE = Path(__file__).resolve().parents[2] / "contactcenter"


def test_contact_arrived_record_has_the_payload_the_log_and_replay_read() -> None:
    record = ContactArrived(
        contact_id="c1",
        queue_id="sales",
        channel="voice",
        direction="inbound",
        ani="+15550001",
        attached={"ani": "+15550001"},
    ).record(12.5)
    assert record == EventRecord(
        type="contact.arrived",
        ts=12.5,
        contact_id="c1",
        agent_id=None,
        queue_id="sales",
        data={
            "channel": "voice",
            "direction": "inbound",
            "ani": "+15550001",
            "dnis": None,
            "customer_id": None,
            "priority": None,
            "skills": {},
            "attached": {"ani": "+15550001"},
        },
    )


def test_dtmf_record_carries_the_count_only() -> None:
    record = DtmfSent(contact_id="c1", agent_id="ann", queue_id="q", count=4).record(1.0)
    assert (record.type, record.agent_id, record.data) == ("contact.dtmf_sent", "ann", {"count": 4})


def test_no_module_builds_a_typed_server_event_by_hand() -> None:
    by_hand = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if path.name == "server_events.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "type":
                value = node.value
                if isinstance(value, ast.Constant) and value.value in SERVER_EVENT_TYPES:
                    by_hand.append(f"{path.name}:{node.value.lineno} {value.value}")
    assert by_hand == []


def test_dial_result_payloads_of_click_to_dial_and_of_a_campaign() -> None:
    click = DialResult(contact_id="out-1", agent_id="ann", result="busy").record(1.0)
    assert click.data == {"result": "busy"}
    missed = DialResult(
        contact_id="cmp-a-1", result="no_answer", campaign_id="a", attached={"x": 1}
    ).record(1.0)
    assert missed.data == {"result": "no_answer", "campaign_id": "a", "attached": {"x": 1}}
    live = DialResult(
        contact_id="cmp-a-2",
        result="answered",
        campaign_id="a",
        amd=None,
        answered_at=0.5,
        attached={"dial_outcome": "live"},
    ).record(1.0)
    assert live.data == {
        "result": "answered",
        "campaign_id": "a",
        "amd": None,
        "answered_at": 0.5,
        "attached": {"dial_outcome": "live"},
    }
