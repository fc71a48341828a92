"""The OpenAPI description: it covers every route the server registers (so it cannot drift),
it is a valid OpenAPI 3.1 document, and a property-based run of schemathesis over it against
a real server on real PostgreSQL finds no server error and no answer outside the schema."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import hypothesis
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from contactcenter.app import create_app
from contactcenter.openapi import OPENAPI_PATH, build_spec, described_operations
from contactcenter.settings import Settings
from contactcenter.store.users import create_user
from tests.contactcenter.server_support import PASSWORD, add_agent, running_app, token

# The browser pages and their redirects: static files, not API (ui.py serves them).
UI_PREFIXES = ("/ui/", "/static/")
UI_EXACT = {"/", "/ui"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Per operation and mode; bounded so the whole run stays well under a minute.
MAX_EXAMPLES = {schemathesis.GenerationMode.POSITIVE: 60, schemathesis.GenerationMode.NEGATIVE: 30}


def registered_operations(app: web.Application) -> set[tuple[str, str]]:
    """(METHOD, path template) of every API route in the router (HEAD is GET's twin)."""
    found = set()
    for route in app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if route.method in ("HEAD", "*") or path in UI_EXACT or path.startswith(UI_PREFIXES):
            continue
        found.add((route.method, path))
    return found


def test_every_route_is_described(cc_settings: Settings) -> None:
    app = create_app(cc_settings, pool=object(), dnis_map={})
    routes = registered_operations(app)
    described = described_operations(build_spec())
    missing = sorted(routes - described)
    assert not missing, (
        "routes registered in the aiohttp router but not in contactcenter/openapi.py "
        f"(add them to _paths()): {', '.join(f'{m} {p}' for m, p in missing)}"
    )
    stale = sorted(described - routes)
    assert not stale, (
        "operations described in contactcenter/openapi.py that no route serves: "
        f"{', '.join(f'{m} {p}' for m, p in stale)}"
    )
    assert ("GET", "/metrics") in routes and ("POST", "/gateway/calls") in routes


def test_the_drift_check_sees_a_new_route(cc_settings: Settings) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.json_response({})

    app = create_app(cc_settings, pool=object(), dnis_map={})
    app.router.add_delete("/api/queues/{queue_id}", handler)
    app.router.add_get("/ui/extra.html", handler)  # a page: not API, not required
    missing = registered_operations(app) - described_operations(build_spec())
    assert missing == {("DELETE", "/api/queues/{queue_id}")}


def test_the_document_is_valid_openapi_3_1() -> None:
    spec = build_spec()
    assert spec["openapi"].startswith("3.1")
    schema = schemathesis.openapi.from_dict(spec)
    schema.validate()  # against the OpenAPI 3.1 meta-schema; raises when invalid
    errors = [r for r in schema.get_all_operations() if isinstance(r, Err)]
    assert not errors, errors
    login = spec["paths"]["/api/login"]["post"]
    ref = login["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert spec["components"]["schemas"][ref.rsplit("/", 1)[1]]["required"] == [
        "username",
        "password",
    ]


def fuzz_operation(
    operation: Any, mode: schemathesis.GenerationMode, base_url: str, headers: dict[str, str]
) -> int:
    """The number of requests sent; raises on the first failing case (shrunk)."""
    sent = 0
    checks = CHECKS if mode.is_positive else [*CHECKS, negative_data_rejection]

    @hypothesis.settings(
        max_examples=MAX_EXAMPLES[mode],
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.generate, hypothesis.Phase.shrink],
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        nonlocal sent
        sent += 1
        case.call_and_validate(base_url=base_url, headers=headers, checks=checks)

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        # an operation without parameters or body has nothing to make invalid
        if mode.is_positive or operation.body or any(True for _ in operation.iter_parameters()):
            raise
    return sent


def fuzz(spec: dict[str, Any], base_url: str, token: str) -> tuple[list[str], int]:
    """Every operation in both generation modes: the failures, as readable text, and the
    number of requests sent."""
    schema = schemathesis.openapi.from_dict(spec)
    headers = {"Authorization": f"Bearer {token}"}
    failures: list[str] = []
    sent = 0
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            failures.append(f"an operation cannot be tested: {result.err()}")
            continue
        operation = result.ok()
        for mode in MAX_EXAMPLES:
            try:
                sent += fuzz_operation(operation, mode, base_url, headers)
            except Exception as exc:
                failures.append(f"{operation.label} [{mode.value}]: {exc}")
    return failures, sent


async def test_schemathesis_finds_no_server_error(db: asyncpg.Pool, cc_settings: Settings) -> None:
    await create_user(db, username="admin", password=PASSWORD, role="admin")
    await add_agent(db, "kim", {"sales": 5})
    async with running_app(cc_settings, db) as client:
        login = await client.post("/api/login", json={"username": "admin", "password": PASSWORD})
        assert login.status == 200
        token = (await login.json())["token"]
        served = await client.get(OPENAPI_PATH)
        assert served.status == 200
        spec = await served.json()
        assert spec == build_spec()
        base_url = str(client.make_url("")).rstrip("/")
        failures, sent = await asyncio.to_thread(fuzz, spec, base_url, token)
    assert not failures, "\n\n".join(failures)
    # not vacuous: most operations got their full share of examples
    assert sent >= 200, sent


async def test_bodies_postgresql_cannot_store_are_client_errors(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    """What the property run found (a 500 from a NUL in the login name) and its kin: text
    PostgreSQL cannot hold, non-JSON numbers and absurd nesting are 400s, before any engine
    or database work."""
    gw = {
        "Authorization": f"Bearer {token(cc_settings, 'gw', 'admin')}",
        "Content-Type": "application/json",
    }
    cases = [
        ("/api/login", '{"username": "a\\u0000b", "password": "x"}', "bad_text"),
        ("/api/login", '{"username": "\\ud800", "password": "x"}', "bad_text"),
        (
            "/gateway/calls",
            '{"call_id": "n-1", "queue": "sales", "data": {"k": "\\u0000"}}',
            "bad_text",
        ),
        ("/gateway/calls", '{"call_id": "n-2", "queue": "sales", "data": {"k": NaN}}', "bad_json"),
        ("/gateway/calls", "[" * 20_000 + "]" * 20_000, "bad_json"),
    ]
    async with running_app(cc_settings, db) as client:
        for path, body, code in cases:
            resp = await client.post(path, data=body, headers=gw)
            assert resp.status == 400, (path, body[:60], await resp.text())
            assert (await resp.json())["error"]["code"] == code
        # nothing reached the engine or the log
        assert await db.fetchval("SELECT count(*) FROM events") == 0
