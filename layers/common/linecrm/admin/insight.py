"""LINE's opens and clicks per campaign in the admin API (the hourly insight job
stores them; docs/insight.md). Figures LINE withheld (under 20 users) are null, with
``withheld: true``, never 0."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Depends
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field

from linecrm.admin.params import ChannelId, new_router, responses
from linecrm.domain.campaigns import CAMPAIGN_PATTERN
from linecrm.insight.service import CampaignLineFigures, InsightReports

router = new_router()
MAX_CAMPAIGNS = 200


def insight_reports() -> InsightReports:
    """Replaced by ``api.build_app`` (``dependency_overrides``) with the real service."""
    raise NotImplementedError("build_app(..., insight_reports=...) wires the insight routes")


Reports = Annotated[InsightReports, Depends(insight_reports)]


class LineFigures(BaseModel):
    source: str = Field(description="unit:<aggregation unit> or request:<x-line-request-id>")
    opens: int | None = Field(description="users who opened (LINE's uniqueImpression)")
    line_unique_clicks: int | None = Field(description="users who opened a URL in it")
    impressions: int | None
    line_clicks: int | None = Field(description="URL opens, as LINE counts them")
    withheld: bool = Field(description="LINE withheld the figures (under 20 users)")
    fetched_at: datetime
    final: bool = Field(description="LINE's figures no longer change (14 days after)")
    over_unit_limit: bool = Field(
        description="LINE did not count the unit: 1,000 unit names used up that month"
    )
    error: str | None = Field(description="LINE refused the request: why")


class CampaignLine(BaseModel):
    campaign: str
    kind: str
    last_sent_at: datetime
    line: LineFigures | None = Field(description="null: not fetched yet (hourly)")

    @classmethod
    def of(cls, found: CampaignLineFigures) -> CampaignLine:
        line = None
        if found.insight is not None:
            line = LineFigures.model_validate(found.insight.as_report())
        return cls(
            campaign=found.campaign, kind=found.kind, last_sent_at=found.last_sent_at, line=line
        )


class CampaignLineList(BaseModel):
    campaigns: list[CampaignLine]


@router.get(
    "/insight",
    tags=["insight"],
    responses=responses(200, "Campaigns with LINE's opens and clicks", 404),
)
def list_insight(
    channel_id: ChannelId,
    reports: Reports,
    kind: Annotated[
        Literal["broadcast", "step", "rule", "welcome", "chat"] | None,
        Query(description="only campaigns of this kind"),
    ] = None,
    campaign: Annotated[
        str | None,
        Query(pattern=CAMPAIGN_PATTERN, max_length=200, description="just this campaign"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_CAMPAIGNS)] = 50,
) -> CampaignLineList:
    """Recently sent campaigns with LINE's opens and clicks as last fetched; a campaign
    that never sent is 404."""
    found = reports.campaigns(channel_id, kind=kind, campaign=campaign, limit=limit)
    return CampaignLineList(campaigns=[CampaignLine.of(figures) for figures in found])
