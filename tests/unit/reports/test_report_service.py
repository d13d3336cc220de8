"""The report service on moto: figures per campaign and variant (the holdout apart),
names from what the campaign is, the campaign list, a scenario's funnel in step
order, the inflow routes, and a timeline with every day of the range."""

from __future__ import annotations

from contextvars import ContextVar
from datetime import date, timedelta
from typing import Any

import pytest

from linecrm.domain.insight import CampaignInsight, MessageStatistics
from linecrm.reports.service import (
    CampaignNotFound,
    ReportRejected,
    ReportService,
    ScenarioNotFound,
)
from linecrm.repositories.broadcasts import BroadcastRepository
from linecrm.repositories.scenarios import ScenarioRepository
from tests.unit.conftest import AwsWorld
from tests.unit.reports.world import NOW, ReportWorld, text


@pytest.fixture
def world(aws: AwsWorld) -> ReportWorld:
    return ReportWorld(aws)


def test_a_broadcast_report_sums_its_variants_and_keeps_the_holdout_apart(
    world: ReportWorld,
) -> None:
    world.broadcast("spring", "春のセール", started_at=NOW)
    campaign = "broadcast:spring"
    world.sent(campaign, NOW, 300, variant="A")
    world.sent(campaign, NOW + timedelta(minutes=1), 100, variant="B")
    for index in range(30):
        world.add(campaign, f"U{index}", "A", clicks=2, unique_clicks=1)
    for index in range(10):
        world.add(campaign, f"U{index}", "B", clicks=1, unique_clicks=1)
    world.add(campaign, "U1", "A", conversions=1, revenue=4800)
    world.add(campaign, "U2", "A", conversions=1, revenue=1200)
    world.add(campaign, "U3", "B", blocks=1)
    for index in range(50):
        world.add(campaign, f"H{index}", "holdout", held_out=1)
    world.add(campaign, "H1", "holdout", conversions=1, revenue=999)

    report = world.service().campaign(world.channel_id, campaign)

    assert (report.campaign, report.kind, report.name) == (campaign, "broadcast", "春のセール")
    assert (report.sent, report.clicks, report.unique_clicks) == (400, 70, 40)
    assert (report.conversions, report.revenue, report.blocks) == (2, 6000, 1)
    assert (report.ctr, report.cvr, report.block_rate) == (0.1, 0.005, 0.0025)
    assert [(v.variant, v.sent, v.unique_clicks, v.conversions) for v in report.variants] == [
        ("A", 300, 30, 2),
        ("B", 100, 10, 0),
    ]
    assert report.variants[1].block_rate == 0.01
    assert report.holdout is not None
    assert report.holdout.model_dump() == {
        "held_out": 50,
        "conversions": 1,
        "revenue": 999,
        "cvr": 0.02,
    }
    # Times in the account's time zone (Asia/Tokyo by default).
    assert report.first_sent_at is not None and report.last_sent_at is not None
    assert report.first_sent_at.isoformat() == "2026-12-02T12:00:00+09:00"
    assert report.last_sent_at.isoformat() == "2026-12-02T12:01:00+09:00"


def test_a_campaign_without_variants_lists_none_and_rates_are_null_when_nothing_went_out(
    world: ReportWorld,
) -> None:
    world.broadcast("later", "予約配信")  # scheduled, nothing sent yet
    report = world.service().campaign(world.channel_id, "broadcast:later")
    assert report.name == "予約配信" and report.sent == 0
    assert (report.ctr, report.cvr, report.block_rate) == (None, None, None)
    assert report.variants == [] and report.holdout is None
    assert report.first_sent_at is None

    world.sent("welcome", NOW, 8)
    world.add("welcome", "U1", clicks=1, unique_clicks=1)
    welcome = world.service().campaign(world.channel_id, "welcome")
    assert (welcome.sent, welcome.unique_clicks, welcome.ctr) == (8, 1, 0.125)
    assert welcome.variants == [] and welcome.name == "welcome message (on follow)"


