"""Fixed-window request counters in the main table (the web tag's rate limits).

``RATE#<scope>#<window start>`` / ``RATE``: ``count``, incremented by one conditional
UpdateItem per request (``count < limit``), so of N concurrent requests exactly
``limit`` pass. The item expires (TTL) a minute after its window. Why DynamoDB and not
an API Gateway usage plan: the HTTP API has none (usage plans and API keys are REST API
features), and a plan counts per API key, never per visitor id.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from linecrm.domain.web_tag import RATE_WINDOW, RateWindow, rate_window
from linecrm.repositories.dynamo import is_conditional_check_failure, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

RATE_SK = "RATE"
KEPT_AFTER_WINDOW = timedelta(minutes=1)


def rate_pk(scope: str, window: RateWindow) -> str:
    return f"RATE#{scope}#{int(window.start.timestamp())}"


class FixedWindowLimiter:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def hit(
        self, scope: str, limit: int, now: datetime, length: timedelta = RATE_WINDOW
    ) -> int | None:
        """Count one request of ``scope``: None when it is within ``limit`` for the
        current window, else the seconds until the window ends (Retry-After)."""
        window = rate_window(now, length)
        try:
            self._client.update_item(
                TableName=self._table,
                Key=to_item({"pk": rate_pk(scope, window), "sk": RATE_SK}),
                UpdateExpression="ADD #count :one SET expires_at = :expires",
                ConditionExpression="attribute_not_exists(#count) OR #count < :limit",
                ExpressionAttributeNames={"#count": "count"},
                ExpressionAttributeValues=to_item(
                    {
                        ":one": 1,
                        ":limit": limit,
                        ":expires": int((window.ends_at + KEPT_AFTER_WINDOW).timestamp()),
                    }
                ),
            )
        except Exception as error:
            if is_conditional_check_failure(error):
                return window.retry_after_seconds(now)
            raise
        return None
