"""Delivery hygiene: marketing frequency caps and quiet hours, per channel.

``DeliveryPolicy.decide`` says what to do with one message to one friend at an instant:

- Transactional messages (order confirmations, replies the friend asked for, login
  links) are always sent now: the friend is waiting for them, so neither quiet hours
  nor caps apply, and they do not count towards the caps.
- A marketing message in quiet hours is deferred to the end of the quiet hours.
- Otherwise, when the friend has already had ``per_week`` marketing messages this
  local week, or ``per_day`` this local day, the message is skipped or deferred
  (``when_capped``) to the start of the next week or day, moved past quiet hours.
- Otherwise it is sent now.

Days and weeks are local to the policy's time zone; weeks start on Monday 00:00 (ISO
weeks). Counts are per friend and period (``day_key`` / ``week_key``); a deferred message
is decided again when it comes due, with the counts of that moment. (Two messages decided
at once see the same counts: the counter store must take the slot atomically, e.g. a
conditional increment below the cap, for a cap to hold under concurrency.) Every instant
returned is an aware UTC datetime.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Literal
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from linecrm.domain.business_hours import minutes_of, not_a_base60_number
from linecrm.domain.time_zones import DEFAULT_TIME_ZONE, TimeZoneName
from linecrm.models.send import MessageClass

MAX_CAP = 1_000

# "HH:MM", 00:00-23:59 (no "24:00": quiet hours that end at midnight end at "00:00").
QuietClock = Annotated[
    str,
    BeforeValidator(not_a_base60_number),
    StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$"),
]
CapCount = Annotated[int, Field(ge=1, le=MAX_CAP)]
WhenCapped = Literal["skip", "defer"]


class MarketingCaps(BaseModel):
    """At most ``per_day`` / ``per_week`` marketing messages per friend; None = no cap."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    per_day: CapCount | None = None
    per_week: CapCount | None = None


class QuietHours(BaseModel):
    """No marketing from ``start`` (inclusive) to ``end`` (exclusive), local time.

    ``start`` after ``end`` crosses midnight: 21:00-09:00 is quiet from 21:00 until
    09:00 the next morning.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    start: QuietClock
    end: QuietClock

    @model_validator(mode="after")
    def _not_empty(self) -> QuietHours:
        if self.start == self.end:
            raise ValueError(
                f"quiet hours start and end are both {self.start}; give a span such as "
                "21:00-09:00, or leave quiet_hours out for none"
            )
        return self

    @property
    def crosses_midnight(self) -> bool:
        return minutes_of(self.start) > minutes_of(self.end)

    def contains(self, local: time) -> bool:
        minute = local.hour * 60 + local.minute
        start, end = minutes_of(self.start), minutes_of(self.end)
        if start < end:
            return start <= minute < end
        return minute >= start or minute < end


@dataclass(frozen=True)
class SentCounts:
    """Marketing messages already sent to the friend in the local day / week of ``at``."""

    day: int
    week: int


@dataclass(frozen=True)
class SendNow:
    reason: str = "allowed"


@dataclass(frozen=True)
class Defer:
    until: datetime  # aware, UTC
    reason: str


@dataclass(frozen=True)
class Skip:
    reason: str


Decision = SendNow | Defer | Skip


class DeliveryPolicy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    time_zone: TimeZoneName = DEFAULT_TIME_ZONE
    marketing_caps: MarketingCaps | None = None
    quiet_hours: QuietHours | None = None
    when_capped: WhenCapped = "skip"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)  # ZoneInfo caches instances by key

    def local_time(self, at: datetime) -> str:
        """``at`` as people of the account read it: ``2026-12-01T10:00+09:00 (Asia/Tokyo)``."""
        _require_aware(at)
        return f"{at.astimezone(self.zone).isoformat(timespec='minutes')} ({self.time_zone})"

    # ------------------------------------------------------------ the decision
    def decide(
        self, message_class: MessageClass, at: datetime, sent_counts: SentCounts
    ) -> Decision:
        """Send now, defer or skip one message to one friend at the aware instant ``at``."""
        _require_aware(at)
        if message_class == "transactional":
            return SendNow("transactional: caps and quiet hours do not apply")
        quiet = self.quiet_hours
        if quiet is not None and self.is_quiet(at):
            return Defer(self.next_allowed_time(at), f"quiet hours {quiet.start}-{quiet.end}")
        capped = self._capped(at, sent_counts)
        if capped is None:
            return SendNow()
        reason, next_window = capped
        if self.when_capped == "skip":
            return Skip(reason)
        return Defer(self.next_allowed_time(next_window), reason)

    def _capped(self, at: datetime, sent: SentCounts) -> tuple[str, datetime] | None:
        """The binding cap's reason and the start of the next period, or None."""
        caps = self.marketing_caps
        if caps is None:
            return None
        local_day = at.astimezone(self.zone).date()
        # The weekly cap first: when both are reached, only next week has room.
        if caps.per_week is not None and sent.week >= caps.per_week:
            next_monday = local_day + timedelta(days=7 - local_day.weekday())
            return f"weekly cap {caps.per_week} reached", self._local_instant(next_monday, time(0))
        if caps.per_day is not None and sent.day >= caps.per_day:
            tomorrow = local_day + timedelta(days=1)
            return f"daily cap {caps.per_day} reached", self._local_instant(tomorrow, time(0))
        return None

    # ------------------------------------------------------------ time helpers
    def is_quiet(self, at: datetime) -> bool:
        _require_aware(at)
        return self.quiet_hours is not None and self.quiet_hours.contains(
            at.astimezone(self.zone).time()
        )

    def next_allowed_time(self, at: datetime) -> datetime:
        """``at`` itself (in UTC) outside quiet hours, else the first instant after them.

        That is when the local clock reaches the end of the quiet hours, or earlier if a
        DST switch moves the clock out of them first (falling back across their start).
        """
        _require_aware(at)
        quiet = self.quiet_hours
        if quiet is None or not self.is_quiet(at):
            return at.astimezone(UTC)
        local = at.astimezone(self.zone)
        # The evening part of hours that cross midnight ends tomorrow; any other part today.
        ends_tomorrow = quiet.crosses_midnight and local.time() >= time.fromisoformat(quiet.start)
        end_day = local.date() + timedelta(days=1 if ends_tomorrow else 0)
        end = self._local_instant(end_day, time.fromisoformat(quiet.end), after=at)
        switch = offset_switch(at, end, self.zone)
        if switch is not None and not self.is_quiet(switch):
            return switch
        return end

    def day_key(self, at: datetime) -> str:
        """The local day of ``at``, e.g. "2026-11-23": a per-friend counter's period."""
        _require_aware(at)
        return at.astimezone(self.zone).date().isoformat()

    def week_key(self, at: datetime) -> str:
        """The local ISO week of ``at`` (Monday to Sunday), e.g. "2026-W48"."""
        _require_aware(at)
        year, week, _ = at.astimezone(self.zone).date().isocalendar()
        return f"{year}-W{week:02d}"

    def _local_instant(self, day: date, clock: time, *, after: datetime | None = None) -> datetime:
        return first_instant_at(day, clock, self.zone, after=after)


