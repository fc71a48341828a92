"""contactcenter/ui.py over HTTP: the static pages (types, redirects, no way out of
agent_ui/), GET /api/ui/config and GET /api/agents, against real PostgreSQL."""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg
import pytest

from contactcenter import ui
from contactcenter.settings import Settings
from contactcenter.store.users import create_user
from tests.agent_ui.support import patient_config
from tests.contactcenter.server_support import (
    add_agent,
    bearer,
    console,
    gateway_headers,
    running_app,
)

REPO = Path(__file__).resolve().parents[2]


def test_pages_are_found_beside_the_package() -> None:
    # an editable install resolves the package into the repository, where agent_ui/ is
    assert ui.UI_DIR == REPO / "agent_ui"
    for name in ("agent.html", "supervisor.html", "js/agent.js", "js/supervisor.js", "css/ui.css"):
        assert (ui.UI_DIR / name).is_file(), name


def test_resolve_static_stays_inside_the_directory(tmp_path: Path) -> None:
    root = tmp_path / "ui"
    (root / "js").mkdir(parents=True)
    (root / "js" / "a.js").write_text("export {};")
    (root / "page.html").write_text("<p>x</p>")
    (root / ".secret.js").write_text("no")
    (root / "notes.txt").write_text("no")
    (tmp_path / "outside.js").write_text("no")
    os.symlink(tmp_path / "outside.js", root / "js" / "link.js")

    assert ui.resolve_static(root, "js/a.js") == (root / "js" / "a.js").resolve()
    assert ui.resolve_static(root, "page.html") == (root / "page.html").resolve()
    for bad in (
        "../outside.js",
        "js/../../outside.js",
        "/etc/passwd",
        ".secret.js",
        "js/./a.js",
        "js//a.js",
        "notes.txt",
        "js",
        "js/missing.js",
        "js/link.js",
        "js\\a.js",
        "",
        "page.html\x00.js",
    ):
        assert ui.resolve_static(root, bad) is None, bad


async def test_static_files_redirects_and_traversal(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    async with running_app(cc_settings, db) as client:
        for path in ("/", "/ui", "/ui/"):
            resp = await client.get(path, allow_redirects=False)
            assert resp.status == 302, path
            assert resp.headers["Location"] == "/ui/agent.html"

        types = {
            "/ui/agent.html": "text/html",
            "/ui/supervisor.html": "text/html",
            "/ui/js/agent.js": "text/javascript",
            "/ui/js/channel.js": "text/javascript",
            "/ui/css/ui.css": "text/css",
            "/ui/favicon.svg": "image/svg+xml",
        }
        for path, kind in types.items():
            resp = await client.get(path)
            assert resp.status == 200, path
            assert resp.content_type == kind, (path, resp.content_type)
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
            assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
            body = await resp.read()
            assert body == (REPO / "agent_ui" / path.removeprefix("/ui/")).read_bytes()

        for path in (
            "/ui/../pyproject.toml",
            "/ui/%2e%2e/pyproject.toml",
            "/ui/js/%2e%2e/%2e%2e/contactcenter/ui.py",
            "/ui/..%2fpyproject.toml",
            "/ui/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
            "/ui/nope.html",
            "/ui/js/",
            "/ui/.gitignore",
        ):
            resp = await client.get(path, allow_redirects=False)
            assert resp.status == 404, (path, resp.status)
            text = await resp.text()
            assert "[project]" not in text and "root:" not in text


async def test_ui_config_lists_reason_codes_and_dispositions(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    async with running_app(cc_settings, db) as client:
        assert (await client.get("/api/ui/config")).status == 401
        resp = await client.get("/api/ui/config", headers=bearer(cc_settings, "bob", "agent"))
        assert resp.status == 200
        body = await resp.json()
    assert body["reason_codes"] == ["break", "lunch", "training", "meeting", "coaching"]
    sales = next(q for q in body["queues"] if q["id"] == "sales")
    assert sales["name"] == "Sales"
    assert sales["service_level_threshold_s"] == 20 and sales["service_level_target"] == 0.8
    assert sales["wrap_up"] == {
        "mode": "timed",
        "seconds": 30,
        "disposition_required": True,
        "dispositions": ["sold", "quote_sent", "not_interested", "callback"],
    }


async def test_agents_list_for_supervisors_only(db: asyncpg.Pool, cc_settings: Settings) -> None:
    await add_agent(db, "alice", {"sales": 8, "support": 3})
    await add_agent(db, "bob", {"billing": 6})
    await create_user(
        db, username="sam", password="x" * 12, role="supervisor", display_name="Sam Supervisor"
    )
    async with running_app(cc_settings, db, patient_config()) as client:
        assert (await client.get("/api/agents")).status == 401
        refused = await client.get("/api/agents", headers=bearer(cc_settings, "alice", "agent"))
        assert refused.status == 403
        assert (await refused.json())["error"]["code"] == "forbidden"

        async with console(client, cc_settings, "alice") as alice:
            await alice.next("agent_state")
            assert (await alice.command("set_status", status="lunch"))["type"] == "reply"
            await alice.next("agent_state", status="lunch")
            resp = await client.get("/api/agents", headers=bearer(cc_settings, "sam", "supervisor"))
            assert resp.status == 200
            body = await resp.json()

            agents = {a["agent_id"]: a for a in body["agents"]}
            assert sorted(agents) == ["alice", "bob"]
            a = agents["alice"]
            assert (a["status"], a["activity"], a["state"]) == ("lunch", "idle", "not_ready")
            assert a["queues"] == ["sales", "support", "chat_support"]
            assert a["since"] == max(a["status_since"], a["activity_since"])
            assert 0 <= body["now"] - a["since"] < 60
            b = agents["bob"]
            assert (b["status"], b["activity"], b["state"]) == ("offline", "offline", "offline")
            assert b["queues"] == ["billing"]
            # offline agents are not counted; alice counts in each queue she is skilled for
            assert body["by_queue"] == {
                "sales": {"not_ready": 1},
                "support": {"not_ready": 1},
                "billing": {},
                "chat_support": {"not_ready": 1},
            }

            # a call waiting for sales while alice is at lunch, then she takes it
            resp = await client.post(
                "/gateway/calls",
                headers=gateway_headers(cc_settings),
                json={"call_id": "c-1", "ani": "+14155550100", "queue": "sales"},
            )
            assert resp.status == 201 and (await resp.json())["state"] == "queued"
            assert (await alice.command("set_status", status="available"))["type"] == "reply"
            offer = await alice.next("offer")
            assert offer["data"]["contact_id"] == "c-1"
            assert offer["data"]["screen_pop"]["known"] is False
            body = await (
                await client.get("/api/agents", headers=bearer(cc_settings, "sam", "supervisor"))
            ).json()
            a = next(x for x in body["agents"] if x["agent_id"] == "alice")
            assert (a["status"], a["activity"], a["state"]) == ("available", "offered", "offered")
            assert a["contacts"] == {"c-1": "offered"}
            assert body["by_queue"]["sales"] == {"offered": 1}


@pytest.mark.parametrize("role", ["admin", "supervisor"])
async def test_agents_list_roles(db: asyncpg.Pool, cc_settings: Settings, role: str) -> None:
    async with running_app(cc_settings, db) as client:
        resp = await client.get("/api/agents", headers=bearer(cc_settings, "someone", role))
        assert resp.status == 200
        assert (await resp.json())["agents"] == []
