"""Scheduled fires that finally failed: recorded dead (with the reason), never dropped.

Two kinds of message reach the schedule failure queue:

- Lambda's invocation record, from the scheduler function's on-failure destination:
  the function failed on every attempt (or the event grew too old). The job is its
  ``requestPayload``; the reason is the condition and the function's last error.
- Scheduler's dead-letter message: Scheduler could not invoke the function at all (a
  throttle that outlasted the retry policy, a missing permission). The body is the
  schedule's input, the error is in the message attributes.

A delayed delivery then ends ``dead`` in the ledger (an operator re-drives it with
``linecrm deliveries redrive``); a broadcast that should have started ends ``failed``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import ValidationError

from linecrm.domain.deliveries import DeliveryStatus
from linecrm.models.jobs import (
    SCHEDULED_JOB,
    FetchInsight,
    FireScenarioStep,
    ScheduledJob,
    ScheduledSend,
    SweepScenarios,
)
from linecrm.repositories.broadcasts import BroadcastChanged, BroadcastRepository
from linecrm.repositories.deliveries import DeliveryLedger

FireOutcome = Literal[
    "dead", "already_finished", "broadcast_failed", "left_for_sweeper", "left_for_next_hour"
]


class UnreadableFailure(ValueError):
    """The message is neither Lambda's invocation record nor Scheduler's dead letter."""


@dataclass(frozen=True)
class FailedFire:
    job: ScheduledJob
    reason: str


def parse_failed_fire(body: str, attributes: Mapping[str, str]) -> FailedFire:
    """The job and why it failed, from either kind of failure message."""
    try:
        document = json.loads(body)
    except ValueError as error:
        raise UnreadableFailure(f"the body is not JSON: {error}") from error
    if not isinstance(document, dict):
        raise UnreadableFailure("the body is not a JSON object")
    if "requestContext" in document and "requestPayload" in document:
        payload, reason = document["requestPayload"], _lambda_reason(document)
    else:
        payload, reason = document, _scheduler_reason(attributes)
    try:
        job = SCHEDULED_JOB.validate_python(payload)
    except ValidationError as error:
        raise UnreadableFailure(f"no scheduled job in the message: {error.errors()[:3]}") from error
    return FailedFire(job, reason[:1000])


def _lambda_reason(record: dict[str, Any]) -> str:
    context = record.get("requestContext") or {}
    condition = context.get("condition", "unknown condition")
    attempts = context.get("approximateInvokeCount", "?")
    response = record.get("responsePayload")
    error = ""
    if isinstance(response, dict):
        error = f": {response.get('errorType', 'Error')}: {response.get('errorMessage', '')}"
    return f"scheduled fire failed ({condition} after {attempts} attempt(s)){error}"


def _scheduler_reason(attributes: Mapping[str, str]) -> str:
    code = attributes.get("ERROR_CODE", "unknown error")
    message = attributes.get("ERROR_MESSAGE", "")
    condition = attributes.get("EXHAUSTED_RETRY_CONDITION")
    retries = attributes.get("RETRY_ATTEMPTS", "?")
    why = f"{condition}, {retries} retries" if condition else f"not retryable, {retries} retries"
    return f"Scheduler could not invoke the scheduler function ({why}): {code}: {message}"


class FailedFires:
    def __init__(
        self,
        ledger: DeliveryLedger,
        broadcasts: BroadcastRepository,
        clock: Callable[[], datetime],
    ) -> None:
        self._ledger = ledger
        self._broadcasts = broadcasts
        self._clock = clock

    def record(self, failure: FailedFire) -> FireOutcome:
        if isinstance(failure.job, ScheduledSend):
            return self._delivery_dead(failure.job, failure.reason)
        if isinstance(failure.job, FireScenarioStep | SweepScenarios):
            # Its enrolments are still on the due index and its bucket in the sweeper's
            # list: the next sweep fires it again (docs/scenarios.md).
            return "left_for_sweeper"
        if isinstance(failure.job, FetchInsight):
            return "left_for_next_hour"  # the insight schedule fires again in an hour
        return self._broadcast_failed(failure.job.channel_id, failure.job.broadcast_id, failure)

    def _delivery_dead(self, job: ScheduledSend, reason: str) -> FireOutcome:
        now = self._clock()
        # A delayed delivery has its (queued) row already; one that lost it gets one.
        self._ledger.record_queued(job.request, now)
        self._ledger.mark_dead(job.request.delivery_id, reason, now)
        current = self._ledger.get(job.request.delivery_id)
        if current is not None and current.status is DeliveryStatus.DEAD:
            return "dead"
        return "already_finished"  # sent or skipped meanwhile: nothing was lost

    def _broadcast_failed(
        self, channel_id: str, broadcast_id: str, failure: FailedFire
    ) -> FireOutcome:
        for _ in range(3):
            broadcast = self._broadcasts.get(channel_id, broadcast_id)
            if broadcast is None or broadcast.is_finished or broadcast.status != "scheduled":
                return "already_finished"  # started after all, or cancelled
            now = self._clock()
            failed = broadcast.model_copy(
                update={
                    "status": "failed",
                    "reason": failure.reason,
                    "finished_at": now,
                    "updated_at": now,
                }
            )
            try:
                self._broadcasts.save(failed, expected_version=broadcast.version)
            except BroadcastChanged:
                continue
            return "broadcast_failed"
        return "already_finished"
