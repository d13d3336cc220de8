"""DynamoDB Query for the local stack's moto in time proportional to the result.

moto 5.2 answers every Query by sorting *all* of the table's items and testing each
one against the key condition: with 30,000 items (10,000 friends, their enrolments and
tags) one query costs tens of milliseconds of Python, and a scenario fire's 16 shard
queries, a friend page's 16, a segment walk's hundreds, all pay it, under the local
stack's one-request-at-a-time lock. DynamoDB reads one partition. So this narrows the
items moto looks at, before moto's own Query code runs on them unchanged (key
conditions, sort, filters, pagination, projections: all moto's):

- a table query: the items of that partition key (moto keeps them by hash key);
- an index query on one partition-key attribute: the items whose attribute has that
  value, from a map built once per attribute and rebuilt after any DynamoDB write
  (``note_request`` counts writes; the local AWS endpoint calls it per request).

Only requests the local endpoint serves use the map (``serving``); moto used in
process (the unit tests' ``mock_aws``), whose writes are not counted, only gets the
table-query narrowing, which reads moto's own storage and cannot go stale.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# DynamoDB operations that change no item: every other DynamoDB request (and moto's
# reset) makes the index maps stale.
_READS = frozenset(
    {
        "Query",
        "GetItem",
        "BatchGetItem",
        "Scan",
        "TransactGetItems",
        "DescribeTable",
        "ListTables",
        "DescribeTimeToLive",
        "DescribeContinuousBackups",
        "ListTagsOfResource",
    }
)
_TARGET_PREFIX = "DynamoDB_20120810."

_state = threading.local()
_generation = 0
# (table id, attribute) -> (generation, the table, value -> items)
_maps: dict[tuple[int, str], tuple[int, Any, dict[Any, list[Any]]]] = {}
_installed = False


def install() -> None:
    """Wrap moto's ``Table.query`` (once per process)."""
    global _installed
    if _installed:
        return
    from moto.dynamodb.models.table import Table

    original = Table.query
    original_all_items = Table.all_items

    def all_items(self: Any) -> Any:
        # The narrowed items of this thread's query on this table only: another thread
        # (moto in-process, queries side by side) reads the table as moto has it.
        narrowed = getattr(_state, "narrowed", None)
        if narrowed is not None and narrowed[0] is self:
            return narrowed[1]
        return original_all_items(self)

    def query(self: Any, hash_key: Any, *args: Any, **kwargs: Any) -> Any:
        # moto passes the index name positionally (the 7th argument after the hash key).
        index_name = kwargs.get("index_name") or (args[6] if len(args) > 6 else None)
        candidates = _candidates(self, hash_key, index_name, kwargs)
        if candidates is None:
            return original(self, hash_key, *args, **kwargs)
        _state.narrowed = (self, candidates)  # this call only
        try:
            return original(self, hash_key, *args, **kwargs)
        finally:
            _state.narrowed = None

    Table.all_items = all_items  # type: ignore[method-assign]
    Table.query = query  # type: ignore[method-assign]
    _installed = True


def note_request(environ: Any) -> None:
    """Called by the local endpoint for each request it serves (under its lock)."""
    global _generation
    target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
    path = str(environ.get("PATH_INFO", ""))
    if target.startswith(_TARGET_PREFIX):
        if target.removeprefix(_TARGET_PREFIX) not in _READS:
            _generation += 1
    elif path.startswith("/moto-api/"):
        _generation += 1


@contextmanager
def serving() -> Iterator[None]:
    """While the local endpoint serves one request (its lock held)."""
    _state.serving = True
    try:
        yield
    finally:
        _state.serving = False


def _candidates(
    table: Any, hash_key: Any, index_name: str | None, kwargs: dict[str, Any]
) -> list[Any] | None:
    """The items the query can match, or None to let moto look at all of them."""
    if not index_name:
        if hash_key is None:
            return None
        partition = table.items.get(hash_key)  # .get: the dict creates missing keys
        if partition is None:
            return []
        return list(partition.values()) if table.range_key_attr else [partition]
    conditions = kwargs.get("hash_key_conditions") or []
    if len(conditions) != 1 or not getattr(_state, "serving", False):
        return None
    attribute, value = conditions[0]
    return list(_index_map(table, attribute).get(value, ()))


def _index_map(table: Any, attribute: str) -> dict[Any, list[Any]]:
    key = (id(table), attribute)
    cached = _maps.get(key)
    if cached is not None and cached[0] == _generation and cached[1] is table:
        return cached[2]
    by_value: dict[Any, list[Any]] = {}
    for partition in table.items.values():
        for item in partition.values() if table.range_key_attr else [partition]:
            found = item.attrs.get(attribute)
            if found is not None:
                by_value.setdefault(found, []).append(item)
    _maps[key] = (_generation, table, by_value)
    return by_value
