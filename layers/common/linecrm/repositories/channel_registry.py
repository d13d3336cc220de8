"""Which channel ids this deployment serves: one ``CH#<channel>`` / ``CHANNEL`` item each.

A channel exists when its credentials secret does (``linecrm/channel/<id>``), but only
the webhook may read secrets. So the webhook records a channel here when a correctly
signed request without events arrives (LINE's **Verify** button), and provisioning writes
it for the local stack's channels; the admin API answers 404 "unknown channel", and
writes nothing, for any other id. A warm admin function checks a known channel once per
``ttl`` (one GetItem), an unknown one on every request (so a channel just set up works
at once). The items are also listed in ``gsi1`` under ``CHANNELS`` (``channel_ids``),
for jobs that visit every channel (the hourly insight fetch).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from linecrm.repositories.channel_config import channel_pk
from linecrm.repositories.dynamo import to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

CHANNEL_SK = "CHANNEL"
# The registry items are also listed in gsi1 under this key (one item per channel).
CHANNEL_LIST_PK = "CHANNELS"


class ChannelRegistry:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        clock: Callable[[], datetime],
        ttl: timedelta = timedelta(minutes=5),
    ) -> None:
        self._client = client
        self._table_name = table_name
        self._clock = clock
        self._ttl = ttl
        self._known: dict[str, datetime] = {}  # channel id -> when last seen in the table

    def is_known(self, channel_id: str) -> bool:
        now = self._clock()
        seen = self._known.get(channel_id)
        if seen is not None and now - seen < self._ttl:
            return True
        response = self._client.get_item(
            TableName=self._table_name,
            Key=to_item({"pk": channel_pk(channel_id), "sk": CHANNEL_SK}),
            ProjectionExpression="pk",
        )
        if "Item" not in response:
            self._known.pop(channel_id, None)
            return False
        self._known[channel_id] = now
        return True

    def register(self, channel_id: str) -> None:
        """Record the channel (idempotent; once per ``ttl`` per container)."""
        now = self._clock()
        seen = self._known.get(channel_id)
        if seen is not None and now - seen < self._ttl:
            return
        self._client.update_item(
            TableName=self._table_name,
            Key=to_item({"pk": channel_pk(channel_id), "sk": CHANNEL_SK}),
            UpdateExpression="SET registered_at = if_not_exists(registered_at, :now), "
            "gsi1pk = :list, gsi1sk = :channel",
            ExpressionAttributeValues=to_item(
                {":now": now.isoformat(), ":list": CHANNEL_LIST_PK, ":channel": channel_id}
            ),
        )
        self._known[channel_id] = now

    def channel_ids(self) -> list[str]:
        """Every registered channel (jobs that visit each channel, e.g. the insight
        fetch): one index query, never a scan."""
        found: list[str] = []
        request: dict[str, Any] = {
            "TableName": self._table_name,
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :list",
            "ExpressionAttributeValues": to_item({":list": CHANNEL_LIST_PK}),
        }
        while True:
            page = self._client.query(**request)
            found.extend(str(item["gsi1sk"]["S"]) for item in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return found
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
