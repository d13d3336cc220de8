"""CSV for Excel (BOM, CRLF, stable headers, integer yen) and the reads a report costs:
a fixed number of DynamoDB calls, whether 10 or 1,000 friends' counters are behind it."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest

from linecrm.reports import csv_format
from linecrm.repositories.campaign_stats import STATS_SHARDS
from linecrm_local.aws_calls import count_aws_calls
from tests.unit.conftest import AwsWorld
from tests.unit.reports.world import NOW, ReportWorld, text


@pytest.fixture
def world(aws: AwsWorld) -> ReportWorld:
    return ReportWorld(aws)


def rows(body: str) -> list[list[str]]:
    assert body.startswith(csv_format.BOM)
    assert "\r\n" in body and "\n" not in body.replace("\r\n", "")
    return list(csv.reader(io.StringIO(body.removeprefix(csv_format.BOM))))


def test_a_campaign_csv_has_a_bom_stable_headers_and_integer_yen(world: ReportWorld) -> None:
    world.broadcast("spring", "春のセール, 第1弾", started_at=NOW)
    world.sent("broadcast:spring", NOW, 8, variant="A")
    world.add(
        "broadcast:spring", "U1", "A", clicks=3, unique_clicks=1, conversions=1, revenue=12800
    )
    world.add("broadcast:spring", "H1", "holdout", held_out=4)

    body = csv_format.campaign_csv(world.service().campaign(world.channel_id, "broadcast:spring"))
    raw = body.encode("utf-8")
    assert raw.startswith(b"\xef\xbb\xbf")

    table = rows(body)
    assert table[0] == [
        "キャンペーン (campaign)",
        "種類 (kind)",
        "名前 (name)",
        "パターン (variant)",
        "配信数 (sent)",
        "クリック数 (clicks)",
        "ユニーククリック数 (unique_clicks)",
        "クリック率 (ctr)",
        "コンバージョン数 (conversions)",
        "コンバージョン率 (cvr)",
        "売上 (revenue)",
        "ブロック数 (blocks)",
        "ブロック率 (block_rate)",
        "ホールドアウト数 (held_out)",
        "開封数 (opens)",
        "開封率 (open_rate)",
    ]
    assert table[1] == [
        "broadcast:spring",
        "broadcast",
        "春のセール, 第1弾",
        "*",
        "8",
        "3",
        "1",
        "0.1250",
        "1",
        "0.1250",
        "12800",
        "0",
        "0.0000",
        "",
        "",
        "",
    ]
    assert table[2][3] == "A" and table[2][10] == "12800"
    assert table[3][3:5] == ["holdout", "0"] and table[3][13] == "4"
    assert table[3][7] == ""  # no CTR for friends who got nothing


def test_a_name_that_looks_like_a_formula_stays_text(world: ReportWorld) -> None:
    world.broadcast("evil", '=HYPERLINK("https://example.com","click")', started_at=NOW)
    world.route("ad_x", "+81 広告", "xxxxxxxx")
    world.sent("broadcast:evil", NOW, 3)
    service = world.service()

    table = rows(csv_format.campaign_csv(service.campaign(world.channel_id, "broadcast:evil")))
    assert table[1][2] == '\'=HYPERLINK("https://example.com","click")'
    assert table[1][3] == "*"
    assert rows(csv_format.routes_csv(service.routes(world.channel_id)))[1][1] == "'+81 広告"
    assert csv_format.text_cell("春のセール") == "春のセール"
    assert csv_format.text_cell(None) == ""


def test_every_report_has_its_csv(world: ReportWorld) -> None:
    world.scenario(
        "onboarding",
        "新規",
        [{"id": "day0", "timing": {"after": "0m"}, "messages": [text("ようこそ")]}],
    )
    world.route("ad_a", "広告A", "aaaaaaaa")
    world.sent("step:onboarding:day0", NOW, 4)
    service = world.service()

    listed = rows(csv_format.campaign_list_csv(service.campaigns(world.channel_id)))
    assert listed[0][:5] == [
        "キャンペーン (campaign)",
        "種類 (kind)",
        "名前 (name)",
        "初回配信日時 (first_sent_at)",
        "最終配信日時 (last_sent_at)",
    ]
    assert listed[1][:5] == [
        "step:onboarding:day0",
        "step",
        "新規 / day0",
        "2026-12-02T12:00:00+09:00",
        "2026-12-02T12:00:00+09:00",
    ]
    funnel = rows(csv_format.funnel_csv(service.funnel(world.channel_id, "onboarding")))
    assert funnel[1] == [
        "onboarding",
        "day0",
        "step:onboarding:day0",
        "1",
        "4",
        "0",
        "0.0000",
        "0",
        "0.0000",
    ]
    routes = rows(csv_format.routes_csv(service.routes(world.channel_id)))
    assert routes[0][0] == "流入経路 (route_id)"
    assert routes[1] == ["ad_a", "広告A", "0", "0", "0", "0", "", ""]
    timeline = rows(
        csv_format.timeline_csv(service.timeline(world.channel_id, "2026-12-01", "2026-12-02"))
    )
    assert [row[0] for row in timeline] == ["日付 (date)", "2026-12-01", "2026-12-02"]
    assert timeline[0][-2:] == ["友だち追加数 (friends_added)", "ブロック・削除数 (unfollows)"]


# ---------------------------------------------------------------------- O(1) reads
def _counted(run: Callable[[], Any]) -> dict[str, int]:
    with count_aws_calls() as calls:
        run()
    return calls.by_operation("dynamodb")


def _campaign_with_friends(world: ReportWorld, campaign: str, friends: int) -> None:
    """What ``friends`` friends leave behind: a send per 500, a click, some purchases
    and blocks per friend, on two variants and the holdout."""
    for chunk in range(0, friends, 500):
        world.sent(campaign, NOW + timedelta(seconds=chunk), min(500, friends - chunk), "A")
    for index in range(friends):
        user = f"U{index:032x}"
        variant = ("A", "B", "holdout")[index % 3]
        counts = {"clicks": 1, "unique_clicks": 1} if variant != "holdout" else {"held_out": 1}
        if index % 7 == 0:
            counts |= {"conversions": 1, "revenue": 1000}
        if index % 11 == 0:
            counts |= {"blocks": 1}
        world.add(campaign, user, variant, **counts)
        world.stats.add_to_day(
            world.channel_id, date(2026, 12, 1 + index % 2), {"clicks": 1}, shard_by=user
        )


def test_a_report_reads_the_same_few_items_for_10_or_1000_friends(world: ReportWorld) -> None:
    world.broadcast("small", "小", started_at=NOW)
    world.broadcast("large", "大", started_at=NOW)
    _campaign_with_friends(world, "broadcast:small", 10)
    _campaign_with_friends(world, "broadcast:large", 1000)
    service = world.service(world.aws.client("dynamodb"))

    small = _counted(lambda: service.campaign(world.channel_id, "broadcast:small"))
    large = _counted(lambda: service.campaign(world.channel_id, "broadcast:large"))

    # Counters: a query per shard; the index entry, LINE's figures and the broadcast: a
    # GetItem each; the channel's config (its time zone): one query.
    assert large == small
    assert small == {"dynamodb.GetItem": 3, "dynamodb.Query": STATS_SHARDS + 1}
    report = service.campaign(world.channel_id, "broadcast:large")
    assert report.sent == 1000 and report.holdout is not None
    assert report.holdout.held_out == 333


def test_the_timeline_funnel_and_list_read_per_shard_step_or_campaign(
    world: ReportWorld,
) -> None:
    world.scenario(
        "onboarding",
        "新規",
        [
            {"id": "day0", "timing": {"after": "0m"}, "messages": [text("ようこそ")]},
            {"id": "day3", "timing": {"after": "3d"}, "messages": [text("クーポン")]},
        ],
    )
    _campaign_with_friends(world, "step:onboarding:day0", 1000)
    _campaign_with_friends(world, "step:onboarding:day3", 300)
    client = world.aws.client("dynamodb")

    def service() -> Any:  # a fresh one: the scenario repository keeps versions it read
        return world.service(client)

    timeline = _counted(lambda: service().timeline(world.channel_id, "2026-01-01", "2026-12-31"))
    assert timeline == {"dynamodb.Query": STATS_SHARDS + 1}

    funnel = _counted(lambda: service().funnel(world.channel_id, "onboarding"))
    assert funnel == {"dynamodb.GetItem": 2, "dynamodb.Query": 2 * STATS_SHARDS}

    listed = _counted(lambda: service().campaigns(world.channel_id))
    # The index, the config, the scenario once for both steps, each step's counters,
    # LINE's figures of both in one batch.
    assert listed == {
        "dynamodb.BatchGetItem": 1,
        "dynamodb.GetItem": 2,
        "dynamodb.Query": 1 + 1 + 2 * STATS_SHARDS,
    }

    routes = _counted(lambda: service().routes(world.channel_id))
    assert routes == {"dynamodb.Query": 1}
