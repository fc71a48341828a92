"""The voice IVR end to end: a call to an IVR number runs config/ivr/main.yaml through the
gateway websocket (gather commands, digits over HTTP), is queued with the priority and
skills the tree set, and reaches the agent with the IVR path and collected data in the
screen pop; real PostgreSQL, real server, real websockets."""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from aiohttp.test_utils import TestClient, TestServer

from contactcenter.app import create_app, load_routing_config
from contactcenter.clock import AsyncioScheduler, ManualScheduler, Scheduler
from contactcenter.settings import Settings
from contactcenter.store.customers import CustomerIn, upsert_customer
from contactcenter.store.events import read_contact
from contactcenter.store.interactions import get_interaction
from contactcenter.store.users import AgentProfileIn, create_user, save_agent_profile
from tests.contactcenter.server_support import (
    CONFIG_DIR,
    PASSWORD,
    armed,
    bearer,
    console,
    gateway_headers,
    gateway_key,
)

IVR_NUMBER = "+18005550123"
# Wednesday 25 November 2026, 15:00 UTC: the London office and the New York chat team
# are both open (the trees check business hours).
OPEN_AT = datetime(2026, 11, 25, 15, 0, tzinfo=UTC).timestamp()


def shifted_clock(at: float) -> Callable[[], float]:
    """A clock that starts at ``at`` and runs at real speed (timers stay real)."""
    t0 = time.time()
    return lambda: at + (time.time() - t0)


def copy_config(
    target: Path, extra_trees: dict[str, str] | None = None, gateway_yaml: str | None = None
) -> Path:
    """The repository's configuration in a temporary directory, optionally changed."""
    shutil.copytree(CONFIG_DIR, target, dirs_exist_ok=True)
    for name, text in (extra_trees or {}).items():
        (target / "ivr" / name).write_text(text)
    if gateway_yaml is not None:
        (target / "gateway.yaml").write_text(gateway_yaml)
    return target


@asynccontextmanager
async def ivr_app(
    settings: Settings,
    pool: Any,
    at: float = OPEN_AT,
    *,
    scheduler: Scheduler | None = None,
    **changes: Any,
) -> AsyncIterator[TestClient[Any, Any]]:
    """The app with the repository's IVR trees, its clock at ``at`` and running (or
    ``scheduler``, e.g. ``ManualScheduler(start=at)`` for a test that waits for a timer)."""
    if changes:
        settings = settings.model_copy(update=changes)
    app = create_app(
        settings,
        pool=pool,
        routing_config=load_routing_config(settings.config_dir),
        dnis_map={"+18005550100": "sales"},
        scheduler=scheduler or AsyncioScheduler(shifted_clock(at)),
    )
    async with TestServer(app, host="127.0.0.1") as server, TestClient(server) as client:
        yield client


async def add_agent(
    pool: Any, user_id: str, skills: dict[str, int], capacity: dict[str, int] | None = None
) -> None:
    await create_user(pool, username=user_id, password=PASSWORD, role="agent")
    await save_agent_profile(
        pool,
        user_id,
        AgentProfileIn(skills=skills, extension=f"x-{user_id}", capacity=capacity or {"voice": 1}),
    )


