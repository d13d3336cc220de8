"""Job queue consumer: each message is "run the next step of import, broadcast, preview
or segment enrolment X", or "fire this part of a big scenario bucket".

A step works until the function's remaining time nears a margin, saves the job's
cursor and counters, and queues the next step; a step that fails is received again
(after a back-off) and resumes from the last saved cursor. Batch size 1.
"""

from __future__ import annotations

from linecrm.cold_start import imports_without_collector

with imports_without_collector():  # linecrm/cold_start.py: a cheaper cold start
    import functools
    from collections.abc import Callable
    from dataclasses import dataclass
    from typing import Annotated, Any

    from aws_lambda_powertools.utilities.batch import (
        BatchProcessor,
        EventType,
        process_partial_response,
    )
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from pydantic import Field, TypeAdapter

    from linecrm.config.jobs import JobsSettings
    from linecrm.domain.broadcasts import BroadcastStep, PreviewStep
    from linecrm.imports.models import ImportStep
    from linecrm.jobs import StepBudget, StepOutcome
    from linecrm.line.errors import LineApiError, LineRateLimited
    from linecrm.models.jobs import (
        EnrollSegmentStep,
        FireScenarioStep,
        InsightFetchStep,
        QuotaFetchStep,
    )
    from linecrm.observability import logger, metrics
    from linecrm.resources import JOB_QUEUE
    from linecrm.richmenus.steps import RichMenuSyncStep
    from linecrm.tracing import tracer
    from linecrm.wiring import Container

# Batch size 1: a failed step is a failed batch; it is reported as a failed item
# (the message comes back) rather than raised, so the function's Errors alarm is not
# one per LINE hiccup. A step that keeps failing dead-letters (the DLQ alarm).
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
# One Container per execution environment, built on first use (not at import): the
# first invocation validates the function's settings before any request work.
container = functools.cache(functools.partial(Container, JobsSettings))

RETRY_BASE_SECONDS = 30
MAX_RETRY_SECONDS = 900


class PoisonMessage(Exception):
    """The record is no job step we know: it goes to the DLQ."""


JobStep = Annotated[
    ImportStep
    | BroadcastStep
    | PreviewStep
    | EnrollSegmentStep
    | FireScenarioStep
    | RichMenuSyncStep
    | InsightFetchStep
    | QuotaFetchStep,
    Field(discriminator="kind"),
]
_JOB_STEP: TypeAdapter[JobStep] = TypeAdapter(JobStep)


@dataclass(frozen=True)
class _JobStep:
    """One step of a job, as ``_run_job_step`` runs it."""

    name: str  # in the log messages: "broadcast", "preview", "import", "enrolment"
    log: dict[str, str]
    run: Callable[[StepBudget], StepOutcome]
    fail: Callable[[str], None]  # marks the job failed, with the reason
    metric: str | None  # "<metric>_<outcome>" counts finished steps


@tracer.capture_method(capture_response=False)
def run_step(record: SQSRecord, lambda_context: LambdaContext) -> None:
    try:
        step = _JOB_STEP.validate_json(record.body)
    except ValueError as error:
        logger.error("poison message on the job queue", extra={"message_id": record.message_id})
        raise PoisonMessage(str(error)) from error
    deps = container()
    outcome = _run_job_step(_job_step(step, deps), record, lambda_context)
    # Broadcasts, previews and enrolments queue their own next step; an import's is
    # queued here.
    if isinstance(step, ImportStep) and outcome is StepOutcome.CONTINUE:
        deps.job_queue.send_step(step)


def _job_step(step: JobStep, deps: Container[JobsSettings]) -> _JobStep:
    if isinstance(step, FireScenarioStep):
        return _scenario_part(step, deps)
    if isinstance(step, EnrollSegmentStep):
        return _enrollment_step(step, deps)
    if isinstance(step, RichMenuSyncStep):
        return _rich_menu_step(step, deps)
    if isinstance(step, InsightFetchStep):
        return _insight_step(step, deps)
    if isinstance(step, QuotaFetchStep):
        return _quota_step(step, deps)
    if isinstance(step, BroadcastStep):
        ids = (step.channel_id, step.broadcast_id)
        planner = deps.broadcast_planner
        log = {"broadcast_id": step.broadcast_id, "channel_id": step.channel_id}
        return _JobStep(
            "broadcast",
            log,
            functools.partial(planner.run_step, *ids),
            functools.partial(planner.fail, *ids),
            "BroadcastSteps",
        )
    if isinstance(step, PreviewStep):
        ids = (step.channel_id, step.preview_id)
        service = deps.broadcast_service
        log = {"preview_id": step.preview_id, "channel_id": step.channel_id}
        return _JobStep(
            "preview",
            log,
            functools.partial(service.run_preview_step, *ids),
            functools.partial(service.fail_preview, *ids),
            None,
        )
    ids = (step.channel_id, step.job_id)
    runner = deps.import_runner
    log = {"job_id": step.job_id, "channel_id": step.channel_id}
    return _JobStep(
        "import",
        log,
        functools.partial(runner.run_step, *ids),
        functools.partial(runner.fail, *ids),
        "ImportSteps",
    )


