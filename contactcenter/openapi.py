"""The OpenAPI 3.1 description of the HTTP API, served at ``GET /api/openapi.json``.

Request and response bodies come from the pydantic models the handlers use (their
``model_json_schema``); where a handler builds its answer by hand, the model here states
the contract, and the property-based test (schemathesis, tests/contactcenter/
test_openapi.py) checks every answer against it. The same test fails when a route is
added to the router without a description here (the browser's static pages excepted).
The websockets are listed as ``GET`` operations whose text describes the protocol; their
messages are in docs/server.md and docs/gateway.md.
"""

from __future__ import annotations

from functools import cache
from typing import Any, Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict
from pydantic.json_schema import models_json_schema

from contactcenter.campaigns.api import (
    CAMPAIGN_ID,
    CampaignIn,
    CampaignListOut,
    CampaignOut,
    DncIn,
    DncOut,
    StatsOut,
    UploadOut,
)
from contactcenter.chat import TranscriptOut
from contactcenter.gateway_contract import ID as CALL_ID_PATTERN
from contactcenter.gateway_contract import CallIn, DigitsIn
from contactcenter.health import Liveness, ReadyOut
from contactcenter.ivr_runner import IvrReloadOut
from contactcenter.session_api import (
    ChangePasswordIn,
    DisableIn,
    LoginIn,
    PasswordIn,
    RefreshIn,
    SessionListOut,
    WallboardTokenIn,
    WallboardTokenOut,
)
from contactcenter.supervisor import (
    DATE_PATTERN,
    ID_PATTERN,
    AgentActionOut,
    ExplanationOut,
    IntervalReportOut,
    LogoutIn,
    SkillsIn,
    StatusIn,
    WaitingListOut,
)
from contactcenter.ui import AgentsOut, AvailableAgentsOut, UiConfigOut

OPENAPI_PATH = "/api/openapi.json"
REF = "#/components/schemas/{model}"


# --- answers that handlers build by hand: the contract they keep --------------------------


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="allow")

    code: str
    message: str


class ErrorOut(BaseModel):
    """Every 4xx/5xx answer: ``{"error": {"code", "message"}}``."""

    error: ErrorDetail


class LoginOut(BaseModel):
    token: str
    """The access token (``Authorization: Bearer``; a socket's first ``auth`` frame)."""
    refresh_token: str
    """Renews the access token (``POST /api/session/refresh``); spent by each use."""
    session_id: str
    user_id: str
    role: Literal["agent", "supervisor", "admin"]
    display_name: str
    expires_at: int
    """Unix time (seconds) after which the access token is refused."""
    session_expires_at: int
    """Unix time the session ends (log in again)."""


class OkOut(BaseModel):
    model_config = ConfigDict(extra="allow")

    ok: bool


class QueueStatsOut(BaseModel):
    """One queue of the statistics fold (``routing.stats.StatsFold.queue_snapshot``)."""

    model_config = ConfigDict(extra="allow")

    queue_id: str
    waiting: int
    longest_wait_s: float | None
    offered: int
    answered: int
    abandoned: int
    """Abandons after the short-abandon threshold."""
    short_abandoned: int
    flowed_out: int
    service_level: float | None
    service_level_formula: str
    asa_s: float | None
    abandon_rate: float | None
    aht_s: float | None


class QueuesOut(BaseModel):
    """The statistics snapshot (``routing.stats.StatsFold.snapshot``) plus live counts."""

    model_config = ConfigDict(extra="allow")

    ts: float
    queues: list[QueueStatsOut]
    agents_by_state: dict[str, int]
    occupancy: float | None
    waiting_now: dict[str, int]
    """Contacts waiting in each queue right now, as the engine holds them."""
    surveys: dict[str, Any] | None = None
    """Post-contact survey: CSAT average and first-contact resolution (docs/chat.md)."""


class CallOut(BaseModel):
    call_id: str
    queue: str | None
    """None while the call is in an IVR tree (docs/gateway.md, "IVR on voice")."""
    state: Literal["queued", "offered", "gone", "ivr", "ended", "failed"]
    """``queued``: waiting (the gateway is told to play hold music); ``offered``: an agent is
    being offered the call; ``gone``: it already left routing (e.g. an immediate flow-out);
    ``ivr``: the call runs the number's IVR tree (``ended``: the tree ended it at once)."""
    customer_id: str | None
    tree: str | None = None


