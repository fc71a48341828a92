"""Issue 13 §4: the telephony gateway has its own credential.

Against the real app on a real socket and real PostgreSQL: user tokens (an admin's too)
are refused on every gateway route, the key travels only in the Authorization header, a
second command socket is refused while the first is alive unless it asks for takeover
(logged, naming both), and keys made with the CLI work without a restart."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
import pytest

from contactcenter import protocol as p
from contactcenter.appkeys import NODE
from contactcenter.carrier import Carrier, CarrierConfig, CarrierError
from contactcenter.gateway_auth import (
    KEY_STORE_FILE,
    LOCAL_KEY_FILE,
    GatewayIdentity,
    GatewayKeyring,
    ensure_local_key,
    key_hash,
    manage,
    read_store,
)
from contactcenter.settings import Settings
from tests.contactcenter.server_support import (
    CONFIG_DIR,
    SocketClient,
    bearer,
    gateway_headers,
    gateway_key,
    running_app,
    until,
)

CALL = {"call_id": "sec-1", "queue": "sales"}


async def error_of(resp: aiohttp.ClientResponse) -> dict[str, Any]:
    body: dict[str, Any] = await resp.json()
    return body["error"]  # type: ignore[no-any-return]


async def test_user_tokens_are_not_gateway_credentials(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    async with running_app(cc_settings, db) as client:
        key = gateway_key(cc_settings)
        admin = bearer(cc_settings, "root", "admin")
        for path in ("/gateway/calls", "/gateway/calls/x/hangup", "/gateway/calls/x/digits"):
            resp = await client.post(path, headers=admin, json=CALL)
            assert resp.status == 401, path
            assert (await error_of(resp))["code"] == "gateway_key_invalid"
        resp = await client.post("/gateway/calls", json=CALL)
        assert resp.status == 401
        assert (await error_of(resp))["code"] == "gateway_key_missing"
        # the right gateway id with another secret
        wrong = {"Authorization": "Bearer local." + "A" * 43}
        resp = await client.post("/gateway/calls", headers=wrong, json=CALL)
        assert (resp.status, (await error_of(resp))["code"]) == (401, "gateway_key_invalid")
        # the valid key, but in the URL: refused, so it never lands in an access log
        resp = await client.get(f"/gateway/ws?token={key}")
        assert (resp.status, (await error_of(resp))["code"]) == (401, "key_in_url")
        resp = await client.post(f"/gateway/calls?key={key}", json=CALL)
        assert (resp.status, (await error_of(resp))["code"]) == (401, "key_in_url")
        # the websocket: an admin token is refused, the key in the header is taken
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect("/gateway/ws", headers=admin)
        assert refused.value.status == 401
        ws = await client.ws_connect("/gateway/ws", headers=gateway_headers(cc_settings))
        resp = await client.post("/gateway/calls", headers=gateway_headers(cc_settings), json=CALL)
        assert resp.status == 201
        assert (await resp.json())["state"] == "queued"  # no agent: hold music
        hold = await SocketClient(ws).next("play", call_id="sec-1")
        assert hold["data"]["prompt"] == "queue_hold"
        await ws.close()


async def test_a_second_socket_is_refused_unless_it_takes_over(
    db: asyncpg.Pool, cc_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    headers = gateway_headers(cc_settings)
    async with running_app(cc_settings, db) as client:
        first = await client.ws_connect("/gateway/ws", headers=headers)
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await client.ws_connect("/gateway/ws", headers=headers)
        assert refused.value.status == 409
        resp = await client.get("/gateway/ws", headers=headers)
        assert resp.status == 409
        error = await error_of(resp)
        assert error["code"] == "gateway_connected" and error["gateway_id"] == "local"
        assert "takeover=1" in error["message"]
        # the first still has the commands
        resp = await client.post("/gateway/calls", headers=headers, json=CALL)
        assert resp.status == 201
        await SocketClient(first).next("play", call_id="sec-1")

        with caplog.at_level(logging.WARNING, logger="contactcenter.gateway"):
            second = await client.ws_connect("/gateway/ws?takeover=1", headers=headers)
            closing = await first.receive(timeout=5)
        assert closing.type == aiohttp.WSMsgType.CLOSE
        assert closing.data == p.CLOSE_GATEWAY_TAKEN_OVER == 4010
        assert "taken over by gateway 'local'" in closing.extra
        taken = [r.getMessage() for r in caplog.records if "took the gateway" in r.getMessage()]
        assert len(taken) == 1
        # both peers named: gateway id and address of the new and of the old connection
        new_part, old_part = taken[0].split(" took the gateway command socket over from ")
        assert new_part.startswith("gateway 'local' at 127.0.0.1:")
        assert old_part.startswith("gateway 'local' at 127.0.0.1:")
        assert new_part != old_part  # two client ports
        # commands go to the new connection
        resp = await client.post(
            "/gateway/calls", headers=headers, json={"call_id": "sec-2", "queue": "sales"}
        )
        assert resp.status == 201
        await SocketClient(second).next("play", call_id="sec-2")
        # once it is gone, a plain connection is accepted again
        await second.close()
        services = client.server.app[NODE].services
        await until(lambda: not services.link.available(), what="the link to see the close")
        third = await client.ws_connect("/gateway/ws", headers=headers)
        await third.close()


async def test_the_carrier_is_refused_while_a_gateway_is_connected(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    async with running_app(cc_settings, db) as client:
        url = str(client.make_url("")).rstrip("/")
        config = CarrierConfig(url=url, gateway_key=gateway_key(cc_settings), queue="sales")
        async with Carrier(config).serving():
            with pytest.raises(CarrierError, match=r"409.*gateway_connected"):
                async with Carrier(config).serving():
                    pass
            taking = CarrierConfig(
                url=url, gateway_key=gateway_key(cc_settings), queue="sales", takeover=True
            )
            async with Carrier(taking).serving() as carrier:
                assert carrier._ws is not None


async def test_keys_from_the_cli_work_without_a_restart(
    db: asyncpg.Pool, cc_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    data_dir = cc_settings.data_dir
    async with running_app(cc_settings, db) as client:
        assert manage("create", "pbx-east", data_dir) == 0
        east = capsys.readouterr().out.strip()
        assert east.startswith("pbx-east.") and len(east) == len("pbx-east.") + 43
        # only the hash is stored
        store = read_store(data_dir / KEY_STORE_FILE)
        assert store["pbx-east"] == key_hash(east)
        assert east not in (data_dir / KEY_STORE_FILE).read_text()

        def as_(key: str) -> dict[str, str]:
            return {"Authorization": f"Bearer {key}"}

        resp = await client.post("/gateway/calls", headers=as_(east), json=CALL)
        assert resp.status == 201
        # the local key still works beside it
        resp = await client.post("/gateway/calls/sec-1/hangup", headers=gateway_headers(data_dir))
        assert resp.status == 200
        assert manage("rotate", "pbx-east", data_dir) == 0
        rotated = capsys.readouterr().out.strip()
        assert rotated != east
        resp = await client.post(
            "/gateway/calls", headers=as_(east), json={"call_id": "sec-2", "queue": "sales"}
        )
        assert resp.status == 401
        resp = await client.post(
            "/gateway/calls", headers=as_(rotated), json={"call_id": "sec-2", "queue": "sales"}
        )
        assert resp.status == 201
        assert manage("revoke", "pbx-east", data_dir) == 0
        resp = await client.post("/gateway/calls/sec-2/hangup", headers=as_(rotated))
        assert resp.status == 401
        assert manage("list", None, data_dir) == 0
        assert capsys.readouterr().out.split() == ["local"]


async def test_configured_keys_replace_the_local_key(
    db: asyncpg.Pool, cc_settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """gateway.yaml's ``keys``: no local key is created; the configured one is accepted."""
    config = tmp_path / "config"
    shutil.copytree(CONFIG_DIR, config)
    key = "pbx-west." + "k" * 43
    with (config / "gateway.yaml").open("a") as f:
        f.write(f'\nkeys:\n  pbx-west: "{key_hash(key)}"\n')
    settings = cc_settings.model_copy(update={"config_dir": config})
    async with running_app(settings, db) as client:
        assert not (settings.data_dir / LOCAL_KEY_FILE).exists()
        assert ensure_local_key(settings.data_dir, {"pbx-west": key_hash(key)}) is None
        resp = await client.post(
            "/gateway/calls", headers={"Authorization": f"Bearer {key}"}, json=CALL
        )
        assert resp.status == 201, await resp.text()
        ws = await client.ws_connect("/gateway/ws", headers={"Authorization": f"Bearer {key}"})
        await ws.close()
    assert key not in caplog.text


