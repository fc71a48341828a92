"""The simulated carrier against a real server: calls placed through the gateway contract,
one bridged to an agent who accepts it on her websocket, one abandoned by patience."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg
import pytest

from contactcenter.carrier import Carrier, CarrierConfig, CarrierError, parse_rate
from contactcenter.settings import Settings
from contactcenter.store.events import read_contact
from contactcenter.store.interactions import get_interaction
from tests.contactcenter.server_support import (
    Console,
    add_agent,
    console,
    gateway_key,
    running_app,
    token,
)


def test_parse_rate() -> None:
    assert parse_rate("2/s") == 2.0
    assert parse_rate("30/min") == 0.5
    assert parse_rate("3600/h") == 1.0
    assert parse_rate("0.5") == 0.5
    for bad in ("", "fast", "0/s", "2/week"):
        with pytest.raises(ValueError):
            parse_rate(bad)


async def _accept_offers(agent: Console, accepted: list[str]) -> None:
    """The agent accepts every offer she gets (and leaves the wrap-up open)."""
    while True:
        offer = await agent.next("offer", timeout=30)
        contact_id = offer["data"]["contact_id"]
        reply = await agent.command("accept", contact_id=contact_id)
        assert reply["type"] == "reply", reply
        accepted.append(contact_id)


async def test_carrier_calls_are_bridged_or_abandoned(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "alice", {"sales": 8})
    async with (
        running_app(cc_settings, db) as client,
        console(client, cc_settings, "alice") as alice,
    ):
        assert (await alice.command("set_status", status="available"))["type"] == "reply"
        await alice.next("agent_state", activity="idle")
        accepted: list[str] = []
        agent_task = asyncio.create_task(_accept_offers(alice, accepted))
        url = str(client.make_url("")).rstrip("/")
        # Fixed times, the carrier's own (real time: it is the callers): call 1 arrives at
        # 0.125 s and is offered to alice, who accepts it at once; its caller talks 0.25 s
        # and hangs up, and alice stays in wrap-up. Call 2 arrives at 0.25 s, finds no
        # free agent and hangs up after its 0.75 s of patience.
        carrier = Carrier(
            CarrierConfig(
                url=url,
                gateway_key=gateway_key(cc_settings),
                rate=8.0,
                duration=5.0,
                max_calls=2,
                patience_mean=0.75,
                talk_mean=0.25,
                dnis="+18005550100",
                fixed_times=True,
                seed=1,
                call_prefix="t",
                drain=10.0,
            )
        )
        try:
            result = await asyncio.wait_for(carrier.run(), 20)
        finally:
            agent_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await agent_task

    assert (result.placed, result.bridged, result.abandoned, result.errors, result.cut_off) == (
        2,
        1,
        1,
        0,
        0,
    ), result
    assert accepted == ["t-1"]
    first, second = result.calls
    assert (first.call_id, first.outcome, first.agent_id, first.ended_by) == (
        "t-1",
        "bridged",
        "alice",
        "caller",
    )
    assert first.time_to_bridge is not None and 0 <= first.time_to_bridge < 1.5
    assert result.mean_time_to_bridge == first.time_to_bridge
    assert (second.call_id, second.outcome, second.state) == ("t-2", "abandoned", "queued")
    summary = result.summary()
    assert "calls" not in summary and summary["placed"] == 2

    handled = await get_interaction(db, "t-1")
    assert handled is not None and handled.agent_id == "alice"
    assert handled.answered_at is not None and handled.ended_at is not None
    assert handled.queue_id == "sales" and handled.ani in CarrierConfig.anis
    abandoned = await get_interaction(db, "t-2")
    assert abandoned is not None and abandoned.outcome == "abandoned"
    assert abandoned.answered_at is None
    story = [e.type for e in await read_contact(db, "t-2")]
    assert story[0] == "contact.arrived" and story[-1] == "contact.abandoned"
    assert "contact.answered" not in story
    ended = [e for e in await read_contact(db, "t-1") if e.type == "contact.ended"]
    assert len(ended) == 1 and ended[0].data.get("ended_by") == "customer"


async def test_carrier_refuses_to_start_without_a_gateway_key(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "bob", {"sales": 5})
    async with running_app(cc_settings, db) as client:
        # an admin's token is not a gateway credential
        admin = Carrier(
            CarrierConfig(
                url=str(client.make_url("")),
                gateway_key=token(cc_settings, "root", "admin"),
                queue="sales",
                max_calls=1,
            )
        )
        with pytest.raises(CarrierError, match="refused the gateway websocket \\(401\\)"):
            await admin.run()
        wrong = Carrier(
            CarrierConfig(
                url=str(client.make_url("")),
                gateway_key="local." + "x" * 43,
                queue="sales",
            )
        )
        with pytest.raises(CarrierError, match="gateway_key_invalid"):
            await wrong.run()
        none = Carrier(CarrierConfig(url=str(client.make_url("")), queue="sales"))
        with pytest.raises(CarrierError, match="give the gateway key"):
            await none.run()


async def test_carrier_command_prints_one_json_object(
    db: asyncpg.Pool,
    cc_settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import argparse
    import json

    from contactcenter import carrier

    parser = argparse.ArgumentParser()
    carrier.register(parser.add_subparsers())
    # No key option: the carrier reads the key the server created in its data directory
    # (CC_DATA_DIR), as after ./scripts/serve.sh.
    monkeypatch.setenv("CC_DATA_DIR", str(cc_settings.data_dir))
    monkeypatch.delenv("CC_GATEWAY_KEY", raising=False)
    async with running_app(cc_settings, db) as client:
        args = parser.parse_args(
            [
                "carrier",
                "--url",
                str(client.make_url("")),
                "--rate",
                "20/s",
                "--duration",
                "5",
                "--max-calls",
                "3",
                "--patience-mean",
                "0.3",
                "--talk-mean",
                "1",
                "--queue",
                "billing",
                "--seed",
                "7",
                "--json",
            ]
        )
        # the command runs its own event loop: give it a thread
        code = await asyncio.to_thread(args.func, args)
    assert code == 0
    summary = json.loads(capsys.readouterr().out)
    assert (summary["placed"], summary["abandoned"], summary["bridged"], summary["errors"]) == (
        3,
        3,
        0,
        0,
    ), summary
    assert summary["mean_time_to_bridge"] is None