class HangupOut(BaseModel):
    call_id: str
    state: Literal["ended"]


class DigitsOut(BaseModel):
    call_id: str
    digits: str


# --- building the document ----------------------------------------------------------------

_ERRORS: dict[int, str] = {
    400: "The request is malformed (body, JSON, fields) or names something unknown",
    401: "No bearer token, or an invalid or expired one",
    403: "The token's role may not use this route",
    404: "Not found (e.g. the call is not in progress)",
    409: "Conflicts with the current state (e.g. a call id used before)",
    413: "The body exceeds 64 KiB",
    429: "Too many failed logins for this username or address; the Retry-After header "
    "says when to try again",
    503: "The event log did not take the change, or the server is not ready",
}


def _error(status: int) -> dict[str, Any]:
    return {"$ref": f"#/components/responses/E{status}"}


def _json(model: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": REF.format(model=model)}}},
    }


def _op(
    summary: str,
    ok: dict[str, Any],
    *,
    errors: tuple[int, ...] = (),
    auth: bool | Literal["gateway"] = True,
    body: str | None = None,
    description: str | None = None,
    parameters: list[dict[str, Any]] | None = None,
    ok_status: str = "200",
    tag: str,
) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": {ok_status: ok}}
    if description:
        op["description"] = description
    if parameters:
        op["parameters"] = parameters
    if body is not None:
        op["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": REF.format(model=body)}}},
        }
    if auth == "gateway":
        op["security"] = [{"gatewayKey": []}]
        errors = (401, *errors)
    elif auth:
        op["security"] = [{"bearerAuth": []}]
        errors = (401, 403, *errors)
    else:
        op["security"] = []
    if body is not None:
        errors = (400, 413, *errors)
    for status in sorted(set(errors)):
        op["responses"][str(status)] = _error(status)
    return op


_CALL_ID = {
    "name": "call_id",
    "in": "path",
    "required": True,
    "description": "The gateway's id of the call",
    "schema": {"type": "string", "pattern": CALL_ID_PATTERN},
}
_TOKEN = {
    "name": "token",
    "in": "query",
    "required": False,
    "description": "The bearer token (browsers cannot set headers on websockets)",
    "schema": {"type": "string"},
}
_USER_ID = {
    "name": "user_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.:@-]{1,64}$"},
}
_UPGRADE = {"description": "Switching protocols: the websocket is open"}


_TAKEOVER = {
    "name": "takeover",
    "in": "query",
    "required": False,
    "description": "1: replace the gateway connection that is live (logged); without it a "
    "second connection is refused with 409 gateway_connected",
    "schema": {"type": "string", "enum": ["0", "1"]},
}


def _websocket(
    summary: str,
    description: str,
    tag: str,
    *,
    gateway: bool = False,
    query_token: bool = True,
) -> dict[str, Any]:
    """``gateway``: the gateway's key in the Authorization header; ``query_token`` False:
    the socket authenticates with its first frame (``{"type": "auth", "token"}``);
    ``?token=`` is refused (400 ``token_in_url``)."""
    op = _op(
        summary,
        _UPGRADE,
        ok_status="101",
        errors=(400, 409) if gateway else (400,),
        parameters=[_TAKEOVER] if gateway else ([_TOKEN] if query_token else None),
        description=description,
        tag=tag,
        auth="gateway" if gateway else True,
    )
    op["x-websocket"] = True
    return op


