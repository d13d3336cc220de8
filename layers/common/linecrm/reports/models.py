"""What the reports answer (the admin API's bodies, the CLI's tables, the CSV rows).

Counters are integers, money in yen (the minor unit) as an integer; a rate is a
fraction 0..1, or None when nothing was sent (no data, not 0 %)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Self

from pydantic import BaseModel, ConfigDict, Field

from linecrm.domain import stats

_Date = date  # a field is called ``date``


class _Report(BaseModel):
    model_config = ConfigDict(frozen=True)


class Figures(_Report):
    """A delivery's figures (a campaign, one of its variants, or one scenario step)."""

    sent: int = Field(description="friends a send reached")
    clicks: int = Field(description="every counted click")
    unique_clicks: int = Field(description="friends who clicked (first click per friend)")
    ctr: float | None = Field(description="unique_clicks / sent (null when sent is 0)")
    conversions: int = Field(description="purchases attributed to it (last click in the window)")
    cvr: float | None = Field(description="conversions / sent (null when sent is 0)")
    revenue: int = Field(description="the attributed purchases' amounts, in yen")
    blocks: int = Field(description="unfollows within 24 h of the friend's delivery")
    block_rate: float | None = Field(description="blocks / sent (null when sent is 0)")

    @staticmethod
    def values(counts: Mapping[str, int]) -> dict[str, int | float | None]:
        return {
            "sent": counts.get(stats.SENT, 0),
            "clicks": counts.get(stats.CLICKS, 0),
            "unique_clicks": counts.get(stats.UNIQUE_CLICKS, 0),
            "ctr": stats.ctr(counts),
            "conversions": counts.get(stats.CONVERSIONS, 0),
            "cvr": stats.cvr(counts),
            "revenue": counts.get(stats.REVENUE, 0),
            "blocks": counts.get(stats.BLOCKS, 0),
            "block_rate": stats.block_rate(counts),
        }


class VariantReport(Figures):
    variant: str = Field(description="the A/B variant (``-``: sends that named none)")

    @classmethod
    def of(cls, variant: str, counts: Mapping[str, int]) -> Self:
        return cls(variant=variant, **cls.values(counts))


class HoldoutReport(_Report):
    """The holdout group: friends drawn out of the campaign (sent nothing), and their
    purchases within the attribution window after being held out."""

    held_out: int
    conversions: int
    revenue: int
    cvr: float | None = Field(description="conversions / held_out (null when none held out)")

    @classmethod
    def of(cls, counts: Mapping[str, int]) -> Self:
        held_out = counts.get(stats.HELD_OUT, 0)
        conversions = counts.get(stats.CONVERSIONS, 0)
        return cls(
            held_out=held_out,
            conversions=conversions,
            revenue=counts.get(stats.REVENUE, 0),
            cvr=stats.rate(conversions, held_out),
        )


class LineInsight(_Report):
    """LINE's own figures for the campaign (its insight API, fetched hourly:
    docs/insight.md). LINE withholds a figure under 20 users: null, never 0."""

    opens: int | None = Field(description="friends who opened it (LINE's unique impressions)")
    open_rate: float | None = Field(description="opens / sent (null when withheld)")
    line_unique_clicks: int | None = Field(description="friends who tapped a URL, by LINE")
    impressions: int | None
    line_clicks: int | None = Field(description="URL taps, by LINE")
    withheld: bool = Field(description="LINE gave no open figure (under 20 users)")
    final: bool = Field(description="past 14 days after the last send: no longer changes")
    fetched_at: datetime = Field(description="when linecrm last asked LINE")
    over_unit_limit: bool = Field(
        description="LINE did not count it: the month's 1,000 aggregation units were used"
    )
    error: str | None = Field(description="why LINE refused to give figures, if it did")


class CampaignReport(Figures):
    """One delivery (a broadcast, a scenario step, a rule's message, the welcome):
    its figures over every variant but the holdout, and per variant."""

    campaign: str = Field(
        description="the campaign key, e.g. broadcast:<id>, step:<scenario>:<step>"
    )
    kind: str = Field(description="broadcast, step, rule, welcome or chat")
    name: str | None = Field(
        description="the broadcast's name; the scenario's name and step; the rule's name"
    )
    scenario_id: str | None = None
    step_id: str | None = None
    first_sent_at: datetime | None = Field(
        default=None, description="its first send (the account's time zone)"
    )
    last_sent_at: datetime | None = Field(
        default=None, description="its latest send (the account's time zone)"
    )
    variants: list[VariantReport] = Field(
        description="per A/B variant (empty when the campaign has none), holdout aside"
    )
    holdout: HoldoutReport | None = Field(
        default=None, description="the holdout group, when the campaign has one"
    )
    line: LineInsight | None = Field(
        default=None, description="LINE's opens and taps; null until first fetched"
    )


class CampaignList(_Report):
    kind: str | None = Field(description="the kind asked for (null: every kind)")
    campaigns: list[CampaignReport] = Field(description="most recently sent first")


class FunnelStep(_Report):
    step_id: str
    campaign: str
    sends_messages: bool = Field(description="false for a step that only applies actions")
    sent: int
    unique_clicks: int
    ctr: float | None
    conversions: int
    cvr: float | None


class ScenarioFunnel(_Report):
    scenario_id: str
    name: str
    steps: list[FunnelStep] = Field(description="in the scenario's order")


class RouteReport(_Report):
    route_id: str
    name: str
    friends: int = Field(description="distinct friends the route brought")
    blocked: int = Field(description="of them, blocking the account now")
    linked: int = Field(description="of them, ID-linked to a shop member now")
    converted: int = Field(description="of them, with a purchase since")
    block_rate: float | None = Field(description="blocked / friends")
    conversion_rate: float | None = Field(description="converted / friends")


class RoutesReport(_Report):
    routes: list[RouteReport] = Field(description="by route id")


class DayReport(_Report):
    date: _Date
    sent: int
    clicks: int
    unique_clicks: int
    conversions: int
    revenue: int
    blocks: int
    friends_added: int
    unfollows: int

    @classmethod
    def of(cls, day: _Date, counts: Mapping[str, int]) -> Self:
        return cls(date=day, **{name: counts.get(name, 0) for name in stats.DAY_COUNTERS})


class Timeline(_Report):
    time_zone: str = Field(description="the account's time zone: what a day is")
    days: list[DayReport] = Field(description="every day from..to, zeros where nothing happened")