def first_instant_at(
    day: date, clock: time, zone: ZoneInfo, *, after: datetime | None = None
) -> datetime:
    """The first UTC instant, later than ``after`` if given, whose local time in ``zone``
    is ``day`` ``clock`` or, when a DST gap skips that time, the end of the gap.

    A time repeated by a fall-back is its first occurrence, or the second when the first
    is not later than ``after``.
    """
    wall = datetime.combine(day, clock)
    first = wall.replace(tzinfo=zone).astimezone(UTC)
    second = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if _wall_time(first, zone) == wall:  # the time exists (once or twice)
        return first if after is None or first > after else second
    # Skipped by a spring-forward gap: fold=1 reads it with the offset after the gap,
    # which lands before the gap; fold=0 with the offset before, which lands after it.
    # The gap ends at the switch between the two.
    switch = offset_switch(second, first, zone)
    assert switch is not None  # a gap is a switch
    return switch


def offset_switch(start: datetime, stop: datetime, zone: ZoneInfo) -> datetime | None:
    """The instant in (``start``, ``stop``] at which ``zone``'s UTC offset changes, to the
    second, or None if it is the same at both ends.

    Assumes at most one switch in between: callers look less than two days ahead, and no
    zone switches twice in so short a time.
    """
    offset = start.astimezone(zone).utcoffset()
    if stop.astimezone(zone).utcoffset() == offset:
        return None
    low, high = start.astimezone(UTC), stop.astimezone(UTC)
    while high - low > timedelta(seconds=1):
        middle = low + (high - low) / 2
        if middle.astimezone(zone).utcoffset() == offset:
            low = middle
        else:
            high = middle
    # Switches fall on whole seconds: the whole second of ``high`` is it, unless that
    # second still has the old offset.
    switch = high.replace(microsecond=0)
    if switch.astimezone(zone).utcoffset() == offset:
        switch += timedelta(seconds=1)
    return switch


def _wall_time(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _require_aware(at: datetime) -> None:
    if at.tzinfo is None:
        raise ValueError("delivery decisions need an aware datetime")