def test_steps_and_rules_are_named_after_their_scenario_and_rule(world: ReportWorld) -> None:
    world.scenario(
        "onboarding",
        "新規フォロー",
        [
            {"id": "day0", "timing": {"after": "0m"}, "messages": [text("ようこそ")]},
            {"id": "day3", "timing": {"after": "3d"}, "messages": [text("クーポン")]},
        ],
    )
    world.rule("hours", "営業時間の案内")
    world.sent("step:onboarding:day3", NOW, 5)
    world.sent("rule:hours", NOW, 2)

    step = world.service().campaign(world.channel_id, "step:onboarding:day3")
    assert (step.kind, step.name, step.scenario_id, step.step_id, step.sent) == (
        "step",
        "新規フォロー / day3",
        "onboarding",
        "day3",
        5,
    )
    rule = world.service().campaign(world.channel_id, "rule:hours")
    assert (rule.kind, rule.name, rule.sent) == ("rule", "営業時間の案内", 2)
    # A step that exists but never sent: zeros, not 404.
    assert world.service().campaign(world.channel_id, "step:onboarding:day0").sent == 0


def test_a_rich_menu_reports_taps_without_rates_named_after_its_menu(
    world: ReportWorld,
) -> None:
    world.menus({"main": "メインメニュー"})
    world.client.update_item(**world.stats.index_update(world.channel_id, "richmenu:main", NOW))
    world.add("richmenu:main", "U1", clicks=2, unique_clicks=1)
    world.add("richmenu:main", "U2", clicks=1, unique_clicks=1)

    report = world.service().campaign(world.channel_id, "richmenu:main")

    assert (report.kind, report.name) == ("richmenu", "メインメニュー")
    assert (report.sent, report.clicks, report.unique_clicks) == (0, 3, 2)
    assert (report.ctr, report.cvr, report.block_rate) == (None, None, None)  # no sends
    listed = world.service().campaigns(world.channel_id, "richmenu")
    assert [c.campaign for c in listed.campaigns] == ["richmenu:main"]
    # A menu of the applied set that nobody tapped yet: zeros; one not in it: not found.
    world.menus({"main": "メインメニュー", "tab2": "タブ"})
    assert world.service().campaign(world.channel_id, "richmenu:tab2").clicks == 0
    with pytest.raises(CampaignNotFound):
        world.service().campaign(world.channel_id, "richmenu:nope")


@pytest.mark.parametrize(
    "campaign",
    ["broadcast:nope", "step:onboarding:nope", "step:nope:day0", "rule:nope", "not-a-key"],
)
def test_an_unknown_campaign_is_not_found(world: ReportWorld, campaign: str) -> None:
    world.scenario(
        "onboarding",
        "新規フォロー",
        [{"id": "day0", "timing": {"after": "0m"}, "messages": [text("ようこそ")]}],
    )
    with pytest.raises(CampaignNotFound, match="no campaign"):
        world.service().campaign(world.channel_id, campaign)


def test_counters_alone_make_a_campaign_known(world: ReportWorld) -> None:
    """A broadcast deleted since still has its figures."""
    world.add("broadcast:gone", "U1", clicks=1)
    report = world.service().campaign(world.channel_id, "broadcast:gone")
    assert report.name is None and report.clicks == 1


def test_the_campaign_list_is_most_recent_first_with_names_and_a_kind_filter(
    world: ReportWorld,
) -> None:
    world.broadcast("b1", "一月の配信", started_at=NOW)
    world.broadcast("b2", "二月の配信", started_at=NOW + timedelta(days=30))
    world.scenario(
        "onboarding",
        "新規フォロー",
        [{"id": "day0", "timing": {"after": "0m"}, "messages": [text("ようこそ")]}],
    )
    world.sent("broadcast:b1", NOW, 10)
    world.sent("step:onboarding:day0", NOW + timedelta(days=10), 3)
    world.sent("broadcast:b2", NOW + timedelta(days=30), 20)
    world.add("broadcast:b1", "U1", conversions=1, revenue=500)

    listed = world.service().campaigns(world.channel_id)
    assert [(c.campaign, c.name, c.sent) for c in listed.campaigns] == [
        ("broadcast:b2", "二月の配信", 20),
        ("step:onboarding:day0", "新規フォロー / day0", 3),
        ("broadcast:b1", "一月の配信", 10),
    ]
    assert listed.campaigns[2].revenue == 500 and listed.kind is None

    broadcasts = world.service().campaigns(world.channel_id, "broadcast", limit=1)
    assert [c.campaign for c in broadcasts.campaigns] == ["broadcast:b2"]
    assert world.service().campaigns(world.channel_id, "rule").campaigns == []
    with pytest.raises(ReportRejected):
        world.service().campaigns(world.channel_id, limit=0)


