"""Small helpers shared by the DynamoDB repositories (low-level client, typed values)."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
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


__all__ = ["DynamoDBClient", "from_item", "is_conditional_check_failure", "iso", "to_item"]


BATCH_WRITE_LIMIT = 25  # DynamoDB's BatchWriteItem limit


def batch_write(client: DynamoDBClient, table_name: str, requests: Sequence[Any]) -> None:
    """Put and delete requests, 25 per BatchWriteItem, re-sending unprocessed ones
    (throttled: after an exponential back-off, as AWS advises)."""
    for start in range(0, len(requests), BATCH_WRITE_LIMIT):
        pending = list(requests[start : start + BATCH_WRITE_LIMIT])
        retries = 0
        while pending:
            if retries:
                time.sleep(min(1.0, 0.05 * 2**retries))
            response = client.batch_write_item(RequestItems={table_name: pending})
            pending = list(response.get("UnprocessedItems", {}).get(table_name, []))
            retries += 1
