"""Limits for anonymous surfaces: token buckets and open-connection counts keyed by the
client's address, and the client's address itself (behind trusted proxies).

Sans-I/O: nothing here reads a clock or a socket. Time is an argument (seconds, any
origin: the server passes its scheduler's ``now()``, so a test drives it with a
``ManualScheduler``), and callers ask before they act: ``take(key, now)`` says whether one
more start (or message) is allowed, ``ConnectionCounts.acquire`` whether one more socket
may open. A refusal names the limit, and ``Refusals`` counts them for /metrics.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class TokenBucket:
    """``burst`` tokens at most, refilled at ``rate_per_s``; each allowed action takes one.

    Starts full. ``take(now)`` at times that go backwards counts as no time passed."""

    __slots__ = ("at", "burst", "rate_per_s", "tokens")

    def __init__(self, rate_per_s: float, burst: float, now: float) -> None:
        if rate_per_s < 0 or burst < 1:
            raise ValueError("a bucket needs rate_per_s >= 0 and burst >= 1")
        self.rate_per_s = rate_per_s
        self.burst = float(burst)
        self.tokens = float(burst)
        self.at = now

    def refill(self, now: float) -> None:
        if now > self.at:
            self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate_per_s)
            self.at = now

    def take(self, now: float) -> bool:
        self.refill(now)
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True

    def full_at(self, now: float) -> bool:
        """True when the bucket would be full at ``now`` (it remembers nothing)."""
        self.refill(now)
        return self.tokens >= self.burst


class KeyedBuckets:
    """One ``TokenBucket`` per key (a client address), made on first use.

    At most ``max_keys`` buckets are kept: when a new key would pass that, buckets that
    have refilled (they remember nothing) are dropped; if none has, the new key is
    refused (an attacker with that many addresses is held by the global limit anyway)."""

    def __init__(self, rate_per_s: float, burst: float, max_keys: int = 100_000) -> None:
        if max_keys < 1:
            raise ValueError("max_keys must be at least 1")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self.max_keys = max_keys
        self.buckets: dict[str, TokenBucket] = {}

    def take(self, key: str, now: float) -> bool:
        bucket = self.buckets.get(key)
        if bucket is None:
            if len(self.buckets) >= self.max_keys:
                self.prune(now)
                if len(self.buckets) >= self.max_keys:
                    return False
            bucket = self.buckets[key] = TokenBucket(self.rate_per_s, self.burst, now)
        return bucket.take(now)

    def prune(self, now: float) -> int:
        """Drop the buckets that are full again; how many were dropped."""
        idle = [k for k, b in self.buckets.items() if b.full_at(now)]
        for key in idle:
            del self.buckets[key]
        return len(idle)

    def __len__(self) -> int:
        return len(self.buckets)


class ConnectionCounts:
    """Open connections per key and in total, each capped."""

    def __init__(self, per_key: int, total: int) -> None:
        self.per_key = per_key
        self.total_cap = total
        self.by_key: dict[str, int] = {}
        self.total = 0

    def acquire(self, key: str) -> str | None:
        """Count one more connection of ``key``; or the name of the cap it would pass
        (``"per_key"`` or ``"total"``), counting nothing."""
        if self.total >= self.total_cap:
            return "total"
        if self.by_key.get(key, 0) >= self.per_key:
            return "per_key"
        self.by_key[key] = self.by_key.get(key, 0) + 1
        self.total += 1
        return None

    def release(self, key: str) -> None:
        count = self.by_key.get(key, 0)
        if count <= 0:
            return
        if count == 1:
            del self.by_key[key]
        else:
            self.by_key[key] = count - 1
        self.total -= 1

    def of(self, key: str) -> int:
        return self.by_key.get(key, 0)


@dataclass
class Refusals:
    """How many times each named limit refused something (for /metrics)."""

    counts: dict[str, int] = field(default_factory=dict)

    def declare(self, names: Iterable[str]) -> None:
        for name in names:
            self.counts.setdefault(name, 0)

    def add(self, name: str) -> None:
        self.counts[name] = self.counts.get(name, 0) + 1


# --- the client's address ----------------------------------------------------------------


def parse_networks(cidrs: Sequence[str]) -> tuple[IpNetwork, ...]:
    """``["10.0.0.0/8", "::1"]`` as networks (a bare address is a /32 or /128)."""
    return tuple(ipaddress.ip_network(c.strip(), strict=False) for c in cidrs)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [v6]:port
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # v4:port
        text = text.split(":", 1)[0]
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def _trusted(
    addr: ipaddress.IPv4Address | ipaddress.IPv6Address, nets: Sequence[IpNetwork]
) -> bool:
    return any(addr.version == n.version and addr in n for n in nets)


def client_address(
    peer: str | None, forwarded_for: Sequence[str], trusted: Sequence[IpNetwork]
) -> str:
    """The address a limit is keyed by.

    ``peer``: the socket's peer address; ``forwarded_for``: the X-Forwarded-For header
    values in order (each may list several addresses). When the peer is a trusted proxy,
    the answer is the right-most X-Forwarded-For entry that is not a trusted proxy (the
    entries left of it were written by the client and prove nothing); when every entry
    is trusted, the left-most. Otherwise the header is ignored and the peer is the client.
    An entry that is not an address ends the walk: it is used as it stands."""
    peer_ip = _ip(peer or "")
    if peer_ip is None:
        return peer or "unknown"
    if not trusted or not _trusted(peer_ip, trusted):
        return str(peer_ip)
    entries = [e.strip() for value in forwarded_for for e in value.split(",") if e.strip()]
    found = str(peer_ip)
    for entry in reversed(entries):
        ip = _ip(entry)
        if ip is None:
            return entry[:64]
        found = str(ip)
        if not _trusted(ip, trusted):
            return found
    return found


def address_key(address: str, ipv6_prefix: int = 64) -> str:
    """The key of an address for per-client limits: an IPv6 address counts by its
    ``ipv6_prefix`` network (one host usually holds a whole /64), IPv4 as itself."""
    ip = _ip(address)
    if isinstance(ip, ipaddress.IPv6Address) and ipv6_prefix < 128:
        return str(ipaddress.ip_network(f"{ip}/{ipv6_prefix}", strict=False))
    return address if ip is None else str(ip)


@dataclass(frozen=True)
class LimitStats:
    """What /metrics shows of a limited surface: its open connections, its configured
    limits (name -> value) and its refusals so far (limit name -> count)."""

    surface: str
    open_connections: int
    limits: dict[str, float]
    refusals: dict[str, int]


__all__ = [
    "ConnectionCounts",
    "KeyedBuckets",
    "LimitStats",
    "Refusals",
    "TokenBucket",
    "address_key",
    "client_address",
    "parse_networks",
]
