"""The simulated carrier's campaign outcome model (issue 7): live after 4-16 s plus the AMD
latency, busy, machine, no answer at the originate's ring timeout, by the configured
shares. The end-to-end runner tests drive it over the websocket; this checks the draws."""

from __future__ import annotations

from collections import Counter

import pytest

from contactcenter.carrier import Carrier, CarrierConfig, OutboundRecord


def draw(carrier: Carrier, ring: float = 26.0) -> tuple[str, float, str | None]:
    record = OutboundRecord(
        call_id="cmp-x-1-1",
        number="+12125550101",
        agent_id=None,
        requested_at=0.0,
        campaign_id="x",
        ring_timeout=ring,
    )
    result, after = carrier._callee(record.number, record)
    return result, after, record.amd


def test_shares_and_times_follow_the_configuration() -> None:
    carrier = Carrier(
        CarrierConfig(
            url="http://127.0.0.1:1",
            queue="sales",
            seed=3,
            campaign_live=0.25,
            campaign_busy=0.15,
            campaign_machine=0.30,
            amd_human_latency=1.0,
            amd_machine_latency=2.5,
        )
    )
    n = 8000
    draws = [draw(carrier, ring=26.0) for _ in range(n)]
    kinds = Counter(
        "machine" if amd == "machine" else "live" if amd == "human" else result
        for result, _, amd in draws
    )
    for kind, share in (("live", 0.25), ("busy", 0.15), ("machine", 0.30), ("no_answer", 0.30)):
        assert abs(kinds[kind] / n - share) < 0.02, (kind, kinds)
    for result, after, amd in draws:
        if amd == "human":
            assert result == "answered" and 5.0 <= after <= 17.0
        elif amd == "machine":
            assert result == "answered" and 6.5 <= after <= 18.5
        elif result == "busy":
            assert 2.0 <= after <= 5.0
        else:
            assert (result, after) == ("no_answer", 26.0)  # the originate's ring timeout


def test_shares_must_add_up_to_at_most_one() -> None:
    with pytest.raises(ValueError, match="campaign live, busy and machine"):
        Carrier(
            CarrierConfig(
                url="http://127.0.0.1:1",
                queue="sales",
                campaign_live=0.6,
                campaign_busy=0.3,
                campaign_machine=0.3,
            )
        )
