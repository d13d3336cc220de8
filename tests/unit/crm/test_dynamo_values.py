"""Numbers through DynamoDB: floats go in (as Decimal), come out as int or float."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from linecrm.repositories.dynamo import from_item, to_item
from tests.unit.conftest import AwsWorld

NESTED: dict[str, Any] = {
    "pk": "TEST#1",
    "sk": "ITEM",
    "price": 3.5,
    "whole_float": 2.0,
    "count": 7,
    "big": 12345678901234567890,
    "tiny": 1e-7,
    "negative": -0.25,
    "flag": True,
    "nothing": None,
    "text": "1.5",
    "nested": {"rate": 0.1, "points": 1200.0, "deeper": {"values": [1.5, 2.0, 3, {"x": -4.75}]}},
    "list": [0.5, [1.0, 2.25], {"y": 10.0}],
}
EXPECTED: dict[str, Any] = {
    **NESTED,
    "whole_float": 2,
    "nested": {"rate": 0.1, "points": 1200, "deeper": {"values": [1.5, 2, 3, {"x": -4.75}]}},
    "list": [0.5, [1, 2.25], {"y": 10}],
}


def assert_same_types(actual: Any, expected: Any) -> None:
    assert type(actual) is type(expected), (actual, expected)
    if isinstance(expected, dict):
        assert actual.keys() == expected.keys()
        for key in expected:
            assert_same_types(actual[key], expected[key])
    elif isinstance(expected, list):
        assert len(actual) == len(expected)
        for inner_actual, inner_expected in zip(actual, expected, strict=True):
            assert_same_types(inner_actual, inner_expected)


def test_floats_are_serialized_as_exact_decimal_numbers() -> None:
    item = to_item({"price": 0.1, "deep": {"list": [2.5, {"x": 1e-7}]}})
    assert item["price"] == {"N": "0.1"}
    assert item["deep"]["M"]["list"]["L"][0] == {"N": "2.5"}
    assert Decimal(item["deep"]["M"]["list"]["L"][1]["M"]["x"]["N"]) == Decimal("1e-7")


def test_round_trip_without_the_table() -> None:
    back = from_item(to_item(NESTED))
    assert back == EXPECTED
    assert_same_types(back, EXPECTED)


def test_round_trip_through_dynamodb(aws: AwsWorld) -> None:
    dynamodb = aws.client("dynamodb")
    table = aws.resources.table_names["Main"]
    dynamodb.put_item(TableName=table, Item=to_item(NESTED))
    stored = dynamodb.get_item(TableName=table, Key=to_item({"pk": "TEST#1", "sk": "ITEM"}))
    back = from_item(stored["Item"])
    assert back == EXPECTED
    assert_same_types(back, EXPECTED)
    assert not any(isinstance(value, Decimal) for value in _leaves(back))


def test_decimals_from_the_table_never_leak_out() -> None:
    raw = {"n": {"N": "10"}, "f": {"N": "10.50"}, "m": {"M": {"l": {"L": [{"N": "3.000"}]}}}}
    assert from_item(raw) == {"n": 10, "f": 10.5, "m": {"l": [3]}}
    assert type(from_item(raw)["m"]["l"][0]) is int


def _leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for inner in value.values() for leaf in _leaves(inner)]
    if isinstance(value, list):
        return [leaf for inner in value for leaf in _leaves(inner)]
    return [value]
