"""The 1:1 chat log and inbox (docs/chat.md): items in the friend's own partition.

- ``CHAT#MSG#<at>#<entry id>``: one log entry (a message in or out), with the TTL
  ``expires_at`` of the channel's retention. Newest first is one Query of the partition.
- ``CHAT#SUMMARY``: the conversation (last message, unread, needs reply), listed in the
  channel's inbox on ``gsi1`` under the write-sharded ``CH#<channel>#INBOX#<shard>``,
  sorted by ``<last at>#<user id>``: the inbox is newest first without a scan.

Both live in the friend's partition, so erasing the friend (``FriendRepository.delete``)
removes them and the friend export includes them. Saved replies (templates) are items of
``CH#<channel>#CHAT_TEMPLATES``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

from linecrm.aws_errors import error_code
from linecrm.domain.conversations import (
    ChatEntry,
    ChatSettings,
    ChatTemplate,
    InboxFilter,
    IncomingVerdict,
)
from linecrm.repositories.cursors import page_cursor, position_in
from linecrm.repositories.dynamo import (
    batch_write,
    cancellation_codes,
    from_item,
    iso,
    to_item,
    transact_unless_done,
)
from linecrm.repositories.friends import friend_pk
from linecrm.repositories.sharding import merged_query, per_shard_limit, sharded_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

ENTRY_PREFIX = "CHAT#MSG#"
SUMMARY_SK = "CHAT#SUMMARY"
TEMPLATE_PREFIX = "TEMPLATE#"
MAX_PAGE_SIZE = 100
_TRANSACTION_ROUNDS = 4


def inbox_list(channel_id: str) -> str:
    """The channel's inbox on gsi1, before sharding."""
    return f"CH#{channel_id}#INBOX"


def templates_pk(channel_id: str) -> str:
    return f"CH#{channel_id}#CHAT_TEMPLATES"


def entry_key(channel_id: str, user_id: str, entry: ChatEntry) -> dict[str, str]:
    return {
        "pk": friend_pk(channel_id, user_id),
        "sk": f"{ENTRY_PREFIX}{iso(entry.at)}#{entry.entry_id}",
    }


def summary_key(channel_id: str, user_id: str) -> dict[str, str]:
    return {"pk": friend_pk(channel_id, user_id), "sk": SUMMARY_SK}


class ConversationBusy(RuntimeError):
    """Concurrent transactions kept conflicting on the conversation (retry later)."""


class InvalidChatCursor(ValueError):
    """A pagination cursor that this API did not hand out."""


@dataclass(frozen=True)
class ConversationSummary:
    user_id: str
    last_direction: str
    last_text: str
    last_kind: str
    last_at: datetime
    unread: int
    needs_reply: bool


@dataclass(frozen=True)
class StoredEntry:
    entry: ChatEntry
    sort_key: str


class ConversationRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    # ------------------------------------------------------------------ writes
    def record_incoming(
        self,
        channel_id: str,
        user_id: str,
        entry: ChatEntry,
        verdict: IncomingVerdict,
        settings: ChatSettings,
    ) -> bool:
        """The friend's message and its conversation, in one TransactWriteItems (a plain
        postback: the entry alone, one PutItem); False when the entry was logged before
        (a replayed event: nothing is counted twice)."""
        put = self.entry_put(channel_id, user_id, entry, settings, only_new=True)
        if not verdict.moves_conversation:
            try:
                self._client.put_item(**put)
            except Exception as error:
                if error_code(error) == "ConditionalCheckFailedException":
                    return False
                raise
            return True
        items: list[Any] = [
            {"Put": put},
            {"Update": self._summary_update(channel_id, user_id, entry, verdict=verdict)},
        ]
        return self._transact(items)

    def record_entries(
        self, channel_id: str, user_ids: Sequence[str], entry: ChatEntry, settings: ChatSettings
    ) -> None:
        """The same outgoing entry in each friend's log (a multicast chunk), 25 per
        BatchWriteItem; the conversations' last message stays as it is."""
        requests = [
            {"PutRequest": {"Item": self.entry_put(channel_id, user_id, entry, settings)["Item"]}}
            for user_id in dict.fromkeys(user_ids)
        ]
        batch_write(self._client, self._table_name, requests)

    def entry_put(
        self,
        channel_id: str,
        user_id: str,
        entry: ChatEntry,
        settings: ChatSettings,
        *,
        only_new: bool = False,
    ) -> dict[str, Any]:
        """The PutItem of one log entry (usable in a transaction)."""
        values: dict[str, Any] = {
            **entry_key(channel_id, user_id, entry),
            "entry_id": entry.entry_id,
            "direction": entry.direction,
            "kind": entry.kind,
            "text": entry.text,
            "at": iso(entry.at),
            "source": entry.source,
            "expires_at": settings.expires_at(entry.at),
        }
        if entry.staff is not None:
            values["staff"] = entry.staff
        if entry.delivery_id is not None:
            values["delivery_id"] = entry.delivery_id
        put: dict[str, Any] = {"TableName": self._table_name, "Item": to_item(values)}
        if only_new:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        return put

    def outgoing_writes(
        self,
        channel_id: str,
        user_id: str,
        entry: ChatEntry,
        settings: ChatSettings,
        *,
        touch_summary: bool,
    ) -> list[Any]:
        """TransactWriteItems items of a message sent to one friend: its entry and, when
        ``touch_summary``, the conversation's last message (a staff reply also clears
        "needs reply" and the unread count: staff has read what it answers)."""
        items: list[Any] = [{"Put": self.entry_put(channel_id, user_id, entry, settings)}]
        if touch_summary:
            items.append({"Update": self._summary_update(channel_id, user_id, entry)})
        return items

    def _summary_update(
        self,
        channel_id: str,
        user_id: str,
        entry: ChatEntry,
        *,
        verdict: IncomingVerdict | None = None,
    ) -> dict[str, Any]:
        sets = [
            "user_id = :user",
            "last_direction = :direction",
            "last_text = :text",
            "last_kind = :kind",
            "last_at = :at",
            "gsi1pk = :list",
            "gsi1sk = :order",
        ]
        values: dict[str, Any] = {
            ":user": user_id,
            ":direction": entry.direction,
            ":text": entry.text,
            ":kind": entry.kind,
            ":at": iso(entry.at),
            ":list": sharded_key(inbox_list(channel_id), user_id),
            ":order": f"{iso(entry.at)}#{user_id}",
        }
        adds = []
        if verdict is not None:
            if verdict.needs_reply:
                sets.append("needs_reply = :true")
                values[":true"] = True
            else:
                sets.append("needs_reply = if_not_exists(needs_reply, :false)")
                values[":false"] = False
            if verdict.unread:
                adds.append("unread :one")
                values[":one"] = 1
            else:
                sets.append("unread = if_not_exists(unread, :zero)")
                values[":zero"] = 0
        elif entry.source == "staff":
            sets += ["needs_reply = :false", "unread = :zero", "read_at = :at"]
            values.update({":false": False, ":zero": 0})
        else:
            sets += [
                "needs_reply = if_not_exists(needs_reply, :false)",
                "unread = if_not_exists(unread, :zero)",
            ]
            values.update({":false": False, ":zero": 0})
        expression = "SET " + ", ".join(sets) + (" ADD " + ", ".join(adds) if adds else "")
        return {
            "TableName": self._table_name,
            "Key": to_item(summary_key(channel_id, user_id)),
            "UpdateExpression": expression,
            "ExpressionAttributeValues": to_item(values),
        }

    def transact(self, items: list[Any]) -> bool:
        """Run TransactWriteItems; False when its first item's condition failed."""
        return self._transact(items)

    def _transact(self, items: list[Any]) -> bool:
        """A conflict with a concurrent transaction on the same conversation (the
        sender's, another request's) is retried a few times, then ConversationBusy."""
        try:
            return transact_unless_done(
                self._client, items, rounds=_TRANSACTION_ROUNDS, retry=_conflicted
            )
        except Exception as error:
            if error_code(error) == "TransactionCanceledException" and _conflicted(
                cancellation_codes(error)
            ):
                raise ConversationBusy(
                    "the conversation is being written by another request; retry"
                ) from error
            raise

    def mark_read(self, channel_id: str, user_id: str, at: datetime) -> bool:
        """Unread back to 0; False when the friend has no conversation."""
        try:
            self._client.update_item(
                TableName=self._table_name,
                Key=to_item(summary_key(channel_id, user_id)),
                UpdateExpression="SET unread = :zero, read_at = :at",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=to_item({":zero": 0, ":at": iso(at)}),
            )
        except Exception as error:
            if error_code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    # ------------------------------------------------------------------ reads
    def summary(self, channel_id: str, user_id: str) -> ConversationSummary | None:
        response = self._client.get_item(
            TableName=self._table_name, Key=to_item(summary_key(channel_id, user_id))
        )
        item = response.get("Item")
        return _summary(from_item(item)) if item else None

    def inbox(
        self,
        channel_id: str,
        *,
        only: InboxFilter = "all",
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[ConversationSummary], str | None]:
        """Conversations, latest activity first, and the next page's cursor."""
        limit = max(1, min(limit, MAX_PAGE_SIZE))
        filters = {
            "all": None,
            "needs_reply": "needs_reply = :true",
            "unread": "unread > :zero",
        }
        by_filter: dict[str, dict[str, Any]] = {
            "needs_reply": {":true": True},
            "unread": {":zero": 0},
        }
        values = by_filter.get(only)
        list_key = inbox_list(channel_id)
        stream = merged_query(
            self._client,
            table_name=self._table_name,
            index_name="gsi1",
            partition_attribute="gsi1pk",
            sort_attribute="gsi1sk",
            list_key=list_key,
            # A filter applies after Limit: read more per query so pages stay full.
            page_limit=per_shard_limit(limit) * (4 if values else 1),
            descending=True,
            after=_decode_cursor(cursor, list_key) if cursor else None,
            filter_expression=filters[only],
            values=values,
        )
        items = list(islice(stream, limit))
        more = len(items) == limit and next(stream, None) is not None
        next_cursor = _encode_cursor(list_key, str(items[-1]["gsi1sk"])) if more else None
        return [_summary(item) for item in items], next_cursor

    def entries(
        self, channel_id: str, user_id: str, *, limit: int = 50, before: str | None = None
    ) -> tuple[list[StoredEntry], str | None]:
        """The friend's log, newest first, and the cursor of older entries."""
        limit = max(1, min(limit, MAX_PAGE_SIZE))
        pk = friend_pk(channel_id, user_id)
        request: dict[str, Any] = {
            "TableName": self._table_name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :prefix)",
            "ExpressionAttributeValues": to_item({":pk": pk, ":prefix": ENTRY_PREFIX}),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if before:
            sort_key = _decode_cursor(before, pk)
            if not sort_key.startswith(ENTRY_PREFIX):
                raise InvalidChatCursor("cursor is not one this API returned")
            request["ExclusiveStartKey"] = to_item({"pk": pk, "sk": sort_key})
        response = self._client.query(**request)
        found = [_stored_entry(from_item(item)) for item in response.get("Items", [])]
        more = "LastEvaluatedKey" in response and len(found) == limit
        return found, _encode_cursor(pk, found[-1].sort_key) if more and found else None

    # ------------------------------------------------------------------ templates
    def templates(self, channel_id: str) -> list[ChatTemplate]:
        request: dict[str, Any] = {
            "TableName": self._table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": to_item({":pk": templates_pk(channel_id)}),
        }
        found: list[ChatTemplate] = []
        while True:
            response = self._client.query(**request)
            found += [_template(from_item(item)) for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return sorted(found, key=lambda template: (template.name, template.id))
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def template(self, channel_id: str, template_id: str) -> ChatTemplate | None:
        response = self._client.get_item(
            TableName=self._table_name,
            Key=to_item({"pk": templates_pk(channel_id), "sk": TEMPLATE_PREFIX + template_id}),
        )
        item = response.get("Item")
        return _template(from_item(item)) if item else None

    def put_template(self, channel_id: str, template: ChatTemplate) -> None:
        self._client.put_item(
            TableName=self._table_name,
            Item=to_item(
                {
                    "pk": templates_pk(channel_id),
                    "sk": TEMPLATE_PREFIX + template.id,
                    "template_id": template.id,
                    "name": template.name,
                    "text": template.text,
                }
            ),
        )

    def delete_template(self, channel_id: str, template_id: str) -> bool:
        response = self._client.delete_item(
            TableName=self._table_name,
            Key=to_item({"pk": templates_pk(channel_id), "sk": TEMPLATE_PREFIX + template_id}),
            ReturnValues="ALL_OLD",
        )
        return bool(response.get("Attributes"))


def _summary(values: dict[str, Any]) -> ConversationSummary:
    return ConversationSummary(
        user_id=str(values["user_id"]),
        last_direction=str(values.get("last_direction", "in")),
        last_text=str(values.get("last_text", "")),
        last_kind=str(values.get("last_kind", "text")),
        last_at=datetime.fromisoformat(str(values["last_at"])),
        unread=int(values.get("unread", 0)),
        needs_reply=bool(values.get("needs_reply", False)),
    )


def _stored_entry(values: dict[str, Any]) -> StoredEntry:
    entry = ChatEntry(
        entry_id=str(values["entry_id"]),
        direction=values["direction"],
        kind=str(values["kind"]),
        text=str(values.get("text", "")),
        at=datetime.fromisoformat(str(values["at"])),
        source=values["source"],
        staff=values.get("staff"),
        delivery_id=values.get("delivery_id"),
    )
    return StoredEntry(entry, str(values["sk"]))


def _conflicted(codes: list[str | None]) -> bool:
    return "TransactionConflict" in codes


def _template(values: dict[str, Any]) -> ChatTemplate:
    return ChatTemplate(id=values["template_id"], name=values["name"], text=values["text"])


def _encode_cursor(scope: str, position: str) -> str:
    return page_cursor({"in": scope}, "at", position)


def _decode_cursor(cursor: str, scope: str) -> str:
    position = position_in(cursor, {"in": scope}, "at")
    if position is None:
        raise InvalidChatCursor("cursor is not one this API returned")
    return position
