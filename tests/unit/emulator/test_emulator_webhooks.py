"""Signed webhooks in LINE's shape, redelivery and the friend state they change."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time

from linecrm_local.emulator import LineEmulator

from .conftest import BOT_USER_ID, CHANNEL_ID, SECRET, EmulatorFactory, WebhookReceiver

EVENT_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")


def expected_signature(body: bytes) -> str:
    return base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()


def test_follow_webhook_is_signed_and_shaped_like_line(
    make_emulator: EmulatorFactory, webhook: WebhookReceiver
) -> None:
    emulator = make_emulator(webhook.url)
    delivery = emulator.simulate_follow(CHANNEL_ID, display_name="Taro")
    assert (delivery.status, len(delivery.attempts)) == (200, 1)
    [(headers, raw)] = webhook.requests
    assert headers["X-Line-Signature"] == expected_signature(raw)
    payload = webhook.bodies()[0]
    assert payload["destination"] == BOT_USER_ID
    [event] = payload["events"]
    assert event["type"] == "follow"
    assert event["mode"] == "active"
    assert event["source"] == {"type": "user", "userId": delivery.user_id}
    assert event["follow"] == {"isUnblocked": False}
    assert event["deliveryContext"] == {"isRedelivery": False}
    assert EVENT_ID.match(event["webhookEventId"])
    assert event["webhookEventId"] == delivery.webhook_event_id
    assert isinstance(event["timestamp"], int)
    assert event["replyToken"] == delivery.reply_token
    assert emulator.friends(CHANNEL_ID)[0].display_name == "Taro"


def test_text_postback_unfollow_and_unblock(
    make_emulator: EmulatorFactory, webhook: WebhookReceiver
) -> None:
    emulator = make_emulator(webhook.url)
    user = emulator.add_friend(CHANNEL_ID).user_id
    emulator.simulate_text(CHANNEL_ID, user, "こんにちは")
    emulator.simulate_postback(CHANNEL_ID, user, "action=buy&item=1")
    emulator.simulate_unfollow(CHANNEL_ID, user)
    assert not emulator.friends(CHANNEL_ID)[0].following
    emulator.simulate_follow(CHANNEL_ID, user)
    events = [body["events"][0] for body in webhook.bodies()]
    message = events[0]["message"]
    assert (message["type"], message["text"]) == ("text", "こんにちは")
    assert message["id"]
    assert message["quoteToken"]
    assert events[1]["postback"] == {"data": "action=buy&item=1"}
    assert events[2]["type"] == "unfollow"
    assert "replyToken" not in events[2]
    assert events[3]["follow"] == {"isUnblocked": True}
    assert emulator.friends(CHANNEL_ID)[0].following


def test_failed_webhook_is_redelivered_with_the_same_event_id(
    make_emulator: EmulatorFactory, webhook: WebhookReceiver
) -> None:
    emulator = make_emulator(webhook.url, redelivery_delays_seconds=(0.01, 0.01, 0.01))
    user = emulator.add_friend(CHANNEL_ID).user_id
    webhook.statuses = [500, 503]
    delivery = emulator.simulate_text(CHANNEL_ID, user, "hello")
    assert [a.status for a in delivery.attempts] == [500, 503, 200]
    events = [body["events"][0] for body in webhook.bodies()]
    assert {e["webhookEventId"] for e in events} == {delivery.webhook_event_id}
    assert [e["deliveryContext"]["isRedelivery"] for e in events] == [False, True, True]
    for headers, raw in webhook.requests:
        assert headers["X-Line-Signature"] == expected_signature(raw)


def test_redelivery_gives_up_after_the_configured_delays(
    make_emulator: EmulatorFactory, webhook: WebhookReceiver
) -> None:
    emulator = make_emulator(webhook.url, redelivery_delays_seconds=(0.01,))
    user = emulator.add_friend(CHANNEL_ID).user_id
    webhook.statuses = [500, 500, 500]
    delivery = emulator.simulate_text(CHANNEL_ID, user, "hello")
    assert [a.status for a in delivery.attempts] == [500, 500]
    assert not delivery.delivered


def test_no_redelivery_when_the_channel_disables_it(
    make_emulator: EmulatorFactory, webhook: WebhookReceiver
) -> None:
    emulator = make_emulator(webhook.url)
    emulator.config.channels[0].redelivery = False
    user = emulator.add_friend(CHANNEL_ID).user_id
    webhook.statuses = [500]
    assert len(emulator.simulate_text(CHANNEL_ID, user, "x").attempts) == 1


def test_connection_error_counts_as_a_failed_attempt(make_emulator: EmulatorFactory) -> None:
    emulator = make_emulator("http://127.0.0.1:9/webhook", redelivery_delays_seconds=(0.01,))
    user = emulator.add_friend(CHANNEL_ID).user_id
    delivery = emulator.simulate_text(CHANNEL_ID, user, "x")
    assert [a.status for a in delivery.attempts] == [None, None]
    assert delivery.attempts[1].is_redelivery
    assert delivery.attempts[0].error


def test_simulate_completes_a_caller_built_event(
    emulator: LineEmulator,
) -> None:
    user = emulator.add_friend(CHANNEL_ID).user_id
    delivery = emulator.simulate(
        CHANNEL_ID,
        user,
        {
            "type": "message",
            "message": {"id": "1", "type": "sticker", "packageId": "1", "stickerId": "2"},
        },
    )
    assert delivery.event["source"] == {"type": "user", "userId": user}
    assert delivery.reply_token
    assert EVENT_ID.match(delivery.webhook_event_id)


def test_asynchronous_webhooks_arrive_later(
    make_emulator: EmulatorFactory, webhook: WebhookReceiver
) -> None:
    emulator = make_emulator(webhook.url, synchronous_webhooks=False)
    user = emulator.add_friend(CHANNEL_ID).user_id
    delivery = emulator.simulate_text(CHANNEL_ID, user, "later")
    deadline = time.monotonic() + 5
    while not delivery.attempts and time.monotonic() < deadline:
        time.sleep(0.01)
    assert delivery.status == 200
    assert webhook.bodies()[0]["events"][0]["message"]["text"] == "later"
