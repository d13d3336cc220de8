"""Send queue consumer: one task per SQS record (a delivery, a profile refresh, a rich
menu link), partial batch failures.

The records of a batch are sent concurrently, one thread each (``SEND_THREADS``, the
queue's batch size): a LINE call mostly waits on the network, so an environment keeps
up to a batch of calls in flight while its pacer still spaces their starts to its
share of the channel's rate. The arithmetic (README, "Send rate"): all environments
together start at most the channel's rate, with at most MaximumConcurrency x batch
size calls in flight.
"""

from __future__ import annotations

from linecrm.cold_start import imports_without_collector

with imports_without_collector():  # linecrm/cold_start.py: a cheaper cold start
    import asyncio
    import contextvars
    import functools
    import math
    import random
    import threading
    from concurrent.futures import ThreadPoolExecutor
    from typing import Any

    from aws_lambda_powertools.utilities.batch import (
        AsyncBatchProcessor,
        EventType,
        async_process_partial_response,
    )
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from linecrm.config.sender import SenderSettings
    from linecrm.delivery.pacing import PacingDeferred
    from linecrm.delivery.sender import SendFailedRetryable
    from linecrm.models.send import SendRequest, parse_send_queue_task
    from linecrm.observability import logger, metrics
    from linecrm.resources import QUOTA_EXHAUSTED_METRIC, SEND_QUEUE
    from linecrm.tracing import tracer
    from linecrm.wiring import Container

# Every failed record carries its own retry delay (ChangeMessageVisibility below), so a
# batch whose records all failed (LINE down, or pacing deferring a whole batch) is no
# function error: its records are reported like any partial failure.
processor = AsyncBatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
# One thread per record of a full batch; the threads live as long as the environment.
SEND_THREADS = SEND_QUEUE.batch_size
send_threads = ThreadPoolExecutor(max_workers=SEND_THREADS, thread_name_prefix="send")
_metrics_lock = threading.Lock()  # Powertools' metric set is no concurrent structure
# One Container per execution environment, built on first use (not at import): the
# first invocation validates the function's settings before any request work.
container = functools.cache(functools.partial(Container, SenderSettings))

MAX_VISIBILITY_SECONDS = 900  # cap of one backoff step; SQS allows up to 12 h
# Pacing waits may use the invocation's time left minus this reserve (at most half of
# what is left), which one LINE call (client timeout 10 s) and its ledger writes need.
PACING_RESERVE_SECONDS = 12.0


def count(name: str) -> None:
    with _metrics_lock:
        metrics.add_metric(name=name, unit="Count", value=1)


class PoisonMessage(Exception):
    """The record is no task we know: it cannot be sent, and goes to the DLQ."""


def pacing_budget_seconds(context: LambdaContext) -> float:
    """How long the pacer may still wait for a slot in this invocation."""
    remaining = context.get_remaining_time_in_millis() / 1000
    return max(0.0, remaining - min(PACING_RESERVE_SECONDS, remaining / 2))


def backoff_seconds(receive_count: int, base: float, rate_limited: bool) -> int:
    """Exponential backoff with full jitter for the next SQS receive of a failed record."""
    ceiling = base * (2 ** min(receive_count, 10)) * (2 if rate_limited else 1)
    return int(min(MAX_VISIBILITY_SECONDS, ceiling) * random.random())


@tracer.capture_method(capture_response=False)
def send_record(record: SQSRecord, lambda_context: LambdaContext) -> None:
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
        report = deps.sender.send(
            task,
            final_attempt=receive_count >= SEND_QUEUE.max_receive_count,
            pacing_budget_seconds=pacing_budget_seconds(lambda_context),
        )
    except PacingDeferred as deferred:
        # Not an attempt: nothing was sent or recorded. Back when the slot is near (on
        # the final receive the sender sends late instead, so SQS never dead-letters it).
        delay = min(MAX_VISIBILITY_SECONDS, max(1, math.ceil(deferred.wait_seconds)))
        deps.sqs.change_message_visibility(
            QueueUrl=deps.settings.send_queue_url,
            ReceiptHandle=record.receipt_handle,
            VisibilityTimeout=delay,
        )
        count("SendsDeferred")
        logger.info("send deferred by pacing", extra={"task": task.kind, "delay": delay})
        raise
    except SendFailedRetryable as error:
        delay = backoff_seconds(
            receive_count, deps.settings.send_retry_base_seconds, error.rate_limited
        )
        deps.sqs.change_message_visibility(
            QueueUrl=deps.settings.send_queue_url,
            ReceiptHandle=record.receipt_handle,
            VisibilityTimeout=delay,
        )
        count("SendRetries")
        logger.warning(
            "send failed, will retry",
            extra={"task": task.kind, "reason": error.reason, "delay": delay},
        )
        raise
    count(f"Deliveries_{report.outcome.value}")
    if report.quota_exhausted_now:
        # Once per channel and month (the sender that stored the flag): alarmed on.
        count(QUOTA_EXHAUSTED_METRIC)
        with _metrics_lock:
            metrics.add_metadata(key="channel_id", value=task.channel_id)
        logger.warning(
            "monthly message quota exhausted: marketing sends skipped until next month",
            extra={"channel_id": task.channel_id},
        )
    logger.info(
        "delivery finished",
        extra={
            "delivery_id": task.delivery_id,
            "outcome": report.outcome,
            "detail": report.detail,
        },
    )


async def send_record_on_a_thread(record: SQSRecord, lambda_context: LambdaContext) -> None:
    """``send_record`` on one of the environment's send threads, in a copy of this
    invocation's context (its context variables: the function's settings, the clock)."""
    context = contextvars.copy_context()
    await asyncio.get_running_loop().run_in_executor(
        send_threads, context.run, send_record, record, lambda_context
    )


def prepare(deps: Container[SenderSettings]) -> None:
    """Build, on this thread, what the send threads share: one pacer per environment
    (two would double its share of the rate), and the AWS clients (a boto3 session is
    not safe to create clients from concurrently)."""
    _ = deps.sender, deps.line_tasks, deps.sqs, deps.channels


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    prepare(container())  # the first invocation validates the settings, before any work
    return async_process_partial_response(
        event=event, record_handler=send_record_on_a_thread, processor=processor, context=context
    )
