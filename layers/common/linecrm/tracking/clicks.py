"""Recording a click on a tracked link: the counters and the friend's markers.

- Every counted click adds ``clicks`` to the link's campaign and variant and to the day
  (the account's time zone).
- A click by an identified friend (the LIFF click page sent their verified ID token)
  also records ``TRACK#CLICK#<campaign>`` once (its first time adds ``unique_clicks``)
  and ``TRACK#LASTCLICK`` every time (purchases are credited to the last click).
- A click nobody could identify (outside LINE, LIFF failed) counts in ``clicks`` only.
- Link-preview fetchers and bots are never counted (the caller decides, by User-Agent).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Protocol

from linecrm.domain.stats import CLICKS, UNIQUE_CLICKS
from linecrm.domain.tracked_links import TrackedLink
from linecrm.repositories.tracking_markers import Marker


class Links(Protocol):
    def get(self, token: str) -> TrackedLink | None: ...


class ClickMarkers(Protocol):
    def put_first_click(self, channel_id: str, user_id: str, marker: Marker) -> bool: ...
    def put_last_click(self, channel_id: str, user_id: str, marker: Marker) -> None: ...


class ClickCounters(Protocol):
    def add_to_campaign(
        self,
        channel_id: str,
        campaign: str,
        increments: Mapping[str, int],
        *,
        shard_by: str,
        variant: str | None = None,
    ) -> None: ...

    def add_to_day(
        self, channel_id: str, day: date, increments: Mapping[str, int], *, shard_by: str
    ) -> None: ...


@dataclass(frozen=True)
class RecordedClick:
    link: TrackedLink
    user_id: str | None
    first: bool  # the friend's first click on the campaign (unique_clicks counted)


class ClickRecorder:
    def __init__(
        self,
        links: Links,
        markers: ClickMarkers,
        counters: ClickCounters,
        clock: Callable[[], datetime],
        zone: Callable[[str], tzinfo],
    ) -> None:
        """``zone``: a channel's time zone (its delivery policy's, as the counting of
        sends and purchases and the reports use), which says what a click's day is."""
        self._links = links
        self._markers = markers
        self._counters = counters
        self._clock = clock
        self._zone = zone

    def link(self, token: str) -> TrackedLink | None:
        return self._links.get(token)

    def record(self, link: TrackedLink, user_id: str | None = None) -> RecordedClick:
        """Count one click on ``link``, by ``user_id`` when known."""
        now = self._clock()
        first = False
        if user_id is not None:
            marker = Marker(campaign=link.campaign, variant=link.variant, at=now)
            first = self._markers.put_first_click(link.channel_id, user_id, marker)
            self._markers.put_last_click(link.channel_id, user_id, marker)
        increments = {CLICKS: 1, UNIQUE_CLICKS: int(first)}
        # Anonymous clicks spread over the shards at random, a friend's stay on one.
        shard_by = user_id or uuid.uuid4().hex
        self._counters.add_to_campaign(
            link.channel_id, link.campaign, increments, shard_by=shard_by, variant=link.variant
        )
        day = now.astimezone(self._zone(link.channel_id)).date()
        self._counters.add_to_day(link.channel_id, day, increments, shard_by=shard_by)
        return RecordedClick(link, user_id, first)