def _paths() -> dict[str, dict[str, Any]]:
    return {
        "/api/login": {
            "post": _op(
                "Log in: a session, a short access token and its refresh token",
                _json("LoginOut", "Logged in"),
                body="LoginIn",
                errors=(401, 429, 503),
                tag="auth",
                auth=False,
            )
        },
        "/api/session/refresh": {
            "post": _op(
                "A new access token (and refresh token) for a live session",
                _json("LoginOut", "Renewed"),
                body="RefreshIn",
                errors=(401,),
                tag="auth",
                auth=False,
            )
        },
        "/api/logout": {
            "post": _op("End the caller's session", _json("OkOut", "Ended"), tag="auth")
        },
        "/api/password": {
            "post": _op(
                "Change one's password: every session ends, a new one is answered",
                _json("LoginOut", "Changed"),
                body="ChangePasswordIn",
                errors=(429, 503),
                tag="auth",
            )
        },
        "/api/sessions": {
            "get": _op(
                "The live sessions (admin): logins and wallboard screens",
                _json("SessionListOut", "The sessions"),
                parameters=[
                    {
                        "name": "user_id",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "maxLength": 128},
                    },
                    {
                        "name": "kind",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "string", "enum": ["login", "wallboard"]},
                    },
                ],
                errors=(400,),
                tag="auth",
            )
        },
        "/api/sessions/{session_id}": {
            "delete": _op(
                "Revoke a session (admin, or its own user): its tokens stop working and its "
                "sockets close",
                _json("OkOut", "Revoked"),
                parameters=[
                    {
                        "name": "session_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "maxLength": 128},
                    }
                ],
                errors=(404,),
                tag="auth",
            )
        },
        "/api/admin/users/{user_id}/disable": {
            "post": _op(
                "Disable or enable a user (admin); disabling ends its sessions",
                _json("OkOut", "Done"),
                body="DisableIn",
                parameters=[_USER_ID],
                errors=(404,),
                tag="auth",
            )
        },
        "/api/admin/users/{user_id}/password": {
            "post": _op(
                "Set a user's password (admin); its sessions end",
                _json("OkOut", "Done"),
                body="PasswordIn",
                parameters=[_USER_ID],
                errors=(404, 503),
                tag="auth",
            )
        },
        "/api/queues": {
            "get": _op(
                "Queue statistics and contacts waiting now",
                _json("QueuesOut", "The snapshot"),
                tag="queues",
            )
        },
        "/api/ui/config": {
            "get": _op(
                "What the browser pages need from the routing configuration",
                _json("UiConfigOut", "Reason codes and queues"),
                tag="ui",
            )
        },
        "/api/agents": {
            "get": _op(
                "Every agent's state and time in state (supervisors, admins)",
                _json("AgentsOut", "The agents"),
                tag="ui",
            )
        },
        "/healthz": {
            "get": _op(
                "Liveness: the process serves requests (does not check the database)",
                _json("Liveness", "Alive"),
                tag="operations",
                auth=False,
            )
        },
        "/readyz": {
            "get": _op(
                "Readiness: database answers, event log running, ACD restored",
                _json("ReadyOut", "Ready"),
                tag="operations",
                auth=False,
                description="503 with the same body (status `not_ready`) names in `not_ready` "
                "the checks that fail.",
            )
            | {
                "responses": {
                    "200": _json("ReadyOut", "Ready"),
                    "503": _json("ReadyOut", "Not ready; `not_ready` says why"),
                }
            }
        },
        "/metrics": {
            "get": _op(
                "Prometheus metrics (text exposition format)",
                {
                    "description": "The metrics; OpenMetrics when the Accept header asks for it",
                    "content": {
                        "text/plain": {"schema": {"type": "string"}},
                        "application/openmetrics-text": {"schema": {"type": "string"}},
                    },
                },
                tag="operations",
                auth=False,
                errors=(401, 403),
                description="No token needed unless the server runs with "
                "CC_METRICS_PUBLIC=false; then a supervisor's or admin's bearer token. Names "
                "and meanings: docs/observability.md.",
            )
        },
        OPENAPI_PATH: {
            "get": _op(
                "This description (OpenAPI 3.1)",
                {
                    "description": "The OpenAPI document",
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                tag="operations",
                auth=False,
            )
        },
        "/gateway/calls": {
            "post": _op(
                "A call arrived and waits for an agent (telephony gateway, gateway key)",
                _json("CallOut", "Committed: the call is queued or offered"),
                ok_status="201",
                body="CallIn",
                errors=(409, 503),
                tag="gateway",
                auth="gateway",
                description="Errors: invalid_call, no_queue, unknown_queue (400), "
                "duplicate_call (409), event_log_failed (503). See docs/gateway.md.",
            )
        },
        "/gateway/calls/{call_id}/hangup": {
            "post": _op(
                "The caller hung up (abandon when waiting or offered; end when connected)",
                _json("HangupOut", "The call ended"),
                parameters=[_CALL_ID],
                errors=(404, 409, 503),
                tag="gateway",
                auth="gateway",
            )
        },
        "/gateway/calls/{call_id}/digits": {
            "post": _op(
                "DTMF digits the caller pressed (kept in the event log for the IVR)",
                _json("DigitsOut", "Recorded"),
                parameters=[_CALL_ID],
                body="DigitsIn",
                errors=(404, 409, 503),
                tag="gateway",
                auth="gateway",
            )
        },
        "/gateway/ws": {
            "get": _websocket(
                "The telephony gateway's command websocket (gateway key)",
                "Server to gateway: envelopes `{type, seq, ts, data}` with type `play`, "
                "`bridge`, `hangup`, `transfer` or `originate` (click to dial), sent only after "
                "the events that caused them are committed; kept while no gateway is connected. "
                "One connection at a time: a second gets 409 gateway_connected unless it asks "
                "`?takeover=1` (the first is closed with code 4010). "
                'Gateway to server: `{"type": "ack", "seq": N}`, '
                '`{"type": "ping"}`, or `{"type": "originate_result", "data": '
                '{"call_id", "result"}}`. See docs/gateway.md.',
                "gateway",
                gateway=True,
            )
        },
        "/ws/agent": {
            "get": _websocket(
                "The agent console websocket (agent role)",
                "Server messages `{type, seq, ts, data}`: agent_state, offer (with the screen "
                "pop), offer_rescinded, contact_state, dial_result, reply, error. Commands "
                "`{type, id, ...}`: hello, resume, set_status, accept, reject, hold, "
                "resume_contact, end, wrapup, transfer, dial. `seq` numbers the agent's "
                "channel, replayed on resume. The first frame is `{type: auth, token}` "
                "(never a token in the URL); a socket whose session ends is closed with 4410. "
                "See docs/server.md.",
                "agents",
                query_token=False,
            )
        },
        "/ws/chat": {
            "get": _websocket(
                "The web-chat visitor websocket (no login; a chat token from `start`)",
                "Visitor frames `{type, ...}`: start (name, question), resume (token, last_seq), "
                "message (text), typing, leave. Server messages `{type, seq, ts, data}`: "
                "started, resumed, state, message (transcript line, bot choices), typing, "
                "error. See docs/chat.md.",
                "chat",
            )
        },
        **_supervisor_paths(),
        **_campaign_paths(),
    }


