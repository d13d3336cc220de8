"""EventBridge Scheduler target: a due job (e.g. a delayed message) is put to work.

Invoked asynchronously: an exception is retried twice by Lambda, then the invocation
goes to the schedule failure queue, whose consumer marks the delivery dead.
"""

from __future__ import annotations

from linecrm.cold_start import imports_without_collector

with imports_without_collector():  # linecrm/cold_start.py: a cheaper cold start
    import functools
    from typing import Any

    from aws_lambda_powertools.utilities.typing import LambdaContext
    from pydantic import ValidationError

    from linecrm.config.scheduler import SchedulerSettings
    from linecrm.domain.broadcasts import BroadcastStep
    from linecrm.models.jobs import (
        SCHEDULED_JOB,
        FetchInsight,
        FireScenarioStep,
        InsightFetchStep,
        ScheduledSend,
        SweepScenarios,
    )
    from linecrm.observability import logger, metrics
    from linecrm.tracing import tracer
    from linecrm.wiring import Container

# One Container per execution environment, built on first use (not at import): the
# first invocation validates the function's settings before any request work.
container = functools.cache(functools.partial(Container, SchedulerSettings))


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    container()  # the first invocation validates the settings, before any work
    try:
        job = SCHEDULED_JOB.validate_python(event)
    except ValidationError as error:
        # A malformed job can never succeed: say so and let the schedule complete
        # (raising would make Lambda retry it twice, then dead-letter it).
        logger.error("discarding malformed scheduled job", extra={"errors": error.errors()[:5]})
        metrics.add_metric(name="ScheduledJobsMalformed", unit="Count", value=1)
        return {"status": "discarded", "reason": "malformed job"}
    metrics.add_metric(name="ScheduledJobsFired", unit="Count", value=1)
    deps = container()
    if isinstance(job, FireScenarioStep | SweepScenarios):
        # A scenario step's bucket (or the sweeper): idempotent, see docs/scenarios.md.
        report = (
            deps.scenario_engine.fire(job)
            if isinstance(job, FireScenarioStep)
            else deps.scenario_engine.sweep()
        )
        logger.info("scenario fire", extra={"job_id": job.job_id, **report.as_dict()})
        return {"status": report.outcome, "job_id": job.job_id, **report.as_dict()}
    if isinstance(job, FetchInsight):
        # One step per channel on the job queue: the jobs function calls LINE.
        channels = deps.channel_registry.channel_ids()
        deps.job_queue.send_steps([InsightFetchStep(channel_id=c) for c in channels])
        logger.info("insight fetch queued", extra={"channels": len(channels)})
        return {"status": "queued", "job_id": job.job_id, "channels": len(channels)}
    if not isinstance(job, ScheduledSend):
        # The broadcast's planner steps run on the job queue; a second firing finds the
        # broadcast already started and does nothing.
        deps.job_queue.send_step(
            BroadcastStep(channel_id=job.channel_id, broadcast_id=job.broadcast_id)
        )
        logger.info("broadcast started", extra={"job_id": job.job_id})
        return {"status": "started", "job_id": job.job_id}
    # A schedule may fire twice: the outbox's ledger check makes the second a no-op.
    outcome = deps.scheduled_sends.fire(job)
    logger.info("scheduled job fired", extra={"job_id": job.job_id, "outcome": outcome})
    return {"status": outcome, "job_id": job.job_id}
