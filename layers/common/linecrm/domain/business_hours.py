"""A shop's business hours: a weekly schedule in one time zone, minus closed dates.

Each weekday lists its open intervals as ``["HH:MM", "HH:MM"]`` in local time, start
inclusive and end exclusive; an end of ``"24:00"`` means midnight. Hours that run past
midnight are two intervals: ``fri: [["22:00", "24:00"]]`` and ``sat: [["00:00", "02:00"]]``.
A closed date closes its whole local calendar day, including the after-midnight part of
the previous evening's hours. A weekday that is not listed is closed all day.
"""

from __future__ import annotations

from datetime import date, datetime
from itertools import pairwise
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from linecrm.domain.time_zones import DEFAULT_TIME_ZONE, TimeZoneName

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # date.weekday() order


def not_a_base60_number(value: object) -> object:
    """Refuse a number where "HH:MM" text belongs, saying why it is likely a number:
    YAML 1.1 reads an unquoted ``21:00`` as the base-60 number 1260."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = int(value)
        hint = (
            f" (an unquoted {number // 60}:{number % 60:02d} in YAML 1.1 is read as the "
            f"base-60 number {number}; quote it)"
            if value == number and 0 <= number <= 24 * 60
            else ""
        )
        raise ValueError(f'a time of day is "HH:MM" text, not the number {value}{hint}')
    return value


ClockTime = Annotated[
    str,
    BeforeValidator(not_a_base60_number),
    StringConstraints(pattern=r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$"),
]
OpenInterval = tuple[ClockTime, ClockTime]


def minutes_of(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def _check_intervals(intervals: list[OpenInterval]) -> list[OpenInterval]:
    spans = sorted((minutes_of(start), minutes_of(end), start, end) for start, end in intervals)
    for start, end, start_text, end_text in spans:
        if start >= end:
            raise ValueError(
                f"interval {start_text}-{end_text} ends before it starts; split hours that "
                "cross midnight into ...-24:00 and 00:00-... on the next day"
            )
    for (_, end, _, end_text), (start, _, start_text, _) in pairwise(spans):
        if start < end:
            raise ValueError(f"intervals overlap: one ends at {end_text}, one starts {start_text}")
    return intervals


class WeeklySchedule(BaseModel):
    # defer_build: validators built on first use, not at import (cold starts).
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    mon: list[OpenInterval] = Field(default_factory=list)
    tue: list[OpenInterval] = Field(default_factory=list)
    wed: list[OpenInterval] = Field(default_factory=list)
    thu: list[OpenInterval] = Field(default_factory=list)
    fri: list[OpenInterval] = Field(default_factory=list)
    sat: list[OpenInterval] = Field(default_factory=list)
    sun: list[OpenInterval] = Field(default_factory=list)

    _intervals = field_validator(*WEEKDAYS)(_check_intervals)

    def intervals_on(self, weekday: int) -> list[OpenInterval]:
        """The open intervals of ``date.weekday()`` ``weekday`` (0 = Monday)."""
        intervals: list[OpenInterval] = getattr(self, WEEKDAYS[weekday])
        return intervals


class BusinessHours(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    time_zone: TimeZoneName = DEFAULT_TIME_ZONE
    weekly: WeeklySchedule = Field(default_factory=WeeklySchedule)
    closed_dates: list[date] = Field(default_factory=list)  # holidays, in local dates

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)  # ZoneInfo caches instances by key

    def is_open(self, at: datetime) -> bool:
        """Whether the shop is open at the aware instant ``at``."""
        if at.tzinfo is None:
            raise ValueError("business hours need an aware datetime")
        local = at.astimezone(self.zone)
        if local.date() in self.closed_dates:
            return False
        minute = local.hour * 60 + local.minute
        return any(
            minutes_of(start) <= minute < minutes_of(end)
            for start, end in self.weekly.intervals_on(local.weekday())
        )
