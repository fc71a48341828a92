"""Business hours at their edges: opening and closing instants, DST change days, holidays."""

from __future__ import annotations

import pytest

from ivr.hours import Hours
from ivr.model import Schedule
from tests.ivr.support import at


def _hours(timezone: str, **extra: object) -> Hours:
    weekly = {d: ("08:00-18:00",) for d in ("mon", "tue", "wed", "thu", "fri")}
    weekly["sun"] = ("08:00-18:00",)  # both DST changes below fall on a Sunday
    return Hours.compile(Schedule.model_validate({"timezone": timezone, "weekly": weekly, **extra}))


LONDON = _hours("Europe/London")
NEW_YORK = _hours("America/New_York")


@pytest.mark.parametrize(
    ("instant", "is_open"),
    [
        ("2026-11-25T07:59:59.999+00:00", False),  # a Wednesday in GMT
        ("2026-11-25T08:00:00+00:00", True),  # exactly at opening: open
        ("2026-11-25T17:59:59+00:00", True),
        ("2026-11-25T18:00:00+00:00", False),  # exactly at closing: closed
        ("2026-11-28T12:00:00+00:00", False),  # Saturday: no hours
    ],
)
def test_london_open_and_close_edges(instant: str, is_open: bool) -> None:
    assert LONDON.is_open(at(instant)) is is_open


@pytest.mark.parametrize(
    ("instant", "is_open"),
    [
        # 2026-03-29: clocks go 01:00 GMT -> 02:00 BST, so 08:00 local is 07:00 UTC
        ("2026-03-29T06:59:59Z", False),
        ("2026-03-29T07:00:00Z", True),
        ("2026-03-29T16:59:59Z", True),
        ("2026-03-29T17:00:00Z", False),
        # the Sunday before, still GMT: 08:00 local is 08:00 UTC
        ("2026-03-22T07:00:00Z", False),
        ("2026-03-22T08:00:00Z", True),
        # 2026-10-25: back to GMT, 08:00 local is 08:00 UTC again
        ("2026-10-25T07:59:59Z", False),
        ("2026-10-25T08:00:00Z", True),
        ("2026-10-25T18:00:00Z", False),
    ],
)
def test_london_dst_change_days(instant: str, is_open: bool) -> None:
    assert LONDON.is_open(at(instant)) is is_open


@pytest.mark.parametrize(
    ("instant", "is_open"),
    [
        # 2026-03-08: 02:00 EST -> 03:00 EDT; 08:00 EDT is 12:00 UTC (13:00 the day before)
        ("2026-03-08T11:59:59Z", False),
        ("2026-03-08T12:00:00Z", True),
        ("2026-03-08T21:59:59Z", True),
        ("2026-03-08T22:00:00Z", False),
        ("2026-03-01T12:00:00Z", False),  # a week earlier (EST) it opens at 13:00 UTC
        ("2026-03-01T13:00:00Z", True),
        ("2026-03-01T23:00:00Z", False),  # 18:00 EST
    ],
)
def test_new_york_dst_change_day(instant: str, is_open: bool) -> None:
    assert NEW_YORK.is_open(at(instant)) is is_open


def test_local_time_is_the_schedules_own_timezone() -> None:
    local = NEW_YORK.local(at("2026-03-08T12:00:00Z"))
    offset = local.utcoffset()
    assert offset is not None
    assert (local.hour, local.minute, offset.total_seconds()) == (8, 0, -4 * 3600)


def test_holiday_is_closed_all_day_in_local_time() -> None:
    hours = _hours("America/New_York", holidays=["2026-11-26"])
    # 2026-11-26 in New York runs from 05:00Z on the 26th to 05:00Z on the 27th
    assert hours.is_holiday(at("2026-11-26T05:00:00Z"))
    assert not hours.is_holiday(at("2026-11-26T04:59:59Z"))
    assert not hours.is_open(at("2026-11-26T15:00:00Z"))  # would be 10:00 on a Thursday
    assert hours.is_open(at("2026-11-25T15:00:00Z"))
    assert hours.is_open(at("2026-11-27T15:00:00Z"))


def test_holiday_with_special_hours() -> None:
    hours = _hours(
        "Europe/London",
        holidays=[{"date": "2026-12-24", "name": "Christmas Eve", "hours": ["08:00-12:00"]}],
    )
    assert hours.is_holiday(at("2026-12-24T09:00:00Z"))
    assert hours.is_open(at("2026-12-24T11:59:59Z"))
    assert not hours.is_open(at("2026-12-24T12:00:00Z"))


def test_a_range_to_midnight_includes_the_last_second() -> None:
    hours = Hours.compile(
        Schedule.model_validate({"timezone": "UTC", "weekly": {"wed": ["00:00-24:00"]}})
    )
    assert hours.is_open(at("2026-11-25T00:00:00Z"))
    assert hours.is_open(at("2026-11-25T23:59:59.5Z"))
    assert not hours.is_open(at("2026-11-26T00:00:00Z"))
