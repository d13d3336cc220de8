"""Send queue consumer: one task per SQS record (a delivery, a profile refresh, a rich
menu link), partial batch failures."""

from __future__ import annotations

import functools
import random
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from linecrm.delivery.sender import SendFailedRetryable
from linecrm.models.send import SendRequest, parse_send_queue_task
from linecrm.observability import logger, metrics
from linecrm.resources import SEND_QUEUE
from linecrm.tracing import tracer
from linecrm.wiring import Container

processor = BatchProcessor(event_type=EventType.SQS)
# One Container per execution environment, built on first use (not at import).
container = functools.cache(Container)

MAX_VISIBILITY_SECONDS = 900  # cap of one backoff step; SQS allows up to 12 h


class PoisonMessage(Exception):
    """The record is no task we know: it cannot be sent, and goes to the DLQ."""


def backoff_seconds(receive_count: int, base: float, rate_limited: bool) -> int:
    """Exponential backoff with full jitter for the next SQS receive of a failed record."""
    ceiling = base * (2 ** min(receive_count, 10)) * (2 if rate_limited else 1)
    return int(min(MAX_VISIBILITY_SECONDS, ceiling) * random.random())


@tracer.capture_method(capture_response=False)
def send_record(record: SQSRecord) -> None:
    try:
        task = parse_send_queue_task(record.body)
    except ValueError as error:
        logger.error("poison message on the send queue", extra={"message_id": record.message_id})
        raise PoisonMessage(str(error)) from error
    receive_count = int(record.attributes.approximate_receive_count)
    deps = container()
    try:
        if not isinstance(task, SendRequest):
            outcome = deps.line_tasks.run(task)
            logger.info("line task finished", extra={"task": task.kind, "outcome": outcome})
            return
        report = deps.sender.send(task, final_attempt=receive_count >= SEND_QUEUE.max_receive_count)
    except SendFailedRetryable as error:
        delay = backoff_seconds(
            receive_count, deps.settings.send_retry_base_seconds, error.rate_limited
        )
        deps.sqs.change_message_visibility(
            QueueUrl=deps.settings.require(deps.settings.send_queue_url, "send_queue_url"),
            ReceiptHandle=record.receipt_handle,
            VisibilityTimeout=delay,
        )
        metrics.add_metric(name="SendRetries", unit="Count", value=1)
        logger.warning(
            "send failed, will retry",
            extra={"task": task.kind, "reason": error.reason, "delay": delay},
        )
        raise
    metrics.add_metric(name=f"Deliveries_{report.outcome.value}", unit="Count", value=1)
    logger.info(
        "delivery finished",
        extra={
            "delivery_id": task.delivery_id,
            "outcome": report.outcome,
            "detail": report.detail,
        },
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=send_record, processor=processor, context=context
    )
