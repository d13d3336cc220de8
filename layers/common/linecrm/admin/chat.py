"""1:1 chat (個別チャット): the inbox, a friend's conversation, mark read, staff replies,
saved replies and the log's retention (docs/chat.md). Take over / release are the
chat-mode routes of ``linecrm.admin.friends``."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Depends, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from pydantic import BaseModel, ConfigDict, Field

from linecrm.admin.params import (
    ChannelId,
    IdempotencyKey,
    UserId,
    created,
    new_router,
    no_content,
    responses,
)
from linecrm.admin.staff import staff_display
from linecrm.chat.service import ChatService, InboxItem
from linecrm.domain.conversations import MAX_TEMPLATE_TEXT, ChatEntry, ChatSettings, ChatTemplate
from linecrm.domain.deliveries import Delivery

router = new_router()


def chat_service() -> ChatService:
    """Replaced by ``api.build_app`` (``dependency_overrides``) with the real service."""
    raise NotImplementedError("build_app wires the chat service")


Chat = Annotated[ChatService, Depends(chat_service)]
TemplateId = Annotated[str, Path(pattern=r"^[0-9A-Za-z_-]{1,64}$", description="saved reply id")]
_CURSOR = Query(max_length=2048, description="the cursor of the previous page")


class LastMessage(BaseModel):
    direction: Literal["in", "out"]
    kind: str
    text: str
    at: str


class ConversationItem(BaseModel):
    userId: str
    displayName: str | None = None
    pictureUrl: str | None = None
    lastMessage: LastMessage
    unread: int
    needsReply: bool
    mode: Literal["auto", "manual"] = Field(
        description="manual: a staff member took the conversation (automation paused)"
    )
    staff: str | None = Field(default=None, description="who took it (manual mode)")

    @classmethod
    def of(cls, item: InboxItem) -> ConversationItem:
        summary, friend = item.summary, item.friend
        chat_mode = friend.chat_mode if friend is not None else None
        return cls(
            userId=summary.user_id,
            displayName=friend.display_name if friend is not None else None,
            pictureUrl=friend.picture_url if friend is not None else None,
            lastMessage=LastMessage(
                direction="in" if summary.last_direction == "in" else "out",
                kind=summary.last_kind,
                text=summary.last_text,
                at=summary.last_at.isoformat(),
            ),
            unread=summary.unread,
            needsReply=summary.needs_reply,
            mode="manual" if chat_mode is not None else "auto",
            staff=chat_mode.staff if chat_mode is not None else None,
        )


class ConversationList(BaseModel):
    items: list[ConversationItem]
    cursor: str | None = Field(default=None, description="the next page's cursor (older)")


class MessageItem(BaseModel):
    id: str
    direction: Literal["in", "out"]
    kind: str
    text: str
    at: str
    source: str = Field(
        description="friend, auto_reply, welcome, staff, broadcast, scenario, trigger, push"
    )
    staff: str | None = None
    deliveryId: str | None = None
    status: str | None = Field(
        default=None, description="the delivery's status (queued, sent, skipped, dead)"
    )
    reason: str | None = Field(default=None, description="why it was skipped or dead")

    @classmethod
    def of(cls, entry: ChatEntry, delivery: Delivery | None) -> MessageItem:
        return cls(
            id=entry.entry_id,
            direction=entry.direction,
            kind=entry.kind,
            text=entry.text,
            at=entry.at.isoformat(),
            source=entry.source,
            staff=entry.staff,
            deliveryId=entry.delivery_id,
            status=delivery.status.value if delivery is not None else None,
            reason=delivery.reason if delivery is not None else None,
        )


class MessageList(BaseModel):
    items: list[MessageItem]
    cursor: str | None = Field(default=None, description="older entries: pass as `before`")


class ReadResponse(BaseModel):
    userId: str
    unread: int


class ReplyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str | None = Field(default=None, min_length=1, max_length=MAX_TEMPLATE_TEXT)
    templateId: str | None = Field(default=None, pattern=r"^[0-9A-Za-z_-]{1,64}$")
    staff: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="who answers, for machine callers (the CLI); a signed-in staff "
        "member is named by their sign-in instead",
    )


class ReplyResponse(BaseModel):
    deliveryId: str
    status: str


class TemplateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    text: str = Field(min_length=1, max_length=MAX_TEMPLATE_TEXT)


class TemplateList(BaseModel):
    items: list[ChatTemplate]


@router.get(
    "/chat/conversations",
    tags=["chat"],
    responses=responses(200, "A page of conversations, latest activity first"),
)
def list_conversations(
    channel_id: ChannelId,
    service: Chat,
    filter: Annotated[  # the contract's query parameter
        Literal["all", "needs_reply", "unread"], Query(description="which conversations")
    ] = "all",
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    cursor: Annotated[str | None, _CURSOR] = None,
) -> ConversationList:
    """The inbox: one conversation per friend who wrote, newest first, with unread counts
    and "needs reply" (no rule answered, only the default rule did, or a rule marked
    notify_staff did; cleared by a staff reply)."""
    items, next_cursor = service.inbox(channel_id, only=filter, limit=limit, cursor=cursor)
    return ConversationList(items=[ConversationItem.of(i) for i in items], cursor=next_cursor)


@router.get(
    "/chat/conversations/<user_id>/messages",
    tags=["chat"],
    responses=responses(200, "A page of the conversation, newest first", 404),
)
def list_messages(
    channel_id: ChannelId,
    user_id: UserId,
    service: Chat,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    before: Annotated[str | None, _CURSOR] = None,
) -> MessageList:
    """A friend's conversation log (messages in and out), newest first; each outgoing
    message with its delivery's status from the ledger."""
    found, next_cursor = service.messages(channel_id, user_id, limit=limit, before=before)
    return MessageList(items=[MessageItem.of(e, d) for e, d in found], cursor=next_cursor)


