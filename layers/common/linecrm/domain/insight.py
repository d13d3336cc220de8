"""Opens and clicks as LINE counts them: aggregation units and LINE's statistics.

Every push and multicast of a campaign carries one custom aggregation unit
(``customAggregationUnits``), named from the campaign key by ``aggregation_unit_for``,
so LINE's insight API (``GET /v2/bot/insight/message/event/aggregation``) reports the
campaign's opens and URL taps later. A campaign sent through LINE's broadcast endpoint
(which takes no unit) is read by its request id (``GET /v2/bot/insight/message/event``).

LINE's rules we design around (developers.line.biz, "Get statistics of sent messages"):

- a unit name is 1..30 characters of ``[a-zA-Z0-9_]``, one unit per request;
- at most 1,000 different unit names per channel per calendar month; the 1,001st and
  later names are treated as if none was given (the message is still sent, LINE just
  does not count it): such a campaign reads as withheld for that month;
- a figure is ``null`` (withheld) when it is under 20, or when fewer than 20 users
  caused it: a campaign to fewer than 20 friends never has figures;
- figures keep changing for 14 days after a send, then freeze;
- a statistics period (``from``..``to``, dates in UTC+9) spans at most 30 days after
  ``from``;
- the insight endpoints allow 60 requests per hour per channel.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Final

UNIT_MAX_LENGTH: Final = 30
UNIT_PATTERN: Final = r"^[a-zA-Z0-9_]{1,30}$"
MONTHLY_UNIT_LIMIT: Final = 1000
PRIVACY_THRESHOLD: Final = 20  # LINE withholds (null) figures under 20 users
INTERACTION_WINDOW: Final = timedelta(days=14)  # figures change this long after a send
MAX_PERIOD_DAYS: Final = 30  # ``to`` at most this many days after ``from``
INSIGHT_REQUESTS_PER_HOUR: Final = 60  # per channel, every insight endpoint
LINE_STATS_TIME_ZONE: Final = timezone(timedelta(hours=9))  # LINE's dates are UTC+9

_UNIT = re.compile(UNIT_PATTERN)
_NOT_UNIT_CHARS = re.compile(r"[^A-Za-z0-9]+")
_KIND_PREFIX = {"broadcast": "b", "step": "s", "rule": "r"}
_HASH_CHARS = 10  # base32 (a-z2-7): 50 bits, no collision among a channel's campaigns
_READABLE_CHARS = UNIT_MAX_LENGTH - _HASH_CHARS - 1


def aggregation_unit_for(campaign: str) -> str:
    """The unit name of a campaign key: a readable part and a hash of the whole key.

    Deterministic (every send of the campaign, in every process, names the same unit)
    and within LINE's limits whatever the key; the hash keeps two keys that read alike
    once shortened or sanitised (``a-b`` and ``a.b``) apart.
    """
    kind, _, rest = campaign.partition(":")
    readable = f"{_KIND_PREFIX[kind]}_{rest}" if rest and kind in _KIND_PREFIX else campaign
    readable = _NOT_UNIT_CHARS.sub("_", readable).strip("_")[:_READABLE_CHARS].rstrip("_")
    digest = hashlib.sha256(campaign.encode()).digest()
    tag = base64.b32encode(digest).decode("ascii").lower()[:_HASH_CHARS]
    unit = f"{readable}_{tag}" if readable else tag
    assert _UNIT.fullmatch(unit), unit
    return unit


def is_unit_name(value: str) -> bool:
    return _UNIT.fullmatch(value) is not None


def line_date(moment: datetime) -> date:
    """The day LINE files ``moment`` under (UTC+9)."""
    return moment.astimezone(LINE_STATS_TIME_ZONE).date()


def statistics_period(first_sent_at: datetime, now: datetime) -> tuple[date, date]:
    """The ``from``/``to`` days (UTC+9) to ask LINE for: up to today, from the first
    send, or for a campaign that sends on and on (a scenario step) from 30 days back,
    as far as LINE's period reaches."""
    last = line_date(now)
    first = max(line_date(first_sent_at), last - timedelta(days=MAX_PERIOD_DAYS))
    return min(first, last), last


@dataclass(frozen=True)
class MessageStatistics:
    """LINE's figures for a unit or a request; None: LINE withheld the figure."""

    unique_impressions: int | None  # users who opened (displayed a bubble)
    unique_clicks: int | None  # users who opened any URL in the message
    impressions: int | None  # bubble displays, summed over the bubbles
    clicks: int | None  # URL opens, summed over the URLs
    delivered: int | None = None  # only for a request id (broadcast endpoint)

    @property
    def withheld(self) -> bool:
        """LINE gave no open figure: under its privacy threshold (or nothing to count)."""
        return self.unique_impressions is None


def _int_or_none(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _sum_or_none(rows: list[Any], name: str) -> int | None:
    """The sum of a figure over LINE's rows, or None if any row withholds it (a sum of
    what LINE shows would pass a partial count off as the total)."""
    values = [_int_or_none(row.get(name)) for row in rows if isinstance(row, Mapping)]
    if not values or any(value is None for value in values):
        return None
    return sum(value for value in values if value is not None)


def statistics_from_line(body: Mapping[str, Any]) -> MessageStatistics:
    """Read LINE's response (``overview``, ``messages``, ``clicks``)."""
    overview = body.get("overview") or {}
    messages = list(body.get("messages") or [])
    clicks = list(body.get("clicks") or [])
    return MessageStatistics(
        unique_impressions=_int_or_none(overview.get("uniqueImpression")),
        unique_clicks=_int_or_none(overview.get("uniqueClick")),
        impressions=_sum_or_none(messages, "impression"),
        clicks=_sum_or_none(clicks, "click") if clicks else None,
        delivered=_int_or_none(overview.get("delivered")),
    )


@dataclass(frozen=True)
class CampaignInsight:
    """What LINE reported for a campaign when we last asked (``fetched_at``)."""

    campaign: str
    source: str  # "unit:<unit name>" or "request:<request id>"
    statistics: MessageStatistics
    fetched_at: datetime
    period_from: date | None = None
    period_to: date | None = None
    # The last send was more than INTERACTION_WINDOW before this fetch: LINE's figures
    # no longer change, so the job stops asking.
    final: bool = False
    error: str | None = None  # LINE refused the request (e.g. 400): why
    # Withheld because LINE did not count the unit: the channel's 1,000 unit names of
    # the month were used up before the campaign sent (the messages went out).
    over_unit_limit: bool = False

    def as_report(self) -> dict[str, Any]:
        """The report's view: figures or null, and whether LINE withheld them."""
        stats = self.statistics
        return {
            "source": self.source,
            "opens": stats.unique_impressions,
            "line_unique_clicks": stats.unique_clicks,
            "impressions": stats.impressions,
            "line_clicks": stats.clicks,
            "withheld": stats.withheld,
            "fetched_at": self.fetched_at.isoformat(),
            "final": self.final,
            "error": self.error,
            "over_unit_limit": self.over_unit_limit,
        }
