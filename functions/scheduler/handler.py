"""EventBridge Scheduler target: a due job (e.g. a delayed message) is put to work."""

from __future__ import annotations

import functools
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from linecrm.models.jobs import ScheduledSend
from linecrm.observability import logger, metrics
from linecrm.tracing import tracer
from linecrm.wiring import Container

# One Container per execution environment, built on first use (not at import).
container = functools.cache(Container)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        job = ScheduledSend.model_validate(event)
    except ValidationError as error:
        # A malformed job can never succeed: say so and let the schedule complete
        # (raising would make Scheduler retry it 185 times).
        logger.error("discarding malformed scheduled job", extra={"errors": error.errors()[:5]})
        metrics.add_metric(name="ScheduledJobsMalformed", unit="Count", value=1)
        return {"status": "discarded", "reason": "malformed job"}
    # A schedule may fire twice: the outbox's ledger check makes the second a no-op.
    queued = container().outbox.enqueue(job.request)
    metrics.add_metric(name="ScheduledJobsFired", unit="Count", value=1)
    logger.info("scheduled job fired", extra={"job_id": job.job_id, "queued": queued})
    return {"status": "queued" if queued else "already_finished", "job_id": job.job_id}
