"""The local stack's fast DynamoDB responses (linecrm_local.moto_responses) say exactly
what moto's own serializer says, for every item operation we use."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.core.responses import ActionResult
from moto.dynamodb.responses import DynamoResult

from linecrm_local import moto_responses

TABLE = "items"


class Compared:
    def __init__(self) -> None:
        self.fast: dict[str, int] = {}
        self.fallbacks: list[str] = []


@pytest.fixture
def compared(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Compared]]:
    seen = Compared()

    def both(self: DynamoResult, context: Any) -> Any:
        status, headers, body = ActionResult.execute_result(self, context)  # moto's own
        name = context.operation_model.name
        fast = moto_responses.fast_body(context.operation_model, self.result)
        if fast is None:
            seen.fallbacks.append(name)
        else:
            assert status == 200 and headers == {"Content-Type": "application/x-amz-json-1.0"}
            assert json.loads(fast) == json.loads(body), name
            seen.fast[name] = seen.fast.get(name, 0) + 1
        return status, headers, body

    monkeypatch.setattr(DynamoResult, "execute_result", both)
    with mock_aws():
        client = boto3.client("dynamodb", region_name="ap-northeast-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": name, "AttributeType": "S"} for name in ("pk", "sk", "g")
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "byG",
                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        yield client, seen


def every_type(n: int) -> dict[str, Any]:
    return {
        "pk": {"S": "P"},
        "sk": {"S": f"S#{n:03d}"},
        "g": {"S": "G"},
        "words": {"S": '日本語 \u2028 "quoted" \\ </script>'},
        "amount": {"N": "-12.50"},
        "bin": {"B": bytes([0, 1, 2, 255, n % 256])},
        "on": {"BOOL": n % 2 == 0},
        "nothing": {"NULL": True},
        "things": {"L": [{"S": "a"}, {"N": "1"}, {"M": {"deep": {"B": b"\xfe"}}}]},
        "mapping": {"M": {"k": {"SS": ["x", "y"]}, "empty": {"M": {}}, "e": {"L": []}}},
        "strings": {"SS": ["b", "a"]},
        "numbers": {"NS": ["1", "2.5"]},
        "blobs": {"BS": [b"\x00", b"\x01"]},
    }


def test_item_operations_answer_as_moto_does(compared: tuple[Any, Compared]) -> None:
    client, seen = compared
    for n in range(30):
        client.put_item(TableName=TABLE, Item=every_type(n), ReturnConsumedCapacity="TOTAL")
    key = {"pk": {"S": "P"}, "sk": {"S": "S#001"}}
    client.get_item(TableName=TABLE, Key=key, ReturnConsumedCapacity="INDEXES")
    client.get_item(TableName=TABLE, Key={"pk": {"S": "none"}, "sk": {"S": "x"}})
    client.get_item(
        TableName=TABLE,
        Key=key,
        ProjectionExpression="bin, #l, mapping.k",
        ExpressionAttributeNames={"#l": "things"},
    )
    page = client.query(
        TableName=TABLE,
        KeyConditionExpression="pk = :p",
        ExpressionAttributeValues={":p": {"S": "P"}},
        Limit=7,
        ReturnConsumedCapacity="TOTAL",
    )
    assert "LastEvaluatedKey" in page
    client.query(
        TableName=TABLE,
        IndexName="byG",
        KeyConditionExpression="g = :g",
        ExpressionAttributeValues={":g": {"S": "G"}},
        Select="COUNT",
    )
    client.scan(
        TableName=TABLE,
        FilterExpression="#on = :t",
        ExpressionAttributeNames={"#on": "on"},
        ExpressionAttributeValues={":t": {"BOOL": True}},
    )
    client.update_item(
        TableName=TABLE,
        Key=key,
        UpdateExpression="SET amount = amount + :one, bin = :b",
        ExpressionAttributeValues={":one": {"N": "1"}, ":b": {"B": b"\x10"}},
        ReturnValues="ALL_NEW",
        ReturnConsumedCapacity="TOTAL",
        ReturnItemCollectionMetrics="SIZE",
    )
    client.update_item(
        TableName=TABLE,
        Key=key,
        UpdateExpression="REMOVE #on",
        ExpressionAttributeNames={"#on": "on"},
        ReturnValues="UPDATED_OLD",
    )
    client.delete_item(TableName=TABLE, Key=key, ReturnValues="ALL_OLD")
    client.batch_get_item(
        RequestItems={
            TABLE: {"Keys": [{"pk": {"S": "P"}, "sk": {"S": f"S#{n:03d}"}} for n in range(5)]}
        },
        ReturnConsumedCapacity="TOTAL",
    )
    client.batch_write_item(
        RequestItems={
            TABLE: [{"PutRequest": {"Item": every_type(n)}} for n in range(40, 45)]
            + [{"DeleteRequest": {"Key": {"pk": {"S": "P"}, "sk": {"S": "S#002"}}}}]
        }
    )
    client.transact_get_items(
        TransactItems=[
            {"Get": {"TableName": TABLE, "Key": key}},
            {"Get": {"TableName": TABLE, "Key": {"pk": {"S": "P"}, "sk": {"S": "S#003"}}}},
        ]
    )
    client.transact_write_items(
        TransactItems=[{"Put": {"TableName": TABLE, "Item": every_type(99)}}],
        ReturnConsumedCapacity="TOTAL",
    )
    assert set(seen.fast) == {
        "PutItem",
        "GetItem",
        "Query",
        "Scan",
        "UpdateItem",
        "DeleteItem",
        "BatchGetItem",
        "TransactGetItems",
    }
    assert "CreateTable" in seen.fallbacks  # other operations keep moto's serializer


def test_anything_but_json_data_falls_back_to_moto() -> None:
    class Shape:
        members = {"Item": object(), "Attributes": object()}

    class Operation:
        name = "GetItem"
        output_shape = Shape()

    assert moto_responses.fast_body(Operation(), {"Item": {"a": {"B": b"\x00"}}}) == (
        '{"Item": {"a": {"B": "AA=="}}}'
    )
    assert moto_responses.fast_body(Operation(), {"Item": None}) is None
    assert moto_responses.fast_body(Operation(), {"Item": {}, "Unknown": 1}) == '{"Item": {}}'
    assert moto_responses.fast_body(Operation(), {"Item": {"t": object()}}) is None
    Operation.name = "DescribeTable"
    assert moto_responses.fast_body(Operation(), {"Item": {}}) is None
