"""The insight job: fetch LINE's opens and clicks of a channel's recent campaigns.

Run hourly per channel (``resources.INSIGHT_FETCH``: the schedule fires the scheduler
function, which puts one ``InsightFetchStep`` per channel on the job queue). Each run:

1. lists the channel's campaigns (the campaign index, one query) that sent within the
   last ``MAX_PERIOD_DAYS`` days, skipping those whose figures are final (last sent
   more than 14 days before their last fetch: LINE's figures no longer change);
2. asks LINE first for those never fetched, then for the longest unfetched, each
   request taking a slot of the channel's hourly budget (``REQUESTS_PER_HOUR``, under
   LINE's 60 per hour for the insight endpoints, shared by every run in that hour);
3. reads a campaign sent through pushes and multicasts by its aggregation unit
   (``GET /v2/bot/insight/message/event/aggregation``), and a broadcast sent through
   LINE's broadcast endpoint (which takes no unit) by the request id the ledger kept
   (``GET /v2/bot/insight/message/event``);
4. stores the figures (``linecrm.repositories.message_insight``); a figure LINE
   withholds (under 20 users) is stored as absent, never as 0.

A 429 ends the run (the next hour goes on); a request LINE refuses (400) is stored
with its error so the report says why there are no figures.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from linecrm.channels import UnknownChannel
from linecrm.domain.broadcasts import chunk_delivery_id
from linecrm.domain.insight import (
    INSIGHT_REQUESTS_PER_HOUR,
    INTERACTION_WINDOW,
    MAX_PERIOD_DAYS,
    MONTHLY_UNIT_LIMIT,
    CampaignInsight,
    MessageStatistics,
    aggregation_unit_for,
    line_date,
    statistics_period,
)
from linecrm.line.errors import (
    LineApiError,
    LineRateLimited,
    LineRequestRejected,
    LineTransientError,
)
from linecrm.repositories.campaign_stats import CampaignStatsRepository, IndexedCampaign
from linecrm.repositories.deliveries import DeliveryLedger
from linecrm.repositories.message_insight import MessageInsightRepository

# Our share of LINE's 60 insight requests per hour: the rest is left for people
# (LINE Official Account Manager) and tools using the same channel.
REQUESTS_PER_HOUR = INSIGHT_REQUESTS_PER_HOUR - 10
# LINE files days in UTC+9 and we ask by whole days: a day past the 14 days.
FINAL_AFTER = INTERACTION_WINDOW + timedelta(days=1)

WITHHELD = MessageStatistics(None, None, None, None)


@dataclass
class InsightReport:
    channel_id: str
    fetched: int = 0
    withheld: int = 0
    refused: int = 0
    failed: int = 0
    left: int = 0  # due, but over this hour's budget (or after a 429): next run
    rate_limited: bool = False
    no_credentials: bool = False
    campaigns: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel_id": self.channel_id,
            "fetched": self.fetched,
            "withheld": self.withheld,
            "refused": self.refused,
            "failed": self.failed,
            "left": self.left,
            "rate_limited": self.rate_limited,
            "no_credentials": self.no_credentials,
        }


class InsightFetcher:
    def __init__(
        self,
        stats: CampaignStatsRepository,
        insight: MessageInsightRepository,
        ledger: DeliveryLedger,
        line_client: Callable[[str], Any],
        clock: Callable[[], datetime],
        *,
        requests_per_hour: int = REQUESTS_PER_HOUR,
    ) -> None:
        """``line_client``: the channel's LineMessagingClient."""
        self._stats = stats
        self._insight = insight
        self._ledger = ledger
        self._line_client = line_client
        self._clock = clock
        self._requests_per_hour = requests_per_hour

    def due(self, channel_id: str) -> list[IndexedCampaign]:
        """The campaigns to ask LINE about, most in need first."""
        now = self._clock()
        recent = [
            campaign
            for campaign in self._stats.campaigns(channel_id)
            if now - campaign.last_sent_at <= timedelta(days=MAX_PERIOD_DAYS)
        ]
        known = self._insight.get_many(channel_id, (c.campaign for c in recent))

        def never_then_oldest(campaign: IndexedCampaign) -> tuple[int, datetime]:
            stored = known.get(campaign.campaign)
            return (0, campaign.last_sent_at) if stored is None else (1, stored.fetched_at)

        due = [
            campaign
            for campaign in recent
            if not (
                (stored := known.get(campaign.campaign)) is not None
                and stored.final
                and stored.fetched_at >= campaign.last_sent_at
            )
        ]
        return sorted(due, key=never_then_oldest)

    def fetch_channel(
        self, channel_id: str, allows_more: Callable[[], bool] = lambda: True
    ) -> InsightReport:
        report = InsightReport(channel_id)
        due = self.due(channel_id)
        if not due:
            return report
        try:
            client = self._line_client(channel_id)
        except UnknownChannel:
            # Registered, but its credentials are gone: nothing to ask LINE with.
            report.no_credentials = True
            report.left = len(due)
            return report
        month_units: dict[str, set[str] | None] = {}  # read at most once a run
        for index, campaign in enumerate(due):
            if not allows_more() or not self._insight.take_request(
                channel_id, self._clock(), self._requests_per_hour
            ):
                report.left = len(due) - index
                break
            try:
                insight = self._fetch(channel_id, client, campaign)
            except LineRateLimited:
                report.rate_limited = True
                report.left = len(due) - index
                break
            except LineTransientError:
                report.failed += 1
                continue
            if self._over_unit_limit(client, campaign, insight, month_units):
                insight = replace(insight, over_unit_limit=True)
            self._insight.save(channel_id, insight)
            report.campaigns.append(campaign.campaign)
            if insight.error:
                report.refused += 1
            elif insight.statistics.withheld:
                report.withheld += 1
            else:
                report.fetched += 1
        return report

    def _fetch(self, channel_id: str, client: Any, campaign: IndexedCampaign) -> CampaignInsight:
        now = self._clock()
        final = now - campaign.last_sent_at > FINAL_AFTER
        request_id = self._broadcast_request_id(campaign)
        if request_id is not None:
            source = f"request:{request_id}"
            try:
                statistics = client.statistics_per_request(request_id)
            except LineRequestRejected as refused:
                return CampaignInsight(
                    campaign.campaign, source, WITHHELD, now, final=final, error=str(refused)
                )
            return CampaignInsight(campaign.campaign, source, statistics, now, final=final)
        unit = aggregation_unit_for(campaign.campaign)
        first, last = statistics_period(campaign.first_sent_at, now)
        if self._insight.campaign_for_unit(channel_id, unit) is None:
            self._insight.record_unit(channel_id, unit, campaign.campaign)
        source = f"unit:{unit}"
        error: str | None = None
        try:
            statistics = client.statistics_per_unit(unit, first, last)
        except LineRequestRejected as refused:
            statistics, error = WITHHELD, str(refused)
        return CampaignInsight(
            campaign.campaign,
            source,
            statistics,
            now,
            period_from=first,
            period_to=last,
            final=final,
            error=error,
        )

    def _over_unit_limit(
        self,
        client: Any,
        campaign: IndexedCampaign,
        insight: CampaignInsight,
        month_units: dict[str, set[str] | None],
    ) -> bool:
        """Withheld because LINE did not count the unit: the month's 1,000 unit names
        were used up before this campaign's first send of the month (LINE sends the
        message, but treats the unit as if none was given)."""
        unit = insight.source.removeprefix("unit:")
        if insight.error or not insight.statistics.withheld or unit == insight.source:
            return False
        now = self._clock()
        if line_date(campaign.last_sent_at).strftime("%Y-%m") != line_date(now).strftime("%Y-%m"):
            return False  # LINE lists this month's names only
        if "names" not in month_units:
            try:
                full = client.aggregation_units_used() >= MONTHLY_UNIT_LIMIT
                month_units["names"] = set(client.aggregation_unit_names()) if full else None
            except LineApiError:
                month_units["names"] = None
        names = month_units["names"]
        return names is not None and unit not in names

    def _broadcast_request_id(self, campaign: IndexedCampaign) -> str | None:
        """A broadcast that went through LINE's broadcast endpoint: its request id."""
        if campaign.kind != "broadcast":
            return None
        broadcast_id = campaign.campaign.removeprefix("broadcast:")
        delivery = self._ledger.get(chunk_delivery_id(broadcast_id, 0))
        if delivery is None or delivery.sent_via != "broadcast":
            return None
        return delivery.line_request_id
