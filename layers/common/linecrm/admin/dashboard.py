"""The console's dashboard summary in the admin API: friends added / blocked / net and
deliveries per day, the monthly message quota, the best and worst recent deliveries by
click-through rate."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from aws_lambda_powertools.event_handler import Depends
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field

from linecrm.admin.params import ChannelId, new_router, responses
from linecrm.dashboard.summary import DashboardService, Summary
from linecrm.reports.models import CampaignReport
from linecrm.reports.service import MAX_TIMELINE_DAYS

router = new_router()


def dashboard_service() -> DashboardService:
    """Replaced by ``api.build_app`` (``dependency_overrides``) with the real service."""
    raise NotImplementedError("build_app(..., dashboard_service=...) wires the dashboard")


Dashboard = Annotated[DashboardService, Depends(dashboard_service)]


class DayFigures(BaseModel):
    date: date
    friendsAdded: int
    blocked: int = Field(description="friends who blocked (unfollowed) the account that day")
    net: int = Field(description="friendsAdded - blocked")
    deliveries: int = Field(description="recipients reached by sends that day")


class Quota(BaseModel):
    type: str = Field(description='"limited" or "none" (no monthly limit), as LINE says')
    limit: int | None
    used: int = Field(description="messages sent this month (LINE's totalUsage)")
    remaining: int | None
    fetchedAt: datetime = Field(description="when it was read from LINE")


class RankedDelivery(BaseModel):
    campaign: str
    kind: str
    name: str | None
    sent: int
    uniqueClicks: int
    ctr: float | None
    lastSentAt: datetime | None

    @classmethod
    def of(cls, report: CampaignReport) -> RankedDelivery:
        return cls(
            campaign=report.campaign,
            kind=report.kind,
            name=report.name,
            sent=report.sent,
            uniqueClicks=report.unique_clicks,
            ctr=report.ctr,
            lastSentAt=report.last_sent_at,
        )


class DashboardSummary(BaseModel):
    timeZone: str = Field(description="the account's time zone: what a day is")
    days: list[DayFigures] = Field(description="oldest first, zeros where nothing happened")
    quota: Quota | None = Field(
        description="the monthly message quota as last read from LINE (null: not read yet)"
    )
    quotaRefreshing: bool = Field(
        description="true: the quota is older than 10 minutes (or unread) and is being "
        "read from LINE again; ask again in a few seconds"
    )
    best: list[RankedDelivery] = Field(description="highest CTR of the recent deliveries")
    worst: list[RankedDelivery] = Field(description="lowest CTR of the recent deliveries")

    @classmethod
    def of(cls, summary: Summary) -> DashboardSummary:
        quota = summary.quota
        return cls(
            timeZone=summary.time_zone,
            days=[
                DayFigures(
                    date=day.day,
                    friendsAdded=day.friends_added,
                    blocked=day.blocked,
                    net=day.net,
                    deliveries=day.deliveries,
                )
                for day in summary.days
            ],
            quota=None
            if quota is None
            else Quota(
                type="none" if quota.limit is None else "limited",
                limit=quota.limit,
                used=quota.used,
                remaining=quota.remaining,
                fetchedAt=quota.fetched_at,
            ),
            quotaRefreshing=summary.quota_refreshing,
            best=[RankedDelivery.of(report) for report in summary.best],
            worst=[RankedDelivery.of(report) for report in summary.worst],
        )


@router.get(
    "/dashboard/summary",
    tags=["reports"],
    responses=responses(200, "The dashboard's figures", 400),
)
def dashboard_summary(
    channel_id: ChannelId,
    service: Dashboard,
    days: Annotated[int, Query(ge=1, le=MAX_TIMELINE_DAYS, description="days up to today")] = 30,
) -> DashboardSummary:
    """The console's dashboard: friends added, blocked and net per day, deliveries per
    day (the daily report counters), the monthly message quota and usage (LINE's
    message quota and consumption, as the jobs function last read them: the admin
    function holds no LINE credentials; a snapshot older than 10 minutes is read
    again), and the best and worst of the 30 most recent deliveries by CTR (those
    that reached at least 20 friends)."""
    return DashboardSummary.of(service.summary(channel_id, days))
