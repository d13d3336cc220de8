"""A friend's timeline: what happened to and with them, newest first, from the items
that already record it — behaviour events, deliveries (ledger rows), tag and field
changes (activity rows), follows and blocks (the report counters' claims), the ID link,
scenario enrolments and the 1:1 chat log (messages in and out, postbacks).

Paging walks back in windows of ``WINDOW_DAYS``: a page holds the newest ``limit``
entries before the cursor within the window, and an empty or short page moves the
cursor to the window's start. The friend's own items are Queries of their partition;
deliveries are the channel's ledger of the window read with a filter on the recipient
(16 shard Queries: an admin read, not for a hot path — a per-friend ledger index would
cost a write on every delivery).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from linecrm.admin.errors import InvalidInput
from linecrm.domain.tags import TagCatalog
from linecrm.repositories.activity import ACTIVITY_PREFIX, activity_of
from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm.repositories.conversations import ENTRY_PREFIX as CHAT_PREFIX
from linecrm.repositories.deliveries import deliveries_list
from linecrm.repositories.dynamo import from_item, iso, to_item
from linecrm.repositories.enrollments import SCENARIO_PREFIX
from linecrm.repositories.events import EVENT_SK_PREFIX, stored_event
from linecrm.repositories.friends import FriendNotFound, FriendRepository, friend_pk
from linecrm.repositories.sharding import all_shard_keys
from linecrm.repositories.stats_writes import COUNTED_PREFIX

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

WINDOW_DAYS = 30
HISTORY_DAYS = 400  # events and activity rows are kept this long
MAX_LIMIT = 100
_TOP = "\uffff"  # sorts after every sort key character we write
_FOLLOWS = (("follow", "follow", "followed"), ("unfollow", "block", "blocked"))


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    # message | postback | event | delivery | tags | fields | follow | block | link | scenario
    kind: str
    text: str
    key: str  # unique within the friend's timeline (with ``at``: the page order)
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TimelinePage:
    items: list[TimelineEntry]
    cursor: str | None


class TimelineService:
    def __init__(
        self,
        friends: FriendRepository,
        config: ChannelConfigRepository,
        clock: Callable[[], datetime],
    ) -> None:
        self._friends = friends
        self._config = config
        self._client: DynamoDBClient
        self._client, self._table = config.client_and_table()
        self._clock = clock

    def page(
        self, channel_id: str, user_id: str, *, before: str | None = None, limit: int = 50
    ) -> TimelinePage:
        friend = self._friends.get(channel_id, user_id)
        if friend is None:
            raise FriendNotFound(channel_id, user_id)
        limit = max(1, min(limit, MAX_LIMIT))
        now = self._clock()
        until, after_key = _decode(before) if before else (now, _TOP)
        start = until - timedelta(days=WINDOW_DAYS)
        floor = now - timedelta(days=HISTORY_DAYS)
        tags = self._config.load(channel_id).tags
        pk = friend_pk(channel_id, user_id)
        entries = [
            *self._messages(pk, start, until, limit),
            *self._events(pk, start, until, limit),
            *self._activity(pk, start, until, limit, tags),
            *self._partition_markers(pk, start, until),
            *self._deliveries(channel_id, user_id, start, until),
        ]
        if friend.linked_at is not None and start <= friend.linked_at <= until:
            entries.append(
                TimelineEntry(
                    friend.linked_at, "link", "ID linked", "link", {"memberId": friend.member_id}
                )
            )
        # The profile's first follow and latest block, unless a claim has them already
        # (claims exist from the report counters on; older friends have only these).
        for moment, kind, text in (
            (friend.first_followed_at, "follow", "followed (first time)"),
            (friend.blocked_at, "block", "blocked"),
        ):
            if moment is None or not start <= _utc(moment) <= until:
                continue
            if not any(e.kind == kind and e.at == _utc(moment) for e in entries):
                entries.append(TimelineEntry(_utc(moment), kind, text, f"PROFILE#{kind}"))
        cursor_key = (until, after_key)
        entries = sorted(
            (entry for entry in entries if (entry.at, entry.key) < cursor_key),
            key=lambda entry: (entry.at, entry.key),
            reverse=True,
        )
        if len(entries) > limit:
            last = entries[limit - 1]
            return TimelinePage(entries[:limit], _encode(last.at, last.key))
        more = start > floor
        return TimelinePage(entries, _encode(start, _TOP) if more else None)

    # ------------------------------------------------------------------ sources
    def _between(
        self, pk: str, prefix: str, start: datetime, until: datetime, limit: int | None
    ) -> Iterator[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :pk AND sk BETWEEN :low AND :high",
            "ExpressionAttributeValues": to_item(
                {":pk": pk, ":low": prefix + iso(start), ":high": prefix + iso(until) + _TOP}
            ),
            "ScanIndexForward": False,
        }
        if limit is not None:
            request["Limit"] = limit + 1
        response = self._client.query(**request)
        for item in response.get("Items", []):
            yield from_item(item)

    def _messages(
        self, pk: str, start: datetime, until: datetime, limit: int
    ) -> Iterator[TimelineEntry]:
        """The chat log: what the friend sent (messages, postbacks) and what they were
        sent (staff replies, automation, broadcasts), as the chat page shows it."""
        for item in self._between(pk, CHAT_PREFIX, start, until, limit):
            direction = str(item.get("direction", "in"))
            kind = str(item.get("kind", "text"))
            text = str(item.get("text", ""))
            yield TimelineEntry(
                _utc(datetime.fromisoformat(str(item["at"]))),
                "postback" if kind == "postback" else "message",
                f"{'postback' if kind == 'postback' else direction + ' ' + kind}: {text}",
                str(item["sk"]),
                {
                    "direction": direction,
                    "messageType": kind,
                    "text": text,
                    "source": item.get("source"),
                    "staff": item.get("staff"),
                    "deliveryId": item.get("delivery_id"),
                },
            )

    def _events(
        self, pk: str, start: datetime, until: datetime, limit: int
    ) -> Iterator[TimelineEntry]:
        for item in self._between(pk, EVENT_SK_PREFIX, start, until, limit):
            event = stored_event(item)
            yield TimelineEntry(
                _utc(event.occurred_at),
                "event",
                f"event {event.name}",
                str(item["sk"]),
                {
                    "name": event.name,
                    "source": event.source,
                    "properties": dict(event.properties),
                    "value": event.value,
                },
            )

    def _activity(
        self, pk: str, start: datetime, until: datetime, limit: int, tags: TagCatalog
    ) -> Iterator[TimelineEntry]:
        def name(tag_id: str) -> str:
            tag = tags.get(tag_id)
            return tag.name if tag is not None else tag_id

        for item in self._between(pk, ACTIVITY_PREFIX, start, until, limit):
            activity = activity_of(item)
            parts = [
                *(f"+{name(tag)}" for tag in activity.added_tags),
                *(f"-{name(tag)}" for tag in activity.removed_tags),
                *(f"{key}={value}" for key, value in (activity.set_fields or {}).items()),
                *(f"{key} cleared" for key in activity.cleared_fields),
            ]
            yield TimelineEntry(
                _utc(activity.at),
                activity.kind,
                f"{'tags' if activity.kind == 'tags' else 'fields'}: {', '.join(parts)}"
                f" ({activity.source})",
                activity.sort_key,
                {
                    "source": activity.source,
                    "addedTags": [name(tag) for tag in activity.added_tags],
                    "removedTags": [name(tag) for tag in activity.removed_tags],
                    "setFields": dict(activity.set_fields or {}),
                    "clearedFields": list(activity.cleared_fields),
                },
            )

    def _partition_markers(
        self, pk: str, start: datetime, until: datetime
    ) -> Iterator[TimelineEntry]:
        """Follows and blocks (the counters' claims), scenario enrolments: few items."""
        for what, kind, text in (
            ("follow", "follow", "followed"),
            ("unfollow", "block", "blocked"),
        ):
            for item in self._between(pk, f"{COUNTED_PREFIX}{what}#", start, until, None):
                at = _utc(datetime.fromisoformat(str(item["sk"]).rsplit("#", 1)[1]))
                yield TimelineEntry(at, kind, text, str(item["sk"]))
        response = self._client.query(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=to_item({":pk": pk, ":prefix": SCENARIO_PREFIX}),
        )
        for raw in response.get("Items", []):
            item = from_item(raw)
            scenario_id = str(item["sk"]).removeprefix(SCENARIO_PREFIX)
            for moment, text in (
                (item.get("enrolled_at") or item.get("started_at"), "enrolled in"),
                (item.get("last_step_at"), f"step {item.get('last_step_id')} of"),
            ):
                if not moment:
                    continue
                at = _utc(datetime.fromisoformat(str(moment)))
                if start <= at <= until:
                    yield TimelineEntry(
                        at,
                        "scenario",
                        f"{text} scenario {scenario_id}",
                        f"{item['sk']}#{text}",
                        {"scenarioId": scenario_id, "status": item.get("status")},
                    )

    def _deliveries(
        self, channel_id: str, user_id: str, start: datetime, until: datetime
    ) -> Iterator[TimelineEntry]:
        for list_key in all_shard_keys(deliveries_list(channel_id)):
            request: dict[str, Any] = {
                "TableName": self._table,
                "IndexName": "gsi1",
                "KeyConditionExpression": "gsi1pk = :list AND gsi1sk BETWEEN :low AND :high",
                "FilterExpression": "contains(recipients, :user)",
                "ExpressionAttributeValues": to_item(
                    {
                        ":list": list_key,
                        ":low": iso(start),
                        ":high": iso(until) + _TOP,
                        ":user": user_id,
                    }
                ),
                "ScanIndexForward": False,
            }
            while True:
                response = self._client.query(**request)
                for raw in response.get("Items", []):
                    row = from_item(raw)
                    at = _utc(datetime.fromisoformat(str(row["queued_at"])))
                    yield TimelineEntry(
                        at,
                        "delivery",
                        f"delivery {row['status']} ({row.get('cause')})",
                        f"DELIVERY#{row['delivery_id']}",
                        {
                            "deliveryId": row["delivery_id"],
                            "status": row["status"],
                            "cause": row.get("cause"),
                            "campaign": row.get("campaign"),
                            "sentVia": row.get("sent_via"),
                            "reason": row.get("reason"),
                        },
                    )
                if "LastEvaluatedKey" not in response:
                    break
                request["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def _encode(at: datetime, key: str) -> str:
    raw = json.dumps({"at": iso(_utc(at)), "key": key}, ensure_ascii=False).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str) -> tuple[datetime, str]:
    try:
        raw = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
        at = _utc(datetime.fromisoformat(raw["at"]))
        key = raw["key"]
    except (ValueError, KeyError, TypeError, binascii.Error, UnicodeDecodeError) as error:
        raise InvalidInput("before is not a cursor this API returned", field="before") from error
    if not isinstance(key, str):
        raise InvalidInput("before is not a cursor this API returned", field="before")
    return at, key
