"""DynamoDB item results for the local stack's moto, written with ``json.dumps``.

moto 5.2 writes every response through its generic serializer, which walks the
operation's output shape in Python, member by member. For item results that is about
60 times slower than ``json.dumps`` (a Query of 300 items: 0.4 s against 7 ms) and was
a third of moto's time in the 10,000-friend scenario bench, under the local endpoint's
one-request-at-a-time lock: the local stack was slower than DynamoDB in a way our
lateness figures then measured.

For the item operations below, when the result is plain JSON data (dicts, lists,
strings, numbers, booleans, and bytes, which the wire format carries as base64), the
body is written by ``json.dumps``, with the output shape's top-level members only, as
the serializer writes it. Anything else (a ``None``, a datetime, another operation;
BatchWriteItem and TransactWriteItems answer through moto's plain ``ActionResult``)
goes through moto's serializer unchanged. ``tests/unit/test_moto_responses.py``
checks that both give the same document.
"""

from __future__ import annotations

import base64
import json
from typing import Any

_ITEM_OPERATIONS = frozenset(
    {
        "GetItem",
        "BatchGetItem",
        "Query",
        "Scan",
        "PutItem",
        "UpdateItem",
        "DeleteItem",
        "TransactGetItems",
    }
)
_CONTENT_TYPE = "application/x-amz-json-1.0"
_SCALARS = (str, bool, int, float, bytes)
_installed = False


def install() -> None:
    """Give moto's ``DynamoResult`` the fast path (once per process)."""
    global _installed
    if _installed:
        return
    from moto.dynamodb.responses import DynamoResult

    serialize = DynamoResult.execute_result

    def execute_result(self: Any, context: Any) -> Any:
        body = fast_body(context.operation_model, self.result)
        if body is None:
            return serialize(self, context)
        return 200, {"Content-Type": _CONTENT_TYPE}, body

    DynamoResult.execute_result = execute_result  # type: ignore[method-assign]
    _installed = True


def fast_body(operation_model: Any, result: object) -> str | None:
    """The response body for ``result``, or None where moto's serializer must write it."""
    if operation_model.name not in _ITEM_OPERATIONS or not isinstance(result, dict):
        return None
    shape = operation_model.output_shape
    members = shape.members if shape is not None else {}
    # The serializer writes the shape's members only (DeleteItem's result also holds a
    # "ConsumedCapacityUnits" that DynamoDB's API does not have).
    document = {key: value for key, value in result.items() if key in members}
    if not _plain(document):
        return None
    return json.dumps(document, default=_base64)


def _plain(value: object) -> bool:
    """True when ``value`` holds only JSON data and bytes (no None, datetime, object)."""
    stack = [value]
    while stack:
        current = stack.pop()
        if isinstance(current, dict):
            for key, item in current.items():
                if not isinstance(key, str):
                    return False
                stack.append(item)
        elif isinstance(current, list):
            stack.extend(current)
        elif not isinstance(current, _SCALARS):
            return False
    return True


def _base64(value: object) -> str:
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    raise TypeError(f"{type(value).__name__} is not JSON data")
