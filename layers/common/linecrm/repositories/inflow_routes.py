"""Inflow routes, their short codes, and what they did for each friend.

Items (docs/data-model.md):

- the route: ``pk = CH#<channel>#ROUTES``, ``sk = ROUTE#<route id>``; its settings and
  its counters (``friends``, ``blocked``, ``linked``, ``converted``: ADDed to, never
  counted by a scan). A channel's routes are one Query.
- its code: ``pk = ROUTECODE#<code>``, ``sk = ROUTECODE`` naming channel and route
  (codes are global: the short URL carries no channel).
- a login through a route, in the friend's partition: ``sk = INFLOW#TOUCH`` (the latest;
  expires with the attribution window, TTL).
- a route that brought the friend, in the friend's partition: ``sk = INFLOW#ROUTE#<id>``
  with the flags ``blocked``, ``linked``, ``converted``; a counter moves exactly when its
  flag does, in the same transaction.

The friend's own profile keeps ``inflow_route`` (first touch), ``last_inflow_route``,
``inflow_routes`` (a set) and the follow that was attributed last (``inflow_follow_at``,
claimed once: the webhook's follow and LINE Login's callback may race).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from linecrm.aws_errors import error_code
from linecrm.domain.inflow import (
    ClaimOutcome,
    Counter,
    InflowRoute,
    RouteCounters,
    RouteSettings,
    Touch,
)
from linecrm.repositories.dynamo import from_item, is_conditional_check_failure, iso, to_item
from linecrm.repositories.friends import friend_key, friend_pk

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

TOUCH_SK = "INFLOW#TOUCH"
MARKER_SK_PREFIX = "INFLOW#ROUTE#"
CODE_SK = "ROUTECODE"


class RouteExists(ValueError):
    def __init__(self, route_id: str) -> None:
        super().__init__(f"an inflow route {route_id!r} exists already")


class CodeTaken(ValueError):
    """The random code collided with another route's (the caller draws another)."""


class RouteNotFound(LookupError):
    def __init__(self, route_id: str) -> None:
        super().__init__(f"no inflow route {route_id!r}")
        self.route_id = route_id


def routes_pk(channel_id: str) -> str:
    return f"CH#{channel_id}#ROUTES"


def route_key(channel_id: str, route_id: str) -> dict[str, str]:
    return {"pk": routes_pk(channel_id), "sk": f"ROUTE#{route_id}"}


def code_key(code: str) -> dict[str, str]:
    return {"pk": f"ROUTECODE#{code}", "sk": CODE_SK}


def marker_key(channel_id: str, user_id: str, route_id: str) -> dict[str, str]:
    return {"pk": friend_pk(channel_id, user_id), "sk": MARKER_SK_PREFIX + route_id}


class InflowRouteRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    # ------------------------------------------------------------ routes
    def create(self, route: InflowRoute) -> None:
        """Route and code together; RouteExists, or CodeTaken (draw another code)."""
        item = {
            **route_key(route.channel_id, route.route_id),
            **_route_values(route),
            **dict.fromkeys(("friends", "blocked", "linked", "converted"), 0),
            "created_at": iso(route.created_at),
        }
        code = {
            **code_key(route.code),
            "channel_id": route.channel_id,
            "route_id": route.route_id,
        }
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table_name,
                            "Item": to_item(item),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {
                        "Put": {
                            "TableName": self._table_name,
                            "Item": to_item(code),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except Exception as error:
            if error_code(error) != "TransactionCanceledException":
                raise
            reasons = _cancellation_codes(error)
            if reasons and reasons[0] == "ConditionalCheckFailed":
                raise RouteExists(route.route_id) from error
            if len(reasons) > 1 and reasons[1] == "ConditionalCheckFailed":
                raise CodeTaken(route.code) from error
            raise

    def update(
        self, channel_id: str, route_id: str, settings: RouteSettings, at: datetime
    ) -> InflowRoute:
        """New settings; the code and the counters stay (RouteNotFound)."""
        try:
            response = self._client.update_item(
                TableName=self._table_name,
                Key=to_item(route_key(channel_id, route_id)),
                UpdateExpression="SET settings = :settings, updated_at = :at",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=to_item(
                    {":settings": _settings_json(settings), ":at": iso(at)}
                ),
                ReturnValues="ALL_NEW",
            )
        except Exception as error:
            if is_conditional_check_failure(error):
                raise RouteNotFound(route_id) from error
            raise
        return _route(from_item(response["Attributes"]))

    def get(self, channel_id: str, route_id: str) -> InflowRoute | None:
        response = self._client.get_item(
            TableName=self._table_name,
            Key=to_item(route_key(channel_id, route_id)),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return _route(from_item(item)) if item else None

    def by_code(self, code: str) -> InflowRoute | None:
        response = self._client.get_item(TableName=self._table_name, Key=to_item(code_key(code)))
        item = response.get("Item")
        if not item:
            return None
        pointer = from_item(item)
        return self.get(str(pointer["channel_id"]), str(pointer["route_id"]))

    def list(self, channel_id: str) -> list[InflowRoute]:
        request: dict[str, Any] = {
            "TableName": self._table_name,
            "KeyConditionExpression": "pk = :pk AND begins_with(sk, :route)",
            "ExpressionAttributeValues": to_item(
                {":pk": routes_pk(channel_id), ":route": "ROUTE#"}
            ),
        }
        routes: list[InflowRoute] = []
        while True:
            response = self._client.query(**request)
            routes += [_route(from_item(item)) for item in response.get("Items", [])]
            if "LastEvaluatedKey" not in response:
                return routes
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def count(self, channel_id: str) -> int:
        request: dict[str, Any] = {
            "TableName": self._table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": to_item({":pk": routes_pk(channel_id)}),
            "Select": "COUNT",
        }
        total = 0
        while True:
            response = self._client.query(**request)
            total += int(response.get("Count", 0))
            if "LastEvaluatedKey" not in response:
                return total
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def delete(self, channel_id: str, route_id: str) -> bool:
        route = self.get(channel_id, route_id)
        if route is None:
            return False
        self._client.transact_write_items(
            TransactItems=[
                {
                    "Delete": {
                        "TableName": self._table_name,
                        "Key": to_item(route_key(channel_id, route_id)),
                    }
                },
                {
                    "Delete": {
                        "TableName": self._table_name,
                        "Key": to_item(code_key(route.code)),
                        "ConditionExpression": "route_id = :route AND channel_id = :channel",
                        "ExpressionAttributeValues": to_item(
                            {":route": route_id, ":channel": channel_id}
                        ),
                    }
                },
            ]
        )
        return True

    # ------------------------------------------------------------ touches
    def record_touch(
        self, channel_id: str, user_id: str, route_id: str, at: datetime, keep: timedelta
    ) -> None:
        self._client.put_item(
            TableName=self._table_name,
            Item=to_item(
                {
                    "pk": friend_pk(channel_id, user_id),
                    "sk": TOUCH_SK,
                    "route_id": route_id,
                    "touched_at": iso(at),
                    "expires_at": int((at + keep).timestamp()),
                }
            ),
        )

    def touch(self, channel_id: str, user_id: str) -> Touch | None:
        response = self._client.get_item(
            TableName=self._table_name,
            Key=to_item({"pk": friend_pk(channel_id, user_id), "sk": TOUCH_SK}),
            ConsistentRead=True,
        )
        item = response.get("Item")
        if not item:
            return None
        values = from_item(item)
        return Touch(
            route_id=str(values["route_id"]),
            touched_at=datetime.fromisoformat(str(values["touched_at"])),
        )

    # ------------------------------------------------------------ attribution
    def claim(
        self,
        channel_id: str,
        user_id: str,
        route_id: str,
        followed_at: datetime,
        by: str,
        at: datetime,
    ) -> ClaimOutcome:
        """Attribute the friend's follow at ``followed_at`` to the route, once: the
        first route stays ``inflow_route``; ``last_inflow_route`` is this one."""
        try:
            self._client.update_item(
                TableName=self._table_name,
                Key=to_item(friend_key(channel_id, user_id)),
                UpdateExpression=(
                    "SET inflow_route = if_not_exists(inflow_route, :route), "
                    "last_inflow_route = :route, last_inflow_at = :at, "
                    "inflow_follow_at = :follow, inflow_claimed_by = :by "
                    "ADD inflow_routes :routes"
                ),
                ConditionExpression=(
                    "attribute_exists(pk) AND "
                    "(attribute_not_exists(inflow_follow_at) OR inflow_follow_at <> :follow)"
                ),
                ExpressionAttributeValues={
                    **to_item(
                        {
                            ":route": route_id,
                            ":at": iso(at),
                            ":follow": iso(followed_at),
                            ":by": by,
                        }
                    ),
                    ":routes": {"SS": [route_id]},
                },
            )
        except Exception as error:
            if not is_conditional_check_failure(error):
                raise
            response = self._client.get_item(
                TableName=self._table_name,
                Key=to_item(friend_key(channel_id, user_id)),
                ConsistentRead=True,
                ProjectionExpression="inflow_follow_at, inflow_claimed_by, last_inflow_route",
            )
            held = from_item(response.get("Item", {}))
            if (
                held.get("inflow_follow_at") == iso(followed_at)
                and held.get("inflow_claimed_by") == by
                and held.get("last_inflow_route") == route_id
            ):
                return "own_retry"
            return "taken"
        return "claimed"

    def attributed_follow(self, channel_id: str, user_id: str) -> str | None:
        """The follow time (as stored) that was attributed last, if any."""
        response = self._client.get_item(
            TableName=self._table_name,
            Key=to_item(friend_key(channel_id, user_id)),
            ConsistentRead=True,
            ProjectionExpression="inflow_follow_at",
        )
        value = from_item(response.get("Item", {})).get("inflow_follow_at")
        return str(value) if value else None

    def mark(
        self,
        channel_id: str,
        user_id: str,
        route_id: str,
        *,
        linked: bool,
        converted: bool,
    ) -> bool:
        """The friend's marker for the route and ``friends`` + 1 (and ``linked`` and
        ``converted`` for what is true already), in one transaction; False when the
        marker exists (the friend came through this route before) or the route is gone."""
        flags = {"blocked": False, "linked": linked, "converted": converted}
        counters: dict[Counter, int] = {"friends": 1}
        counters.update({name: 1 for name in ("linked", "converted") if flags[name]})
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self._table_name,
                            "Item": to_item(
                                {
                                    **marker_key(channel_id, user_id, route_id),
                                    "route_id": route_id,
                                    **flags,
                                }
                            ),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {"Update": self._count(channel_id, route_id, counters)},
                ]
            )
        except Exception as error:
            if error_code(error) == "TransactionCanceledException":
                return False
            raise
        return True

    def flip(
        self, channel_id: str, user_id: str, route_id: str, flag: Counter, value: bool
    ) -> bool:
        """Set the marker's ``flag`` to ``value`` and move its counter by one, only
        if the flag had the other value (so repeated signals count once)."""
        try:
            self._client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self._table_name,
                            "Key": to_item(marker_key(channel_id, user_id, route_id)),
                            "UpdateExpression": "SET #flag = :to",
                            "ConditionExpression": "attribute_exists(pk) AND #flag = :from",
                            "ExpressionAttributeNames": {"#flag": flag},
                            "ExpressionAttributeValues": to_item(
                                {":to": value, ":from": not value}
                            ),
                        }
                    },
                    {"Update": self._count(channel_id, route_id, {flag: 1 if value else -1})},
                ]
            )
        except Exception as error:
            if error_code(error) == "TransactionCanceledException":
                return False
            raise
        return True

    def _count(self, channel_id: str, route_id: str, counters: dict[Counter, int]) -> Any:
        names = {f"#c{i}": name for i, name in enumerate(counters)}
        values = {f":c{i}": amount for i, amount in enumerate(counters.values())}
        return {
            "TableName": self._table_name,
            "Key": to_item(route_key(channel_id, route_id)),
            "UpdateExpression": "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(counters))),
            "ConditionExpression": "attribute_exists(pk)",
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": to_item(values),
        }


def _cancellation_codes(error: Exception) -> list[str | None]:
    reasons = getattr(error, "response", {}).get("CancellationReasons", [])
    return [reason.get("Code") for reason in reasons]


def _settings_json(settings: RouteSettings) -> str:
    return json.dumps(settings.model_dump(mode="json"), ensure_ascii=False)


def _route_values(route: InflowRoute) -> dict[str, Any]:
    return {
        "channel_id": route.channel_id,
        "route_id": route.route_id,
        "code": route.code,
        "settings": _settings_json(route.settings),
        "updated_at": iso(route.updated_at),
    }


def _route(values: dict[str, Any]) -> InflowRoute:
    return InflowRoute(
        channel_id=values["channel_id"],
        route_id=values["route_id"],
        code=values["code"],
        settings=RouteSettings.model_validate(json.loads(values["settings"])),
        counters=RouteCounters(
            **{name: max(0, int(values.get(name, 0))) for name in RouteCounters.model_fields}
        ),
        created_at=values["created_at"],
        updated_at=values["updated_at"],
    )
