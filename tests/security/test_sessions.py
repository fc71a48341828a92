"""Issue 13 §3: sessions are stored and revocable; disabling a user or changing its
password ends its sessions and closes its sockets within a second; access tokens are short
and renewed; wallboard tokens are sessions too."""

from __future__ import annotations

import time

import asyncpg

from contactcenter.auth import issue_token, verify_token
from contactcenter.settings import Settings
from tests.contactcenter.server_support import (
    PASSWORD,
    add_agent,
    authed_ws,
    bearer,
    running_app,
)
from tests.security.support import add_user, bearer_of, closed_with, login, services


async def test_login_makes_a_stored_session_with_a_short_renewable_token(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_user(db, "ann", "supervisor")
    async with running_app(cc_settings, db) as client:
        body = await login(client, "ann")
        claims = verify_token(cc_settings.token_secret_bytes(), body["token"])
        assert claims.session_id == body["session_id"]
        assert claims.expires_at - claims.issued_at == cc_settings.access_token_ttl_s == 900
        assert body["session_expires_at"] >= time.time() + cc_settings.token_ttl_s - 5
        row = await db.fetchrow("SELECT * FROM sessions WHERE id = $1", body["session_id"])
        assert row is not None and row["user_id"] == "ann" and row["revoked_at"] is None
        # the refresh token is stored only as a digest
        assert body["refresh_token"].encode() not in bytes(row["refresh_hash"])

        resp = await client.post(
            "/api/session/refresh", json={"refresh_token": body["refresh_token"]}
        )
        assert resp.status == 200
        renewed = await resp.json()
        assert renewed["session_id"] == body["session_id"]
        assert renewed["refresh_token"] != body["refresh_token"]
        assert (await client.get("/api/queues", headers=bearer_of(renewed))).status == 200
        # a refresh token is spent by its use; presented again, it was copied: the
        # session ends (the renewed token too)
        resp = await client.post(
            "/api/session/refresh", json={"refresh_token": body["refresh_token"]}
        )
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "refresh_invalid"
        assert (await client.get("/api/queues", headers=bearer_of(renewed))).status == 401
        resp = await client.post(
            "/api/session/refresh", json={"refresh_token": renewed["refresh_token"]}
        )
        assert resp.status == 401
        row = await db.fetchrow(
            "SELECT revoked_reason FROM sessions WHERE id = $1", body["session_id"]
        )
        assert row is not None and row["revoked_reason"] == "refresh_reused"


async def test_logout_ends_the_session_everywhere(db: asyncpg.Pool, cc_settings: Settings) -> None:
    await add_agent(db, "alice", {"sales": 5})
    async with running_app(cc_settings, db) as client:
        body = await login(client, "alice")
        ws = await authed_ws(client.ws_connect, "/ws/agent", body["token"])
        assert (await ws.receive_json(timeout=5))["type"] == "agent_state"
        resp = await client.post("/api/logout", headers=bearer_of(body))
        assert resp.status == 200
        assert await closed_with(ws) == ("session_revoked", 4410)
        resp = await client.get("/api/queues", headers=bearer_of(body))
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "token_revoked"
        again = await authed_ws(client.ws_connect, "/ws/agent", body["token"])
        assert await closed_with(again) == ("token_revoked", 4401)
        resp = await client.post(
            "/api/session/refresh", json={"refresh_token": body["refresh_token"]}
        )
        assert resp.status == 401


async def test_disabling_a_user_closes_its_sockets_within_a_second(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    """The issue: an old admin token worked for 8 hours after its user was disabled."""
    await add_agent(db, "alice", {"sales": 5})
    async with running_app(cc_settings, db) as client:
        body = await login(client, "alice")
        ws = await authed_ws(client.ws_connect, "/ws/agent", body["token"])
        assert (await ws.receive_json(timeout=5))["type"] == "agent_state"
        # a token minted with the secret (no session) is refused too
        tool = issue_token(
            cc_settings.token_secret_bytes(), user_id="alice", role="agent", ttl_s=600
        )
        resp = await client.post(
            "/api/admin/users/alice/disable",
            headers=bearer(cc_settings, "root", "admin"),
            json={"disabled": True},
        )
        assert resp.status == 200, await resp.text()
        assert await closed_with(ws, timeout=1.0) == ("session_revoked", 4410)
        for token in (body["token"], tool):
            resp = await client.get("/api/queues", headers={"Authorization": f"Bearer {token}"})
            assert resp.status == 401
        resp = await client.post("/api/login", json={"username": "alice", "password": PASSWORD})
        assert resp.status == 401
        row = await db.fetchrow(
            "SELECT revoked_reason FROM sessions WHERE id = $1", body["session_id"]
        )
        assert row is not None and row["revoked_reason"] == "user_disabled"
        # enabled again: a new login works (the old session stays ended)
        resp = await client.post(
            "/api/admin/users/alice/disable",
            headers=bearer(cc_settings, "root", "admin"),
            json={"disabled": False},
        )
        assert resp.status == 200
        fresh = await login(client, "alice")
        assert (await client.get("/api/queues", headers=bearer_of(fresh))).status == 200
        assert (await client.get("/api/queues", headers=bearer_of(body))).status == 401


async def test_an_old_token_is_refused_after_a_password_change(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_user(db, "root", "admin")
    await add_user(db, "sam", "supervisor")
    async with running_app(cc_settings, db) as client:
        admin = await login(client, "root")
        other = await login(client, "root")  # another browser
        feed = await authed_ws(client.ws_connect, "/ws/supervisor", other["token"])
        assert (await feed.receive_json(timeout=5))["type"] == "wallboard_snapshot"
        resp = await client.post(
            "/api/password",
            headers=bearer_of(admin),
            json={"current_password": PASSWORD, "new_password": "a much newer secret"},
        )
        assert resp.status == 200, await resp.text()
        fresh = await resp.json()
        assert await closed_with(feed) == ("session_revoked", 4410)
        for old in (admin, other):
            assert (await client.get("/api/sessions", headers=bearer_of(old))).status == 401
        # the old admin token can no longer mint a wallboard token (the issue's escalation)
        resp = await client.post(
            "/api/supervisor/wallboard-token",
            headers=bearer_of(admin),
            json={"name": "lobby", "days": 365},
        )
        assert resp.status == 401
        assert (await client.get("/api/sessions", headers=bearer_of(fresh))).status == 200

        # an admin resetting another user's password ends that user's sessions
        sam = await login(client, "sam")
        resp = await client.post(
            "/api/admin/users/sam/password",
            headers=bearer_of(fresh),
            json={"password": "reset by the admin"},
        )
        assert resp.status == 200
        assert (await client.get("/api/queues", headers=bearer_of(sam))).status == 401
        await login(client, "sam", "reset by the admin")


async def test_wallboard_tokens_are_listed_and_revocable(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_user(db, "root", "admin")
    async with running_app(cc_settings, db) as client:
        admin = bearer_of(await login(client, "root"))
        resp = await client.post(
            "/api/supervisor/wallboard-token", headers=admin, json={"name": "floor-2", "days": 30}
        )
        assert resp.status == 201
        issued = await resp.json()
        resp = await client.get("/api/sessions?kind=wallboard", headers=admin)
        listed = (await resp.json())["sessions"]
        assert [(s["id"], s["label"], s["created_by"]) for s in listed] == [
            (issued["session_id"], "floor-2", "root")
        ]
        screen = await authed_ws(client.ws_connect, "/ws/supervisor", issued["token"])
        assert (await screen.receive_json(timeout=5))["data"]["read_only"] is True

        resp = await client.delete(f"/api/sessions/{issued['session_id']}", headers=admin)
        assert resp.status == 200
        assert await closed_with(screen) == ("session_revoked", 4410)
        wb = {"Authorization": f"Bearer {issued['token']}"}
        assert (await client.get("/api/campaigns", headers=wb)).status == 401
        resp = await client.get("/api/sessions?kind=wallboard", headers=admin)
        assert (await resp.json())["sessions"] == []
        # only an admin lists sessions
        assert (
            await client.get("/api/sessions", headers=bearer(cc_settings, "s", "supervisor"))
        ).status == 403


async def test_long_lived_tokens_without_a_session_are_refused(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    """The 8-hour user tokens and 365-day wallboard tokens of earlier versions."""
    secret = cc_settings.token_secret_bytes()
    async with running_app(cc_settings, db) as client:
        for user, role, ttl in (
            ("root", "admin", 8 * 3600),
            ("wallboard:x", "wallboard", 365 * 86400),
        ):
            old = issue_token(secret, user_id=user, role=role, ttl_s=ttl)  # type: ignore[arg-type]
            resp = await client.get("/api/campaigns", headers={"Authorization": f"Bearer {old}"})
            assert resp.status == 401
            assert (await resp.json())["error"]["code"] == "token_revoked"


async def test_revocations_survive_a_restart(db: asyncpg.Pool, cc_settings: Settings) -> None:
    await add_user(db, "ann", "supervisor")
    async with running_app(cc_settings, db) as client:
        kept = await login(client, "ann")
        ended = await login(client, "ann")
        assert (await client.post("/api/logout", headers=bearer_of(ended))).status == 200
        old = await login(client, "ann")
        await db.execute(
            "UPDATE sessions SET revoked_at = now() - interval '31 days' WHERE id = $1",
            old["session_id"],
        )
    async with running_app(cc_settings, db) as client:
        assert (await client.get("/api/queues", headers=bearer_of(kept))).status == 200
        assert (await client.get("/api/queues", headers=bearer_of(ended))).status == 401
        assert len(services(client).sessions.registry.of_user("ann")) == 1
        # sessions ended over 30 days ago are deleted at start; recent ones kept as a record
        ids = {r["id"] for r in await db.fetch("SELECT id FROM sessions")}
        assert ids == {kept["session_id"], ended["session_id"]}


async def test_a_socket_closes_when_its_session_reaches_its_end(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    """Sessions past their end are swept on the scheduler (every 30 s) and their sockets
    closed with ``session_expired``."""
    from contactcenter.clock import ManualScheduler
    from contactcenter.session_api import SWEEP_S

    await add_agent(db, "alice", {"sales": 5})
    scheduler = ManualScheduler()
    async with running_app(cc_settings, db, scheduler=scheduler) as client:
        body = await login(client, "alice")
        ws = await authed_ws(client.ws_connect, "/ws/agent", body["token"])
        assert (await ws.receive_json(timeout=5))["type"] == "agent_state"
        entry = services(client).sessions.registry.get(body["session_id"])
        assert entry is not None
        entry.expires_at = time.time() - 1  # as if its 8 hours were over
        await scheduler.advance(SWEEP_S)
        assert await closed_with(ws) == ("session_expired", 4410)
        assert (await client.get("/api/queues", headers=bearer_of(body))).status == 401
