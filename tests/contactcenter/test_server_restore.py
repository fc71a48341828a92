"""Restart restores work with the same agent: a held call, a pending not-ready status, the
wrap-up of a transferred call and the transferred call waiting in its new queue. Two app
instances in turn on one real PostgreSQL database (the crash test does it with SIGKILL)."""

from __future__ import annotations

from collections import Counter

import asyncpg

from contactcenter.settings import Settings
from contactcenter.store.events import read_contact
from contactcenter.store.interactions import get_interaction
from tests.contactcenter.server_support import (
    add_agent,
    bearer,
    console,
    gateway_headers,
    running_app,
)


async def test_held_call_pending_status_and_transfer_wrapup_survive_a_restart(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_agent(db, "alice", {"sales": 8})
    await add_agent(db, "bob", {"sales": 8})
    await add_agent(db, "dave", {"sales": 8})
    gw = gateway_headers(cc_settings)

    async with running_app(cc_settings, db) as client:
        async with console(client, cc_settings, "alice") as alice:
            assert (await alice.command("set_status", status="available"))["type"] == "reply"
            resp = await client.post(
                "/gateway/calls", headers=gw, json={"call_id": "rs-1", "queue": "sales"}
            )
            assert resp.status == 201
            await alice.next("offer", contact_id="rs-1")
            assert (await alice.command("accept", contact_id="rs-1"))["type"] == "reply"
            assert (await alice.command("hold", contact_id="rs-1"))["type"] == "reply"
            assert (await alice.command("set_status", status="break"))["type"] == "reply"
            state = await alice.next("agent_state", next_status="break")
            assert state["data"]["status"] == "available"
        async with console(client, cc_settings, "bob") as bob:
            assert (await bob.command("set_status", status="available"))["type"] == "reply"
            resp = await client.post(
                "/gateway/calls", headers=gw, json={"call_id": "rs-2", "queue": "sales"}
            )
            assert (await resp.json())["state"] == "offered"
            await bob.next("offer", contact_id="rs-2")
            assert (await bob.command("accept", contact_id="rs-2"))["type"] == "reply"
            moved = await bob.command("transfer", contact_id="rs-2", to_queue="support")
            assert moved["type"] == "reply", moved
            await bob.next("contact_state", contact_id="rs-2", state="transferred")
        async with console(client, cc_settings, "dave") as dave:
            # dave dials (a gateway is connected); the server goes down while it rings
            gateway = await client.ws_connect("/gateway/ws", headers=gw)
            assert (await dave.command("set_status", status="available"))["type"] == "reply"
            dialed = await dave.command("dial", number="+14155550123")
            assert dialed["type"] == "reply", dialed
            outbound = dialed["data"]["contact_id"]
            await gateway.close()
    before = {cid: [e.type for e in await read_contact(db, cid)] for cid in ("rs-1", "rs-2")}

    async with running_app(cc_settings, db) as client:
        resp = await client.get("/api/queues", headers=bearer(cc_settings, "root", "admin"))
        assert (await resp.json())["waiting_now"] == {
            "sales": 0,
            "support": 1,
            "billing": 0,
            "chat_support": 0,
        }
        async with (
            console(client, cc_settings, "alice") as alice,
            console(client, cc_settings, "bob") as bob,
        ):
            hello = await alice.command("hello")
            state = hello["data"]["agent_state"]
            assert state["contacts"] == {"rs-1": "held"}
            assert (state["status"], state["activity"], state["next_status"]) == (
                "available",
                "on_hold",
                "break",
            )
            hello = await bob.command("hello")
            assert hello["data"]["agent_state"]["contacts"] == {"rs-2": "wrap_up"}
            async with console(client, cc_settings, "dave") as dave:
                hello = await dave.command("hello")
                assert hello["data"]["agent_state"]["contacts"] == {outbound: "connected"}
                # the callee answers after the restart: dave is told, as before it
                gateway = await client.ws_connect("/gateway/ws", headers=gw)
                await gateway.send_json(
                    {
                        "type": "originate_result",
                        "data": {"call_id": outbound, "result": "answered"},
                    }
                )
                answered = await dave.next("dial_result", contact_id=outbound)
                assert answered["data"]["result"] == "answered"
                await gateway.close()
            # bob's wrap-up was reopened; alice's call goes on from hold
            done = await bob.command("wrapup", contact_id="rs-2", disposition="callback")
            assert done["type"] == "reply", done
            await bob.next("contact_state", contact_id="rs-2", state="done")
            for kind in ("resume_contact", "end"):
                reply = await alice.command(kind, contact_id="rs-1")
                assert reply["type"] == "reply", reply
            done = await alice.command("wrapup", contact_id="rs-1", disposition="sold")
            assert done["type"] == "reply", done
            # the pending status applies once the last contact is done
            await alice.next("agent_state", status="break", activity="idle", next_status=None)
            bad = await alice.command("wrapup", contact_id="rs-1", disposition="sold")
            assert bad["type"] == "error" and bad["data"]["id"] == "c5"

    after = {cid: [e.type for e in await read_contact(db, cid)] for cid in ("rs-1", "rs-2")}
    assert after["rs-1"][len(before["rs-1"]) :] == [
        "contact.resumed",
        "contact.ended",
        "wrapup.completed",
    ]
    assert after["rs-2"][len(before["rs-2"]) :] == ["wrapup.completed"]
    assert Counter(after["rs-2"])["contact.queued"] == 2  # sales, then support: not again
    one = await get_interaction(db, "rs-1")
    assert one is not None and one.outcome == "handled" and one.disposition == "sold"
    assert one.hold_s > 0 and one.agent_id == "alice"
    two = await get_interaction(db, "rs-2")
    assert two is not None and two.transfers == 1 and two.queue_id == "support"
    assert two.disposition == "callback" and two.outcome is None
