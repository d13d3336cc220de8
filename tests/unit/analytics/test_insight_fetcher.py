"""The insight job against a fake LINE client: which campaigns it asks about, in what
order, within the hourly budget; what it stores (withheld stays withheld)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from linecrm.domain.insight import MONTHLY_UNIT_LIMIT, MessageStatistics, aggregation_unit_for
from linecrm.insight.fetcher import InsightFetcher
from linecrm.line.errors import LineRateLimited, LineRequestRejected
from linecrm.repositories.campaign_stats import CampaignStatsRepository
from linecrm.repositories.deliveries import DeliveryLedger
from linecrm.repositories.message_insight import MessageInsightRepository
from tests.unit.conftest import AwsWorld

CHANNEL = "1650000000"
NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
OPENED = MessageStatistics(unique_impressions=40, unique_clicks=25, impressions=44, clicks=31)
WITHHELD = MessageStatistics(None, None, None, None)


class FakeLine:
    def __init__(self, outcomes: dict[str, Any] | None = None) -> None:
        self.outcomes = outcomes or {}
        self.asked: list[tuple[str, date, date]] = []

    units_used = 3
    unit_names: list[str] = []

    def aggregation_units_used(self) -> int:
        return self.units_used

    def aggregation_unit_names(self) -> list[str]:
        return self.unit_names

    def statistics_per_unit(self, unit: str, first: date, last: date) -> MessageStatistics:
        self.asked.append((unit, first, last))
        outcome = self.outcomes.get(unit, OPENED)
        if isinstance(outcome, Exception):
            raise outcome
        assert isinstance(outcome, MessageStatistics)
        return outcome


class World:
    def __init__(self, aws: AwsWorld) -> None:
        self.dynamodb = aws.client("dynamodb")
        table = aws.resources.table_names["Main"]
        self.stats = CampaignStatsRepository(self.dynamodb, table)
        self.insight = MessageInsightRepository(self.dynamodb, table)
        self.ledger = DeliveryLedger(self.dynamodb, table)
        self.now = NOW

    def sent(self, campaign: str, at: datetime) -> None:
        self.dynamodb.update_item(**self.stats.index_update(CHANNEL, campaign, at))

    def fetcher(self, line: FakeLine, per_hour: int = 50) -> InsightFetcher:
        return InsightFetcher(
            self.stats,
            self.insight,
            self.ledger,
            lambda _channel: line,
            lambda: self.now,
            requests_per_hour=per_hour,
        )


@pytest.fixture
def world(aws: AwsWorld) -> World:
    return World(aws)


def test_figures_are_stored_per_campaign_with_the_unit_mapping(world: World) -> None:
    world.sent("step:sc1:s1", NOW - timedelta(days=40))  # long running: last 30 days
    world.sent("step:sc1:s1", NOW - timedelta(hours=2))
    line = FakeLine()

    report = world.fetcher(line).fetch_channel(CHANNEL)

    unit = aggregation_unit_for("step:sc1:s1")
    assert report.fetched == 1
    assert line.asked == [(unit, date(2026, 11, 3), date(2026, 12, 3))]
    stored = world.insight.get(CHANNEL, "step:sc1:s1")
    assert stored is not None
    assert stored.statistics == OPENED
    assert stored.source == f"unit:{unit}"
    assert stored.fetched_at == NOW
    assert not stored.final
    assert world.insight.campaign_for_unit(CHANNEL, unit) == "step:sc1:s1"


def test_withheld_figures_are_stored_as_withheld_not_zero(world: World) -> None:
    world.sent("rule:coupon", NOW - timedelta(hours=1))
    line = FakeLine({aggregation_unit_for("rule:coupon"): WITHHELD})

    report = world.fetcher(line).fetch_channel(CHANNEL)

    assert report.withheld == 1
    stored = world.insight.get(CHANNEL, "rule:coupon")
    assert stored is not None
    assert stored.statistics.withheld
    assert stored.as_report()["opens"] is None
    assert stored.as_report()["withheld"] is True


def test_the_hourly_budget_is_shared_by_every_run_in_that_hour(world: World) -> None:
    for n in range(3):
        world.sent(f"rule:r{n}", NOW - timedelta(hours=n + 1))
    line = FakeLine()

    first = world.fetcher(line, per_hour=2).fetch_channel(CHANNEL)
    again = world.fetcher(line, per_hour=2).fetch_channel(CHANNEL)  # a second fire
    world.now = NOW + timedelta(hours=1)
    next_hour = world.fetcher(line, per_hour=2).fetch_channel(CHANNEL)

    assert (first.fetched, first.left) == (2, 1)
    assert (again.fetched, again.left) == (0, 3)
    # The never-fetched campaign comes first, then the longest unfetched.
    assert first.campaigns == ["rule:r2", "rule:r1"]  # never fetched: oldest send first
    assert next_hour.campaigns[0] == "rule:r0"
    assert len(line.asked) == 4


def test_a_429_ends_the_run_and_a_400_is_stored_with_its_reason(world: World) -> None:
    world.sent("rule:refused", NOW - timedelta(hours=3))
    world.sent("rule:limited", NOW - timedelta(hours=2))
    world.sent("rule:later", NOW - timedelta(hours=1))
    line = FakeLine(
        {
            aggregation_unit_for("rule:refused"): LineRequestRejected(
                "LINE answered 400: bad unit"
            ),
            aggregation_unit_for("rule:limited"): LineRateLimited("rate limited", status=429),
        }
    )

    report = world.fetcher(line).fetch_channel(CHANNEL)

    assert report.rate_limited
    assert report.refused == 1
    assert report.left == 2  # the limited one and the one after it: next hour
    refused = world.insight.get(CHANNEL, "rule:refused")
    assert refused is not None
    assert refused.error is not None and "bad unit" in refused.error
    assert world.insight.get(CHANNEL, "rule:limited") is None
    assert world.insight.get(CHANNEL, "rule:later") is None


def test_final_figures_are_not_fetched_again_until_the_campaign_sends_again(
    world: World,
) -> None:
    world.sent("rule:old", NOW - timedelta(days=16))
    world.sent("rule:ancient", NOW - timedelta(days=31))  # past LINE's period: never asked
    line = FakeLine()

    world.fetcher(line).fetch_channel(CHANNEL)
    stored = world.insight.get(CHANNEL, "rule:old")
    assert stored is not None and stored.final
    world.now = NOW + timedelta(hours=1)
    assert world.fetcher(line).fetch_channel(CHANNEL).campaigns == []
    world.sent("rule:old", world.now)
    world.now += timedelta(hours=1)
    assert world.fetcher(line).fetch_channel(CHANNEL).campaigns == ["rule:old"]
    assert [asked[0] for asked in line.asked] == [aggregation_unit_for("rule:old")] * 2


def test_a_campaign_past_lines_1000_units_of_the_month_says_so(world: World) -> None:
    world.sent("rule:late", NOW - timedelta(hours=1))
    world.sent("rule:early", NOW - timedelta(hours=2))
    line = FakeLine(
        {aggregation_unit_for("rule:late"): WITHHELD, aggregation_unit_for("rule:early"): WITHHELD}
    )
    line.units_used = MONTHLY_UNIT_LIMIT
    line.unit_names = [aggregation_unit_for("rule:early")]  # counted: withheld under 20

    world.fetcher(line).fetch_channel(CHANNEL)

    late = world.insight.get(CHANNEL, "rule:late")
    early = world.insight.get(CHANNEL, "rule:early")
    assert late is not None and late.over_unit_limit
    assert late.as_report()["over_unit_limit"] is True
    assert early is not None and not early.over_unit_limit


def test_under_the_unit_limit_a_withheld_campaign_is_just_withheld(world: World) -> None:
    world.sent("rule:small", NOW - timedelta(hours=1))
    line = FakeLine({aggregation_unit_for("rule:small"): WITHHELD})
    world.fetcher(line).fetch_channel(CHANNEL)
    stored = world.insight.get(CHANNEL, "rule:small")
    assert stored is not None and stored.statistics.withheld and not stored.over_unit_limit


def test_a_channel_without_credentials_is_skipped_not_failed(world: World) -> None:
    from linecrm.channels import UnknownChannel

    world.sent("rule:r", NOW - timedelta(hours=1))

    def no_client(channel_id: str) -> FakeLine:
        raise UnknownChannel(channel_id)

    fetcher = InsightFetcher(world.stats, world.insight, world.ledger, no_client, lambda: world.now)
    report = fetcher.fetch_channel(CHANNEL)
    assert report.no_credentials and report.left == 1
    assert world.insight.get(CHANNEL, "rule:r") is None
