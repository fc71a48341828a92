"""The routing core: a sans-I/O skills-based ACD engine, its statistics and its pacing.

Pure, synchronous, deterministic: time is an argument, nothing here does I/O. The live
server and the SimPy simulator both drive it.
"""

from routing.engine import AgentSnapshot, ContactSnapshot, Engine, Explanation, Outcome
from routing.model import (
    AVAILABLE,
    OFFLINE,
    Activity,
    AgentProfile,
    Channel,
    ContactSpec,
    ContactState,
    QueueConfig,
    RoutingConfig,
    RoutingStep,
    WrapUpPolicy,
)

__all__ = [
    "AVAILABLE",
    "OFFLINE",
    "Activity",
    "AgentProfile",
    "AgentSnapshot",
    "Channel",
    "ContactSnapshot",
    "ContactSpec",
    "ContactState",
    "Engine",
    "Explanation",
    "Outcome",
    "QueueConfig",
    "RoutingConfig",
    "RoutingStep",
    "WrapUpPolicy",
]
