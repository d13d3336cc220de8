"""The progress of one bucket's fire, and the sweeper's list of buckets not done.

A bucket (scenario, version, step, due minute) is fired in three phases, each
recorded here so that a second, late or retried fire repeats none of them:
``planned`` (the chunk ledger rows are written: who gets what is decided),
``enqueued`` (the chunks are on the send queue) and ``done`` (every enrolment moved
on). The sweeper's list (``SCBUCKETS#<shard>``, sort key = due minute first) holds a
bucket from its schedule's creation until its fire is done: an overdue bucket still
in it lost its schedule (or its fire failed) and is fired by the sweeper.

A bucket too big for one invocation is *split* instead of planned: its state records
the parts (user-id ranges, see ``BucketPart``), each part is listed for the sweeper
and fired on the job queue with phases of its own, and the bucket itself is done once
its parts are listed and queued.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from linecrm.models.jobs import BucketPart, FireScenarioStep
from linecrm.repositories.dynamo import (
    batch_write,
    from_item,
    is_conditional_check_failure,
    iso,
    to_item,
)
from linecrm.repositories.sharding import SHARDS, shard_of

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

FIRE_SK = "FIRE"


@dataclass(frozen=True)
class FireState:
    planned: bool = False
    chunks: int = 0
    enqueued: bool = False
    done: bool = False
    parts: tuple[BucketPart, ...] = ()  # a split bucket's parts


def bucket_id(job: FireScenarioStep) -> str:
    """The bucket's id, or the part's (a part has phases of its own)."""
    bucket = f"{job.channel_id}#{job.scenario_id}#{job.version}#{job.step_id}#{job.minute}"
    return bucket if job.part is None else f"{bucket}#p{job.part.index}"


class ScenarioFireRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def state(self, job: FireScenarioStep) -> FireState:
        item = self._client.get_item(
            TableName=self._table_name, Key=self._key(job), ConsistentRead=True
        ).get("Item")
        if not item:
            return FireState()
        values = from_item(item)
        return FireState(
            planned=bool(values.get("planned")),
            chunks=int(values.get("chunks", 0)),
            enqueued=bool(values.get("enqueued")),
            done=bool(values.get("done")),
            parts=tuple(
                BucketPart.model_validate(part) for part in json.loads(values.get("parts", "[]"))
            ),
        )

    def mark_planned(
        self,
        job: FireScenarioStep,
        chunks: int,
        at: datetime,
        parts: Sequence[BucketPart] = (),
    ) -> bool:
        """Record the plan: ``chunks`` ledger rows, or the ``parts`` of a split bucket.
        False when another fire planned it first (its plan stands)."""
        values: dict[str, Any] = {":yes": True, ":chunks": chunks, ":at": iso(at)}
        update = "SET planned = :yes, chunks = :chunks, planned_at = :at"
        if parts:
            update += ", parts = :parts"
            values[":parts"] = json.dumps([part.model_dump() for part in parts])
        try:
            self._client.update_item(
                TableName=self._table_name,
                Key=self._key(job),
                UpdateExpression=update,
                ConditionExpression="attribute_not_exists(planned)",
                ExpressionAttributeValues=to_item(values),
            )
        except Exception as error:
            if is_conditional_check_failure(error):
                return False
            raise
        return True

    def mark(self, job: FireScenarioStep, flag: str, at: datetime) -> None:
        self._client.update_item(
            TableName=self._table_name,
            Key=self._key(job),
            UpdateExpression=f"SET {flag} = :yes, {flag}_at = :at",
            ExpressionAttributeValues=to_item({":yes": True, ":at": iso(at)}),
        )

    # ------------------------------------------------------------ the sweeper's list
    def register(self, job: FireScenarioStep) -> None:
        self._client.put_item(
            TableName=self._table_name,
            Item=to_item({**self._listed(job), "job": job.model_dump_json()}),
        )

    def register_many(self, jobs: Sequence[FireScenarioStep]) -> None:
        """List many (a split bucket's parts) in batches."""
        batch_write(
            self._client,
            self._table_name,
            [
                {
                    "PutRequest": {
                        "Item": to_item({**self._listed(job), "job": job.model_dump_json()})
                    }
                }
                for job in jobs
            ],
        )

    def unregister(self, job: FireScenarioStep) -> None:
        self._client.delete_item(TableName=self._table_name, Key=to_item(self._listed(job)))

    def overdue(self, before_minute: str) -> Iterator[FireScenarioStep]:
        """Buckets due before ``before_minute`` whose fire is not done (every shard)."""
        for shard in range(SHARDS):
            request: dict[str, Any] = {
                "TableName": self._table_name,
                "KeyConditionExpression": "pk = :pk AND sk < :before",
                "ExpressionAttributeValues": to_item(
                    {":pk": f"SCBUCKETS#{shard}", ":before": before_minute}
                ),
            }
            while True:
                page = self._client.query(**request)
                for item in page.get("Items", []):
                    yield FireScenarioStep.model_validate_json(str(from_item(item)["job"]))
                if "LastEvaluatedKey" not in page:
                    break
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def _listed(self, job: FireScenarioStep) -> dict[str, str]:
        bucket = bucket_id(job)
        return {"pk": f"SCBUCKETS#{shard_of(bucket)}", "sk": f"{job.minute}#{bucket}"}

    def _key(self, job: FireScenarioStep) -> dict[str, Any]:
        return to_item({"pk": f"CH#{job.channel_id}#SCFIRE#{bucket_id(job)}", "sk": FIRE_SK})
