"""The browser of the page tests (tests/agent_ui/conftest.py), for the console's session
handling here."""

from __future__ import annotations

from tests.agent_ui.conftest import browser

__all__ = ["browser"]
