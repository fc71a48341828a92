"""``GET /api/queues``: the statistics snapshot any logged-in user may read (a module
handler: it reads the ACD of the node's current generation per request)."""

from __future__ import annotations

from aiohttp import web

from contactcenter.appkeys import services
from contactcenter.store.transcripts import survey_summary
from contactcenter.webcommon import POOL, authenticate

ANY_ROLE = frozenset({"agent", "supervisor", "admin"})


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
    return [web.get("/api/queues", queues)]
