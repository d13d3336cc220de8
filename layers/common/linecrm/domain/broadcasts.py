"""A broadcast: messages to all friends or a segment, now or at a time, sent once.

Lifecycle: ``scheduled`` (waiting for its time) → ``sending`` (the planner walks the
friends and queues chunks of ≤ 500 recipients) → ``sent``; ``cancelled`` any time
before it is sent (queued chunks not yet sent are skipped); ``failed`` with a reason
(e.g. not enough monthly quota). Chunk deliveries have stable ids
``bc:<broadcast id>:<n>``, so a planner step that runs twice queues nothing twice.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from linecrm.domain.experiments import Experiment
from linecrm.models.send import MAX_MESSAGES_PER_REQUEST, MAX_MULTICAST_RECIPIENTS, MessageClass

BroadcastStatus = Literal["scheduled", "sending", "sent", "cancelled", "failed"]
FINISHED_STATUSES = frozenset({"sent", "cancelled", "failed"})
# LINE API per case (see docs/broadcasts.md): multicast for the ids we chose (segments,
# caps, personalisation); LINE's broadcast endpoint when every friend gets the same
# message and nothing is left out.
SendMethod = Literal["multicast", "broadcast"]


def new_broadcast_id(now: datetime) -> str:
    """Sortable by creation time, unique."""
    return f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


def chunk_delivery_id(broadcast_id: str, chunk: int) -> str:
    return f"bc:{broadcast_id}:{chunk}"


class BroadcastCounters(BaseModel):
    model_config = ConfigDict(frozen=True)

    friends_seen: int = 0
    recipients: int = 0  # queued to LINE
    chunks: int = 0
    not_in_segment: int = 0
    blocked: int = 0
    capped: int = 0  # skipped by a frequency cap
    deferred: int = 0  # moved to a later time by a frequency cap
    # Skipped: their personalised rendering breaks a LINE limit (a skipped chunk each,
    # with the reason). friends_seen = recipients + these six + held_out.
    over_limit: int = 0
    # An A/B test: friends drawn into the holdout (sent nothing), and the recipients
    # queued per variant.
    held_out: int = 0
    variant_recipients: dict[str, int] = Field(default_factory=dict)

    def plus(self, **changes: int) -> BroadcastCounters:
        values = self.model_dump()
        for name, change in changes.items():
            values[name] += change
        return BroadcastCounters(**values)

    def plus_variant(self, variant: str, recipients: int) -> BroadcastCounters:
        by_variant = dict(self.variant_recipients)
        by_variant[variant] = by_variant.get(variant, 0) + recipients
        return self.model_copy(update={"variant_recipients": by_variant})


class BroadcastCursor(BaseModel):
    """Where the planner continues: after this user id, at this chunk number."""

    model_config = ConfigDict(frozen=True)

    after_user_id: str | None = None
    next_chunk: int = 0
    # Chunks [0, enqueued_chunks) are surely on the send queue; the rest are in the
    # ledger and are (re)queued from there when a step resumes after a crash.
    enqueued_chunks: int = 0
    # An A/B test is planned one variant at a time (a walk of the friends each), so a
    # variant's identical content still fills whole multicasts of 500: pass k sends
    # variant k; pass 0 also counts the friends left out and records the holdout.
    variant_pass: int = 0


class Broadcast(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    broadcast_id: str
    channel_id: str
    name: str = Field(min_length=1, max_length=100)
    segment: dict[str, Any] | None = None  # None: every friend
    messages: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_MESSAGES_PER_REQUEST)
    message_class: MessageClass = "marketing"
    # A/B variants and a holdout (linecrm.domain.experiments); None: one message for all.
    experiment: Experiment | None = None
    send_at: datetime | None = None
    status: BroadcastStatus = "scheduled"
    method: SendMethod = "multicast"
    cursor: BroadcastCursor = BroadcastCursor()
    counters: BroadcastCounters = BroadcastCounters()
    reason: str | None = None  # why it failed, was deferred or cancelled
    version: int = 0
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None = None
    finished_at: datetime | None = None

    @field_validator("messages")
    @classmethod
    def _messages_have_a_type(cls, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for index, message in enumerate(messages):
            if not isinstance(message.get("type"), str):
                raise ValueError(f"messages[{index}] has no type")
        return messages

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED_STATUSES

    def messages_of(self, variant: str | None) -> list[dict[str, Any]] | None:
        """What a friend of ``variant`` gets (None for the holdout)."""
        if self.experiment is None or variant is None:
            return self.messages
        return self.experiment.messages_of(variant, self.messages)

    @property
    def all_messages(self) -> list[list[dict[str, Any]]]:
        if self.experiment is None:
            return [self.messages]
        return self.experiment.all_messages(self.messages)


class BroadcastStep(BaseModel):
    """The job queue's message: run the next planning step of this broadcast."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["broadcast_step"] = "broadcast_step"
    channel_id: str = Field(min_length=1, max_length=64)
    broadcast_id: str = Field(min_length=1, max_length=100)


class PreviewStep(BaseModel):
    """The job queue's message: count the next friends of this broadcast preview."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["broadcast_preview"] = "broadcast_preview"
    channel_id: str = Field(min_length=1, max_length=64)
    preview_id: str = Field(min_length=1, max_length=100)


def chunked(user_ids: list[str], size: int = MAX_MULTICAST_RECIPIENTS) -> list[list[str]]:
    return [user_ids[start : start + size] for start in range(0, len(user_ids), size)]
