"""Small helpers shared by the DynamoDB repositories (low-level client, typed values)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from linecrm.aws_errors import error_code

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

_serializer: Any = None
_deserializer: Any = None


def to_item(values: Mapping[str, Any]) -> dict[str, AttributeValueTypeDef]:
    global _serializer
    if _serializer is None:
        from boto3.dynamodb.types import TypeSerializer

        _serializer = TypeSerializer()
    return {key: _serializer.serialize(_decimals(value)) for key, value in values.items()}


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    global _deserializer
    if _deserializer is None:
        from boto3.dynamodb.types import TypeDeserializer

        _deserializer = TypeDeserializer()
    return {key: _numbers(_deserializer.deserialize(value)) for key, value in item.items()}


def _decimals(value: Any) -> Any:
    """DynamoDB numbers go in as Decimal (boto3 refuses float)."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Mapping):
        return {key: _decimals(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_decimals(inner) for inner in value]
    return value


def _numbers(value: Any) -> Any:
    """…and come out as int when integral, else float (what the models expect)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {key: _numbers(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_numbers(inner) for inner in value]
    return value


def iso(moment: datetime) -> str:
    """Times are stored as UTC ISO-8601 strings (sortable, readable)."""
    return moment.isoformat(timespec="milliseconds")


def is_conditional_check_failure(error: Exception) -> bool:
    return error_code(error) == "ConditionalCheckFailedException"


__all__ = [
    "ConditionalUpdate",
    "DynamoDBClient",
    "batch_write",
    "conditional_updates",
    "from_item",
    "is_conditional_check_failure",
    "iso",
    "to_item",
]


BATCH_WRITE_LIMIT = 25  # DynamoDB's BatchWriteItem limit


def batch_write(client: DynamoDBClient, table_name: str, requests: Sequence[Any]) -> None:
    """Put and delete requests, 25 per BatchWriteItem, re-sending unprocessed ones
    (throttled: after an exponential back-off, as AWS advises). Raises when DynamoDB
    keeps some unprocessed after ``_BATCH_ROUNDS`` tries: the caller's retry decides."""
    for start in range(0, len(requests), BATCH_WRITE_LIMIT):
        pending = list(requests[start : start + BATCH_WRITE_LIMIT])
        for retries in range(_BATCH_ROUNDS):
            if retries:
                time.sleep(min(1.0, 0.05 * 2**retries))
            response = client.batch_write_item(RequestItems={table_name: pending})
            pending = list(response.get("UnprocessedItems", {}).get(table_name, []))
            if not pending:
                break
        if pending:
            raise RuntimeError(
                f"DynamoDB left {len(pending)} writes unprocessed after {_BATCH_ROUNDS} tries"
            )


_BATCH_ROUNDS = 8


TRANSACTION_LIMIT = 100  # DynamoDB's TransactWriteItems limit (items per call)
_TRANSACTION_ROUNDS = 5


@dataclass(frozen=True)
class ConditionalUpdate:
    """One UpdateItem with a condition: what ``conditional_updates`` runs."""

    key: Mapping[str, Any]  # plain values
    update: str
    condition: str
    values: Mapping[str, Any]  # plain values
    names: Mapping[str, str] = field(default_factory=dict)

    def request(self, table_name: str) -> dict[str, Any]:
        request: dict[str, Any] = {
            "TableName": table_name,
            "Key": to_item(self.key),
            "UpdateExpression": self.update,
            "ConditionExpression": self.condition,
            "ExpressionAttributeValues": to_item(self.values),
        }
        if self.names:
            request["ExpressionAttributeNames"] = dict(self.names)
        return request


def cancellation_codes(error: Exception) -> list[str | None]:
    """The code of each item of a cancelled TransactWriteItems, in the items' order."""
    reasons = getattr(error, "response", {}).get("CancellationReasons") or []
    return [reason.get("Code") for reason in reasons]


def transact_unless_done(
    client: Any,
    items: list[Any],
    *,
    rounds: int,
    retry: Callable[[list[str | None]], bool] = lambda _codes: True,
) -> bool:
    """TransactWriteItems whose first item's condition says "done before": True when
    written, False when that condition failed. Another cancellation (a conflict with a
    concurrent transaction on one of the items, a throttle) goes again after a back-off
    while ``retry(codes)`` allows, ``rounds`` attempts in all; then it is raised."""
    for round_number in range(rounds):
        if round_number:
            time.sleep(min(1.0, 0.05 * 2**round_number))
        try:
            client.transact_write_items(TransactItems=items)
        except Exception as error:
            if error_code(error) != "TransactionCanceledException":
                raise
            codes = cancellation_codes(error)
            if codes and codes[0] == "ConditionalCheckFailed":
                return False
            if round_number == rounds - 1 or not retry(codes):
                raise
            continue
        return True
    raise ValueError(f"rounds must be at least 1, not {rounds}")


def conditional_update(client: DynamoDBClient, table_name: str, update: ConditionalUpdate) -> bool:
    """Run one; False when its condition failed."""
    try:
        client.update_item(**update.request(table_name))
    except Exception as error:
        if is_conditional_check_failure(error):
            return False
        raise
    return True


def conditional_updates(
    client: DynamoDBClient, table_name: str, updates: Sequence[ConditionalUpdate]
) -> list[bool]:
    """Run many updates of *distinct* items, each on its own condition: which ones
    applied (False: its condition failed). Not atomic as a whole; this batches calls.

    Up to 100 go in one TransactWriteItems (500 enrolments moved in 5 calls instead of
    500). A transaction either applies all or nothing: when some conditions fail,
    DynamoDB cancels it and names them (``CancellationReasons``), and the others go
    again in the next round; a conflict with another write or a throttle is retried
    after a back-off, and after a few rounds the rest go one by one.
    """
    applied = [False] * len(updates)
    for start in range(0, len(updates), TRANSACTION_LIMIT):
        pending = list(range(start, min(start + TRANSACTION_LIMIT, len(updates))))
        for round_number in range(_TRANSACTION_ROUNDS):
            if not pending:
                break
            if round_number:
                time.sleep(min(1.0, 0.05 * 2**round_number))
            if len(pending) == 1:
                applied[pending[0]] = conditional_update(client, table_name, updates[pending[0]])
                pending = []
                break
            pending = _transact(client, table_name, updates, pending, applied)
        for index in pending:  # still contended after every round: one by one
            applied[index] = conditional_update(client, table_name, updates[index])
    return applied


def _transact(
    client: DynamoDBClient,
    table_name: str,
    updates: Sequence[ConditionalUpdate],
    pending: list[int],
    applied: list[bool],
) -> list[int]:
    """One transaction of ``pending``; the indexes to try again."""
    try:
        client.transact_write_items(
            TransactItems=[{"Update": updates[i].request(table_name)} for i in pending]  # type: ignore[typeddict-item]
        )
    except Exception as error:
        if error_code(error) != "TransactionCanceledException":
            raise
        reasons = getattr(error, "response", {}).get("CancellationReasons") or []
        if len(reasons) != len(pending):
            return pending  # no reasons to go by: the next round (or one by one) decides
        return [
            index
            for index, reason in zip(pending, reasons, strict=True)
            if reason.get("Code") != "ConditionalCheckFailed"  # failed: stays False
        ]
    for index in pending:
        applied[index] = True
    return []
