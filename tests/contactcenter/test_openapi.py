"""The OpenAPI description: it covers every route the server registers (so it cannot drift),
it is a valid OpenAPI 3.1 document, and a property-based run of schemathesis over it against
a real server on real PostgreSQL finds no server error and no answer outside the schema."""

from __future__ import annotations

import asyncio
import functools
import http.cookiejar
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import asyncpg
import hypothesis
import pytest
import requests
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck
from pydantic import SecretStr
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from contactcenter import auth
from contactcenter.app import create_app
from contactcenter.openapi import OPENAPI_PATH, build_spec, described_operations
from contactcenter.settings import Settings
from contactcenter.store import users
from contactcenter.store.users import create_user
from tests.conftest import truncate_all
from tests.contactcenter.server_support import (
    PASSWORD,
    add_agent,
    gateway_headers,
    running_app,
)

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
    operation: Any,
    mode: schemathesis.GenerationMode,
    base_url: str,
    headers: dict[str, str],
    session: requests.Session | None = None,
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
        case.call_and_validate(base_url=base_url, session=session, headers=headers, checks=checks)

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        # an operation without parameters or body has nothing to make invalid
        if mode.is_positive or operation.body or any(True for _ in operation.iter_parameters()):
            raise
    return sent


# Invalid data must be refused with one of these (schemathesis's list, plus 413): the server
# refuses a body over 64 KiB with 413 (documented for every JSON body) before reading it,
# and a negative example that breaks a maxItems or maxLength bound can be that large (the
# DNC list's 10,000 numbers, say). A 5xx still fails not_a_server_error.
REJECTED = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429"]
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": [*REJECTED, "5xx"]}}}
)

# The run below is split into one test per operation and generation mode, all against one
# server: the same requests, the same checks and examples as one test over all operations
# (which took most of a minute), reported per operation.
SPEC_OPERATIONS = [
    result.ok()
    for result in schemathesis.openapi.from_dict(build_spec(), config=CONFIG).get_all_operations()
    if not isinstance(result, Err)
]
FUZZ_CASES = [(op.label, mode) for op in SPEC_OPERATIONS for mode in MAX_EXAMPLES]


@dataclass
class FuzzTarget:
    operations: dict[str, Any]
    base_url: str
    headers: dict[str, str]
    gateway_headers: dict[str, str]
    """For the /gateway routes, which take a gateway key and no user token."""
    session: requests.Session


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """The shared session keeps its connection alive but no cookies: each request stands
    alone, as with a fresh session per request."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


@pytest.fixture(scope="class")
async def fuzz_target(
    db_pool: asyncpg.Pool, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[FuzzTarget]:
    """The server the class's tests fuzz, shared by them (as it was by the one test over all
    operations this replaces): a fresh database with an admin and an agent, an admin token
    and one keep-alive HTTP session."""
    await truncate_all(db_pool)
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path_factory.mktemp("openapi") / "var",
        token_secret=SecretStr(secrets.token_urlsafe(48)),
        port=0,
    )
    with pytest.MonkeyPatch.context() as patch:
        # Passwords (the accounts here, and the stand-in hash a login with an unknown
        # name is checked against) at scrypt n=2**10 instead of 2**15: the cost is a
        # security setting that test_auth.py checks; at full cost each of the ~90
        # logins the run sends takes a tenth of a second or more.
        cheap = functools.partial(auth.ScryptParams, n=2**10)
        patch.setattr(auth, "ScryptParams", cheap)
        patch.setattr(users, "_dummy_hash", functools.cache(users._dummy_hash.__wrapped__))
        await create_user(db_pool, username="admin", password=PASSWORD, role="admin")
        await add_agent(db_pool, "kim", {"sales": 5})
        async with running_app(settings, db_pool) as client:
            login = await client.post(
                "/api/login", json={"username": "admin", "password": PASSWORD}
            )
            assert login.status == 200
            token = (await login.json())["token"]
            served = await client.get(OPENAPI_PATH)
            assert served.status == 200
            spec = await served.json()
            assert spec == build_spec()
            with requests.Session() as session:
                session.cookies.set_policy(_NoCookies())
                yield FuzzTarget(
                    operations={op.label: op for op in SPEC_OPERATIONS},
                    base_url=str(client.make_url("")).rstrip("/"),
                    headers={"Authorization": f"Bearer {token}"},
                    gateway_headers=gateway_headers(settings),
                    session=session,
                )


class TestSchemathesis:
    """A property-based run over every operation of the served document (positive and
    negative data) finds no server error and no answer outside the schema."""

    def test_every_operation_can_be_tested(self) -> None:
        schema = schemathesis.openapi.from_dict(build_spec())
        errors = [r.err() for r in schema.get_all_operations() if isinstance(r, Err)]
        assert not errors, errors
        assert len(SPEC_OPERATIONS) == len(described_operations(build_spec()))

    @pytest.mark.parametrize(
        ("label", "mode"), FUZZ_CASES, ids=[f"{op} [{mode.value}]" for op, mode in FUZZ_CASES]
    )
    async def test_schemathesis_finds_no_server_error(
        self, fuzz_target: FuzzTarget, label: str, mode: schemathesis.GenerationMode
    ) -> None:
        target = fuzz_target
        operation = target.operations[label]
        sent = await asyncio.to_thread(
            fuzz_operation,
            operation,
            mode,
            target.base_url,
            target.gateway_headers if operation.path.startswith("/gateway") else target.headers,
            target.session,
        )
        # not vacuous: an operation with parameters or a body gets (at least half) its share
        # of examples, one without gets its one positive request
        if operation.body or any(True for _ in operation.iter_parameters()):
            assert sent >= MAX_EXAMPLES[mode] // 2, sent
        elif mode.is_positive:
            assert sent == 1, sent


async def test_bodies_postgresql_cannot_store_are_client_errors(
    db: asyncpg.Pool, cc_settings: Settings
) -> None:
    """What the property run found (a 500 from a NUL in the login name) and its kin: text
    PostgreSQL cannot hold, non-JSON numbers and absurd nesting are 400s, before any engine
    or database work."""
    gw = {**gateway_headers(cc_settings), "Content-Type": "application/json"}
    cases = [
        ("/api/login", '{"username": "a\\u0000b", "password": "x"}', "bad_text"),
        ("/api/login", '{"username": "\\ud800", "password": "x"}', "bad_text"),
        (
            "/gateway/calls",
            '{"call_id": "n-1", "queue": "sales", "data": {"k": "\\u0000"}}',
            "bad_text",
        ),
        (
            "/gateway/calls",
            '{"call_id": "n-2", "queue": "sales", "data": {"k": NaN}}',
            "bad_number",
        ),
        ("/gateway/calls", "[" * 20_000 + "]" * 20_000, "too_deep"),
    ]
    async with running_app(cc_settings, db) as client:
        for path, body, code in cases:
            resp = await client.post(path, data=body, headers=gw)
            assert resp.status == 400, (path, body[:60], await resp.text())
            assert (await resp.json())["error"]["code"] == code
        # nothing reached the engine or the log
        assert await db.fetchval("SELECT count(*) FROM events") == 0
