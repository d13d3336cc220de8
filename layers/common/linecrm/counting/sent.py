"""``sent``, counted with the ledger's move to sent (one transaction), so a retried,
redelivered or re-driven chunk counts once: only the attempt that moves the delivery
from queued to sent adds its recipients.

Per sent chunk that names a campaign, before the move (an attempt that crashes after
them writes them again, the same values): ``TRACK#LASTSENT`` for its recipients (25 per
BatchWriteItem) and the campaign index (one UpdateItem, outside the transaction: it
needs no exactly-once). Then one TransactWriteItems: the ledger row, and ``sent`` +=
recipients on the campaign and variant and on the day (the channel's time zone: its
delivery policy's), each sharded by the delivery id. A 500-friend multicast costs 20
BatchWriteItem, 1 UpdateItem and 1 TransactWriteItems (and, every 30 s per
environment, the channel config for its zone).

The campaign index is one partition per channel (``STATS#<channel>#CAMPAIGNS``), so
an environment writes a campaign's entry at most once a minute (``INDEX_REFRESH``):
the first chunk always, then the first chunk a minute or more after its last write.
Without that, a burst of welcome messages (one push per new friend) wrote that one
partition once per follow (the hot-key bench: 1,000 of a 1,000-follow burst's 12,000
writes). ``last_sent_at`` is therefore up to a minute behind while a campaign sends.

A send to every friend through LINE's broadcast endpoint names no recipients: it
updates the campaign index, but adds no ``sent`` and writes no markers (LINE's
insight gives its reach).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from linecrm.domain import stats
from linecrm.domain.attribution import local_day
from linecrm.models.send import SendRequest
from linecrm.repositories.campaign_stats import CampaignStatsRepository
from linecrm.repositories.tracking_markers import Marker, TrackingMarkers

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

INDEX_REFRESH = timedelta(minutes=1)  # per environment and campaign, see above
MAX_REMEMBERED_CAMPAIGNS = 4_096  # then forgotten at once: the next chunks write again


class SentCounting:
    def __init__(
        self,
        client: DynamoDBClient,
        stats_repository: CampaignStatsRepository,
        markers: TrackingMarkers,
        zone: Callable[[str], tzinfo],
    ) -> None:
        self._client = client
        self._stats = stats_repository
        self._markers = markers
        self._zone = zone
        self._indexed_at: dict[tuple[str, str], datetime] = {}  # this environment's writes
        self._indexed_lock = threading.Lock()  # a batch's records are sent on threads

    def before_sent(self, request: SendRequest, at: datetime) -> None:
        """``TRACK#LASTSENT`` of the request's recipients, and the campaign index."""
        if request.campaign is None:
            return
        if request.to:
            marker = Marker(campaign=request.campaign, variant=request.variant, at=at)
            self._markers.put_last_sent_many(request.channel_id, request.to, marker)
        key = (request.channel_id, request.campaign)
        if not self._index_due(key, at):
            return
        self._client.update_item(
            **self._stats.index_update(request.channel_id, request.campaign, at)
        )
        with self._indexed_lock:
            if len(self._indexed_at) >= MAX_REMEMBERED_CAMPAIGNS:
                self._indexed_at.clear()
            self._indexed_at[key] = at  # only once written: a failed write is tried again

    def _index_due(self, key: tuple[str, str], at: datetime) -> bool:
        with self._indexed_lock:
            last = self._indexed_at.get(key)
        # A clock that went back (the local stack's can) writes again.
        return last is None or not last <= at < last + INDEX_REFRESH

    def updates(self, request: SendRequest, at: datetime) -> list[dict[str, Any]]:
        """The writes that go with the ledger's move to sent (none without a campaign or
        recipients)."""
        if request.campaign is None or not request.to:
            return []
        recipients = len(request.to)
        found = [
            self._stats.campaign_update(
                request.channel_id,
                request.campaign,
                {stats.SENT: recipients},
                shard_by=request.delivery_id,
                variant=request.variant,
            ),
            self._stats.day_update(
                request.channel_id,
                local_day(at, self._zone(request.channel_id)),
                {stats.SENT: recipients},
                shard_by=request.delivery_id,
            ),
        ]
        return [update for update in found if update is not None]
