"""Clocks for the local stack: the scheduler runner asks one what time it is."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class MovableClock:
    """Real time from a movable point: dev mode ticks naturally, tests jump ahead.

    ``advance`` and ``set`` move the point, so time keeps flowing from there. ``rate``
    speeds the flow up for demos (``LINECRM_CLOCK_SPEED=60``: a minute per second, so a
    "day 1" step comes after 24 real minutes); tests keep 1.
    """

    def __init__(self, start: datetime | None = None, *, rate: float = 1.0) -> None:
        if rate <= 0:
            raise ValueError("a clock's rate is a positive number")
        self._lock = threading.Lock()
        self._rate = rate
        self._real_anchor = datetime.now(UTC)
        self._anchor = self._real_anchor
        if start is not None:
            self.set(start)

    def now(self) -> datetime:
        real = datetime.now(UTC)
        with self._lock:
            return self._anchor + (real - self._real_anchor) * self._rate

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._anchor += delta
        return self.now()

    def set(self, moment: datetime) -> None:
        if moment.tzinfo is None:
            raise ValueError("MovableClock.set needs a timezone-aware datetime")
        real = datetime.now(UTC)
        with self._lock:
            self._real_anchor = real
            self._anchor = moment
