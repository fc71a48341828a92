"""limits.py: token buckets, connection counts and the client's address, with time passed
in (expected values worked by hand in the comments)."""

from __future__ import annotations

import pytest

from contactcenter.limits import (
    ConnectionCounts,
    KeyedBuckets,
    Refusals,
    TokenBucket,
    address_key,
    client_address,
    parse_networks,
)


def test_bucket_burst_then_rate() -> None:
    # burst 3, 0.5 tokens a second, starting full at t=100
    b = TokenBucket(0.5, 3, now=100.0)
    assert [b.take(100.0) for _ in range(4)] == [True, True, True, False]
    # 1.0 s later: 0.5 tokens, still short of one
    assert b.take(101.0) is False
    assert b.tokens == pytest.approx(0.5)
    # 2.0 s after the burst: 1.0 token -> one take, then empty
    assert b.take(102.0) is True
    assert b.take(102.0) is False
    # a long pause refills to the burst and no further: 3 takes, the 4th refused
    assert [b.take(1000.0) for _ in range(4)] == [True, True, True, False]


def test_bucket_time_going_backwards_adds_nothing() -> None:
    b = TokenBucket(1.0, 1, now=50.0)
    assert b.take(50.0) is True
    assert b.take(40.0) is False  # earlier than the last take: no refill
    assert b.at == 50.0
    assert b.take(51.0) is True


def test_bucket_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        TokenBucket(1.0, 0, now=0.0)
    with pytest.raises(ValueError):
        TokenBucket(-1.0, 2, now=0.0)


def test_keyed_buckets_are_per_key_and_pruned_when_full_again() -> None:
    # 6 a minute = 0.1 a second, burst 2
    kb = KeyedBuckets(0.1, 2, max_keys=2)
    assert [kb.take("a", 0.0) for _ in range(3)] == [True, True, False]
    assert kb.take("b", 0.0) is True  # another address has its own bucket
    # a third address: both buckets still short of full, so it is refused
    assert kb.take("c", 0.0) is False
    assert len(kb) == 2
    # at t=10: a has 1 token (of 2), b has 1 + 1 = 2 (full) -> b is dropped, c gets in
    assert kb.take("c", 10.0) is True
    assert set(kb.buckets) == {"a", "c"}
    assert kb.take("a", 10.0) is True
    assert kb.take("a", 10.0) is False


def test_connection_counts_cap_per_key_and_total() -> None:
    counts = ConnectionCounts(per_key=2, total=3)
    assert [counts.acquire("a") for _ in range(3)] == [None, None, "per_key"]
    assert counts.acquire("b") is None
    assert counts.acquire("c") == "total"  # 3 open: a, a, b
    assert (counts.of("a"), counts.total) == (2, 3)
    counts.release("a")
    assert counts.acquire("c") is None
    counts.release("zzz")  # never acquired: nothing changes
    assert counts.total == 3
    for key in ("a", "b", "c"):
        counts.release(key)
    assert counts.total == 0 and counts.by_key == {}


def test_refusals_count_by_name() -> None:
    r = Refusals()
    r.declare(["origin", "starts_per_ip"])
    r.add("starts_per_ip")
    r.add("starts_per_ip")
    r.add("other")
    assert r.counts == {"origin": 0, "starts_per_ip": 2, "other": 1}


PROXIES = parse_networks(["10.0.0.0/8", "192.168.1.7", "fd00::/8"])


@pytest.mark.parametrize(
    ("peer", "xff", "expected"),
    [
        # no trusted proxy in between: the header is the client's word, ignored
        ("203.0.113.5", ["1.2.3.4"], "203.0.113.5"),
        # through one trusted proxy: the entry it appended
        ("10.1.2.3", ["198.51.100.9"], "198.51.100.9"),
        # the client forged entries on the left; the right-most untrusted one counts
        ("10.1.2.3", ["6.6.6.6, 198.51.100.9"], "198.51.100.9"),
        # two proxies (the second one listed too), headers split over two lines
        ("10.1.2.3", ["6.6.6.6, 198.51.100.9", "192.168.1.7"], "198.51.100.9"),
        # every entry trusted: the left-most
        ("10.1.2.3", ["10.9.9.9, 192.168.1.7"], "10.9.9.9"),
        # a trusted peer with no header: the peer itself
        ("10.1.2.3", [], "10.1.2.3"),
        # entries with ports, IPv6 in brackets, an IPv4-mapped peer
        ("10.1.2.3", ["198.51.100.9:4711"], "198.51.100.9"),
        ("fd00::1", ["[2001:db8::5]:443"], "2001:db8::5"),
        ("::ffff:10.0.0.1", ["198.51.100.9"], "198.51.100.9"),
        # garbage where an address should be: used as it stands, not skipped
        ("10.1.2.3", ["6.6.6.6, not-an-ip"], "not-an-ip"),
    ],
)
def test_client_address(peer: str, xff: list[str], expected: str) -> None:
    assert client_address(peer, xff, PROXIES) == expected


def test_client_address_without_proxies_or_peer() -> None:
    assert client_address("10.1.2.3", ["198.51.100.9"], ()) == "10.1.2.3"
    assert client_address(None, ["198.51.100.9"], PROXIES) == "unknown"


def test_address_key_groups_ipv6_by_prefix() -> None:
    assert address_key("198.51.100.9") == "198.51.100.9"
    assert address_key("2001:db8:1:2:aaaa::1") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert address_key("2001:db8:1:2:bbbb::9", ipv6_prefix=128) == "2001:db8:1:2:bbbb::9"
    assert address_key("not-an-ip") == "not-an-ip"
