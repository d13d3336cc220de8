"""Purchases through the events API handler (moto): attributed to the friend's last
click within the channel's window, exposure and holdout credited, each order once."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from linecrm.domain.attribution import ATTRIBUTION_SETTING
from linecrm.domain.campaigns import broadcast_campaign, step_campaign
from linecrm.repositories.campaign_stats import CampaignStatsRepository, Counters
from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm.repositories.tracking_markers import Marker, TrackingMarkers
from tests.unit.conftest import CHANNEL_ID, AwsWorld
from tests.unit.events.test_events_handler import FRIEND, events_world, post

__all__ = ["events_world"]  # the fixture, used here

SALE = broadcast_campaign("sale")
STEP = step_campaign("welcome", "day3")
HOLDOUT_OF = broadcast_campaign("spring")
TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture
def repos(events_world: AwsWorld) -> tuple[CampaignStatsRepository, TrackingMarkers]:
    client = events_world.client("dynamodb")
    table = events_world.resources.table_names["Main"]
    return CampaignStatsRepository(client, table), TrackingMarkers(client, table)


def purchase(key: str, at: datetime, value: float | None = 4200, **properties: Any) -> bytes:
    event: dict[str, Any] = {
        "name": "purchase",
        "user": FRIEND,
        "occurred_at": at.isoformat(),
        "idempotency_key": key,
        "properties": properties,
    }
    if value is not None:
        event["value"] = value
    return json.dumps({"events": [event]}).encode()


def applied(body: bytes) -> None:
    status, answer = post(body)
    assert status == 200, answer
    assert [r["status"] for r in answer["results"]] == ["applied"], answer


def day_totals(stats: CampaignStatsRepository, at: datetime) -> Counters:
    day = at.astimezone(TOKYO).date()
    return stats.days(CHANNEL_ID, day, day).get(day, {})


def test_a_purchase_after_a_click_is_attributed_with_its_revenue(repos: Any) -> None:
    stats, markers = repos
    bought = datetime.now(UTC) - timedelta(minutes=1)
    markers.put_last_click(CHANNEL_ID, FRIEND, Marker(SALE, "A", bought - timedelta(days=2)))
    markers.put_last_sent_many(CHANNEL_ID, [FRIEND], Marker(STEP, None, bought - timedelta(days=1)))
    markers.put_holdout_many(
        CHANNEL_ID, [FRIEND], Marker(HOLDOUT_OF, None, bought - timedelta(days=3))
    )

    applied(purchase("order-1", bought, 4200))

    assert stats.campaign(CHANNEL_ID, SALE) == {"A": {"conversions": 1, "revenue": 4200}}
    assert stats.campaign(CHANNEL_ID, STEP) == {
        "-": {"exposed_conversions": 1, "exposed_revenue": 4200}
    }
    assert stats.campaign(CHANNEL_ID, HOLDOUT_OF) == {
        "holdout": {
            "conversions": 1,
            "revenue": 4200,
            "exposed_conversions": 1,
            "exposed_revenue": 4200,
        }
    }
    assert day_totals(stats, bought) == {"conversions": 1, "revenue": 4200}


def test_a_purchase_7_days_and_a_second_after_the_click_is_not_attributed(repos: Any) -> None:
    stats, markers = repos
    bought = datetime.now(UTC) - timedelta(minutes=1)
    clicked = bought - timedelta(days=7, seconds=1)
    markers.put_last_click(CHANNEL_ID, FRIEND, Marker(SALE, None, clicked))

    applied(purchase("order-2", bought))

    assert stats.campaign(CHANNEL_ID, SALE) == {}
    assert day_totals(stats, bought) == {}


def test_the_window_is_the_channels_setting(repos: Any, events_world: AwsWorld) -> None:
    stats, markers = repos
    ChannelConfigRepository(
        events_world.client("dynamodb"), events_world.resources.table_names["Main"]
    ).set_setting(CHANNEL_ID, ATTRIBUTION_SETTING, {"window_days": 14})
    bought = datetime.now(UTC) - timedelta(minutes=1)
    markers.put_last_click(CHANNEL_ID, FRIEND, Marker(SALE, None, bought - timedelta(days=10)))

    applied(purchase("order-3", bought, 990))

    assert stats.campaign(CHANNEL_ID, SALE) == {"-": {"conversions": 1, "revenue": 990}}


def test_a_purchase_without_a_click_is_no_conversion(repos: Any, events_world: AwsWorld) -> None:
    stats, _ = repos
    bought = datetime.now(UTC) - timedelta(minutes=1)
    applied(purchase("order-4", bought))

    assert day_totals(stats, bought) == {}
    stats_items = [i for i in events_world.main_items() if i["pk"]["S"].startswith("STATS#")]
    assert stats_items == []


def test_one_order_is_counted_once_under_two_idempotency_keys(repos: Any) -> None:
    """The shop's server and the web tag both report order 100045 (different keys); a
    retry of either is a duplicate at the events API already."""
    stats, markers = repos
    bought = datetime.now(UTC) - timedelta(minutes=1)
    markers.put_last_click(CHANNEL_ID, FRIEND, Marker(SALE, None, bought - timedelta(hours=1)))

    applied(purchase("srv-100045", bought, 5000, order_id="100045"))
    applied(purchase("web-8f3a", bought, 5000, order_id="100045"))
    # A retry (its body differs, so its signature does: no replay refusal).
    status, answer = post(purchase("srv-100045", bought, 5000, order_id="100045", retry=1))
    assert status == 200, answer
    assert [r["status"] for r in answer["results"]] == ["duplicate"]
    applied(purchase("srv-100046", bought, 700, order_id="100046"))

    assert stats.campaign(CHANNEL_ID, SALE) == {"-": {"conversions": 2, "revenue": 5700}}
    assert day_totals(stats, bought) == {"conversions": 2, "revenue": 5700}
