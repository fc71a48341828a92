"""Outbound campaigns on the server: storage (store/campaigns.py), the HTTP API (api.py),
the runner (runner.py, service.py) and the ``contactcenter campaign`` command (cli.py).
See docs/dialer.md, "Server runner"."""

from __future__ import annotations
