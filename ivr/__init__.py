"""Pure IVR core: menu trees (YAML, pydantic) and the interpreter that walks them.

Sans-I/O like routing/: no asyncio, no sockets, no clock. The server (or a simulation)
creates a ``Session`` per contact from the ``Registry``'s entry tree for the channel, and
performs the ``Action`` each step returns. See docs/ivr.md.
"""

from ivr.actions import (
    Action,
    Callback,
    Choice,
    Gather,
    Hangup,
    Lookup,
    Play,
    Prompt,
    Queue,
    Say,
    Terminal,
    Transfer,
    Voicemail,
)
from ivr.errors import IvrConfigError, NotWaiting, Problem, SessionEnded, SessionError
from ivr.loader import Catalog, Registry, Tree, build_catalog, load_tree, read_sources
from ivr.session import Session

__all__ = [
    "Action",
    "Callback",
    "Catalog",
    "Choice",
    "Gather",
    "Hangup",
    "IvrConfigError",
    "Lookup",
    "NotWaiting",
    "Play",
    "Problem",
    "Prompt",
    "Queue",
    "Registry",
    "Say",
    "Session",
    "SessionEnded",
    "SessionError",
    "Terminal",
    "Transfer",
    "Tree",
    "Voicemail",
    "build_catalog",
    "load_tree",
    "read_sources",
]
