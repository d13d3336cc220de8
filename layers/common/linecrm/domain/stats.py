"""The report counters' names and the rates computed from them.

Counters are integers kept as things happen (``linecrm.repositories.campaign_stats``);
money is in the currency's minor unit (yen) as an integer. A rate is a fraction in
0..1, or None when its denominator is zero (a report says "no data", not 0 %).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

# Per campaign and variant ----------------------------------------------------------
SENT: Final = "sent"  # recipients a send reached
CLICKS: Final = "clicks"  # every counted click
UNIQUE_CLICKS: Final = "unique_clicks"  # a friend's first click on the campaign
CONVERSIONS: Final = "conversions"  # purchases attributed to the campaign
REVENUE: Final = "revenue"  # their amounts, in the minor unit
BLOCKS: Final = "blocks"  # unfollows within BLOCK_WINDOW of the friend's last delivery
HELD_OUT: Final = "held_out"  # friends of the holdout group (variant HOLDOUT_VARIANT)
# Purchases within the attribution window after the friend was reached by (or, on the
# holdout variant, held out of) the campaign, clicked or not: the A/B and holdout
# comparison (``conversions`` above is last-click attribution, for the reports).
EXPOSED_CONVERSIONS: Final = "exposed_conversions"
EXPOSED_REVENUE: Final = "exposed_revenue"

HOLDOUT_VARIANT: Final = "holdout"

CAMPAIGN_COUNTERS: Final = (
    SENT,
    CLICKS,
    UNIQUE_CLICKS,
    CONVERSIONS,
    REVENUE,
    BLOCKS,
    HELD_OUT,
    EXPOSED_CONVERSIONS,
    EXPOSED_REVENUE,
)

# Per day (the account's time zone) -----------------------------------------------
FRIENDS_ADDED: Final = "friends_added"
UNFOLLOWS: Final = "unfollows"

DAY_COUNTERS: Final = (
    SENT,
    CLICKS,
    UNIQUE_CLICKS,
    CONVERSIONS,
    REVENUE,
    BLOCKS,
    FRIENDS_ADDED,
    UNFOLLOWS,
)

BLOCK_WINDOW_HOURS: Final = 24
DEFAULT_ATTRIBUTION_WINDOW_DAYS: Final = 7


def rate(numerator: int, denominator: int) -> float | None:
    """``numerator / denominator``, or None when there is nothing to divide by."""
    return numerator / denominator if denominator > 0 else None


def ctr(counts: Mapping[str, int]) -> float | None:
    """Click-through rate: friends who clicked per friend reached."""
    return rate(counts.get(UNIQUE_CLICKS, 0), counts.get(SENT, 0))


def cvr(counts: Mapping[str, int]) -> float | None:
    """Conversion rate: attributed purchases per friend reached."""
    return rate(counts.get(CONVERSIONS, 0), counts.get(SENT, 0))


def block_rate(counts: Mapping[str, int]) -> float | None:
    """Blocks within the block window per friend reached."""
    return rate(counts.get(BLOCKS, 0), counts.get(SENT, 0))
