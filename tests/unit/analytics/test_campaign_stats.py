"""Report counters: added from many writers (shards), read back summed in a few queries."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from linecrm.domain.campaigns import broadcast_campaign, is_campaign, step_campaign
from linecrm.domain.deliveries import request_of
from linecrm.models.send import SendRequest
from linecrm.repositories.campaign_stats import STATS_SHARDS, CampaignStatsRepository
from linecrm.repositories.deliveries import DeliveryLedger
from tests.unit.conftest import CHANNEL_ID, AwsWorld

NOW = date(2026, 12, 2)


def _repository(aws: AwsWorld) -> tuple[CampaignStatsRepository, Any]:
    client = aws.client("dynamodb")
    return CampaignStatsRepository(client, aws.resources.table_names["Main"]), client


def test_counters_from_many_friends_sum_per_variant(aws: AwsWorld) -> None:
    stats, _ = _repository(aws)
    campaign = broadcast_campaign("spring-sale")
    for index in range(40):
        variant = "A" if index % 2 else "B"
        stats.add_to_campaign(
            CHANNEL_ID,
            campaign,
            {"clicks": 1, "revenue": 1200},
            shard_by=f"U{index}",
            variant=variant,
        )
    stats.add_to_campaign(CHANNEL_ID, campaign, {"sent": 500, "blocks": 0}, shard_by="chunk-0")

    by_variant = stats.campaign(CHANNEL_ID, campaign)

    assert by_variant == {
        "A": {"clicks": 20, "revenue": 24000},
        "B": {"clicks": 20, "revenue": 24000},
        "-": {"sent": 500},
    }
    assert stats.campaign_total(CHANNEL_ID, campaign) == {
        "clicks": 40,
        "revenue": 48000,
        "sent": 500,
    }
    assert stats.campaign(CHANNEL_ID, broadcast_campaign("other")) == {}


def test_a_campaign_reads_one_query_per_shard(aws: AwsWorld) -> None:
    stats, client = _repository(aws)
    campaign = step_campaign("welcome-series", "day3")
    for index in range(100):
        stats.add_to_campaign(CHANNEL_ID, campaign, {"sent": 1}, shard_by=f"U{index}")
    calls: list[str] = []
    client.meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: calls.append(model.name)
    )

    assert stats.campaign_total(CHANNEL_ID, campaign) == {"sent": 100}
    assert calls == ["Query"] * STATS_SHARDS


def test_days_are_a_range(aws: AwsWorld) -> None:
    stats, _ = _repository(aws)
    for offset, friends in ((0, 3), (1, 5), (3, 1)):
        day = date(2026, 12, 1 + offset)
        for index in range(friends):
            stats.add_to_day(CHANNEL_ID, day, {"follows": 1}, shard_by=f"U{index}")

    assert stats.days(CHANNEL_ID, date(2026, 12, 2), date(2026, 12, 4)) == {
        date(2026, 12, 2): {"follows": 5},
        date(2026, 12, 4): {"follows": 1},
    }


def test_zero_increments_write_nothing(aws: AwsWorld) -> None:
    stats, _ = _repository(aws)
    stats.add_to_campaign(CHANNEL_ID, "welcome", {"sent": 0}, shard_by="x")
    stats.add_to_day(CHANNEL_ID, NOW, {}, shard_by="x")
    assert aws.main_items() == []


def test_the_ledger_keeps_a_requests_campaign_and_variant(aws: AwsWorld) -> None:
    from datetime import UTC, datetime

    ledger = DeliveryLedger(aws.client("dynamodb"), aws.resources.table_names["Main"])
    request = SendRequest(
        delivery_id="bc:spring:0",
        channel_id=CHANNEL_ID,
        to=["U1", "U2"],
        messages=[{"type": "text", "text": "sale"}],
        cause="broadcast",
        campaign=broadcast_campaign("spring"),
        variant="B",
    )
    ledger.record_queued(request, datetime(2026, 12, 2, tzinfo=UTC))

    recorded = ledger.get("bc:spring:0")

    assert recorded is not None
    assert (recorded.campaign, recorded.variant) == ("broadcast:spring", "B")
    assert request_of(recorded) == request


def test_campaign_keys_are_checked() -> None:
    assert is_campaign("broadcast:spring-sale")
    assert is_campaign("step:welcome:day3")
    assert not is_campaign("broadcast:")
    assert not is_campaign("promo:x")
    unnamed = SendRequest(
        delivery_id="d",
        channel_id=CHANNEL_ID,
        to=["U1"],
        messages=[{"type": "text", "text": "x"}],
        cause="manual",
    )
    assert "campaign" not in unnamed.model_dump()


def test_the_campaign_index_lists_campaigns_most_recent_first_keeping_the_first_send(
    aws: AwsWorld,
) -> None:
    stats, client = _repository(aws)
    at = [datetime(2026, 12, 2, hour, tzinfo=UTC) for hour in range(4)]
    for campaign, sent_at in [
        (broadcast_campaign("spring"), at[0]),
        (step_campaign("welcome-series", "day1"), at[1]),
        (broadcast_campaign("spring"), at[2]),
        (broadcast_campaign("summer"), at[3]),
    ]:
        client.update_item(**stats.index_update(CHANNEL_ID, campaign, sent_at))

    listed = stats.campaigns(CHANNEL_ID)
    broadcasts = stats.campaigns(CHANNEL_ID, kind="broadcast")

    assert [(c.campaign, c.kind) for c in listed] == [
        ("broadcast:summer", "broadcast"),
        ("broadcast:spring", "broadcast"),
        ("step:welcome-series:day1", "step"),
    ]
    spring = listed[1]
    assert (spring.first_sent_at, spring.last_sent_at) == (at[0], at[2])
    assert [c.campaign for c in broadcasts] == ["broadcast:summer", "broadcast:spring"]
