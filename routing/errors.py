"""Typed errors for illegal inputs. Raising one never changes engine state."""

from __future__ import annotations


class RoutingError(Exception):
    """Base class: the input was refused and the engine is unchanged."""

    code = "routing_error"


class UnknownContact(RoutingError):
    code = "unknown_contact"


class UnknownAgent(RoutingError):
    code = "unknown_agent"


class UnknownQueue(RoutingError):
    code = "unknown_queue"


class DuplicateContact(RoutingError):
    code = "duplicate_contact"


class IllegalTransition(RoutingError):
    """The contact or agent is not in a state that accepts this input."""

    code = "illegal_transition"


class NotYourContact(RoutingError):
    code = "not_your_contact"


class OfferExpired(RoutingError):
    code = "offer_expired"


class InvalidStatus(RoutingError):
    code = "invalid_status"


class DispositionRequired(RoutingError):
    code = "disposition_required"


class TargetUnavailable(RoutingError):
    code = "target_unavailable"


class InvalidDisposition(RoutingError):
    code = "invalid_disposition"
