"""``sent``, counted with the ledger's move to sent (one transaction), so a retried,
redelivered or re-driven chunk counts once: only the attempt that moves the delivery
from queued to sent adds its recipients.

Per sent chunk that names a campaign, before the move (an attempt that crashes after
them writes them again, the same values): ``TRACK#LASTSENT`` for its recipients (25 per
BatchWriteItem) and the campaign index (one UpdateItem, outside the transaction: every
chunk of a campaign writes that one item, and it needs no exactly-once). Then one
TransactWriteItems: the ledger row, and ``sent`` += recipients on the campaign and
variant and on the day (the channel's time zone: its delivery policy's), each sharded
by the delivery id. A 500-friend multicast costs 20 BatchWriteItem, 1 UpdateItem and 1
TransactWriteItems (and, every 30 s per environment, the channel config for its zone).

A send to every friend through LINE's broadcast endpoint names no recipients: it
updates the campaign index, but adds no ``sent`` and writes no markers (LINE's
insight gives its reach).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from linecrm.domain import stats
from linecrm.domain.attribution import local_day
from linecrm.models.send import SendRequest
from linecrm.repositories.campaign_stats import CampaignStatsRepository
from linecrm.repositories.tracking_markers import Marker, TrackingMarkers

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient


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

    def before_sent(self, request: SendRequest, at: datetime) -> None:
        """``TRACK#LASTSENT`` of the request's recipients, and the campaign index."""
        if request.campaign is None:
            return
        if request.to:
            marker = Marker(campaign=request.campaign, variant=request.variant, at=at)
            self._markers.put_last_sent_many(request.channel_id, request.to, marker)
        self._client.update_item(
            **self._stats.index_update(request.channel_id, request.campaign, at)
        )

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
