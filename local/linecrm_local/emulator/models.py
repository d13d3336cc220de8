"""Records the emulator keeps and hands back to tests and the control API."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class SimulatedFriend:
    channel_id: str
    user_id: str
    display_name: str
    language: str = "ja"
    picture_url: str | None = None
    status_message: str | None = None
    following: bool = True  # False once the friend blocks (unfollows) the account
    linked_rich_menu_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "channelId": self.channel_id,
            "userId": self.user_id,
            "displayName": self.display_name,
            "language": self.language,
            "pictureUrl": self.picture_url,
            "statusMessage": self.status_message,
            "following": self.following,
            "richMenuId": self.linked_rich_menu_id,
        }

    def profile(self) -> dict[str, Any]:
        """The body of GET /v2/bot/profile/{userId}."""
        body: dict[str, Any] = {
            "displayName": self.display_name,
            "userId": self.user_id,
            "language": self.language,
        }
        if self.picture_url:
            body["pictureUrl"] = self.picture_url
        if self.status_message:
            body["statusMessage"] = self.status_message
        return body


@dataclass
class ReceivedMessage:
    user_id: str
    channel_id: str
    message: dict[str, Any]
    endpoint: str  # "reply", "push", "multicast", "broadcast" or "narrowcast"
    request_id: str
    retry_key: str | None
    time: float

    def to_json(self) -> dict[str, Any]:
        return {
            "userId": self.user_id,
            "channelId": self.channel_id,
            "message": self.message,
            "endpoint": self.endpoint,
            "requestId": self.request_id,
            "retryKey": self.retry_key,
            "time": self.time,
        }


@dataclass
class ApiCall:
    endpoint: str
    method: str
    path: str
    status: int
    time: float
    retry_key: str | None = None
    channel_id: str | None = None
    request_id: str | None = None
    body: Any = None

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            "time": self.time,
            "retryKey": self.retry_key,
            "channelId": self.channel_id,
            "requestId": self.request_id,
        }


@dataclass
class WebhookAttempt:
    status: int | None  # None: connection error or timeout
    body: str
    is_redelivery: bool
    error: str | None = None


@dataclass
class WebhookDelivery:
    channel_id: str
    user_id: str
    webhook_event_id: str
    event: dict[str, Any]
    attempts: list[WebhookAttempt] = field(default_factory=list)

    @property
    def status(self) -> int | None:
        """HTTP status of the last attempt (None if it never got an answer)."""
        return self.attempts[-1].status if self.attempts else None

    @property
    def body(self) -> str:
        return self.attempts[-1].body if self.attempts else ""

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def reply_token(self) -> str | None:
        token = self.event.get("replyToken")
        return token if isinstance(token, str) else None

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "userId": self.user_id,
            "webhookEventId": self.webhook_event_id,
            "attempts": len(self.attempts),
            "replyToken": self.reply_token,
            "event": self.event,
            "attemptResults": [asdict(attempt) for attempt in self.attempts],
        }
