"""The report counters that follow a friend's signals (``linecrm.domain.signals``):

- ``Followed`` (a new friend, or a friend back after a block): ``friends_added`` on the day;
- ``Blocked``: ``unfollows`` on the day, and ``blocks`` on the campaign and variant of the
  friend's last delivery (``TRACK#LASTSENT``) when it is at most 24 h old;
- a ``purchase`` ``BehaviourEvent``: attributed by ``linecrm.domain.attribution``
  (last click within the channel's window; exposure; holdout).

Each cause is counted once (``StatsWriter.count_once``): a follow or unfollow by the
friend and its time, a purchase by its order. Emitters signal only the first time, but
a re-emitted signal (a retry after a crash) adds nothing either.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import tzinfo
from typing import Protocol

from linecrm.domain import stats
from linecrm.domain.attribution import (
    PURCHASE_EVENT,
    AttributionSettings,
    Credits,
    local_day,
    order_key,
    purchase_amount,
    purchase_credits,
    unfollow_credits,
)
from linecrm.domain.signals import BehaviourEvent, Blocked, Followed, FriendSignal
from linecrm.repositories.stats_writes import StatsWriter, friend_claim_key, order_claim_key
from linecrm.repositories.tracking_markers import Marker


class MarkerReader(Protocol):
    def last_sent(self, channel_id: str, user_id: str) -> Marker | None: ...
    def last_click(self, channel_id: str, user_id: str) -> Marker | None: ...
    def holdout(self, channel_id: str, user_id: str) -> Marker | None: ...


class ReportCounting:
    """A signal listener; ``attribution``: the channel's attribution settings; ``zone``:
    the channel's time zone (what a day is)."""

    def __init__(
        self,
        writer: StatsWriter,
        markers: MarkerReader,
        attribution: Callable[[str], AttributionSettings],
        zone: Callable[[str], tzinfo],
    ) -> None:
        self._writer = writer
        self._markers = markers
        self._attribution = attribution
        self._zone = zone

    def on_signal(self, signal: FriendSignal) -> Sequence[str]:
        if isinstance(signal, Followed):
            return self._followed(signal)
        if isinstance(signal, Blocked):
            return self._blocked(signal)
        if isinstance(signal, BehaviourEvent) and signal.name == PURCHASE_EVENT:
            return self._purchased(signal)
        return []

    def _followed(self, signal: Followed) -> list[str]:
        if signal.route_attribution or signal.already_following:
            return []  # the same follow again (inflow attribution), or no new friend
        credits = Credits()
        credits.add_day({stats.FRIENDS_ADDED: 1})
        updates = self._writer.updates(
            signal.channel_id,
            credits,
            local_day(signal.occurred_at, self._zone(signal.channel_id)),
            shard_by=signal.user_id,
        )
        key = friend_claim_key(signal.channel_id, signal.user_id, "follow", signal.occurred_at)
        if not self._writer.count_once(key, updates, signal.occurred_at):
            return []
        return ["friends_added +1"]

    def _blocked(self, signal: Blocked) -> list[str]:
        last_sent = self._markers.last_sent(signal.channel_id, signal.user_id)
        credits = unfollow_credits(last_sent, signal.occurred_at)
        updates = self._writer.updates(
            signal.channel_id,
            credits,
            local_day(signal.occurred_at, self._zone(signal.channel_id)),
            shard_by=signal.user_id,
        )
        key = friend_claim_key(signal.channel_id, signal.user_id, "unfollow", signal.occurred_at)
        if not self._writer.count_once(key, updates, signal.occurred_at):
            return []
        return ["unfollows +1", *credits.notes]

    def _purchased(self, signal: BehaviourEvent) -> list[str]:
        channel_id, user_id = signal.channel_id, signal.user_id
        window = self._attribution(channel_id).window
        credits = purchase_credits(
            amount=purchase_amount(signal.properties.get("value")),
            purchased_at=signal.occurred_at,
            window=window,
            last_click=self._markers.last_click(channel_id, user_id),
            last_sent=self._markers.last_sent(channel_id, user_id),
            holdout=self._markers.holdout(channel_id, user_id),
        )
        updates = self._writer.updates(
            channel_id,
            credits,
            local_day(signal.occurred_at, self._zone(signal.channel_id)),
            shard_by=user_id,
        )
        order = order_key(signal.properties, signal.idempotency_key)
        claimed = self._writer.count_once(
            order_claim_key(channel_id, order),
            updates,
            signal.occurred_at,
            idempotency_key=signal.idempotency_key,
        )
        if not claimed:
            return [f"{order} counted before"]
        return credits.notes or ["purchase: no click, delivery or holdout in the window"]
