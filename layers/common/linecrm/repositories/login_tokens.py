"""Spent login tokens: one item per consumed ``jti`` (main table, docs/data-model.md).

``CH#<channel>#LOGINJTI#<jti>`` / ``LOGINJTI``: when it was consumed. Written with
``attribute_not_exists``, so of two consumes of the same token exactly one succeeds.
The token itself stops working at its ``exp``; the item stays a day past it (TTL
``expires_at``) to tell a replay apart in logs. It names no member or friend.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from linecrm.repositories.dynamo import is_conditional_check_failure, iso, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

SPENT_SK = "LOGINJTI"
SPENT_RECORD_KEPT = timedelta(days=1)


def spent_pk(channel_id: str, jti: str) -> str:
    return f"CH#{channel_id}#LOGINJTI#{jti}"


class SpentLoginTokens:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def spend(self, channel_id: str, jti: str, *, now: datetime, expires_at: datetime) -> bool:
        """Mark the token used: True the first time, False ever after (a replay)."""
        try:
            self._client.put_item(
                TableName=self._table,
                Item=to_item(
                    {
                        "pk": spent_pk(channel_id, jti),
                        "sk": SPENT_SK,
                        "consumed_at": iso(now),
                        "expires_at": int((expires_at + SPENT_RECORD_KEPT).timestamp()),
                    }
                ),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except Exception as error:
            if is_conditional_check_failure(error):
                return False
            raise
        return True
