"""The small HTTP API beside the services: ``POST /api/login`` and ``GET /api/queues``."""

from __future__ import annotations

import time

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contactcenter.appkeys import services
from contactcenter.auth import issue_token
from contactcenter.store.transcripts import survey_summary
from contactcenter.store.users import verify_credentials
from contactcenter.webcommon import POOL, SETTINGS, authenticate, fail, read_json

ANY_ROLE = frozenset({"agent", "supervisor", "admin"})


class LoginIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


async def login(request: web.Request) -> web.Response:
    try:
        body = LoginIn.model_validate(await read_json(request))
    except ValidationError:
        fail(400, "invalid_login", 'send {"username": ..., "password": ...}')
    user = await verify_credentials(request.app[POOL], body.username, body.password)
    if user is None:
        fail(401, "bad_credentials", "wrong username or password, or the account is disabled")
    settings = request.app[SETTINGS]
    now = time.time()
    token = issue_token(
        settings.token_secret_bytes(),
        user_id=user.id,
        role=user.role,
        ttl_s=settings.token_ttl_s,
        now=now,
    )
    return web.json_response(
        {
            "token": token,
            "user_id": user.id,
            "role": user.role,
            "display_name": user.display_name,
            "expires_at": int(now) + settings.token_ttl_s,
        }
    )


async def queues(request: web.Request) -> web.Response:
    authenticate(request, ANY_ROLE)
    acd = services(request.app).acd
    snapshot = acd.stats.snapshot(acd.clock())
    # what the engine holds right now, beside what the fold counted
    snapshot["waiting_now"] = {q: len(acd.engine.waiting(q)) for q in acd.engine.queue_ids()}
    # post-contact survey answers are stored, not folded: CSAT and FCR from the database
    snapshot["surveys"] = await survey_summary(request.app[POOL])
    return web.json_response(snapshot)


def routes() -> list[web.RouteDef]:
    return [web.post("/api/login", login), web.get("/api/queues", queues)]
