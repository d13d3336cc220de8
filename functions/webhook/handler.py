"""LINE webhook: POST /webhook/{channel_id}. Verify, dedupe, apply, answer within 2 s.

No Powertools Tracer here on purpose (see ``linecrm.tracing``): Lambda's active tracing
records the invocation, and the cold start stays short.
"""

from __future__ import annotations

import base64
import binascii
import functools
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.utilities.typing import LambdaContext

from linecrm.config import WebhookSettings
from linecrm.observability import logger, metrics
from linecrm.webhook.service import skipped_metric_name
from linecrm.wiring import Container

app = APIGatewayHttpResolver()
# One Container per execution environment, built on first use (not at import): the
# first invocation validates the function's settings before any request work.
container = functools.cache(functools.partial(Container, WebhookSettings))


def _json(status: int, body: dict[str, Any]) -> Response[Any]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def _raw_body() -> bytes:
    """The exact bytes LINE signed (API Gateway may hand them over base64-encoded)."""
    event = app.current_event
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error:
            return b""
    return body.encode("utf-8")


@app.post("/webhook/<channel_id>")
def receive_webhook(channel_id: str) -> Response[Any]:
    signature = app.current_event.headers.get("x-line-signature")
    summary = container().webhook_receiver.receive(channel_id, _raw_body(), signature)
    metrics.add_metric(name="WebhookEventsApplied", unit="Count", value=summary.applied)
    metrics.add_metric(name="WebhookEventsDuplicate", unit="Count", value=summary.duplicates)
    metrics.add_metric(name="WebhookEventsSkipped", unit="Count", value=summary.skipped)
    for reason, count in summary.skipped_by_reason.items():
        # One counter per reason, e.g. WebhookEventsSkippedInvalidUserId.
        metrics.add_metric(name=skipped_metric_name(reason), unit="Count", value=count)
    return _json(
        HTTPStatus.OK,
        {"applied": summary.applied, "duplicates": summary.duplicates, "skipped": summary.skipped},
    )


def _register_error_handlers() -> None:
    from linecrm.webhook.service import WebhookRejected

    @app.exception_handler(WebhookRejected)
    def rejected(error: WebhookRejected) -> Response[Any]:
        logger.info("webhook rejected", extra={"status": error.status, "reason": error.reason})
        metrics.add_metric(name="WebhookRejected", unit="Count", value=1)
        return _json(error.status, {"message": error.reason})

    @app.exception_handler(Exception)
    def unavailable(error: Exception) -> Response[Any]:
        # Not the caller's fault (a store or queue is failing): 503 makes LINE redeliver,
        # and already-applied events of the request are deduplicated then.
        logger.exception("webhook processing failed")
        metrics.add_metric(name="WebhookFailures", unit="Count", value=1)
        return _json(HTTPStatus.SERVICE_UNAVAILABLE, {"message": "temporarily unavailable"})


_register_error_handlers()


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    container().idempotency_config.register_lambda_context(context)
    return app.resolve(event, context)
