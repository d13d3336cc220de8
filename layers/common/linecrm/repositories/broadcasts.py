"""Broadcasts: ``pk = CH#<channel>#BROADCASTS``, ``sk = BROADCAST#<id>``.

Every write bumps ``version`` and is conditional on the version read, so a planner
step racing a cancel (or a second step) loses cleanly instead of overwriting.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from linecrm.domain.broadcasts import Broadcast
from linecrm.repositories.dynamo import from_item, iso, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

BROADCAST_PREFIX = "BROADCAST#"


def broadcasts_pk(channel_id: str) -> str:
    return f"CH#{channel_id}#BROADCASTS"


def broadcast_key(channel_id: str, broadcast_id: str) -> dict[str, str]:
    return {"pk": broadcasts_pk(channel_id), "sk": BROADCAST_PREFIX + broadcast_id}


class BroadcastNotFound(LookupError):
    def __init__(self, channel_id: str, broadcast_id: str) -> None:
        super().__init__(f"no broadcast {broadcast_id} in channel {channel_id}")
        self.broadcast_id = broadcast_id


class BroadcastChanged(RuntimeError):
    """The broadcast changed since it was read (a cancel, another step)."""


class BroadcastRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def get(self, channel_id: str, broadcast_id: str) -> Broadcast | None:
        response = self._client.get_item(
            TableName=self._table_name,
            Key=to_item(broadcast_key(channel_id, broadcast_id)),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return _broadcast(from_item(item)) if item else None

    def recent(self, channel_id: str, limit: int = 20) -> list[Broadcast]:
        response = self._client.query(
            TableName=self._table_name,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=to_item(
                {":pk": broadcasts_pk(channel_id), ":prefix": BROADCAST_PREFIX}
            ),
            ScanIndexForward=False,
            Limit=max(1, min(limit, 100)),
        )
        return [_broadcast(from_item(item)) for item in response.get("Items", [])]

    def create(self, broadcast: Broadcast) -> None:
        self._client.put_item(**self.put(broadcast, expected_version=None))

    def save(self, broadcast: Broadcast, *, expected_version: int) -> Broadcast:
        """Store ``broadcast`` if nobody wrote since ``expected_version``; as stored."""
        self.transact([self.put(broadcast, expected_version=expected_version)])
        return broadcast.model_copy(update={"version": expected_version + 1})

    def put(self, broadcast: Broadcast, *, expected_version: int | None) -> dict[str, Any]:
        """The conditional PutItem (new, or replacing ``expected_version``); the stored
        version is ``expected_version + 1`` (0 for a new broadcast)."""
        version = 0 if expected_version is None else expected_version + 1
        values = broadcast.model_copy(update={"version": version}).model_dump(mode="json")
        item = {
            **broadcast_key(broadcast.channel_id, broadcast.broadcast_id),
            **{key: value for key, value in values.items() if value is not None},
            # Message objects and segments stay JSON text (floats, deep maps).
            "messages": json.dumps(broadcast.messages, ensure_ascii=False),
            "segment": json.dumps(broadcast.segment, ensure_ascii=False),
            "updated_at": iso(broadcast.updated_at),
        }
        put: dict[str, Any] = {"TableName": self._table_name, "Item": to_item(item)}
        if expected_version is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "version = :version"
            put["ExpressionAttributeValues"] = to_item({":version": expected_version})
        return put

    def transact(self, puts: list[dict[str, Any]], updates: Sequence[dict[str, Any]] = ()) -> None:
        """Write puts (broadcast + chunk rows) and updates (counters) all or nothing;
        BroadcastChanged on a lost race."""
        from linecrm.aws_errors import error_code

        try:
            if len(puts) == 1 and not updates:
                self._client.put_item(**puts[0])
            else:
                items: Any = [{"Put": put} for put in puts]
                items += [{"Update": update} for update in updates]
                self._client.transact_write_items(TransactItems=items)
        except Exception as error:
            if error_code(error) in (
                "ConditionalCheckFailedException",
                "TransactionCanceledException",
            ):
                raise BroadcastChanged("the broadcast changed meanwhile") from error
            raise


def _broadcast(values: dict[str, Any]) -> Broadcast:
    values["messages"] = json.loads(values["messages"])
    values["segment"] = json.loads(values.get("segment") or "null")
    return Broadcast.model_validate(values)
