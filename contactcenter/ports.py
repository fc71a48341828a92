"""The ports the ACD and the services talk through: towards the agents' consoles and
towards the telephony gateway. The composition root (app.py) gives each service the
implementation (hub.Consoles, gateway.GatewayLink); the services know only these."""

from __future__ import annotations

from typing import Any, Protocol

from contactcenter.protocol import AgentMessageType, GatewayCommandType


class ConsoleNotifier(Protocol):
    def deliver(self, agent_id: str, kind: AgentMessageType, data: dict[str, Any]) -> None:
        """Queue one message (a protocol frame type and its data) to an agent's console."""
        ...


class GatewayCommands(Protocol):
    def send(self, kind: GatewayCommandType, data: dict[str, Any]) -> None:
        """Queue one command to the telephony gateway (docs/gateway.md)."""
        ...


class GatewayPresence(Protocol):
    def available(self) -> bool:
        """A gateway is connected now: a call placed now is dialled now (not kept for a
        gateway that may connect later)."""
        ...


class GatewayDialer(GatewayCommands, GatewayPresence, Protocol):
    """Commands, and whether a gateway is there to dial them now (the campaign dialer)."""
