"""Write-sharded index keys, and reading them back as one ordered list.

A list that every write of a channel touches (its friends, its deliveries, a tag's
members) would put all those writes on one index partition, which DynamoDB caps at
about 1,000 writes/s. So each list is ``SHARDS`` index partitions, ``<list key>#<n>``,
with ``n`` a stable hash of the item's own id: writes spread evenly, and a list reads
all shards and merges them by sort key. Sort keys are unique within a list (they end
in the item's id), so "after sort key X" (a cursor) is one position in every shard.

See docs/data-model.md.
"""

from __future__ import annotations

import heapq
import zlib
from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from linecrm.repositories.dynamo import from_item, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# 16 shards: the hottest shard takes about 1/16 (6 %) of a list's writes, so one list
# sustains about 16,000 writes/s; a page of 50 reads 16 small queries.
SHARDS = 16


def shard_of(item_id: str) -> int:
    """The item's shard (CRC-32: stable across processes and Python versions)."""
    return zlib.crc32(item_id.encode()) % SHARDS


def sharded_key(list_key: str, item_id: str) -> str:
    return f"{list_key}#{shard_of(item_id)}"


def all_shard_keys(list_key: str) -> list[str]:
    return [f"{list_key}#{shard}" for shard in range(SHARDS)]


def per_shard_limit(limit: int) -> int:
    """Query Limit per shard for a merged page of ``limit``: an even share plus a
    little, so a page reads about ``limit`` items plus a few per shard."""
    return -(-limit // SHARDS) + 2


class _ShardStream:
    """One shard's items in index order, fetched a page at a time on demand."""

    def __init__(self, client: DynamoDBClient, request: dict[str, Any]) -> None:
        self._client = client
        self._request = request
        self._buffer: deque[dict[str, Any]] = deque()
        self._done = False

    def head(self) -> dict[str, Any] | None:
        while not self._buffer and not self._done:
            response = self._client.query(**self._request)
            self._buffer.extend(from_item(item) for item in response.get("Items", []))
            if "LastEvaluatedKey" in response:
                self._request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
            else:
                self._done = True
        return self._buffer[0] if self._buffer else None

    def pop(self) -> dict[str, Any]:
        return self._buffer.popleft()


class _Descending:
    __slots__ = ("value",)

    def __init__(self, value: str) -> None:
        self.value = value

    def __lt__(self, other: _Descending) -> bool:
        return self.value > other.value


def merged_query(
    client: DynamoDBClient,
    *,
    table_name: str,
    index_name: str,
    partition_attribute: str,
    sort_attribute: str,
    list_key: str,
    page_limit: int,
    descending: bool = False,
    after: str | None = None,
    filter_expression: str | None = None,
    names: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Iterator[dict[str, Any]]:
    """Every item of the sharded list ``list_key`` in sort-key order (descending if
    asked), starting after sort key ``after``; plain values. Lazy: each shard is read
    ``page_limit`` items at a time, only as far as the caller consumes."""
    streams: list[_ShardStream] = []
    for shard_key in all_shard_keys(list_key):
        condition = f"{partition_attribute} = :shard"
        shard_values: dict[str, Any] = {**(values or {}), ":shard": shard_key}
        if after is not None:
            condition += f" AND {sort_attribute} {'<' if descending else '>'} :after"
            shard_values[":after"] = after
        request: dict[str, Any] = {
            "TableName": table_name,
            "IndexName": index_name,
            "KeyConditionExpression": condition,
            "ExpressionAttributeValues": to_item(shard_values),
            "ScanIndexForward": not descending,
            "Limit": page_limit,
        }
        if filter_expression:
            request["FilterExpression"] = filter_expression
        if names:
            request["ExpressionAttributeNames"] = names
        streams.append(_ShardStream(client, request))

    def order(item: dict[str, Any]) -> Any:
        value = str(item[sort_attribute])
        return _Descending(value) if descending else value

    heap: list[tuple[Any, int]] = []
    for number, stream in enumerate(streams):
        head = stream.head()
        if head is not None:
            heap.append((order(head), number))
    heapq.heapify(heap)
    while heap:
        _, number = heapq.heappop(heap)
        yield streams[number].pop()
        head = streams[number].head()
        if head is not None:
            heapq.heappush(heap, (order(head), number))
