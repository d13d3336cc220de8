"""The message on the send queue: one delivery to one or more friends."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_MESSAGES_PER_REQUEST = 5  # LINE's limit for push, multicast and reply
MAX_MULTICAST_RECIPIENTS = 500  # LINE's limit for one multicast request

DeliveryCause = Literal["welcome", "broadcast", "step", "trigger", "auto_response", "manual"]
MessageClass = Literal["marketing", "transactional"]


class SendRequest(BaseModel):
    """What a producer puts on the send queue; the sender turns it into LINE calls.

    ``delivery_id`` is stable for the delivery, whoever (re)sends it: the sender derives
    LINE's X-Line-Retry-Key from it, so every retry is deduplicated by LINE.
    """

    model_config = ConfigDict(frozen=True)

    delivery_id: str = Field(min_length=1, max_length=200)
    channel_id: str = Field(min_length=1, max_length=64)
    to: list[str] = Field(min_length=1, max_length=MAX_MULTICAST_RECIPIENTS)
    messages: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_MESSAGES_PER_REQUEST)
    cause: DeliveryCause
    message_class: MessageClass = "marketing"

    @field_validator("messages")
    @classmethod
    def _messages_have_a_type(cls, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for index, message in enumerate(messages):
            if not isinstance(message.get("type"), str):
                raise ValueError(f"messages[{index}] has no type")
        return messages
