"""What the webhook used to get quietly wrong: re-follows ignored the welcome rule's
cooldown, unknown references in postbacks left only a log line, replies were not
personalised; and how a channel becomes known to the admin API (LINE's Verify)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from linecrm.config import LineEndpoints
from linecrm.delivery.line_tasks import LineTaskRunner
from linecrm.domain.fields import FieldDefinition
from linecrm.domain.friends import FriendProfile
from linecrm.domain.tags import Tag
from linecrm.line.client import LineMessagingClient, RetryPolicy
from linecrm.models.send import RichMenuLink
from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm.repositories.channel_registry import ChannelRegistry
from linecrm.repositories.friends import FriendRepository
from linecrm_local.emulator import EmulatedChannel, EmulatorConfig, LineEmulator
from tests.support.lambda_support import load_handler, response_json
from tests.support.signing import line_event, webhook_body
from tests.unit.admin.conftest import AdminApi
from tests.unit.conftest import ACCESS_TOKEN, CHANNEL_ID, CHANNEL_SECRET, AwsWorld, webhook_request

USER = "U" + "c" * 32
WELCOME_RULE: dict[str, Any] = {
    "rule_id": "welcome",
    "name": "友だち追加",
    "match": {"kind": "follow"},
    "cooldown_seconds": 86400,
    "actions": [{"type": "reply", "messages": [{"type": "text", "text": "ようこそ！"}]}],
}
THANKS_RULE: dict[str, Any] = {
    "rule_id": "thanks",
    "name": "お礼",
    "match": {"kind": "keyword", "mode": "exact", "patterns": ["ありがとう"]},
    "actions": [
        {
            "type": "reply",
            "messages": [{"type": "text", "text": "{display_name|お客様}様（{field.rank|一般}）"}],
        }
    ],
}


@pytest.fixture
def config(aws: AwsWorld) -> ChannelConfigRepository:
    repository = ChannelConfigRepository(aws.client("dynamodb"), aws.resources.table_names["Main"])
    repository.create_tag(CHANNEL_ID, Tag(tag_id="tag_vip", name="vip"))
    repository.put_field(CHANNEL_ID, FieldDefinition(key="rank", label="ランク", type="text"))
    repository.replace_rules(CHANNEL_ID, [WELCOME_RULE, THANKS_RULE])
    return repository


@pytest.fixture
def friends(aws: AwsWorld) -> FriendRepository:
    return FriendRepository(aws.client("dynamodb"), aws.resources.table_names["Main"])


@pytest.fixture
def webhook(config: ChannelConfigRepository) -> Any:
    return load_handler("webhook")


def send(webhook: Any, context: Any, *events: dict[str, Any], channel_id: str = CHANNEL_ID) -> Any:
    response = webhook.lambda_handler(
        webhook_request(webhook_body(*events), channel_id=channel_id), context
    )
    assert response["statusCode"] == 200, response
    return response_json(response)


def at(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def welcomes(aws: AwsWorld) -> list[Any]:
    return [m["messages"] for m in aws.queued_sends() if m["cause"] == "welcome"]


def test_a_refollow_within_the_welcome_cooldown_gets_no_second_welcome(
    webhook, aws, lambda_context
) -> None:
    start = datetime.now(UTC) - timedelta(days=3)
    send(webhook, lambda_context, line_event("follow", USER, timestamp=at(start)))
    for minutes in (1, 3):
        moment = start + timedelta(minutes=minutes)
        send(webhook, lambda_context, line_event("unfollow", USER, timestamp=at(moment)))
        send(webhook, lambda_context, line_event("follow", USER, timestamp=at(moment) + 1000))
    # After the cooldown, a re-follow is welcomed again.
    later = start + timedelta(days=2)
    send(webhook, lambda_context, line_event("unfollow", USER, timestamp=at(later)))
    send(webhook, lambda_context, line_event("follow", USER, timestamp=at(later) + 1000))
    assert len(welcomes(aws)) == 2


def test_a_follow_rule_without_cooldown_welcomes_every_refollow(
    webhook, aws, config, lambda_context
) -> None:
    config.replace_rules(CHANNEL_ID, [{**WELCOME_RULE, "cooldown_seconds": 0}])
    webhook = load_handler("webhook")
    start = datetime.now(UTC) - timedelta(hours=1)
    send(webhook, lambda_context, line_event("follow", USER, timestamp=at(start)))
    moment = start + timedelta(minutes=1)
    send(webhook, lambda_context, line_event("unfollow", USER, timestamp=at(moment)))
    send(webhook, lambda_context, line_event("follow", USER, timestamp=at(moment) + 1000))
    assert len(welcomes(aws)) == 2


def test_unknown_references_in_a_postback_are_warnings_on_the_friend(
    webhook, aws, friends, lambda_context
) -> None:
    send(webhook, lambda_context, line_event("follow", USER))
    data = "linecrm=1&tag.add=VIP&tag.add=vip&field.rnak=gold&reply=rule:nothanks"
    send(webhook, lambda_context, line_event("postback", USER, postback={"data": data}))
    friend = friends.get(CHANNEL_ID, USER)
    assert friend is not None and set(friend.tags) == {"tag_vip"}  # the rest applied
    assert set(friend.warnings) == {"tag:VIP", "field:rnak", "rule:nothanks"}
    assert "no such tag" in friend.warnings["tag:VIP"].message
    assert friend.warnings["tag:VIP"].message.startswith("postback linecrm=1&tag.add=VIP")

    shown = AdminApi(load_handler("admin"), aws).call("GET", f"/friends/{USER}")
    assert shown.status == 200, shown.body
    assert {w["subject"] for w in shown.body["warnings"]} == set(friend.warnings)


def test_auto_response_replies_are_personalised(webhook, aws, friends, lambda_context) -> None:
    send(webhook, lambda_context, line_event("follow", USER))
    aws.queued_messages()  # drop the welcome and the profile refresh
    message = {"type": "text", "id": "1", "text": "ありがとう"}
    send(webhook, lambda_context, line_event("message", USER, message=message))
    friends.set_profile(CHANNEL_ID, USER, FriendProfile(displayName="花子"), datetime.now(UTC))
    send(webhook, lambda_context, line_event("message", USER, message=message))
    texts = [m["messages"][0]["text"] for m in aws.queued_sends()]
    assert texts == ["お客様様（一般）", "花子様（一般）"]


def test_lines_verify_registers_the_channel(webhook, aws, lambda_context) -> None:
    registry = ChannelRegistry(
        aws.client("dynamodb"), aws.resources.table_names["Main"], lambda: datetime.now(UTC)
    )
    table = aws.resources.table_names["Main"]
    aws.client("dynamodb").delete_item(
        TableName=table, Key={"pk": {"S": f"CH#{CHANNEL_ID}"}, "sk": {"S": "CHANNEL"}}
    )
    send(webhook, lambda_context, line_event("follow", USER))
    assert not registry.is_known(CHANNEL_ID)  # events alone write no registry item
    send(webhook, lambda_context)  # what the Verify button sends: no events
    assert registry.is_known(CHANNEL_ID)


# ---------------------------------------------------------------- rich menu


@pytest.fixture
def emulator() -> Iterator[LineEmulator]:
    channel = EmulatedChannel(CHANNEL_ID, CHANNEL_SECRET, ACCESS_TOKEN, None, "U" + "f" * 32)
    with LineEmulator(EmulatorConfig(channels=[channel])) as running:
        yield running


def test_an_unknown_rich_menu_is_a_warning_on_the_friend(friends, emulator) -> None:
    user = emulator.add_friend(CHANNEL_ID, "Alice").user_id
    friends.record_follow(CHANNEL_ID, user, datetime.now(UTC))
    client = LineMessagingClient(
        ACCESS_TOKEN,
        LineEndpoints(api_base_url=emulator.base_url),
        retry_policy=RetryPolicy(max_attempts=2, base_seconds=0),
        sleep=lambda _seconds: None,
    )
    now = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
    runner = LineTaskRunner(friends, lambda _channel: client, lambda: now)
    outcome = runner.run(RichMenuLink(channel_id=CHANNEL_ID, user_id=user, rich_menu="menu-vip"))
    assert outcome.startswith("skipped: rejected by LINE")
    friend = friends.get(CHANNEL_ID, user)
    assert friend is not None
    assert list(friend.warnings) == ["richmenu:menu-vip"]
    assert friend.warnings["richmenu:menu-vip"].at == now
