"""Broadcast preview jobs: ``pk = CH#<channel>#PREVIEW#<id>``, ``sk = PREVIEW``.

A preview of a big channel counts its friends in job steps; the job (request, cursor,
tally so far, result) is one JSON document that expires a day after its last write.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from linecrm.broadcasts.service import PreviewJob
from linecrm.repositories.dynamo import from_item, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

PREVIEW_SK = "PREVIEW"
KEEP_FOR = timedelta(days=1)


def preview_key(channel_id: str, preview_id: str) -> dict[str, str]:
    return {"pk": f"CH#{channel_id}#PREVIEW#{preview_id}", "sk": PREVIEW_SK}


class PreviewStore:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def put(self, job: PreviewJob) -> None:
        self._client.put_item(
            TableName=self._table_name,
            Item=to_item(
                {
                    **preview_key(job.channel_id, job.preview_id),
                    "job": job.model_dump_json(),
                    "expires_at": int((job.updated_at + KEEP_FOR).timestamp()),
                }
            ),
        )

    def get(self, channel_id: str, preview_id: str) -> PreviewJob | None:
        response = self._client.get_item(
            TableName=self._table_name,
            Key=to_item(preview_key(channel_id, preview_id)),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return PreviewJob.model_validate_json(from_item(item)["job"]) if item else None
