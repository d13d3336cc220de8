"""Personalised broadcasts past LINE's length limits: the friend whose rendering is too
long is skipped with the reason (a skipped chunk row of their own), everyone else still
gets it, and the counters and the ledger still add up."""

from __future__ import annotations

import pytest

from linecrm.broadcasts.service import BroadcastRequest
from linecrm.domain.broadcasts import chunk_delivery_id
from linecrm.domain.deliveries import DeliveryStatus
from linecrm.domain.personalization import limit_warnings, over_limit_reason
from linecrm.jobs import StepOutcome
from linecrm.repositories.broadcasts import BroadcastRepository
from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm.repositories.deliveries import DeliveryLedger
from linecrm.repositories.dynamo import to_item
from linecrm.repositories.friends import FriendRepository, friend_key
from tests.unit.broadcasts.test_planner_and_service import (
    FakeChunkQueue,
    FakeSchedules,
    FakeSteps,
    World,
    budget,
    create,
)
from tests.unit.conftest import CHANNEL_ID, AwsWorld

# 4,991 UTF-16 units besides the name: a name of more than 9 units breaks LINE's 5,000.
GREETING = [{"type": "text", "text": "{display_name|お客様}さん " + "😀" * 2494}]
LONG_NAME = "とても長いお名前のお客様です"  # 14 units
SHORT_NAME = "花子"


@pytest.fixture
def world(aws: AwsWorld) -> World:
    table = aws.resources.table_names["Main"]
    dynamodb = aws.client("dynamodb")
    return World(
        aws=aws,
        broadcasts=BroadcastRepository(dynamodb, table),
        friends=FriendRepository(dynamodb, table),
        ledger=DeliveryLedger(dynamodb, table),
        config=ChannelConfigRepository(dynamodb, table),
        chunks=FakeChunkQueue(),
        steps=FakeSteps(),
        schedules=FakeSchedules(),
    )


def name_friends(world: World, names: dict[str, str]) -> None:
    table = world.aws.resources.table_names["Main"]
    for user_id, name in names.items():
        world.aws.client("dynamodb").update_item(
            TableName=table,
            Key=to_item(friend_key(CHANNEL_ID, user_id)),
            UpdateExpression="SET display_name = :name",
            ExpressionAttributeValues=to_item({":name": name}),
        )


def test_over_limit_reason_counts_utf16_units() -> None:
    assert over_limit_reason([{"type": "text", "text": "😀" * 2500}]) is None
    reason = over_limit_reason([{"type": "text", "text": "😀" * 2600}])
    assert reason is not None and "messages[0].text is 5,200 UTF-16 units" in reason
    alt = over_limit_reason([{"type": "flex", "altText": "x" * 1501, "contents": {}}])
    assert alt is not None and "messages[0].altText" in alt


def test_a_friend_whose_name_breaks_the_limit_is_skipped_and_the_rest_still_go(
    world: World,
) -> None:
    friends = world.add_friends(4)
    long_named = friends[1]
    name_friends(world, {u: (LONG_NAME if u == long_named else SHORT_NAME) for u in friends})
    broadcast = create(world, messages=GREETING)

    outcome = world.planner().run_step(CHANNEL_ID, broadcast.broadcast_id, budget())

    assert outcome is StepOutcome.DONE
    queued = [user for request in world.chunks.queued for user in request.to]
    assert sorted(queued) == sorted(u for u in friends if u != long_named)
    done = world.broadcasts.get(CHANNEL_ID, broadcast.broadcast_id)
    assert done is not None
    counters = done.counters
    assert counters.recipients == 3 and counters.over_limit == 1
    # Everyone seen is accounted for exactly once.
    assert counters.friends_seen == (
        counters.recipients
        + counters.over_limit
        + counters.not_in_segment
        + counters.blocked
        + counters.capped
        + counters.deferred
    )
    ids = [chunk_delivery_id(broadcast.broadcast_id, n) for n in range(done.cursor.next_chunk)]
    rows = world.ledger.get_many(ids)
    skipped = [row for row in rows.values() if row.status is DeliveryStatus.SKIPPED]
    assert [row.recipients for row in skipped] == [[long_named]]
    assert skipped[0].reason is not None
    assert "5,005 UTF-16 units" in skipped[0].reason and "LINE allows 5,000" in skipped[0].reason
    # Skipped rows are never queued, and the report counts every recipient once.
    assert all(request.delivery_id != skipped[0].delivery_id for request in world.chunks.queued)
    report = world.service().report(CHANNEL_ID, broadcast.broadcast_id)
    assert report.recipients_by_status == {"queued": 3, "skipped": 1}


def test_the_preview_counts_and_warns_about_renderings_over_the_limit(world: World) -> None:
    friends = world.add_friends(3)
    name_friends(world, {friends[0]: LONG_NAME, friends[1]: SHORT_NAME})

    preview = world.service().preview(
        CHANNEL_ID, BroadcastRequest(name="greeting", messages=GREETING)
    )

    assert preview.over_limit == 1
    assert preview.recipients == 2  # the short name and the default お客様
    assert any("1 friend(s) would be skipped" in w and friends[0] in w for w in preview.warnings)
    assert any("could reach" in w and "messages[0].text" in w for w in preview.warnings)


def test_limit_warnings_only_when_a_filled_placeholder_could_break_a_limit() -> None:
    short = [{"type": "text", "text": "{display_name}さん、セールです"}]
    assert limit_warnings(short) == []
    near = [{"type": "text", "text": "{field.note} " + "x" * 4500}]
    (warning,) = limit_warnings(near)
    assert "messages[0].text is 4,501 UTF-16 units" in warning and "5,501" in warning