def test_a_funnel_follows_the_scenario_order(world: ReportWorld) -> None:
    world.scenario(
        "onboarding",
        "新規フォロー",
        [
            {"id": "welcome", "timing": {"after": "0m"}, "messages": [text("ようこそ")]},
            {
                "id": "tag",
                "timing": {"after": "1d"},
                "actions": [{"type": "add_tags", "tags": ["x"]}],
            },
            {"id": "coupon", "timing": {"after": "3d"}, "messages": [text("クーポン")]},
        ],
    )
    world.sent("step:onboarding:welcome", NOW, 100)
    world.sent("step:onboarding:coupon", NOW, 60, variant="A")
    world.sent("step:onboarding:coupon", NOW, 20, variant="holdout")  # not sent: ignored
    world.add("step:onboarding:welcome", "U1", unique_clicks=25, clicks=40)
    world.add("step:onboarding:coupon", "U1", "A", unique_clicks=12, conversions=3)
    world.add("step:onboarding:coupon", "H1", "holdout", conversions=1)

    funnel = world.service().funnel(world.channel_id, "onboarding")

    assert (funnel.scenario_id, funnel.name) == ("onboarding", "新規フォロー")
    assert [
        (s.step_id, s.campaign, s.sends_messages, s.sent, s.unique_clicks, s.conversions)
        for s in funnel.steps
    ] == [
        ("welcome", "step:onboarding:welcome", True, 100, 25, 0),
        ("tag", "step:onboarding:tag", False, 0, 0, 0),
        ("coupon", "step:onboarding:coupon", True, 60, 12, 3),
    ]
    assert funnel.steps[0].ctr == 0.25 and funnel.steps[1].ctr is None
    assert funnel.steps[2].cvr == 0.05
    with pytest.raises(ScenarioNotFound):
        world.service().funnel(world.channel_id, "nope")


def test_routes_report_their_counters(world: ReportWorld) -> None:
    world.route("shop_b", "渋谷店ポスター", "bbbbbbbb")
    world.route("ad_a", "広告A", "aaaaaaaa")
    for index in range(4):
        world.routes.mark(
            world.channel_id, f"U{index}", "ad_a", linked=index < 2, converted=index == 0
        )
    world.routes.flip(world.channel_id, "U3", "ad_a", "blocked", True)

    report = world.service().routes(world.channel_id)

    assert [r.model_dump() for r in report.routes] == [
        {
            "route_id": "ad_a",
            "name": "広告A",
            "friends": 4,
            "blocked": 1,
            "linked": 2,
            "converted": 1,
            "block_rate": 0.25,
            "conversion_rate": 0.25,
        },
        {
            "route_id": "shop_b",
            "name": "渋谷店ポスター",
            "friends": 0,
            "blocked": 0,
            "linked": 0,
            "converted": 0,
            "block_rate": None,
            "conversion_rate": None,
        },
    ]


def test_the_timeline_has_every_day_in_the_account_time_zone(world: ReportWorld) -> None:
    for day, counts in (
        (date(2026, 11, 28), {"sent": 10, "friends_added": 2}),
        (date(2026, 11, 30), {"clicks": 3, "unique_clicks": 2, "revenue": 3000}),
    ):
        for index in range(3):
            world.stats.add_to_day(world.channel_id, day, counts, shard_by=f"U{index}")

    timeline = world.service().timeline(world.channel_id, "2026-11-27", "2026-11-30")

    assert timeline.time_zone == "Asia/Tokyo"
    assert [
        (d.date.isoformat(), d.sent, d.clicks, d.revenue, d.friends_added) for d in timeline.days
    ] == [
        ("2026-11-27", 0, 0, 0, 0),
        ("2026-11-28", 30, 0, 0, 6),
        ("2026-11-29", 0, 0, 0, 0),
        ("2026-11-30", 0, 9, 9000, 0),
    ]


def test_the_default_timeline_is_the_30_days_up_to_today_there(world: ReportWorld) -> None:
    world.time_zone("America/Los_Angeles")
    timeline = world.service().timeline(world.channel_id, None, None)
    assert timeline.time_zone == "America/Los_Angeles"
    assert len(timeline.days) == 30
    # 03:00 UTC on Dec 2 is still Dec 1 in Los Angeles.
    assert timeline.days[-1].date == date(2026, 12, 1)
    assert timeline.days[0].date == date(2026, 11, 2)
    only_from = world.service().timeline(world.channel_id, "2026-01-01", None)
    assert (only_from.days[0].date, only_from.days[-1].date) == (
        date(2026, 1, 1),
        date(2026, 1, 30),
    )
    recent = world.service().timeline(world.channel_id, "2026-11-25", None)
    assert (recent.days[0].date, recent.days[-1].date) == (
        date(2026, 11, 25),
        date(2026, 12, 1),  # today there: no days to come
    )


