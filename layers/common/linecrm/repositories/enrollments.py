"""Which step scenarios a friend is in: one item per (friend, scenario).

The item says where the friend is: the scenario version they run on, the step that is
pending and its due minute (the *bucket*), the last step sent. While a step is
pending the item is on the sparse due index (``gsi1``) under
``CH#<channel>#SCDUE#<scenario>#<version>#<step>#<minute>#<shard>``, so the fire of
one bucket reads exactly the enrolments due in it (16 shards: no hot index
partition when 10,000 friends enrol at once). Leaving a step (sent, skipped, exited)
removes the keys, so nothing but pending enrolments is ever on that index.

Every move is a conditional update on the state it moves from (status, version, step,
bucket): a schedule that fires twice, late, or after an exit moves nothing twice. Each
move exists as a method that runs it (``advance``) and one that only builds it
(``advancing``), so that a fire can run its 500 moves with ``write_many``, 100 per
transaction call.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from linecrm.repositories.dynamo import (
    ConditionalUpdate,
    conditional_update,
    conditional_updates,
    from_item,
    iso,
    to_item,
)
from linecrm.repositories.friends import friend_pk
from linecrm.repositories.sharding import all_shard_keys, sharded_key

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

SCENARIO_PREFIX = "SCENARIO#"
DUE_INDEX = "gsi1"
EnrollmentStatus = Literal["active", "completed", "exited", "stopped"]


def bucket_list(channel_id: str, scenario_id: str, version: int, step_id: str, minute: str) -> str:
    """The due index's list of one bucket, before sharding."""
    return f"CH#{channel_id}#SCDUE#{scenario_id}#{version}#{step_id}#{minute}"


@dataclass(frozen=True)
class Enrollment:
    channel_id: str
    user_id: str
    scenario_id: str
    status: EnrollmentStatus
    version: int | None = None
    step_id: str | None = None  # the pending step (None: nothing pending)
    due_minute: str | None = None  # its bucket, "YYYY-MM-DDTHH:MM" UTC
    enrolled_at: str | None = None
    last_step_id: str | None = None
    last_step_at: str | None = None
    entries: int = 0
    ended_reason: str | None = None

    @property
    def is_active(self) -> bool:
        return self.status == "active"


@dataclass(frozen=True)
class Pending:
    """Where an enrolment is expected to be: a move applies only from here."""

    version: int
    step_id: str
    due_minute: str


class EnrollmentRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    # ------------------------------------------------------------------ read
    def get(self, channel_id: str, user_id: str, scenario_id: str) -> Enrollment | None:
        item = self._client.get_item(
            TableName=self._table_name,
            Key=self._key(channel_id, user_id, scenario_id),
            ConsistentRead=True,
        ).get("Item")
        return _enrollment(from_item(item)) if item else None

    def of_friend(self, channel_id: str, user_id: str) -> list[Enrollment]:
        page = self._client.query(
            TableName=self._table_name,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :prefix)",
            ExpressionAttributeValues=to_item(
                {":pk": friend_pk(channel_id, user_id), ":prefix": SCENARIO_PREFIX}
            ),
            ConsistentRead=True,
        )
        return [_enrollment(from_item(item)) for item in page.get("Items", [])]

    def get_many(
        self, channel_id: str, scenario_id: str, user_ids: list[str]
    ) -> dict[str, Enrollment]:
        """Consistent reads of the enrolments (BatchGetItem, 100 at a time)."""
        found: dict[str, Enrollment] = {}
        for start in range(0, len(user_ids), 100):
            keys: list[Any] = [
                self._key(channel_id, user_id, scenario_id)
                for user_id in user_ids[start : start + 100]
            ]
            pending: dict[str, Any] = {self._table_name: {"Keys": keys, "ConsistentRead": True}}
            while pending:
                page = self._client.batch_get_item(RequestItems=pending)
                for raw in page.get("Responses", {}).get(self._table_name, []):
                    enrollment = _enrollment(from_item(raw))
                    found[enrollment.user_id] = enrollment
                pending = dict(page.get("UnprocessedKeys") or {})
        return found

    def due_in(
        self,
        channel_id: str,
        scenario_id: str,
        version: int,
        step_id: str,
        minute: str,
        *,
        between: tuple[str, str] | None = None,
    ) -> Iterator[str]:
        """User ids on the due index in one bucket (every shard; keys only), or only
        those in ``between`` (first and last user id, inclusive)."""
        condition = "gsi1pk = :pk"
        bounds: dict[str, str] = {}
        if between is not None:
            condition += " AND gsi1sk BETWEEN :first AND :last"
            bounds = {":first": between[0], ":last": between[1]}
        for key in all_shard_keys(bucket_list(channel_id, scenario_id, version, step_id, minute)):
            request: dict[str, Any] = {
                "TableName": self._table_name,
                "IndexName": DUE_INDEX,
                "KeyConditionExpression": condition,
                "ExpressionAttributeValues": to_item({":pk": key, **bounds}),
                "ProjectionExpression": "user_id",
            }
            while True:
                page = self._client.query(**request)
                for item in page.get("Items", []):
                    yield str(from_item(item)["user_id"])
                if "LastEvaluatedKey" not in page:
                    break
                request["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    # ------------------------------------------------------------------ moves
    def write(self, update: ConditionalUpdate) -> bool:
        """Run one move built by ``entering``, ``advancing`` or ``ending``; False when
        the enrolment was not in the state it moves from."""
        return conditional_update(self._client, self._table_name, update)

    def write_many(self, updates: list[ConditionalUpdate]) -> list[bool]:
        """Run moves of distinct enrolments, 100 per call; which ones applied."""
        return conditional_updates(self._client, self._table_name, updates)

    def entering(
        self,
        channel_id: str,
        user_id: str,
        scenario_id: str,
        *,
        version: int,
        step_id: str,
        due_minute: str,
        at: datetime,
        allowed_from: tuple[EnrollmentStatus, ...],
    ) -> ConditionalUpdate:
        """Enrol at the first step; fails when re-entry does not allow it now.

        ``allowed_from``: the statuses an existing enrolment may be in to enter again
        (the scenario's re-entry policy); no item at all is always allowed.
        """
        values: dict[str, Any] = {
            ":active": "active",
            ":scenario": scenario_id,
            ":channel": channel_id,
            ":user": user_id,
            ":version": version,
            ":step": step_id,
            ":minute": due_minute,
            ":at": iso(at),
            ":one": 1,
            ":gsi1pk": sharded_key(
                bucket_list(channel_id, scenario_id, version, step_id, due_minute), user_id
            ),
        }
        condition = "attribute_not_exists(pk)"
        for index, status in enumerate(allowed_from):
            values[f":from{index}"] = status
            condition += f" OR #status = :from{index}"
        return self._conditional(
            channel_id,
            user_id,
            scenario_id,
            update=(
                "SET #status = :active, scenario_id = :scenario, channel_id = :channel, "
                "user_id = :user, version = :version, step_id = :step, due_minute = :minute, "
                "enrolled_at = :at, started_at = :at, gsi1pk = :gsi1pk, gsi1sk = :user "
                "ADD entries :one REMOVE stopped_at, ended_reason, last_step_id, last_step_at"
            ),
            condition=condition,
            values=values,
        )

    def advancing(
        self,
        channel_id: str,
        user_id: str,
        scenario_id: str,
        expected: Pending,
        *,
        sent_step_id: str | None,
        at: datetime,
        next_step: tuple[str, str] | None,
        wait_for_branch: bool = False,
    ) -> ConditionalUpdate:
        """Leave the pending step: to ``next_step`` (step id, due minute), or complete.

        ``sent_step_id``: the step that was sent (or skipped) now, the reference of
        "after the previous step" and of branches. ``wait_for_branch``: no step
        pending, but the enrolment stays active for a branch.
        """
        values: dict[str, Any] = {":at": iso(at)}
        sets = []
        removes = []
        if sent_step_id is not None:
            sets += ["last_step_id = :last", "last_step_at = :at"]
            values[":last"] = sent_step_id
        if next_step is not None:
            step_id, minute = next_step
            sets += ["step_id = :next", "due_minute = :minute", "gsi1pk = :gsi1pk"]
            values.update(
                {
                    ":next": step_id,
                    ":minute": minute,
                    ":gsi1pk": sharded_key(
                        bucket_list(channel_id, scenario_id, expected.version, step_id, minute),
                        user_id,
                    ),
                }
            )
        else:
            removes += ["step_id", "due_minute", "gsi1pk", "gsi1sk"]
            if not wait_for_branch:
                sets += ["#status = :completed", "ended_at = :at"]
                values[":completed"] = "completed"
        return self._moving(channel_id, user_id, scenario_id, expected, sets, removes, values)

    def move_to(
        self,
        channel_id: str,
        user_id: str,
        scenario_id: str,
        *,
        version: int,
        from_step: str | None,
        from_last: str | None,
        step_id: str,
        due_minute: str,
        at: datetime,
    ) -> bool:
        """A branch: from the state read (pending ``from_step``, last sent ``from_last``)
        to ``step_id`` due in ``due_minute``."""
        values: dict[str, Any] = {
            ":active": "active",
            ":version": version,
            ":next": step_id,
            ":minute": due_minute,
            ":user": user_id,
            ":gsi1pk": sharded_key(
                bucket_list(channel_id, scenario_id, version, step_id, due_minute), user_id
            ),
        }
        condition = "#status = :active AND version = :version"
        if from_step is None:
            condition += " AND attribute_not_exists(step_id)"
        else:
            condition += " AND step_id = :from_step"
            values[":from_step"] = from_step
        if from_last is not None:
            condition += " AND last_step_id = :from_last"
            values[":from_last"] = from_last
        return self.write(
            self._conditional(
                channel_id,
                user_id,
                scenario_id,
                update=(
                    "SET step_id = :next, due_minute = :minute, gsi1pk = :gsi1pk, gsi1sk = :user"
                ),
                condition=condition,
                values=values,
            )
        )

    def ending(
        self,
        channel_id: str,
        user_id: str,
        scenario_id: str,
        *,
        status: Literal["exited", "stopped"],
        reason: str,
        at: datetime,
    ) -> ConditionalUpdate:
        """End an active enrolment now and take it off the due index (its pending
        step will not be sent)."""
        return self._conditional(
            channel_id,
            user_id,
            scenario_id,
            update=(
                "SET #status = :status, stopped_at = :at, ended_at = :at, "
                "ended_reason = :reason REMOVE gsi1pk, gsi1sk, due_minute"
            ),
            condition="#status = :active",
            values={":active": "active", ":status": status, ":at": iso(at), ":reason": reason},
        )

    def start(self, channel_id: str, user_id: str, scenario_id: str, at: datetime) -> bool:
        """Record an enrolment with no step pending (a scenario that is not defined
        here yet); False when the friend is already active in it."""
        return self.write(
            self._conditional(
                channel_id,
                user_id,
                scenario_id,
                update=(
                    "SET #status = :active, scenario_id = :scenario, started_at = :at "
                    "REMOVE stopped_at"
                ),
                condition="attribute_not_exists(pk) OR #status <> :active",
                values={":active": "active", ":scenario": scenario_id, ":at": iso(at)},
            )
        )

    def stop(self, channel_id: str, user_id: str, scenario_id: str, at: datetime) -> bool:
        """Stop an active enrolment (a ``stop_scenario`` action); False when there was none."""
        return self.write(
            self.ending(
                channel_id, user_id, scenario_id, status="stopped", reason="stop_scenario", at=at
            )
        )

    def _moving(
        self,
        channel_id: str,
        user_id: str,
        scenario_id: str,
        expected: Pending,
        sets: list[str],
        removes: list[str],
        values: dict[str, Any],
    ) -> ConditionalUpdate:
        values = {
            **values,
            ":active": "active",
            ":version": expected.version,
            ":step": expected.step_id,
            ":bucket": expected.due_minute,
        }
        if "gsi1pk = :gsi1pk" in sets:
            sets.append("gsi1sk = :user")
            values[":user"] = user_id
        expression = "SET " + ", ".join(sets) if sets else ""
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        return self._conditional(
            channel_id,
            user_id,
            scenario_id,
            update=expression.strip(),
            condition=(
                "#status = :active AND version = :version AND step_id = :step "
                "AND due_minute = :bucket"
            ),
            values=values,
        )

    def _conditional(
        self,
        channel_id: str,
        user_id: str,
        scenario_id: str,
        *,
        update: str,
        condition: str,
        values: dict[str, Any],
    ) -> ConditionalUpdate:
        """A conditional update of the enrolment item."""
        return ConditionalUpdate(
            key={"pk": friend_pk(channel_id, user_id), "sk": SCENARIO_PREFIX + scenario_id},
            update=update,
            condition=condition,
            values=values,
            names={"#status": "status"},
        )

    def _key(self, channel_id: str, user_id: str, scenario_id: str) -> dict[str, Any]:
        return to_item({"pk": friend_pk(channel_id, user_id), "sk": SCENARIO_PREFIX + scenario_id})


def _enrollment(item: dict[str, Any]) -> Enrollment:
    pk = str(item["pk"])
    channel_id, _, user_id = pk.removeprefix("CH#").partition("#FRIEND#")
    return Enrollment(
        channel_id=channel_id,
        user_id=user_id,
        scenario_id=str(item["sk"]).removeprefix(SCENARIO_PREFIX),
        status=item.get("status", "active"),
        version=item.get("version"),
        step_id=item.get("step_id"),
        due_minute=item.get("due_minute"),
        enrolled_at=item.get("enrolled_at") or item.get("started_at"),
        last_step_id=item.get("last_step_id"),
        last_step_at=item.get("last_step_at"),
        entries=int(item.get("entries", 0)),
        ended_reason=item.get("ended_reason"),
    )
