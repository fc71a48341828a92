"""Issue 13 §3: logins are throttled per username and per client address (429 with
Retry-After), and password hashing runs in a bounded pool of its own so bogus logins
cannot starve the event loop."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import asyncpg

from contactcenter.clock import ManualScheduler
from contactcenter.settings import Settings
from tests.contactcenter.server_support import PASSWORD, running_app
from tests.security.support import add_user, services


async def _try(client: Any, username: str, password: str) -> aiohttp.ClientResponse:
    resp: aiohttp.ClientResponse = await client.post(
        "/api/login", json={"username": username, "password": password}
    )
    await resp.read()
    return resp


async def test_wrong_passwords_get_429_with_retry_after(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    """The issue: 600 wrong passwords gave 600 x 401. Now the sixth is 429, before any
    hashing, until the window lets it try again (on the fake clock)."""
    await add_user(db, "ann", "supervisor")
    scheduler = ManualScheduler()
    async with running_app(cc_settings, db, scheduler=scheduler) as client:
        statuses = [(await _try(client, "ann", "guess")).status for _ in range(600)]
        assert statuses[:5] == [401] * 5
        assert set(statuses[5:]) == {429}
        resp = await client.post("/api/login", json={"username": "ANN", "password": PASSWORD})
        assert resp.status == 429  # even the right password, while throttled
        body = await resp.json()
        assert body["error"]["code"] == "too_many_attempts"
        retry = int(resp.headers["Retry-After"])
        assert 0 < retry <= cc_settings.login_failure_window_s
        assert body["error"]["retry_after_s"] == retry
        await scheduler.advance(retry)
        assert (await _try(client, "ann", PASSWORD)).status == 200
        # a success forgets the username's failures
        assert (await _try(client, "ann", "guess")).status == 401


async def test_one_address_trying_many_usernames_is_throttled(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    await add_user(db, "ann", "supervisor")
    settings = cc_settings.model_copy(update={"login_max_failures_per_address": 8})
    async with running_app(settings, db, scheduler=ManualScheduler()) as client:
        statuses = [(await _try(client, f"user{i}", "guess")).status for i in range(12)]
        assert statuses == [401] * 8 + [429] * 4
        # another address is not affected
        local = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        async with aiohttp.ClientSession(connector=local) as other:
            url = client.make_url("/api/login")
            async with other.post(url, json={"username": "ann", "password": PASSWORD}) as resp:
                assert resp.status == 200


async def test_a_real_login_gets_through_while_bogus_logins_are_in_flight(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    """The issue: with 150 bogus logins in flight a real login took 42.7 s and the server
    answered 5x slower. Now one address has at most its limit of checks in the pool, the
    rest are refused at once, and the event loop answers other requests meanwhile."""
    await add_user(db, "ann", "supervisor")
    async with running_app(cc_settings, db, scheduler=ManualScheduler()) as client:
        hasher = services(client).sessions.hasher
        bogus = [asyncio.create_task(_try(client, f"bot{i}", "guess")) for i in range(150)]
        while hasher.pending == 0:
            await asyncio.sleep(0.001)  # real time: the first checks reach the pool
        local = aiohttp.TCPConnector(local_addr=("127.0.0.2", 0))
        async with aiohttp.ClientSession(connector=local) as other:
            # the event loop is free while scrypt runs in the pool: a request (on a
            # connection of its own, not behind the client's pool) is answered meanwhile
            async with other.get(client.make_url("/healthz")) as health:
                assert health.status == 200
            assert hasher.pending > 0, "hashing should still be running"
            url = client.make_url("/api/login")
            async with other.post(url, json={"username": "ann", "password": PASSWORD}) as resp:
                assert resp.status == 200
        statuses = [r.status for r in await asyncio.gather(*bogus)]
        hashed = statuses.count(401)
        # one address cannot fill the pool's queue (32 > 20): no 503 either
        assert hashed <= cc_settings.login_max_failures_per_address
        assert statuses.count(429) == 150 - hashed
        assert hasher.pending == 0


async def test_a_full_hashing_pool_refuses_at_once(db: asyncpg.Pool, cc_settings: Settings) -> None:
    settings = cc_settings.model_copy(
        update={
            "login_max_failures_per_address": 10_000,
            "login_max_failures_per_user": 1000,
            "password_hash_workers": 1,
            "password_hash_queue": 4,
        }
    )
    async with running_app(settings, db, scheduler=ManualScheduler()) as client:
        results = await asyncio.gather(*(_try(client, f"bot{i}", "guess") for i in range(40)))
        busy = [r for r in results if r.status == 503]
        assert busy and all(r.headers["Retry-After"] == "1" for r in busy)
        assert len([r for r in results if r.status == 401]) >= 4
        assert services(client).sessions.hasher.pending == 0


async def test_behind_a_trusted_proxy_the_forwarded_address_counts(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    """X-Forwarded-For is believed only from CC_TRUSTED_PROXIES (its nearest entry that is
    not a proxy); from anyone else it is ignored, so a client cannot dodge the limit."""
    limits = {"login_max_failures_per_address": 3, "login_max_failures_per_user": 100}

    async def statuses(client: Any, forwarded: list[str]) -> list[int]:
        out = []
        for i, xff in enumerate(forwarded):
            resp = await client.post(
                "/api/login",
                json={"username": f"u{i}", "password": "guess"},
                headers={"X-Forwarded-For": xff},
            )
            out.append(resp.status)
        return out

    untrusted = cc_settings.model_copy(update=limits)
    async with running_app(untrusted, db, scheduler=ManualScheduler()) as client:
        forged = [f"10.0.0.{i}" for i in range(5)]
        assert await statuses(client, forged) == [401, 401, 401, 429, 429]
    trusted = cc_settings.model_copy(update={**limits, "trusted_proxies": "127.0.0.1"})
    async with running_app(trusted, db, scheduler=ManualScheduler()) as client:
        # the client forges a left entry; the proxy appends the real one
        hops = [f"10.9.9.{i}, 192.0.2.7" for i in range(4)] + ["192.0.2.8"] * 2
        assert await statuses(client, hops) == [401, 401, 401, 429, 401, 401]


def test_trusted_proxies_must_be_addresses(cc_settings: Settings) -> None:
    import pytest
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        Settings.model_validate({**cc_settings.model_dump(), "trusted_proxies": "proxy.local"})
    ok = Settings.model_validate(
        {**cc_settings.model_dump(), "trusted_proxies": "10.0.0.1, ::1, 192.168.0.0/16"}
    )
    assert [str(n) for n in ok.trusted_proxy_networks()] == [
        "10.0.0.1/32",
        "::1/128",
        "192.168.0.0/16",
    ]
