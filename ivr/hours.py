"""Business hours: is a schedule open at a given instant?

``now`` is POSIX seconds (UTC); the answer is computed in the schedule's own timezone on
the local wall clock, so "08:00-18:00" opens at 08:00 local time on the days the clocks
change as on any other day. Ranges are half-open: open at exactly the opening minute,
closed at exactly the closing minute.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ivr.model import WEEKDAYS, Schedule, parse_time_range

Ranges = tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class Hours:
    """A compiled ``Schedule``: ranges in seconds of the local day."""

    zone: ZoneInfo
    weekly: tuple[Ranges, ...]
    """Index 0 is Monday, as in ``date.weekday()``."""
    holidays: dict[dt.date, Ranges]

    @classmethod
    def compile(cls, schedule: Schedule) -> Hours:
        def ranges(texts: tuple[str, ...]) -> Ranges:
            return tuple((a * 60, b * 60) for a, b in map(parse_time_range, texts))

        return cls(
            zone=ZoneInfo(schedule.timezone),
            weekly=tuple(ranges(schedule.weekly.get(day, ())) for day in WEEKDAYS),
            holidays={h.date: ranges(h.hours) for h in schedule.holidays},
        )

    def local(self, now: float) -> dt.datetime:
        return dt.datetime.fromtimestamp(now, self.zone)

    def is_holiday(self, now: float) -> bool:
        return self.local(now).date() in self.holidays

    def is_open(self, now: float) -> bool:
        local = self.local(now)
        day = local.date()
        ranges = self.holidays.get(day)
        if ranges is None:
            ranges = self.weekly[day.weekday()]
        second = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        return any(start <= second < end for start, end in ranges)
