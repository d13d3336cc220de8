"""conditional_updates (moto): many conditional writes in few calls, each one applied
or not on its own condition, as DynamoDB's cancelled transactions report."""

from __future__ import annotations

from typing import Any

from linecrm.repositories.dynamo import ConditionalUpdate, conditional_updates, to_item
from linecrm_local.aws_calls import count_aws_calls
from tests.unit.conftest import AwsWorld


def table(aws: AwsWorld) -> str:
    return aws.resources.table_names["Main"]


def put(aws: AwsWorld, number: int, state: str) -> None:
    aws.client("dynamodb").put_item(
        TableName=table(aws), Item=to_item({"pk": f"T#{number}", "sk": "S", "state": state})
    )


def moving(number: int, expected: str = "a") -> ConditionalUpdate:
    return ConditionalUpdate(
        key={"pk": f"T#{number}", "sk": "S"},
        update="SET #state = :to",
        condition="#state = :from",
        values={":from": expected, ":to": "b"},
        names={"#state": "state"},
    )


def states(aws: AwsWorld, count: int) -> list[Any]:
    client = aws.client("dynamodb")
    return [
        client.get_item(TableName=table(aws), Key=to_item({"pk": f"T#{n}", "sk": "S"}))["Item"][
            "state"
        ]["S"]
        for n in range(count)
    ]


def test_each_update_applies_on_its_own_condition_in_one_call_per_hundred(
    aws: AwsWorld,
) -> None:
    for number in range(150):
        put(aws, number, "x" if number in (3, 120) else "a")  # two are not where expected

    with count_aws_calls() as calls:
        applied = conditional_updates(
            aws.client("dynamodb"), table(aws), [moving(n) for n in range(150)]
        )

    assert [n for n, ok in enumerate(applied) if not ok] == [3, 120]
    assert states(aws, 150) == ["x" if n in (3, 120) else "b" for n in range(150)]
    # Each transaction of 100 (and of 50) was cancelled once by its failed condition,
    # then went again without it: 4 calls for 150 writes.
    assert calls.by_operation() == {"dynamodb.TransactWriteItems": 4}


def test_all_applied_is_one_call_and_a_single_update_is_a_plain_update(aws: AwsWorld) -> None:
    for number in range(5):
        put(aws, number, "a")
    client = aws.client("dynamodb")
    with count_aws_calls() as calls:
        assert conditional_updates(client, table(aws), [moving(n) for n in range(4)]) == [True] * 4
        assert conditional_updates(client, table(aws), [moving(4)]) == [True]
        assert conditional_updates(client, table(aws), [moving(4)]) == [False]  # now "b"
        assert conditional_updates(client, table(aws), []) == []
    assert calls.by_operation() == {
        "dynamodb.TransactWriteItems": 1,
        "dynamodb.UpdateItem": 2,
    }
