"""DynamoDB TransactWriteItems for moto in time proportional to the transaction.

moto 5.2 keeps a deep copy of the *whole table* for each item of a transaction, to roll
back if one item fails: with 20,000 friends in the table, a 100-item transaction (a
scenario fire's batch of moves) copies 2 million items and takes seconds, where
DynamoDB takes milliseconds. That made the local stack far slower than AWS on exactly
the path that scales, and timed functions out that do not time out on AWS.

This does the same thing in two phases, as DynamoDB specifies it: every condition is
evaluated against the state before the transaction (no write yet), and if any fails,
the transaction is cancelled with one reason per item (``ConditionalCheckFailed`` or
``None``) and nothing is written; otherwise the writes are applied, with only the
touched items kept to restore if a write fails (a validation error). Semantics do not
get kinder: the same all-or-nothing, the same cancellation reasons, and the same
refusals (two operations on one item, more than 100 items).

Installed by ``install()``, which the local AWS endpoint and the unit tests' moto call.
"""

from __future__ import annotations

import copy
from typing import Any

_installed = False


def install() -> None:
    """Replace ``DynamoDBBackend.transact_write_items`` (once per process)."""
    global _installed
    if _installed:
        return
    from moto.dynamodb.models import DynamoDBBackend

    DynamoDBBackend.transact_write_items = _transact_write_items  # type: ignore[method-assign]
    _installed = True


def _transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )

    if len(transact_items) > 100:
        raise TooManyTransactionsException()
    operations: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
    seen: set[tuple[str, str]] = set()
    for item in transact_items:
        if len(item) > 1:
            raise TransactWriteSingleOpException
        op_type, op = next(iter(item.items()))
        if op_type not in {"ConditionCheck", "Put", "Delete", "Update"}:
            raise ValueError("Unsupported transaction operation")
        table = self.get_table(op["TableName"])
        if op_type == "Put":
            key = {table.hash_key_attr: op["Item"][table.hash_key_attr]}
            if table.range_key_attr is not None:
                key[table.range_key_attr] = op["Item"][table.range_key_attr]
        else:
            key = op["Key"]
        identity = (str(op["TableName"]), str(dict(sorted(key.items()))))
        if identity in seen:
            raise MultipleTransactionsException()
        seen.add(identity)
        operations.append((op_type, op, key))

    # Phase 1: every condition against the state before the transaction.
    errors: list[tuple[str | None, str | None, Any]] = []
    for _, op, key in operations:
        current = self.get_item(op["TableName"], key)
        condition = op.get("ConditionExpression")
        if condition is not None and not get_filter_expression(
            condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
        ).expr(current):
            old = None
            if op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" and current:
                old = current.to_json()["Attributes"]
            errors.append(("ConditionalCheckFailed", "The conditional request failed", old))
        else:
            errors.append((None, None, None))
    if any(code is not None for code, _, _ in errors):
        raise TransactionCanceledException(errors)

    # Phase 2: the writes; the touched items' old state is kept to restore on a failure.
    before: list[tuple[str, dict[str, Any], Any]] = []
    try:
        for op_type, op, key in operations:
            table_name = op["TableName"]
            if op_type == "ConditionCheck":
                continue
            current = self.get_item(table_name, key)
            before.append(
                (
                    table_name,
                    key,
                    copy.deepcopy(current.to_json()["Attributes"]) if current else None,
                )
            )
            names, values = op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")
            if op_type == "Put":
                self.put_item(table_name, op["Item"])
            elif op_type == "Delete":
                self.delete_item(table_name, key)
            else:
                self.update_item(
                    table_name,
                    key,
                    update_expression=op["UpdateExpression"],
                    expression_attribute_names=names,
                    expression_attribute_values=values,
                )
    except Exception:
        for table_name, key, attributes in reversed(before):
            if attributes is None:
                self.delete_item(table_name, key)
            else:
                self.put_item(table_name, attributes)
        raise
