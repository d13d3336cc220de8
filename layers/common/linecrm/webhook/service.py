"""Receiving one webhook request: authenticate, parse, apply each event once, in order."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from linecrm.channels import ChannelDirectory, UnknownChannel
from linecrm.domain.webhook_events import EventResult
from linecrm.models.webhook import WebhookEnvelope, WebhookEvent
from linecrm.observability import logger
from linecrm.webhook.signature import is_valid_signature


class WebhookRejected(Exception):
    """The request is refused as a whole; LINE gets this status and reason."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass
class WebhookSummary:
    applied: int = 0
    duplicates: int = 0
    skipped: int = 0


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
            if event is None:
                summary.skipped += 1
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
            raise WebhookRejected(401, "invalid signature") from error
        if not is_valid_signature(credentials.channel_secret, body, signature):
            raise WebhookRejected(401, "invalid signature")


def _parse_envelope(body: bytes) -> WebhookEnvelope:
    try:
        document = json.loads(body)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        # RecursionError: JSON nested deeper than the parser's stack allows.
        raise WebhookRejected(400, "body is not valid JSON") from error
    if not isinstance(document, dict):
        raise WebhookRejected(400, "body must be a JSON object")
    try:
        return WebhookEnvelope.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise WebhookRejected(400, f"invalid webhook body: {where}: {first['msg']}") from error


def _parse_event(raw_event: Any, index: int) -> WebhookEvent | None:
    """One event, or None (logged) when it is malformed: the rest still apply."""
    if not isinstance(raw_event, dict):
        logger.warning("skipping webhook event that is not an object", extra={"index": index})
        return None
    try:
        return WebhookEvent.model_validate(raw_event)
    except ValidationError as error:
        logger.warning(
            "skipping malformed webhook event",
            extra={"index": index, "type": raw_event.get("type"), "errors": error.errors()[:3]},
        )
        return None
