"""The console's dashboard summary: friends added, blocked and net per day, deliveries
per day, the monthly message quota, and the best and worst recent deliveries by CTR —
all from what is kept already (the daily report counters, the campaign counters, the
quota snapshot the jobs function keeps), so a summary is a handful of reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from linecrm.delivery import quota_snapshot
from linecrm.domain.delivery_policy import DeliveryPolicy
from linecrm.models.jobs import QuotaFetchStep
from linecrm.reports.models import CampaignReport
from linecrm.reports.service import ReportService
from linecrm.repositories.channel_config import ChannelConfigRepository

RECENT_CAMPAIGNS = 30  # the recent deliveries ranked by CTR
MIN_SENT_FOR_RANKING = 20  # fewer recipients: a CTR that says nothing (LINE's own floor)
RANKED = 3  # best and worst


class StepQueue(Protocol):
    def send_step(self, step: BaseModel, delay_seconds: int = 0) -> None: ...


@dataclass(frozen=True)
class DaySummary:
    day: date
    friends_added: int
    blocked: int
    deliveries: int

    @property
    def net(self) -> int:
        return self.friends_added - self.blocked


@dataclass(frozen=True)
class Summary:
    time_zone: str
    days: list[DaySummary]
    quota: quota_snapshot.QuotaSnapshot | None
    quota_refreshing: bool
    best: list[CampaignReport]
    worst: list[CampaignReport]


class DashboardService:
    def __init__(
        self,
        reports: ReportService,
        config: ChannelConfigRepository,
        job_queue: Callable[[], StepQueue],
        clock: Callable[[], datetime],
    ) -> None:
        self._reports = reports
        self._config = config
        self._job_queue = job_queue
        self._clock = clock

    def summary(self, channel_id: str, days: int) -> Summary:
        now = self._clock()
        settings = self._config.load_settings(channel_id)
        zone = _zone(settings)
        today = now.astimezone(ZoneInfo(zone)).date()
        first = today - timedelta(days=days - 1)
        timeline = self._reports.timeline(channel_id, first.isoformat(), today.isoformat())
        snapshot = quota_snapshot.snapshot_of(settings)
        refreshing = snapshot is None or snapshot.is_stale(now)
        if refreshing:
            # The jobs function reads it from LINE (this one holds no LINE credentials).
            self._job_queue().send_step(QuotaFetchStep(channel_id=channel_id))
        ranked = [
            report
            for report in self._reports.campaigns(channel_id, limit=RECENT_CAMPAIGNS).campaigns
            if report.ctr is not None and report.sent >= MIN_SENT_FOR_RANKING
        ]
        by_ctr = sorted(ranked, key=lambda report: (report.ctr or 0.0, report.sent), reverse=True)
        best = by_ctr[:RANKED]
        worst = [report for report in reversed(by_ctr) if report not in best][:RANKED]
        return Summary(
            time_zone=timeline.time_zone,
            days=[
                DaySummary(
                    day=day.date,
                    friends_added=day.friends_added,
                    blocked=day.unfollows,
                    deliveries=day.sent,
                )
                for day in timeline.days
            ],
            quota=snapshot,
            quota_refreshing=refreshing,
            best=best,
            worst=worst,
        )


def _zone(settings: Mapping[str, Any]) -> str:
    """The account's time zone, from the delivery policy on the SETTINGS item."""
    raw = settings.get("delivery_policy")
    policy = DeliveryPolicy.model_validate(json.loads(raw)) if raw else DeliveryPolicy()
    return policy.time_zone
