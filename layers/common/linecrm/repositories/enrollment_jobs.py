"""Segment enrolment jobs: ``pk = CH#<channel>#SCENROLL#<scenario>``, ``sk = JOB#<job id>``.

One item per job (segment, status, cursor, counts, times). Not under the channel's
own partition (the webhook reads that one whole). Every write bumps ``version`` and is
conditional on it; a step advances the job only while it holds the lease
(``lease_token``), so two concurrent steps cannot both walk the same page.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from linecrm.repositories.dynamo import from_item, is_conditional_check_failure, iso, to_item
from linecrm.scenarios.enrollment_jobs import (
    EnrollmentCounts,
    EnrollmentJobBusy,
    SegmentEnrollmentJob,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

JOB_PREFIX = "JOB#"


def enrollment_jobs_pk(channel_id: str, scenario_id: str) -> str:
    return f"CH#{channel_id}#SCENROLL#{scenario_id}"


def enrollment_job_key(channel_id: str, scenario_id: str, job_id: str) -> dict[str, str]:
    return {"pk": enrollment_jobs_pk(channel_id, scenario_id), "sk": JOB_PREFIX + job_id}


class EnrollmentJobRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def get(self, channel_id: str, scenario_id: str, job_id: str) -> SegmentEnrollmentJob | None:
        response = self._client.get_item(
            TableName=self._table_name,
            Key=to_item(enrollment_job_key(channel_id, scenario_id, job_id)),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return _job(item) if item else None

    def create(self, job: SegmentEnrollmentJob) -> None:
        values = job.model_dump(mode="json", exclude_none=True)
        self._client.put_item(
            TableName=self._table_name,
            Item=to_item(
                {**values, **enrollment_job_key(job.channel_id, job.scenario_id, job.job_id)}
            ),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def claim(
        self, job: SegmentEnrollmentJob, token: str, now: datetime, lease_until: datetime
    ) -> SegmentEnrollmentJob:
        """Take the job for one step: EnrollmentJobBusy when another step holds it or it
        changed since it was read."""
        return self._update(
            job,
            "SET lease_token = :token, lease_expires_at = :until, steps = steps + :one, "
            "updated_at = :now, version = version + :one",
            "version = :version AND #status = :running AND "
            "(attribute_not_exists(lease_token) OR lease_expires_at <= :now)",
            {":running": "running", ":now": iso(now), ":token": token, ":until": iso(lease_until)},
        )

    def checkpoint(
        self,
        job: SegmentEnrollmentJob,
        token: str,
        *,
        after_user_id: str | None,
        counts: EnrollmentCounts,
        now: datetime,
        done: bool = False,
    ) -> SegmentEnrollmentJob:
        """Save cursor and counts (one write) while holding the lease; ``done`` finishes
        the job and frees it."""
        values: dict[str, Any] = {
            ":counts": counts.model_dump(mode="json"),
            ":now": iso(now),
            ":token": token,
        }
        expression = "SET counts = :counts, updated_at = :now, version = version + :one"
        if after_user_id is not None:
            expression += ", after_user_id = :after"
            values[":after"] = after_user_id
        if done:
            expression += ", #status = :done, finished_at = :now REMOVE lease_token, "
            expression += "lease_expires_at"
            values[":done"] = "done"
        return self._update(job, expression, "version = :version AND lease_token = :token", values)

    def release(self, job: SegmentEnrollmentJob, token: str, now: datetime) -> SegmentEnrollmentJob:
        """End the step, its pages saved: the next one may claim the job at once."""
        return self._update(
            job,
            "SET updated_at = :now, version = version + :one REMOVE lease_token, lease_expires_at",
            "version = :version AND lease_token = :token",
            {":now": iso(now), ":token": token},
        )

    def abandon(self, job: SegmentEnrollmentJob, token: str, now: datetime) -> SegmentEnrollmentJob:
        """End the lease now but keep its token: the step failed amid a page, and the
        step that claims the job next sees that it takes over an unfinished page. On the
        token alone: the step may have saved pages since it read ``job``."""
        return self._update(
            job,
            "SET lease_expires_at = :now, updated_at = :now, version = version + :one",
            "lease_token = :token",
            {":now": iso(now), ":token": token},
        )

    def fail(
        self, channel_id: str, scenario_id: str, job_id: str, reason: str, now: datetime
    ) -> None:
        """Mark the job failed (whoever holds it); a finished job stays as it is."""
        try:
            self._client.update_item(
                TableName=self._table_name,
                Key=to_item(enrollment_job_key(channel_id, scenario_id, job_id)),
                UpdateExpression=(
                    "SET #status = :failed, reason = :reason, finished_at = :now, "
                    "updated_at = :now, version = version + :one "
                    "REMOVE lease_token, lease_expires_at"
                ),
                ConditionExpression="attribute_exists(pk) AND #status = :running",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_item(
                    {
                        ":failed": "failed",
                        ":reason": reason,
                        ":now": iso(now),
                        ":one": 1,
                        ":running": "running",
                    }
                ),
            )
        except Exception as error:
            if not is_conditional_check_failure(error):
                raise

    def _update(
        self,
        job: SegmentEnrollmentJob,
        expression: str,
        condition: str,
        values: dict[str, Any],
    ) -> SegmentEnrollmentJob:
        request: dict[str, Any] = {
            "TableName": self._table_name,
            "Key": to_item(enrollment_job_key(job.channel_id, job.scenario_id, job.job_id)),
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": to_item({":one": 1, **values}),
            "ReturnValues": "ALL_NEW",
        }
        # Names and values given must be used.
        if ":version" in condition:
            request["ExpressionAttributeValues"].update(to_item({":version": job.version}))
        if "#status" in expression + condition:
            request["ExpressionAttributeNames"] = {"#status": "status"}
        try:
            response = self._client.update_item(**request)
        except Exception as error:
            if is_conditional_check_failure(error):
                raise EnrollmentJobBusy(
                    f"enrolment job {job.job_id} is held by another step or changed"
                ) from error
            raise
        return _job(response["Attributes"])


def _job(item: dict[str, Any]) -> SegmentEnrollmentJob:
    return SegmentEnrollmentJob.model_validate(from_item(item))
