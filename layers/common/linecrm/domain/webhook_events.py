"""What linecrm does with each LINE webhook event (pure: ports are injected)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from linecrm.domain.friends import FollowOutcome
from linecrm.models.send import SendRequest
from linecrm.models.webhook import WebhookEvent


class FriendStore(Protocol):
    def record_follow(self, channel_id: str, user_id: str, at: datetime) -> FollowOutcome: ...
    def record_unfollow(self, channel_id: str, user_id: str, at: datetime) -> None: ...
    def record_interaction(self, channel_id: str, user_id: str, at: datetime) -> None: ...


class WelcomeMessageSource(Protocol):
    def welcome_messages(self, channel_id: str) -> list[dict[str, Any]]: ...


class Outbox(Protocol):
    def enqueue(self, request: SendRequest) -> bool: ...


INTERACTION_EVENTS = frozenset({"message", "postback", "beacon", "videoPlayComplete"})


@dataclass(frozen=True)
class EventResult:
    event_type: str
    action: str
    detail: str = ""


def welcome_delivery_id(channel_id: str, webhook_event_id: str) -> str:
    """Stable per follow event, so a redelivered follow cannot queue a second welcome."""
    return f"welcome:{channel_id}:{webhook_event_id}"


class WebhookEventProcessor:
    def __init__(self, friends: FriendStore, welcome: WelcomeMessageSource, outbox: Outbox) -> None:
        self._friends = friends
        self._welcome = welcome
        self._outbox = outbox

    def apply(self, channel_id: str, event: WebhookEvent) -> EventResult:
        user_id = event.user_id
        if user_id is None:
            return EventResult(event.type, "ignored", "no user in the event source")
        if event.type == "follow":
            return self._follow(channel_id, user_id, event)
        if event.type == "unfollow":
            self._friends.record_unfollow(channel_id, user_id, event.occurred_at)
            return EventResult(event.type, "friend_blocked")
        if event.type in INTERACTION_EVENTS:
            self._friends.record_interaction(channel_id, user_id, event.occurred_at)
            return EventResult(event.type, "interaction_recorded")
        return EventResult(event.type, "ignored", "no handling for this event type")

    def _follow(self, channel_id: str, user_id: str, event: WebhookEvent) -> EventResult:
        outcome = self._friends.record_follow(channel_id, user_id, event.occurred_at)
        if event.mode == "standby":
            # Another channel module is active: record, never speak.
            return EventResult(event.type, outcome.value, "standby: no welcome")
        messages = self._welcome.welcome_messages(channel_id)
        if not messages:
            return EventResult(event.type, outcome.value, "no welcome message configured")
        queued = self._outbox.enqueue(
            SendRequest(
                delivery_id=welcome_delivery_id(channel_id, event.webhook_event_id),
                channel_id=channel_id,
                to=[user_id],
                messages=messages,
                cause="welcome",
                message_class="transactional",
            )
        )
        return EventResult(event.type, outcome.value, "welcome queued" if queued else "welcome")
