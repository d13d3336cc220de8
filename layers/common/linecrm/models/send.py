"""The message on the send queue: one delivery to one or more friends."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    TypeAdapter,
    field_validator,
    model_validator,
)

from linecrm.domain.campaigns import CAMPAIGN_PATTERN, VARIANT_PATTERN

MAX_MESSAGES_PER_REQUEST = 5  # LINE's limit for push, multicast and reply
MAX_MULTICAST_RECIPIENTS = 500  # LINE's limit for one multicast request

DeliveryCause = Literal["welcome", "broadcast", "step", "trigger", "auto_response", "manual"]
# LINE keeps a reply token usable for about a minute; past this we push instead.
REPLY_TOKEN_MARGIN_SECONDS = 50
MessageClass = Literal["marketing", "transactional"]


class SendRequest(BaseModel):
    """What a producer puts on the send queue; the sender turns it into LINE calls.

    ``delivery_id`` is stable for the delivery, whoever (re)sends it: the sender derives
    LINE's X-Line-Retry-Key from it, so every retry is deduplicated by LINE.
    """

    # defer_build: validators built on first use, not at import (cold starts).
    model_config = ConfigDict(frozen=True, defer_build=True)

    kind: Literal["send"] = "send"
    delivery_id: str = Field(min_length=1, max_length=200)
    channel_id: str = Field(min_length=1, max_length=64)
    # Empty only with ``to_all_friends``: LINE's broadcast endpoint (every friend).
    to: list[str] = Field(max_length=MAX_MULTICAST_RECIPIENTS)
    messages: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_MESSAGES_PER_REQUEST)
    cause: DeliveryCause
    message_class: MessageClass = "marketing"
    # A webhook's reply token: the sender replies (free of quota) while it is fresh and
    # falls back to a push with the retry key when it has expired or the reply failed.
    reply_token: str | None = Field(default=None, max_length=256)
    reply_by: datetime | None = None
    to_all_friends: bool = False
    # What the delivery is part of, for the reports (linecrm.domain.campaigns), and
    # the A/B variant its recipients were assigned to. Left out when not set.
    campaign: str | None = Field(
        default=None, max_length=200, pattern=CAMPAIGN_PATTERN, exclude_if=lambda v: v is None
    )
    variant: str | None = Field(
        default=None, pattern=VARIANT_PATTERN, exclude_if=lambda v: v is None
    )

    @model_validator(mode="after")
    def _recipients(self) -> SendRequest:
        if self.to_all_friends and self.to:
            raise ValueError("to_all_friends goes to every friend: leave `to` empty")
        if not self.to_all_friends and not self.to:
            raise ValueError("`to` needs at least one recipient")
        return self

    @field_validator("messages")
    @classmethod
    def _messages_have_a_type(cls, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for index, message in enumerate(messages):
            if not isinstance(message.get("type"), str):
                raise ValueError(f"messages[{index}] has no type")
        return messages


class ProfileRefresh(BaseModel):
    """Fetch a friend's LINE profile (name, picture, language) and store it."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    kind: Literal["refresh_profile"] = "refresh_profile"
    channel_id: str = Field(min_length=1, max_length=64)
    user_id: str = Field(min_length=1, max_length=100)


class RichMenuLink(BaseModel):
    """Link a rich menu (id or alias) to one friend; with ``unlink``, remove the
    friend's own menu instead (they see the channel's default)."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    kind: Literal["link_rich_menu"] = "link_rich_menu"
    channel_id: str = Field(min_length=1, max_length=64)
    user_id: str = Field(min_length=1, max_length=100)
    rich_menu: str = Field(min_length=1, max_length=100)
    # Left out of the message when False: the task reads as before for a link.
    unlink: bool = Field(default=False, exclude_if=lambda unlink: not unlink)
    # Queued by the assignment rules (linecrm.richmenus.follower), which record the
    # friend's menu first: the sender skips the call if the record changed meanwhile
    # (a later rule switch, a relink), so a late task never undoes a newer menu.
    assigned: bool = Field(default=False, exclude_if=lambda assigned: not assigned)


class AccountLinkInvite(BaseModel):
    """Start ID linking for one friend: issue a LINE link token for them, then send a
    button to the shop's login page with it (a reply while the token is fresh, else a
    push with the retry key of ``delivery_id``). docs/id-linking.md."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    kind: Literal["account_link_invite"] = "account_link_invite"
    delivery_id: str = Field(min_length=1, max_length=200)
    channel_id: str = Field(min_length=1, max_length=64)
    user_id: str = Field(min_length=1, max_length=100)
    shop_login_url: str = Field(min_length=1, max_length=1000)
    text: str = Field(min_length=1, max_length=160)  # LINE's buttons template text
    button_label: str = Field(min_length=1, max_length=20)  # LINE's action label
    reply_token: str | None = Field(default=None, max_length=256)
    reply_by: datetime | None = None


LineTask = ProfileRefresh | RichMenuLink | AccountLinkInvite
"""The send queue's tasks that are LINE calls but no plain delivery."""


def _task_kind(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("kind", "send"))
    return str(getattr(value, "kind", "send"))


SendQueueTask = Annotated[
    Annotated[SendRequest, Tag("send")]
    | Annotated[ProfileRefresh, Tag("refresh_profile")]
    | Annotated[RichMenuLink, Tag("link_rich_menu")]
    | Annotated[AccountLinkInvite, Tag("account_link_invite")],
    Discriminator(_task_kind),
]
"""Everything the send queue carries: the sender is linecrm's one caller of LINE."""

_TASK_ADAPTER: TypeAdapter[SendQueueTask] = TypeAdapter(
    SendQueueTask,
    config=ConfigDict(defer_build=True),  # built on first use
)


def parse_send_queue_task(body: str | bytes) -> SendQueueTask:
    """One queue message body; raises ValueError (pydantic) when it is none of them."""
    return _TASK_ADAPTER.validate_json(body)
