"""Apply each webhook event once, keyed by (channel, webhookEventId).

Powertools Idempotency does the bookkeeping: a conditional put marks the event in
progress, the result is stored when it completes, a replay gets the stored result
back (our ``response_hook`` flags it as a duplicate), and a record left in progress by
a crashed invocation expires with that invocation's remaining time, so LINE's
redelivery can apply it then.
"""

from __future__ import annotations

from typing import Any

from linecrm.domain.webhook_events import EventResult, WebhookEventProcessor
from linecrm.models.webhook import WebhookEvent
from linecrm.webhook.service import ApplyOnce, WebhookRejected

_DUPLICATE_FLAG = "_linecrm_duplicate"


def make_apply_once(
    processor: WebhookEventProcessor, persistence_store: Any, config: Any
) -> ApplyOnce:
    from aws_lambda_powertools.utilities.idempotency import idempotent_function
    from aws_lambda_powertools.utilities.idempotency.exceptions import (
        IdempotencyAlreadyInProgressError,
        IdempotencyPersistenceLayerError,
    )

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="record", persistence_store=persistence_store, config=config
    )
    def apply_record(record: dict[str, Any]) -> dict[str, str]:
        event = WebhookEvent.model_validate(record["event"])
        result = processor.apply(record["channel_id"], event)
        return {"event_type": result.event_type, "action": result.action, "detail": result.detail}

    def apply_once(channel_id: str, event: WebhookEvent) -> EventResult | None:
        record = {
            "channel_id": channel_id,
            "webhook_event_id": event.webhook_event_id,
            "event": event.raw,
        }
        try:
            stored = apply_record(record=record)
        except IdempotencyAlreadyInProgressError as error:
            raise WebhookRejected(
                503, "an event of this request is being processed; retry later"
            ) from error
        except IdempotencyPersistenceLayerError as error:
            raise WebhookRejected(503, "event store unavailable; retry later") from error
        if stored.pop(_DUPLICATE_FLAG, False):
            return None
        return EventResult(stored["event_type"], stored["action"], stored.get("detail", ""))

    return apply_once


def flag_duplicate(response: Any, _data_record: Any) -> Any:
    """Powertools calls this only when it answers from the store: a replay."""
    if isinstance(response, dict):
        return {**response, _DUPLICATE_FLAG: True}
    return response