async def test_the_local_key_is_created_once_and_never_logged(
    db: asyncpg.Pool, cc_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        async with running_app(cc_settings, db):
            pass
        path = cc_settings.data_dir / LOCAL_KEY_FILE
        key = path.read_text().strip()
        assert path.stat().st_mode & 0o077 == 0  # readable by its owner only
        async with running_app(cc_settings, db):
            pass
    assert path.read_text().strip() == key  # kept across restarts
    assert "created the key of gateway 'local'" in caplog.text
    assert key.split(".", 1)[1] not in caplog.text


def test_the_keyring_keeps_its_keys_when_the_store_is_half_written(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    assert manage("create", "pbx-1", tmp_path) == 0
    key = capsys.readouterr().out.strip()
    ring = GatewayKeyring({}, tmp_path / KEY_STORE_FILE)
    assert ring.verify(key) == GatewayIdentity("pbx-1")
    for bad in (None, "", "pbx-1", "pbx-1.", ".secret", "PBX-1.x", "pbx-1.wrong", key + "x"):
        assert ring.verify(bad) is None, bad
    (tmp_path / KEY_STORE_FILE).write_text('{"keys": {"pbx-1": "sha256:')  # mid-write
    assert ring.verify(key) == GatewayIdentity("pbx-1")
    assert "gateway keys not reloaded" in caplog.text
    (tmp_path / KEY_STORE_FILE).unlink()
    assert ring.verify(key) is None
