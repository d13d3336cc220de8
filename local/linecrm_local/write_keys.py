"""Where DynamoDB writes and reads land: partition key values per table and per index.

Hot keys are measured by counting, not by timing: while a ``record_dynamodb_keys()``
block is active, every DynamoDB write a client makes (PutItem, UpdateItem, DeleteItem,
BatchWriteItem, TransactWriteItems) is resolved to the item's before and after images,
and counted against

- the table's partition key value, and
- each GSI's partition key value when the write reaches that index: the index keys
  changed, or (ALL / INCLUDE) a projected attribute changed, computed from the images
  and the index's projection in ``linecrm.resources``, as DynamoDB decides it.

The largest share of one key value per index is the hot-key figure (``make bench``).
Reads are counted too: items read (Query/Scan ``ScannedCount``, items returned by
GetItem/BatchGetItem) and an estimate of read capacity from DynamoDB's rules (4 KB
units, half a unit eventually consistent; a Query at least one unit), per table/index.

Images are read with a client of the recorder's own, whose calls are not counted; a
write racing another write to the same item between the two reads may be attributed
to the other's images, which changes no partition key. Local stack and tests only.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import botocore.session

from linecrm import resources
from linecrm_local.aws_calls import on_every_session

_WRITES = ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
_READS = ("Query", "Scan", "GetItem", "BatchGetItem")
_CONTEXT_KEY = "linecrm_write_keys"


@dataclass(frozen=True)
class KeyShare:
    """One table's or index's writes, and the key value that took the most of them."""

    target: str  # "Main" or "Main.gsi1"
    writes: int
    distinct_keys: int
    hottest_key: str
    hottest_writes: int

    @property
    def share(self) -> float:
        return self.hottest_writes / self.writes if self.writes else 0.0


@dataclass(frozen=True)
class ReadFigure:
    target: str
    requests: int
    items: int
    capacity_units: float


class DynamoKeyRecorder:
    def __init__(self, table_names: Mapping[str, str], session: Any = None) -> None:
        """``table_names``: logical id -> table name (``ProvisionedResources``)."""
        by_id = {table.logical_id: table for table in resources.TABLES}
        self._tables = {name: by_id[logical] for logical, name in table_names.items()}
        self._session = session or boto3.session.Session()
        self._image_client: Any = None
        self._lock = threading.Lock()
        self._writes: dict[str, Counter[str]] = {}
        self._reads: dict[str, list[float]] = {}  # target -> [requests, items, capacity]

    # ------------------------------------------------------------------ figures
    def shares(self) -> list[KeyShare]:
        """Per table and index that took writes: the hottest key value's share."""
        with self._lock:
            found = []
            for target, counter in sorted(self._writes.items()):
                key, hottest = counter.most_common(1)[0]
                found.append(KeyShare(target, sum(counter.values()), len(counter), key, hottest))
            return found

    def writes(self, target: str) -> Counter[str]:
        with self._lock:
            return Counter(self._writes.get(target, Counter()))

    def reads(self) -> dict[str, ReadFigure]:
        with self._lock:
            return {
                target: ReadFigure(target, int(values[0]), int(values[1]), values[2])
                for target, values in sorted(self._reads.items())
            }

    def reset(self) -> None:
        with self._lock:
            self._writes.clear()
            self._reads.clear()

    # ------------------------------------------------------------------ hooks
    def before_write(self, operation: str, params: Mapping[str, Any], context: Any) -> None:
        targets = [
            (table, key)
            for table_name, key in _written_keys(operation, params, self._tables)
            if (table := self._tables.get(table_name)) is not None
        ]
        if targets:
            context[_CONTEXT_KEY] = [
                (table, key, self._image(table, key)) for table, key in targets
            ]

    def after_write(self, context: Any) -> None:
        for table, key, old in context.pop(_CONTEXT_KEY, []):
            self._count_write(table, old, self._image(table, key))

    def after_read(self, operation: str, params: Mapping[str, Any], parsed: Any) -> None:
        consistent = 1.0 if params.get("ConsistentRead") else 0.5
        if operation in ("Query", "Scan"):
            table = self._tables.get(params.get("TableName", ""))
            if table is None:
                return
            target = _target(table, params.get("IndexName"))
            size = sum(item_size(item) for item in parsed.get("Items", []))
            units = max(1, math.ceil(size / 4096)) * consistent
            self._count_read(target, int(parsed.get("ScannedCount", 0)), units)
        elif operation == "GetItem":
            table = self._tables.get(params.get("TableName", ""))
            if table is not None:
                item = parsed.get("Item")
                units = max(1, math.ceil(item_size(item or {}) / 4096)) * consistent
                self._count_read(table.logical_id, 1 if item else 0, units)
        else:  # BatchGetItem: each item is its own 4 KB-rounded read
            for table_name, items in parsed.get("Responses", {}).items():
                table = self._tables.get(table_name)
                if table is None:
                    continue
                asked = params.get("RequestItems", {}).get(table_name, {})
                factor = 1.0 if asked.get("ConsistentRead") else 0.5
                units = sum(max(1, math.ceil(item_size(i) / 4096)) * factor for i in items)
                self._count_read(table.logical_id, len(items), units)

    # ------------------------------------------------------------------ internals
    def _image(self, table: resources.TableDefinition, key: dict[str, Any]) -> dict[str, Any]:
        if self._image_client is None:
            self._image_client = self._session.client("dynamodb")
        _uncounted.active = True
        try:
            response = self._image_client.get_item(
                TableName=self._table_name(table), Key=key, ConsistentRead=True
            )
        finally:
            _uncounted.active = False
        return dict(response.get("Item") or {})

    def _table_name(self, table: resources.TableDefinition) -> str:
        return next(name for name, definition in self._tables.items() if definition is table)

    def _count_write(
        self, table: resources.TableDefinition, old: dict[str, Any], new: dict[str, Any]
    ) -> None:
        image = new or old
        if not image:
            return  # a delete of nothing, or a put that a racing delete undid
        hits = [(table.logical_id, _value(image[table.partition_key.name]))]
        for index in table.global_indexes:
            old_key, new_key = _index_key(index, old), _index_key(index, new)
            moved = old_key != new_key
            if new_key is not None and (
                moved or _projected(table, index, old) != _projected(table, index, new)
            ):
                hits.append((_target(table, index.name), new_key[0]))
            if old_key is not None and moved:
                hits.append((_target(table, index.name), old_key[0]))  # the index entry goes
        with self._lock:
            for target, value in hits:
                self._writes.setdefault(target, Counter())[value] += 1

    def _count_read(self, target: str, items: int, units: float) -> None:
        with self._lock:
            figures = self._reads.setdefault(target, [0.0, 0.0, 0.0])
            figures[0] += 1
            figures[1] += items
            figures[2] += units


