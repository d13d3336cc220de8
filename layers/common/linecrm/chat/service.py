"""The 1:1 chat's admin operations: inbox, a conversation, mark read, staff replies,
saved replies and the retention setting (docs/chat.md)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from linecrm.domain.conversations import (
    CHAT_SETTING,
    ChatEntry,
    ChatSettings,
    ChatTemplate,
    InboxFilter,
    staff_delivery_id,
)
from linecrm.domain.deliveries import Delivery
from linecrm.domain.friends import Friend
from linecrm.domain.idempotency import IdempotencyKeyInProgress, IdempotencyKeyReused
from linecrm.domain.personalization import render
from linecrm.models.send import SendRequest
from linecrm.repositories.conversations import (
    ConversationBusy,
    ConversationRepository,
    ConversationSummary,
    StoredEntry,
)
from linecrm.repositories.deliveries import DeliveryLedger
from linecrm.repositories.friends import FriendNotFound


class ChatRejected(ValueError):
    """A chat request that cannot be carried out; ``status`` is its HTTP status."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.field = field


class TemplateNotFound(LookupError):
    def __init__(self, template_id: str) -> None:
        super().__init__(f"no saved reply {template_id!r}")


class FriendsPort(Protocol):
    def get(self, channel_id: str, user_id: str) -> Friend | None: ...
    def get_many(self, channel_id: str, user_ids: list[str]) -> dict[str, Friend]: ...


class SettingsPort(Protocol):
    def set_setting(self, channel_id: str, name: str, value: Any) -> None: ...
    def load_settings(self, channel_id: str) -> dict[str, Any]: ...


class QueuePort(Protocol):
    def put_on_queue(self, request: SendRequest) -> None: ...


@dataclass(frozen=True)
class InboxItem:
    summary: ConversationSummary
    friend: Friend | None


@dataclass(frozen=True)
class ReplyAccepted:
    delivery_id: str
    status: str
    replayed: bool


