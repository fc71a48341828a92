"""Outbound campaigns on the server: storage (store/campaigns.py), the HTTP API (api.py),
the runner (runner.py, service.py) and the ``contactcenter campaign`` command (cli.py).
See docs/dialer.md, "Server runner"."""

from __future__ import annotations

from aiohttp import web


def setup(app: web.Application) -> None:
    """Routes, and the runners' lifecycle after the routing context (ACD, gateway)."""
    from contactcenter.campaigns import api, service

    app.cleanup_ctx.append(service.lifecycle)
    api.setup(app)