@router.post(
    "/chat/conversations/<user_id>/read",
    tags=["chat"],
    responses=responses(200, "Marked read", 404),
)
def mark_read(channel_id: ChannelId, user_id: UserId, service: Chat) -> ReadResponse:
    """Mark the conversation read: its unread count goes back to 0."""
    service.mark_read(channel_id, user_id)
    return ReadResponse(userId=user_id, unread=0)


@router.post(
    "/chat/conversations/<user_id>/replies",
    tags=["chat"],
    responses=responses(202, "Queued (or, the same key again: the first reply's state)", 404, 409),
)
def reply(
    channel_id: ChannelId,
    user_id: UserId,
    request: ReplyRequest,
    service: Chat,
    idempotency_key: IdempotencyKey = None,
) -> Response[ReplyResponse]:
    """A staff reply to one friend: a transactional push through the delivery ledger,
    sent with LINE's retry key. Send an Idempotency-Key: the same key again sends
    nothing more. ``text``, or ``templateId`` of a saved reply; placeholders such as
    ``{display_name|お客様}`` are filled in for the friend."""
    accepted = service.reply(
        channel_id,
        user_id,
        text=request.text,
        template_id=request.templateId,
        idempotency_key=idempotency_key,
        staff=staff_display(request.staff),
    )
    return Response(
        status_code=HTTPStatus.ACCEPTED,
        content_type=content_types.APPLICATION_JSON,
        body=ReplyResponse(deliveryId=accepted.delivery_id, status=accepted.status),
    )


@router.get("/chat/templates", tags=["chat"], responses=responses(200, "The saved replies"))
def list_templates(channel_id: ChannelId, service: Chat) -> TemplateList:
    """The channel's saved replies (定型文), by name."""
    return TemplateList(items=service.templates(channel_id))


@router.post("/chat/templates", tags=["chat"], responses=responses(201, "The saved reply"))
def create_template(
    channel_id: ChannelId, request: TemplateRequest, service: Chat
) -> Response[ChatTemplate]:
    """Save a reply for reuse; its text may hold placeholders (``{display_name}``)."""
    return created(service.create_template(channel_id, request.name, request.text))


@router.put(
    "/chat/templates/<template_id>",
    tags=["chat"],
    responses=responses(200, "The saved reply, replaced", 404),
)
def replace_template(
    channel_id: ChannelId, template_id: TemplateId, request: TemplateRequest, service: Chat
) -> ChatTemplate:
    """Replace a saved reply's name and text."""
    return service.replace_template(channel_id, template_id, request.name, request.text)


@router.delete(
    "/chat/templates/<template_id>",
    tags=["chat"],
    responses=responses(204, "Deleted", 404, body=False),
)
def delete_template(
    channel_id: ChannelId, template_id: TemplateId, service: Chat
) -> Response[None]:
    """Delete a saved reply."""
    service.delete_template(channel_id, template_id)
    return no_content()


@router.get("/chat/settings", tags=["chat"], responses=responses(200, "The chat settings"))
def get_chat_settings(channel_id: ChannelId, service: Chat) -> ChatSettings:
    """The conversation log's retention (default 180 days)."""
    return service.chat_settings(channel_id)


@router.put("/chat/settings", tags=["chat"], responses=responses(200, "The settings, as stored"))
def put_chat_settings(channel_id: ChannelId, request: ChatSettings, service: Chat) -> ChatSettings:
    """Set how long log entries are kept (DynamoDB TTL, set when an entry is written)."""
    return service.set_chat_settings(channel_id, request)
