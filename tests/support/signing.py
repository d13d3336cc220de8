"""Signing webhook bodies the way LINE does, and building LINE-shaped events."""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
from typing import Any

_sequence = itertools.count(1)


def sign(channel_secret: str, body: bytes) -> str:
    return base64.b64encode(
        hmac.new(channel_secret.encode(), body, hashlib.sha256).digest()
    ).decode()


def webhook_event_id() -> str:
    return f"01TEST{next(_sequence):020d}"


def line_event(
    event_type: str,
    user_id: str,
    *,
    event_id: str | None = None,
    redelivery: bool = False,
    mode: str = "active",
    **extra: Any,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": event_type,
        "mode": mode,
        "timestamp": int(time.time() * 1000),
        "source": {"type": "user", "userId": user_id},
        "webhookEventId": event_id or webhook_event_id(),
        "deliveryContext": {"isRedelivery": redelivery},
    }
    if event_type in ("follow", "message", "postback"):
        event["replyToken"] = f"reply-{event['webhookEventId']}"
    if event_type == "follow":
        event["follow"] = {"isUnblocked": False}
    event.update(extra)
    return event


def webhook_body(*events: dict[str, Any], destination: str = "U" + "0" * 32) -> bytes:
    return json.dumps({"destination": destination, "events": list(events)}).encode()
