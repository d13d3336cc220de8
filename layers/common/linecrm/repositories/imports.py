"""Import jobs: ``pk = CH#<channel>#IMPORTS``, ``sk = IMPORT#<job id>``.

Not under the channel's own partition (``CH#<channel>``): the webhook reads that one
whole. Every write bumps ``version`` and is conditional on it; a step runs the job only
while it holds the lease (``lease_token``), so two concurrent steps cannot both advance
the cursor.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from linecrm.imports.models import ImportCounters, ImportCursor, ImportJob, Rejection
from linecrm.repositories.dynamo import from_item, is_conditional_check_failure, iso, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

JOB_PREFIX = "IMPORT#"
MAX_RECENT = 50


def imports_pk(channel_id: str) -> str:
    return f"CH#{channel_id}#IMPORTS"


def import_key(channel_id: str, job_id: str) -> dict[str, str]:
    return {"pk": imports_pk(channel_id), "sk": JOB_PREFIX + job_id}


class ImportNotFound(LookupError):
    def __init__(self, channel_id: str, job_id: str) -> None:
        super().__init__(f"no import job {job_id} in channel {channel_id}")
        self.job_id = job_id


class JobBusy(RuntimeError):
    """Another step holds the job, or the job changed since it was read."""


class ImportJobRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    # ------------------------------------------------------------------ reads
    def get(self, channel_id: str, job_id: str) -> ImportJob | None:
        response = self._client.get_item(
            TableName=self._table_name,
            Key=to_item(import_key(channel_id, job_id)),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return _job(item) if item else None

    def recent(self, channel_id: str, limit: int = 20) -> list[ImportJob]:
        """The channel's latest jobs, newest first (job ids sort by creation time)."""
        response = self._client.query(
            TableName=self._table_name,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues=to_item({":pk": imports_pk(channel_id)}),
            ScanIndexForward=False,
            Limit=max(1, min(limit, MAX_RECENT)),
        )
        return [_job(item) for item in response.get("Items", [])]

    # ------------------------------------------------------------------ writes
    def create(self, job: ImportJob) -> None:
        values = job.model_dump(mode="json", exclude_none=True)
        self._client.put_item(
            TableName=self._table_name,
            Item=to_item({**values, **import_key(job.channel_id, job.job_id)}),
            ConditionExpression="attribute_not_exists(pk)",
        )

    def claim(self, job: ImportJob, token: str, now: datetime, lease_until: datetime) -> ImportJob:
        """Take the job for one step: JobBusy when another step holds it or it changed."""
        return self._update(
            job,
            "SET #status = :running, started_at = if_not_exists(started_at, :now), "
            "lease_token = :token, lease_expires_at = :until, steps = steps + :one, "
            "updated_at = :now, version = version + :one",
            "version = :version AND #status IN (:pending, :running) AND "
            "(attribute_not_exists(lease_token) OR lease_expires_at < :now)",
            {
                ":running": "running",
                ":pending": "pending",
                ":now": iso(now),
                ":token": token,
                ":until": iso(lease_until),
                ":one": 1,
            },
        )

    def checkpoint(
        self,
        job: ImportJob,
        token: str,
        *,
        cursor: ImportCursor,
        counters: ImportCounters,
        rejections: list[Rejection],
        now: datetime,
        done: bool = False,
    ) -> ImportJob:
        """Save progress while holding the lease; ``done`` finishes the job and frees it."""
        values: dict[str, Any] = {
            ":cursor": cursor.model_dump(mode="json"),
            ":counters": counters.model_dump(mode="json"),
            ":rejections": [rejection.model_dump(mode="json") for rejection in rejections],
            ":now": iso(now),
            ":one": 1,
            ":token": token,
            ":version": job.version,
        }
        expression = (
            "SET #cursor = :cursor, counters = :counters, rejections = :rejections, "
            "updated_at = :now, version = version + :one"
        )
        if done:
            expression += ", #status = :done, finished_at = :now REMOVE lease_token, "
            expression += "lease_expires_at"
            values[":done"] = "done"
        return self._update(job, expression, "version = :version AND lease_token = :token", values)

    def release(self, job: ImportJob, token: str, now: datetime) -> ImportJob:
        """End the step: the next one may claim the job at once."""
        return self._update(
            job,
            "SET updated_at = :now, version = version + :one REMOVE lease_token, lease_expires_at",
            "version = :version AND lease_token = :token",
            {":now": iso(now), ":one": 1, ":token": token},
        )

    def fail(self, channel_id: str, job_id: str, reason: str, now: datetime) -> None:
        """Mark the job failed (whoever holds it); a finished job stays as it is."""
        try:
            self._client.update_item(
                TableName=self._table_name,
                Key=to_item(import_key(channel_id, job_id)),
                UpdateExpression=(
                    "SET #status = :failed, #error = :reason, finished_at = :now, "
                    "updated_at = :now, version = version + :one "
                    "REMOVE lease_token, lease_expires_at"
                ),
                ConditionExpression="attribute_exists(pk) AND #status IN (:pending, :running)",
                ExpressionAttributeNames={"#status": "status", "#error": "error"},
                ExpressionAttributeValues=to_item(
                    {
                        ":failed": "failed",
                        ":reason": reason[:1000],
                        ":now": iso(now),
                        ":one": 1,
                        ":pending": "pending",
                        ":running": "running",
                    }
                ),
            )
        except Exception as error:
            if not is_conditional_check_failure(error):
                raise

    # ------------------------------------------------------------------ internals
    def _update(
        self,
        job: ImportJob,
        expression: str,
        condition: str,
        values: dict[str, Any],
    ) -> ImportJob:
        names = {"#status": "status", "#cursor": "cursor"}
        used = {name: value for name, value in names.items() if name in expression + condition}
        try:
            response = self._client.update_item(
                TableName=self._table_name,
                Key=to_item(import_key(job.channel_id, job.job_id)),
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeNames=used,
                ExpressionAttributeValues=to_item({":version": job.version, **values}),
                ReturnValues="ALL_NEW",
            )
        except Exception as error:
            if is_conditional_check_failure(error):
                raise JobBusy(f"import job {job.job_id} is held by another step") from error
            raise
        return _job(response["Attributes"])


def _job(item: dict[str, Any]) -> ImportJob:
    return ImportJob.model_validate(from_item(item))
