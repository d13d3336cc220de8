"""Receiving one webhook request: authenticate, parse, apply each event once, in order."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import ValidationError

from linecrm.channels import ChannelDirectory, UnknownChannel
from linecrm.domain.webhook_events import EventResult
from linecrm.http_bodies import UnreadableBody, loads_json
from linecrm.models.webhook import WebhookEnvelope, WebhookEvent
from linecrm.observability import logger
from linecrm.webhook.signature import is_valid_signature


class WebhookRejected(Exception):
    """The request is refused as a whole; LINE gets this status and reason (and the
    field at fault, as every HTTP route of ours answers errors)."""

    def __init__(self, status: int, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.field = field


class SkipReason(StrEnum):
    """Why an event of an accepted request was not applied (logged and counted)."""

    NOT_AN_OBJECT = "not_an_object"
    MALFORMED = "malformed"
    # Not LINE's "U" + 32 hex: such an id would make a friend no admin route can address.
    INVALID_USER_ID = "invalid_user_id"
    # Unpaired surrogates (valid JSON escapes, never UTF-8 text): nothing can store them.
    INVALID_TEXT = "invalid_text"


LINE_USER_ID = re.compile(r"U[0-9a-f]{32}")


@dataclass
class WebhookSummary:
    applied: int = 0
    duplicates: int = 0
    skipped_by_reason: Counter[SkipReason] = field(default_factory=Counter)

    @property
    def skipped(self) -> int:
        return sum(self.skipped_by_reason.values())


# apply_once(channel_id, event) -> EventResult | None (None: applied before, a duplicate)
ApplyOnce = Callable[[str, WebhookEvent], "EventResult | None"]


class WebhookReceiver:
    def __init__(
        self,
        channels: ChannelDirectory,
        apply_once: ApplyOnce,
        on_verified: Callable[[str], None] | None = None,
    ) -> None:
        self._channels = channels
        self._apply_once = apply_once
        # Told the channel id of a correctly signed request without events (LINE's
        # Verify button): the channel registry, which the admin API consults.
        self._on_verified = on_verified

    def receive(self, channel_id: str, body: bytes, signature: str | None) -> WebhookSummary:
        self._authenticate(channel_id, body, signature)
        envelope = _parse_envelope(body)
        if not envelope.events and self._on_verified is not None:
            # A signed request without events is LINE's Verify button (or a test of
            # ours): record the channel then, so event traffic spends no extra write.
            self._on_verified(channel_id)
        summary = WebhookSummary()
        for index, raw_event in enumerate(envelope.events):
            event = _parse_event(raw_event, index)
            if isinstance(event, SkipReason):
                summary.skipped_by_reason[event] += 1
                continue
            result = self._apply_once(channel_id, event)
            if result is None:
                summary.duplicates += 1
            else:
                summary.applied += 1
        return summary

    def _authenticate(self, channel_id: str, body: bytes, signature: str | None) -> None:
        try:
            credentials = self._channels.credentials(channel_id)
        except UnknownChannel as error:
            # Same answer as a bad signature: do not reveal which channel ids exist.
            logger.warning("webhook for unknown channel", extra={"channel_id": channel_id})
            raise WebhookRejected(401, "invalid signature", "x-line-signature") from error
        if not is_valid_signature(credentials.channel_secret, body, signature):
            raise WebhookRejected(401, "invalid signature", "x-line-signature")


def _parse_envelope(body: bytes) -> WebhookEnvelope:
    try:
        document = loads_json(body)
    except UnreadableBody as error:
        raise WebhookRejected(400, f"body is not valid JSON: {error.reason}", "body") from error
    except ValueError as error:
        raise WebhookRejected(400, "body is not valid JSON", "body") from error
    if not isinstance(document, dict):
        raise WebhookRejected(400, "body must be a JSON object", "body")
    try:
        return WebhookEnvelope.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise WebhookRejected(
            400, f"invalid webhook body: {where}: {first['msg']}", where or "body"
        ) from error


def _parse_event(raw_event: Any, index: int) -> WebhookEvent | SkipReason:
    """One event, or why it is skipped (logged): the rest of the request still applies."""
    if not isinstance(raw_event, dict):
        return _skip(SkipReason.NOT_AN_OBJECT, index, raw_event)
    if _has_unpaired_surrogate(raw_event):
        return _skip(SkipReason.INVALID_TEXT, index, raw_event)
    try:
        event = WebhookEvent.model_validate(raw_event)
    except ValidationError as error:
        errors = [
            {"loc": ".".join(map(str, e["loc"])), "type": e["type"], "msg": e["msg"]}
            for e in error.errors()[:3]
        ]
        return _skip(SkipReason.MALFORMED, index, raw_event, errors=errors)
    if event.user_id is not None and not LINE_USER_ID.fullmatch(event.user_id):
        return _skip(SkipReason.INVALID_USER_ID, index, raw_event, user_id=event.user_id)
    return event


def _skip(reason: SkipReason, index: int, raw_event: Any, **details: Any) -> SkipReason:
    event = raw_event if isinstance(raw_event, dict) else {}
    logger.warning(
        "skipping webhook event",
        extra={
            "reason": reason.value,
            "index": index,
            **{
                name: loggable(value)
                for name, value in {
                    "type": event.get("type"),
                    "webhook_event_id": event.get("webhookEventId"),
                    **details,
                }.items()
            },
        },
    )
    return reason


def loggable(value: Any, limit: int = 200) -> Any:
    """``value`` safe to write to a UTF-8 log: no unpaired surrogates, bounded length."""
    if value is None or isinstance(value, bool | int | float):
        return value
    text = value if isinstance(value, str) else repr(value)
    # backslashreplace turns an unpaired surrogate into the text "\ud800".
    return text[:limit].encode("utf-8", "backslashreplace").decode("utf-8")


def _has_unpaired_surrogate(document: Any) -> bool:
    pending = [document]
    while pending:
        node = pending.pop()
        if isinstance(node, str):
            try:
                node.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(node, dict):
            pending.extend(node.keys())
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return False


def skipped_metric_name(reason: SkipReason) -> str:
    """The counter of skips for ``reason``: invalid_user_id -> WebhookEventsSkippedInvalidUserId."""
    return "WebhookEventsSkipped" + "".join(part.title() for part in reason.value.split("_"))
