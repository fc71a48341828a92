"""The campaign API against real PostgreSQL and the real app: create, CSV upload with bad
rows reported by line, roles, validation errors naming the field, state changes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import asyncpg
import pytest

from contactcenter.cli import main as cli_main
from contactcenter.settings import Settings
from tests.contactcenter.server_support import bearer, token
from tests.contactcenter.test_campaign_support import campaign_app

CSV = """number,name,timezone,customer_id,plan
+1 212 555 0101,Ada,America/New_York,cus_1,gold
not-a-number,Bob,,,
+12125550102,Cy,Mars/Base,,
+1 (212) 555-0101,Ada again,,,
+442071234567,Di,,,silver,extra
+442071234568,Ed,Europe/London,,

+13125550100,Flo,,bad id!,
+13125550101,Gus,,,
"""


async def test_create_upload_and_read(db: asyncpg.Pool, cc_settings: Settings) -> None:
    admin = bearer(cc_settings, "root", "admin")
    async with campaign_app(cc_settings, db) as client:
        resp = await client.post(
            "/api/campaigns",
            headers=admin,
            json={
                "id": "spring",
                "name": "Spring offers",
                "queue": "outbound",
                "mode": "progressive",
                "calling_window": {"start": "09:00", "end": "20:00"},
            },
        )
        assert resp.status == 201, await resp.text()
        created = await resp.json()
        assert created["state"] == "draft" and created["calling_window"] == {
            "start": "09:00",
            "end": "20:00",
        }
        assert created["retry"]["max_attempts"] == 5

        resp = await client.post(
            "/api/campaigns/spring/contacts",
            data=CSV.encode(),
            headers={**admin, "Content-Type": "text/csv"},
        )
        assert resp.status == 200, await resp.text()
        out = await resp.json()
        assert out["accepted"] == 3
        rejected = {r["line"]: r["reason"] for r in out["rejected"]}
        assert sorted(rejected) == [3, 4, 5, 6, 9]
        assert rejected[3].startswith("number: 'not-a-number'")
        assert rejected[4].startswith("timezone: unknown 'Mars/Base'")
        assert rejected[5] == "number: +12125550101 repeats line 2"
        assert rejected[6] == "6 fields, the header has 5"
        assert rejected[9].startswith("customer_id:")

        rows = await db.fetch(
            "SELECT line_no, number, name, timezone, customer_id, attributes "
            "FROM campaign_contacts ORDER BY line_no"
        )
        assert [(r["line_no"], r["number"]) for r in rows] == [
            (2, "+12125550101"),
            (7, "+442071234568"),
            (10, "+13125550101"),
        ]
        assert rows[0]["attributes"] == {"plan": "gold"} and rows[0]["customer_id"] == "cus_1"

        # the same list again: every number is already there, nothing is added twice
        again = await (
            await client.post("/api/campaigns/spring/contacts", data=CSV.encode(), headers=admin)
        ).json()
        assert again["accepted"] == 0
        assert {r["line"] for r in again["rejected"]} == {2, 3, 4, 5, 6, 7, 9, 10}
        assert await db.fetchval("SELECT count(*) FROM campaign_contacts") == 3

        sup = bearer(cc_settings, "sue", "supervisor")
        listed = await (await client.get("/api/campaigns", headers=sup)).json()
        assert [c["id"] for c in listed["campaigns"]] == ["spring"]
        stats = await client.get("/api/campaigns/spring/stats", headers=sup)
        assert stats.status == 200
        body = await stats.json()
        assert body["dials"] == 0 and body["contacts"]["total"] == 3
        assert body["abandon_rate"] == 0.0

        # state changes: stop is final
        for action, state in (("start", "running"), ("pause", "paused"), ("stop", "stopped")):
            resp = await client.post(f"/api/campaigns/spring/{action}", headers=admin)
            assert resp.status == 200, await resp.text()
            assert (await resp.json())["state"] == state
        resp = await client.post("/api/campaigns/spring/start", headers=admin)
        assert resp.status == 409
        assert (await resp.json())["error"]["code"] == "illegal_transition"
        started = await db.fetchval("SELECT started_at FROM campaigns WHERE id = 'spring'")
        assert started is not None


async def test_roles_and_validation_errors(db: asyncpg.Pool, cc_settings: Settings) -> None:
    admin = bearer(cc_settings, "root", "admin")
    good = {"id": "c1", "name": "C1", "queue": "outbound"}
    async with campaign_app(cc_settings, db) as client:
        resp = await client.post("/api/campaigns", json=good)
        assert resp.status == 401
        for role in ("agent", "supervisor"):
            resp = await client.post(
                "/api/campaigns", json=good, headers=bearer(cc_settings, "x", role)
            )
            assert resp.status == 403, role
        resp = await client.get("/api/campaigns", headers=bearer(cc_settings, "a", "agent"))
        assert resp.status == 403

        cases = [
            ({**good, "ratio": 0}, "ratio"),
            ({**good, "mode": "turbo"}, "mode"),
            ({**good, "id": "Bad Id"}, "id"),
            ({**good, "calling_window": {"start": "07:00", "end": "20:00"}}, "calling_window"),
            ({**good, "ring_timeout_s": 10}, "ring_timeout_s"),
            ({**good, "abandon_target": 0.05}, "abandon_target"),
            ({**good, "queue": "nope"}, "queue"),
            ({"name": "x", "queue": "outbound"}, "id"),
        ]
        for body, field in cases:
            resp = await client.post("/api/campaigns", json=body, headers=admin)
            assert resp.status == 400, (body, await resp.text())
            err = (await resp.json())["error"]
            assert err["field"] == field, (body, err)
            assert field in err["message"] or err["code"] == "unknown_queue"

        assert (await client.post("/api/campaigns", json=good, headers=admin)).status == 201
        dup = await client.post("/api/campaigns", json=good, headers=admin)
        assert dup.status == 409 and (await dup.json())["error"]["field"] == "id"

        resp = await client.post(
            "/api/campaigns/c1/contacts", data=b"name,plan\nAda,gold\n", headers=admin
        )
        assert resp.status == 400
        err = (await resp.json())["error"]
        assert (err["code"], err["field"]) == ("invalid_csv", "number")
        resp = await client.post("/api/campaigns/nope/contacts", data=b"number\n", headers=admin)
        assert resp.status == 404
        resp = await client.post(
            "/api/campaigns/c1/start", headers=bearer(cc_settings, "sue", "supervisor")
        )
        assert resp.status == 403

        resp = await client.post(
            "/api/dnc", json={"numbers": ["+12125550111", "junk"]}, headers=admin
        )
        assert await resp.json() == {"added": 1, "invalid": ["junk"]}
        assert await db.fetchval("SELECT number FROM dnc_numbers") == "+12125550111"


async def test_cli_talks_to_the_api(
    db: asyncpg.Pool, cc_settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:

    listing = tmp_path / "list.csv"
    listing.write_text("number,name\n+12125550123,Ann\nbogus,Ben\n")
    async with campaign_app(cc_settings, db) as client:
        url = str(client.make_url("")).rstrip("/")
        base = ["campaign", "--url", url, "--token", token(cc_settings, "root", "admin")]

        async def cli(*args: str) -> int:
            return await asyncio.to_thread(cli_main, [*base, *args])

        assert (
            await cli(
                "create",
                "c9",
                "--queue",
                "outbound",
                "--mode",
                "power",
                "--ratio",
                "1.5",
                "--window",
                "09:00-18:00",
                "--skill",
                "sales=2",
            )
            == 0
        )
        assert await cli("upload", "c9", str(listing)) == 0
        assert await cli("pause", "c9") == 1  # a draft cannot pause: the API's 409
        assert await cli("stats", "c9") == 0
    out = capsys.readouterr()
    assert "line 3: number: 'bogus'" in out.err
    assert "409 illegal_transition" in out.err
    row = await db.fetchrow(
        "SELECT mode, ratio, window_start, window_end, skills FROM campaigns WHERE id = 'c9'"
    )
    assert dict(row) == {
        "mode": "power",
        "ratio": 1.5,
        "window_start": "09:00",
        "window_end": "18:00",
        "skills": {"sales": 2},
    }
    assert await db.fetchval("SELECT count(*) FROM campaign_contacts") == 1
