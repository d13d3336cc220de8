"""Delivery policy: quiet hours and marketing caps in the account's time zone."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from linecrm.domain.delivery_policy import (
    Defer,
    DeliveryPolicy,
    SendNow,
    SentCounts,
    Skip,
    first_instant_at,
)

JST = timezone(timedelta(hours=9))
NONE_SENT = SentCounts(day=0, week=0)
DOCS = Path(__file__).resolve().parents[3] / "docs"


def policy(**settings: Any) -> DeliveryPolicy:
    return DeliveryPolicy.model_validate(settings)


NIGHT = policy(quiet_hours={"start": "21:00", "end": "09:00"})
CAPPED = policy(marketing_caps={"per_day": 2, "per_week": 5})


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def test_defaults() -> None:
    default = DeliveryPolicy()

    assert default.time_zone == "Asia/Tokyo"
    assert default.marketing_caps is None
    assert default.quiet_hours is None
    assert default.when_capped == "skip"
    assert default.decide("marketing", utc(2026, 11, 23, 14), SentCounts(99, 99)) == SendNow()


@pytest.mark.parametrize(
    "settings",
    [
        {"quiet_hours": {"start": "21:00", "end": "21:00"}},
        {"quiet_hours": {"start": "21:00", "end": "24:00"}},
        {"quiet_hours": {"start": "9:00", "end": "21:00"}},
        {"quiet_hours": {"start": "21:00"}},
        {"marketing_caps": {"per_day": 0}},
        {"marketing_caps": {"per_week": -1}},
        {"marketing_caps": {"per_month": 10}},
        {"when_capped": "drop"},
        {"time_zone": "Japan/Osaka"},
        {"quiet": {"start": "21:00", "end": "09:00"}},
    ],
)
def test_invalid_policies(settings: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        policy(**settings)


def test_equal_quiet_hours_say_why() -> None:
    with pytest.raises(ValidationError, match="start and end are both 21:00"):
        policy(quiet_hours={"start": "21:00", "end": "21:00"})


# ---------------------------------------------------------------- quiet hours


@pytest.mark.parametrize(
    ("at", "until"),
    [
        # 11:59 UTC = 20:59 in Tokyo: before quiet hours.
        (utc(2026, 11, 23, 11, 59), None),
        # 12:00 UTC = 21:00 Tokyo, the start (inclusive): until 09:00 Tokyo tomorrow.
        (utc(2026, 11, 23, 12, 0), utc(2026, 11, 24, 0, 0)),
        # 14:59 UTC = 23:59 Tokyo: still ends tomorrow morning.
        (utc(2026, 11, 23, 14, 59), utc(2026, 11, 24, 0, 0)),
        # 15:00 UTC = 00:00 Tokyo on the 24th: ends that same local morning.
        (utc(2026, 11, 23, 15, 0), utc(2026, 11, 24, 0, 0)),
        # 23:59:59 UTC = 08:59:59 Tokyo: one second to go.
        (utc(2026, 11, 23, 23, 59, 59), utc(2026, 11, 24, 0, 0)),
        # 00:00 UTC = 09:00 Tokyo, the end (exclusive): allowed.
        (utc(2026, 11, 24, 0, 0), None),
    ],
)
def test_quiet_hours_across_midnight_from_utc_inputs(at: datetime, until: datetime | None) -> None:
    decision = NIGHT.decide("marketing", at, NONE_SENT)

    if until is None:
        assert decision == SendNow()
        assert NIGHT.next_allowed_time(at) == at
    else:
        assert decision == Defer(until, "quiet hours 21:00-09:00")
        assert NIGHT.next_allowed_time(at) == until
        assert until.astimezone(JST).time() == time(9, 0)


def test_deferral_times_are_utc() -> None:
    decision = NIGHT.decide("marketing", datetime(2026, 11, 23, 22, 30, tzinfo=JST), NONE_SENT)

    assert isinstance(decision, Defer)
    assert decision.until.tzinfo is UTC
    assert decision.until == datetime(2026, 11, 24, 9, 0, tzinfo=JST)


def test_quiet_hours_within_one_day() -> None:
    lunch = policy(quiet_hours={"start": "12:00", "end": "13:00"})

    assert lunch.decide("marketing", datetime(2026, 11, 23, 11, 59, tzinfo=JST), NONE_SENT) == (
        SendNow()
    )
    assert lunch.decide("marketing", datetime(2026, 11, 23, 12, 0, tzinfo=JST), NONE_SENT) == (
        Defer(datetime(2026, 11, 23, 13, 0, tzinfo=JST), "quiet hours 12:00-13:00")
    )
    assert lunch.decide("marketing", datetime(2026, 11, 23, 13, 0, tzinfo=JST), NONE_SENT) == (
        SendNow()
    )


def test_quiet_hours_ending_at_midnight() -> None:
    late = policy(quiet_hours={"start": "22:00", "end": "00:00"})

    decision = late.decide("marketing", datetime(2026, 11, 23, 23, 0, tzinfo=JST), NONE_SENT)

    assert decision == Defer(datetime(2026, 11, 24, 0, 0, tzinfo=JST), "quiet hours 22:00-00:00")
    assert late.decide("marketing", datetime(2026, 11, 24, 0, 0, tzinfo=JST), NONE_SENT) == (
        SendNow()
    )


def test_transactional_messages_bypass_quiet_hours_and_caps() -> None:
    strict = policy(
        quiet_hours={"start": "21:00", "end": "09:00"},
        marketing_caps={"per_day": 1, "per_week": 1},
        when_capped="skip",
    )
    midnight = datetime(2026, 11, 24, 0, 30, tzinfo=JST)

    decision = strict.decide("transactional", midnight, SentCounts(day=10, week=10))

    assert isinstance(decision, SendNow)
    assert "transactional" in decision.reason


# ---------------------------------------------------------------- caps


def test_daily_cap() -> None:
    at = datetime(2026, 11, 25, 12, 0, tzinfo=JST)  # a Wednesday

    assert CAPPED.decide("marketing", at, SentCounts(day=1, week=1)) == SendNow()
    assert CAPPED.decide("marketing", at, SentCounts(day=2, week=2)) == Skip("daily cap 2 reached")


def test_weekly_cap() -> None:
    at = datetime(2026, 11, 25, 12, 0, tzinfo=JST)

    assert CAPPED.decide("marketing", at, SentCounts(day=0, week=4)) == SendNow()
    assert CAPPED.decide("marketing", at, SentCounts(day=0, week=5)) == Skip("weekly cap 5 reached")
    # Both reached: the weekly cap binds (only next week has room).
    assert CAPPED.decide("marketing", at, SentCounts(day=2, week=5)) == Skip("weekly cap 5 reached")


def test_caps_are_optional_one_by_one() -> None:
    at = datetime(2026, 11, 25, 12, 0, tzinfo=JST)
    daily_only = policy(marketing_caps={"per_day": 2})
    weekly_only = policy(marketing_caps={"per_week": 5})

    assert daily_only.decide("marketing", at, SentCounts(day=1, week=40)) == SendNow()
    assert weekly_only.decide("marketing", at, SentCounts(day=4, week=4)) == SendNow()


def test_defer_when_capped_goes_to_the_next_day_or_week() -> None:
    deferring = policy(marketing_caps={"per_day": 2, "per_week": 5}, when_capped="defer")
    wednesday_noon = datetime(2026, 11, 25, 12, 0, tzinfo=JST)

    assert deferring.decide("marketing", wednesday_noon, SentCounts(day=2, week=3)) == Defer(
        datetime(2026, 11, 26, 0, 0, tzinfo=JST), "daily cap 2 reached"
    )
    assert deferring.decide("marketing", wednesday_noon, SentCounts(day=0, week=5)) == Defer(
        datetime(2026, 11, 30, 0, 0, tzinfo=JST),
        "weekly cap 5 reached",  # next Monday
    )


def test_deferred_caps_wait_for_the_end_of_quiet_hours() -> None:
    deferring = policy(
        marketing_caps={"per_day": 2, "per_week": 5},
        quiet_hours={"start": "21:00", "end": "09:00"},
        when_capped="defer",
    )
    wednesday_noon_utc = utc(2026, 11, 25, 3, 0)  # 12:00 in Tokyo

    assert deferring.decide("marketing", wednesday_noon_utc, SentCounts(day=2, week=2)) == Defer(
        utc(2026, 11, 26, 0, 0),
        "daily cap 2 reached",  # Thursday 09:00 Tokyo
    )
    assert deferring.decide("marketing", wednesday_noon_utc, SentCounts(day=0, week=5)) == Defer(
        utc(2026, 11, 30, 0, 0),
        "weekly cap 5 reached",  # Monday 09:00 Tokyo
    )


def test_quiet_hours_are_decided_before_caps() -> None:
    # At 23:00 the day's cap is full, but the message could only go out tomorrow anyway,
    # when the daily count starts again: defer, do not skip.
    strict = policy(
        marketing_caps={"per_day": 2},
        quiet_hours={"start": "21:00", "end": "09:00"},
        when_capped="skip",
    )

    decision = strict.decide(
        "marketing", datetime(2026, 11, 25, 23, 0, tzinfo=JST), SentCounts(2, 2)
    )

    assert decision == Defer(datetime(2026, 11, 26, 9, 0, tzinfo=JST), "quiet hours 21:00-09:00")


def test_week_boundary_sunday_night_to_monday() -> None:
    deferring = policy(marketing_caps={"per_week": 5}, when_capped="defer")
    sunday_2359 = datetime(2026, 11, 22, 23, 59, tzinfo=JST)
    monday_0000 = datetime(2026, 11, 23, 0, 0, tzinfo=JST)

    assert deferring.week_key(sunday_2359) == "2026-W47"
    assert deferring.week_key(monday_0000) == "2026-W48"
    assert deferring.day_key(sunday_2359) == "2026-11-22"
    assert deferring.day_key(monday_0000) == "2026-11-23"
    # Sunday 23:59 with the week full: one minute to wait.
    assert deferring.decide("marketing", sunday_2359, SentCounts(day=1, week=5)) == Defer(
        monday_0000, "weekly cap 5 reached"
    )
    # Monday 00:00 counts a new week (the caller looks the counters up by week_key).
    assert deferring.decide("marketing", monday_0000, NONE_SENT) == SendNow()


def test_daily_cap_on_sunday_defers_to_monday() -> None:
    deferring = policy(marketing_caps={"per_day": 2, "per_week": 5}, when_capped="defer")
    sunday_noon = datetime(2026, 11, 22, 12, 0, tzinfo=JST)

    assert deferring.decide("marketing", sunday_noon, SentCounts(day=2, week=2)) == Defer(
        datetime(2026, 11, 23, 0, 0, tzinfo=JST), "daily cap 2 reached"
    )


def test_period_keys_are_local_to_the_policy_time_zone() -> None:
    # 14:59 UTC on Sunday 22 is 23:59 Sunday in Tokyo; 15:00 UTC is Monday 00:00.
    assert NIGHT.day_key(utc(2026, 11, 22, 14, 59)) == "2026-11-22"
    assert NIGHT.day_key(utc(2026, 11, 22, 15, 0)) == "2026-11-23"
    assert NIGHT.week_key(utc(2026, 11, 22, 14, 59)) == "2026-W47"
    assert NIGHT.week_key(utc(2026, 11, 22, 15, 0)) == "2026-W48"
    # The same instants in New York are still Sunday.
    new_york = policy(time_zone="America/New_York")
    assert new_york.week_key(utc(2026, 11, 22, 15, 0)) == "2026-W47"


def test_week_keys_use_iso_week_years() -> None:
    # January 1, 2027 is a Friday: it belongs to the last ISO week of 2026.
    assert NIGHT.week_key(datetime(2027, 1, 1, 12, 0, tzinfo=JST)) == "2026-W53"
    assert NIGHT.week_key(datetime(2027, 1, 4, 0, 0, tzinfo=JST)) == "2027-W01"


# ---------------------------------------------------------------- daylight saving

NEW_YORK = ZoneInfo("America/New_York")


def test_quiet_hours_in_a_zone_with_daylight_saving() -> None:
    night = policy(time_zone="America/New_York", quiet_hours={"start": "22:00", "end": "07:00"})

    # In winter 07:00 in New York is 12:00 UTC; in summer 11:00 UTC.
    assert night.next_allowed_time(utc(2026, 1, 15, 5, 0)) == utc(2026, 1, 15, 12, 0)
    assert night.next_allowed_time(utc(2026, 7, 15, 5, 0)) == utc(2026, 7, 15, 11, 0)
    # The night the clocks spring forward (March 8, 2026): 00:00 EST, ends 07:00 EDT.
    assert night.next_allowed_time(utc(2026, 3, 8, 5, 0)) == utc(2026, 3, 8, 11, 0)
    # The night they fall back (November 1, 2026): 00:00 EDT, ends 07:00 EST.
    assert night.next_allowed_time(utc(2026, 11, 1, 4, 0)) == utc(2026, 11, 1, 12, 0)


def test_quiet_hours_ending_inside_the_spring_forward_gap() -> None:
    # 02:30 does not exist on March 8, 2026 in New York (02:00 EST -> 03:00 EDT): the
    # first allowed instant is the end of the gap, 03:00 EDT = 07:00 UTC.
    odd = policy(time_zone="America/New_York", quiet_hours={"start": "00:00", "end": "02:30"})

    assert odd.next_allowed_time(utc(2026, 3, 8, 6, 30)) == utc(2026, 3, 8, 7, 0)
    assert not odd.is_quiet(utc(2026, 3, 8, 7, 0))


def test_quiet_hours_ending_in_the_repeated_hour() -> None:
    # On November 1, 2026 New York lives 01:00-02:00 twice (EDT, then EST).
    odd = policy(time_zone="America/New_York", quiet_hours={"start": "00:00", "end": "01:30"})

    # 01:00 EDT (05:00 UTC): ends at the first 01:30, EDT.
    assert odd.next_allowed_time(utc(2026, 11, 1, 5, 0)) == utc(2026, 11, 1, 5, 30)
    # 01:15 EST (06:15 UTC), the second time round: ends at the second 01:30.
    assert odd.next_allowed_time(utc(2026, 11, 1, 6, 15)) == utc(2026, 11, 1, 6, 30)


def test_falling_back_out_of_quiet_hours_ends_them() -> None:
    # Quiet 01:30-02:30 in New York. At 01:59 EDT (05:59 UTC) on November 1, 2026 the
    # clock falls back to 01:00 EST at 06:00 UTC: outside quiet hours, so allowed then,
    # not at 02:30 EST.
    odd = policy(time_zone="America/New_York", quiet_hours={"start": "01:30", "end": "02:30"})

    assert odd.next_allowed_time(utc(2026, 11, 1, 5, 59)) == utc(2026, 11, 1, 6, 0)
    # The second 01:30 is quiet again, until 02:30 EST.
    assert odd.next_allowed_time(utc(2026, 11, 1, 6, 30)) == utc(2026, 11, 1, 7, 30)


def test_first_instant_at() -> None:
    assert first_instant_at(date(2026, 3, 8), time(2, 0), NEW_YORK) == utc(2026, 3, 8, 7, 0)
    # 02:30 is skipped that night: the first instant at or after it is the gap's end.
    assert first_instant_at(date(2026, 3, 8), time(2, 30), NEW_YORK) == utc(2026, 3, 8, 7, 0)
    assert first_instant_at(date(2026, 3, 8), time(1, 59), NEW_YORK) == utc(2026, 3, 8, 6, 59)
    assert first_instant_at(date(2026, 11, 1), time(1, 30), NEW_YORK) == utc(2026, 11, 1, 5, 30)
    santiago = ZoneInfo("America/Santiago")  # clocks skip midnight in September
    assert first_instant_at(date(2026, 9, 6), time(0, 0), santiago) == utc(2026, 9, 6, 4, 0)


ZONES = ["Asia/Tokyo", "America/New_York", "Europe/London", "Australia/Sydney"]
QUIET_SPANS = [
    ("21:00", "09:00"),
    ("12:00", "13:00"),
    ("22:00", "00:00"),
    ("00:00", "02:30"),  # ends inside New York's spring-forward gap
    ("00:00", "01:30"),  # ends inside New York's repeated hour
    ("01:30", "02:30"),
    ("02:15", "03:00"),  # inside Sydney's and Europe's switching hours
]


def offset_changes(zone: str, year: int) -> list[datetime]:
    """The UTC hours of ``year`` at which ``zone``'s UTC offset changes (DST switches)."""
    tz = ZoneInfo(zone)
    hours = [datetime(year, 1, 1, tzinfo=UTC) + timedelta(hours=h) for h in range(366 * 24)]
    return [
        b
        for a, b in itertools.pairwise(hours)
        if a.astimezone(tz).utcoffset() != b.astimezone(tz).utcoffset()
    ]