def _campaign_paths() -> dict[str, dict[str, Any]]:
    """contactcenter/campaigns/api.py (docs/dialer.md, "Server runner")."""
    campaign = [
        {
            "name": "campaign_id",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": CAMPAIGN_ID},
        }
    ]
    paths: dict[str, dict[str, Any]] = {
        "/api/campaigns": {
            "post": _op(
                "Create an outbound campaign (admin)",
                _json("CampaignOut", "Created (state draft)"),
                body="CampaignIn",
                ok_status="201",
                errors=(409,),
                tag="campaigns",
                description="400 errors name the offending `field`; "
                "`unknown_queue` when the queue is not in routing.yaml.",
            ),
            "get": _op(
                "Every campaign (supervisor, admin, wallboard token)",
                _json("CampaignListOut", "The campaigns"),
                tag="campaigns",
            ),
        },
        "/api/campaigns/{campaign_id}": {
            "get": _op(
                "One campaign (supervisor, admin)",
                _json("CampaignOut", "The campaign"),
                parameters=campaign,
                errors=(404,),
                tag="campaigns",
            )
        },
        "/api/campaigns/{campaign_id}/stats": {
            "get": _op(
                "Live statistics: dials, live answers, abandons per ledger window, talk per "
                "agent hour, agent wait, dial level (supervisor, admin, wallboard token)",
                _json("StatsOut", "The statistics"),
                parameters=campaign,
                errors=(404,),
                tag="campaigns",
            )
        },
        "/api/campaigns/{campaign_id}/contacts": {
            "post": _op(
                "Upload a contact list as CSV (admin): good rows kept, bad rows reported",
                _json("UploadOut", "Rows accepted, and the rejected ones with line numbers"),
                parameters=campaign,
                errors=(400, 404, 409, 413),
                tag="campaigns",
                description="Body `text/csv`, UTF-8, header line first: `number` (required), "
                "`name`, `timezone` (IANA), `country`, `customer_id`; other columns are "
                "attributes shown in the screen pop.",
            )
            | {
                "requestBody": {
                    "required": True,
                    "content": {"text/csv": {"schema": {"type": "string"}}},
                }
            }
        },
        "/api/dnc": {
            "post": _op(
                "Add numbers to the do-not-call list (admin)",
                _json("DncOut", "Added"),
                body="DncIn",
                tag="campaigns",
            )
        },
    }
    for action, text in (
        ("start", "Start or resume dialing"),
        ("pause", "Stop dialing"),
        ("stop", "End the campaign"),
    ):
        paths[f"/api/campaigns/{{campaign_id}}/{action}"] = {
            "post": _op(
                f"{text} (admin)",
                _json("CampaignOut", "The campaign now"),
                parameters=campaign,
                errors=(404, 409),
                tag="campaigns",
            )
        }
    return paths


