"""Follows, unfollows and blocks counted from the webhook's signals, once per event:
through the webhook handler (moto), and the listener alone for a re-emitted signal."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from linecrm.counting.listener import ReportCounting
from linecrm.domain.attribution import AttributionSettings
from linecrm.domain.campaigns import broadcast_campaign
from linecrm.domain.signals import Blocked, Followed
from linecrm.repositories.campaign_stats import CampaignStatsRepository, Counters
from linecrm.repositories.stats_writes import StatsWriter
from linecrm.repositories.tracking_markers import Marker, TrackingMarkers
from tests.support.lambda_support import load_handler, response_json
from tests.support.signing import line_event, webhook_body
from tests.unit.conftest import CHANNEL_ID, AwsWorld, webhook_request

SALE = broadcast_campaign("sale")
TOKYO = ZoneInfo("Asia/Tokyo")


def user(number: int) -> str:
    return f"U{number:032x}"


@pytest.fixture
def repos(aws: AwsWorld) -> tuple[CampaignStatsRepository, TrackingMarkers, Any]:
    client = aws.client("dynamodb")
    table = aws.resources.table_names["Main"]
    return CampaignStatsRepository(client, table), TrackingMarkers(client, table), client


def day_totals(stats: CampaignStatsRepository, at: datetime) -> Counters:
    day = at.astimezone(TOKYO).date()
    return stats.days(CHANNEL_ID, day, day).get(day, {})


def deliver(webhook: Any, event: dict[str, Any], context: Any) -> dict[str, Any]:
    response = webhook.lambda_handler(webhook_request(webhook_body(event)), context)
    assert response["statusCode"] == 200
    body: dict[str, Any] = response_json(response)
    return body


def event_at(event: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(event["timestamp"] / 1000, UTC)


def test_an_unfollow_within_24_hours_of_a_delivery_is_a_block_counted_once(
    aws: AwsWorld, repos: Any, lambda_context: Any
) -> None:
    stats, markers, _ = repos
    webhook = load_handler("webhook")
    friend = user(1)
    follow = line_event("follow", friend)
    assert deliver(webhook, follow, lambda_context)["applied"] == 1
    sent_at = datetime.now(UTC) - timedelta(hours=23, minutes=59)
    markers.put_last_sent_many(CHANNEL_ID, [friend], Marker(SALE, "B", sent_at))

    unfollow = line_event("unfollow", friend)
    assert deliver(webhook, unfollow, lambda_context)["applied"] == 1
    redelivered = {**unfollow, "deliveryContext": {"isRedelivery": True}}
    assert deliver(webhook, redelivered, lambda_context)["duplicates"] == 1

    assert stats.campaign(CHANNEL_ID, SALE) == {"B": {"blocks": 1}}
    assert day_totals(stats, event_at(unfollow)) == {
        "friends_added": 1,
        "unfollows": 1,
        "blocks": 1,
    }


def test_an_unfollow_24_hours_and_a_second_after_the_delivery_is_no_block(
    aws: AwsWorld, repos: Any, lambda_context: Any
) -> None:
    stats, markers, _ = repos
    webhook = load_handler("webhook")
    friend = user(2)
    deliver(webhook, line_event("follow", friend), lambda_context)
    unfollow = line_event("unfollow", friend)
    sent_at = event_at(unfollow) - timedelta(hours=24, seconds=1)
    markers.put_last_sent_many(CHANNEL_ID, [friend], Marker(SALE, None, sent_at))

    deliver(webhook, unfollow, lambda_context)

    assert stats.campaign(CHANNEL_ID, SALE) == {}
    assert day_totals(stats, event_at(unfollow)) == {"friends_added": 1, "unfollows": 1}


def test_a_friend_back_after_a_block_is_added_again_a_second_follow_is_not(
    aws: AwsWorld, repos: Any, lambda_context: Any
) -> None:
    stats, _, _ = repos
    webhook = load_handler("webhook")
    friend = user(3)
    first = line_event("follow", friend)
    deliver(webhook, first, lambda_context)
    time.sleep(0.002)  # event times are milliseconds: the next events come later
    deliver(webhook, line_event("follow", friend), lambda_context)  # already following
    time.sleep(0.002)
    deliver(webhook, line_event("unfollow", friend), lambda_context)
    time.sleep(0.002)
    deliver(webhook, line_event("follow", friend, follow={"isUnblocked": True}), lambda_context)

    assert day_totals(stats, event_at(first)) == {"friends_added": 2, "unfollows": 1}


def test_a_re_emitted_signal_counts_nothing_more(repos: Any, aws: AwsWorld) -> None:
    """An emitter that crashed after emitting is retried and emits again."""
    stats, markers, client = repos
    listener = ReportCounting(
        StatsWriter(client, aws.resources.table_names["Main"], stats),
        markers,
        lambda _channel: AttributionSettings(),
        lambda _channel: TOKYO,
    )
    at = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    friend = user(4)
    markers.put_last_sent_many(CHANNEL_ID, [friend], Marker(SALE, None, at - timedelta(hours=1)))

    notes = [listener.on_signal(Blocked(CHANNEL_ID, friend, at)) for _ in range(2)]
    listener.on_signal(Followed(CHANNEL_ID, friend, at + timedelta(hours=1)))
    listener.on_signal(Followed(CHANNEL_ID, friend, at + timedelta(hours=1)))
    # The inflow attribution's second signal of the same follow adds nothing.
    listener.on_signal(
        Followed(
            CHANNEL_ID,
            friend,
            at + timedelta(hours=1),
            inflow_route="qr",
            route_attribution=True,
        )
    )

    assert notes == [["unfollows +1", f"block counted on {SALE}"], []]
    assert stats.campaign(CHANNEL_ID, SALE) == {"-": {"blocks": 1}}
    assert day_totals(stats, at) == {"unfollows": 1, "blocks": 1, "friends_added": 1}