def _target(table: resources.TableDefinition, index_name: str | None) -> str:
    return f"{table.logical_id}.{index_name}" if index_name else table.logical_id


def _value(attribute: Mapping[str, Any]) -> str:
    return str(next(iter(attribute.values())))


def _index_key(index: resources.GlobalIndex, image: Mapping[str, Any]) -> tuple[str, ...] | None:
    names = [index.partition_key.name] + ([index.sort_key.name] if index.sort_key else [])
    if not all(name in image for name in names):
        return None  # sparse: the item is not in the index
    return tuple(_value(image[name]) for name in names)


def _projected(
    table: resources.TableDefinition, index: resources.GlobalIndex, image: Mapping[str, Any]
) -> dict[str, Any]:
    if index.projection == "ALL":
        return dict(image)
    keys = [table.partition_key, table.sort_key, index.partition_key, index.sort_key]
    names = {key.name for key in keys if key is not None} | set(index.non_key_attributes)
    return {name: value for name, value in image.items() if name in names}


def _written_keys(
    operation: str,
    params: Mapping[str, Any],
    tables: Mapping[str, resources.TableDefinition],
) -> Iterator[tuple[str, dict[str, Any]]]:
    def key_of(table_name: str, item: Mapping[str, Any]) -> dict[str, Any]:
        table = tables.get(table_name)
        if table is None:
            return {}
        names = [table.partition_key.name] + ([table.sort_key.name] if table.sort_key else [])
        return {name: item[name] for name in names if name in item}

    if operation == "PutItem":
        yield params["TableName"], key_of(params["TableName"], params["Item"])
    elif operation in ("UpdateItem", "DeleteItem"):
        yield params["TableName"], dict(params["Key"])
    elif operation == "BatchWriteItem":
        for table_name, requests in params.get("RequestItems", {}).items():
            for request in requests:
                if "PutRequest" in request:
                    yield table_name, key_of(table_name, request["PutRequest"]["Item"])
                elif "DeleteRequest" in request:
                    yield table_name, dict(request["DeleteRequest"]["Key"])
    elif operation == "TransactWriteItems":
        for entry in params.get("TransactItems", []):
            if "Put" in entry:
                yield (
                    entry["Put"]["TableName"],
                    key_of(entry["Put"]["TableName"], entry["Put"]["Item"]),
                )
            for kind in ("Update", "Delete"):
                if kind in entry:
                    yield entry[kind]["TableName"], dict(entry[kind]["Key"])


