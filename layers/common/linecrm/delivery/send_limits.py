"""What limits a channel's sends: its send rate, and whether its monthly quota is gone.

Both live on the channel's SETTINGS item (``ChannelConfigRepository.set_setting``):

- ``send_rate_per_second``: a number, or ``{"push": …, "multicast": …, "reply": …}``
  (see ``pacing.SendRates``); absent = 90 % of LINE's published limits.
- ``quota_exhausted_until``: written by the sender on LINE's first "monthly limit"
  429, once per month (conditional write): the start of the next month in the
  account's time zone, when LINE's quota starts over. Until then marketing deliveries
  of the channel are skipped without a LINE call.

The sender reads them through ``ChannelSendLimitsCache`` (one GetItem per channel
every 30 s per execution environment).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from linecrm.delivery.pacing import SendRates
from linecrm.repositories.dynamo import iso

SEND_RATE_SETTING = "send_rate_per_second"
QUOTA_EXHAUSTED_SETTING = "quota_exhausted_until"
SETTINGS_TTL = timedelta(seconds=30)


def next_quota_period(now: datetime, time_zone: str) -> datetime:
    """When the monthly message quota starts over: the 1st of next month, 00:00 in
    ``time_zone`` (LINE counts the quota per calendar month in Japan time)."""
    local = now.astimezone(ZoneInfo(time_zone))
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return datetime(year, month, 1, tzinfo=ZoneInfo(time_zone)).astimezone(UTC)


@dataclass(frozen=True)
class ChannelSendLimits:
    rates: SendRates = field(default_factory=SendRates)
    quota_exhausted_until: datetime | None = None

    def quota_exhausted(self, now: datetime) -> bool:
        return self.quota_exhausted_until is not None and now < self.quota_exhausted_until


def parse_send_limits(
    settings: Mapping[str, Any], on_invalid: Callable[[str, Exception], None] | None = None
) -> ChannelSendLimits:
    """The limits from the SETTINGS item's (JSON-encoded) values.

    A malformed value (hand-edited) falls back to its default and is reported to
    ``on_invalid``: a bad rate must not stop the channel's sends.
    """
    rates = SendRates()
    until: datetime | None = None
    if settings.get(SEND_RATE_SETTING) is not None:
        try:
            rates = SendRates.from_setting(_decoded(settings[SEND_RATE_SETTING]))
        except (ValueError, TypeError) as error:
            if on_invalid:
                on_invalid(SEND_RATE_SETTING, error)
    if settings.get(QUOTA_EXHAUSTED_SETTING) is not None:
        try:
            until = datetime.fromisoformat(_decoded(settings[QUOTA_EXHAUSTED_SETTING]))
            if until.tzinfo is None:
                raise ValueError("a time without a time zone")
        except (ValueError, TypeError) as error:
            until = None
            if on_invalid:
                on_invalid(QUOTA_EXHAUSTED_SETTING, error)
    return ChannelSendLimits(rates, until)


def _decoded(raw: Any) -> Any:
    """``set_setting`` stores JSON text; a value typed into the DynamoDB console as a
    number or map arrives decoded already."""
    return json.loads(raw) if isinstance(raw, str) else raw


class SendSettingsStore(Protocol):
    """What the cache needs of ``ChannelConfigRepository``."""

    def load_settings(self, channel_id: str) -> dict[str, Any]: ...

    def advance_setting(self, channel_id: str, name: str, value: str) -> bool: ...


class ChannelSendLimitsCache:
    """Per-channel send limits, reloaded at most every ``ttl``; this environment's own
    quota discovery applies at once (others see it within the ttl)."""

    def __init__(
        self,
        store: SendSettingsStore,
        clock: Callable[[], datetime],
        ttl: timedelta = SETTINGS_TTL,
    ) -> None:
        self._store = store
        self._clock = clock
        self._ttl = ttl
        self._cache: dict[str, tuple[datetime, ChannelSendLimits]] = {}

    def get(self, channel_id: str) -> ChannelSendLimits:
        now = self._clock()
        cached = self._cache.get(channel_id)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        limits = parse_send_limits(
            self._store.load_settings(channel_id),
            on_invalid=lambda name, error: _log_invalid(channel_id, name, error),
        )
        self._cache[channel_id] = (now, limits)
        return limits

    def record_quota_exhausted(self, channel_id: str, until: datetime) -> bool:
        """Remember that the quota is gone until ``until``; True if this call was the
        first to store it for that period (the others find it written)."""
        first = self._store.advance_setting(
            channel_id, QUOTA_EXHAUSTED_SETTING, iso(until.astimezone(UTC))
        )
        limits = self.get(channel_id)
        self._cache[channel_id] = (self._clock(), replace(limits, quota_exhausted_until=until))
        return first


def _log_invalid(channel_id: str, name: str, error: Exception) -> None:
    from linecrm.observability import logger

    logger.error(
        "ignoring an invalid channel setting",
        extra={"channel_id": channel_id, "setting": name, "error": str(error)},
    )