class GatewayClient:
    """The gateway websocket, as a PBX sees it: commands in, kept in order."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.seen: list[dict[str, Any]] = []
        self.inbox: list[dict[str, Any]] = []

    async def next(self, kind: str, call_id: str, timeout: float = 5.0) -> dict[str, Any]:
        """The first unconsumed command of this type for this call (others stay)."""

        def matches(m: dict[str, Any]) -> bool:
            return m["type"] == kind and m["data"].get("call_id") == call_id

        for m in self.inbox:
            if matches(m):
                self.inbox.remove(m)
                return dict(m["data"])

        async def wait() -> dict[str, Any]:
            while True:
                msg = await self.ws.receive_json()
                self.seen.append(msg)
                if matches(msg):
                    return dict(msg["data"])
                self.inbox.append(msg)

        return await asyncio.wait_for(wait(), timeout)


async def digits(
    client: TestClient[Any, Any], settings: Settings, call_id: str, keys: str
) -> dict[str, Any]:
    resp = await client.post(
        f"/gateway/calls/{call_id}/digits", headers=gateway_headers(settings), json={"digits": keys}
    )
    assert resp.status == 200, await resp.text()
    body: dict[str, Any] = await resp.json()
    return body


async def test_call_through_the_ivr_reaches_the_agent_with_path_and_account(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "bea", {"billing": 5})
    await add_agent(db, "sam", {"sales": 8})
    grace = await upsert_customer(
        db,
        CustomerIn(
            name="Grace Hopper", account_number="12345678", phones=["+14155550177"], tier="gold"
        ),
    )

    async with ivr_app(cc_settings, db) as client:
        gw = GatewayClient(
            await client.ws_connect("/gateway/ws", headers=gateway_headers(cc_settings))
        )
        async with (
            console(client, cc_settings, "bea") as bea,
            console(client, cc_settings, "sam") as sam,
        ):
            for c in (bea, sam):
                await c.next("agent_state")
                assert (await c.command("set_status", status="available"))["type"] == "reply"
                await c.next("agent_state", activity="idle")

            # an unknown number: the ANI lookup fails, so the tree asks for the account
            resp = await client.post(
                "/gateway/calls",
                headers=gateway_headers(cc_settings),
                json={"call_id": "ivr-1", "ani": "+442079460000", "dnis": IVR_NUMBER},
            )
            assert resp.status == 201, await resp.text()
            assert (await resp.json())["state"] == "ivr"

            language = await gw.next("gather", "ivr-1")
            assert language["node"] == "language" and language["kind"] == "menu"
            assert language["prompts"][0]["play"] == "prompts/welcome.wav"
            assert (await digits(client, cc_settings, "ivr-1", "1"))["node"] == "ask_account"

            account = await gw.next("gather", "ivr-1")
            assert account["node"] == "ask_account"
            assert (account["max_digits"], account["terminator"]) == (8, "#")
            answered = await digits(client, cc_settings, "ivr-1", "12345678#")
            assert answered["digits"] == "***"  # a sensitive prompt is not echoed

            menu = await gw.next("gather", "ivr-1")
            assert menu["node"] == "main_menu"
            await digits(client, cc_settings, "ivr-1", "3")

            offer = (await bea.next("offer"))["data"]
            assert offer["contact_id"] == "ivr-1" and offer["queue"] == "billing"
            pop = offer["screen_pop"]
            assert pop["known"] is True and pop["customer"]["account_number"] == "12345678"
            ivr = pop["ivr"]
            assert ivr["tree"] == "main"
            assert ivr["path"][:3] == ["welcome", "language", "hours_check"]
            assert ivr["path"][-5:] == [
                "ask_account",
                "lookup_account",
                "known_caller",
                "main_menu",
                "queue_billing",
            ]
            assert ivr["variables"]["account"] == "***" and ivr["sensitive"] == ["account"]
            assert ivr["variables"]["department"] == "billing"
            assert ivr["variables"]["language"] == "en"
            assert ivr["variables"]["tier"] == "gold"
            assert ivr["variables"]["customer_id"] == grace.id
            assert not [m for m in sam.seen if m["type"] == "offer"]

            # the announcement before the queue, then the hold music while offered
            prompt = await gw.next("prompt", "ivr-1")
            assert "billing" in prompt["prompts"][0]["say"]
            assert (await bea.command("accept", contact_id="ivr-1"))["type"] == "reply"
            bridge = await gw.next("bridge", "ivr-1")
            assert bridge["extension"] == "x-bea"
        await gw.ws.close()

    row = await get_interaction(db, "ivr-1")
    assert row is not None
    assert (row.channel, row.queue_id, row.agent_id, row.customer_id) == (
        "voice",
        "billing",
        "bea",
        grace.id,
    )
    assert row.priority == 5  # tier_priority gold
    nodes = [step["node"] for step in row.ivr_path]
    assert nodes[:2] == ["welcome", "language"] and nodes[-1] == "queue_billing"
    by_node = {step["node"]: step for step in row.ivr_path}
    assert by_node["language"]["input"] == "1"
    assert by_node["ask_account"]["input"] == "***"  # never the account in the log
    assert row.attached["department"] == "billing"
    assert row.attached["account"] == "***"
    assert row.attached["ivr"]["path"][-1] == "queue_billing"

    events = await read_contact(db, "ivr-1")
    types = [e.type for e in events]
    # the IVR steps are logged before the contact arrives in the engine
    assert (
        types.index("ivr.started") < types.index("contact.arrived") < types.index("contact.queued")
    )
    arrived = next(e for e in events if e.type == "contact.arrived")
    assert arrived.data["skills"] == {"billing": 3}
    assert "12345678" not in str([e.data for e in events])


QUICK_TIMEOUT_S = 5.0  # the tree's gather timeout
TIMEOUT_TREE = """
id: quick
description: A short tree for the timeout and retry path
channels: [voice]
start: menu
defaults:
  timeout_s: 5
  retries: 1
  no_input_prompt: Sorry, I did not hear a choice.
  invalid_prompt: That is not an option.
  on_failure: operator
