"""LINE webhook: POST /webhook/{channel_id}. Verify, dedupe, apply, answer within 2 s.

LINE's 2 s include the cold start, so this handler imports only what the first event
needs. No Powertools Tracer (see ``linecrm.tracing``): Lambda's active tracing records
the invocation. No Powertools event-handler resolver either: importing
``aws_lambda_powertools.event_handler`` loads all of its resolvers (AppSync, Bedrock,
VPC Lattice, with asyncio and ssl), a large share of this function's cold import, for
the one route API Gateway sends here. The route is matched as the resolver did (the
raw path), and the errors become HTTP answers in ``_answer``, the one place.
"""

from __future__ import annotations

from linecrm.cold_start import imports_without_collector

with imports_without_collector():  # linecrm/cold_start.py: a cheaper cold start
    import base64
    import binascii
    import functools
    import json
    import re
    from http import HTTPStatus
    from typing import TYPE_CHECKING, Any

    from linecrm.config.webhook import WebhookSettings
    from linecrm.observability import logger, metrics
    from linecrm.webhook.service import WebhookRejected, skipped_metric_name
    from linecrm.wiring import Container

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

# One Container per execution environment, built on first use (not at import): the
# first invocation validates the function's settings before any request work.
container = functools.cache(functools.partial(Container, WebhookSettings))

# The characters Powertools' resolver allows in a path parameter (RFC 3986 and more).
_ROUTE = re.compile(r"^/webhook/(?P<channel_id>[-._~()'!*:@,;=+&$%<> \[\]{}|^\w]+)$")


def _json(status: int, body: dict[str, Any]) -> dict[str, Any]:
    """An HTTP API (payload 2.0) answer, as the resolver built it."""
    return {
        "statusCode": status,
        "body": json.dumps(body, separators=(",", ":")),
        "isBase64Encoded": False,
        "headers": {"Content-Type": "application/json"},
        "cookies": [],
    }


def _error(status: int, message: str, field: str | None = None) -> dict[str, Any]:
    """An error answer in the one shape of every HTTP route (``linecrm.http_errors``)."""
    return _json(status, {"message": message, "field": field, "errors": []})


def _raw_body(event: dict[str, Any]) -> bytes:
    """The exact bytes LINE signed (API Gateway may hand them over base64-encoded)."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error:
            return b""
    return str(body).encode("utf-8")


def _header(event: dict[str, Any], name: str) -> str | None:
    headers: dict[str, str] = event.get("headers") or {}
    return next((value for key, value in headers.items() if key.lower() == name), None)


def receive_webhook(channel_id: str, event: dict[str, Any]) -> dict[str, Any]:
    signature = _header(event, "x-line-signature")
    summary = container().webhook_receiver.receive(channel_id, _raw_body(event), signature)
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


def _answer(event: dict[str, Any]) -> dict[str, Any]:
    """Route the request, and turn every error into its HTTP answer."""
    method = (event.get("requestContext") or {}).get("http", {}).get("method")
    route = _ROUTE.match(event.get("rawPath") or "")
    if method != "POST" or route is None:
        return _error(HTTPStatus.NOT_FOUND, "no such route: POST /webhook/{channel_id}")
    try:
        return receive_webhook(route["channel_id"], event)
    except WebhookRejected as error:
        logger.info("webhook rejected", extra={"status": error.status, "reason": error.reason})
        metrics.add_metric(name="WebhookRejected", unit="Count", value=1)
        return _error(error.status, error.reason, error.field)
    except Exception:
        # Not the caller's fault (a store or queue is failing): 503 makes LINE redeliver,
        # and already-applied events of the request are deduplicated then.
        logger.exception("webhook processing failed")
        metrics.add_metric(name="WebhookFailures", unit="Count", value=1)
        return _error(HTTPStatus.SERVICE_UNAVAILABLE, "temporarily unavailable")


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    container().idempotency_config.register_lambda_context(context)
    return _answer(event)
