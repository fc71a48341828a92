"""What the lifecycle has brought up so far: the readiness probe's facts (health.py)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class Readiness:
    started_at: float = field(default_factory=time.time)
    acd_restored: bool = False
    stopping: bool = False
    failed: str | None = None
    """Why the node is not serving although started: a fail-stop (node.py) in progress."""
