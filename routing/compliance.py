"""Outbound dialing compliance: may this number be dialed now, and the abandon ledger.

Sans-I/O like the rest of routing/: ``now`` is POSIX seconds (UTC) passed in, nothing reads
a clock, nothing awaits. The checks run at *dispatch* time (the moment before an originate),
never at list load, because windows, lockouts and the DNC list change while a list waits.

What it enforces (REFERENCE.md section 3):

* calling window in the called party's local time (legal 08:00-21:00; a campaign may only
  narrow it); the zone comes from the record, else from the number's country / NANP area
  code through a small built-in table; an unknown zone is refused, never guessed;
* do-not-call list (a DNC disposition adds the number);
* attempt limit and per-outcome retry delays;
* ring at least 15 s (``ring_timeout_s``);
* the 2-second rule: an answered live call that no agent takes within 2 s of the answer
  (answering-machine-detection latency included) is abandoned and gets the identification
  message: ``connect_deadline`` returns that command;
* UK mode lockouts: 72 h after an abandon, 24 h after an answering-machine verdict;
* the abandon ledger per campaign (``AbandonLedger``): US mode 3% of live answers over the
  campaign, or each 30-day period of a longer one; UK mode 3% per 24 hours with an estimate
  of AMD false positives (configured rate x machine verdicts) counted as abandoned live calls.

Time zones without ``datetime``: the purity rule keeps clock modules out of routing/, so the
few zones we know are rules (standard offset + US or EU daylight-saving rule) evaluated with
integer calendar arithmetic. The tests check them against zoneinfo around every transition.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DAY_S = 86_400.0
HOUR_S = 3_600.0

# --------------------------------------------------------------------------- time zones


def days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (era arithmetic, no tables)."""
    y -= m <= 2
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468


def civil_from_days(z: int) -> tuple[int, int, int]:
    """Inverse of ``days_from_civil``: (year, month, day)."""
    z += 719_468
    era = (z if z >= 0 else z - 146_096) // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    y = yoe + era * 400
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + (3 if mp < 10 else -9)
    return y + (m <= 2), m, d


def _weekday(days: int) -> int:
    """Monday = 0 (1970-01-01 was a Thursday)."""
    return (days + 3) % 7


def _nth_sunday(y: int, m: int, n: int) -> int:
    first = days_from_civil(y, m, 1)
    return first + (6 - _weekday(first)) % 7 + 7 * (n - 1)


def _last_sunday(y: int, m: int) -> int:
    nxt = days_from_civil(y + (m == 12), m % 12 + 1, 1)
    last = nxt - 1
    return last - (_weekday(last) - 6) % 7


