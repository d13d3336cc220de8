"""1:1 chat: the conversation log from the webhook and the sender, the inbox (order,
cursor, needs reply), staff replies (idempotent), templates, retention, erasure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from linecrm.delivery.sender import Sender
from linecrm.domain.conversations import (
    ChatEntry,
    ChatSettings,
    IncomingVerdict,
    incoming_entry,
    verdict_for,
)
from linecrm.models.send import SendRequest
from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm.repositories.conversations import ConversationRepository, InvalidChatCursor
from linecrm.repositories.deliveries import DeliveryLedger
from linecrm.repositories.dynamo import from_item
from linecrm.repositories.friends import FriendRepository, friend_pk
from linecrm.repositories.sharding import SHARDS
from tests.support.lambda_support import load_handler, response_json
from tests.support.signing import line_event, webhook_body
from tests.unit.admin.conftest import AdminApi, Answer
from tests.unit.conftest import CHANNEL_ID, AwsWorld, webhook_request
from tests.unit.test_sender_reply import FakeLineClient

USER = "U" + "c" * 32
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
RULES: list[dict[str, Any]] = [
    {
        "rule_id": "hours",
        "name": "営業時間",
        "match": {"kind": "keyword", "mode": "contains", "patterns": ["営業時間"]},
        "actions": [{"type": "reply", "messages": [{"type": "text", "text": "10時から"}]}],
    },
    {
        "rule_id": "refund",
        "name": "返金",
        "notify_staff": True,
        "match": {"kind": "keyword", "mode": "contains", "patterns": ["返金"]},
        "actions": [
            {"type": "reply", "messages": [{"type": "text", "text": "担当者が確認します"}]}
        ],
    },
    {
        "rule_id": "fallback",
        "name": "デフォルト",
        "match": {"kind": "default"},
        "actions": [{"type": "reply", "messages": [{"type": "text", "text": "ありがとう"}]}],
    },
]


@pytest.fixture
def table(aws: AwsWorld) -> tuple[Any, str]:
    return aws.client("dynamodb"), aws.resources.table_names["Main"]


@pytest.fixture
def conversations(table: tuple[Any, str]) -> ConversationRepository:
    return ConversationRepository(*table)


@pytest.fixture
def config(table: tuple[Any, str]) -> ChannelConfigRepository:
    repository = ChannelConfigRepository(*table)
    repository.replace_rules(CHANNEL_ID, RULES)
    return repository


@pytest.fixture
def webhook(config: ChannelConfigRepository) -> Any:
    return load_handler("webhook")


@pytest.fixture
def api(aws: AwsWorld, config: ChannelConfigRepository) -> AdminApi:
    return AdminApi(load_handler("admin"), aws)


def send(webhook: Any, *events: dict[str, Any]) -> dict[str, Any]:
    from tests.support.lambda_support import FakeLambdaContext

    response: dict[str, Any] = webhook.lambda_handler(
        webhook_request(webhook_body(*events)), FakeLambdaContext()
    )
    assert response["statusCode"] == 200, response
    return response_json(response)


def text(body: str, user: str = USER, **extra: Any) -> dict[str, Any]:
    return line_event("message", user, message={"type": "text", "id": "m1", "text": body}, **extra)


def chat_items(aws: AwsWorld, user: str = USER) -> list[dict[str, Any]]:
    items = [from_item(item) for item in aws.main_items()]
    return [
        i for i in items if i["pk"] == friend_pk(CHANNEL_ID, user) and i["sk"].startswith("CHAT#")
    ]


# ---------------------------------------------------------------------- pure rules
@pytest.mark.parametrize(
    ("matched", "default", "staff", "waiting"),
    [
        (False, False, False, True),  # no rule answered
        (True, True, False, True),  # only the default rule ("sorry, we did not understand")
        (True, False, True, True),  # a rule marked notify_staff
        (True, False, False, False),  # a keyword rule answered
    ],
)
def test_needs_reply_after_a_message(
    matched: bool, default: bool, staff: bool, waiting: bool
) -> None:
    verdict = verdict_for(
        "message", rule_matched=matched, default_rule=default, for_staff=staff, standby=False
    )
    assert verdict == IncomingVerdict(unread=True, needs_reply=waiting)


def test_a_postback_is_logged_but_waits_only_for_a_staff_rule() -> None:
    plain = verdict_for(
        "postback", rule_matched=False, default_rule=False, for_staff=False, standby=False
    )
    assert plain == IncomingVerdict(unread=False, needs_reply=False)
    staff = verdict_for(
        "postback", rule_matched=True, default_rule=False, for_staff=True, standby=False
    )
    assert staff.needs_reply


def test_entries_of_stickers_images_and_postbacks() -> None:
    sticker = incoming_entry(
        "message",
        {"message": {"type": "sticker", "id": "9", "packageId": "1", "stickerId": "2"}},
        "e",
        NOW,
    )
    assert (sticker.entry_id, sticker.kind, sticker.text) == ("9", "sticker", "[sticker 1/2]")
    image = incoming_entry("message", {"message": {"type": "image", "id": "8"}}, "e", NOW)
    assert (image.kind, image.text) == ("image", "[image]")
    postback = incoming_entry("postback", {"postback": {"data": "a=1"}}, "e2", NOW)
    assert (postback.entry_id, postback.kind, postback.text) == ("e2", "postback", "a=1")


def test_retention_sets_the_ttl() -> None:
    assert ChatSettings().expires_at(NOW) == int((NOW + timedelta(days=180)).timestamp())
    assert ChatSettings(retention_days=30).expires_at(NOW) == int(
        (NOW + timedelta(days=30)).timestamp()
    )


# ---------------------------------------------------------------------- webhook → log
def test_a_message_no_rule_answers_waits_for_staff_and_is_unread(
    webhook, aws, conversations
) -> None:
    send(
        webhook,
        line_event(
            "message",
            USER,
            message={"type": "sticker", "id": "s1", "packageId": "1", "stickerId": "2"},
        ),
    )
    summary = conversations.summary(CHANNEL_ID, USER)
    assert summary is not None
    assert (summary.unread, summary.needs_reply, summary.last_kind) == (1, True, "sticker")
    (entry,) = [i for i in chat_items(aws) if i["sk"].startswith("CHAT#MSG#")]
    assert entry["direction"] == "in" and entry["source"] == "friend"
    at = datetime.fromisoformat(entry["at"])
    assert entry["expires_at"] == int((at + timedelta(days=180)).timestamp())


@pytest.mark.parametrize(
    ("message", "waiting"),
    [("営業時間は？", False), ("よくわからない", True), ("返金したい", True)],
)
def test_needs_reply_follows_the_rule_that_answered(
    webhook, conversations, message, waiting
) -> None:
    send(webhook, text(message))
    summary = conversations.summary(CHANNEL_ID, USER)
    assert summary is not None and summary.needs_reply is waiting


def test_a_redelivered_message_is_logged_and_counted_once(webhook, aws, conversations) -> None:
    event = text("よくわからない")
    send(webhook, event)
    send(webhook, {**event, "deliveryContext": {"isRedelivery": True}})
    summary = conversations.summary(CHANNEL_ID, USER)
    assert summary is not None and summary.unread == 1
    assert len([i for i in chat_items(aws) if i["sk"].startswith("CHAT#MSG#")]) == 1


def test_the_channel_retention_applies_to_new_entries(webhook, aws, config, api) -> None:
    answer = api.call("PUT", "/chat/settings", {"retention_days": 7})
    assert answer.status == 200, answer.body
    webhook = load_handler("webhook")  # the function caches config: a fresh one
    send(webhook, text("よくわからない"))
    (entry,) = [i for i in chat_items(aws) if i["sk"].startswith("CHAT#MSG#")]
    at = datetime.fromisoformat(entry["at"])
    assert entry["expires_at"] == int((at + timedelta(days=7)).timestamp())
    assert api.call("GET", "/chat/settings").body == {"retention_days": 7}


def test_the_sender_logs_the_auto_reply_in_its_ledger_transaction(
    webhook, aws, table, conversations
) -> None:
    send(webhook, text("営業時間は？"))
    (queued,) = [m for m in aws.queued_sends() if m["cause"] == "auto_response"]
    sender = Sender(
        DeliveryLedger(*table),
        lambda _c: FakeLineClient(),
        lambda: datetime.now(UTC),  # after the message (the event has the real time)
        conversations=conversations,
    )
    sender.send(SendRequest.model_validate(queued), final_attempt=False)
    entries, _ = conversations.entries(CHANNEL_ID, USER)
    assert [(s.entry.direction, s.entry.source, s.entry.text) for s in entries] == [
        ("out", "auto_reply", "10時から"),
        ("in", "friend", "営業時間は？"),
    ]
    summary = conversations.summary(CHANNEL_ID, USER)
    assert summary is not None and summary.last_direction == "out"


def test_a_multicast_chunk_logs_an_entry_per_recipient_without_touching_the_inbox(
    table, conversations
) -> None:
    users = [f"U{n:032x}" for n in range(30)]
    request = SendRequest(
        delivery_id="broadcast:b1:0",
        channel_id=CHANNEL_ID,
        to=users,
        messages=[{"type": "text", "text": "セール"}],
        cause="broadcast",
    )
    ledger = DeliveryLedger(*table)
    ledger.record_queued(request, NOW)
    Sender(ledger, lambda _c: FakeLineClient(), lambda: NOW, conversations=conversations).send(
        request, final_attempt=False
    )
    for user in (users[0], users[-1]):
        (stored,), _ = conversations.entries(CHANNEL_ID, user)
        assert (stored.entry.source, stored.entry.text) == ("broadcast", "セール")
    assert conversations.inbox(CHANNEL_ID)[0] == []


# ---------------------------------------------------------------------- inbox
def _write(
    conversations: ConversationRepository, user: str, at: datetime, *, waiting: bool
) -> None:
    entry = ChatEntry(f"m-{user}-{at.timestamp()}", "in", "text", "hi", at, "friend")
    conversations.record_incoming(
        CHANNEL_ID, user, entry, IncomingVerdict(unread=True, needs_reply=waiting), ChatSettings()
    )


def test_the_inbox_is_newest_first_with_a_cursor_and_filters(conversations) -> None:
    users = [f"U{n:032x}" for n in range(SHARDS + 5)]
    for number, user in enumerate(users):
        _write(conversations, user, NOW + timedelta(minutes=number), waiting=number % 2 == 0)
    _write(conversations, users[0], NOW + timedelta(hours=2), waiting=False)  # writes again

    seen: list[str] = []
    cursor = None
    while True:
        page, cursor = conversations.inbox(CHANNEL_ID, limit=7, cursor=cursor)
        seen += [s.user_id for s in page]
        if cursor is None:
            break
    assert seen == [users[0], *reversed(users[1:])]
    first = conversations.summary(CHANNEL_ID, users[0])
    assert first is not None and (first.unread, first.needs_reply) == (2, True)

    waiting, _ = conversations.inbox(CHANNEL_ID, only="needs_reply", limit=100)
    assert {s.user_id for s in waiting} == {u for n, u in enumerate(users) if n % 2 == 0}
    conversations.mark_read(CHANNEL_ID, users[1], NOW)
    unread, _ = conversations.inbox(CHANNEL_ID, only="unread", limit=100)
    assert users[1] not in {s.user_id for s in unread} and len(unread) == len(users) - 1
    with pytest.raises(InvalidChatCursor):
        conversations.inbox(CHANNEL_ID, cursor="bogus")


# ---------------------------------------------------------------------- admin API
def reply(api: AdminApi, body: dict[str, Any], key: str | None = "key-1") -> Answer:
    headers = {"Idempotency-Key": key} if key else {}
    return api.call("POST", f"/chat/conversations/{USER}/replies", body, headers=headers)


def test_inbox_read_and_an_idempotent_staff_reply(webhook, aws, api, table) -> None:
    send(webhook, text("よくわからない"))
    FriendRepository(*table).set_profile(CHANNEL_ID, USER, _profile("花子"), NOW)
    inbox = api.call("GET", "/chat/conversations", query={"filter": "needs_reply"})
    assert inbox.status == 200, inbox.body
    (item,) = inbox.body["items"]
    assert item["userId"] == USER and item["displayName"] == "花子"
    assert (item["unread"], item["needsReply"], item["mode"]) == (1, True, "auto")
    assert item["lastMessage"]["direction"] == "in"
    aws.queued_sends()  # drain the auto reply

    first = reply(api, {"text": "{display_name|お客様}さん、確認します", "staff": "佐藤"})
    again = reply(api, {"text": "{display_name|お客様}さん、確認します", "staff": "佐藤"})
    assert first.status == 202 and again.status == 202, (first.body, again.body)
    assert first.body["deliveryId"] == again.body["deliveryId"]
    ledger = [
        from_item(i)
        for i in aws.main_items()
        if i["pk"]["S"] == f"DELIVERY#{first.body['deliveryId']}"
    ]
    assert len(ledger) == 1 and ledger[0]["cause"] == "manual"
    sends = aws.queued_sends()
    assert {m["delivery_id"] for m in sends} == {first.body["deliveryId"]}
    assert sends[0]["messages"] == [{"type": "text", "text": "花子さん、確認します"}]
    assert sends[0]["message_class"] == "transactional"

    reused = reply(api, {"text": "別の文"})
    assert reused.status == 422 and reused.body["field"] == "Idempotency-Key"

    inbox = api.call("GET", "/chat/conversations").body["items"]
    assert (inbox[0]["needsReply"], inbox[0]["unread"]) == (False, 0)
    assert inbox[0]["lastMessage"]["direction"] == "out"
    messages = api.call("GET", f"/chat/conversations/{USER}/messages").body["items"]
    assert [(m["direction"], m["source"]) for m in messages] == [("out", "staff"), ("in", "friend")]
    assert messages[0]["staff"] == "佐藤" and messages[0]["status"] == "queued"


def test_mark_read_and_unknown_friends(webhook, api) -> None:
    send(webhook, text("よくわからない"))
    answer = api.call("POST", f"/chat/conversations/{USER}/read")
    assert answer.status == 200 and answer.body == {"userId": USER, "unread": 0}
    assert api.call("GET", "/chat/conversations").body["items"][0]["unread"] == 0
    stranger = "U" + "d" * 32
    assert api.call("POST", f"/chat/conversations/{stranger}/read").status == 404
    assert reply_to(api, stranger).status == 404


def reply_to(api: AdminApi, user: str) -> Answer:
    return api.call("POST", f"/chat/conversations/{user}/replies", {"text": "x"})


def test_templates_crud_and_a_reply_from_a_template(webhook, aws, api) -> None:
    send(webhook, text("よくわからない"))
    created = api.call("POST", "/chat/templates", {"name": "お礼", "text": "ありがとうございます"})
    assert created.status == 201, created.body
    template_id = created.body["id"]
    changed = api.call(
        "PUT",
        f"/chat/templates/{template_id}",
        {"name": "お礼", "text": "ご連絡ありがとうございます"},
    )
    assert changed.status == 200 and changed.body["text"] == "ご連絡ありがとうございます"
    assert [t["id"] for t in api.call("GET", "/chat/templates").body["items"]] == [template_id]
    aws.queued_sends()
    sent = reply(api, {"templateId": template_id}, key="tpl-1")
    assert sent.status == 202, sent.body
    assert aws.queued_sends()[0]["messages"][0]["text"] == "ご連絡ありがとうございます"
    assert reply(api, {"templateId": "nope"}, key="tpl-2").status == 422
    assert reply(api, {"text": "a", "templateId": template_id}, key="tpl-3").status == 422
    assert api.call("DELETE", f"/chat/templates/{template_id}").status == 204
    assert api.call("DELETE", f"/chat/templates/{template_id}").status == 404


def test_the_log_is_exported_and_erased_with_the_friend(webhook, aws, api) -> None:
    send(webhook, text("よくわからない"))
    assert reply(api, {"text": "はい"}).status == 202
    exported = api.call("GET", f"/friends/{USER}/export")
    assert exported.status == 200
    assert "CHAT#SUMMARY" in str(exported.body) and "CHAT#MSG#" in str(exported.body)
    assert api.call("DELETE", f"/friends/{USER}").status == 204
    assert chat_items(aws) == []
    assert api.call("GET", "/chat/conversations").body["items"] == []


def _profile(name: str) -> Any:
    from linecrm.domain.friends import FriendProfile

    return FriendProfile(display_name=name)


def test_a_plain_button_tap_is_logged_without_moving_the_conversation(
    webhook, aws, conversations
) -> None:
    send(webhook, text("よくわからない"))
    before = conversations.summary(CHANNEL_ID, USER)
    send(webhook, line_event("postback", USER, postback={"data": "menu=coupon"}))
    assert conversations.summary(CHANNEL_ID, USER) == before
    entries, _ = conversations.entries(CHANNEL_ID, USER)
    assert (entries[0].entry.kind, entries[0].entry.text) == ("postback", "menu=coupon")


class ConflictingClient:
    """TransactWriteItems cancelled by a concurrent transaction ``conflicts`` times."""

    def __init__(self, conflicts: int) -> None:
        self.conflicts = conflicts
        self.calls = 0

    def transact_write_items(self, **_: Any) -> None:
        from botocore.exceptions import ClientError

        self.calls += 1
        if self.calls <= self.conflicts:
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                    "CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict"}],
                },
                "TransactWriteItems",
            )


def test_a_transaction_conflict_is_retried_then_reported_busy(monkeypatch) -> None:
    from linecrm.repositories import conversations as module
    from linecrm.repositories import dynamo  # the back-off of transact_unless_done

    monkeypatch.setattr(dynamo.time, "sleep", lambda _s: None)
    entry = ChatEntry("m1", "in", "text", "hi", NOW, "friend")
    verdict = IncomingVerdict(unread=True, needs_reply=True)
    settling = ConflictingClient(conflicts=2)
    repository = ConversationRepository(settling, "table")  # type: ignore[arg-type]
    assert repository.record_incoming(CHANNEL_ID, USER, entry, verdict, ChatSettings())
    assert settling.calls == 3
    busy = ConversationRepository(ConflictingClient(conflicts=99), "table")  # type: ignore[arg-type]
    with pytest.raises(module.ConversationBusy):
        busy.record_incoming(CHANNEL_ID, USER, entry, verdict, ChatSettings())
