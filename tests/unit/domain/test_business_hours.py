"""Business hours: weekly intervals in a time zone, across midnight, minus closed dates."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from linecrm.domain.business_hours import BusinessHours

JST = timezone(timedelta(hours=9))
WEEKDAYS_9_TO_18 = {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


def hours(**overrides: object) -> BusinessHours:
    return BusinessHours.model_validate({"weekly": WEEKDAYS_9_TO_18, **overrides})


def test_defaults_to_tokyo() -> None:
    assert BusinessHours().time_zone == "Asia/Tokyo"


@pytest.mark.parametrize(
    ("local", "is_open"),
    [
        (datetime(2025, 6, 2, 8, 59, tzinfo=JST), False),  # Monday
        (datetime(2025, 6, 2, 9, 0, tzinfo=JST), True),
        (datetime(2025, 6, 2, 17, 59, 59, tzinfo=JST), True),
        (datetime(2025, 6, 2, 18, 0, tzinfo=JST), False),  # end is exclusive
        (datetime(2025, 6, 7, 12, 0, tzinfo=JST), False),  # Saturday: not listed
    ],
)
def test_weekday_intervals(local: datetime, is_open: bool) -> None:
    assert hours().is_open(local) is is_open


def test_event_time_in_utc_is_converted_to_the_shops_zone() -> None:
    # 00:30 UTC on Monday is 09:30 in Tokyo; 23:30 UTC Sunday is 08:30 Monday in Tokyo.
    assert hours().is_open(datetime(2025, 6, 2, 0, 30, tzinfo=UTC))
    assert not hours().is_open(datetime(2025, 6, 1, 23, 30, tzinfo=UTC))


def test_other_time_zones_and_daylight_saving() -> None:
    new_york = hours(time_zone="America/New_York")

    # 13:30 UTC is 09:30 in New York in summer (EDT) but 08:30 in winter (EST).
    assert new_york.is_open(datetime(2025, 6, 2, 13, 30, tzinfo=UTC))
    assert not new_york.is_open(datetime(2025, 1, 6, 13, 30, tzinfo=UTC))


def test_hours_across_midnight_are_two_intervals() -> None:
    bar = BusinessHours.model_validate(
        {"weekly": {"fri": [["22:00", "24:00"]], "sat": [["00:00", "02:00"]]}}
    )

    assert not bar.is_open(datetime(2025, 6, 6, 21, 59, tzinfo=JST))  # Friday
    assert bar.is_open(datetime(2025, 6, 6, 22, 0, tzinfo=JST))
    assert bar.is_open(datetime(2025, 6, 6, 23, 59, 59, tzinfo=JST))
    assert bar.is_open(datetime(2025, 6, 7, 0, 0, tzinfo=JST))  # Saturday
    assert bar.is_open(datetime(2025, 6, 7, 1, 59, tzinfo=JST))
    assert not bar.is_open(datetime(2025, 6, 7, 2, 0, tzinfo=JST))
    assert not bar.is_open(datetime(2025, 6, 7, 22, 30, tzinfo=JST))  # Saturday night


def test_closed_dates_close_the_whole_local_day() -> None:
    holiday = hours(closed_dates=["2025-06-03"])

    assert holiday.closed_dates == [date(2025, 6, 3)]
    assert not holiday.is_open(datetime(2025, 6, 3, 10, 0, tzinfo=JST))
    assert holiday.is_open(datetime(2025, 6, 4, 10, 0, tzinfo=JST))
    # 02:00 UTC on June 3 is 11:00 June 3 in Tokyo: the closed date is a local date.
    assert not holiday.is_open(datetime(2025, 6, 3, 2, 0, tzinfo=UTC))
    # 23:00 UTC on June 3 is 08:00 June 4 in Tokyo: before opening, not the holiday.
    assert holiday.is_open(datetime(2025, 6, 4, 1, 0, tzinfo=UTC))


def test_touching_intervals_are_allowed() -> None:
    split = BusinessHours.model_validate(
        {"weekly": {"mon": [["13:00", "18:00"], ["09:00", "13:00"]]}}
    )

    assert split.is_open(datetime(2025, 6, 2, 12, 59, tzinfo=JST))
    assert split.is_open(datetime(2025, 6, 2, 13, 0, tzinfo=JST))


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"time_zone": "Asia/Tokio"}, "unknown time zone 'Asia/Tokio'"),
        ({"time_zone": "../etc/passwd"}, "unknown time zone"),
        ({"weekly": {"mon": [["18:00", "09:00"]]}}, "ends before it starts"),
        ({"weekly": {"mon": [["22:00", "02:00"]]}}, "split hours that cross midnight"),
        ({"weekly": {"mon": [["09:00", "13:00"], ["12:00", "18:00"]]}}, "intervals overlap"),
        ({"weekly": {"mon": [["9:00", "18:00"]]}}, "String should match pattern"),
        ({"weekly": {"mon": [["09:00", "24:01"]]}}, "String should match pattern"),
        ({"weekly": {"mon": [["09:00"]]}}, "mon.0"),
        ({"weekly": {"monday": [["09:00", "18:00"]]}}, "Extra inputs are not permitted"),
    ],
)
def test_invalid_business_hours(document: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message.replace("(", r"\(")):
        BusinessHours.model_validate(document)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        hours().is_open(datetime(2025, 6, 2, 10, 0))