@pytest.mark.parametrize(
    ("first", "last", "field"),
    [
        ("2026-13-01", "2026-12-01", "from"),
        ("yesterday", None, "from"),
        ("20261201", None, "from"),
        ("2026-12-01", "2026-02-30", "to"),
        ("2026-12-02", "2026-12-01", "from"),
        ("2025-01-01", "2026-01-02", "to"),
    ],
)
def test_bad_dates_and_ranges_are_refused(
    world: ReportWorld, first: str, last: str | None, field: str
) -> None:
    with pytest.raises(ReportRejected) as refused:
        world.service().timeline(world.channel_id, first, last)
    assert refused.value.field == field


def test_a_year_is_the_longest_timeline(world: ReportWorld) -> None:
    timeline = world.service().timeline(world.channel_id, "2024-01-01", "2024-12-31")
    assert len(timeline.days) == 366


def test_line_figures_come_with_the_campaign_withheld_as_null(world: ReportWorld) -> None:
    world.broadcast("big", "大型配信", started_at=NOW)
    world.broadcast("small", "少人数", started_at=NOW)
    world.sent("broadcast:big", NOW, 400)
    world.sent("broadcast:small", NOW + timedelta(minutes=5), 12)
    fetched = NOW + timedelta(hours=1)
    world.insight.save(
        world.channel_id,
        CampaignInsight(
            campaign="broadcast:big",
            source="unit:b_big",
            statistics=MessageStatistics(
                unique_impressions=100, unique_clicks=30, impressions=180, clicks=45
            ),
            fetched_at=fetched,
        ),
    )
    world.insight.save(
        world.channel_id,
        CampaignInsight(
            campaign="broadcast:small",
            source="unit:b_small",
            statistics=MessageStatistics(None, None, None, None),
            fetched_at=fetched,
        ),
    )

    big = world.service().campaign(world.channel_id, "broadcast:big")
    assert big.line is not None
    assert (big.line.opens, big.line.open_rate, big.line.line_unique_clicks) == (100, 0.25, 30)
    assert (big.line.withheld, big.line.final) == (False, False)
    assert big.line.fetched_at.isoformat() == "2026-12-02T13:00:00+09:00"
    small = world.service().campaign(world.channel_id, "broadcast:small")
    assert small.line is not None
    assert (small.line.opens, small.line.open_rate, small.line.withheld) == (None, None, True)

    listed = world.service().campaigns(world.channel_id)
    assert [(c.campaign, c.line.opens if c.line else "none") for c in listed.campaigns] == [
        ("broadcast:small", None),
        ("broadcast:big", 100),
    ]
    world.sent("welcome", NOW, 3)
    assert world.service().campaign(world.channel_id, "welcome").line is None  # not fetched


def test_the_list_reads_campaigns_side_by_side_in_the_callers_context(
    world: ReportWorld,
) -> None:
    """The local stack knows whose AWS call it is (and checks its grants) from a context
    variable: the list's reader threads see the caller's."""
    whose: ContextVar[str | None] = ContextVar("whose", default=None)
    seen: list[str | None] = []
    stats = world.stats

    class Counting:
        def campaign(self, channel_id: str, campaign: str) -> dict[str, dict[str, int]]:
            seen.append(whose.get())
            return stats.campaign(channel_id, campaign)

        def __getattr__(self, name: str) -> Any:
            return getattr(stats, name)

    for index in range(12):
        world.sent(f"rule:r{index}", NOW + timedelta(minutes=index), index + 1)
    service = ReportService(
        Counting(),  # type: ignore[arg-type]
        BroadcastRepository(world.client, world.table),
        ScenarioRepository(world.client, world.table),
        world.routes,
        world.config.load,
        lambda: NOW,
    )
    whose.set("admin")
    listed = service.campaigns(world.channel_id)
    assert [c.sent for c in listed.campaigns] == list(range(12, 0, -1))
    assert seen == ["admin"] * 12
