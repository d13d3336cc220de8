"""What the admin API shows of LINE's figures: a channel's campaigns (the campaign
index, one query) with the figures the insight job last stored (one BatchGetItem)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from linecrm.domain.insight import CampaignInsight
from linecrm.repositories.campaign_stats import CampaignStatsRepository
from linecrm.repositories.message_insight import MessageInsightRepository


class CampaignNotSent(LookupError):
    """The channel's campaign index has no such campaign (it never sent)."""


@dataclass(frozen=True)
class CampaignLineFigures:
    campaign: str
    kind: str
    last_sent_at: datetime
    insight: CampaignInsight | None  # None: not fetched yet (the job runs hourly)


class InsightReports:
    def __init__(self, stats: CampaignStatsRepository, insight: MessageInsightRepository) -> None:
        self._stats = stats
        self._insight = insight

    def campaigns(
        self,
        channel_id: str,
        *,
        kind: str | None = None,
        campaign: str | None = None,
        limit: int = 50,
    ) -> list[CampaignLineFigures]:
        """The most recently sent campaigns (of ``kind``, or just ``campaign``) with
        LINE's figures; CampaignNotSent for a ``campaign`` that never sent."""
        indexed = self._stats.campaigns(channel_id, kind)
        if campaign is not None:
            indexed = [found for found in indexed if found.campaign == campaign]
            if not indexed:
                raise CampaignNotSent(f"campaign {campaign} has not sent")
        indexed = indexed[:limit]
        stored = self._insight.get_many(channel_id, (found.campaign for found in indexed))
        return [
            CampaignLineFigures(
                found.campaign, found.kind, found.last_sent_at, stored.get(found.campaign)
            )
            for found in indexed
        ]