def _supervisor_paths() -> dict[str, dict[str, Any]]:
    """contactcenter/supervisor.py and wallboard.py (docs/ui.md)."""
    agent = [
        {
            "name": "agent_id",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": ID_PATTERN},
        }
    ]
    contact = [
        {
            "name": "contact_id",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": ID_PATTERN},
        }
    ]
    report = [
        {
            "name": "date",
            "in": "query",
            "required": False,
            "description": "The UTC day (default today)",
            "schema": {"type": "string", "pattern": DATE_PATTERN},
        },
        {
            "name": "interval",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": ["15", "30"]},
        },
        {
            "name": "queue",
            "in": "query",
            "required": False,
            "description": "One queue id (default: every queue)",
            "schema": {"type": "string", "pattern": ID_PATTERN},
        },
        {
            "name": "format",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "enum": ["json", "csv"]},
        },
        {
            "name": "raw_formulas",
            "in": "query",
            "required": False,
            "description": "CSV: 1 writes cells as they are; by default a cell a spreadsheet "
            "would run as a formula (starting with = + - @ tab or CR) gets a leading '",
            "schema": {"type": "string", "enum": ["0", "1"]},
        },
    ]
    period = {
        "name": "period",
        "in": "query",
        "required": False,
        "description": "Seconds between updates (config/ui.yaml min_period_s..60)",
        "schema": {"type": "number", "minimum": 0.25, "maximum": 60},
    }
    feed = _websocket(
        "The supervisor wallboard feed (supervisor, admin, wallboard token)",
        "Server to client only: one `wallboard_snapshot` (queue tiles and agent rows), "
        "then `wallboard_update` messages with only what changed, at most one per period. "
        "Envelopes `{type, seq, ts, data}`; shapes in contactcenter/protocol.py. The first "
        "client frame is `{type: auth, token}` (never a token in the URL).",
        "supervisor",
        query_token=False,
    )
    feed["parameters"] = [period]
    return {
        "/api/supervisor/agents/{agent_id}/status": {
            "post": _op(
                "Force an agent's status (next status while it holds contacts)",
                _json("AgentActionOut", "The agent now"),
                body="StatusIn",
                parameters=agent,
                errors=(404, 409, 503),
                tag="supervisor",
            )
        },
        "/api/supervisor/agents/{agent_id}/logout": {
            "post": _op(
                "Log an agent out (force: contacts in hand go back to their queues)",
                _json("AgentActionOut", "The agent now"),
                body="LogoutIn",
                parameters=agent,
                errors=(404, 409, 503),
                tag="supervisor",
            )
        },
        "/api/supervisor/agents/{agent_id}/skills": {
            "put": _op(
                "Replace an agent's skills (used from the next routing decision)",
                _json("AgentActionOut", "The agent now"),
                body="SkillsIn",
                parameters=agent,
                errors=(404, 409, 503),
                tag="supervisor",
            )
        },
        "/api/supervisor/waiting": {
            "get": _op(
                "Contacts waiting now, longest first",
                _json("WaitingListOut", "Waiting"),
                tag="supervisor",
            )
        },
        "/api/supervisor/contacts/{contact_id}/explain": {
            "get": _op(
                "Why a contact is still waiting (or went to its agent)",
                _json("ExplanationOut", "The explanation"),
                parameters=contact,
                errors=(400, 404),
                tag="supervisor",
            )
        },
        "/api/supervisor/reports/intervals": {
            "get": _op(
                "Interval report (15 or 30 minutes) of one UTC day, from the event log",
                {
                    "description": "The rows; CSV with format=csv",
                    "content": {
                        "application/json": {
                            "schema": {"$ref": REF.format(model="IntervalReportOut")}
                        },
                        "text/csv": {"schema": {"type": "string"}},
                    },
                },
                parameters=report,
                errors=(400,),
                tag="supervisor",
            )
        },
        "/api/supervisor/wallboard-token": {
            "post": _op(
                "Issue a long-lived read-only wallboard token (admin)",
                _json("WallboardTokenOut", "The token"),
                body="WallboardTokenIn",
                ok_status="201",
                tag="supervisor",
            )
        },
        "/ws/supervisor": {"get": feed},
        "/api/ui/available-agents": {
            "get": _op(
                "Agents available and idle now (the console's transfer targets)",
                _json("AvailableAgentsOut", "The agents"),
                tag="ui",
            )
        },
        "/api/ivr/reload": {
            "post": _op(
                "Load the IVR trees and gateway.yaml's ivr section again (admins)",
                _json("IvrReloadOut", "The trees in service"),
                errors=(400, 403),
                description="All or nothing: a bad tree gets 400 `invalid_ivr` with `problems` "
                "and the trees in service keep serving. See docs/gateway.md.",
                tag="ivr",
            )
        },
        "/api/chats/{contact_id}/transcript": {
            "get": _op(
                "A chat's transcript (supervisors, admins, the agent who handled it)",
                _json("TranscriptOut", "Every line, in order"),
                errors=(403, 404),
                parameters=[
                    {
                        "name": "contact_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 128},
                    }
                ],
                tag="chat",
            )
        },
    }


