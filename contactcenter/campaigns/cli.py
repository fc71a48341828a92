"""``contactcenter campaign create|upload|start|pause|stop|stats``.

It talks to the running server's HTTP API (``--url``, default ``CC_URL`` or
http://127.0.0.1:8080) with a bearer token (``--token`` / ``CC_TOKEN``, or ``--username``
and ``--password`` / ``CC_PASSWORD`` to log in), never to the database: the server owns
the runners, so start / pause / stop must reach it, and the API's validation and roles
apply to the command line too.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any


class ApiError(RuntimeError):
    pass


def _request(
    url: str,
    method: str,
    path: str,
    token: str | None = None,
    body: Any = None,
    raw: bytes | None = None,
    content_type: str = "application/json",
) -> Any:
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url.rstrip("/") + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", content_type)
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        try:
            err = json.loads(exc.read()).get("error", {})
            text = f"{exc.code} {err.get('code')}: {err.get('message')}"
            if err.get("field"):
                text += f" (field {err['field']})"
        except ValueError:
            text = f"{exc.code} {exc.reason}"
        raise ApiError(text) from None
    except OSError as exc:
        raise ApiError(f"cannot reach {url}: {exc}") from None


def _token(args: argparse.Namespace) -> str:
    if args.token:
        return str(args.token)
    password = args.password or os.environ.get("CC_PASSWORD")
    if not args.username or not password:
        raise ApiError("give --token (or CC_TOKEN), or --username and --password")
    reply = _request(
        args.url, "POST", "/api/login", body={"username": args.username, "password": password}
    )
    return str(reply["token"])


def _create_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": args.id,
        "name": args.name or args.id,
        "queue": args.queue,
        "mode": args.mode,
        "ratio": args.ratio,
        "regulatory_mode": args.regulatory_mode,
        "abandon_target": args.abandon_target,
    }
    if args.window:
        start, _, end = args.window.partition("-")
        body["calling_window"] = {"start": start, "end": end}
    if args.skill:
        body["skills"] = {k: int(v) for k, _, v in (s.partition("=") for s in args.skill)}
    return body


def run(args: argparse.Namespace) -> int:
    try:
        token = _token(args)
        action = args.action
        if action == "create":
            out = _request(args.url, "POST", "/api/campaigns", token, _create_body(args))
        elif action == "upload":
            out = _request(
                args.url,
                "POST",
                f"/api/campaigns/{args.id}/contacts",
                token,
                raw=Path(args.file).read_bytes(),
                content_type="text/csv",
            )
        elif action == "stats":
            out = _request(args.url, "GET", f"/api/campaigns/{args.id}/stats", token)
        else:
            out = _request(args.url, "POST", f"/api/campaigns/{args.id}/{action}", token)
    except (ApiError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(out, indent=2))
    if action == "upload" and out.get("rejected"):
        for r in out["rejected"]:
            print(f"line {r['line']}: {r['reason']}", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "campaign",
        help="outbound campaigns: create, upload a list, start/pause/stop, stats",
        description="Talks to the server's HTTP API (docs/dialer.md, 'Server runner').",
    )
    parser.add_argument("--url", default=os.environ.get("CC_URL", "http://127.0.0.1:8080"))
    parser.add_argument("--token", default=os.environ.get("CC_TOKEN"))
    parser.add_argument("--username", default=os.environ.get("CC_USERNAME"))
    parser.add_argument("--password")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    create = sub.add_parser("create", help="a new campaign (admin)")
    create.add_argument("id")
    create.add_argument("--name")
    create.add_argument("--queue", required=True, help="the ACD queue of answered calls")
    create.add_argument(
        "--mode", default="progressive", choices=("preview", "progressive", "power", "predictive")
    )
    create.add_argument("--ratio", type=float, default=1.0, help="power mode: lines per agent")
    create.add_argument("--regulatory-mode", default="us", choices=("us", "uk"))
    create.add_argument("--abandon-target", type=float, default=0.02)
    create.add_argument("--window", help="local calling window, e.g. 09:00-20:00")
    create.add_argument("--skill", action="append", help="extra skill NAME=LEVEL")
    upload = sub.add_parser("upload", help="upload a CSV contact list (admin)")
    upload.add_argument("id")
    upload.add_argument("file")
    for name, text in (
        ("start", "start or resume dialing (admin)"),
        ("pause", "stop dialing for now (admin)"),
        ("stop", "end the campaign (admin)"),
        ("stats", "live statistics (supervisor, admin)"),
    ):
        sub.add_parser(name, help=text).add_argument("id")
    parser.set_defaults(func=run)
