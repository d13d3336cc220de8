"""Scenario definitions (every version kept) and their per-step counters.

Items:

- ``CH#<channel>#SCENARIOS`` / ``SCENARIO#<id>``: the head (name, status, current
  version); a channel's scenarios are one small Query.
- ``CH#<channel>#SCENARIO#<id>`` / ``V#<version>``: one item per version, never changed
  (enrolments in flight read the version they started on).
- ``CH#<channel>#SCENARIO#<id>#<shard>`` / ``COUNT#<step>``: the step's counters,
  atomic ADDs, write-sharded by friend (16 shards, summed when read).

A new version and its head are written in one transaction, conditional on the head's
version, so two concurrent edits cannot both win.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from linecrm.repositories.dynamo import from_item, is_conditional_check_failure, iso, to_item
from linecrm.repositories.sharding import SHARDS, shard_of
from linecrm.scenarios.model import ScenarioDefinition, ScenarioStatus

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

HEAD_PREFIX = "SCENARIO#"
VERSION_PREFIX = "V#"
COUNTER_PREFIX = "COUNT#"


class ScenarioChanged(Exception):
    """Another edit or status change won the race: read again and retry."""


@dataclass(frozen=True)
class ScenarioHead:
    channel_id: str
    scenario_id: str
    name: str
    status: ScenarioStatus
    version: int
    updated_at: str


@dataclass(frozen=True)
class ScenarioVersion:
    head: ScenarioHead
    definition: ScenarioDefinition


def heads_pk(channel_id: str) -> str:
    return f"CH#{channel_id}#SCENARIOS"


def scenario_pk(channel_id: str, scenario_id: str) -> str:
    return f"CH#{channel_id}#SCENARIO#{scenario_id}"


class ScenarioRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name
        # Versions never change: safe to keep for the life of the execution environment.
        self._versions: dict[tuple[str, str, int], ScenarioDefinition] = {}

    # ------------------------------------------------------------------ read
    def heads(self, channel_id: str) -> list[ScenarioHead]:
        heads: list[ScenarioHead] = []
        request: dict[str, Any] = {
            "TableName": self._table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": to_item({":pk": heads_pk(channel_id)}),
        }
        while True:
            page = self._client.query(**request)
            heads += [_head(from_item(item)) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return heads
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def head(self, channel_id: str, scenario_id: str) -> ScenarioHead | None:
        item = self._client.get_item(
            TableName=self._table_name,
            Key=to_item({"pk": heads_pk(channel_id), "sk": HEAD_PREFIX + scenario_id}),
            ConsistentRead=True,
        ).get("Item")
        return _head(from_item(item)) if item else None

    def version(self, channel_id: str, scenario_id: str, version: int) -> ScenarioDefinition | None:
        key = (channel_id, scenario_id, version)
        cached = self._versions.get(key)
        if cached is not None:
            return cached
        item = self._client.get_item(
            TableName=self._table_name,
            Key=to_item({"pk": scenario_pk(channel_id, scenario_id), "sk": _version_sk(version)}),
        ).get("Item")
        if not item:
            return None
        definition = ScenarioDefinition.model_validate(json.loads(from_item(item)["definition"]))
        self._versions[key] = definition
        return definition

    def current(self, channel_id: str, scenario_id: str) -> ScenarioVersion | None:
        head = self.head(channel_id, scenario_id)
        if head is None:
            return None
        definition = self.version(channel_id, scenario_id, head.version)
        return None if definition is None else ScenarioVersion(head, definition)

    # ------------------------------------------------------------------ write
    def put_version(
        self,
        channel_id: str,
        definition: ScenarioDefinition,
        *,
        expected_version: int | None,
        at: datetime,
    ) -> ScenarioHead:
        """Store ``definition`` as the next version; ``expected_version`` None: a new one."""
        version = (expected_version or 0) + 1
        head = {
            "pk": heads_pk(channel_id),
            "sk": HEAD_PREFIX + definition.id,
            "channel_id": channel_id,
            "scenario_id": definition.id,
            "name": definition.name,
            "version": version,
            "updated_at": iso(at),
        }
        if expected_version is None:
            head_write: dict[str, Any] = {
                "Put": {
                    "TableName": self._table_name,
                    "Item": to_item({**head, "status": "active"}),
                    "ConditionExpression": "attribute_not_exists(pk)",
                }
            }
        else:
            head_write = {
                "Update": {
                    "TableName": self._table_name,
                    "Key": to_item({"pk": head["pk"], "sk": head["sk"]}),
                    "UpdateExpression": "SET #name = :name, version = :version, updated_at = :at",
                    "ConditionExpression": "version = :expected",
                    "ExpressionAttributeNames": {"#name": "name"},
                    "ExpressionAttributeValues": to_item(
                        {
                            ":name": definition.name,
                            ":version": version,
                            ":at": iso(at),
                            ":expected": expected_version,
                        }
                    ),
                }
            }
        version_put = {
            "Put": {
                "TableName": self._table_name,
                "Item": to_item(
                    {
                        "pk": scenario_pk(channel_id, definition.id),
                        "sk": _version_sk(version),
                        "version": version,
                        "created_at": iso(at),
                        "definition": definition.model_dump_json(),
                    }
                ),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        try:
            self._client.transact_write_items(
                TransactItems=[head_write, version_put]  # type: ignore[list-item]
            )
        except self._client.exceptions.TransactionCanceledException as error:
            raise ScenarioChanged(definition.id) from error
        stored = self.head(channel_id, definition.id)
        assert stored is not None
        return stored

    def set_status(
        self, channel_id: str, scenario_id: str, status: ScenarioStatus, at: datetime
    ) -> ScenarioHead | None:
        try:
            item = self._client.update_item(
                TableName=self._table_name,
                Key=to_item({"pk": heads_pk(channel_id), "sk": HEAD_PREFIX + scenario_id}),
                UpdateExpression="SET #status = :status, updated_at = :at",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues=to_item({":status": status, ":at": iso(at)}),
                ReturnValues="ALL_NEW",
            )["Attributes"]
        except Exception as error:
            if is_conditional_check_failure(error):
                return None
            raise
        return _head(from_item(item))

    # ------------------------------------------------------------------ counters
    def count(
        self,
        channel_id: str,
        scenario_id: str,
        step_id: str,
        counts: Mapping[str, int],
        *,
        shard_by: str = "",
    ) -> None:
        """Add to a step's counters (``sent``, ``skipped:<reason>``, …) in one write."""
        counts = {name: value for name, value in counts.items() if value}
        if not counts:
            return
        names = {f"#c{index}": name for index, name in enumerate(counts)}
        values = {f":c{index}": value for index, value in enumerate(counts.values())}
        self._client.update_item(
            TableName=self._table_name,
            Key=to_item(
                {
                    "pk": _counter_pk(channel_id, scenario_id, shard_by),
                    "sk": COUNTER_PREFIX + step_id,
                }
            ),
            UpdateExpression="ADD "
            + ", ".join(f"{name} {value}" for name, value in zip(names, values, strict=True)),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_item(values),
        )

    def counters(self, channel_id: str, scenario_id: str) -> dict[str, dict[str, int]]:
        """Step id -> counter name -> value, summed over the counter shards."""
        result: dict[str, dict[str, int]] = {}
        for shard in range(SHARDS):
            page = self._client.query(
                TableName=self._table_name,
                KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
                ExpressionAttributeValues=to_item(
                    {
                        ":pk": f"{scenario_pk(channel_id, scenario_id)}#{shard}",
                        ":prefix": COUNTER_PREFIX,
                    }
                ),
            )
            for raw in page.get("Items", []):
                item = from_item(raw)
                step_id = str(item.pop("sk")).removeprefix(COUNTER_PREFIX)
                item.pop("pk", None)
                step = result.setdefault(step_id, {})
                for name, value in item.items():
                    step[name] = step.get(name, 0) + int(value)
        return {step: dict(sorted(values.items())) for step, values in sorted(result.items())}


def _counter_pk(channel_id: str, scenario_id: str, shard_by: str) -> str:
    """Counters are write-sharded by friend: 10,000 enrolments at once spread over 16
    partitions instead of one item taking every write."""
    return f"{scenario_pk(channel_id, scenario_id)}#{shard_of(shard_by)}"


def _version_sk(version: int) -> str:
    return f"{VERSION_PREFIX}{version:06d}"


def _head(item: Mapping[str, Any]) -> ScenarioHead:
    return ScenarioHead(
        channel_id=str(item["channel_id"]),
        scenario_id=str(item["scenario_id"]),
        name=str(item["name"]),
        status=item["status"],
        version=int(item["version"]),
        updated_at=str(item["updated_at"]),
    )
