"""Prometheus metrics of one server process, served at ``GET /metrics``.

Each application has a registry of its own (not prometheus-client's global one), so tests
that start many apps in one process never collide. Counters are driven by *committed*
events (an event log listener), so they always agree with the call log: an input whose
events the log refused counts nowhere. Gauges of live state (contacts waiting, websocket
clients) are read at scrape time from the engine and the hubs, so they cannot drift.
Counters start at zero with the process, as Prometheus counters do (``rate()`` copes).
See docs/observability.md for the names and their meaning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import Collector

from contactcenter.limits import LimitStats
from contactcenter.settings import Settings
from contactcenter.store.records import StoredEvent
from contactcenter.webcommon import authenticate

if TYPE_CHECKING:
    from contactcenter.acd import Acd
    from contactcenter.gateway import GatewayLink
    from contactcenter.hub import Consoles
    from contactcenter.store import EventLog

PREFIX = "contactcenter"
# Engine calls are microseconds to a few milliseconds; commits are milliseconds.
DECISION_BUCKETS = (1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 5e-2)
COMMIT_BUCKETS = (5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1.0, 2.5)
BATCH_BUCKETS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)
METRICS_ROLES = frozenset({"supervisor", "admin"})

# committed event type -> (counter attribute, extra label value or None)
_COUNTED: dict[str, tuple[str, str | None]] = {
    "contact.arrived": ("arrivals", None),
    "contact.offered": ("offers", None),
    "contact.answered": ("answers", None),
    "contact.abandoned": ("abandons", None),
    "contact.flowed_out": ("flow_outs", None),
    "offer.timed_out": ("offers_declined", "timed_out"),
    "offer.rejected": ("offers_declined", "rejected"),
    "offer.rescinded": ("offers_declined", "rescinded"),
}
DECLINE_REASONS = ("timed_out", "rejected", "rescinded")


class _LiveGauges(Collector):
    """Gauges computed at scrape time from callables the app binds once it is running."""

    def __init__(self) -> None:
        self.waiting: Callable[[], dict[str, int]] = dict
        self.clients: Callable[[], dict[str, int]] = dict
        self.serving: Callable[[], bool] = lambda: False
        self.limited: list[Callable[[], LimitStats]] = []

    def collect(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        waiting = GaugeMetricFamily(
            f"{PREFIX}_contacts_waiting",
            "Contacts waiting in a queue for an agent, now",
            labels=["queue"],
        )
        for queue, count in sorted(self.waiting().items()):
            waiting.add_metric([queue], count)
        yield waiting
        clients = GaugeMetricFamily(
            f"{PREFIX}_websocket_clients",
            "Open websocket connections by kind (agent, gateway)",
            labels=["kind"],
        )
        for kind, count in sorted(self.clients().items()):
            clients.add_metric([kind], count)
        yield clients
        yield GaugeMetricFamily(
            f"{PREFIX}_serving",
            "1 while the node serves; 0 while it rebuilds from the event log (fail-stop)",
            value=1 if self.serving() else 0,
        )
        yield from self._limits()

    def _limits(self) -> Iterator[GaugeMetricFamily | CounterMetricFamily]:
        """Anonymous surfaces' limits: open connections, configured values, refusals."""
        open_now = GaugeMetricFamily(
            f"{PREFIX}_limited_connections_open",
            "Open connections of a limited anonymous surface (chat: /ws/chat sockets)",
            labels=["surface"],
        )
        configured = GaugeMetricFamily(
            f"{PREFIX}_limit",
            "A configured limit of an anonymous surface (config/chat.yaml limits)",
            labels=["surface", "limit"],
        )
        refusals = CounterMetricFamily(
            f"{PREFIX}_limit_refusals",
            "Requests, frames or starts refused by a limit of an anonymous surface",
            labels=["surface", "limit"],
        )
        for source in self.limited:
            stats = source()
            open_now.add_metric([stats.surface], stats.open_connections)
            for name, value in sorted(stats.limits.items()):
                configured.add_metric([stats.surface, name], value)
            for name, count in sorted(stats.refusals.items()):
                refusals.add_metric([stats.surface, name], count)
        yield open_now
        yield configured
        yield refusals


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.arrivals = Counter(
            f"{PREFIX}_contacts_arrived", "Contacts that arrived", ["queue"], registry=r
        )
        self.offers = Counter(f"{PREFIX}_offers", "Offers made to agents", ["queue"], registry=r)
        self.offers_declined = Counter(
            f"{PREFIX}_offers_declined",
            "Offers that ended without an answer (timed_out, rejected, rescinded)",
            ["queue", "reason"],
            registry=r,
        )
        self.answers = Counter(
            f"{PREFIX}_answers", "Contacts answered by an agent", ["queue"], registry=r
        )
        self.abandons = Counter(
            f"{PREFIX}_abandons",
            "Contacts abandoned by the caller before an answer",
            ["queue"],
            registry=r,
        )
        self.flow_outs = Counter(
            f"{PREFIX}_flow_outs",
            "Contacts that left a queue unanswered by a flow-out rule",
            ["queue"],
            registry=r,
        )
        self.events = Counter(
            f"{PREFIX}_events_committed", "Events committed to the event log", registry=r
        )
        self.decision_seconds = Histogram(
            f"{PREFIX}_routing_decision_seconds",
            "Duration of one routing engine call (the synchronous decision, no I/O)",
            buckets=DECISION_BUCKETS,
            registry=r,
        )
        self.commit_seconds = Histogram(
            f"{PREFIX}_event_log_commit_seconds",
            "Duration of one event log group commit (one transaction)",
            buckets=COMMIT_BUCKETS,
            registry=r,
        )
        self.commit_batch = Histogram(
            f"{PREFIX}_event_log_commit_batch_size",
            "Events written by one group commit",
            buckets=BATCH_BUCKETS,
            registry=r,
        )
        self.commit_failures = Counter(
            f"{PREFIX}_event_log_commit_failures",
            "Group commits that failed and were rolled back",
            registry=r,
        )
        self.fail_stops = Counter(
            f"{PREFIX}_fail_stops",
            "Times the node stopped serving because the event log refused a commit",
            registry=r,
        )
        self.live = _LiveGauges()
        r.register(self.live)

    def declare_queues(self, queue_ids: Iterable[str]) -> None:
        """Create every queue's series at zero, so a queue without traffic still shows."""
        for queue in queue_ids:
            for counter in (
                self.arrivals,
                self.offers,
                self.answers,
                self.abandons,
                self.flow_outs,
            ):
                counter.labels(queue)
            for reason in DECLINE_REASONS:
                self.offers_declined.labels(queue, reason)

    # --- hooks the event log and the ACD call --------------------------------------------

    def on_commit(self, events: Sequence[StoredEvent]) -> None:
        """Event log listener: count what was committed, whoever produced it."""
        self.events.inc(len(events))
        for event in events:
            counted = _COUNTED.get(event.type)
            if counted is None:
                continue
            name, reason = counted
            labels = [event.queue_id or ""] + ([reason] if reason else [])
            counter: Counter = getattr(self, name)
            counter.labels(*labels).inc()

    def on_batch(self, seconds: float, size: int, ok: bool) -> None:
        """Event log commit observer: one group commit took ``seconds`` for ``size``."""
        if not ok:
            self.commit_failures.inc()
            return
        self.commit_seconds.observe(seconds)
        self.commit_batch.observe(size)

    def on_decision(self, seconds: float) -> None:
        self.decision_seconds.observe(seconds)

    def exposition(self, accept: str = "") -> tuple[bytes, str]:
        """The body and its content type: OpenMetrics when ``accept`` asks for it (as
        Prometheus does), else the classic text format."""
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type

    def observe_log(self, event_log: EventLog, serving: Callable[[], bool]) -> None:
        """Count the event log's commits, once per process (the composition root)."""
        event_log.add_listener(self.on_commit)
        event_log.add_batch_observer(self.on_batch)
        event_log.add_failure_listener(lambda error: self.fail_stops.inc())
        self.live.serving = serving

    def bind(self, acd: Acd, consoles: Consoles, gateway: GatewayLink) -> None:
        """Read the live gauges from one generation of services (the composition root;
        the ACD's decision times come through its ``observe_decision`` parameter)."""
        engine = acd.engine
        self.live.waiting = lambda: {q: len(engine.waiting(q)) for q in engine.queue_ids()}
        self.live.clients = lambda: {"agent": consoles.connected(), "gateway": gateway.connected()}

    def bind_limits(self, stats: Callable[[], LimitStats]) -> None:
        """Show a limited surface's connections, limits and refusals (read at scrape)."""
        self.live.limited.append(stats)

    def routes(self, settings: Settings) -> list[web.RouteDef]:
        """``GET /metrics``: open to scrapers when ``metrics_public``, else supervisors."""

        async def metrics_handler(request: web.Request) -> web.Response:
            if not settings.metrics_public:
                authenticate(request, METRICS_ROLES)
            body, content_type = self.exposition(request.headers.get("Accept", ""))
            return web.Response(body=body, headers={"Content-Type": content_type})

        return [web.get("/metrics", metrics_handler)]
