"""A friend's activity rows (tag and field changes, for the friend's timeline) and the
channel's tag usage counters.

Activity: one item per change in the friend's partition (``sk = ACT#<at>#<id>``), kept
``ACTIVITY_DAYS`` (the table's TTL attribute ``expires_at``), so export and erasure see
them with the friend's other items. One PutItem per change, written by
``FriendRepository.apply_change`` — every path that changes tags or fields goes through
it (the admin, auto-response rules and other automation, inflow routes, imports).

Tag counters: how many friends hold each tag, kept as numbers on ``SHARDS`` items, one
partition each (``pk = CH#<channel>#TAGCOUNT#<n>``, one attribute per tag id; the shard
from the friend's user id, so a bulk change or a popular tag spreads its writes over 16
partitions). One UpdateItem per change that really adds or removes a tag; reading them
is one BatchGetItem of the 16 items.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from linecrm.repositories.dynamo import from_item, iso, to_item
from linecrm.repositories.sharding import SHARDS, shard_of

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

ACTIVITY_PREFIX = "ACT#"
ACTIVITY_DAYS = 400  # as long as behaviour events stay on the friend's timeline
TAG_COUNT_PREFIX = "TAGCOUNT#"


@dataclass(frozen=True)
class Activity:
    """A tag or field change of one friend."""

    at: datetime
    kind: str  # "tags" | "fields"
    source: str  # "admin", "import", "rule:<id>", "automation", …
    added_tags: tuple[str, ...] = ()
    removed_tags: tuple[str, ...] = ()
    set_fields: Mapping[str, Any] | None = None
    cleared_fields: tuple[str, ...] = ()
    sort_key: str = ""


def activity_sk(at: datetime) -> str:
    return f"{ACTIVITY_PREFIX}{iso(at)}#{uuid.uuid4().hex[:8]}"


def activity_item(pk: str, channel_id: str, user_id: str, activity: Activity) -> dict[str, Any]:
    item: dict[str, Any] = {
        "pk": pk,
        "sk": activity_sk(activity.at),
        "channel_id": channel_id,
        "user_id": user_id,
        "at": iso(activity.at),
        "kind": activity.kind,
        "source": activity.source,
        "expires_at": int((activity.at + timedelta(days=ACTIVITY_DAYS)).timestamp()),
    }
    if activity.added_tags:
        item["added_tags"] = list(activity.added_tags)
    if activity.removed_tags:
        item["removed_tags"] = list(activity.removed_tags)
    if activity.set_fields:
        item["set_fields"] = dict(activity.set_fields)
    if activity.cleared_fields:
        item["cleared_fields"] = list(activity.cleared_fields)
    return item


def activity_of(item: Mapping[str, Any]) -> Activity:
    return Activity(
        at=datetime.fromisoformat(str(item["at"])),
        kind=str(item["kind"]),
        source=str(item.get("source") or ""),
        added_tags=tuple(item.get("added_tags") or ()),
        removed_tags=tuple(item.get("removed_tags") or ()),
        set_fields=dict(item.get("set_fields") or {}),
        cleared_fields=tuple(item.get("cleared_fields") or ()),
        sort_key=str(item["sk"]),
    )


class ActivityRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def page(self, pk: str, *, before: str | None = None, limit: int = 50) -> list[Activity]:
        """The friend's activity, newest first, strictly before the sort key ``before``."""
        values: dict[str, Any] = {":pk": pk, ":prefix": ACTIVITY_PREFIX}
        condition = "pk = :pk AND begins_with(sk, :prefix)"
        if before is not None:
            condition = "pk = :pk AND sk BETWEEN :prefix AND :before"
            values = {":pk": pk, ":prefix": ACTIVITY_PREFIX, ":before": before}
        response = self._client.query(
            TableName=self._table_name,
            KeyConditionExpression=condition,
            ExpressionAttributeValues=to_item(values),
            ScanIndexForward=False,
            Limit=limit + 1,
        )
        items = [from_item(item) for item in response.get("Items", [])]
        return [activity_of(item) for item in items if item["sk"] != before][:limit]


class TagCounters:
    """Friends per tag, kept on write (never counted by a scan)."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def adjust(self, channel_id: str, user_id: str, deltas: Mapping[str, int]) -> None:
        """Add each delta (+1 tag added, -1 removed) to the user's counter shard."""
        deltas = {tag_id: delta for tag_id, delta in deltas.items() if delta}
        if not deltas:
            return
        names = {f"#t{i}": tag_id for i, tag_id in enumerate(sorted(deltas))}
        values = {f":d{i}": deltas[tag_id] for i, tag_id in enumerate(sorted(deltas))}
        self._client.update_item(
            TableName=self._table_name,
            Key=to_item(_counter_key(channel_id, shard_of(user_id))),
            UpdateExpression="ADD " + ", ".join(f"#t{i} :d{i}" for i in range(len(deltas))),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_item(values),
        )

    def counts(self, channel_id: str) -> dict[str, int]:
        """Tag id -> friends holding it (tags never counted are absent: 0)."""
        totals: dict[str, int] = {}
        keys = [to_item(_counter_key(channel_id, shard)) for shard in range(SHARDS)]
        pending: dict[str, Any] = {self._table_name: {"Keys": keys}}
        while pending:
            response = self._client.batch_get_item(RequestItems=pending)
            for raw in response.get("Responses", {}).get(self._table_name, []):
                for name, value in from_item(raw).items():
                    if name not in ("pk", "sk"):
                        totals[name] = totals.get(name, 0) + int(value)
            pending = dict(response.get("UnprocessedKeys") or {})
        return {tag_id: max(0, count) for tag_id, count in totals.items()}


def _counter_key(channel_id: str, shard: int) -> dict[str, str]:
    return {"pk": f"CH#{channel_id}#{TAG_COUNT_PREFIX}{shard}", "sk": "TAGCOUNT"}
