"""1:1 chat (個別チャット): the conversation log's entries and the inbox rules (pure).

Every message a friend sends (text, sticker, image, …, and postbacks) and every message
sent to that one friend (auto replies, staff replies, pushes of scenarios) is a
``ChatEntry`` in the friend's log. The inbox keeps one ``ConversationSummary`` per friend:
the last message, the unread count and whether the friend is waiting for staff
("needs reply": docs/chat.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Direction = Literal["in", "out"]
EntrySource = Literal[
    "friend", "auto_reply", "welcome", "staff", "broadcast", "scenario", "trigger", "push"
]
InboxFilter = Literal["all", "needs_reply", "unread"]

CHAT_SETTING = "chat"  # the channel setting (ChannelConfig.settings) of ChatSettings
DEFAULT_RETENTION_DAYS = 180
MAX_RETENTION_DAYS = 3650
MAX_LOGGED_TEXT = 2000  # a log entry keeps this much of a message's text
MAX_TEMPLATE_TEXT = 5000  # LINE's limit for a text message
_ENTRY_ID = re.compile(r"[0-9A-Za-z_-]{1,64}")


class ChatSettings(BaseModel):
    """A channel's chat settings: how long its conversation log is kept."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    retention_days: int = Field(
        default=DEFAULT_RETENTION_DAYS,
        ge=1,
        le=MAX_RETENTION_DAYS,
        description="days a log entry is kept (DynamoDB TTL); a later change applies "
        "to entries written after it",
    )

    def expires_at(self, at: datetime) -> int:
        """The TTL (epoch seconds) of an entry written for ``at``."""
        return int((at + timedelta(days=self.retention_days)).timestamp())


@dataclass(frozen=True)
class ChatEntry:
    """One message in a friend's conversation log."""

    entry_id: str  # the LINE message id / webhook event id (in) or the delivery id (out)
    direction: Direction
    kind: str  # text, sticker, image, video, audio, file, location, postback, flex, …
    text: str
    at: datetime
    source: EntrySource
    staff: str | None = None
    delivery_id: str | None = None


def incoming_entry(event_type: str, raw: dict[str, Any], event_id: str, at: datetime) -> ChatEntry:
    """The log entry of a friend's message or postback event (LINE's webhook body)."""
    if event_type == "postback":
        postback = raw.get("postback") if isinstance(raw.get("postback"), dict) else {}
        data = str((postback or {}).get("data", ""))
        return ChatEntry(event_id, "in", "postback", _clip(data), at, "friend")
    message = raw.get("message") if isinstance(raw.get("message"), dict) else {}
    message = message or {}
    kind = str(message.get("type") or "unknown")[:32]
    message_id = message.get("id")
    if not isinstance(message_id, str) or not _ENTRY_ID.fullmatch(message_id):
        message_id = event_id  # the sort key stays short whatever the body says
    return ChatEntry(message_id, "in", kind, _clip(_message_text(kind, message)), at, "friend")


def outgoing_text(messages: list[dict[str, Any]]) -> tuple[str, str]:
    """The kind and text shown in the log for messages sent in one delivery."""
    if not messages:
        return "text", ""
    first = messages[0]
    kind = str(first.get("type") or "unknown")
    texts = [_message_text(str(m.get("type") or ""), m) for m in messages]
    return kind, _clip("\n".join(text for text in texts if text))


def source_of_cause(cause: str) -> EntrySource:
    """What a delivery's cause is called in the log."""
    return {
        "auto_response": "auto_reply",
        "welcome": "welcome",
        "broadcast": "broadcast",
        "step": "scenario",
        "trigger": "trigger",
    }.get(cause, "push")  # type: ignore[return-value]  # staff replies: logged when queued


def _message_text(kind: str, message: dict[str, Any]) -> str:
    if kind == "text":
        return str(message.get("text", ""))
    if kind == "sticker":
        return f"[sticker {message.get('packageId', '?')}/{message.get('stickerId', '?')}]"
    if kind == "location":
        return str(message.get("title") or message.get("address") or "[location]")
    if kind == "file":
        return f"[file {message.get('fileName', '')}]".replace(" ]", "]")
    if kind in ("flex", "template"):
        return str(message.get("altText") or f"[{kind}]")
    return f"[{kind}]"


def _clip(text: str) -> str:
    return text if len(text) <= MAX_LOGGED_TEXT else text[: MAX_LOGGED_TEXT - 1] + "…"


@dataclass(frozen=True)
class IncomingVerdict:
    """What an incoming message does to the friend's conversation."""

    unread: bool  # counts as unread for staff
    needs_reply: bool  # the friend waits for staff

    @property
    def moves_conversation(self) -> bool:
        """Whether it becomes the conversation's last message (a plain button tap is
        only logged: rich menu taps do not lift a friend to the top of the inbox)."""
        return self.unread or self.needs_reply


def verdict_for(
    event_type: str, *, rule_matched: bool, default_rule: bool, for_staff: bool, standby: bool
) -> IncomingVerdict:
    """Needs reply: a message that no rule answered, or that only the default rule
    answered ("sorry, we did not understand"), or that a rule marked ``notify_staff``
    answered. A postback (a button press) is logged but is neither unread nor waiting,
    unless its rule asks for staff. In standby another module answers: never waiting."""
    if standby:
        return IncomingVerdict(unread=event_type == "message", needs_reply=False)
    if event_type == "postback":
        return IncomingVerdict(unread=for_staff, needs_reply=for_staff)
    waiting = not rule_matched or default_rule or for_staff
    return IncomingVerdict(unread=True, needs_reply=waiting)


class ChatTemplate(BaseModel):
    """A saved reply (定型文). ``{display_name|お客様}``, ``{field.<key>}`` (the
    placeholders of ``linecrm.domain.personalization``) are filled in for the friend
    when it is sent."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[0-9A-Za-z_-]{1,64}$")
    name: str = Field(min_length=1, max_length=100)
    text: str = Field(min_length=1, max_length=MAX_TEMPLATE_TEXT)


def staff_delivery_id(channel_id: str, user_id: str, key_hash: str) -> str:
    """The delivery id of a staff reply: stable per Idempotency-Key, so a retried
    request finds the same ledger row and LINE's retry key stops a second push."""
    return f"chat:{channel_id}:{user_id}:{key_hash}"


def is_staff_delivery(delivery_id: str) -> bool:
    return delivery_id.startswith("chat:")
