"""Admin API, the console's dashboard summary: per-day friends and deliveries from the
report counters, the quota snapshot (read again by the jobs function when stale), the
best and worst recent deliveries by CTR."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from linecrm import resources
from linecrm.delivery import quota_snapshot
from linecrm.domain import stats
from linecrm.line.client import MessageQuota
from linecrm.repositories.campaign_stats import CampaignStatsRepository
from tests.unit.admin.conftest import AdminApi, assert_error

pytestmark = pytest.mark.usefixtures("aws")


def job_steps(api: AdminApi) -> list[dict[str, object]]:
    sqs = api.aws.client("sqs")
    url = api.aws.resources.queue_urls[resources.JOB_QUEUE.logical_id]
    batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(message["Body"]) for message in batch]


def test_days_quota_and_ranked_deliveries(api: AdminApi) -> None:
    counters = CampaignStatsRepository(
        api.aws.client("dynamodb"), api.aws.resources.table_names["Main"]
    )
    today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Tokyo")).date()
    counters.add_to_day(
        api.channel_id,
        today,
        {stats.FRIENDS_ADDED: 5, stats.UNFOLLOWS: 2, stats.SENT: 40},
        shard_by="a",
    )
    counters.add_to_day(api.channel_id, today - timedelta(days=3), {stats.SENT: 7}, shard_by="b")
    now = datetime.now(UTC)
    for number, clicks in enumerate((2, 10, 5, 0, 8)):
        campaign = f"broadcast:b{number}"
        counters.add_to_campaign(
            api.channel_id,
            campaign,
            {stats.SENT: 50, stats.UNIQUE_CLICKS: clicks},
            shard_by="x",
        )
        counters.index(api.channel_id, campaign, now - timedelta(hours=number))
    counters.add_to_campaign(  # too few recipients to rank
        api.channel_id, "broadcast:tiny", {stats.SENT: 3, stats.UNIQUE_CLICKS: 3}, shard_by="x"
    )
    counters.index(api.channel_id, "broadcast:tiny", now)

    first = api.call("GET", "/dashboard/summary", query={"days": 7})
    assert first.status == 200, first.body
    body = first.body
    assert body["timeZone"] == "Asia/Tokyo"
    assert len(body["days"]) == 7 and body["days"][-1]["date"] == today.isoformat()
    assert body["days"][-1] | {"date": None} == {
        "date": None,
        "friendsAdded": 5,
        "blocked": 2,
        "net": 3,
        "deliveries": 40,
    }
    assert body["days"][-4]["deliveries"] == 7
    assert [d["campaign"] for d in body["best"]] == ["broadcast:b1", "broadcast:b4", "broadcast:b2"]
    assert [d["campaign"] for d in body["worst"]] == ["broadcast:b3", "broadcast:b0"]
    # No quota read yet: the jobs function is asked to read it from LINE.
    assert body["quota"] is None and body["quotaRefreshing"] is True
    assert job_steps(api) == [{"kind": "quota_fetch", "channel_id": api.channel_id}]

    quota_snapshot.remember(api.config, api.channel_id, MessageQuota(limit=1000, used=250), now)
    second = api.call("GET", "/dashboard/summary").body
    assert len(second["days"]) == 30
    assert second["quota"] | {"fetchedAt": None} == {
        "type": "limited",
        "limit": 1000,
        "used": 250,
        "remaining": 750,
        "fetchedAt": None,
    }
    assert second["quotaRefreshing"] is False and job_steps(api) == []

    quota_snapshot.remember(
        api.config, api.channel_id, MessageQuota(limit=None, used=9), now - timedelta(hours=1)
    )
    stale = api.call("GET", "/dashboard/summary").body
    assert stale["quota"]["type"] == "none" and stale["quotaRefreshing"] is True
    assert len(job_steps(api)) == 1


def test_days_out_of_range_are_422(api: AdminApi) -> None:
    assert_error(api.call("GET", "/dashboard/summary", query={"days": 0}), 422)
    assert_error(api.call("GET", "/dashboard/summary", query={"days": 400}), 422)