class ChatService:
    def __init__(
        self,
        conversations: ConversationRepository,
        friends: FriendsPort,
        ledger: DeliveryLedger,
        settings: SettingsPort,
        queue: Callable[[], QueuePort],
        clock: Callable[[], datetime],
    ) -> None:
        self._conversations = conversations
        self._friends = friends
        self._ledger = ledger
        self._settings = settings
        self._queue = queue
        self._clock = clock

    # ------------------------------------------------------------------ reads
    def inbox(
        self, channel_id: str, *, only: InboxFilter, limit: int, cursor: str | None
    ) -> tuple[list[InboxItem], str | None]:
        """A page of conversations, newest first, with each friend's profile (one
        BatchGetItem per page)."""
        summaries, next_cursor = self._conversations.inbox(
            channel_id, only=only, limit=limit, cursor=cursor
        )
        friends = self._friends.get_many(channel_id, [s.user_id for s in summaries])
        return [InboxItem(s, friends.get(s.user_id)) for s in summaries], next_cursor

    def messages(
        self, channel_id: str, user_id: str, *, limit: int, before: str | None
    ) -> tuple[list[tuple[ChatEntry, Delivery | None]], str | None]:
        """A page of the friend's log, newest first; each outgoing entry with its ledger
        row (its status now: queued, sent, skipped, dead)."""
        self._friend(channel_id, user_id)
        stored, cursor = self._conversations.entries(
            channel_id, user_id, limit=limit, before=before
        )
        ids = [s.entry.delivery_id for s in stored if s.entry.delivery_id]
        deliveries = self._ledger.get_many(ids) if ids else {}
        return [_with_delivery(s, deliveries) for s in stored], cursor

    def mark_read(self, channel_id: str, user_id: str) -> None:
        self._friend(channel_id, user_id)
        self._conversations.mark_read(channel_id, user_id, self._clock())

    def summary(self, channel_id: str, user_id: str) -> ConversationSummary | None:
        return self._conversations.summary(channel_id, user_id)

    # ------------------------------------------------------------------ replies
    def reply(
        self,
        channel_id: str,
        user_id: str,
        *,
        text: str | None,
        template_id: str | None,
        idempotency_key: str | None,
        staff: str,
    ) -> ReplyAccepted:
        """A staff reply: the ledger row and the log entry in one transaction, then the
        send queue. The delivery id comes from the Idempotency-Key, so the same key
        again finds that row and sends nothing more (LINE's retry key covers a copy
        already queued); the same key with another text is a 422."""
        friend = self._friend(channel_id, user_id)
        if friend.status != "active":
            raise ChatRejected(
                409, f"friend {user_id} is {friend.status}: LINE would not deliver a message"
            )
        messages = render(
            [{"type": "text", "text": self._reply_text(channel_id, text, template_id)}], friend
        )
        key = idempotency_key or uuid.uuid4().hex
        key_hash = hashlib.sha256(f"{channel_id}\n{key}".encode()).hexdigest()[:24]
        request = SendRequest(
            delivery_id=staff_delivery_id(channel_id, user_id, key_hash),
            channel_id=channel_id,
            to=[user_id],
            messages=messages,
            cause="manual",
            message_class="transactional",
        )
        at = self._clock()
        entry = ChatEntry(
            entry_id=request.delivery_id,
            direction="out",
            kind="text",
            text=str(messages[0]["text"]),
            at=at,
            source="staff",
            staff=staff,
            delivery_id=request.delivery_id,
        )
        settings = self.chat_settings(channel_id)
        try:
            written = self._conversations.transact(
                [
                    {"Put": self._ledger.queued_put(request, at)},
                    *self._conversations.outgoing_writes(
                        channel_id, user_id, entry, settings, touch_summary=True
                    ),
                ]
            )
        except ConversationBusy as error:
            # A concurrent request with the same key (or a send to this friend): 409
            # with Retry-After; the retry with the same key finds the first reply.
            raise IdempotencyKeyInProgress(str(error)) from error
        if written:
            self._queue().put_on_queue(request)
            return ReplyAccepted(request.delivery_id, "queued", replayed=False)
        existing = self._ledger.get(request.delivery_id)
        if existing is None:  # not reached: the transaction failed on this row
            raise ChatRejected(409, "the reply with this Idempotency-Key is unknown; retry")
        if existing.messages != messages or existing.recipients != [user_id]:
            raise IdempotencyKeyReused(
                "Idempotency-Key was used for another reply; send a new key for a new message"
            )
        if not existing.status.is_terminal:
            # The first request may have stopped before the queue: queue it (again).
            self._queue().put_on_queue(request)
        return ReplyAccepted(request.delivery_id, existing.status.value, replayed=True)

    def _reply_text(self, channel_id: str, text: str | None, template_id: str | None) -> str:
        if (text is None) == (template_id is None):
            raise ChatRejected(422, "give exactly one of text, templateId", "text")
        if template_id is not None:
            template = self._conversations.template(channel_id, template_id)
            if template is None:
                raise ChatRejected(422, f"no saved reply {template_id!r}", "templateId")
            return template.text
        assert text is not None
        return text

    # ------------------------------------------------------------------ templates
    def templates(self, channel_id: str) -> list[ChatTemplate]:
        return self._conversations.templates(channel_id)

    def create_template(self, channel_id: str, name: str, text: str) -> ChatTemplate:
        template = ChatTemplate(id=uuid.uuid4().hex[:12], name=name, text=text)
        self._conversations.put_template(channel_id, template)
        return template

    def replace_template(
        self, channel_id: str, template_id: str, name: str, text: str
    ) -> ChatTemplate:
        if self._conversations.template(channel_id, template_id) is None:
            raise TemplateNotFound(template_id)
        template = ChatTemplate(id=template_id, name=name, text=text)
        self._conversations.put_template(channel_id, template)
        return template

    def delete_template(self, channel_id: str, template_id: str) -> None:
        if not self._conversations.delete_template(channel_id, template_id):
            raise TemplateNotFound(template_id)

    # ------------------------------------------------------------------ settings
    def chat_settings(self, channel_id: str) -> ChatSettings:
        import json

        raw = self._settings.load_settings(channel_id).get(CHAT_SETTING)
        return ChatSettings.model_validate(json.loads(raw)) if raw else ChatSettings()

    def set_chat_settings(self, channel_id: str, settings: ChatSettings) -> ChatSettings:
        self._settings.set_setting(channel_id, CHAT_SETTING, settings.model_dump())
        return settings

    def _friend(self, channel_id: str, user_id: str) -> Friend:
        friend = self._friends.get(channel_id, user_id)
        if friend is None:
            raise FriendNotFound(channel_id, user_id)
        return friend


def _with_delivery(
    stored: StoredEntry, deliveries: dict[str, Delivery]
) -> tuple[ChatEntry, Delivery | None]:
    delivery_id = stored.entry.delivery_id
    return stored.entry, deliveries.get(delivery_id) if delivery_id else None
