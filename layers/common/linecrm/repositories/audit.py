"""The audit log: every change made through the admin API (docs/staff.md#audit-log).

One item per change in the main table, under the channel (``CH#<channel>#AUDIT``) and
sorted by time (``<at>#<entry id>``), so the newest come first with one Query. Items
expire after the retention (DynamoDB TTL, ``expires_at``). An entry about a friend
names them (``user_id``, or ``user_ids`` of a bulk change): the friend's export
includes it, their erasure deletes it or takes their id out of it.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from linecrm.repositories.dynamo import from_item, iso, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

MAX_PAGE_SIZE = 100
# A before / after larger than this is stored as its size only (an item is <= 400 KB).
MAX_SNAPSHOT_BYTES = 64 * 1024
DEPLOYMENT = "-"  # the "channel" of changes outside any channel (signing keys, staff)


class InvalidAuditCursor(ValueError):
    """A cursor this listing did not hand out."""


@dataclass(frozen=True)
class AuditEntry:
    entry_id: str
    at: datetime
    actor: Mapping[str, str]  # subject, display, role, kind
    method: str
    route: str
    path: Mapping[str, str]
    summary: str
    status: int
    user_id: str | None = None
    user_ids: tuple[str, ...] = ()
    before: Any = None
    after: Any = None


def _pk(channel_id: str) -> str:
    return f"CH#{channel_id}#AUDIT"


def _snapshot(value: Any) -> str | None:
    if value is None:
        return None
    text = json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    if len(text.encode()) > MAX_SNAPSHOT_BYTES:
        return json.dumps({"truncated": True, "bytes": len(text.encode())})
    return text


class AuditLog:
    def __init__(self, client: DynamoDBClient, table_name: str, retention_days: int) -> None:
        self._client = client
        self._table_name = table_name
        self._retention = timedelta(days=retention_days)

    def record(
        self,
        channel_id: str | None,
        *,
        at: datetime,
        actor: Mapping[str, str],
        method: str,
        route: str,
        path: Mapping[str, str],
        summary: str,
        status: int,
        user_id: str | None = None,
        user_ids: tuple[str, ...] = (),
        before: Any = None,
        after: Any = None,
    ) -> str:
        """One PutItem; the entry's id."""
        entry_id = uuid.uuid4().hex
        item: dict[str, Any] = {
            "pk": _pk(channel_id or DEPLOYMENT),
            "sk": f"{iso(at)}#{entry_id}",
            "entry_id": entry_id,
            "at": iso(at),
            "actor": dict(actor),
            "method": method,
            "route": route,
            "path": dict(path),
            "summary": summary[:500],
            "status": status,
            "expires_at": int((at + self._retention).timestamp()),
        }
        if user_id:
            item["user_id"] = user_id
        if user_ids:
            item["user_ids"] = list(user_ids)
        for name, value in (("before", before), ("after", after)):
            snapshot = _snapshot(value)
            if snapshot is not None:
                item[name] = snapshot
        self._client.put_item(TableName=self._table_name, Item=to_item(item))
        return entry_id

    def page(
        self,
        channel_id: str,
        *,
        limit: int = 50,
        cursor: str | None = None,
        user_id: str | None = None,
    ) -> tuple[list[AuditEntry], str | None]:
        """Newest first, a page at a time (``user_id``: only entries about this friend;
        a filtered page may hold fewer than ``limit``, its cursor goes on)."""
        query: dict[str, Any] = {
            "TableName": self._table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": to_item({":pk": _pk(channel_id)}),
            "ScanIndexForward": False,
            "Limit": min(max(limit, 1), MAX_PAGE_SIZE),
        }
        if user_id:
            query["FilterExpression"] = "user_id = :user OR contains(user_ids, :user)"
            query["ExpressionAttributeValues"].update(to_item({":user": user_id}))
        if cursor:
            query["ExclusiveStartKey"] = to_item({"pk": _pk(channel_id), "sk": _decode(cursor)})
        response = self._client.query(**query)
        entries = [_entry(from_item(item)) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        next_cursor = _encode(str(from_item(last)["sk"])) if last else None
        return entries, next_cursor

    def items_about(self, channel_id: str, user_id: str) -> list[dict[str, Any]]:
        """Every stored entry about the friend, as stored (their data export)."""
        return [from_item(item) for item in self._about(channel_id, user_id)]

    def erase_friend(self, channel_id: str, user_id: str) -> int:
        """Delete the entries about the friend alone; take their id out of bulk ones."""
        changed = 0
        for item in list(self._about(channel_id, user_id)):
            key = {"pk": item["pk"], "sk": item["sk"]}
            plain = from_item(item)
            others = [other for other in plain.get("user_ids", []) if other != user_id]
            if plain.get("user_id") == user_id or not others:
                self._client.delete_item(TableName=self._table_name, Key=key)
            else:
                self._client.update_item(
                    TableName=self._table_name,
                    Key=key,
                    UpdateExpression="SET user_ids = :others",
                    ExpressionAttributeValues=to_item({":others": others}),
                )
            changed += 1
        return changed

    def _about(self, channel_id: str, user_id: str) -> Iterator[dict[str, Any]]:
        query: dict[str, Any] = {
            "TableName": self._table_name,
            "KeyConditionExpression": "pk = :pk",
            "FilterExpression": "user_id = :user OR contains(user_ids, :user)",
            "ExpressionAttributeValues": to_item({":pk": _pk(channel_id), ":user": user_id}),
        }
        while True:
            response = self._client.query(**query)
            yield from response.get("Items", [])
            if "LastEvaluatedKey" not in response:
                return
            query["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _entry(item: Mapping[str, Any]) -> AuditEntry:
    return AuditEntry(
        entry_id=str(item["entry_id"]),
        at=datetime.fromisoformat(str(item["at"])),
        actor={key: str(value) for key, value in dict(item.get("actor", {})).items()},
        method=str(item["method"]),
        route=str(item["route"]),
        path={key: str(value) for key, value in dict(item.get("path", {})).items()},
        summary=str(item.get("summary", "")),
        status=int(item.get("status", 200)),
        user_id=item.get("user_id"),
        user_ids=tuple(item.get("user_ids", ())),
        before=json.loads(item["before"]) if "before" in item else None,
        after=json.loads(item["after"]) if "after" in item else None,
    )


def _encode(sort_key: str) -> str:
    return base64.urlsafe_b64encode(sort_key.encode()).decode().rstrip("=")


def _decode(cursor: str) -> str:
    try:
        sort_key = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as error:
        raise InvalidAuditCursor("invalid cursor: pass next_cursor of the previous page") from error
    if "#" not in sort_key:
        raise InvalidAuditCursor("invalid cursor: pass next_cursor of the previous page")
    return sort_key
