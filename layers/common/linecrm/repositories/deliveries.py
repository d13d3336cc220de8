"""The delivery ledger: one item per delivery, moved to a terminal state exactly once.

A channel's deliveries are listed on ``gsi1``, newest first, under the write-sharded
key ``CH#<channel>#DELIVERIES#<shard>`` (shard from the delivery id, see
``linecrm.repositories.sharding``): a broadcast's burst of rows and their status
changes spread over every shard instead of one index partition.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

from linecrm.domain.deliveries import Delivery, DeliveryStatus
from linecrm.models.send import SendRequest
from linecrm.repositories.cursors import page_cursor, position_in
from linecrm.repositories.dynamo import (
    from_item,
    is_conditional_check_failure,
    iso,
    to_item,
    transact_unless_done,
)
from linecrm.repositories.sharding import (
    all_shard_keys,
    merged_query,
    per_shard_limit,
    sharded_key,
)

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

DELIVERY_SK = "DELIVERY"
_COUNTED_ROUNDS = 6  # transaction conflicts on a counter item are retried this often


def delivery_key(delivery_id: str) -> dict[str, str]:
    return {"pk": f"DELIVERY#{delivery_id}", "sk": DELIVERY_SK}


def deliveries_list(channel_id: str) -> str:
    """The channel's delivery list, before sharding."""
    return f"CH#{channel_id}#DELIVERIES"