def _schemas() -> dict[str, Any]:

    inputs: list[type[BaseModel]] = [LoginIn, CallIn, DigitsIn]
    inputs += [RefreshIn, ChangePasswordIn, DisableIn, PasswordIn]
    outputs: list[type[BaseModel]] = [
        ErrorOut,
        LoginOut,
        OkOut,
        SessionListOut,
        QueuesOut,
        CallOut,
        HangupOut,
        DigitsOut,
        Liveness,
        ReadyOut,
        UiConfigOut,
        AgentsOut,
    ]
    inputs += [StatusIn, LogoutIn, SkillsIn, WallboardTokenIn, CampaignIn, DncIn]
    outputs += [CampaignOut, CampaignListOut, UploadOut, StatsOut, DncOut]
    outputs += [
        AgentActionOut,
        WaitingListOut,
        ExplanationOut,
        IntervalReportOut,
        WallboardTokenOut,
        AvailableAgentsOut,
        IvrReloadOut,
        TranscriptOut,
    ]
    pairs = [(m, "validation") for m in inputs] + [(m, "serialization") for m in outputs]
    _, top = models_json_schema(pairs, ref_template=REF)  # type: ignore[arg-type]
    schemas: dict[str, Any] = top.get("$defs", {})
    return schemas


def _with_operation_ids(paths: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``operationId``s derived from method and path (``post_gateway_calls_call_id_hangup``),
    for client generators; unique because (method, path) is."""
    for path, item in paths.items():
        words = path.replace("{", "").replace("}", "").replace(".", "_").strip("/").split("/")
        for method, op in item.items():
            op["operationId"] = "_".join([method, *words])
    return paths


@cache
def build_spec() -> dict[str, Any]:
    """The whole document (built once; the result must not be mutated)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "contactcenter",
            "version": "0.1.0",
            "description": "The contact-centre server's HTTP API: login, queue statistics, "
            "the telephony gateway contract, health, readiness and metrics, and the agent "
            "and gateway websockets (described in text). Errors are "
            '`{"error": {"code", "message"}}`.',
        },
        "paths": _with_operation_ids(_paths()),
        "components": {
            "schemas": _schemas(),
            "responses": {
                f"E{status}": _json("ErrorOut", text) for status, text in _ERRORS.items()
            },
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A token from POST /api/login",
                },
                "gatewayKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A telephony gateway's key (`contactcenter gateway-key`; "
                    "docs/gateway.md); user tokens are refused on the gateway routes",
                },
            },
        },
    }


def described_operations(spec: dict[str, Any]) -> set[tuple[str, str]]:
    """(METHOD, path) of every operation the document describes."""
    return {(method.upper(), path) for path, item in spec["paths"].items() for method in item}


async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(build_spec())


def routes() -> list[web.RouteDef]:
    return [web.get(OPENAPI_PATH, openapi_json)]
