"""The rules that turn what happened to a friend into report counters (docs/tracking.md,
"Conversions and blocks").

- **Block:** an unfollow at most ``BLOCK_WINDOW_HOURS`` after the friend's last delivery
  (``TRACK#LASTSENT``) counts ``blocks`` on that delivery's campaign and variant.
- **Conversion:** a purchase at most the attribution window (default
  ``DEFAULT_ATTRIBUTION_WINDOW_DAYS``, per channel) after the friend's last click
  (``TRACK#LASTCLICK``) counts ``conversions`` and ``revenue`` on the clicked campaign and
  variant (last click wins). A purchase within the window after the friend's last
  delivery counts ``exposed_conversions``/``exposed_revenue`` on it (clicked or not), and
  within the window after a holdout draw (``TRACK#HOLDOUT``) on the holdout variant.

"After" is inclusive at both ends: 0 ≤ event − marker ≤ window. An event earlier than
the marker (it arrived late) is not credited to it.

Pure logic: no AWS, no clock (times are passed in).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, Final, Protocol

from pydantic import BaseModel, ConfigDict, Field

from linecrm.domain import stats

BLOCK_WINDOW: Final = timedelta(hours=stats.BLOCK_WINDOW_HOURS)
MAX_ATTRIBUTION_WINDOW_DAYS: Final = 90
# The channel setting (``SETTINGS`` item) holding ``AttributionSettings`` as JSON.
ATTRIBUTION_SETTING: Final = "attribution"
# An order id longer than this (or not text/integer) is not used: the idempotency key is.
MAX_ORDER_ID_LENGTH: Final = 128
PURCHASE_EVENT: Final = "purchase"


class AttributionSettings(BaseModel):
    """How long after a click (or a delivery, or a holdout draw) a purchase is credited."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    window_days: int = Field(
        default=stats.DEFAULT_ATTRIBUTION_WINDOW_DAYS,
        ge=1,
        le=MAX_ATTRIBUTION_WINDOW_DAYS,
        strict=True,
        description="Days after a click within which a purchase is attributed to it",
    )

    @property
    def window(self) -> timedelta:
        return timedelta(days=self.window_days)


def stored_attribution(settings: Mapping[str, Any]) -> AttributionSettings:
    """The channel's setting (the defaults when unset) from its ``SETTINGS`` values."""
    raw = settings.get(ATTRIBUTION_SETTING)
    return AttributionSettings.model_validate_json(raw) if raw else AttributionSettings()


class Stamped(Protocol):
    """A tracking marker: which campaign (and variant) and when."""

    @property
    def campaign(self) -> str: ...
    @property
    def variant(self) -> str | None: ...
    @property
    def at(self) -> datetime: ...


def within(marker_at: datetime, event_at: datetime, window: timedelta) -> bool:
    """``event_at`` is at most ``window`` after ``marker_at`` (and not before it)."""
    return timedelta(0) <= event_at - marker_at <= window


def is_block(last_sent: Stamped | None, unfollowed_at: datetime) -> bool:
    return last_sent is not None and within(last_sent.at, unfollowed_at, BLOCK_WINDOW)


def local_day(at: datetime, zone: tzinfo) -> date:
    """The day counters' day: ``at`` in the account's time zone."""
    return at.astimezone(zone).date()


def purchase_amount(value: Any) -> int:
    """Revenue in the minor unit (yen): the event's ``value`` rounded; 0 when missing,
    not a finite number, or negative (a refund is not a purchase)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    if not math.isfinite(value) or value <= 0:
        return 0
    return round(value)


def order_key(properties: Mapping[str, Any], idempotency_key: str) -> str:
    """What makes two purchase events one order: ``properties.order_id`` when the shop
    gives one (the web tag and the shop's server may both report an order, under
    different idempotency keys), else the event's idempotency key."""
    order_id = properties.get("order_id")
    if isinstance(order_id, int) and not isinstance(order_id, bool):
        order_id = str(order_id)
    if isinstance(order_id, str) and 0 < len(order_id) <= MAX_ORDER_ID_LENGTH:
        return f"order:{order_id}"
    return f"key:{idempotency_key}"


CampaignVariant = tuple[str, str | None]


@dataclass
class Credits:
    """Increments per campaign and variant, and for the day: merged, so one item is
    written once (a transaction refuses two writes of one item)."""

    campaigns: dict[CampaignVariant, dict[str, int]] = field(default_factory=dict)
    day: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, campaign: str, variant: str | None, increments: Mapping[str, int]) -> None:
        counts = self.campaigns.setdefault((campaign, variant), {})
        for name, value in increments.items():
            counts[name] = counts.get(name, 0) + value

    def add_day(self, increments: Mapping[str, int]) -> None:
        for name, value in increments.items():
            self.day[name] = self.day.get(name, 0) + value


def unfollow_credits(last_sent: Stamped | None, unfollowed_at: datetime) -> Credits:
    credits = Credits()
    credits.add_day({stats.UNFOLLOWS: 1})
    if last_sent is not None and is_block(last_sent, unfollowed_at):
        credits.add(last_sent.campaign, last_sent.variant, {stats.BLOCKS: 1})
        credits.add_day({stats.BLOCKS: 1})
        credits.notes.append(f"block counted on {last_sent.campaign}")
    return credits


def purchase_credits(
    *,
    amount: int,
    purchased_at: datetime,
    window: timedelta,
    last_click: Stamped | None,
    last_sent: Stamped | None,
    holdout: Stamped | None,
) -> Credits:
    credits = Credits()
    if last_click is not None and within(last_click.at, purchased_at, window):
        conversion = {stats.CONVERSIONS: 1, stats.REVENUE: amount}
        credits.add(last_click.campaign, last_click.variant, conversion)
        credits.add_day(conversion)
        credits.notes.append(f"conversion attributed to {last_click.campaign}")
    exposed = {stats.EXPOSED_CONVERSIONS: 1, stats.EXPOSED_REVENUE: amount}
    if last_sent is not None and within(last_sent.at, purchased_at, window):
        credits.add(last_sent.campaign, last_sent.variant, exposed)
    if holdout is not None and within(holdout.at, purchased_at, window):
        held_out = {stats.CONVERSIONS: 1, stats.REVENUE: amount, **exposed}
        credits.add(holdout.campaign, stats.HOLDOUT_VARIANT, held_out)
        credits.notes.append(f"holdout conversion on {holdout.campaign}")
    return credits
