"""Behaviour events in DynamoDB: the friend's timeline, aggregates, idempotency, replays.

Items (main table; docs/events.md has the whole picture):

- timeline: ``pk = CH#<channel>#FRIEND#<user>``, ``sk = EVENT#<occurred_at>#<key hash>``,
  in the friend's partition (exported and erased with the friend), ``expires_at`` TTL;
- aggregates: ``event_stats.<name>`` on the friend's profile (``EventStats``), so
  segments read them with the friend and scan nothing more;
- idempotency: ``pk = CH#<channel>#EVKEY#<idempotency key>`` (no user id in it), kept
  as long as the timeline item: one partition per key, no hot key under a burst;
- replays: ``pk = CH#<channel>#EVSIG#<signature>``, kept past the timestamp window.

One event is one transaction (key claim + timeline item + aggregate), so a crash
leaves either all three or none: a retried event is never half-applied, and a key is
never claimed for an event that was not stored.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from linecrm.aws_errors import error_code
from linecrm.domain.events import (
    MAX_TRACKED_EVENT_NAMES,
    BehaviourEventRecord,
    EventStats,
    record_event,
)
from linecrm.repositories.dynamo import from_item, is_conditional_check_failure, iso, to_item
from linecrm.repositories.friends import (
    FriendNotFound,
    FriendRepository,
    InvalidCursor,
    friend_key,
    friend_pk,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

EVENT_SK_PREFIX = "EVENT#"
KEY_SK = "EVENT_KEY"
SIGNATURE_SK = "SIGNATURE"
MAX_PAGE_SIZE = 200
# Concurrent events of one friend and name race for the same aggregate; each retry
# re-reads the profile. More than this many in a row means a hot loop somewhere.
MAX_ATTEMPTS = 5


# A batch's view of its friends' aggregates: user id -> aggregates by event name.
KnownStats = dict[str, dict[str, EventStats]]


class ApplyOutcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"
    UNKNOWN_USER = "unknown_user"


@dataclass(frozen=True)
class StoredEvent:
    name: str
    occurred_at: datetime
    received_at: datetime
    idempotency_key: str
    source: str
    properties: Mapping[str, Any]
    value: float | None


@dataclass(frozen=True)
class TimelinePage:
    events: list[StoredEvent]
    next_cursor: str | None


class InvalidEventCursor(InvalidCursor):
    """A timeline cursor that this API did not hand out."""


class EventsBusy(RuntimeError):
    """The aggregate kept changing under us (see ``MAX_ATTEMPTS``): retry later."""


def _key_hash(idempotency_key: str) -> str:
    return hashlib.sha256(idempotency_key.encode("utf-8")).hexdigest()[:16]


def event_sk(occurred_at: datetime, idempotency_key: str) -> str:
    return f"{EVENT_SK_PREFIX}{iso(occurred_at)}#{_key_hash(idempotency_key)}"


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


class EventStore:
    def __init__(self, client: DynamoDBClient, table_name: str, friends: FriendRepository) -> None:
        self._client = client
        self._table_name = table_name
        self._friends = friends

    def apply(
        self,
        channel_id: str,
        event: BehaviourEventRecord,
        *,
        now: datetime,
        retention: timedelta,
        zone: ZoneInfo,
        known: KnownStats | None = None,
    ) -> ApplyOutcome:
        """Store ``event`` once per (channel, idempotency key) for a known friend.

        ``known`` (from ``prefetch``, kept up to date here) saves the read of the
        friend's aggregates; a stale entry only costs a retry on a fresh read."""
        expires_at = _epoch(now + retention)
        for attempt in range(MAX_ATTEMPTS):
            current: dict[str, EventStats] | None
            if attempt == 0 and known is not None and known.get(event.user_id) is not None:
                current = known[event.user_id]
            else:
                current = self._stats(channel_id, event.user_id)
            if current is None:
                if self._key_claimed(channel_id, event.idempotency_key, now):
                    return ApplyOutcome.DUPLICATE  # applied before the friend was erased
                return ApplyOutcome.UNKNOWN_USER
            aggregate, after = self._aggregate_write(channel_id, event, current, zone, now)
            items = [
                self._key_put(channel_id, event.idempotency_key, now, expires_at),
                self._timeline_put(channel_id, event, now, expires_at),
                aggregate,
            ]
            try:
                self._client.transact_write_items(TransactItems=items)  # type: ignore[arg-type]
            except Exception as error:
                if error_code(error) != "TransactionCanceledException":
                    raise
                reasons = [
                    str(reason.get("Code", "None"))
                    for reason in getattr(error, "response", {}).get("CancellationReasons", [])
                ]
                if reasons and reasons[0] == "ConditionalCheckFailed":
                    return ApplyOutcome.DUPLICATE
                if len(reasons) > 2 and reasons[2] == "ConditionalCheckFailed":
                    continue  # the profile changed (or went) meanwhile: read it again
                if "TransactionConflict" in reasons:
                    continue  # another transaction on the same items: try again
                raise
            if known is not None:
                known[event.user_id] = after
            return ApplyOutcome.APPLIED
        raise EventsBusy(f"{event.name} for {event.user_id}: the aggregate kept changing")

    def prefetch(self, channel_id: str, user_ids: Iterable[str]) -> KnownStats:
        """The aggregates of these friends (absent: not a friend), one BatchGetItem per
        100; eventually consistent, which the conditional write makes safe."""
        found: KnownStats = {}
        wanted = sorted(set(user_ids))
        for start in range(0, len(wanted), 100):
            keys = [to_item(friend_key(channel_id, u)) for u in wanted[start : start + 100]]
            pending: dict[str, Any] = {
                self._table_name: {"Keys": keys, "ProjectionExpression": "user_id, event_stats"}
            }
            while pending:
                response = self._client.batch_get_item(RequestItems=pending)
                for item in response.get("Responses", {}).get(self._table_name, []):
                    values = from_item(item)
                    found[str(values["user_id"])] = _stats_of(values)
                pending = dict(response.get("UnprocessedKeys") or {})
        return found

    def _stats(self, channel_id: str, user_id: str) -> dict[str, EventStats] | None:
        """The friend's aggregates as stored now; None when there is no such friend."""
        response = self._client.get_item(
            TableName=self._table_name,
            Key=to_item(friend_key(channel_id, user_id)),
            ProjectionExpression="pk, event_stats",
            ConsistentRead=True,
        )
        item = response.get("Item")
        return _stats_of(from_item(item)) if item else None

    # ------------------------------------------------------------ transaction parts
    def _key_put(
        self, channel_id: str, idempotency_key: str, now: datetime, expires_at: int
    ) -> dict[str, Any]:
        return {
            "Put": {
                "TableName": self._table_name,
                "Item": to_item(
                    {
                        "pk": f"CH#{channel_id}#EVKEY#{idempotency_key}",
                        "sk": KEY_SK,
                        "claimed_at": iso(now),
                        "expires_at": expires_at,
                    }
                ),
                # TTL deletes late (and never locally): an expired key counts as gone.
                "ConditionExpression": "attribute_not_exists(pk) OR expires_at < :now",
                "ExpressionAttributeValues": to_item({":now": _epoch(now)}),
            }
        }

    def _key_claimed(self, channel_id: str, idempotency_key: str, now: datetime) -> bool:
        response = self._client.get_item(
            TableName=self._table_name,
            Key=to_item({"pk": f"CH#{channel_id}#EVKEY#{idempotency_key}", "sk": KEY_SK}),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return item is not None and int(from_item(item)["expires_at"]) >= _epoch(now)

    def _timeline_put(
        self, channel_id: str, event: BehaviourEventRecord, now: datetime, expires_at: int
    ) -> dict[str, Any]:
        item: dict[str, Any] = {
            "pk": friend_pk(channel_id, event.user_id),
            "sk": event_sk(event.occurred_at, event.idempotency_key),
            "kind": "event",
            "name": event.name,
            "occurred_at": iso(event.occurred_at),
            "received_at": iso(now),
            "idempotency_key": event.idempotency_key,
            "source": event.source,
            # As JSON text: any shape the shop sends, no DynamoDB type surprises.
            "properties": json.dumps(event.properties, ensure_ascii=False, sort_keys=True),
            "expires_at": expires_at,
        }
        if event.value is not None:
            item["value"] = event.value
        return {"Put": {"TableName": self._table_name, "Item": to_item(item)}}

    def _aggregate_write(
        self,
        channel_id: str,
        event: BehaviourEventRecord,
        current: Mapping[str, EventStats],
        zone: ZoneInfo,
        now: datetime,
    ) -> tuple[dict[str, Any], dict[str, EventStats]]:
        """The profile's new aggregate for the event's name, written only if the profile
        still holds what we read (optimistic: the count is the version); and the
        aggregates after it."""
        key = to_item(friend_key(channel_id, event.user_id))
        before = current.get(event.name)
        if before is None and len(current) >= MAX_TRACKED_EVENT_NAMES:
            # No aggregate for a further name; the friend must still exist.
            check = {
                "ConditionCheck": {
                    "TableName": self._table_name,
                    "Key": key,
                    "ConditionExpression": "attribute_exists(pk)",
                }
            }
            return check, dict(current)
        stats = record_event(before, event, zone, now)
        after = stats.as_item()
        if not current:
            expression = "SET event_stats = :stats"
            condition = "attribute_exists(pk) AND attribute_not_exists(event_stats)"
            values: dict[str, Any] = {":stats": {event.name: after}}
            names: dict[str, str] = {}
        else:
            expression = "SET event_stats.#name = :stats"
            names = {"#name": event.name}
            values = {":stats": after}
            if before is None:
                condition = "attribute_exists(pk) AND attribute_not_exists(event_stats.#name)"
            else:
                condition = "attribute_exists(pk) AND event_stats.#name.#count = :count"
                names["#count"] = "count"
                values[":count"] = before.count
        update: dict[str, Any] = {
            "TableName": self._table_name,
            "Key": key,
            "UpdateExpression": expression,
            "ConditionExpression": condition,
            "ExpressionAttributeValues": to_item(values),
        }
        if names:
            update["ExpressionAttributeNames"] = names
        return {"Update": update}, {**current, event.name: stats}

    # ------------------------------------------------------------ the timeline
    def timeline(
        self, channel_id: str, user_id: str, *, limit: int = 50, cursor: str | None = None
    ) -> TimelinePage:
        """The friend's events, newest first; ``next_cursor`` continues after the last.
        ``FriendNotFound`` when the channel has no such friend."""
        limit = max(1, min(limit, MAX_PAGE_SIZE))
        sk = _decode_cursor(cursor) if cursor else None
        if self._friends.get(channel_id, user_id) is None:
            raise FriendNotFound(channel_id, user_id)
        request: dict[str, Any] = {
            "TableName": self._table_name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": to_item(
                {":pk": friend_pk(channel_id, user_id), ":prefix": EVENT_SK_PREFIX}
            ),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if sk is not None:
            request["ExclusiveStartKey"] = to_item({"pk": friend_pk(channel_id, user_id), "sk": sk})
        response = self._client.query(**request)
        events = [stored_event(from_item(item)) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        next_cursor = _encode_cursor(str(from_item(last)["sk"])) if last else None
        return TimelinePage(events, next_cursor)


def _stats_of(values: Mapping[str, Any]) -> dict[str, EventStats]:
    raw = values.get("event_stats") or {}
    return {str(name): EventStats.model_validate(stats) for name, stats in raw.items()}


def stored_event(item: Mapping[str, Any]) -> StoredEvent:
    value = item.get("value")
    return StoredEvent(
        name=str(item["name"]),
        occurred_at=datetime.fromisoformat(str(item["occurred_at"])),
        received_at=datetime.fromisoformat(str(item["received_at"])),
        idempotency_key=str(item["idempotency_key"]),
        source=str(item["source"]),
        properties=json.loads(str(item.get("properties") or "{}")),
        value=float(value) if value is not None else None,
    )


def _encode_cursor(sk: str) -> str:
    return base64.urlsafe_b64encode(sk.encode("utf-8")).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        sk = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("utf-8")
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidEventCursor("cursor is not one this API returned") from error
    if not sk.startswith(EVENT_SK_PREFIX):
        raise InvalidEventCursor("cursor is not one this API returned")
    return sk


class SeenSignatures:
    """Signatures of accepted requests, remembered past the timestamp window."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def remember(self, channel_id: str, signature: str, *, now: datetime, keep: timedelta) -> bool:
        """Record ``signature``; False when it was seen already (a replay)."""
        try:
            self._client.put_item(
                TableName=self._table_name,
                Item=to_item(
                    {
                        "pk": f"CH#{channel_id}#EVSIG#{signature}",
                        "sk": SIGNATURE_SK,
                        "seen_at": iso(now),
                        "expires_at": _epoch(now + keep),
                    }
                ),
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                ExpressionAttributeValues=to_item({":now": _epoch(now)}),
            )
        except Exception as error:
            if is_conditional_check_failure(error):
                return False
            raise
        return True