nodes:
  menu:
    type: menu
    prompt: For sales press 1.
    options:
      - {key: "1", label: Sales, next: sales}
      - {key: "2", label: Partner line, next: partner}
      - {key: "3", label: Message, next: message}
  partner:
    type: transfer
    number: "+442070000000"
    prompt: Transferring you to our partner.
  message:
    type: voicemail
    mailbox: sales
    max_s: 60
  sales:
    type: queue
    queue: sales
  operator:
    type: queue
    queue: support
    prompt: Let me put you through to an agent.
"""
GATEWAY_YAML = """
ivr:
  dnis: {"+18005550999": quick, "+18005550123": main}
  survey_tree: survey
  survey_queues: [support]
"""


async def test_ivr_timeouts_retry_then_go_to_the_failure_target(
    db: asyncpg.Pool, cc_settings: Settings, tmp_path: Path
) -> None:
    config = copy_config(tmp_path / "config", {"quick.yaml": TIMEOUT_TREE}, GATEWAY_YAML)
    scheduler = ManualScheduler(start=OPEN_AT)
    async with ivr_app(cc_settings, db, config_dir=config, scheduler=scheduler) as client:
        gw = GatewayClient(
            await client.ws_connect("/gateway/ws", headers=gateway_headers(cc_settings))
        )
        resp = await client.post(
            "/gateway/calls",
            headers=gateway_headers(cc_settings),
            json={"call_id": "quiet-1", "ani": "+14155550100", "dnis": "+18005550999"},
        )
        assert resp.status == 201, await resp.text()
        first = await gw.next("gather", "quiet-1")
        assert (first["node"], first["attempt"]) == ("menu", 1)
        # silence: the menu is asked again with the no-input prompt, at the timeout
        await armed(scheduler, QUICK_TIMEOUT_S, "the gather timeout")
        await scheduler.advance(QUICK_TIMEOUT_S - 0.25)
        assert scheduler.now() + 0.25 in scheduler.pending()  # not yet: it still waits
        await scheduler.advance(0.25)
        second = await gw.next("gather", "quiet-1")
        assert second["attempt"] == 2 and second["prompt_id"] > first["prompt_id"]
        assert second["prompts"][0]["say"] == "Sorry, I did not hear a choice."
        # a wrong key on the last attempt: retries are used up, on to the operator queue
        resp = await client.post(
            "/gateway/calls/quiet-1/digits",
            headers=gateway_headers(cc_settings),
            json={"digits": "7"},
        )
        assert resp.status == 200, await resp.text()
        await gw.next("play", "quiet-1")  # queued for support: hold music
        # digits for a call that is no longer in the IVR are only logged
        assert (await digits(client, cc_settings, "quiet-1", "5"))["digits"] == "5"

        # a second caller hangs up in the IVR: the interaction ends there
        resp = await client.post(
            "/gateway/calls",
            headers=gateway_headers(cc_settings),
            json={"call_id": "quiet-2", "dnis": "+18005550999"},
        )
        assert resp.status == 201
        await gw.next("gather", "quiet-2")
        resp = await client.post(
            "/gateway/calls/quiet-2/hangup", headers=gateway_headers(cc_settings)
        )
        assert resp.status == 200 and (await resp.json())["state"] == "ended"
        late = await client.post(
            "/gateway/calls/quiet-2/digits",
            headers=gateway_headers(cc_settings),
            json={"digits": "1"},
        )
        assert late.status == 404
        await gw.ws.close()

    row = await get_interaction(db, "quiet-1")
    assert row is not None and row.queue_id == "support"
    types = [e.type for e in await read_contact(db, "quiet-1")]
    assert types.count("ivr.no_input") == 1 and types.count("ivr.invalid") == 1
    assert "ivr.retries_exhausted" in types
    gone = await get_interaction(db, "quiet-2")
    assert gone is not None
    assert (gone.outcome, gone.outcome_reason) == ("ended_in_ivr", "caller_left")
    assert [s["node"] for s in gone.ivr_path] == ["menu"]


async def test_simulated_carrier_answers_the_ivr_from_a_script(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    from contactcenter.carrier import Carrier, CarrierConfig

    await upsert_customer(db, CustomerIn(name="Lin", account_number="87654321", tier="gold"))
    async with ivr_app(cc_settings, db) as client:
        carrier = Carrier(
            CarrierConfig(
                url=str(client.make_url("")),
                gateway_key=gateway_key(cc_settings),
                rate=4.0,
                duration=1.0,
                max_calls=1,
                patience_mean=2.0,
                talk_mean=1.0,
                dnis=IVR_NUMBER,
                anis=("+33100000000",),
                fixed_times=True,
                call_prefix="scr",
                drain=5.0,
                ivr_digits=("1", "87654321#", "1"),
            )
        )
        result = await asyncio.wait_for(carrier.run(), 20)
    assert (result.placed, result.abandoned, result.errors) == (1, 1, 0)
    row = await get_interaction(db, "scr-1")
    assert row is not None
    # language 1, the account, then sales: queued with gold priority, nobody answered
    assert (row.queue_id, row.priority, row.outcome) == ("sales", 5, "abandoned")
    assert row.attached["department"] == "sales" and row.attached["tier"] == "gold"
    assert [s.get("input") for s in row.ivr_path if "input" in s] == ["1", "***", "1"]


async def test_ivr_ends_in_transfer_voicemail_and_callback(
    db: asyncpg.Pool, cc_settings: Settings, tmp_path: Path
) -> None:
    config = copy_config(tmp_path / "config", {"quick.yaml": TIMEOUT_TREE}, GATEWAY_YAML)
    # 02:00 in London: main.yaml offers a callback or a message
    night = datetime(2026, 11, 25, 2, 0, tzinfo=UTC).timestamp()
    async with ivr_app(cc_settings, db, at=night, config_dir=config) as client:
        gw = GatewayClient(
            await client.ws_connect("/gateway/ws", headers=gateway_headers(cc_settings))
        )
        for call_id, dnis, keys in (
            ("t-1", "+18005550999", ["2"]),
            ("t-2", "+18005550999", ["3"]),
            ("t-3", IVR_NUMBER, ["1", "1"]),
        ):
            resp = await client.post(
                "/gateway/calls",
                headers=gateway_headers(cc_settings),
                json={"call_id": call_id, "ani": "+14155550142", "dnis": dnis},
            )
            assert resp.status == 201, await resp.text()
            for key in keys:
                await gw.next("gather", call_id)
                await digits(client, cc_settings, call_id, key)
        transfer = await gw.next("transfer", "t-1")
        assert (transfer["target"], transfer["reason"]) == ("+442070000000", "ivr")
        voicemail = await gw.next("voicemail", "t-2")
        assert (voicemail["mailbox"], voicemail["max_s"]) == ("sales", 60)
        bye = await gw.next("hangup", "t-3")
        assert bye["reason"] == "callback"
        await gw.ws.close()

    for call_id, reason in (("t-1", "transfer"), ("t-2", "voicemail"), ("t-3", "callback")):
        row = await get_interaction(db, call_id)
        assert row is not None
        assert (row.outcome, row.outcome_reason, row.queue_id) == ("ended_in_ivr", reason, None)
    events = await read_contact(db, "t-3")
    nodes = [e.data["node"] for e in events if e.type == "ivr.entered_node"]
    assert "after_hours" in nodes and nodes[-1] == "callback_after_hours"
    callback = next(e for e in events if e.type == "callback.requested")
    assert (callback.queue_id, callback.data["number"]) == ("support", "+14155550142")


async def test_a_bad_tree_on_reload_is_refused_and_the_running_one_keeps_serving(
    db: asyncpg.Pool, cc_settings: Settings, tmp_path: Path
) -> None:
    config = copy_config(tmp_path / "config", {"quick.yaml": TIMEOUT_TREE}, GATEWAY_YAML)
    admin = bearer(cc_settings, "root", "admin")
    async with ivr_app(cc_settings, db, config_dir=config) as client:
        gw = GatewayClient(
            await client.ws_connect("/gateway/ws", headers=gateway_headers(cc_settings))
        )
        refused = await client.post("/api/ivr/reload", headers=bearer(cc_settings, "bea", "agent"))
        assert refused.status == 403
        (config / "ivr" / "quick.yaml").write_text(
            TIMEOUT_TREE.replace("next: sales}", "next: nowhere}")
        )
        bad = await client.post("/api/ivr/reload", headers=admin)
        assert bad.status == 400
        error = (await bad.json())["error"]
        assert error["code"] == "invalid_ivr"
        assert any("quick.yaml" in p and "nowhere" in p for p in error["problems"])
        # the tree in service still answers
        resp = await client.post(
            "/gateway/calls",
            headers=gateway_headers(cc_settings),
            json={"call_id": "rl-1", "dnis": "+18005550999"},
        )
        assert resp.status == 201
        await gw.next("gather", "rl-1")
        await digits(client, cc_settings, "rl-1", "1")
        await gw.next("play", "rl-1")  # queued for sales

        (config / "ivr" / "quick.yaml").write_text(
            TIMEOUT_TREE.replace("For sales press 1.", "Press 1 for sales, reloaded.")
        )
        good = await client.post("/api/ivr/reload", headers=admin)
        assert good.status == 200, await good.text()
        body = await good.json()
        assert "quick" in body["trees"] and body["entries"] == {"voice": "main", "chat": "chat"}
        assert body["dnis"]["+18005550999"] == "quick"
        resp = await client.post(
            "/gateway/calls",
            headers=gateway_headers(cc_settings),
            json={"call_id": "rl-2", "dnis": "+18005550999"},
        )
        gather = await gw.next("gather", "rl-2")
        assert gather["prompts"][0]["say"] == "Press 1 for sales, reloaded."
        await gw.ws.close()


async def test_simulated_carrier_counts_calls_the_ivr_ends(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    from contactcenter.carrier import Carrier, CarrierConfig

    night = datetime(2026, 11, 25, 2, 0, tzinfo=UTC).timestamp()
    async with ivr_app(cc_settings, db, at=night) as client:
        carrier = Carrier(
            CarrierConfig(
                url=str(client.make_url("")),
                gateway_key=gateway_key(cc_settings),
                rate=4.0,
                duration=1.0,
                max_calls=1,
                patience_mean=5.0,
                talk_mean=1.0,
                dnis=IVR_NUMBER,
                fixed_times=True,
                call_prefix="cb",
                drain=5.0,
                ivr_digits=("1", "1"),
            )
        )
        result = await asyncio.wait_for(carrier.run(), 20)
    # English, then "call me back" after hours: the IVR hangs up, nobody waited in a queue
    assert (result.placed, result.ended_in_ivr, result.errors) == (1, 1, 0), result
    assert result.calls[0].outcome == "ended_in_ivr"
    row = await get_interaction(db, "cb-1")
    assert row is not None and (row.outcome, row.outcome_reason) == ("ended_in_ivr", "callback")


async def test_what_the_ivr_collected_survives_a_restart_of_the_server(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "sam", {"sales": 8})
    # a known number: the ANI look-up finds the customer, no account is asked
    await upsert_customer(db, CustomerIn(name="Uta", phones=["+4930123456"]))
    async with ivr_app(cc_settings, db) as client:
        gw = GatewayClient(
            await client.ws_connect("/gateway/ws", headers=gateway_headers(cc_settings))
        )
        resp = await client.post(
            "/gateway/calls",
            headers=gateway_headers(cc_settings),
            json={"call_id": "rs-1", "ani": "+4930123456", "dnis": IVR_NUMBER},
        )
        assert resp.status == 201
        for node, keys in (("language", "2"), ("main_menu", "1")):  # French, then sales
            assert (await gw.next("gather", "rs-1"))["node"] == node
            await digits(client, cc_settings, "rs-1", keys)
        await gw.next("play", "rs-1")  # queued
        await gw.ws.close()
    # the call waits in sales while the server restarts; then an agent logs in
    async with ivr_app(cc_settings, db) as client, console(client, cc_settings, "sam") as sam:
        await sam.next("agent_state")
        await sam.command("set_status", status="available")
        offer = (await sam.next("offer"))["data"]
        assert offer["contact_id"] == "rs-1" and offer["queue"] == "sales"
        ivr = offer["screen_pop"]["ivr"]
        assert ivr["variables"]["language"] == "fr" and ivr["path"][-1] == "queue_sales"
        assert offer["screen_pop"]["customer"]["name"] == "Uta"
