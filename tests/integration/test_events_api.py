"""The events API through the local stack's gateway: the demo source signs a batch for
a friend who followed by webhook; the events land on the timeline (admin API), count
in segment aggregates, and go with the friend on erasure. Every call is checked against
the function's grants in the CDK template."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
import requests

from linecrm.events.signature import compute_signature
from linecrm.repositories.friends import FriendRepository
from linecrm_local.demo import (
    DEMO_ADMIN_TOKEN,
    DEMO_CHANNEL_ID,
    DEMO_EVENT_SOURCE,
    DEMO_EVENT_SOURCE_KEY,
)
from linecrm_local.stack import LocalStack

pytestmark = pytest.mark.integration
READ = (10, 120)  # connect, read: a cold function on a busy machine is slow

ADMIN = {"Authorization": f"Bearer {DEMO_ADMIN_TOKEN}"}
FRIENDS = f"/admin/channels/{DEMO_CHANNEL_ID}/friends"


def send(stack: LocalStack, body: bytes, *, key: str = DEMO_EVENT_SOURCE_KEY) -> requests.Response:
    timestamp = str(int(stack.clock.now().timestamp()))
    return requests.post(
        stack.events_url(),
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Linecrm-Source": DEMO_EVENT_SOURCE,
            "X-Linecrm-Timestamp": timestamp,
            "X-Linecrm-Signature": compute_signature(key, timestamp, body),
        },
        timeout=READ,
    )


def follower(stack: LocalStack, name: str) -> str:
    delivery = stack.emulator.simulate_follow(DEMO_CHANNEL_ID, display_name=name)
    url = f"{stack.gateway_url}{FRIENDS}/{delivery.user_id}"
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if requests.get(url, headers=ADMIN, timeout=READ).status_code == 200:
            return delivery.user_id
        time.sleep(0.05)
    raise AssertionError(f"friend {delivery.user_id} never appeared")


def batch(stack: LocalStack, user: str, *keys: str, **extra: Any) -> bytes:
    occurred = (stack.clock.now() - timedelta(minutes=1)).isoformat()
    return json.dumps(
        {
            "events": [
                {
                    "name": "cart_updated",
                    "user": user,
                    "occurred_at": occurred,
                    "idempotency_key": key,
                    "value": 4200,
                    "properties": {"cart_value": 4200, "items": [{"sku": "A1"}]},
                    **extra,
                }
                for key in keys
            ]
        }
    ).encode()


def test_a_signed_batch_lands_on_the_timeline_once(fresh: LocalStack) -> None:
    user = follower(fresh, "買い物客")
    answer = send(fresh, batch(fresh, user, "cart-1", "cart-1", "cart-2"))
    assert answer.status_code == 200, answer.text
    assert [r["status"] for r in answer.json()["results"]] == ["applied", "duplicate", "applied"]
    again = send(fresh, batch(fresh, user, "cart-2"))  # a retry, signed anew
    assert [r["status"] for r in again.json()["results"]] == ["duplicate"]

    timeline = requests.get(
        f"{fresh.gateway_url}{FRIENDS}/{user}/events",
        headers=ADMIN,
        params={"limit": 1},
        timeout=READ,
    ).json()
    assert len(timeline["events"]) == 1 and timeline["next_cursor"]
    rest = requests.get(
        f"{fresh.gateway_url}{FRIENDS}/{user}/events",
        headers=ADMIN,
        params={"cursor": timeline["next_cursor"]},
        timeout=READ,
    ).json()
    events = timeline["events"] + rest["events"]
    assert sorted(e["idempotency_key"] for e in events) == ["cart-1", "cart-2"]
    assert events[0]["properties"] == {"cart_value": 4200, "items": [{"sku": "A1"}]}
    assert events[0]["source"] == DEMO_EVENT_SOURCE

    session = fresh.aws.session()
    friends = FriendRepository(session.client("dynamodb"), fresh.resources.table_names["Main"])
    friend = friends.get(DEMO_CHANNEL_ID, user)
    assert friend is not None
    assert friend.event_stats["cart_updated"].count == 2
    assert friend.event_stats["cart_updated"].latest_properties == {"cart_value": 4200}
    assert fresh.gateway.internal_errors == 0


def test_refusals_through_the_gateway(fresh: LocalStack) -> None:
    user = follower(fresh, "別の客")
    body = batch(fresh, user, "x-1")
    assert send(fresh, body, key="w" * 40).status_code == 401
    stale = requests.post(
        fresh.events_url(),
        data=body,
        headers={
            "Content-Type": "application/json",
            "X-Linecrm-Source": DEMO_EVENT_SOURCE,
            "X-Linecrm-Timestamp": "1000000000",
            "X-Linecrm-Signature": compute_signature(DEMO_EVENT_SOURCE_KEY, "1000000000", body),
        },
        timeout=READ,
    )
    assert stale.status_code == 401
    assert "stale timestamp" in stale.json()["message"]
    bad = send(fresh, b'{"events": "no"}')
    assert bad.status_code == 422
    mixed = send(fresh, batch(fresh, user, "ok", ""))  # an empty key: a per-event error
    assert [r["status"] for r in mixed.json()["results"]] == ["applied", "rejected"]
    assert fresh.gateway.internal_errors == 0


def test_erasure_takes_the_events_with_the_friend(fresh: LocalStack) -> None:
    user = follower(fresh, "消える客")
    assert send(fresh, batch(fresh, user, "gone-1")).json()["applied"] == 1
    deleted = requests.delete(f"{fresh.gateway_url}{FRIENDS}/{user}", headers=ADMIN, timeout=READ)
    assert deleted.status_code == 204, deleted.text
    gone = requests.get(f"{fresh.gateway_url}{FRIENDS}/{user}/events", headers=ADMIN, timeout=READ)
    assert gone.status_code == 404
    table = fresh.resources.table_names["Main"]
    items = (
        fresh.aws.session()
        .client("dynamodb")
        .query(
            TableName=table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"CH#{DEMO_CHANNEL_ID}#FRIEND#{user}"}},
        )["Items"]
    )
    assert items == []
    # The same event again is not applied to a friend that is no more.
    again = send(fresh, batch(fresh, user, "gone-2")).json()["results"]
    assert again[0]["status"] == "rejected"
