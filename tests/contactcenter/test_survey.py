"""The post-contact survey on voice: after the agent ends a call that came through the IVR
to a surveyed queue, the caller stays on the line for CSAT and resolution questions
(gateway gathers); the answers are stored with the interaction and summed up in
``GET /api/queues``. A caller who hangs up first gets no survey."""

from __future__ import annotations

import asyncpg

from contactcenter.settings import Settings
from contactcenter.store import EventLog, EventRecord
from contactcenter.store.customers import CustomerIn, upsert_customer
from contactcenter.store.interactions import get_interaction
from tests.contactcenter.server_support import bearer, console, gateway_headers
from tests.contactcenter.test_ivr_voice import (
    IVR_NUMBER,
    GatewayClient,
    add_agent,
    digits,
    ivr_app,
)


async def seed_earlier_survey(pool: asyncpg.Pool) -> None:
    """A billing call of yesterday whose caller gave 2 out of 5 and said it was resolved."""
    t = 1_764_000_000.0
    story = [
        ("contact.arrived", t, None, {"channel": "voice"}),
        ("contact.queued", t + 1, None, {"priority": 0}),
        ("contact.answered", t + 5, "ola", {"wait_s": 4.0}),
        ("contact.ended", t + 65, "ola", {"talk_s": 60.0}),
        ("ivr.survey", t + 70, None, {"node": "survey", "csat": 2, "resolved": True}),
    ]
    async with EventLog(pool) as log:
        await log.append(
            [
                EventRecord(
                    type=kind,
                    ts=ts,
                    contact_id="old-7",
                    agent_id=agent,
                    queue_id="billing",
                    data=data,
                )
                for kind, ts, agent, data in story
            ]
        )


async def to_billing(client: object, gw: GatewayClient, settings: Settings, call_id: str) -> None:
    resp = await client.post(
        "/gateway/calls",
        headers=gateway_headers(settings),  # type: ignore[attr-defined]
        json={"call_id": call_id, "ani": "+14155550188", "dnis": IVR_NUMBER},
    )
    assert resp.status == 201, await resp.text()
    # billing: the support queue's steps want an agent who speaks the IVR's language,
    # which stored agent profiles cannot say yet
    for expected, keys in (("language", "1"), ("main_menu", "3")):
        gather = await gw.next("gather", call_id)
        assert gather["node"].endswith(expected), gather
        await digits(client, settings, call_id, keys)  # type: ignore[arg-type]


async def test_survey_after_the_agent_ends_the_call_is_stored_and_reported(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "ola", {"billing": 5})
    await upsert_customer(db, CustomerIn(name="Kim", phones=["+14155550188"], tier="silver"))
    await seed_earlier_survey(db)
    async with ivr_app(cc_settings, db) as client:
        gw = GatewayClient(
            await client.ws_connect("/gateway/ws", headers=gateway_headers(cc_settings))
        )
        async with console(client, cc_settings, "ola") as ola:
            await ola.next("agent_state")
            await ola.command("set_status", status="available")
            await to_billing(client, gw, cc_settings, "sv-1")
            offer = (await ola.next("offer"))["data"]
            assert offer["queue"] == "billing"
            assert offer["screen_pop"]["ivr"]["variables"]["department"] == "billing"
            await ola.command("accept", contact_id="sv-1")
            await gw.next("bridge", "sv-1")
            assert (await ola.command("end", contact_id="sv-1"))["type"] == "reply"

            csat = await gw.next("gather", "sv-1")
            assert (csat["node"], csat["kind"]) == ("survey", "survey")
            await digits(client, cc_settings, "sv-1", "4")
            resolved = await gw.next("gather", "sv-1")
            assert "resolved" in resolved["prompts"][0]["say"]
            await digits(client, cc_settings, "sv-1", "2")
            bye = await gw.next("hangup", "sv-1")
            assert bye["reason"] == "survey_done"
            # the agent's hangup never reached the gateway before the survey
            kinds = [
                (m["type"], m["data"].get("reason"))
                for m in gw.seen
                if m["data"].get("call_id") == "sv-1"
            ]
            assert kinds.count(("hangup", "survey_done")) == 1
            assert ("hangup", "agent") not in kinds
            done = await ola.command("wrapup", contact_id="sv-1", disposition="paid")
            assert done["type"] == "reply", done

            # the caller who hangs up is not surveyed
            await to_billing(client, gw, cc_settings, "sv-2")
            await ola.next("offer", contact_id="sv-2")
            await ola.command("accept", contact_id="sv-2")
            resp = await client.post(
                "/gateway/calls/sv-2/hangup", headers=gateway_headers(cc_settings)
            )
            assert resp.status == 200
            await ola.next("contact_state", contact_id="sv-2", state="wrap_up")

            stats = await (
                await client.get("/api/queues", headers=bearer(cc_settings, "sup", "supervisor"))
            ).json()
        await gw.ws.close()

    row = await get_interaction(db, "sv-1")
    assert row is not None
    assert (row.csat, row.resolved, row.outcome, row.agent_id) == (4, False, "handled", "ola")
    assert [s["node"] for s in row.ivr_path][-2:] == ["survey", "thanks"]
    unsurveyed = await get_interaction(db, "sv-2")
    assert unsurveyed is not None and (unsurveyed.csat, unsurveyed.resolved) == (None, None)
    assert not [
        m
        for m in gw.seen
        if m["type"] == "gather"
        and m["data"]["call_id"] == "sv-2"
        and m["data"]["kind"] == "survey"
    ]

    surveys = stats["surveys"]
    assert surveys["surveys"] == 2 and surveys["csat_responses"] == 2
    assert surveys["csat_avg"] == 3.0  # (2 + 4) / 2
    assert surveys["fcr_rate"] == 0.5  # one resolved of two answers
    assert surveys["queues"]["billing"]["csat_avg"] == 3.0
    assert "queues" in stats  # beside the fold's snapshot
