"""The delivery ledger's vocabulary: every message to send ends in a terminal state."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from linecrm.models.send import SendRequest

# Fixed namespace so a delivery id maps to the same X-Line-Retry-Key in every process.
_RETRY_KEY_NAMESPACE = uuid.UUID("6f1c3c52-6a1e-4f0e-9d43-2b0b8f3d7a10")


class DeliveryStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    SKIPPED = "skipped"
    DEAD = "dead"

    @property
    def is_terminal(self) -> bool:
        return self in (DeliveryStatus.SENT, DeliveryStatus.SKIPPED, DeliveryStatus.DEAD)


class Delivery(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    delivery_id: str
    channel_id: str
    recipients: list[str]
    to_all_friends: bool = False
    messages: list[dict[str, Any]]
    cause: str
    message_class: str
    campaign: str | None = None
    variant: str | None = None
    status: DeliveryStatus
    attempts: int = 0
    queued_at: datetime
    sent_at: datetime | None = None
    line_request_id: str | None = None
    sent_via: str | None = None  # reply | push | multicast
    reason: str | None = None
    deferred_until: datetime | None = None
    deferred_reason: str | None = None
    reply_attempted_at: datetime | None = None
    finished_at: datetime | None = None
    redriven_at: datetime | None = None
    redrives: int = 0
    # About when LINE first saw this delivery's retry key (LINE dedupes it for 24 h).
    first_attempt_at: datetime | None = None
    # Set when a re-drive past that window was forced: LINE may deliver a second copy.
    redrive_forced_at: datetime | None = None
    previous_reason: str | None = None  # why it was dead before its last re-drive
    last_error: str | None = None
    reply_error: str | None = None


def retry_key_for(delivery_id: str) -> str:
    """LINE's X-Line-Retry-Key for a delivery: the same UUID for every retry of it."""
    return str(uuid.uuid5(_RETRY_KEY_NAMESPACE, delivery_id))


def request_of(delivery: Delivery) -> SendRequest:
    """The send-queue message that (re)sends a recorded delivery, same id and content."""
    return SendRequest(
        delivery_id=delivery.delivery_id,
        channel_id=delivery.channel_id,
        to=delivery.recipients,
        to_all_friends=delivery.to_all_friends,
        messages=delivery.messages,
        cause=delivery.cause,
        message_class=delivery.message_class,
        campaign=delivery.campaign,
        variant=delivery.variant,
    )
