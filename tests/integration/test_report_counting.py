"""The report counters' write paths on the local stack: a broadcast counts ``sent`` (and
leaves last-sent markers), an unfollow through the emulator's webhook within 24 h counts
a block on that broadcast, a purchase through the events API after a click (the
LASTCLICK marker written directly) is attributed with its revenue. Every AWS call is
checked against the function's grants in the CDK template."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from linecrm.domain.campaigns import broadcast_campaign
from linecrm.events.signature import compute_signature
from linecrm.repositories.campaign_stats import CampaignStatsRepository, Counters
from linecrm.repositories.tracking_markers import Marker, TrackingMarkers
from linecrm.resources import MAIN_TABLE
from linecrm_local.demo import DEMO_CHANNEL_ID, DEMO_EVENT_SOURCE, DEMO_EVENT_SOURCE_KEY
from linecrm_local.seed import seed_friends
from linecrm_local.stack import LocalStack
from tests.support.admin_http import READ, admin, eventually

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]
SALE = [{"type": "text", "text": "週末セール"}]


def repositories(stack: LocalStack) -> tuple[CampaignStatsRepository, TrackingMarkers]:
    client = stack.aws.session().client("dynamodb")
    table = stack.resources.table_names[MAIN_TABLE.logical_id]
    return CampaignStatsRepository(client, table), TrackingMarkers(client, table)


def broadcast_sent(stack: LocalStack, broadcast_id: str) -> bool:
    report = admin(stack, "GET", f"/broadcasts/{broadcast_id}").json()
    return bool(report["broadcast"]["status"] == "sent" and not report["deliveries"].get("queued"))


def counters(stats: CampaignStatsRepository, campaign: str) -> Counters:
    return stats.campaign_total(DEMO_CHANNEL_ID, campaign)


def post_purchase(stack: LocalStack, user_id: str, key: str, value: int) -> dict[str, Any]:
    occurred = (stack.clock.now() - timedelta(minutes=1)).isoformat()
    body = json.dumps(
        {
            "events": [
                {
                    "name": "purchase",
                    "user": user_id,
                    "occurred_at": occurred,
                    "idempotency_key": key,
                    "value": value,
                    "properties": {"order_id": key},
                }
            ]
        }
    ).encode()
    timestamp = str(int(stack.clock.now().timestamp()))
    answer = requests.post(
        stack.events_url(),
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Linecrm-Source": DEMO_EVENT_SOURCE,
            "X-Linecrm-Timestamp": timestamp,
            "X-Linecrm-Signature": compute_signature(DEMO_EVENT_SOURCE_KEY, timestamp, body),
        },
        timeout=READ,
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_broadcast_sent_then_a_block_and_an_attributed_purchase(fresh: LocalStack) -> None:
    stats, markers = repositories(fresh)
    tag = admin(fresh, "POST", "/tags", {"name": "集計テスト"})
    assert tag.status_code == 201, tag.text
    members = seed_friends(
        fresh.emulator,
        DEMO_CHANNEL_ID,
        fresh.resources.table_names[MAIN_TABLE.logical_id],
        3,
        tag_ids=(tag.json()["tag_id"],),
        session=fresh.aws.session(),
    )
    body = {"name": "週末セール", "messages": SALE, "segment": {"match": {"tag": "集計テスト"}}}
    created = admin(fresh, "POST", "/broadcasts", body)
    assert created.status_code == 202, created.text
    broadcast_id = created.json()["broadcast_id"]
    campaign = broadcast_campaign(broadcast_id)

    eventually(lambda: broadcast_sent(fresh, broadcast_id), "broadcast sent", seconds=180)
    fresh.poller.drain(timeout=120)

    # Sent: once per recipient, with the campaign in the index and a marker per friend.
    assert counters(stats, campaign) == {"sent": 3}
    assert campaign in [c.campaign for c in stats.campaigns(DEMO_CHANNEL_ID, kind="broadcast")]
    for user_id in members:
        marker = markers.last_sent(DEMO_CHANNEL_ID, user_id)
        assert marker is not None and marker.campaign == campaign

    # A block: the first member unfollows (the emulator's webhook) within 24 h.
    fresh.emulator.simulate_unfollow(DEMO_CHANNEL_ID, members[0])
    eventually(lambda: counters(stats, campaign).get("blocks") == 1, "block counted", 60)

    # Two hours later, a purchase after a click: attributed to the clicked broadcast
    # with its revenue.
    fresh.clock.advance(timedelta(hours=2))
    clicked_at = fresh.clock.now() - timedelta(hours=1)
    markers.put_last_click(DEMO_CHANNEL_ID, members[1], Marker(campaign, None, clicked_at))
    first = post_purchase(fresh, members[1], f"order-{broadcast_id}", 4200)
    assert [r["status"] for r in first["results"]] == ["applied"], first
    again = post_purchase(fresh, members[1], f"order-{broadcast_id}", 4200)
    assert [r["status"] for r in again["results"]] == ["duplicate"], again
    # A purchase without a click: exposed to the broadcast, not attributed to it.
    post_purchase(fresh, members[2], f"order-{broadcast_id}-b", 1000)

    eventually(lambda: counters(stats, campaign).get("conversions") == 1, "conversion", 60)
    time.sleep(0.5)  # nothing more arrives late
    assert counters(stats, campaign) == {
        "sent": 3,
        "blocks": 1,
        "conversions": 1,
        "revenue": 4200,
        "exposed_conversions": 2,
        "exposed_revenue": 5200,
    }
    # The days (the account's time zone) since the broadcast: the two hours may cross one.
    now = fresh.clock.now().astimezone(ZoneInfo("Asia/Tokyo"))
    day: Counters = {}
    for counts in stats.days(
        DEMO_CHANNEL_ID, (now - timedelta(hours=3)).date(), now.date()
    ).values():
        for name, value in counts.items():
            day[name] = day.get(name, 0) + value
    assert day["sent"] >= 3 and day["blocks"] >= 1 and day["unfollows"] >= 1
    assert day["conversions"] >= 1 and day["revenue"] >= 4200
    assert fresh.gateway.internal_errors == 0