DST_SWITCHES = [(zone, moment) for zone in ZONES for moment in offset_changes(zone, 2026)]
anywhere_any_time = st.tuples(
    st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
    ),
    st.sampled_from(ZONES),
)
# Hours around a zone's own DST switch, where the wall clock skips or repeats.
around_a_switch = st.builds(
    lambda switch, minutes: (switch[1] + timedelta(minutes=minutes), switch[0]),
    st.sampled_from(DST_SWITCHES),
    st.integers(-4 * 60, 4 * 60),
)


def test_the_dst_switches_are_found() -> None:
    assert ("America/New_York", utc(2026, 3, 8, 7)) in DST_SWITCHES  # spring forward
    assert ("America/New_York", utc(2026, 11, 1, 6)) in DST_SWITCHES  # fall back
    assert len(DST_SWITCHES) == 6  # two each, none in Tokyo


@settings(max_examples=600, deadline=None)
@given(st.one_of(anywhere_any_time, around_a_switch), st.sampled_from(QUIET_SPANS))
def test_next_allowed_time_is_the_first_allowed_instant(
    at_and_zone: tuple[datetime, str], span: tuple[str, str]
) -> None:
    at, zone = at_and_zone
    quiet = policy(time_zone=zone, quiet_hours={"start": span[0], "end": span[1]})

    allowed = quiet.next_allowed_time(at)

    assert allowed >= at
    assert not quiet.is_quiet(allowed)
    assert allowed - at <= timedelta(hours=13)
    # Every minute from ``at`` until then is quiet, and so is the second before it:
    # no earlier chance was missed.
    moment = at
    while moment < allowed:
        assert quiet.is_quiet(moment)
        moment += timedelta(minutes=1)
    if allowed > at:
        assert quiet.is_quiet(allowed - timedelta(seconds=1))


def test_decisions_need_aware_datetimes() -> None:
    with pytest.raises(ValueError, match="aware"):
        NIGHT.decide("marketing", datetime(2026, 11, 23, 12, 0), NONE_SENT)
    with pytest.raises(ValueError, match="aware"):
        NIGHT.day_key(datetime(2026, 11, 23, 12, 0))


# ---------------------------------------------------------------- the user docs


def test_the_yaml_example_in_the_docs_is_a_valid_policy() -> None:
    markdown = (DOCS / "delivery-policy.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", markdown, flags=re.DOTALL)
    assert blocks
    for block in blocks:
        document = yaml.safe_load(block)
        DeliveryPolicy.model_validate(document["delivery_policy"])
