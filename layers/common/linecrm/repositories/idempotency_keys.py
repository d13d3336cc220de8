"""Idempotency keys of creating admin requests:
``pk = CH#<channel>#IDEMPOTENCY#<key>``, ``sk = IDEMPOTENCY``.

One item per key (so keys spread over partitions), expiring by the table's TTL
(``expires_at``, epoch seconds); the claim also treats an expired item as absent,
since TTL deletes up to days late.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from linecrm.domain.idempotency import KeyRecord
from linecrm.repositories.dynamo import from_item, is_conditional_check_failure, iso, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

SORT_KEY = "IDEMPOTENCY"


def key_item_key(channel_id: str, key: str) -> dict[str, str]:
    return {"pk": f"CH#{channel_id}#IDEMPOTENCY#{key}", "sk": SORT_KEY}


class IdempotencyKeyRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def claim(self, record: KeyRecord, now: datetime) -> KeyRecord | None:
        item = {
            **key_item_key(record.channel_id, record.key),
            "operation": record.operation,
            "fingerprint": record.fingerprint,
            "resource_id": record.resource_id,
            "state": record.state,
            "lease_until": iso(record.lease_until),
            "expires_at": int(record.expires_at.timestamp()),
        }
        for _ in range(3):
            try:
                self._client.put_item(
                    TableName=self._table_name,
                    Item=to_item(item),
                    ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                    ExpressionAttributeValues=to_item({":now": int(now.timestamp())}),
                )
                return None
            except Exception as error:
                if not is_conditional_check_failure(error):
                    raise
            stored = self.get(record.channel_id, record.key)
            if stored is not None:
                return stored
            # Deleted (TTL) between the put and the read: claim again.
        raise RuntimeError(f"idempotency key {record.key!r} keeps changing")

    def get(self, channel_id: str, key: str) -> KeyRecord | None:
        response = self._client.get_item(
            TableName=self._table_name,
            Key=to_item(key_item_key(channel_id, key)),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return _record(channel_id, key, from_item(item)) if item else None

    def take_over(self, stale: KeyRecord, lease_until: datetime) -> bool:
        """Take a stale pending key's lease, unless someone else took it since."""
        return self._set_pending_lease(
            stale, lease_until, "lease_until = :seen", {":seen": iso(stale.lease_until)}
        )

    def complete(self, record: KeyRecord) -> None:
        self._client.update_item(
            TableName=self._table_name,
            Key=to_item(key_item_key(record.channel_id, record.key)),
            UpdateExpression="SET #state = :done REMOVE lease_until",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues=to_item({":done": "done"}),
        )

    def release(self, record: KeyRecord) -> None:
        """End the lease of a pending key this request holds, so a retry need not wait."""
        self._set_pending_lease(
            record, _LEASE_ENDED, "resource_id = :resource", {":resource": record.resource_id}
        )

    def _set_pending_lease(
        self, record: KeyRecord, lease_until: datetime, condition: str, values: dict[str, Any]
    ) -> bool:
        """Set the lease of a key that is still pending and meets ``condition``
        (with its ``values``); False when the key is not so."""
        try:
            self._client.update_item(
                TableName=self._table_name,
                Key=to_item(key_item_key(record.channel_id, record.key)),
                UpdateExpression="SET lease_until = :until",
                ConditionExpression=f"#state = :pending AND {condition}",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=to_item(
                    {":until": iso(lease_until), ":pending": "pending", **values}
                ),
            )
        except Exception as error:
            if is_conditional_check_failure(error):
                return False
            raise
        return True


_LEASE_ENDED = datetime(1970, 1, 1, tzinfo=UTC)


def _record(channel_id: str, key: str, values: dict[str, Any]) -> KeyRecord:
    lease = values.get("lease_until")
    return KeyRecord(
        channel_id=channel_id,
        key=key,
        operation=values["operation"],
        fingerprint=values["fingerprint"],
        resource_id=values["resource_id"],
        state=values["state"],
        lease_until=datetime.fromisoformat(lease) if lease else _LEASE_ENDED,
        expires_at=datetime.fromtimestamp(int(values["expires_at"]), UTC),
    )
