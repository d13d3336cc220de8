"""One-time EventBridge Scheduler schedules that fire the scheduler function later.

Scheduler invokes the function asynchronously: its retry policy covers handing the
event to Lambda, after which a fire it could not hand over goes to the dead-letter
queue; the function's own failures are Lambda's retries and on-failure destination.
Both end in the schedule failure queue (docs/scheduling.md).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from linecrm.models.jobs import ScheduledJob
from linecrm.resources import SCHEDULE_RETRY_POLICY

if TYPE_CHECKING:
    from mypy_boto3_scheduler.client import EventBridgeSchedulerClient

MAX_SCHEDULE_NAME = 64
FLEXIBLE_WINDOW_OFF = {"Mode": "OFF"}


def schedule_name_for(job_id: str) -> str:
    """Deterministic, so planning the same job twice cannot create two schedules."""
    digest = hashlib.sha256(job_id.encode("utf-8")).hexdigest()[:40]
    return f"job-{digest}"[:MAX_SCHEDULE_NAME]


class SchedulePlanner:
    def __init__(
        self,
        client: EventBridgeSchedulerClient,
        *,
        group_name: str,
        target_arn: str,
        role_arn: str,
        dead_letter_arn: str,
    ) -> None:
        self._client = client
        self._group_name = group_name
        self._target_arn = target_arn
        self._role_arn = role_arn
        self._dead_letter_arn = dead_letter_arn

    def schedule(self, job: ScheduledJob, at: datetime) -> str:
        """Create the schedule; an existing one with the same name is left as it is."""
        name = schedule_name_for(job.job_id)
        moment = at.astimezone(UTC).replace(tzinfo=None, microsecond=0)
        with contextlib.suppress(self._client.exceptions.ConflictException):
            self._client.create_schedule(
                Name=name,
                GroupName=self._group_name,
                ScheduleExpression=f"at({moment.isoformat()})",
                ScheduleExpressionTimezone="UTC",
                FlexibleTimeWindow=FLEXIBLE_WINDOW_OFF,  # type: ignore[arg-type]
                ActionAfterCompletion="DELETE",
                Target={
                    "Arn": self._target_arn,
                    "RoleArn": self._role_arn,
                    "Input": json.dumps(job.model_dump(mode="json"), ensure_ascii=False),
                    "RetryPolicy": {
                        "MaximumRetryAttempts": SCHEDULE_RETRY_POLICY.max_retry_attempts,
                        "MaximumEventAgeInSeconds": SCHEDULE_RETRY_POLICY.max_event_age_seconds,
                    },
                    "DeadLetterConfig": {"Arn": self._dead_letter_arn},
                },
            )
        return name

    def cancel(self, job_id: str) -> bool:
        try:
            self._client.delete_schedule(Name=schedule_name_for(job_id), GroupName=self._group_name)
        except self._client.exceptions.ResourceNotFoundException:
            return False
        return True
