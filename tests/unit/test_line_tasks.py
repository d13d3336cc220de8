"""Send-queue tasks that are not messages (profile refresh, rich menu link): the queue
body, the outbox, LineTaskRunner against the LINE emulator, and the sender handler."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from werkzeug.test import Client

from linecrm.channels import UnknownChannel
from linecrm.config import LineEndpoints
from linecrm.delivery.line_tasks import LineTaskRunner
from linecrm.delivery.outbox import SendQueueOutbox
from linecrm.delivery.sender import SendFailedRetryable
from linecrm.line.client import LineMessagingClient, RetryPolicy
from linecrm.models.send import (
    AccountLinkInvite,
    ProfileRefresh,
    RichMenuLink,
    SendRequest,
    parse_send_queue_task,
)
from linecrm.repositories.deliveries import DeliveryLedger
from linecrm.repositories.friends import FriendRepository, friend_pk
from linecrm.repositories.id_links import IdLinkRepository
from linecrm.resources import Env
from linecrm_local.emulator import EmulatedChannel, EmulatorConfig, LineEmulator
from linecrm_local.sqs_poller import build_sqs_event
from tests.support.lambda_support import load_handler
from tests.unit.conftest import ACCESS_TOKEN, CHANNEL_ID, CHANNEL_SECRET, AwsWorld

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
FOLLOWED = datetime(2026, 11, 1, tzinfo=UTC)
BOT_USER_ID = "U" + "f" * 32
STRANGER = "U" + "0" * 32
MENU = {
    "size": {"width": 2500, "height": 843},
    "selected": True,
    "name": "main",
    "chatBarText": "Menu",
    "areas": [
        {
            "bounds": {"x": 0, "y": 0, "width": 2500, "height": 843},
            "action": {"type": "postback", "data": "menu=1"},
        }
    ],
}
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


# ---------------------------------------------------------------- fixtures


@pytest.fixture
def emulator() -> Iterator[LineEmulator]:
    channel = EmulatedChannel(CHANNEL_ID, CHANNEL_SECRET, ACCESS_TOKEN, None, BOT_USER_ID)
    with LineEmulator(EmulatorConfig(channels=[channel])) as running:
        yield running


@pytest.fixture
def friends(aws: AwsWorld) -> FriendRepository:
    return FriendRepository(aws.client("dynamodb"), aws.resources.table_names["Main"])


def line_client(emulator: LineEmulator, token: str = ACCESS_TOKEN) -> LineMessagingClient:
    return LineMessagingClient(
        token,
        LineEndpoints(api_base_url=emulator.base_url),
        retry_policy=RetryPolicy(max_attempts=2, base_seconds=0),
        sleep=lambda _seconds: None,
    )


def runner(friends: FriendRepository, client: LineMessagingClient) -> LineTaskRunner:
    return LineTaskRunner(friends, lambda _channel: client, lambda: NOW)


def raw_profile(aws: AwsWorld, user_id: str) -> dict[str, Any] | None:
    response = aws.client("dynamodb").get_item(
        TableName=aws.resources.table_names["Main"],
        Key={"pk": {"S": friend_pk(CHANNEL_ID, user_id)}, "sk": {"S": "PROFILE"}},
    )
    return response.get("Item")


def rich_menu(emulator: LineEmulator, alias: str | None = None) -> str:
    """A rich menu with its image (linkable), optionally with an alias."""
    http = Client(emulator.wsgi_app)
    auth = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
    menu_id: str = http.post("/v2/bot/richmenu", json=MENU, headers=auth).json["richMenuId"]
    upload = http.post(
        f"/v2/bot/richmenu/{menu_id}/content",
        data=PNG,
        headers={**auth, "Content-Type": "image/png"},
    )
    assert upload.status_code == 200
    if alias is not None:
        created = http.post(
            "/v2/bot/richmenu/alias",
            json={"richMenuAliasId": alias, "richMenuId": menu_id},
            headers=auth,
        )
        assert created.status_code == 200, created.json
    return menu_id


def linked_menu(emulator: LineEmulator, user_id: str) -> str | None:
    friend = next(f for f in emulator.friends(CHANNEL_ID) if f.user_id == user_id)
    return friend.linked_rich_menu_id


# ---------------------------------------------------------------- profile refresh


def test_profile_refresh_stores_name_picture_and_language(friends, emulator) -> None:
    user = emulator.add_friend(CHANNEL_ID, "山田花子", language="en").user_id
    friends.record_follow(CHANNEL_ID, user, FOLLOWED)
    outcome = runner(friends, line_client(emulator)).run(
        ProfileRefresh(channel_id=CHANNEL_ID, user_id=user)
    )
    assert outcome == "profile stored"
    friend = friends.get(CHANNEL_ID, user)
    assert friend is not None
    assert friend.display_name == "山田花子"
    assert friend.picture_url == f"https://profile.line-scdn.net/emulator/{user}"
    assert friend.status_message == "Hello from the LINE emulator"
    assert friend.language == "en"
    assert friend.profile_fetched_at == NOW
    assert friend.status == "active" and friend.first_followed_at == FOLLOWED
    assert [call.endpoint for call in emulator.calls()] == ["profile"]


def test_profile_unknown_to_line_is_skipped_without_a_write(friends, emulator, aws) -> None:
    outcome = runner(friends, line_client(emulator)).run(
        ProfileRefresh(channel_id=CHANNEL_ID, user_id=STRANGER)
    )
    assert outcome.startswith("skipped:")
    assert "does not know" in outcome
    assert raw_profile(aws, STRANGER) is None


def test_profile_of_a_friend_who_blocked_is_skipped_and_kept(friends, emulator, aws) -> None:
    user = emulator.add_friend(CHANNEL_ID, "Alice").user_id
    friends.record_follow(CHANNEL_ID, user, FOLLOWED)
    emulator.simulate_unfollow(CHANNEL_ID, user)  # LINE answers 404 from now on
    before = raw_profile(aws, user)
    outcome = runner(friends, line_client(emulator)).run(
        ProfileRefresh(channel_id=CHANNEL_ID, user_id=user)
    )
    assert outcome.startswith("skipped:")
    assert raw_profile(aws, user) == before


def test_profile_request_rejected_by_line_is_skipped(friends, emulator, aws) -> None:
    user = emulator.add_friend(CHANNEL_ID, "Alice").user_id
    bad_token = line_client(emulator, token="revoked-token")  # 401
    outcome = runner(friends, bad_token).run(ProfileRefresh(channel_id=CHANNEL_ID, user_id=user))
    assert outcome.startswith("skipped: rejected by LINE: LINE answered 401")
    assert raw_profile(aws, user) is None


def test_profile_transient_failure_asks_for_a_retry(friends, emulator, aws) -> None:
    user = emulator.add_friend(CHANNEL_ID, "Alice").user_id
    emulator.set_faults("profile", error_500=1.0)
    with pytest.raises(SendFailedRetryable) as raised:
        runner(friends, line_client(emulator)).run(
            ProfileRefresh(channel_id=CHANNEL_ID, user_id=user)
        )
    assert not raised.value.rate_limited
    assert "LineTransientError" in raised.value.reason
    assert len(emulator.calls("profile")) == 2  # the client's own retries first
    assert raw_profile(aws, user) is None


def test_profile_rate_limited_asks_for_a_slower_retry(friends, emulator) -> None:
    user = emulator.add_friend(CHANNEL_ID, "Alice").user_id
    emulator.set_faults("profile", error_429=1.0)
    with pytest.raises(SendFailedRetryable) as raised:
        runner(friends, line_client(emulator)).run(
            ProfileRefresh(channel_id=CHANNEL_ID, user_id=user)
        )
    assert raised.value.rate_limited


def test_a_channel_without_credentials_is_skipped(friends) -> None:
    def no_channel(channel_id: str) -> LineMessagingClient:
        raise UnknownChannel(channel_id)

    tasks = LineTaskRunner(friends, no_channel, lambda: NOW)
    for task in (
        ProfileRefresh(channel_id="1999999999", user_id="U1"),
        RichMenuLink(channel_id="1999999999", user_id="U1", rich_menu="main"),
    ):
        assert tasks.run(task) == "skipped: no credentials for channel 1999999999"


# ---------------------------------------------------------------- rich menu link


def test_link_rich_menu_by_id(friends, emulator) -> None:
    user = emulator.add_friend(CHANNEL_ID, "Alice").user_id
    menu_id = rich_menu(emulator)
    setup_calls = len(emulator.calls())
    task = RichMenuLink(channel_id=CHANNEL_ID, user_id=user, rich_menu=menu_id)
    outcome = runner(friends, line_client(emulator)).run(task)
    assert outcome == f"rich menu {menu_id} linked"
    assert linked_menu(emulator, user) == menu_id
    # An id needs no alias lookup: one call, the link.
    assert [call.endpoint for call in emulator.calls()[setup_calls:]] == ["richmenu_link"]


def test_unlink_rich_menu_shows_the_default_again(friends, emulator) -> None:
    user = emulator.add_friend(CHANNEL_ID, "Alice").user_id
    menu_id = rich_menu(emulator)
    link = RichMenuLink(channel_id=CHANNEL_ID, user_id=user, rich_menu=menu_id)
    runner(friends, line_client(emulator)).run(link)
    unlink = RichMenuLink.model_validate_json(
        RichMenuLink(
            channel_id=CHANNEL_ID, user_id=user, rich_menu=menu_id, unlink=True
        ).model_dump_json()
    )
    assert unlink.unlink and "unlink" not in link.model_dump()  # a link reads as before
    outcome = runner(friends, line_client(emulator)).run(unlink)
    assert outcome == f"rich menu {menu_id} unlinked (the default shows)"
    assert linked_menu(emulator, user) is None


def test_an_assigned_menu_the_friends_record_no_longer_names_is_not_linked(
    friends, emulator
) -> None:
    """A late task from the assignment rules never undoes a newer menu."""
    user = emulator.add_friend(CHANNEL_ID, "Alice").user_id
    old_menu, new_menu = rich_menu(emulator), rich_menu(emulator)
    friends.record_follow(CHANNEL_ID, user, NOW)
    assert friends.change_rich_menu(friends.rich_menu_change(CHANNEL_ID, user, None, new_menu))
    before = len(emulator.calls())

    late = RichMenuLink(channel_id=CHANNEL_ID, user_id=user, rich_menu=old_menu, assigned=True)
    outcome = runner(friends, line_client(emulator)).run(late)

    assert outcome == f"skipped: rich menu {old_menu} superseded by a later assignment"
    assert len(emulator.calls()) == before  # no LINE call
    current = RichMenuLink(channel_id=CHANNEL_ID, user_id=user, rich_menu=new_menu, assigned=True)
    assert runner(friends, line_client(emulator)).run(current) == f"rich menu {new_menu} linked"
    assert linked_menu(emulator, user) == new_menu


def test_link_rich_menu_by_alias(friends, emulator) -> None:
    user = emulator.add_friend(CHANNEL_ID, "Alice").user_id
    rich_menu(emulator, alias="other-menu")
    menu_id = rich_menu(emulator, alias="member_menu")
    setup_calls = len(emulator.calls())
    outcome = runner(friends, line_client(emulator)).run(
        RichMenuLink(channel_id=CHANNEL_ID, user_id=user, rich_menu="member_menu")
    )
    assert outcome == "rich menu member_menu linked"
    assert linked_menu(emulator, user) == menu_id
    assert [call.endpoint for call in emulator.calls()[setup_calls:]] == [
        "richmenu_alias",
        "richmenu_link",
    ]


def test_link_rich_menu_by_an_alias_that_starts_with_richmenu(friends, emulator) -> None:
    user = emulator.add_friend(CHANNEL_ID, "Alice").user_id
    menu_id = rich_menu(emulator, alias="richmenu-alias-a")
    runner(friends, line_client(emulator)).run(
        RichMenuLink(channel_id=CHANNEL_ID, user_id=user, rich_menu="richmenu-alias-a")
    )
    assert linked_menu(emulator, user) == menu_id


@pytest.mark.parametrize("reference", ["no-such-alias", "richmenu-" + "0" * 32])
def test_unknown_rich_menu_is_skipped_not_retried(friends, emulator, reference) -> None:
    user = emulator.add_friend(CHANNEL_ID, "Alice").user_id
    outcome = runner(friends, line_client(emulator)).run(
        RichMenuLink(channel_id=CHANNEL_ID, user_id=user, rich_menu=reference)
    )
    assert outcome.startswith("skipped: rejected by LINE: LINE answered 404")
    assert linked_menu(emulator, user) is None


def test_rich_menu_link_transient_failure_asks_for_a_retry(friends, emulator) -> None:
    user = emulator.add_friend(CHANNEL_ID, "Alice").user_id
    menu_id = rich_menu(emulator)
    emulator.set_faults("richmenu_link", error_500=1.0)
    with pytest.raises(SendFailedRetryable):
        runner(friends, line_client(emulator)).run(
            RichMenuLink(channel_id=CHANNEL_ID, user_id=user, rich_menu=menu_id)
        )
    assert linked_menu(emulator, user) is None


# ---------------------------------------------------------------- queue bodies

SEND_BODY = {
    "delivery_id": "d-1",
    "channel_id": CHANNEL_ID,
    "to": ["U1"],
    "messages": [{"type": "text", "text": "hi"}],
    "cause": "manual",
}


def test_a_body_without_kind_is_a_send_request() -> None:
    task = parse_send_queue_task(json.dumps(SEND_BODY))
    assert isinstance(task, SendRequest)
    assert task.kind == "send" and task.delivery_id == "d-1"
    assert task.reply_token is None and task.reply_by is None
    assert isinstance(parse_send_queue_task(json.dumps(SEND_BODY).encode()), SendRequest)


def test_each_task_round_trips_through_its_queue_body() -> None:
    tasks = [
        SendRequest.model_validate(
            {**SEND_BODY, "reply_token": "tok", "reply_by": "2026-11-23T03:00:50Z"}
        ),
        ProfileRefresh(channel_id=CHANNEL_ID, user_id="U1"),
        RichMenuLink(channel_id=CHANNEL_ID, user_id="U1", rich_menu="main"),
    ]
    for task in tasks:
        parsed = parse_send_queue_task(task.model_dump_json())
        assert type(parsed) is type(task)
        assert parsed == task
    assert tasks[0].reply_by == datetime(2026, 11, 23, 3, 0, 50, tzinfo=UTC)


def test_task_kinds_pick_the_model() -> None:
    refresh = parse_send_queue_task('{"kind":"refresh_profile","channel_id":"1","user_id":"U1"}')
    assert refresh == ProfileRefresh(channel_id="1", user_id="U1")
    link = parse_send_queue_task(
        '{"kind":"link_rich_menu","channel_id":"1","user_id":"U1","rich_menu":"m"}'
    )
    assert link == RichMenuLink(channel_id="1", user_id="U1", rich_menu="m")


@pytest.mark.parametrize(
    "body",
    [
        json.dumps({**SEND_BODY, "kind": "teleport"}),
        json.dumps({**SEND_BODY, "kind": "refresh_profile"}),  # a send body is no refresh
        '{"kind":"refresh_profile","channel_id":"1"}',
        '{"kind":"link_rich_menu","channel_id":"1","user_id":"U1"}',
        '{"kind":"link_rich_menu","channel_id":"1","user_id":"U1","rich_menu":""}',
        json.dumps({k: v for k, v in SEND_BODY.items() if k != "to"}),
        json.dumps({**SEND_BODY, "messages": [{"text": "no type"}]}),
        "not json",
        "[]",
        "",
    ],
)
def test_bodies_that_are_no_task_raise_value_error(body: str) -> None:
    # pydantic's ValidationError is a ValueError: the handler treats it as poison.
    with pytest.raises(ValueError, match="validation error"):
        parse_send_queue_task(body)


def test_unknown_kind_error_names_the_kind() -> None:
    with pytest.raises(ValueError, match="teleport"):
        parse_send_queue_task(json.dumps({**SEND_BODY, "kind": "teleport"}))


# ---------------------------------------------------------------- outbox


def receive_all(aws: AwsWorld) -> list[dict[str, Any]]:
    sqs = aws.client("sqs")
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=os.environ[Env.SEND_QUEUE_URL],
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            return messages
        messages.extend(batch)


def outbox(aws: AwsWorld) -> SendQueueOutbox:
    ledger = DeliveryLedger(aws.client("dynamodb"), aws.resources.table_names["Main"])
    return SendQueueOutbox(ledger, aws.client("sqs"), os.environ[Env.SEND_QUEUE_URL], lambda: NOW)


def test_enqueue_task_puts_the_task_on_the_send_queue_without_a_ledger_row(aws) -> None:
    queue = outbox(aws)
    refresh = ProfileRefresh(channel_id=CHANNEL_ID, user_id="U1")
    link = RichMenuLink(channel_id=CHANNEL_ID, user_id="U1", rich_menu="main")
    queue.enqueue_task(refresh)
    queue.enqueue_task(link)
    queue.enqueue_task(refresh)  # repeating a task is allowed (harmless)
    messages = receive_all(aws)
    assert sorted(parse_send_queue_task(m["Body"]).kind for m in messages) == [
        "link_rich_menu",
        "refresh_profile",
        "refresh_profile",
    ]
    for message in messages:
        task = parse_send_queue_task(message["Body"])
        attributes = message["MessageAttributes"]
        assert attributes["cause"]["StringValue"] == task.kind
        assert attributes["channel_id"]["StringValue"] == CHANNEL_ID
        assert json.loads(message["Body"])["kind"] == task.kind
    assert aws.main_items() == []


# ---------------------------------------------------------------- sender handler


@pytest.fixture
def sender_handler(aws: AwsWorld, emulator: LineEmulator, monkeypatch) -> Any:
    monkeypatch.setenv(Env.LINE_API_BASE_URL, emulator.base_url)
    return load_handler("sender")


def sqs_event(aws: AwsWorld) -> dict[str, Any]:
    arn = aws.client("sqs").get_queue_attributes(
        QueueUrl=os.environ[Env.SEND_QUEUE_URL], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    return build_sqs_event(receive_all(aws), arn)


def test_handler_refreshes_a_profile_end_to_end(
    aws, emulator, friends, sender_handler, lambda_context
) -> None:
    user = emulator.add_friend(CHANNEL_ID, "佐藤").user_id
    friends.record_follow(CHANNEL_ID, user, FOLLOWED)
    outbox(aws).enqueue_task(ProfileRefresh(channel_id=CHANNEL_ID, user_id=user))
    event = sqs_event(aws)
    assert len(event["Records"]) == 1

    result = sender_handler.lambda_handler(event, lambda_context)
    assert result == {"batchItemFailures": []}
    friend = friends.get(CHANNEL_ID, user)
    assert friend is not None
    assert friend.display_name == "佐藤" and friend.language == "ja"
    assert friend.profile_fetched_at is not None
    assert [call.endpoint for call in emulator.calls()] == ["profile"]


def test_handler_reports_a_transient_task_failure_for_retry(
    aws, emulator, friends, sender_handler, lambda_context
) -> None:
    user = emulator.add_friend(CHANNEL_ID, "佐藤").user_id
    emulator.set_faults("profile", error_500=1.0)
    queue = outbox(aws)
    queue.enqueue_task(ProfileRefresh(channel_id=CHANNEL_ID, user_id=user))
    queue.enqueue_task(RichMenuLink(channel_id=CHANNEL_ID, user_id=user, rich_menu="gone"))
    event = sqs_event(aws)
    refresh_id = next(
        record["messageId"]
        for record in event["Records"]
        if json.loads(record["body"])["kind"] == "refresh_profile"
    )
    result = sender_handler.lambda_handler(event, lambda_context)
    # Only the refresh is retried; the rejected link is a deliberate skip.
    assert result == {"batchItemFailures": [{"itemIdentifier": refresh_id}]}
    assert raw_profile(aws, user) is None


def test_handler_skips_a_rejected_task_without_failing_the_record(
    aws, emulator, friends, sender_handler, lambda_context
) -> None:
    user = emulator.add_friend(CHANNEL_ID, "佐藤").user_id
    outbox(aws).enqueue_task(RichMenuLink(channel_id=CHANNEL_ID, user_id=user, rich_menu="gone"))
    result = sender_handler.lambda_handler(sqs_event(aws), lambda_context)
    assert result == {"batchItemFailures": []}
    assert linked_menu(emulator, user) is None


def test_handler_fails_only_the_record_of_an_unknown_kind(
    aws, emulator, friends, sender_handler, lambda_context
) -> None:
    user = emulator.add_friend(CHANNEL_ID, "佐藤").user_id
    friends.record_follow(CHANNEL_ID, user, FOLLOWED)
    outbox(aws).enqueue_task(ProfileRefresh(channel_id=CHANNEL_ID, user_id=user))
    aws.client("sqs").send_message(
        QueueUrl=os.environ[Env.SEND_QUEUE_URL],
        MessageBody=json.dumps({"kind": "teleport", "channel_id": CHANNEL_ID}),
    )
    event = sqs_event(aws)
    poison_id = next(
        record["messageId"]
        for record in event["Records"]
        if json.loads(record["body"])["kind"] == "teleport"
    )
    result = sender_handler.lambda_handler(event, lambda_context)
    assert result == {"batchItemFailures": [{"itemIdentifier": poison_id}]}
    friend = friends.get(CHANNEL_ID, user)
    assert friend is not None and friend.display_name == "佐藤"


# ---------------------------------------------------------------- ID-link invitation


def invitation(user_id: str, *, reply_token: str | None = None) -> AccountLinkInvite:
    return AccountLinkInvite(
        delivery_id=f"link:{CHANNEL_ID}:evt-{user_id[-4:]}",
        channel_id=CHANNEL_ID,
        user_id=user_id,
        shop_login_url="https://shop.example/login",
        text="会員連携",
        button_label="連携する",
        reply_token=reply_token,
        reply_by=NOW + timedelta(seconds=50) if reply_token else None,
    )


def test_the_link_invitation_issues_a_token_remembers_it_and_pushes_once(
    aws: AwsWorld, friends, emulator
) -> None:
    user = emulator.add_friend(CHANNEL_ID, "連携").user_id
    friends.record_follow(CHANNEL_ID, user, FOLLOWED)
    links = IdLinkRepository(aws.client("dynamodb"), aws.resources.table_names["Main"])
    tasks = LineTaskRunner(friends, lambda _c: line_client(emulator), lambda: NOW, links)
    assert tasks.run(invitation(user)) == "ID link invitation pushed"
    (received,) = emulator.inbox(user)
    uri = received.message["template"]["actions"][0]["uri"]
    token = uri.removeprefix("https://shop.example/login?linkToken=")
    issued = links.link_token(CHANNEL_ID, token)
    assert issued is not None and issued.user_id == user
    # The same task again (an SQS redelivery): nothing more, not even a token.
    issued_tokens = len(link_token_calls(emulator))
    assert tasks.run(invitation(user)) == "ID link invitation already sent (a redelivered task)"
    assert len(emulator.inbox(user)) == 1 and len(link_token_calls(emulator)) == issued_tokens


def link_token_calls(emulator: LineEmulator) -> list[Any]:
    return [call for call in emulator.calls() if call.path.endswith("/linkToken")]


def test_a_redelivered_invitation_whose_push_answer_was_lost_pushes_the_same_once(
    aws: AwsWorld, friends, emulator
) -> None:
    user = emulator.add_friend(CHANNEL_ID, "再送").user_id
    friends.record_follow(CHANNEL_ID, user, FOLLOWED)
    links = IdLinkRepository(aws.client("dynamodb"), aws.resources.table_names["Main"])
    tasks = LineTaskRunner(friends, lambda _c: line_client(emulator), lambda: NOW, links)
    task = invitation(user)
    assert tasks.run(task) == "ID link invitation pushed"
    sent = links.invite_attempt(CHANNEL_ID, user, task.delivery_id)
    assert sent is not None and sent.stage == "sent"
    # As if the sender died after LINE accepted the push, before it recorded "sent".
    links.record_invite_attempt(
        CHANNEL_ID, user, task.delivery_id, sent.model_copy(update={"stage": "pushing"})
    )
    assert tasks.run(task) == "ID link invitation pushed (an earlier attempt was accepted)"
    assert len(emulator.inbox(user)) == 1 and len(link_token_calls(emulator)) == 1


def test_a_redelivered_invitation_whose_reply_outcome_is_unknown_is_skipped_with_the_reason(
    aws: AwsWorld, friends, emulator
) -> None:
    user = emulator.add_friend(CHANNEL_ID, "返信中").user_id
    friends.record_follow(CHANNEL_ID, user, FOLLOWED)
    links = IdLinkRepository(aws.client("dynamodb"), aws.resources.table_names["Main"])
    tasks = LineTaskRunner(friends, lambda _c: line_client(emulator), lambda: NOW, links)
    reply_token = emulator.state.issue_reply_token(CHANNEL_ID, user)
    task = invitation(user, reply_token=reply_token)
    assert tasks.run(task) == "ID link invitation replied"
    sent = links.invite_attempt(CHANNEL_ID, user, task.delivery_id)
    assert sent is not None
    # As if the sender died while the reply was on its way (LINE may have delivered it).
    links.record_invite_attempt(
        CHANNEL_ID, user, task.delivery_id, sent.model_copy(update={"stage": "replying"})
    )
    assert tasks.run(task).startswith("skipped: an earlier attempt's reply may have been")
    assert [m.endpoint for m in emulator.inbox(user)] == ["reply"]  # not a push as well
    friend = friends.get(CHANNEL_ID, user)
    assert friend is not None and "idlink" in friend.warnings


def test_the_link_invitation_replies_while_the_token_is_fresh(
    aws: AwsWorld, friends, emulator
) -> None:
    user = emulator.add_friend(CHANNEL_ID, "返信").user_id
    friends.record_follow(CHANNEL_ID, user, FOLLOWED)
    reply_token = emulator.state.issue_reply_token(CHANNEL_ID, user)
    tasks = runner(friends, line_client(emulator))
    assert tasks.run(invitation(user, reply_token=reply_token)) == "ID link invitation replied"
    # The reply token is used now (a redelivered task): pushed instead.
    again = invitation(user, reply_token=reply_token).model_copy(update={"delivery_id": "d-2"})
    assert tasks.run(again) == "ID link invitation pushed"
    assert [m.endpoint for m in emulator.inbox(user)] == ["reply", "push"]
    # LINE issues no link token for a user who is not a friend: skipped, not retried.
    assert tasks.run(invitation(STRANGER)).startswith("skipped: rejected by LINE")
