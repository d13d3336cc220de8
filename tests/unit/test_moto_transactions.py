"""Our TransactWriteItems for moto (linecrm_local.moto_transactions): all or nothing,
one cancellation reason per item, the same refusals as DynamoDB."""

from __future__ import annotations

from typing import Any

import pytest

from linecrm.repositories.dynamo import to_item
from tests.unit.conftest import AwsWorld


def put(table: str, pk: str, **values: Any) -> dict[str, Any]:
    return {"Put": {"TableName": table, "Item": to_item({"pk": pk, "sk": "S", **values})}}


def item(aws: AwsWorld, pk: str) -> dict[str, Any] | None:
    found = aws.client("dynamodb").get_item(
        TableName=aws.resources.table_names["Main"], Key=to_item({"pk": pk, "sk": "S"})
    )
    return found.get("Item")


def test_a_failed_condition_cancels_everything_with_a_reason_per_item(aws: AwsWorld) -> None:
    client, table = aws.client("dynamodb"), aws.resources.table_names["Main"]
    client.transact_write_items(TransactItems=[put(table, "A", n=1)])
    check = {
        "ConditionCheck": {
            "TableName": table,
            "Key": to_item({"pk": "A", "sk": "S"}),
            "ConditionExpression": "n = :two",
            "ExpressionAttributeValues": to_item({":two": 2}),
        }
    }
    with pytest.raises(client.exceptions.TransactionCanceledException) as cancelled:
        client.transact_write_items(TransactItems=[put(table, "B"), check])
    reasons = cancelled.value.response["CancellationReasons"]
    assert [reason["Code"] for reason in reasons] == ["None", "ConditionalCheckFailed"]
    assert item(aws, "B") is None


def test_a_write_that_fails_rolls_back_the_ones_before_it(aws: AwsWorld) -> None:
    client, table = aws.client("dynamodb"), aws.resources.table_names["Main"]
    client.transact_write_items(TransactItems=[put(table, "A", n=1)])
    bad_update = {
        "Update": {
            "TableName": table,
            "Key": to_item({"pk": "C", "sk": "S"}),
            "UpdateExpression": "SET n = n + :one",  # n does not exist on C: refused
            "ExpressionAttributeValues": to_item({":one": 1}),
        }
    }
    with pytest.raises(client.exceptions.ClientError):
        client.transact_write_items(
            TransactItems=[put(table, "A", n=5), put(table, "B"), bad_update]
        )
    assert item(aws, "A") == to_item({"pk": "A", "sk": "S", "n": 1})
    assert item(aws, "B") is None


def test_two_operations_on_one_item_are_refused(aws: AwsWorld) -> None:
    client, table = aws.client("dynamodb"), aws.resources.table_names["Main"]
    with pytest.raises(client.exceptions.ClientError, match="multiple operations"):
        client.transact_write_items(TransactItems=[put(table, "A"), put(table, "A", n=2)])
    assert item(aws, "A") is None
