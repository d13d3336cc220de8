"""The real emulator server, driven by LINE's own Python SDK (line-bot-sdk v3).

Proves that the SDK's requests validate against the emulator's OpenAPI checks and
succeed, and that retry keys behave as LINE documents (409 for a repeated key).
"""

from __future__ import annotations

import concurrent.futures
import uuid
from collections.abc import Iterator

import pytest
import requests

from linecrm_local.emulator import EmulatedChannel, EmulatorConfig, LineEmulator

pytestmark = pytest.mark.integration

CHANNEL_ID = "2000000001"
TOKEN = "integration-token"


@pytest.fixture(scope="module")
def emulator() -> Iterator[LineEmulator]:
    channel = EmulatedChannel(CHANNEL_ID, "a" * 32, TOKEN, None, "U" + "b" * 32)
    emulator = LineEmulator(EmulatorConfig(channels=[channel]))
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def api(emulator: LineEmulator) -> Iterator[object]:
    from linebot.v3.messaging import ApiClient, Configuration, MessagingApi

    configuration = Configuration(host=emulator.base_url, access_token=TOKEN)
    with ApiClient(configuration) as client:
        yield MessagingApi(client)


def test_sdk_push_with_retry_key_then_409(emulator: LineEmulator, api: object) -> None:
    from linebot.v3.messaging import ApiException, PushMessageRequest, TextMessage

    friend = emulator.add_friend(CHANNEL_ID, "SDK user")
    request = PushMessageRequest(to=friend.user_id, messages=[TextMessage(text="from the SDK")])
    key = str(uuid.uuid4())
    answer = api.push_message_with_http_info(request, x_line_retry_key=key)  # type: ignore[attr-defined]
    assert answer.status_code == 200
    assert len(answer.data.sent_messages) == 1
    request_id = answer.headers["x-line-request-id"]
    [received] = emulator.inbox(friend.user_id)
    assert (received.message["text"], received.retry_key, received.request_id) == (
        "from the SDK",
        key,
        request_id,
    )

    with pytest.raises(ApiException) as conflict:
        api.push_message_with_http_info(request, x_line_retry_key=key)  # type: ignore[attr-defined]
    assert conflict.value.status == 409
    assert conflict.value.headers["x-line-accepted-request-id"] == request_id
    assert len(emulator.inbox(friend.user_id)) == 1


def test_sdk_multicast_reply_profile_and_quota(emulator: LineEmulator, api: object) -> None:
    from linebot.v3.messaging import (
        FlexBox,
        FlexBubble,
        FlexMessage,
        FlexText,
        MessageAction,
        MulticastRequest,
        QuickReply,
        QuickReplyItem,
        ReplyMessageRequest,
        TextMessage,
    )

    friends = [emulator.add_friend(CHANNEL_ID).user_id for _ in range(3)]
    flex = FlexMessage(
        alt_text="card",
        contents=FlexBubble(body=FlexBox(layout="vertical", contents=[FlexText(text="hi")])),
    )
    api.multicast(  # type: ignore[attr-defined]
        MulticastRequest(to=friends, messages=[flex]), x_line_retry_key=str(uuid.uuid4())
    )
    assert all(emulator.inbox(user)[-1].message["type"] == "flex" for user in friends)

    token = emulator.simulate_text(CHANNEL_ID, friends[0], "hello").reply_token
    quick = QuickReply(items=[QuickReplyItem(action=MessageAction(label="yes", text="yes"))])
    api.reply_message(  # type: ignore[attr-defined]
        ReplyMessageRequest(reply_token=token, messages=[TextMessage(text="hi", quick_reply=quick)])
    )
    assert emulator.inbox(friends[0])[-1].endpoint == "reply"

    profile = api.get_profile(friends[1])  # type: ignore[attr-defined]
    assert profile.user_id == friends[1]
    assert api.get_message_quota().value == 200_000  # type: ignore[attr-defined]
    assert api.get_message_quota_consumption().total_usage >= 4  # type: ignore[attr-defined]


def test_concurrent_requests_with_one_retry_key_deliver_once(emulator: LineEmulator) -> None:
    friend = emulator.add_friend(CHANNEL_ID)
    key = str(uuid.uuid4())
    body = {"to": friend.user_id, "messages": [{"type": "text", "text": "once"}]}
    headers = {"Authorization": f"Bearer {TOKEN}", "X-Line-Retry-Key": key}

    def send() -> int:
        url = f"{emulator.base_url}/v2/bot/message/push"
        return requests.post(url, json=body, headers=headers, timeout=10).status_code

    with concurrent.futures.ThreadPoolExecutor(max_workers=16) as pool:
        statuses = sorted(pool.map(lambda _: send(), range(16)))
    assert statuses == [200] + [409] * 15
    assert len(emulator.inbox(friend.user_id)) == 1
