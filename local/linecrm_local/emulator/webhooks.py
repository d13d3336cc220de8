"""Webhooks the emulator sends: LINE's event shapes, signing and redelivery."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import requests

from . import ids
from .config import EmulatedChannel
from .models import WebhookAttempt, WebhookDelivery

SIGNATURE_HEADER = "x-line-signature"
# Events that LINE gives a reply token (of those the emulator simulates).
REPLYABLE_EVENTS = frozenset({"message", "follow", "postback", "join", "memberJoined", "beacon"})


def sign(channel_secret: str, body: bytes) -> str:
    """base64(HMAC-SHA256(channel secret, raw body)), LINE's x-line-signature."""
    digest = hmac.new(channel_secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def base_event(event_type: str, user_id: str, now: float) -> dict[str, Any]:
    return {
        "type": event_type,
        "mode": "active",
        "timestamp": int(now * 1000),
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": ids.webhook_event_id(now),
        "deliveryContext": {"isRedelivery": False},
    }


def follow_event(user_id: str, now: float, *, is_unblocked: bool) -> dict[str, Any]:
    return {**base_event("follow", user_id, now), "follow": {"isUnblocked": is_unblocked}}


def unfollow_event(user_id: str, now: float) -> dict[str, Any]:
    return base_event("unfollow", user_id, now)


def text_message_event(user_id: str, now: float, text: str) -> dict[str, Any]:
    message = {
        "id": ids.message_id(),
        "type": "text",
        "text": text,
        "quoteToken": ids.quote_token(),
    }
    return {**base_event("message", user_id, now), "message": message}


def postback_event(user_id: str, now: float, data: str) -> dict[str, Any]:
    return {**base_event("postback", user_id, now), "postback": {"data": data}}


def account_link_event(user_id: str, now: float, *, ok: bool, nonce: str) -> dict[str, Any]:
    """LINE's ``accountLink`` event; only a successful link carries a reply token."""
    return {
        **base_event("accountLink", user_id, now),
        "link": {"result": "ok" if ok else "failed", "nonce": nonce},
    }


def complete_event(event: dict[str, Any], user_id: str, now: float) -> dict[str, Any]:
    """Fill the fields every LINE event carries that the caller left out."""
    return {**base_event(str(event.get("type", "")), user_id, now), **event}


class WebhookSender:
    """POSTs signed webhooks and redelivers failed ones like LINE does.

    ``wait`` sleeps between redeliveries and returns False when the emulator stops,
    so a stopping emulator never waits out a redelivery delay.
    """

    def __init__(
        self,
        delays_seconds: tuple[float, ...],
        timeout_seconds: float,
        wait: Callable[[float], bool],
    ) -> None:
        self.delays_seconds = delays_seconds
        self.timeout_seconds = timeout_seconds
        self._wait = wait

    def deliver(self, channel: EmulatedChannel, delivery: WebhookDelivery) -> WebhookDelivery:
        if channel.webhook_url is None:
            delivery.attempts.append(
                WebhookAttempt(None, "", False, error="the channel has no webhook URL")
            )
            return delivery
        delays = list(self.delays_seconds) if channel.redelivery else []
        is_redelivery = False
        while True:
            delivery.attempts.append(self._post(channel, delivery.event, is_redelivery))
            if delivery.delivered or not delays or not self._wait(delays.pop(0)):
                return delivery
            is_redelivery = True

    def _post(
        self, channel: EmulatedChannel, event: dict[str, Any], is_redelivery: bool
    ) -> WebhookAttempt:
        sent_event = copy.deepcopy(event)
        sent_event["deliveryContext"] = {"isRedelivery": is_redelivery}
        body = json.dumps(
            {"destination": channel.bot_user_id, "events": [sent_event]}, ensure_ascii=False
        ).encode("utf-8")
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            SIGNATURE_HEADER: sign(channel.channel_secret, body),
            "User-Agent": "LineBotWebhook/2.0",
        }
        assert channel.webhook_url is not None
        try:
            response = requests.post(
                channel.webhook_url, data=body, headers=headers, timeout=self.timeout_seconds
            )
        except requests.RequestException as failure:
            return WebhookAttempt(None, "", is_redelivery, error=str(failure))
        return WebhookAttempt(response.status_code, response.text, is_redelivery)
