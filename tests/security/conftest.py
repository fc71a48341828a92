"""Fixtures of the security and fault tests: a PostgreSQL the test itself crashes, and the
browser of the page tests (tests/agent_ui/conftest.py) for the console's session handling.

``crashable_pg``: a PostgreSQL server of this test alone (pgserver's binaries in a fresh
data directory), with ``crash()`` (SIGKILL to the postmaster and every backend: what a
power cut or the OOM killer does; the next start runs crash recovery) and ``restart()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.agent_ui.conftest import browser
from tests.conftest import embedded_pg_parent

__all__ = ["CrashablePostgres", "browser", "crashable_pg"]


class CrashablePostgres:
    def __init__(self, pgdata: Path) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs: XDG_RUNTIME_DIR unset
            from pgserver.postgres_server import PostgresServer, get_server
        self._lock = PostgresServer._lock
        self._server: Any = get_server(pgdata, cleanup_mode="delete")
        self.pgdata = pgdata

    def url(self) -> str:
        return str(self._server.get_uri())

    def _postmaster(self) -> psutil.Process | None:
        pid_file = self.pgdata / "postmaster.pid"
        if not pid_file.exists():
            return None
        try:
            return psutil.Process(int(pid_file.read_text().splitlines()[0]))
        except (psutil.NoSuchProcess, ValueError, IndexError):
            return None

    def crash(self) -> None:
        """SIGKILL the postmaster and all its backends at once, nothing flushed."""
        postmaster = self._postmaster()
        assert postmaster is not None, "the test's PostgreSQL is not running"
        victims = [postmaster, *postmaster.children(recursive=True)]
        for proc in victims:
            with contextlib.suppress(psutil.NoSuchProcess):
                proc.kill()
        psutil.wait_procs(victims, timeout=10)

    def start(self) -> None:
        """Start it again on the same data (crash recovery runs)."""
        with self._lock:
            self._server.ensure_postgres_running()

    async def restart(self) -> None:
        """``start``, off the event loop (it waits for the server to be ready)."""
        await asyncio.to_thread(self.start)

    def stop(self) -> None:
        self._server.cleanup()


@pytest.fixture
def crashable_pg() -> Iterator[CrashablePostgres]:
    parent = embedded_pg_parent()
    server = CrashablePostgres(parent / "pgdata")
    try:
        yield server
    finally:
        if server._postmaster() is None:
            # cleanup stops a running server; after a crash it has nothing to stop
            with contextlib.suppress(Exception):
                server.start()
        server.stop()
        shutil.rmtree(parent, ignore_errors=True)
