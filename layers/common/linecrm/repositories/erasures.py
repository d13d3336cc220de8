"""Erasure records: which friends were deleted on request, without keeping their ids.

One item per erased friend, keyed by a SHA-256 of channel and user id (a LINE user id
is 128 random bits, so the digest cannot be turned back into the id by guessing).
Imports look a user id up here and do not re-create a friend erased on request; a new
follow is a new consent and creates the friend again (README, "Erasure").
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import TYPE_CHECKING

from linecrm.repositories.dynamo import iso, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

ERASURE_SK = "ERASURE"


def erasure_digest(channel_id: str, user_id: str) -> str:
    return hashlib.sha256(f"{channel_id}\0{user_id}".encode()).hexdigest()


def _key(channel_id: str, user_id: str) -> dict[str, str]:
    return {"pk": f"CH#{channel_id}#ERASED#{erasure_digest(channel_id, user_id)}", "sk": ERASURE_SK}


class ErasureRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def record(self, channel_id: str, user_id: str, at: datetime) -> None:
        self._client.put_item(
            TableName=self._table_name,
            Item=to_item({**_key(channel_id, user_id), "erased_at": iso(at)}),
        )

    def is_erased(self, channel_id: str, user_id: str) -> bool:
        response = self._client.get_item(
            TableName=self._table_name,
            Key=to_item(_key(channel_id, user_id)),
            ConsistentRead=True,
            ProjectionExpression="pk",
        )
        return "Item" in response