@dataclass(frozen=True, slots=True)
class Zone:
    """A time zone as a rule: standard offset and an optional daylight-saving rule.

    ``dst`` "us": second Sunday of March 02:00 local standard time to the first Sunday of
    November 02:00 local daylight time (rule in force since 2007). "eu": last Sunday of
    March to the last Sunday of October, both at 01:00 UTC (since 1996).
    """

    name: str
    std_offset_s: int
    dst: Literal["us", "eu"] | None = None

    def utc_offset(self, now: float) -> int:
        if self.dst is None:
            return self.std_offset_s
        year = civil_from_days(int(now // DAY_S))[0]
        if self.dst == "us":
            start = _nth_sunday(year, 3, 2) * DAY_S + 2 * HOUR_S - self.std_offset_s
            end = _nth_sunday(year, 11, 1) * DAY_S + 1 * HOUR_S - self.std_offset_s
        else:
            start = _last_sunday(year, 3) * DAY_S + HOUR_S
            end = _last_sunday(year, 10) * DAY_S + HOUR_S
        return self.std_offset_s + (3600 if start <= now < end else 0)

    def local_seconds_of_day(self, now: float) -> float:
        # Whole microseconds, as clocks and datetime count them: 20:59:59.9999998 is
        # 21:00:00, after an exclusive window end (found by the compliance property).
        return round((now + self.utc_offset(now)) % DAY_S, 6) % DAY_S


ZONES: dict[str, Zone] = {
    z.name: z
    for z in (
        Zone("America/New_York", -5 * 3600, "us"),
        Zone("America/Chicago", -6 * 3600, "us"),
        Zone("America/Denver", -7 * 3600, "us"),
        Zone("America/Phoenix", -7 * 3600),
        Zone("America/Los_Angeles", -8 * 3600, "us"),
        Zone("America/Anchorage", -9 * 3600, "us"),
        Zone("Pacific/Honolulu", -10 * 3600),
        Zone("Europe/London", 0, "eu"),
        Zone("Europe/Dublin", 0, "eu"),
        Zone("Europe/Paris", 3600, "eu"),
        Zone("Europe/Berlin", 3600, "eu"),
        Zone("UTC", 0),
    )
}

# A handful of NANP area codes per zone. Deliberately small: an area code not listed is
# "unknown zone", and the record must then carry its timezone. Area codes that straddle
# zones (e.g. parts of 208, 541, 850) are left out on purpose for the same reason.
_AREA_ZONES: dict[str, tuple[str, ...]] = {
    "America/New_York": (
        "201",
        "202",
        "212",
        "215",
        "267",
        "305",
        "347",
        "404",
        "407",
        "412",
        "516",
        "561",
        "607",
        "617",
        "646",
        "678",
        "703",
        "704",
        "718",
        "727",
        "786",
        "813",
        "857",
        "904",
        "908",
        "917",
        "919",
        "954",
        "973",
    ),
    "America/Chicago": (
        "205",
        "210",
        "214",
        "281",
        "312",
        "314",
        "316",
        "331",
        "405",
        "469",
        "504",
        "512",
        "612",
        "615",
        "630",
        "651",
        "708",
        "713",
        "773",
        "816",
        "832",
        "847",
        "901",
        "918",
        "972",
    ),
    "America/Denver": ("303", "307", "385", "406", "435", "505", "575", "719", "720", "801"),
    "America/Phoenix": ("480", "520", "602", "623", "928"),
    "America/Los_Angeles": (
        "206",
        "209",
        "213",
        "253",
        "310",
        "323",
        "360",
        "408",
        "415",
        "425",
        "503",
        "510",
        "530",
        "559",
        "562",
        "619",
        "626",
        "650",
        "702",
        "714",
        "725",
        "818",
        "916",
        "971",
    ),
    "America/Anchorage": ("907",),
    "Pacific/Honolulu": ("808",),
}
NANP_AREA_ZONE: dict[str, str] = {a: z for z, areas in _AREA_ZONES.items() for a in areas}
COUNTRY_ZONE: dict[str, str] = {"44": "Europe/London", "353": "Europe/Dublin"}
"""Single-zone countries by calling code (+1 goes through the area-code table)."""


def normalize_number(raw: str) -> str | None:
    """E.164 ("+15551234567") or None. Ten bare digits are taken as NANP."""
    if raw[:1] == "+" and raw[1:].isdigit() and raw[1] != "0" and 8 <= len(raw) - 1 <= 15:
        return raw  # already E.164: the common case at dispatch time
    digits = "".join(ch for ch in raw if ch.isdigit())
    plus = raw.strip().startswith("+")
    if not plus:
        if len(digits) == 10:
            digits = "1" + digits
        elif not (len(digits) == 11 and digits[0] == "1"):
            return None
    if not 8 <= len(digits) <= 15 or digits[0] == "0":
        return None
    return "+" + digits


def zone_for(number: str, timezone: str | None = None) -> Zone | None:
    """The called party's zone: the record's own timezone first, then the number."""
    if timezone:
        return ZONES.get(timezone)
    if number.startswith("+1") and len(number) == 12:
        name = NANP_AREA_ZONE.get(number[2:5])
        return ZONES[name] if name else None
    for code in ("44", "353"):
        if number.startswith("+" + code):
            return ZONES[COUNTRY_ZONE[code]]
    return None


# --------------------------------------------------------------------------- configuration


class RegulatoryMode(StrEnum):
    US = "us"
    UK = "uk"


class DialOutcome(StrEnum):
    """What the network said about one dial attempt."""

    BUSY = "busy"
    NO_ANSWER = "no_answer"
    MACHINE = "machine"
    LIVE = "live"
    FAILED = "failed"  # congestion, invalid number, gateway error


class Disposition(StrEnum):
    """What the agent (or the 2-second rule) concluded about a live call."""

    DONE = "done"
    CALLBACK = "callback"
    DNC = "dnc"


def _parse_hhmm(text: str) -> int:
    hh, sep, mm = text.partition(":")
    if not sep or not hh.isdigit() or not mm.isdigit() or len(mm) != 2:
        raise ValueError(f"time {text!r} is not HH:MM")
    h, m = int(hh), int(mm)
    if not (0 <= h <= 24 and 0 <= m < 60) or (h == 24 and m):
        raise ValueError(f"time {text!r} is out of range")
    return h * 3600 + m * 60


LEGAL_WINDOW = ("08:00", "21:00")


class CallingWindow(BaseModel):
    """Local-time window, half-open [start, end): callable at 08:00, not at 21:00."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    start: str = LEGAL_WINDOW[0]
    end: str = LEGAL_WINDOW[1]

    @model_validator(mode="after")
    def _inside_legal(self) -> CallingWindow:
        s, e = _parse_hhmm(self.start), _parse_hhmm(self.end)
        lo, hi = (_parse_hhmm(t) for t in LEGAL_WINDOW)
        if s >= e:
            raise ValueError(f"calling window {self.start}-{self.end} is empty")
        if s < lo or e > hi:
            raise ValueError(
                f"calling window {self.start}-{self.end} is wider than the legal "
                f"{LEGAL_WINDOW[0]}-{LEGAL_WINDOW[1]}; a campaign may only narrow it"
            )
        return self

    @property
    def seconds(self) -> tuple[int, int]:
        return _parse_hhmm(self.start), _parse_hhmm(self.end)


class RetryRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    max_attempts: int = Field(5, ge=1)
    busy_s: float = Field(600.0, ge=0)
    no_answer_s: float = Field(7200.0, ge=0)
    machine_s: float = Field(14400.0, ge=0)
    failed_s: float = Field(3600.0, ge=0)
    abandoned_s: float = Field(86400.0, ge=0)
    """Retry after our own abandon (UK mode also locks the number out for 72 h)."""

    def delay(self, outcome: DialOutcome | Literal["abandoned"]) -> float | None:
        """Seconds before the next attempt; None: no retry (a live call is final)."""
        return {
            DialOutcome.BUSY: self.busy_s,
            DialOutcome.NO_ANSWER: self.no_answer_s,
            DialOutcome.MACHINE: self.machine_s,
            DialOutcome.FAILED: self.failed_s,
            "abandoned": self.abandoned_s,
        }.get(outcome)


class ComplianceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    mode: RegulatoryMode = RegulatoryMode.US
    window: CallingWindow = CallingWindow()
    retry: RetryRules = RetryRules()
    min_ring_s: float = Field(15.0, ge=15.0)
    """Regulatory floor; a campaign may ring longer, never shorter."""
    connect_limit_s: float = Field(2.0, gt=0, le=2.0)
    abandon_limit: float = Field(0.03, gt=0, le=0.03)
    amd_false_positive_rate: float = Field(0.0, ge=0, le=1)
    """UK: share of machine verdicts assumed to be live people (counted as abandons)."""
    uk_abandon_lockout_s: float = Field(72 * HOUR_S, ge=0)
    uk_machine_lockout_s: float = Field(24 * HOUR_S, ge=0)
    identification_message: str = Field(min_length=1, default="identification")
    """Id of the recorded message (seller's name and a number to call back)."""
    campaign_start: float = 0.0
    """POSIX seconds; the ledger's windows are counted from here."""

    @field_validator("identification_message")
    @classmethod
    def _not_blank(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("identification_message must name a recording")
        return v


# --------------------------------------------------------------------------- results


class RefusalReason(StrEnum):
    INVALID_NUMBER = "invalid_number"
    UNKNOWN_TIMEZONE = "unknown_timezone"
    OUTSIDE_WINDOW = "outside_window"
    DNC = "dnc"
    ATTEMPT_LIMIT = "attempt_limit"
    RETRY_NOT_DUE = "retry_not_due"
    LOCKED_OUT = "locked_out"
    FINAL = "final"


@dataclass(frozen=True, slots=True)
class ContactRecord:
    """What the dialer knows about one number (validated by the list loader)."""

    number: str
    timezone: str | None = None
    """IANA name of one of ``ZONES``; wins over the number's own area code."""


@dataclass(frozen=True, slots=True)
class Allowed:
    number: str
    """Normalised E.164 form: dial this one."""
    zone: str
    ring_timeout_s: float


@dataclass(frozen=True, slots=True)
class Refused:
    reason: RefusalReason
    detail: str
    retry_at: float | None = None
    """Earliest instant a new check could pass (a hint: check again at dispatch)."""


@dataclass(slots=True, kw_only=True)
class PlayIdentification:
    """Driver command: play the identification message on the call, then hang up."""

    call_id: str
    message: str


@dataclass(slots=True, kw_only=True)
class ConnectDeadline:
    """Driver command: call ``connect_deadline(call_id, at)`` at ``at`` unless connected."""

    call_id: str
    at: float


# --------------------------------------------------------------------------- ledger


@dataclass(slots=True)
class WindowStats:
    start: float
    end: float
    lives: int = 0
    abandons: int = 0
    machines: int = 0
    fp_rate: float = 0.0
    limit: float = 0.03

    @property
    def fp_estimate(self) -> float:
        return self.fp_rate * self.machines

    @property
    def rate(self) -> float:
        """Abandoned / live. The AMD false-positive estimate is live people we hung up on:
        it joins the numerator (as abandons) and the denominator (as live calls)."""
        live = self.lives + self.fp_estimate
        return (self.abandons + self.fp_estimate) / live if live > 0 else 0.0

    @property
    def in_breach(self) -> bool:
        return self.rate > self.limit

    @property
    def headroom(self) -> float:
        """Abandons still allowed in this window before it is in breach, given its lives
        so far (negative when in breach)."""
        fp = self.fp_estimate
        return self.limit * (self.lives + fp) - self.abandons - fp


class AbandonLedger:
    """Abandoned-call ledger of one campaign, bucketed into the regulator's windows.

    US: windows are consecutive 30-day periods from the campaign's start (a campaign
    shorter than 30 days is one window: the campaign). UK: consecutive 24-hour periods.
    """

    def __init__(
        self,
        mode: RegulatoryMode = RegulatoryMode.US,
        *,
        start: float = 0.0,
        limit: float = 0.03,
        fp_rate: float = 0.0,
    ) -> None:
        self.mode = mode
        self.start = start
        self.limit = limit
        # US law has no AMD estimate: keep it out of US windows even if configured.
        self.fp_rate = fp_rate if mode is RegulatoryMode.UK else 0.0
        self.period_s = 30 * DAY_S if mode is RegulatoryMode.US else DAY_S
        self._windows: dict[int, WindowStats] = {}

    def _bucket(self, now: float) -> WindowStats:
        k = max(0, int((now - self.start) // self.period_s))
        w = self._windows.get(k)
        if w is None:
            s = self.start + k * self.period_s
            w = WindowStats(s, s + self.period_s, fp_rate=self.fp_rate, limit=self.limit)
            self._windows[k] = w
        return w

    def record_live(self, now: float) -> None:
        self._bucket(now).lives += 1

    def record_abandon(self, now: float) -> None:
        self._bucket(now).abandons += 1

    def record_machine(self, now: float) -> None:
        self._bucket(now).machines += 1

    def current(self, now: float) -> WindowStats:
        """The window ``now`` falls in (empty if nothing happened in it yet)."""
        return self._bucket(now)

    def windows(self) -> list[WindowStats]:
        return [self._windows[k] for k in sorted(self._windows)]

    def headroom(self, now: float) -> float:
        return self.current(now).headroom


# --------------------------------------------------------------------------- compliance


@dataclass(slots=True)
class _NumberState:
    attempts: int = 0
    not_before: float = float("-inf")
    not_before_reason: RefusalReason = RefusalReason.RETRY_NOT_DUE
    locked_until: float = float("-inf")
    """UK lockouts, kept apart so that no retry rule or callback can shorten them."""
    final: bool = False


@dataclass(slots=True)
class _LiveCall:
    number: str
    answered_at: float
    deadline: float
    connected: bool = False
    abandoned: bool = False


@dataclass(slots=True)
class Compliance:
    """Per-campaign compliance state: numbers' attempt history, DNC, live calls, ledger.

    The driver calls, in order, for each attempt: ``check_dial`` (dispatch time),
    ``dial_placed``, ``dial_outcome``; for a live answer ``live_answered`` then either
    ``connected`` (an agent took it in time) or ``connect_deadline`` (the timer fired).
    """

    config: ComplianceConfig = field(default_factory=ComplianceConfig)
    dnc: set[str] = field(default_factory=set)
    """Normalised numbers; may be shared between campaigns (pass the same set)."""
    ledger: AbandonLedger = field(init=False)
    _numbers: dict[str, _NumberState] = field(default_factory=dict, init=False)
    _live: dict[str, _LiveCall] = field(default_factory=dict, init=False)
    _window: tuple[int, int] = field(default=(0, 0), init=False)

    def __post_init__(self) -> None:
        c = self.config
        self._window = c.window.seconds
        # Lookups use the normalised form: bring the given set to it (in place: it may be
        # shared with other campaigns on purpose).
        odd = {n for n in self.dnc if normalize_number(n) not in (n, None)}
        if odd:
            self.dnc -= odd
            self.dnc |= {normalize_number(n) or n for n in odd}
        self.ledger = AbandonLedger(
            c.mode,
            start=c.campaign_start,
            limit=c.abandon_limit,
            fp_rate=c.amd_false_positive_rate,
        )

    @property
    def uk(self) -> bool:
        return self.config.mode is RegulatoryMode.UK

    def ring_timeout_s(self, requested: float | None = None) -> float:
        floor = self.config.min_ring_s
        return floor if requested is None else max(floor, requested)

    def check_dial(
        self, record: ContactRecord, now: float, ring_s: float | None = None
    ) -> Allowed | Refused:
        number = normalize_number(record.number)
        if number is None:
            return Refused(RefusalReason.INVALID_NUMBER, f"{record.number!r} is not E.164")
        if number in self.dnc:
            return Refused(RefusalReason.DNC, f"{number} is on the do-not-call list")
        state = self._numbers.get(number)
        if state is not None:
            if state.final:
                return Refused(RefusalReason.FINAL, f"{number} has a final disposition")
            if state.attempts >= self.config.retry.max_attempts:
                return Refused(
                    RefusalReason.ATTEMPT_LIMIT, f"{number}: {state.attempts} attempts made"
                )
            if now < state.locked_until:
                return Refused(
                    RefusalReason.LOCKED_OUT,
                    f"{number} is locked out until {state.locked_until:.0f}",
                    state.locked_until,
                )
            if now < state.not_before:
                if state.not_before == float("inf"):
                    detail = f"{number}: a call is up or awaits its disposition"
                    return Refused(state.not_before_reason, detail)
                return Refused(
                    state.not_before_reason,
                    f"{number} may not be dialed before {state.not_before:.0f}",
                    state.not_before,
                )
        zone = zone_for(number, record.timezone)
        if zone is None:
            what = f"timezone {record.timezone!r}" if record.timezone else "area/country code"
            return Refused(RefusalReason.UNKNOWN_TIMEZONE, f"{number}: unknown {what}")
        sod = zone.local_seconds_of_day(now)
        start, end = self._window
        if not start <= sod < end:
            wait = start - sod if sod < start else DAY_S - sod + start
            return Refused(
                RefusalReason.OUTSIDE_WINDOW,
                f"{number}: local time {int(sod) // 3600:02d}:{int(sod) % 3600 // 60:02d} "
                f"in {zone.name} is outside {self.config.window.start}-{self.config.window.end}",
                now + wait,
            )
        return Allowed(number, zone.name, self.ring_timeout_s(ring_s))

    def _state(self, number: str) -> _NumberState:
        n = normalize_number(number) or number
        st = self._numbers.get(n)
        if st is None:
            st = self._numbers[n] = _NumberState()
        return st

    def _hold(self, st: _NumberState, until: float, reason: RefusalReason) -> None:
        if until > st.not_before:
            st.not_before, st.not_before_reason = until, reason

    @staticmethod
    def _lock(st: _NumberState, until: float) -> None:
        st.locked_until = max(st.locked_until, until)

    def dial_placed(self, number: str, now: float) -> None:
        st = self._state(number)
        st.attempts += 1
        # Until an outcome arrives the number is in flight: no second line to it.
        self._hold(st, float("inf"), RefusalReason.RETRY_NOT_DUE)

    def dial_outcome(self, number: str, outcome: DialOutcome, now: float) -> None:
        st = self._state(number)
        if st.not_before == float("inf"):
            st.not_before = float("-inf")
        if outcome is DialOutcome.LIVE:
            # Held until the agent's disposition (or the abandon) says what comes next.
            st.not_before, st.not_before_reason = float("inf"), RefusalReason.RETRY_NOT_DUE
            return
        delay = self.config.retry.delay(outcome)
        if delay is not None:
            self._hold(st, now + delay, RefusalReason.RETRY_NOT_DUE)
        if outcome is DialOutcome.MACHINE:
            self.ledger.record_machine(now)
            if self.uk:
                self._lock(st, now + self.config.uk_machine_lockout_s)

    def live_answered(self, call_id: str, number: str, answered_at: float) -> ConnectDeadline:
        """A live person answered at ``answered_at`` (the answer, not the later AMD verdict:
        detection latency is spent out of the 2 seconds)."""
        self.ledger.record_live(answered_at)
        deadline = answered_at + self.config.connect_limit_s
        self._live[call_id] = _LiveCall(normalize_number(number) or number, answered_at, deadline)
        return ConnectDeadline(call_id=call_id, at=deadline)

    def connected(self, call_id: str, now: float) -> bool:
        """May the driver bridge this call to an agent now? False once it is abandoned."""
        call = self._live.get(call_id)
        if call is None or call.abandoned or now > call.deadline:
            # Too late: the deadline timer (connect_deadline) abandons it and says so.
            return False
        call.connected = True
        del self._live[call_id]
        return True

    def connect_deadline(self, call_id: str, now: float) -> list[PlayIdentification]:
        """The 2-second timer fired: abandon the call unless an agent already has it."""
        call = self._live.get(call_id)
        if call is None or call.connected or call.abandoned:
            return []
        self._abandon(call_id, call, now)
        return [PlayIdentification(call_id=call_id, message=self.config.identification_message)]

    def _abandon(self, call_id: str, call: _LiveCall, now: float) -> None:
        call.abandoned = True
        del self._live[call_id]
        # Booked at the answer, like its live answer: both land in the same window even
        # when the 2 seconds straddle a window's end.
        self.ledger.record_abandon(call.answered_at)
        st = self._state(call.number)
        st.not_before = now + self.config.retry.abandoned_s
        st.not_before_reason = RefusalReason.RETRY_NOT_DUE
        if self.uk:
            self._lock(st, now + self.config.uk_abandon_lockout_s)

    def disposition(
        self, number: str, disposition: Disposition, now: float, callback_at: float | None = None
    ) -> None:
        n = normalize_number(number) or number
        st = self._state(n)
        if disposition is Disposition.DNC:
            self.dnc.add(n)
            st.final = True
        elif disposition is Disposition.DONE:
            st.final = True
        else:
            st.not_before = callback_at if callback_at is not None else now
            st.not_before_reason = RefusalReason.RETRY_NOT_DUE

    def add_dnc(self, number: str) -> None:
        self.dnc.add(normalize_number(number) or number)
