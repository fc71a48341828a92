"""``contactcenter serve``: run the server on the configured host and port."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from aiohttp import web

from contactcenter import logs
from contactcenter.accesslog import RedactingAccessLogger
from contactcenter.app import create_app
from contactcenter.gateway_auth import GatewayKeyError
from contactcenter.settings import Settings, SettingsError, load_settings
from contactcenter.store import DatabaseUnavailable
from routing.policy import ConfigError


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "serve",
        help="run the contact-centre server (HTTP API, agent and gateway websockets)",
        description="Run the server. Settings come from the environment (DATABASE_URL, "
        "CC_HOST, CC_PORT, CC_CONFIG_DIR, ...); without DATABASE_URL an embedded "
        "PostgreSQL is started in CC_DATA_DIR.",
    )
    parser.add_argument("--host", help="override CC_HOST")
    parser.add_argument("--port", type=int, help="override CC_PORT (0: any free port)")
    parser.add_argument(
        "--log-format",
        choices=("text", "json"),
        help="override CC_LOG_FORMAT: text lines, or one JSON object per line",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    overrides = {
        k: v
        for k, v in (("host", args.host), ("port", args.port), ("log_format", args.log_format))
        if v is not None
    }
    if overrides:
        settings = settings.model_copy(update=overrides)
    logs.configure(settings.log_level, settings.log_format)
    try:
        asyncio.run(serve(settings))
    except (ConfigError, DatabaseUnavailable, GatewayKeyError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


async def serve(settings: Settings) -> None:
    app = create_app(settings)
    # the access log never holds a token or an Authorization header (accesslog.py)
    runner = web.AppRunner(app, handle_signals=False, access_log_class=RedactingAccessLogger)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        await site.start()
        port = settings.port
        for address in runner.addresses:
            if isinstance(address, tuple):
                port = address[1]
                break
        url = f"http://{settings.host}:{port}"
        print(f"contactcenter serving on {url}")
        print("  next (demo users and passwords come from `contactcenter seed-demo`):")
        print(f"    agent console     {url}/ui/agent.html   (log in as an agent, go available)")
        print(f"    supervisor        {url}/ui/supervisor.html")
        print(f"    web-chat widget   {url}/ui/widget/index.html")
        print(
            "    place calls       .venv/bin/contactcenter carrier --url "
            f"{url} --rate 1/s --duration 30   (gateway key: CC_DATA_DIR/gateway_secret)"
        )
        print(f"    API description   {url}/api/openapi.json   metrics {url}/metrics")
        print("  stop with Ctrl-C.")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()