def _scenario_part(step: FireScenarioStep, deps: Container[JobsSettings]) -> _JobStep:
    """A part of a split scenario bucket: one idempotent fire (no cursor of its own).
    A part that keeps failing stays on the sweeper's list, which queues it again."""
    log = {"job_id": step.job_id, "channel_id": step.channel_id}

    def fire(_budget: StepBudget) -> StepOutcome:
        report = deps.scenario_engine.fire(step)
        logger.info("scenario part fired", extra={**log, **report.as_dict()})
        return StepOutcome.DONE

    def give_up(reason: str) -> None:
        logger.error(
            "scenario part gave up; the sweeper retries it", extra={**log, "reason": reason}
        )

    return _JobStep("scenario part", log, fire, give_up, "ScenarioParts")


# ---------------------------------------------------------------- segment enrolment
def _enrollment_step(step: EnrollSegmentStep, deps: Container[JobsSettings]) -> _JobStep:
    """A page-by-page segment enrolment (``linecrm.scenarios.enrollment_jobs``)."""
    ids = (step.channel_id, step.scenario_id, step.job_id)
    runner = deps.segment_enrollment_runner
    log = {"job_id": step.job_id, "scenario_id": step.scenario_id, "channel_id": step.channel_id}
    return _JobStep(
        "enrolment",
        log,
        functools.partial(runner.run_step, *ids),
        functools.partial(runner.fail, *ids),
        "EnrollmentSteps",
    )


# ---------------------------------------------------------------- rich menus
def _rich_menu_step(step: RichMenuSyncStep, deps: Container[JobsSettings]) -> _JobStep:
    """Publish a menu set on LINE, relink friends page by page, retire old menus
    (``linecrm.richmenus.jobs``); the step queues its own next step."""
    ids = (step.channel_id, step.version)
    runner = deps.rich_menu_sync_runner
    log = {"channel_id": step.channel_id, "version": str(step.version)}
    return _JobStep(
        "rich menu sync",
        log,
        functools.partial(runner.run_step, *ids),
        functools.partial(runner.fail, *ids),
        "RichMenuSteps",
    )


# ---------------------------------------------------------------- insight
def _insight_step(step: InsightFetchStep, deps: Container[JobsSettings]) -> _JobStep:
    """LINE's opens and clicks of the channel's recent campaigns, within LINE's hourly
    insight budget (``linecrm.insight.fetcher``); what is left waits for the next hour."""
    log = {"channel_id": step.channel_id}

    def fetch(budget: StepBudget) -> StepOutcome:
        report = deps.insight_fetcher.fetch_channel(step.channel_id, budget.allows_row)
        logger.info("insight fetched", extra=report.as_dict())
        return StepOutcome.DONE

    def give_up(reason: str) -> None:
        logger.error(
            "insight fetch gave up; the next hour tries again", extra={**log, "reason": reason}
        )

    return _JobStep("insight", log, fetch, give_up, "InsightFetches")


def _run_job_step(job: _JobStep, record: SQSRecord, lambda_context: LambdaContext) -> StepOutcome:
    """Run the step within the function's remaining time; on the queue's last try a
    failure fails the job, before that the message comes back (sooner when LINE was
    down or rate limiting)."""
    deps = container()
    budget = StepBudget(
        lambda_context.get_remaining_time_in_millis,
        max_chunks=deps.settings.import_chunks_per_step or None,
    )
    receive_count = int(record.attributes.approximate_receive_count)
    log = {**job.log, "receive": receive_count}
    try:
        outcome = job.run(budget)
    except Exception as error:
        if receive_count >= JOB_QUEUE.max_receive_count:
            job.fail(f"gave up after {receive_count} tries: {error}")
            logger.exception(f"{job.name} step failed for the last time", extra=log)
            raise
        _back_off(record, receive_count, error)
        logger.warning(f"{job.name} step failed, will retry", extra=log)
        raise
    if job.metric is not None:
        metrics.add_metric(name=f"{job.metric}_{outcome.value}", unit="Count", value=1)
    logger.info(f"{job.name} step finished", extra={**log, "outcome": outcome.value})
    return outcome


def _back_off(record: SQSRecord, receive_count: int, error: Exception) -> None:
    """LINE down or rate limiting: come back sooner than the visibility timeout."""
    if not isinstance(error, LineApiError):
        return
    deps = container()
    factor = 2 if isinstance(error, LineRateLimited) else 1
    delay = min(MAX_RETRY_SECONDS, RETRY_BASE_SECONDS * factor * 2 ** (receive_count - 1))
    deps.sqs.change_message_visibility(
        QueueUrl=deps.settings.job_queue_url,
        ReceiptHandle=record.receipt_handle,
        VisibilityTimeout=delay,
    )


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    container()  # the first invocation validates the settings, before any work
    return process_partial_response(
        event=event, record_handler=run_step, processor=processor, context=context
    )


# ---------------------------------------------------------------- quota
def _quota_step(step: QuotaFetchStep, deps: Container[JobsSettings]) -> _JobStep:
    """The channel's monthly message quota and usage from LINE, kept as its snapshot
    (the admin's dashboard shows it; ``linecrm.delivery.quota_snapshot``)."""
    log = {"channel_id": step.channel_id}

    def fetch(budget: StepBudget) -> StepOutcome:
        deps.read_message_quota(step.channel_id)
        return StepOutcome.DONE

    def give_up(reason: str) -> None:
        logger.error(
            "quota read gave up; the dashboard asks again", extra={**log, "reason": reason}
        )

    return _JobStep("quota", log, fetch, give_up, None)
