"""Outbound compliance: calling windows in local time, DNC, retries, lockouts, the 2-second
rule and the abandon ledger (hand-computed examples for US and UK modes)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from routing.compliance import (
    DAY_S,
    HOUR_S,
    ZONES,
    AbandonLedger,
    Allowed,
    CallingWindow,
    Compliance,
    ComplianceConfig,
    ContactRecord,
    DialOutcome,
    Disposition,
    PlayIdentification,
    RefusalReason,
    Refused,
    RegulatoryMode,
    RetryRules,
    civil_from_days,
    days_from_civil,
    normalize_number,
    zone_for,
)

NY = "+12125550100"  # America/New_York
LA = "+14155550100"  # America/Los_Angeles
PHX = "+16025550100"  # America/Phoenix (no DST)
LON = "+442071234567"  # Europe/London
UNKNOWN_AREA = "+19995550100"
PARIS_NO_TZ = "+33142685300"


def ts(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> float:
    return dt.datetime(y, mo, d, h, mi, s, tzinfo=dt.UTC).timestamp()


def local(number: str, now: float, tz: str | None = None) -> dt.datetime:
    zone = zone_for(number, tz)
    assert zone is not None
    return dt.datetime.fromtimestamp(now, ZoneInfo(zone.name))


# --------------------------------------------------------------------------- calendar, zones


@given(st.integers(-200_000, 200_000))
def test_civil_days_round_trip_matches_datetime(days: int) -> None:
    d = dt.date(1970, 1, 1) + dt.timedelta(days=days)
    assert civil_from_days(days) == (d.year, d.month, d.day)
    assert days_from_civil(d.year, d.month, d.day) == days


@settings(max_examples=400)
@given(
    st.sampled_from(sorted(ZONES)),
    st.floats(ts(2008, 1, 1), ts(2037, 12, 31), allow_nan=False),
)
def test_zone_offsets_match_zoneinfo(name: str, now: float) -> None:
    expected = dt.datetime.fromtimestamp(now, ZoneInfo(name)).utcoffset()
    assert expected is not None
    assert ZONES[name].utc_offset(now) == expected.total_seconds()


@pytest.mark.parametrize(
    ("name", "transition"),
    [
        ("America/New_York", ts(2026, 3, 8, 7)),  # 02:00 EST -> 03:00 EDT
        ("America/New_York", ts(2026, 11, 1, 6)),  # 02:00 EDT -> 01:00 EST
        ("America/Los_Angeles", ts(2025, 3, 9, 10)),
        ("Europe/London", ts(2026, 3, 29, 1)),
        ("Europe/London", ts(2026, 10, 25, 1)),
    ],
)
def test_offsets_switch_exactly_at_the_transition(name: str, transition: float) -> None:
    zone, zi = ZONES[name], ZoneInfo(name)
    for t in (transition - 1, transition, transition + 1):
        off = dt.datetime.fromtimestamp(t, zi).utcoffset()
        assert off is not None
        assert zone.utc_offset(t) == off.total_seconds()
    assert zone.utc_offset(transition - 1) != zone.utc_offset(transition)


def test_number_to_zone_table() -> None:
    assert zone_for(NY) is ZONES["America/New_York"]
    assert zone_for(LA) is ZONES["America/Los_Angeles"]
    assert zone_for(PHX) is ZONES["America/Phoenix"]
    assert zone_for(LON) is ZONES["Europe/London"]
    assert zone_for(UNKNOWN_AREA) is None
    assert zone_for(PARIS_NO_TZ) is None
    # The record's own timezone wins over the area code.
    assert zone_for(NY, "America/Los_Angeles") is ZONES["America/Los_Angeles"]
    assert zone_for(NY, "Mars/Olympus_Mons") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("+1 (212) 555-0100", NY),
        ("212-555-0100", NY),
        ("12125550100", NY),
        ("+44 20 7123 4567", LON),
        ("555-0100", None),
        ("+0123456789", None),
        ("", None),
        ("+1234", None),
    ],
)
def test_normalize_number(raw: str, expected: str | None) -> None:
    assert normalize_number(raw) == expected


# --------------------------------------------------------------------------- windows


def test_window_is_half_open_in_local_time() -> None:
    c = Compliance()
    # 2026-06-02 is EDT (UTC-4): 08:00 local = 12:00 UTC, 21:00 local = 01:00 UTC next day.
    assert isinstance(c.check_dial(ContactRecord(NY), ts(2026, 6, 2, 12)), Allowed)
    refused = c.check_dial(ContactRecord(NY), ts(2026, 6, 2, 11, 59, 59))
    assert isinstance(refused, Refused)
    assert refused.reason is RefusalReason.OUTSIDE_WINDOW
    assert refused.retry_at == ts(2026, 6, 2, 12)
    assert isinstance(c.check_dial(ContactRecord(NY), ts(2026, 6, 3, 0, 59, 59)), Allowed)
    late = c.check_dial(ContactRecord(NY), ts(2026, 6, 3, 1))
    assert isinstance(late, Refused) and late.reason is RefusalReason.OUTSIDE_WINDOW
    assert late.retry_at == ts(2026, 6, 3, 12)
    # Same instant, a Los Angeles number: 05:00 local, refused; New York 08:00, allowed.
    assert isinstance(c.check_dial(ContactRecord(LA), ts(2026, 6, 2, 12)), Refused)


@pytest.mark.parametrize(
    ("number", "opens_utc"),
    [
        # The days the clocks change: 08:00 local is a different UTC hour than the day before.
        (NY, ts(2026, 3, 8, 12)),  # spring forward: 08:00 EDT
        (NY, ts(2026, 3, 7, 13)),  # the day before: 08:00 EST
        (NY, ts(2026, 11, 1, 13)),  # fall back: 08:00 EST
        (NY, ts(2026, 10, 31, 12)),  # the day before: 08:00 EDT
        (LON, ts(2026, 3, 29, 7)),  # 08:00 BST
        (LON, ts(2026, 10, 25, 8)),  # 08:00 GMT
        (PHX, ts(2026, 3, 8, 15)),  # Arizona keeps MST all year
        (PHX, ts(2026, 7, 8, 15)),
    ],
)
def test_dst_edge_windows(number: str, opens_utc: float) -> None:
    c = Compliance()
    before = c.check_dial(ContactRecord(number), opens_utc - 1)
    assert isinstance(before, Refused) and before.reason is RefusalReason.OUTSIDE_WINDOW
    assert isinstance(c.check_dial(ContactRecord(number), opens_utc), Allowed)
    assert local(number, opens_utc).hour == 8


def test_campaign_window_may_only_narrow_the_legal_one() -> None:
    c = Compliance(ComplianceConfig(window=CallingWindow(start="09:30", end="20:00")))
    assert isinstance(c.check_dial(ContactRecord(NY), ts(2026, 6, 2, 13, 29)), Refused)
    assert isinstance(c.check_dial(ContactRecord(NY), ts(2026, 6, 2, 13, 30)), Allowed)
    assert isinstance(c.check_dial(ContactRecord(NY), ts(2026, 6, 3, 0)), Refused)
    with pytest.raises(ValidationError, match="wider than the legal"):
        CallingWindow(start="07:00", end="20:00")
    with pytest.raises(ValidationError, match="wider than the legal"):
        CallingWindow(start="09:00", end="21:30")
    with pytest.raises(ValidationError, match="empty"):
        CallingWindow(start="12:00", end="12:00")
    with pytest.raises(ValidationError, match="HH:MM"):
        CallingWindow(start="9am", end="12:00")


def test_unknown_zone_and_invalid_number_are_refused_with_a_reason() -> None:
    c = Compliance()
    now = ts(2026, 6, 2, 15)
    r = c.check_dial(ContactRecord(UNKNOWN_AREA), now)
    assert isinstance(r, Refused) and r.reason is RefusalReason.UNKNOWN_TIMEZONE
    r = c.check_dial(ContactRecord(PARIS_NO_TZ), now)
    assert isinstance(r, Refused) and r.reason is RefusalReason.UNKNOWN_TIMEZONE
    assert isinstance(c.check_dial(ContactRecord(PARIS_NO_TZ, "Europe/Paris"), now), Allowed)
    r = c.check_dial(ContactRecord(NY, "Atlantis/Capital"), now)
    assert isinstance(r, Refused) and "Atlantis" in r.detail
    r = c.check_dial(ContactRecord("12345"), now)
    assert isinstance(r, Refused) and r.reason is RefusalReason.INVALID_NUMBER


def test_ring_time_floor() -> None:
    c = Compliance()
    assert c.ring_timeout_s(10) == 15
    assert c.ring_timeout_s(26) == 26
    allowed = c.check_dial(ContactRecord(NY), ts(2026, 6, 2, 15), ring_s=5)
    assert isinstance(allowed, Allowed) and allowed.ring_timeout_s == 15
    with pytest.raises(ValidationError):
        ComplianceConfig(min_ring_s=10)
    with pytest.raises(ValidationError):
        ComplianceConfig(connect_limit_s=3)
    with pytest.raises(ValidationError):
        ComplianceConfig(abandon_limit=0.05)


# --------------------------------------------------------------------------- DNC, retries


NOON_NY = ts(2026, 6, 2, 16)


def test_dnc_list_and_dnc_disposition() -> None:
    shared = {"(415) 555-0100"}
    c = Compliance(dnc=shared)
    assert shared == {LA}  # normalised in place: the set may be shared between campaigns
    r = c.check_dial(ContactRecord("+1 415 555 0100"), NOON_NY)
    assert isinstance(r, Refused) and r.reason is RefusalReason.DNC
    c.dial_placed(NY, NOON_NY)
    c.dial_outcome(NY, DialOutcome.LIVE, NOON_NY + 10)
    c.disposition(NY, Disposition.DNC, NOON_NY + 100)
    assert NY in c.dnc
    r = c.check_dial(ContactRecord(NY), NOON_NY + 10 * DAY_S)
    assert isinstance(r, Refused) and r.reason is RefusalReason.DNC


@pytest.mark.parametrize(
    ("outcome", "delay"),
    [
        (DialOutcome.BUSY, 600),
        (DialOutcome.NO_ANSWER, 7200),
        (DialOutcome.MACHINE, 14400),
        (DialOutcome.FAILED, 3600),
    ],
)
def test_retry_delay_per_outcome(outcome: DialOutcome, delay: float) -> None:
    c = Compliance()
    c.dial_placed(NY, NOON_NY)
    in_flight = c.check_dial(ContactRecord(NY), NOON_NY + 1)
    assert isinstance(in_flight, Refused), "a number with a line up is not dialed twice"
    c.dial_outcome(NY, outcome, NOON_NY + 20)
    early = c.check_dial(ContactRecord(NY), NOON_NY + 20 + delay - 1)
    assert isinstance(early, Refused) and early.reason is RefusalReason.RETRY_NOT_DUE
    assert early.retry_at == NOON_NY + 20 + delay
    assert isinstance(c.check_dial(ContactRecord(NY), NOON_NY + 20 + delay), Allowed)


def test_attempt_limit_and_final_dispositions() -> None:
    c = Compliance(ComplianceConfig(retry=RetryRules(max_attempts=2, busy_s=0)))
    t = NOON_NY
    for _ in range(2):
        assert isinstance(c.check_dial(ContactRecord(NY), t), Allowed)
        c.dial_placed(NY, t)
        c.dial_outcome(NY, DialOutcome.BUSY, t + 3)
        t += 10
    r = c.check_dial(ContactRecord(NY), t)
    assert isinstance(r, Refused) and r.reason is RefusalReason.ATTEMPT_LIMIT
    # A live call waits for its disposition; DONE is final, CALLBACK names the time.
    c.dial_placed(LA, NOON_NY + 3 * HOUR_S)
    c.dial_outcome(LA, DialOutcome.LIVE, NOON_NY + 3 * HOUR_S + 9)
    assert isinstance(c.check_dial(ContactRecord(LA), NOON_NY + 4 * HOUR_S), Refused)
    c.disposition(LA, Disposition.CALLBACK, NOON_NY + 4 * HOUR_S, NOON_NY + 5 * HOUR_S)
    assert isinstance(c.check_dial(ContactRecord(LA), NOON_NY + 5 * HOUR_S - 1), Refused)
    assert isinstance(c.check_dial(ContactRecord(LA), NOON_NY + 5 * HOUR_S), Allowed)
    c.disposition(LA, Disposition.DONE, NOON_NY + 5 * HOUR_S)
    r = c.check_dial(ContactRecord(LA), NOON_NY + 30 * DAY_S)
    assert isinstance(r, Refused) and r.reason is RefusalReason.FINAL


def test_uk_lockouts_after_abandon_and_machine() -> None:
    uk = ComplianceConfig(mode=RegulatoryMode.UK, retry=RetryRules(machine_s=3600))
    c = Compliance(uk)
    t = ts(2026, 6, 2, 10)  # 11:00 BST
    c.dial_placed(LON, t)
    c.dial_outcome(LON, DialOutcome.MACHINE, t + 12)
    r = c.check_dial(ContactRecord(LON), t + 12 + 24 * HOUR_S - 1)
    assert isinstance(r, Refused) and r.reason is RefusalReason.LOCKED_OUT
    t2 = t + 12 + 24 * HOUR_S
    assert isinstance(c.check_dial(ContactRecord(LON), t2), Allowed)
    c.dial_placed(LON, t2)
    c.dial_outcome(LON, DialOutcome.LIVE, t2 + 8)
    c.live_answered("call-1", LON, t2 + 7)
    c.connect_deadline("call-1", t2 + 9)
    r = c.check_dial(ContactRecord(LON), t2 + 9 + 72 * HOUR_S - 1)
    assert isinstance(r, Refused) and r.reason is RefusalReason.LOCKED_OUT
    assert isinstance(c.check_dial(ContactRecord(LON), t2 + 9 + 72 * HOUR_S), Allowed)
    # US mode: no lockout, the machine retry rule alone applies.
    us = Compliance(ComplianceConfig(retry=RetryRules(machine_s=3600)))
    us.dial_placed(NY, NOON_NY)
    us.dial_outcome(NY, DialOutcome.MACHINE, NOON_NY + 12)
    assert isinstance(us.check_dial(ContactRecord(NY), NOON_NY + 12 + 3600), Allowed)


# --------------------------------------------------------------------------- 2-second rule


def test_two_second_rule_counts_amd_latency_and_returns_the_message() -> None:
    c = Compliance(ComplianceConfig(identification_message="acme-id"))
    answered = NOON_NY + 10.0
    verdict = answered + 1.5  # AMD took 1.5 s: only 0.5 s left to find an agent
    c.dial_placed(NY, NOON_NY)
    c.dial_outcome(NY, DialOutcome.LIVE, verdict)
    cmd = c.live_answered("L1", NY, answered)
    assert cmd.at == answered + 2.0
    assert c.connected("L1", answered + 2.0001) is False  # too late: not bridged
    assert c.connect_deadline("L1", cmd.at) == [PlayIdentification(call_id="L1", message="acme-id")]
    assert c.connect_deadline("L1", cmd.at) == []  # once
    w = c.ledger.current(answered)
    assert (w.lives, w.abandons) == (1, 1)

    c.dial_placed(LA, NOON_NY + 4 * HOUR_S)
    c.live_answered("L2", LA, NOON_NY + 4 * HOUR_S + 9)
    assert c.connected("L2", NOON_NY + 4 * HOUR_S + 10.9) is True
    assert c.connect_deadline("L2", NOON_NY + 4 * HOUR_S + 11) == []
    assert c.ledger.current(NOON_NY).abandons == 1


# --------------------------------------------------------------------------- the ledger


def test_us_ledger_hand_computed() -> None:
    led = AbandonLedger(RegulatoryMode.US, start=0.0, fp_rate=0.5)  # fp ignored in US
    for i in range(100):
        led.record_live(i * 60.0)
    for _ in range(40):
        led.record_machine(10.0)
    for _ in range(3):
        led.record_abandon(100.0)
    w = led.current(3 * DAY_S)
    assert (w.start, w.end) == (0.0, 30 * DAY_S)
    assert w.rate == pytest.approx(0.03)  # 3 / 100: at the limit, not over it
    assert not w.in_breach
    assert w.headroom == pytest.approx(0.0)
    led.record_abandon(200.0)
    assert w.rate == pytest.approx(0.04) and w.in_breach
    # Day 29 still counts in the campaign's first window; day 30 opens the next one.
    led.record_live(29.9 * DAY_S)
    assert led.current(29.9 * DAY_S).lives == 101
    led.record_live(30 * DAY_S)
    led.record_abandon(31 * DAY_S)
    second = led.current(45 * DAY_S)
    assert (second.start, second.lives, second.abandons) == (30 * DAY_S, 1, 1)
    assert second.rate == 1.0
    assert [round(x.rate, 4) for x in led.windows()] == [round(4 / 101, 4), 1.0]


def test_uk_ledger_hand_computed_with_amd_false_positives() -> None:
    start = ts(2026, 6, 1)
    led = AbandonLedger(RegulatoryMode.UK, start=start, fp_rate=0.1)
    for _ in range(200):
        led.record_live(start + 3600)
    for _ in range(20):
        led.record_machine(start + 7200)
    led.record_abandon(start + 9000)
    led.record_abandon(start + DAY_S - 1)
    w = led.current(start)
    assert w.fp_estimate == pytest.approx(2.0)  # 10% of 20 machine verdicts
    # (2 abandons + 2 estimated false positives) / (200 live + 2 false positives)
    assert w.rate == pytest.approx(4 / 202)
    assert not w.in_breach
    assert w.headroom == pytest.approx(0.03 * 202 - 4)
    # 24-hour windows: the next day starts clean.
    led.record_live(start + DAY_S)
    nxt = led.current(start + DAY_S)
    assert (nxt.start, nxt.lives, nxt.abandons) == (start + DAY_S, 1, 0)
    # 30 more machine verdicts, no more lives or abandons: the estimate alone breaches.
    for _ in range(30):
        led.record_machine(start + 10)
    assert w.rate == pytest.approx(7 / 205)
    assert w.in_breach


def test_compliance_feeds_the_ledger() -> None:
    c = Compliance(ComplianceConfig(mode=RegulatoryMode.UK, amd_false_positive_rate=0.05))
    t = ts(2026, 6, 2, 10)
    c.dial_placed(LON, t)
    c.dial_outcome(LON, DialOutcome.MACHINE, t + 10)
    w = c.ledger.current(t)
    assert (w.machines, w.fp_estimate) == (1, pytest.approx(0.05))


# --------------------------------------------------------------------------- the property


POOL = [NY, LA, PHX, LON, "+18085550100", UNKNOWN_AREA]
STEPS = [1.0, 60.0, 700.0, HOUR_S, 5 * HOUR_S, 20 * HOUR_S, 25 * HOUR_S, 73 * HOUR_S]


@dataclass
class _Reference:
    """What a dial must never violate, tracked independently of the code under test."""

    uk: bool
    dnc: set[str] = field(default_factory=set)
    abandoned_at: dict[str, float] = field(default_factory=dict)
    machine_at: dict[str, float] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    in_flight: set[str] = field(default_factory=set)


action = st.tuples(
    st.sampled_from(POOL),
    # Time steps that land both sides of every retry delay and lockout, and random ones.
    st.one_of(st.sampled_from(STEPS), st.floats(0, 30 * HOUR_S)),
    st.sampled_from(["dial", "dnc", "dnc_disposition"]),
    st.sampled_from([*DialOutcome, "abandon", "connect"]),
)


_T0 = ts(2026, 6, 2, 10)  # 11:00 in London, 06:00 in New York


@settings(max_examples=300, deadline=None)
# Known sequences first: a redial inside the UK machine and abandon lockouts, and after DNC.
@example(
    RegulatoryMode.UK,
    _T0,
    ("08:00", "21:00"),
    [(LON, 0.0, "dial", DialOutcome.MACHINE), (LON, HOUR_S, "dial", DialOutcome.BUSY)],
)
@example(
    RegulatoryMode.UK,
    _T0,
    ("08:00", "21:00"),
    [(LON, 0.0, "dial", "abandon"), (LON, 25 * HOUR_S, "dial", "connect")],
)
# A start a fraction of a microsecond before a whole second: local 21:00:00 to a clock.
@example(
    RegulatoryMode.US,
    1924905599.9999998,
    ("08:00", "21:00"),
    [
        ("+14155550100", 18000.0, "dial", DialOutcome.BUSY),
        ("+12125550100", 1.0, "dial", DialOutcome.BUSY),
        ("+12125550100", 1.0, "dial", DialOutcome.BUSY),
    ],
)
@example(
    RegulatoryMode.US,
    _T0 + 5 * HOUR_S,
    ("08:00", "21:00"),
    [(NY, 0.0, "dnc_disposition", "connect"), (NY, 25 * HOUR_S, "dial", "connect")],
)
@given(
    mode=st.sampled_from(list(RegulatoryMode)),
    start=st.floats(ts(2024, 1, 1), ts(2030, 12, 31)),
    window=st.sampled_from([("08:00", "21:00"), ("09:00", "17:30"), ("12:00", "13:00")]),
    actions=st.lists(action, min_size=3, max_size=60),
)
def test_no_dial_outside_the_window_or_to_a_dnc_or_locked_out_number_ever(
    mode: RegulatoryMode,
    start: float,
    window: tuple[str, str],
    actions: list[tuple[str, float, str, DialOutcome | str]],
) -> None:
    cfg = ComplianceConfig(
        mode=mode,
        window=CallingWindow(start=window[0], end=window[1]),
        retry=RetryRules(max_attempts=4, busy_s=60, no_answer_s=300, machine_s=600),
    )
    c = Compliance(cfg)
    ref = _Reference(uk=mode is RegulatoryMode.UK)
    now = start
    calls = 0
    lo = dt.time.fromisoformat(window[0])
    hi = dt.time.fromisoformat(window[1])
    for number, step, kind, outcome in actions:
        now += step
        if kind == "dnc":
            c.add_dnc(number)
            ref.dnc.add(number)
            continue
        verdict = c.check_dial(ContactRecord(number), now)
        if not isinstance(verdict, Allowed):
            continue
        # The invariants, checked against zoneinfo and the reference, not the code's tables.
        t_local = local(number, now).time()
        assert lo <= t_local < hi, f"dialed {number} at local {t_local}"
        assert number not in ref.dnc
        assert number not in ref.in_flight
        assert ref.attempts.get(number, 0) < 4
        if ref.uk:
            assert now >= ref.abandoned_at.get(number, -1e18) + 72 * HOUR_S
            assert now >= ref.machine_at.get(number, -1e18) + 24 * HOUR_S
        c.dial_placed(number, now)
        ref.attempts[number] = ref.attempts.get(number, 0) + 1
        ref.in_flight.add(number)
        now += 15
        if outcome in ("abandon", "connect", DialOutcome.LIVE):
            c.dial_outcome(number, DialOutcome.LIVE, now)
            calls += 1
            cmd = c.live_answered(f"c{calls}", number, now - 1)
            if outcome == "connect":
                assert c.connected(f"c{calls}", now)
            else:
                now = cmd.at
                assert c.connect_deadline(f"c{calls}", now)
                ref.abandoned_at[number] = now
            if kind == "dnc_disposition":
                c.disposition(number, Disposition.DNC, now)
                ref.dnc.add(number)
            else:
                c.disposition(number, Disposition.CALLBACK, now, now + 60)
        else:
            assert isinstance(outcome, DialOutcome)
            c.dial_outcome(number, outcome, now)
            if outcome is DialOutcome.MACHINE:
                ref.machine_at[number] = now
        ref.in_flight.discard(number)


def test_an_abandon_is_booked_in_the_window_of_its_answer() -> None:
    start = ts(2026, 6, 1)
    c = Compliance(ComplianceConfig(mode=RegulatoryMode.UK, campaign_start=start))
    c.live_answered("edge", LON, start + DAY_S - 1.0)
    assert c.connect_deadline("edge", start + DAY_S + 1.0)
    first, second = c.ledger.current(start), c.ledger.current(start + DAY_S)
    assert (first.lives, first.abandons) == (1, 1)
    assert (second.lives, second.abandons) == (0, 0)
