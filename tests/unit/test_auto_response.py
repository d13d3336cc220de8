"""Auto-response and the postback grammar through the real webhook handler, on moto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from linecrm.domain.fields import FieldDefinition
from linecrm.domain.friends import ChatMode
from linecrm.domain.tags import Tag
from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm.repositories.friends import FriendRepository
from linecrm_local.aws_calls import count_aws_calls
from tests.support.lambda_support import load_handler, response_json
from tests.support.signing import line_event, webhook_body
from tests.unit.conftest import CHANNEL_ID, AwsWorld, webhook_request

USER = "U" + "b" * 32
PRICE_REPLY = [{"type": "text", "text": "料金はこちら: https://example.com/price"}]
DEFAULT_REPLY = [{"type": "text", "text": "メッセージありがとうございます。"}]
CLOSED_REPLY = [{"type": "text", "text": "本日の営業は終了しました。"}]

RULES: list[dict[str, Any]] = [
    {
        "rule_id": "price",
        "name": "料金",
        "priority": 10,
        "match": {"kind": "keyword", "mode": "contains", "patterns": ["料金", "price"]},
        "cooldown_seconds": 3600,
        "actions": [
            {"type": "reply", "messages": PRICE_REPLY},
            {"type": "add_tags", "tags": ["料金確認"]},
            {"type": "set_field", "field": "interest", "value": "price"},
        ],
    },
    {
        "rule_id": "seminar",
        "name": "セミナー",
        "priority": 20,
        "match": {"kind": "keyword", "mode": "exact", "patterns": ["セミナー"]},
        "actions": [{"type": "start_scenario", "scenario": "seminar_followup"}],
    },
    {
        "rule_id": "coupon-button",
        "name": "クーポンボタン",
        "match": {"kind": "postback", "data_equals": "coupon"},
        "actions": [{"type": "reply", "messages": [{"type": "text", "text": "クーポン"}]}],
    },
    {
        "rule_id": "fallback",
        "name": "デフォルト",
        "match": {"kind": "default"},
        "actions": [{"type": "reply", "messages": DEFAULT_REPLY}],
    },
]


@pytest.fixture
def config(aws: AwsWorld) -> ChannelConfigRepository:
    repository = ChannelConfigRepository(aws.client("dynamodb"), aws.resources.table_names["Main"])
    for tag_id, name in (("tag_price", "料金確認"), ("tag_vip", "VIP")):
        repository.create_tag(CHANNEL_ID, Tag(tag_id=tag_id, name=name))
    repository.put_field(
        CHANNEL_ID,
        FieldDefinition(key="interest", label="関心", type="choice", choices=("price", "menu")),
    )
    repository.put_field(CHANNEL_ID, FieldDefinition(key="rank", label="ランク", type="text"))
    repository.replace_rules(CHANNEL_ID, RULES)
    return repository


@pytest.fixture
def friends(aws: AwsWorld) -> FriendRepository:
    return FriendRepository(aws.client("dynamodb"), aws.resources.table_names["Main"])


@pytest.fixture
def webhook(config: ChannelConfigRepository) -> Any:
    return load_handler("webhook")


def send(webhook: Any, context: Any, *events: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = webhook.lambda_handler(
        webhook_request(webhook_body(*events)), context
    )
    assert response["statusCode"] == 200, response
    return response_json(response)


def text(body: str, **extra: Any) -> dict[str, Any]:
    return line_event("message", USER, message={"type": "text", "id": "1", "text": body}, **extra)


def postback(data: str, **extra: Any) -> dict[str, Any]:
    return line_event("postback", USER, postback={"data": data}, **extra)


def replies(aws: AwsWorld) -> list[dict[str, Any]]:
    return [m for m in aws.queued_sends() if m["cause"] == "auto_response"]


def test_keyword_replies_with_the_reply_token_and_tags_the_friend(
    webhook, aws, friends, lambda_context
) -> None:
    event = text("料金を教えてください")
    send(webhook, lambda_context, event)

    (reply,) = replies(aws)
    assert reply["messages"] == PRICE_REPLY
    assert reply["to"] == [USER]
    assert reply["reply_token"] == event["replyToken"]
    assert reply["delivery_id"] == f"reply:{CHANNEL_ID}:{event['webhookEventId']}"
    assert reply["message_class"] == "transactional"
    occurred = datetime.fromtimestamp(event["timestamp"] / 1000, tz=UTC)
    assert datetime.fromisoformat(reply["reply_by"]) == occurred + timedelta(seconds=50)

    friend = friends.get(CHANNEL_ID, USER)
    assert friend is not None
    assert set(friend.tags) == {"tag_price"}
    assert friend.fields == {"interest": "price"}
    assert "price" in friend.rule_fired_at


def test_full_width_keyword_matches_like_half_width(webhook, aws, lambda_context) -> None:
    send(webhook, lambda_context, text("ＰＲＩＣＥ list please"))
    assert [r["messages"] for r in replies(aws)] == [PRICE_REPLY]


def test_cooldown_suppresses_a_second_reply_and_does_not_fall_to_default(
    webhook, aws, lambda_context
) -> None:
    send(webhook, lambda_context, text("料金"))
    send(webhook, lambda_context, text("料金は？"))
    assert [r["messages"] for r in replies(aws)] == [PRICE_REPLY]


def test_unmatched_text_gets_the_default_reply(webhook, aws, lambda_context) -> None:
    send(webhook, lambda_context, text("こんにちは"))
    assert [r["messages"] for r in replies(aws)] == [DEFAULT_REPLY]


def test_keyword_can_start_a_scenario(webhook, aws, lambda_context) -> None:
    send(webhook, lambda_context, text("セミナー"))
    enrolments = [i for i in aws.main_items() if i["sk"]["S"] == "SCENARIO#seminar_followup"]
    assert len(enrolments) == 1
    assert enrolments[0]["status"]["S"] == "active"
    assert replies(aws) == []


def test_postback_grammar_changes_tags_and_fields_and_switches_rich_menu(
    webhook, aws, friends, lambda_context
) -> None:
    send(webhook, lambda_context, text("こんにちは"))  # the friend exists
    data = "linecrm=1&tag.add=VIP&field.rank=gold&richmenu=menu-vip&reply=rule:price"
    send(webhook, lambda_context, postback(data))

    friend = friends.get(CHANNEL_ID, USER)
    assert friend is not None
    assert set(friend.tags) == {"tag_vip"}
    assert friend.fields["rank"] == "gold"
    queued = aws.queued_messages()  # receiving hides the messages: read them once
    links = [m for m in queued if m.get("kind") == "link_rich_menu"]
    assert links == [
        {
            "kind": "link_rich_menu",
            "channel_id": CHANNEL_ID,
            "user_id": USER,
            "rich_menu": "menu-vip",
        }
    ]
    sent = [m["messages"] for m in queued if m.get("cause") == "auto_response"]
    assert sent == [DEFAULT_REPLY, PRICE_REPLY]


def test_postback_with_an_unknown_tag_applies_the_rest(
    webhook, aws, friends, lambda_context
) -> None:
    send(webhook, lambda_context, text("こんにちは"))
    send(webhook, lambda_context, postback("linecrm=1&tag.add=存在しない&tag.add=VIP"))
    friend = friends.get(CHANNEL_ID, USER)
    assert friend is not None and set(friend.tags) == {"tag_vip"}


def test_malformed_postback_grammar_is_skipped_without_error(
    webhook, aws, friends, lambda_context
) -> None:
    summary = send(webhook, lambda_context, postback("linecrm=1&tag.explode=VIP"))
    assert summary["applied"] == 1
    friend = friends.get(CHANNEL_ID, USER)
    assert friend is not None and friend.tags == {}


def test_shop_postback_matches_a_postback_rule(webhook, aws, lambda_context) -> None:
    send(webhook, lambda_context, postback("coupon"))
    assert [r["messages"] for r in replies(aws)] == [[{"type": "text", "text": "クーポン"}]]


def test_chat_mode_pauses_auto_response_but_not_button_state_changes(
    webhook, aws, friends, lambda_context
) -> None:
    send(webhook, lambda_context, text("こんにちは"))
    friends.set_chat_mode(CHANNEL_ID, USER, ChatMode(staff="佐藤", since=datetime.now(UTC)))
    send(webhook, lambda_context, text("料金"))
    send(webhook, lambda_context, postback("linecrm=1&tag.add=VIP&reply=rule:price"))
    assert [r["messages"] for r in replies(aws)] == [DEFAULT_REPLY]
    friend = friends.get(CHANNEL_ID, USER)
    assert friend is not None and set(friend.tags) == {"tag_vip"}

    friends.set_chat_mode(CHANNEL_ID, USER, None)
    send(webhook, lambda_context, text("料金"))
    assert [r["messages"] for r in replies(aws)][-1] == PRICE_REPLY


def test_standby_records_the_interaction_but_does_not_answer(
    webhook, aws, friends, lambda_context
) -> None:
    send(webhook, lambda_context, text("料金", mode="standby"))
    assert replies(aws) == []
    friend = friends.get(CHANNEL_ID, USER)
    assert friend is not None and friend.tags == {} and friend.last_interaction_at is not None


def test_follow_rule_replaces_the_plain_welcome(
    webhook, aws, config, friends, lambda_context
) -> None:
    config.set_welcome_messages(CHANNEL_ID, [{"type": "text", "text": "plain welcome"}])
    welcome_rule = {
        "rule_id": "welcome",
        "name": "友だち追加",
        "match": {"kind": "follow"},
        "actions": [
            {"type": "reply", "messages": [{"type": "text", "text": "ようこそ！"}]},
            {"type": "add_tags", "tags": ["VIP"]},
        ],
    }
    config.replace_rules(CHANNEL_ID, [*RULES, welcome_rule])
    follow = line_event("follow", USER)
    send(webhook, lambda_context, follow)

    (welcome,) = [m for m in aws.queued_sends() if m["cause"] == "welcome"]
    assert welcome["messages"] == [{"type": "text", "text": "ようこそ！"}]
    assert welcome["reply_token"] == follow["replyToken"]
    friend = friends.get(CHANNEL_ID, USER)
    assert friend is not None and set(friend.tags) == {"tag_vip"}


def test_redelivered_keyword_event_replies_once(webhook, aws, lambda_context) -> None:
    event = text("料金")
    send(webhook, lambda_context, event)
    again = {**event, "deliveryContext": {"isRedelivery": True}}
    summary = send(webhook, lambda_context, again)
    assert summary["duplicates"] == 1
    assert len(replies(aws)) == 1


def test_text_matching_no_rule_costs_at_most_5_dynamodb_calls_on_a_cold_start(
    aws, config, lambda_context
) -> None:
    # 4 before the 1:1 chat log, which adds its one write: the message and the
    # conversation's summary in one TransactWriteItems (docs/chat.md).
    no_default = [rule for rule in RULES if rule["rule_id"] != "fallback"]
    config.replace_rules(CHANNEL_ID, no_default)
    FriendRepository(aws.client("dynamodb"), aws.resources.table_names["Main"]).ensure(
        CHANNEL_ID, USER, datetime.now(UTC)
    )
    cold = load_handler("webhook")  # a new execution environment: config not cached yet
    request = webhook_request(webhook_body(text("nothing matches this")))
    with count_aws_calls() as calls:
        response = cold.lambda_handler(request, lambda_context)
    assert response["statusCode"] == 200
    assert calls.count("dynamodb") <= 5, calls.by_operation()
    assert calls.by_operation().get("dynamodb.TransactWriteItems") == 1
    assert calls.count("sqs") == 0


def test_grammar_postback_also_runs_a_matching_postback_rule(
    webhook, aws, config, friends, lambda_context
) -> None:
    thanks = {
        "rule_id": "vip-thanks",
        "name": "VIP登録のお礼",
        "match": {"kind": "postback", "data_prefix": "linecrm=1&tag.add=VIP"},
        "actions": [{"type": "reply", "messages": [{"type": "text", "text": "VIP登録完了"}]}],
    }
    config.replace_rules(CHANNEL_ID, [*RULES, thanks])
    send(webhook, lambda_context, text("こんにちは"))
    send(webhook, lambda_context, postback("linecrm=1&tag.add=VIP"))
    friend = friends.get(CHANNEL_ID, USER)
    assert friend is not None and set(friend.tags) == {"tag_vip"}
    assert [r["messages"] for r in replies(aws)][-1] == [{"type": "text", "text": "VIP登録完了"}]


def test_a_reply_names_its_rule_and_its_links_are_tracked(
    config: ChannelConfigRepository, aws: AwsWorld, lambda_context: Any
) -> None:
    from linecrm.domain.tracked_links import token_of
    from linecrm.repositories.tracked_links import TrackedLinkRepository

    config.set_setting(CHANNEL_ID, "liff", {"liff_id": "2000000002-AbCdEfGh"})
    webhook = load_handler("webhook")  # after the setting: the function caches config
    send(webhook, lambda_context, text("料金"), text("こんにちは"))

    by_campaign = {reply["campaign"]: reply for reply in replies(aws)}
    assert set(by_campaign) == {"rule:price", "rule:fallback"}
    price, fallback = by_campaign["rule:price"], by_campaign["rule:fallback"]
    tracked = price["messages"][0]["text"]
    assert tracked.startswith("料金はこちら: https://liff.line.me/2000000002-AbCdEfGh/click?t=")
    token = token_of(tracked.split()[-1])
    assert token is not None
    links = TrackedLinkRepository(aws.client("dynamodb"), aws.resources.table_names["Main"])
    link = links.get(token)
    assert link is not None and (link.campaign, link.url) == (
        "rule:price",
        "https://example.com/price",
    )
    assert fallback["messages"] == DEFAULT_REPLY  # no link: as written
