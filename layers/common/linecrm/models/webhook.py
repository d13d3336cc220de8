"""The parts of LINE's webhook body that linecrm reads (see LINE's webhook.yml).

Validation is deliberately two-level: the envelope (``destination`` and a list of
``events``) must be right or the request is refused with 400; each event is then read
on its own, so one malformed or unknown event is skipped without losing the others.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_TIMESTAMP_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z


class WebhookEnvelope(BaseModel):
    # defer_build: validators built on first use, not at import (cold starts).
    model_config = ConfigDict(extra="allow", defer_build=True)

    destination: str = Field(min_length=1, max_length=100)
    events: list[Any]


class EventSource(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)

    type: Literal["user", "group", "room"]
    user_id: str | None = Field(default=None, alias="userId", min_length=1, max_length=100)
    group_id: str | None = Field(default=None, alias="groupId", min_length=1, max_length=100)
    room_id: str | None = Field(default=None, alias="roomId", min_length=1, max_length=100)


class DeliveryContext(BaseModel):
    model_config = ConfigDict(extra="allow", defer_build=True)

    is_redelivery: bool = Field(alias="isRedelivery")


class WebhookEvent(BaseModel):
    """Fields common to every LINE webhook event; type-specific parts stay in ``raw``."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, defer_build=True)

    type: str = Field(min_length=1, max_length=64)
    mode: Literal["active", "standby"] = "active"
    # Milliseconds; the bound (year 9999) keeps ``occurred_at`` representable.
    timestamp: int = Field(ge=0, le=MAX_TIMESTAMP_MS)
    webhook_event_id: str = Field(alias="webhookEventId", min_length=1, max_length=64)
    delivery_context: DeliveryContext = Field(alias="deliveryContext")
    source: EventSource | None = None
    reply_token: str | None = Field(default=None, alias="replyToken", max_length=256)

    @property
    def occurred_at(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp / 1000, tz=UTC)

    @property
    def user_id(self) -> str | None:
        return self.source.user_id if self.source else None

    @property
    def from_user_chat(self) -> bool:
        """Sent in the one-to-one chat with the account (not in a group or room)."""
        return self.source is not None and self.source.type == "user"

    @property
    def message_type(self) -> str | None:
        message = (self.model_extra or {}).get("message")
        kind = message.get("type") if isinstance(message, dict) else None
        return kind if isinstance(kind, str) else None

    @property
    def message_text(self) -> str | None:
        """The text of a text message event; None for any other event."""
        message = (self.model_extra or {}).get("message")
        if self.type != "message" or not isinstance(message, dict):
            return None
        text = message.get("text")
        return text if message.get("type") == "text" and isinstance(text, str) else None

    @property
    def postback_data(self) -> str | None:
        postback = (self.model_extra or {}).get("postback")
        if self.type != "postback" or not isinstance(postback, dict):
            return None
        data = postback.get("data")
        return data if isinstance(data, str) else None

    @property
    def account_link(self) -> tuple[str, str] | None:
        """An ``accountLink`` event's ``(result, nonce)``; None for other or bad events."""
        link = (self.model_extra or {}).get("link")
        if self.type != "accountLink" or not isinstance(link, dict):
            return None
        result, nonce = link.get("result"), link.get("nonce")
        if not isinstance(result, str) or not isinstance(nonce, str):
            return None
        return result, nonce

    @property
    def raw(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)
