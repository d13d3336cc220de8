"""Schedule failure queue consumer: a scheduled fire that finally failed ends dead.

Each record is Lambda's invocation record (the scheduler function failed on every
attempt) or Scheduler's dead letter (it could not invoke the function). The delivery
it carried is marked ``dead`` with the reason (re-drivable from the ledger); a
broadcast that should have started is marked ``failed``. Each emits
``ScheduledFiresDead``, which the stack alarms on.
"""

from __future__ import annotations

from linecrm.cold_start import imports_without_collector

with imports_without_collector():  # linecrm/cold_start.py: a cheaper cold start
    import functools
    from typing import Any

    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from linecrm.config.schedule_failures import ScheduleFailuresSettings
    from linecrm.delivery.failed_fires import parse_failed_fire
    from linecrm.observability import logger, metrics
    from linecrm.resources import SCHEDULED_FIRES_DEAD_METRIC
    from linecrm.tracing import tracer
    from linecrm.wiring import Container

processor = BatchProcessor(event_type=EventType.SQS)
# One Container per execution environment, built on first use (not at import).
container = functools.cache(functools.partial(Container, ScheduleFailuresSettings))


@tracer.capture_method(capture_response=False)
def record_failure(record: SQSRecord) -> None:
    attributes = {
        name: value.get("stringValue") or ""
        for name, value in (record.raw_event.get("messageAttributes") or {}).items()
    }
    # An unreadable message raises: it is retried, then lands in this queue's DLQ.
    failure = parse_failed_fire(record.body, attributes)
    outcome = container().failed_fires.record(failure)
    if outcome != "already_finished":
        metrics.add_metric(name=SCHEDULED_FIRES_DEAD_METRIC, unit="Count", value=1)
    logger.warning(
        "scheduled fire failed for good",
        extra={"job_id": failure.job.job_id, "outcome": outcome, "reason": failure.reason},
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(
        event=event, record_handler=record_failure, processor=processor, context=context
    )
