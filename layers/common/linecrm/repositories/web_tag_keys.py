"""Web tag keys (docs/web-tag.md): two items per key in the main table.

- ``WEBTAGKEY#<key>`` / ``KEY``: the key's channel, origins and limits (the events
  function looks a request's key up with one GetItem);
- ``CH#<channel>`` / ``WEBTAGKEY#<key>``: the same, under the channel (the admin
  listing: one Query of the channel's partition, no scan).

Both are written (and deleted) in one transaction, so they never disagree.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from linecrm.domain.web_tag import MAX_KEYS_PER_CHANNEL, WebTagKey
from linecrm.repositories.dynamo import from_item, iso, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

KEY_SK = "KEY"
LISTING_PREFIX = "WEBTAGKEY#"
# A revoked key keeps working in a warm container for at most this long.
KEY_CACHE_SECONDS = 60.0


def key_pk(key: str) -> str:
    return f"WEBTAGKEY#{key}"


def channel_pk(channel_id: str) -> str:
    return f"CH#{channel_id}"


class TooManyKeys(Exception):
    """The channel has ``MAX_KEYS_PER_CHANNEL`` keys already."""


class WebTagKeyRepository:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._table = table_name
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, WebTagKey | None]] = {}
        self._lock = threading.Lock()

    def create(self, key: WebTagKey) -> None:
        if len(self.list(key.channel_id)) >= MAX_KEYS_PER_CHANNEL:
            raise TooManyKeys(
                f"a channel has at most {MAX_KEYS_PER_CHANNEL} web tag keys; revoke one first"
            )
        values = _values(key)
        self._client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": to_item({"pk": key_pk(key.key), "sk": KEY_SK, **values}),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": to_item(
                            {
                                "pk": channel_pk(key.channel_id),
                                "sk": LISTING_PREFIX + key.key,
                                **values,
                            }
                        ),
                    }
                },
            ]
        )

    def list(self, channel_id: str) -> list[WebTagKey]:
        """The channel's keys, oldest first (at most ``MAX_KEYS_PER_CHANNEL``)."""
        answer = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=to_item(
                {":pk": channel_pk(channel_id), ":prefix": LISTING_PREFIX}
            ),
        )
        keys = [_key(from_item(item)) for item in answer.get("Items", [])]
        return sorted(keys, key=lambda key: key.created_at)

    def get(self, key: str) -> WebTagKey | None:
        """The key (one GetItem, cached ``KEY_CACHE_SECONDS`` per container)."""
        now = self._monotonic()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and now - cached[0] < KEY_CACHE_SECONDS:
                return cached[1]
        answer = self._client.get_item(
            TableName=self._table, Key=to_item({"pk": key_pk(key), "sk": KEY_SK})
        )
        found = _key(from_item(answer["Item"])) if "Item" in answer else None
        with self._lock:
            if len(self._cache) > 1000:  # unknown keys cannot grow it without bound
                self._cache.clear()
            self._cache[key] = (now, found)
        return found

    def revoke(self, channel_id: str, key: str) -> bool:
        """Delete the key; False when the channel has no such key."""
        stored = self.get_uncached(key)
        if stored is None or stored.channel_id != channel_id:
            return False
        self._client.transact_write_items(
            TransactItems=[
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": to_item({"pk": key_pk(key), "sk": KEY_SK}),
                    }
                },
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": to_item({"pk": channel_pk(channel_id), "sk": LISTING_PREFIX + key}),
                    }
                },
            ]
        )
        with self._lock:
            self._cache.pop(key, None)
        return True

    def get_uncached(self, key: str) -> WebTagKey | None:
        answer = self._client.get_item(
            TableName=self._table,
            Key=to_item({"pk": key_pk(key), "sk": KEY_SK}),
            ConsistentRead=True,
        )
        return _key(from_item(answer["Item"])) if "Item" in answer else None


def _values(key: WebTagKey) -> dict[str, Any]:
    return {
        "key": key.key,
        "channel_id": key.channel_id,
        "origins": list(key.origins),
        "label": key.label,
        "rate_per_minute": key.rate_per_minute,
        "visitor_rate_per_minute": key.visitor_rate_per_minute,
        "created_at": iso(key.created_at),
    }


def _key(values: dict[str, Any]) -> WebTagKey:
    return WebTagKey.model_validate(
        {**values, "created_at": datetime.fromisoformat(values["created_at"])}
    )