def item_size(item: Mapping[str, Any]) -> int:
    """An item's size by DynamoDB's rules (names + values; numbers approximately)."""
    return sum(len(name.encode()) + _attribute_size(value) for name, value in item.items())


def _attribute_size(attribute: Mapping[str, Any]) -> int:
    kind, value = next(iter(attribute.items()))
    if kind == "S":
        return len(str(value).encode())
    if kind == "N":
        return (len(str(value).strip("-").replace(".", "")) + 1) // 2 + 1
    if kind == "B":
        return len(value)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(str(v).encode()) for v in value)
    if kind == "NS":
        return sum((len(str(v)) + 1) // 2 + 1 for v in value)
    if kind == "BS":
        return sum(len(v) for v in value)
    if kind == "M":
        return 3 + sum(len(k.encode()) + _attribute_size(v) + 1 for k, v in value.items())
    if kind == "L":
        return 3 + sum(_attribute_size(v) + 1 for v in value)
    return 0


# ---------------------------------------------------------------- botocore hooks
_active: list[DynamoKeyRecorder] = []
_uncounted = threading.local()


def _skip() -> bool:
    return not _active or getattr(_uncounted, "active", False)


def _before_parameter_build(**kwargs: Any) -> None:
    model = kwargs["model"]
    if _skip() or model.name not in _WRITES:
        return
    for recorder in list(_active):
        recorder.before_write(model.name, kwargs["params"], kwargs["context"])


def _after_call(**kwargs: Any) -> None:
    if _skip():
        return
    model, context, parsed = kwargs["model"], kwargs["context"], kwargs["parsed"]
    http_response = kwargs["http_response"]
    ok = http_response is not None and http_response.status_code < 300
    if model.name in _WRITES:
        for recorder in list(_active):
            if ok:
                recorder.after_write(context)
            else:
                context.pop(_CONTEXT_KEY, None)
    elif model.name in _READS and ok:
        params = context.get(_CONTEXT_KEY + "_params", {})
        for recorder in list(_active):
            recorder.after_read(model.name, params, parsed)


def _remember_read(**kwargs: Any) -> None:
    if not _skip() and kwargs["model"].name in _READS:
        kwargs["context"][_CONTEXT_KEY + "_params"] = dict(kwargs["params"])


def _register(session: botocore.session.Session) -> None:
    session.register("before-parameter-build.dynamodb", _before_parameter_build)
    session.register("before-parameter-build.dynamodb", _remember_read)
    session.register("after-call.dynamodb", _after_call)


def _install() -> None:
    on_every_session(_register)


@contextmanager
def record_dynamodb_keys(
    table_names: Mapping[str, str], session: Any = None
) -> Iterator[DynamoKeyRecorder]:
    """Record DynamoDB write keys and reads of clients created from botocore sessions
    (hooked from this module's import on), while active."""
    _install()
    recorder = DynamoKeyRecorder(table_names, session)
    _active.append(recorder)
    try:
        yield recorder
    finally:
        _active.remove(recorder)


# Hook sessions from import on, so clients created before a recording are seen too.
_install()
