"""The delivery ledger: one item per delivery, moved to a terminal state exactly once."""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING

from linecrm.domain.deliveries import Delivery, DeliveryStatus
from linecrm.models.send import SendRequest
from linecrm.repositories.dynamo import from_item, is_conditional_check_failure, iso, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

DELIVERY_SK = "DELIVERY"


def delivery_key(delivery_id: str) -> dict[str, str]:
    return {"pk": f"DELIVERY#{delivery_id}", "sk": DELIVERY_SK}


class DeliveryLedger:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def record_queued(self, request: SendRequest, at: datetime) -> bool:
        """Write the queued row; False if the delivery was already recorded (a replay)."""
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
            "gsi1pk": f"CH#{request.channel_id}#DELIVERIES",
            "gsi1sk": f"{iso(at)}#{request.delivery_id}",
        }
        try:
            self._client.put_item(
                TableName=self._table_name,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except Exception as error:
            if is_conditional_check_failure(error):
                return False
            raise
        return True

    def get(self, delivery_id: str) -> Delivery | None:
        response = self._client.get_item(
            TableName=self._table_name, Key=to_item(delivery_key(delivery_id)), ConsistentRead=True
        )
        item = response.get("Item")
        if not item:
            return None
        values = from_item(item)
        values["messages"] = json.loads(values["messages"])
        return Delivery.model_validate(values)

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
