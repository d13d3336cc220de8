"""A channel access token rotated in the middle of a broadcast, and personalised texts
past LINE's length limit, through the local stack (admin API → planner → sender →
LINE emulator, credentials in moto's Secrets Manager)."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator

import pytest

from linecrm.domain.broadcasts import chunk_delivery_id
from linecrm.repositories.dynamo import to_item
from linecrm.repositories.friends import friend_key
from linecrm.resources import CHANNEL_SECRET_PREFIX
from linecrm_local.demo import DEMO_CHANNEL_ID, DEMO_CHANNEL_SECRET
from linecrm_local.seed import seed_friends
from linecrm_local.stack import LocalStack
from tests.integration.test_broadcasts import admin, settled, table
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]  # generous deadlines below

FRIENDS = 200
NAMES = 50  # distinct display names: 4 friends share each rendering (multicasts, pushes)
GREETING = [{"type": "text", "text": "{display_name}さん、冬のセールです"}]


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(visibility_timeout_seconds=60, scheduler_tick_seconds=0.2) as local:
        yield local


def named_friends(stack: LocalStack, tag: str, count: int, names: int = 1000) -> list[str]:
    """``count`` friends with the tag, and their display names in the friend rows."""
    tag_id = admin(stack, "POST", "/tags", {"name": tag})["tag_id"]
    users = seed_friends(stack.emulator, DEMO_CHANNEL_ID, table(stack), count, tag_ids=(tag_id,))
    dynamodb = stack.aws.session().client("dynamodb")
    for number, user_id in enumerate(users):
        dynamodb.update_item(
            TableName=table(stack),
            Key=to_item(friend_key(DEMO_CHANNEL_ID, user_id)),
            UpdateExpression="SET display_name = :name",
            ExpressionAttributeValues=to_item({":name": f"友だち{number % names:03d}"}),
        )
    return users


def chunk_rows(stack: LocalStack, report: dict[str, object]) -> list[dict[str, object]]:
    broadcast = report["broadcast"]
    assert isinstance(broadcast, dict)
    return [
        admin(stack, "GET", f"/deliveries/{chunk_delivery_id(broadcast['broadcast_id'], n)}")
        for n in range(broadcast["cursor"]["next_chunk"])
    ]


def test_a_token_rotated_mid_broadcast_loses_nothing(stack: LocalStack) -> None:
    friends = named_friends(stack, "rotation", FRIENDS, NAMES)
    # A sender environment that has sent before holds the old token in its cache.
    (warm,) = named_friends(stack, "rotation-warm", 1)
    warm_up = admin(
        stack,
        "POST",
        "/broadcasts",
        {"name": "warm-up", "messages": GREETING, "segment": {"match": {"tag": "rotation-warm"}}},
    )
    wait_for(lambda: settled(stack, warm_up["broadcast_id"]), timeout=400)
    assert len(stack.emulator.inbox(warm)) == 1

    # The operator's order: reissue the token in LINE's console keeping the old one
    # valid for a while, put the new one into Secrets Manager, and the old one lapses
    # while the broadcast goes out. Waiting for some sends and then revoking would race
    # the sends on a busy machine (calls already accepted by LINE succeed), so the
    # emulator revokes the old token exactly at the broadcast's first LINE call.
    new_token = "rotated-" + "x" * 40
    stack.emulator.rotate_token(DEMO_CHANNEL_ID, new_token, old_token_valid_calls=1)
    stack.aws.session().client("secretsmanager").put_secret_value(
        SecretId=f"{CHANNEL_SECRET_PREFIX}{DEMO_CHANNEL_ID}",
        SecretString=json.dumps(
            {"channel_secret": DEMO_CHANNEL_SECRET, "channel_access_token": new_token}
        ),
    )
    calls_before = len(stack.emulator.calls())
    created = admin(
        stack,
        "POST",
        "/broadcasts",
        {"name": "rotation", "messages": GREETING, "segment": {"match": {"tag": "rotation"}}},
    )
    report = wait_for(lambda: settled(stack, created["broadcast_id"]), timeout=600)

    refused = [c for c in stack.emulator.calls()[calls_before:] if c.status == 401]
    # The warm environment's later sends met the revoked token, reloaded it and retried
    # at once with the same retry key: no key was refused twice (without the reload the
    # cached token is kept for minutes, and each retry of the record is refused again).
    assert refused, "no send met the revoked token"
    assert any(c.retry_key for c in refused), refused
    refusals_per_key = Counter(c.retry_key for c in refused if c.retry_key)
    assert max(refusals_per_key.values()) == 1, refusals_per_key
    accepted_keys = {c.retry_key for c in stack.emulator.calls()[calls_before:] if c.status == 200}
    assert set(refusals_per_key) <= accepted_keys
    assert set(report["deliveries"]) == {"sent"}, report["deliveries"]
    assert report["recipients_by_status"] == {"sent": FRIENDS}
    rows = chunk_rows(stack, report)
    # Reloaded and retried within the same attempt: no row even saw a failure.
    assert [r["delivery_id"] for r in rows if r["last_error"] or r["reason"]] == []
    copies = {u: len(stack.emulator.inbox(u)) for u in friends}
    assert {u for u, n in copies.items() if n != 1} == set()


def test_a_name_that_breaks_the_length_limit_skips_that_friend_only(stack: LocalStack) -> None:
    stack.emulator.clear_faults()
    long_named, *regular = named_friends(stack, "limits", 6)
    stack.aws.session().client("dynamodb").update_item(
        TableName=table(stack),
        Key=to_item(friend_key(DEMO_CHANNEL_ID, long_named)),
        UpdateExpression="SET display_name = :name",
        ExpressionAttributeValues=to_item({":name": "長" * 5_000}),  # 5,010 units rendered
    )
    body = {"name": "limits", "messages": GREETING, "segment": {"match": {"tag": "limits"}}}

    preview = admin(stack, "POST", "/broadcasts/preview", body)
    assert preview["recipients"] == 5 and preview["over_limit"] == 1
    assert any(long_named in warning for warning in preview["warnings"])

    created = admin(stack, "POST", "/broadcasts", body)
    report = wait_for(lambda: settled(stack, created["broadcast_id"]), timeout=400)

    assert report["broadcast"]["counters"]["over_limit"] == 1
    assert report["broadcast"]["counters"]["recipients"] == 5
    assert report["recipients_by_status"] == {"sent": 5, "skipped": 1}
    (skipped,) = [r for r in chunk_rows(stack, report) if r["status"] == "skipped"]
    assert skipped["recipients"] == [long_named]
    assert "UTF-16 units" in str(skipped["reason"])
    assert stack.emulator.inbox(long_named) == []
    assert all(len(stack.emulator.inbox(u)) == 1 for u in regular)
    assert not [c for c in stack.emulator.calls() if c.status == 400]
