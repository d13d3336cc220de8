"""Per-channel settings kept in the main table (welcome message, …)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from linecrm.models.send import MAX_MESSAGES_PER_REQUEST
from linecrm.repositories.dynamo import to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

SETTINGS_SK = "SETTINGS"


def settings_key(channel_id: str) -> dict[str, str]:
    return {"pk": f"CH#{channel_id}", "sk": SETTINGS_SK}


class ChannelSettingsRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def welcome_messages(self, channel_id: str) -> list[dict[str, Any]]:
        response = self._client.get_item(
            TableName=self._table_name,
            Key=to_item(settings_key(channel_id)),
            ProjectionExpression="welcome_messages",
        )
        raw = response.get("Item", {}).get("welcome_messages", {}).get("S")
        messages: list[dict[str, Any]] = json.loads(raw) if raw else []
        return messages

    def set_welcome_messages(self, channel_id: str, messages: list[dict[str, Any]]) -> None:
        if len(messages) > MAX_MESSAGES_PER_REQUEST:
            raise ValueError(f"at most {MAX_MESSAGES_PER_REQUEST} welcome messages")
        self._client.update_item(
            TableName=self._table_name,
            Key=to_item(settings_key(channel_id)),
            UpdateExpression="SET welcome_messages = :messages",
            ExpressionAttributeValues=to_item(
                {":messages": json.dumps(messages, ensure_ascii=False)}
            ),
        )