class DeliveryLedger:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def record_queued(self, request: SendRequest, at: datetime) -> bool:
        """Write the queued row; False if the delivery was already recorded (a replay)."""
        try:
            self._client.put_item(**self.queued_put(request, at))
        except Exception as error:
            if is_conditional_check_failure(error):
                return False
            raise
        return True

    def queued_put(self, request: SendRequest, at: datetime) -> dict[str, Any]:
        """The conditional PutItem of a queued row (also usable in a transaction)."""
        item = {
            **delivery_key(request.delivery_id),
            "delivery_id": request.delivery_id,
            "channel_id": request.channel_id,
            "recipients": request.to,
            "messages": json.dumps(request.messages, ensure_ascii=False),  # floats, big maps
            "cause": request.cause,
            "message_class": request.message_class,
            "status": DeliveryStatus.QUEUED.value,
            "attempts": 0,
            "queued_at": iso(at),
            "gsi1pk": sharded_key(deliveries_list(request.channel_id), request.delivery_id),
            "gsi1sk": f"{iso(at)}#{request.delivery_id}",
        }
        if request.to_all_friends:
            item["to_all_friends"] = True
        if request.campaign is not None:
            item["campaign"] = request.campaign
        if request.variant is not None:
            item["variant"] = request.variant
        return {
            "TableName": self._table_name,
            "Item": to_item(item),
            "ConditionExpression": "attribute_not_exists(pk)",
        }

    def skipped_put(self, request: SendRequest, reason: str, at: datetime) -> dict[str, Any]:
        """The conditional PutItem of a row that is skipped from the start (never sent)."""
        put = self.queued_put(request, at)
        put["Item"].update(
            to_item(
                {
                    "status": DeliveryStatus.SKIPPED.value,
                    "reason": reason[:1000],
                    "finished_at": iso(at),
                }
            )
        )
        return put

    def record_deferred(
        self, request: SendRequest, until: datetime, reason: str, at: datetime
    ) -> None:
        """The delivery waits (quiet hours, a frequency cap): queued, with when and why."""
        self.record_queued(request, at)
        self._client.update_item(
            TableName=self._table_name,
            Key=to_item(delivery_key(request.delivery_id)),
            UpdateExpression="SET deferred_until = :until, deferred_reason = :reason",
            ConditionExpression="#status = :queued",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item(
                {":until": iso(until), ":reason": reason, ":queued": DeliveryStatus.QUEUED.value}
            ),
        )

    def list_page(
        self,
        channel_id: str,
        *,
        status: str | None = None,
        cause: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> tuple[list[Delivery], str | None]:
        """The channel's deliveries, newest first, filtered; and the next page's cursor."""
        limit = max(1, min(limit, 200))
        names: dict[str, str] = {}
        values: dict[str, Any] = {}
        filters: list[str] = []
        if status is not None:
            names["#status"] = "status"
            values[":status"] = status
            filters.append("#status = :status")
        if cause is not None:
            values[":cause"] = cause
            filters.append("cause = :cause")
        stream = merged_query(
            self._client,
            table_name=self._table_name,
            index_name="gsi1",
            partition_attribute="gsi1pk",
            sort_attribute="gsi1sk",
            list_key=deliveries_list(channel_id),
            # A filter applies after Limit: read more per query so pages stay full.
            page_limit=per_shard_limit(limit) * (4 if filters else 1),
            descending=True,
            after=_decode_cursor(cursor, channel_id) if cursor else None,
            filter_expression=" AND ".join(filters) or None,
            names=names or None,
            values=values or None,
        )
        items = list(islice(stream, limit))
        found = [_delivery(dict(item)) for item in items]
        more = len(items) == limit and next(stream, None) is not None
        return found, _encode_cursor(channel_id, str(items[-1]["gsi1sk"])) if more else None

    def redrive(
        self,
        delivery_id: str,
        at: datetime,
        *,
        first_attempt_at: datetime,
        previous_reason: str | None,
        forced: bool = False,
    ) -> Delivery | None:
        """Move a dead delivery back to queued (same id, so the same retry key).

        None when it is not dead. If LINE had accepted it after all, the retry key
        makes LINE answer 409 and the sender records it as sent: re-driving is safe
        within LINE's retry-key window. ``first_attempt_at`` is kept (the window is
        counted from it); the dead reason moves to ``previous_reason``; ``forced``
        records that the re-drive was made past the window (no duplicate protection).
        """
        sets = [
            "#status = :queued",
            "redriven_at = :at",
            "attempts = :zero",
            "first_attempt_at = if_not_exists(first_attempt_at, :first)",
        ]
        values: dict[str, object] = {
            ":queued": DeliveryStatus.QUEUED.value,
            ":dead": DeliveryStatus.DEAD.value,
            ":at": iso(at),
            ":zero": 0,
            ":one": 1,
            ":first": iso(first_attempt_at),
        }
        if previous_reason:
            sets.append("previous_reason = :previous")
            values[":previous"] = previous_reason[:1000]
        if forced:
            sets.append("redrive_forced_at = :at")
        try:
            response = self._client.update_item(
                TableName=self._table_name,
                Key=to_item(delivery_key(delivery_id)),
                UpdateExpression=(
                    f"SET {', '.join(sets)} REMOVE finished_at, reason, last_error "
                    "ADD redrives :one"
                ),
                ConditionExpression="#status = :dead",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_item(values),
                ReturnValues="ALL_NEW",
            )
        except Exception as error:
            if is_conditional_check_failure(error):
                return None
            raise
        return _delivery(from_item(response["Attributes"]))

    def get_many(self, delivery_ids: list[str]) -> dict[str, Delivery]:
        """The rows that exist among ``delivery_ids`` (BatchGetItem, 100 at a time)."""
        found: dict[str, Delivery] = {}
        for start in range(0, len(delivery_ids), 100):
            keys: list[Any] = [to_item(delivery_key(i)) for i in delivery_ids[start : start + 100]]
            pending: dict[str, Any] = {self._table_name: {"Keys": keys}}
            while pending:
                response = self._client.batch_get_item(RequestItems=pending)
                for item in response.get("Responses", {}).get(self._table_name, []):
                    delivery = _delivery(from_item(item))
                    found[delivery.delivery_id] = delivery
                pending = dict(response.get("UnprocessedKeys") or {})
        return found

    def get(self, delivery_id: str) -> Delivery | None:
        response = self._client.get_item(
            TableName=self._table_name, Key=to_item(delivery_key(delivery_id)), ConsistentRead=True
        )
        item = response.get("Item")
        return _delivery(from_item(item)) if item else None

    def mark_sent(
        self,
        delivery_id: str,
        line_request_id: str | None,
        at: datetime,
        *,
        sent_via: str | None = None,
        counted: Sequence[dict[str, Any]] = (),
        logged: Sequence[dict[str, Any]] = (),
    ) -> bool:
        """Move the delivery from queued to sent; False when it was not queued (finished
        before). ``counted``: UpdateItems written in the same transaction (the report
        counters), so they apply exactly when this move does: once per delivery.
        ``logged``: TransactWriteItems items of the 1:1 chat log (``{"Put": …}`` or
        ``{"Update": …}``), likewise in the same transaction."""
        return self._finish(
            delivery_id,
            DeliveryStatus.SENT,
            at,
            line_request_id=line_request_id,
            sent_via=sent_via,
            counted=counted,
            logged=logged,
        )

    def claim_reply(self, delivery_id: str, at: datetime) -> bool:
        """Record that the one reply attempt starts now; False if it was made before.

        A reply has no retry key, so it is tried at most once per delivery; whoever
        finds it claimed (a redelivered message) pushes with the retry key instead.
        """
        try:
            self._client.update_item(
                TableName=self._table_name,
                Key=to_item(delivery_key(delivery_id)),
                UpdateExpression="SET reply_attempted_at = :at",
                ConditionExpression=(
                    "attribute_exists(pk) AND #status = :queued "
                    "AND attribute_not_exists(reply_attempted_at)"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_item(
                    {":at": iso(at), ":queued": DeliveryStatus.QUEUED.value}
                ),
            )
        except Exception as error:
            if is_conditional_check_failure(error):
                return False
            raise
        return True

    def record_reply_failure(self, delivery_id: str, reason: str) -> None:
        self._client.update_item(
            TableName=self._table_name,
            Key=to_item(delivery_key(delivery_id)),
            UpdateExpression="SET reply_error = :reason",
            ExpressionAttributeValues=to_item({":reason": reason[:1000]}),
        )

    def mark_dead(self, delivery_id: str, reason: str, at: datetime) -> None:
        self._finish(delivery_id, DeliveryStatus.DEAD, at, reason=reason)

    def mark_skipped(self, delivery_id: str, reason: str, at: datetime) -> None:
        self._finish(delivery_id, DeliveryStatus.SKIPPED, at, reason=reason)

    def record_attempt_failure(
        self, delivery_id: str, reason: str, at: datetime | None = None
    ) -> None:
        """Count a failed attempt and keep its reason, while the delivery stays queued.

        ``at``: when the attempt failed; the first one is kept as ``first_attempt_at``
        (LINE remembers the retry key for 24 h from about then).
        """
        values: dict[str, object] = {
            ":reason": reason[:1000],
            ":one": 1,
            ":queued": DeliveryStatus.QUEUED.value,
        }
        first = ""
        if at is not None:
            first = ", first_attempt_at = if_not_exists(first_attempt_at, :at)"
            values[":at"] = iso(at)
        self._client.update_item(
            TableName=self._table_name,
            Key=to_item(delivery_key(delivery_id)),
            UpdateExpression=f"SET last_error = :reason{first} ADD attempts :one",
            ConditionExpression="attribute_exists(pk) AND #status = :queued",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item(values),
        )

    def _finish(
        self,
        delivery_id: str,
        status: DeliveryStatus,
        at: datetime,
        *,
        line_request_id: str | None = None,
        reason: str | None = None,
        sent_via: str | None = None,
        counted: Sequence[dict[str, Any]] = (),
        logged: Sequence[dict[str, Any]] = (),
    ) -> bool:
        # Only a queued delivery moves: a terminal state is never overwritten.
        values: dict[str, object] = {
            ":status": status.value,
            ":at": iso(at),
            ":queued": DeliveryStatus.QUEUED.value,
            ":one": 1,
        }
        sets = ["#status = :status", "finished_at = :at"]
        if status is DeliveryStatus.SENT:
            sets.append("sent_at = :at")
        if line_request_id:
            sets.append("line_request_id = :request_id")
            values[":request_id"] = line_request_id
        if sent_via:
            sets.append("sent_via = :via")
            values[":via"] = sent_via
        if reason:
            sets.append("reason = :reason")
            values[":reason"] = reason[:1000]
        update: dict[str, Any] = {
            "TableName": self._table_name,
            "Key": to_item(delivery_key(delivery_id)),
            "UpdateExpression": f"SET {', '.join(sets)} ADD attempts :one",
            "ConditionExpression": "attribute_exists(pk) AND #status = :queued",
            "ExpressionAttributeNames": {"#status": "status"},
            "ExpressionAttributeValues": to_item(values),
        }
        if counted or logged:
            return self._finish_counted(update, counted, logged)
        try:
            self._client.update_item(**update)
        except Exception as error:
            if not is_conditional_check_failure(error):
                raise
            return False
        return True

    def _finish_counted(
        self,
        update: dict[str, Any],
        counted: Sequence[dict[str, Any]],
        logged: Sequence[dict[str, Any]] = (),
    ) -> bool:
        """The move and the counters in one TransactWriteItems; a conflict with a
        concurrent write of a counter item (another chunk) is retried after a back-off."""
        items: list[Any] = [
            {"Update": update},
            *({"Update": extra} for extra in counted),
            *logged,
        ]
        # False: finished before, counted then (or never to be).
        return transact_unless_done(self._client, items, rounds=_COUNTED_ROUNDS)


class RecipientLedger:
    """The ledger rows that name one friend among their recipients (erasure and export).

    Rows are found by reading the channel's ledger (every shard of the ``gsi1`` list)
    with a filter: an erasure is rare, and a per-friend index would cost a write on
    every delivery.
    """

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def rows_naming(self, channel_id: str, user_id: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for list_key in all_shard_keys(deliveries_list(channel_id)):
            request: dict[str, Any] = {
                "TableName": self._table_name,
                "IndexName": "gsi1",
                "KeyConditionExpression": "gsi1pk = :list",
                "FilterExpression": "contains(recipients, :user)",
                "ExpressionAttributeValues": to_item({":list": list_key, ":user": user_id}),
            }
            while True:
                response = self._client.query(**request)
                rows.extend(from_item(item) for item in response.get("Items", []))
                if "LastEvaluatedKey" not in response:
                    break
                request["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return rows

    def erase_recipient(self, channel_id: str, user_id: str) -> int:
        """Delete the rows addressed to the friend alone; take the friend out of the
        recipients of the others (broadcast chunks). The number of rows changed."""
        rows = self.rows_naming(channel_id, user_id)
        for row in rows:
            key = to_item({"pk": row["pk"], "sk": row["sk"]})
            others = [r for r in row["recipients"] if r != user_id]
            if not others:
                self._client.delete_item(TableName=self._table_name, Key=key)
            else:
                self._client.update_item(
                    TableName=self._table_name,
                    Key=key,
                    UpdateExpression="SET recipients = :others",
                    ExpressionAttributeValues=to_item({":others": others}),
                )
        return len(rows)


def _delivery(values: dict[str, Any]) -> Delivery:
    values["messages"] = json.loads(values["messages"])
    return Delivery.model_validate(values)


class InvalidDeliveryCursor(ValueError):
    """A pagination cursor that this API did not hand out."""


def _encode_cursor(channel_id: str, before: str) -> str:
    # One position in every shard: sort keys end in the (unique) delivery id.
    return page_cursor({"list": deliveries_list(channel_id)}, "before", before)


def _decode_cursor(cursor: str, channel_id: str) -> str:
    """The sort key the page continues before (the list is newest first)."""
    before = position_in(cursor, {"list": deliveries_list(channel_id)}, "before")
    if before is None:
        raise InvalidDeliveryCursor("cursor is not one this API returned")
    return before
