"""The delivery ledger: one item per delivery, moved to a terminal state exactly once.

A channel's deliveries are listed on ``gsi1``, newest first, under the write-sharded
key ``CH#<channel>#DELIVERIES#<shard>`` (shard from the delivery id, see
``linecrm.repositories.sharding``): a broadcast's burst of rows and their status
changes spread over every shard instead of one index partition.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Any

from linecrm.domain.deliveries import Delivery, DeliveryStatus
from linecrm.models.send import SendRequest
from linecrm.repositories.dynamo import from_item, is_conditional_check_failure, iso, to_item
from linecrm.repositories.sharding import merged_query, per_shard_limit, sharded_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

DELIVERY_SK = "DELIVERY"


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
        return {
            "TableName": self._table_name,
            "Item": to_item(item),
            "ConditionExpression": "attribute_not_exists(pk)",
        }

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

    def redrive(self, delivery_id: str, at: datetime) -> Delivery | None:
        """Move a dead delivery back to queued (same id, so the same retry key).

        None when it is not dead. If LINE had accepted it after all, the retry key
        makes LINE answer 409 and the sender records it as sent: re-driving is safe.
        """
        try:
            response = self._client.update_item(
                TableName=self._table_name,
                Key=to_item(delivery_key(delivery_id)),
                UpdateExpression=(
                    "SET #status = :queued, redriven_at = :at, attempts = :zero "
                    "REMOVE finished_at ADD redrives :one"
                ),
                ConditionExpression="#status = :dead",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_item(
                    {
                        ":queued": DeliveryStatus.QUEUED.value,
                        ":dead": DeliveryStatus.DEAD.value,
                        ":at": iso(at),
                        ":zero": 0,
                        ":one": 1,
                    }
                ),
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
    ) -> None:
        self._finish(
            delivery_id, DeliveryStatus.SENT, at, line_request_id=line_request_id, sent_via=sent_via
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

    def record_attempt_failure(self, delivery_id: str, reason: str) -> None:
        """Count a failed attempt and keep its reason, while the delivery stays queued."""
        self._client.update_item(
            TableName=self._table_name,
            Key=to_item(delivery_key(delivery_id)),
            UpdateExpression="SET last_error = :reason ADD attempts :one",
            ConditionExpression="attribute_exists(pk) AND #status = :queued",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item(
                {":reason": reason[:1000], ":one": 1, ":queued": DeliveryStatus.QUEUED.value}
            ),
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
    ) -> None:
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
        try:
            self._client.update_item(
                TableName=self._table_name,
                Key=to_item(delivery_key(delivery_id)),
                UpdateExpression=f"SET {', '.join(sets)} ADD attempts :one",
                ConditionExpression="attribute_exists(pk) AND #status = :queued",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_item(values),
            )
        except Exception as error:
            if not is_conditional_check_failure(error):
                raise


def _delivery(values: dict[str, Any]) -> Delivery:
    values["messages"] = json.loads(values["messages"])
    return Delivery.model_validate(values)


class InvalidDeliveryCursor(ValueError):
    """A pagination cursor that this API did not hand out."""


def _encode_cursor(channel_id: str, before: str) -> str:
    # One position in every shard: sort keys end in the (unique) delivery id.
    key = {"list": deliveries_list(channel_id), "before": before}
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, channel_id: str) -> str:
    """The sort key the page continues before (the list is newest first)."""
    try:
        key = json.loads(base64.urlsafe_b64decode((cursor + "=" * (-len(cursor) % 4)).encode()))
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidDeliveryCursor("cursor is not one this API returned") from error
    if (
        not isinstance(key, dict)
        or set(key) != {"list", "before"}
        or key["list"] != deliveries_list(channel_id)
        or not isinstance(key["before"], str)
        or not key["before"]
    ):
        raise InvalidDeliveryCursor("cursor is not one this API returned")
    return key["before"]
