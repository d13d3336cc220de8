"""Friends of a LINE channel: one partition per (channel, user).

The profile item (``sk = PROFILE``) carries status, profile, tags (a map tag id -> added
at), custom fields (a map) and chat mode; a friend's other items (scenario enrolments,
…) share its partition, so exporting or deleting a friend is one Query away.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from linecrm.domain.friends import (
    MARKETING_PERIOD_PREFIX,
    MAX_FRIEND_WARNINGS,
    ChatMode,
    FollowOutcome,
    Friend,
    FriendChangeSet,
    FriendProfile,
)
from linecrm.repositories.dynamo import from_item, is_conditional_check_failure, iso, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

PROFILE_SK = "PROFILE"
# A follow/unfollow applies unless a later follow/unfollow was applied already.
_NOT_NEWER_STATUS = "attribute_not_exists(status_at) OR status_at <= :at"
MAX_PAGE_SIZE = 200


def friend_pk(channel_id: str, user_id: str) -> str:
    return f"CH#{channel_id}#FRIEND#{user_id}"


def friend_key(channel_id: str, user_id: str) -> dict[str, str]:
    return {"pk": friend_pk(channel_id, user_id), "sk": PROFILE_SK}


def friends_list_key(channel_id: str) -> str:
    return f"CH#{channel_id}#FRIENDS"


class FriendNotFound(LookupError):
    def __init__(self, channel_id: str, user_id: str) -> None:
        super().__init__(f"no friend {user_id} in channel {channel_id}")
        self.user_id = user_id


class InvalidCursor(ValueError):
    """A pagination cursor that this API did not hand out."""


@dataclass(frozen=True)
class FriendPage:
    friends: list[Friend]
    next_cursor: str | None


class FriendRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    # ------------------------------------------------------------------ webhook events
    def record_follow(self, channel_id: str, user_id: str, at: datetime) -> FollowOutcome:
        """Create or revive the friend in one write; the old image tells which it was.

        Follow and unfollow apply only if no later one was applied (``status_at``):
        LINE can deliver events out of order when it redelivers.
        """
        try:
            old = self._update(
                channel_id,
                user_id,
                "#status = :active, status_at = :at, "
                "first_followed_at = if_not_exists(first_followed_at, :at), "
                "last_followed_at = :at, "
                "last_interaction_at = if_not_exists(last_interaction_at, :at)",
                {":active": "active", ":at": iso(at)},
                remove="blocked_at",
                return_values="ALL_OLD",
                condition=_NOT_NEWER_STATUS,
            )
        except Exception as error:
            if not is_conditional_check_failure(error):
                raise
            self._keep_earliest_follow(channel_id, user_id, at)
            return FollowOutcome.STALE
        if not old:
            return FollowOutcome.FIRST_FOLLOW
        if str(old.get("first_followed_at", "")) > iso(at):
            self._keep_earliest_follow(channel_id, user_id, at)
        if old.get("status") == "blocked":
            # Rare (an unblock), so a second small write is fine here.
            self._update(channel_id, user_id, "refollowed_at = :at", {":at": iso(at)})
            return FollowOutcome.REFOLLOW
        return FollowOutcome.ALREADY_FOLLOWING

    def record_unfollow(self, channel_id: str, user_id: str, at: datetime) -> bool:
        """Mark the friend blocked with the time, keeping every other attribute.

        False when a later follow was already applied (an out-of-order unfollow).
        """
        try:
            self._update(
                channel_id,
                user_id,
                "#status = :blocked, blocked_at = :at, status_at = :at",
                {":blocked": "blocked", ":at": iso(at)},
                condition=_NOT_NEWER_STATUS,
            )
        except Exception as error:
            if is_conditional_check_failure(error):
                return False
            raise
        return True

    def _keep_earliest_follow(self, channel_id: str, user_id: str, at: datetime) -> None:
        try:
            self._client.update_item(
                TableName=self._table_name,
                Key=to_item(friend_key(channel_id, user_id)),
                UpdateExpression="SET first_followed_at = :at",
                ConditionExpression="first_followed_at > :at",
                ExpressionAttributeValues=to_item({":at": iso(at)}),
            )
        except Exception as error:
            if not is_conditional_check_failure(error):
                raise

    def record_interaction(self, channel_id: str, user_id: str, at: datetime) -> Friend:
        """Last interaction time; returns the friend (tags, chat mode, cooldowns) as stored.

        A friend from before linecrm gets a row on first contact.
        """
        try:
            item = self._update(
                channel_id,
                user_id,
                "last_interaction_at = :at, #status = if_not_exists(#status, :active)",
                {":active": "active", ":at": iso(at)},
                return_values="ALL_NEW",
                condition="attribute_not_exists(last_interaction_at) OR last_interaction_at <= :at",
            )
        except Exception as error:
            if not is_conditional_check_failure(error):
                raise
            # An older event arriving late: the newer time stays; read the friend instead.
            friend = self.get(channel_id, user_id)
            assert friend is not None  # the condition failed on an existing item
            return friend
        return Friend.model_validate(item)

    def ensure(self, channel_id: str, user_id: str, at: datetime) -> bool:
        """Make sure the friend has a row (imports); True when it was created now."""
        old = self._update(
            channel_id,
            user_id,
            "#status = if_not_exists(#status, :active), "
            "first_followed_at = if_not_exists(first_followed_at, :at)",
            {":active": "active", ":at": iso(at)},
            return_values="ALL_OLD",
        )
        return not old

    def set_profile(
        self, channel_id: str, user_id: str, profile: FriendProfile, at: datetime
    ) -> None:
        """Store the LINE profile; FriendNotFound when the friend has no row (deleted)."""
        values = profile.attributes()
        # Placeholders for every name: "language" is a DynamoDB reserved word.
        assignments = [f"#{name} = :{name}" for name in values]
        assignments.append("profile_fetched_at = :fetched")
        try:
            self._update(
                channel_id,
                user_id,
                ", ".join(assignments),
                {**{f":{name}": value for name, value in values.items()}, ":fetched": iso(at)},
                names={f"#{name}": name for name in values},
                condition="attribute_exists(pk)",
            )
        except Exception as error:
            if is_conditional_check_failure(error):
                raise FriendNotFound(channel_id, user_id) from error
            raise

    # ------------------------------------------------------------------ CRM changes
    def apply_change(
        self, channel_id: str, user_id: str, change: FriendChangeSet, at: datetime
    ) -> Friend:
        """Tags, fields and rule cooldown in one UpdateItem; FriendNotFound if no friend."""
        names: dict[str, str] = {}
        values: dict[str, Any] = {":at": iso(at)}
        sets: list[str] = []
        removes: list[str] = []
        for index, tag_id in enumerate(sorted(change.add_tag_ids)):
            names[f"#ta{index}"] = tag_id
            sets.append(f"tags.#ta{index} = :at")
        for index, tag_id in enumerate(sorted(change.remove_tag_ids - change.add_tag_ids)):
            names[f"#tr{index}"] = tag_id
            removes.append(f"tags.#tr{index}")
        for index, (key, value) in enumerate(sorted((change.set_fields or {}).items())):
            names[f"#fs{index}"] = key
            values[f":fs{index}"] = value
            sets.append(f"#fields.#fs{index} = :fs{index}")
        for index, key in enumerate(sorted(change.clear_fields - set(change.set_fields or {}))):
            names[f"#fc{index}"] = key
            removes.append(f"#fields.#fc{index}")
        if change.set_fields or change.clear_fields:
            names["#fields"] = "fields"
        if change.fired_rule_id:
            names["#rule"] = change.fired_rule_id
            sets.append("rule_fired_at.#rule = :at")
        sets.append("updated_at = :at")
        expression = "SET " + ", ".join(sets)
        if removes:
            expression += " REMOVE " + ", ".join(removes)
        return self._update_existing(channel_id, user_id, expression, to_item(values), names)

    def record_warnings(
        self, channel_id: str, user_id: str, warnings: Mapping[str, str], at: datetime
    ) -> None:
        """Keep ``warnings`` (subject -> message) on the friend, the latest per subject,
        at most MAX_FRIEND_WARNINGS subjects; nothing when the friend is gone."""
        entries = {
            subject: {"message": message[:500], "at": iso(at)}
            for subject, message in sorted(warnings.items())[:MAX_FRIEND_WARNINGS]
        }
        if not entries:
            return
        names = {f"#w{index}": subject for index, subject in enumerate(entries)}
        values = {f":w{index}": entry for index, entry in enumerate(entries.values())}
        # A nested SET needs the map to exist; the first warning creates it whole.
        attempts: list[tuple[str, str, dict[str, Any]]] = [
            (
                "SET " + ", ".join(f"warnings.{name} = :w{i}" for i, name in enumerate(names)),
                "attribute_exists(pk) AND attribute_exists(warnings) "
                "AND (size(warnings) < :cap OR "
                + " OR ".join(f"attribute_exists(warnings.{name})" for name in names)
                + ")",
                {**values, ":cap": MAX_FRIEND_WARNINGS},
            ),
            (
                "SET warnings = :all",
                "attribute_exists(pk) AND attribute_not_exists(warnings)",
                {":all": entries},
            ),
        ]
        for expression, condition, attempt_values in attempts:
            request: dict[str, Any] = {
                "TableName": self._table_name,
                "Key": to_item(friend_key(channel_id, user_id)),
                "UpdateExpression": expression,
                "ConditionExpression": condition,
                "ExpressionAttributeValues": to_item(attempt_values),
            }
            if "#w" in expression or "#w" in condition:
                request["ExpressionAttributeNames"] = names
            try:
                self._client.update_item(**request)
                return
            except Exception as error:
                if not is_conditional_check_failure(error):
                    raise
        # No friend, or the map is full of other subjects: the log line is all we keep.

    def set_chat_mode(self, channel_id: str, user_id: str, chat_mode: ChatMode | None) -> Friend:
        """Staff takes over (automation pauses) or releases the friend (None)."""
        if chat_mode is None:
            return self._update_existing(channel_id, user_id, "REMOVE chat_mode")
        values = to_item({":mode": chat_mode.model_dump(mode="json")})
        return self._update_existing(channel_id, user_id, "SET chat_mode = :mode", values)

    def _update_existing(
        self,
        channel_id: str,
        user_id: str,
        expression: str,
        values: dict[str, Any] | None = None,
        names: dict[str, str] | None = None,
    ) -> Friend:
        """An UpdateItem on a friend that must exist (FriendNotFound); the friend after."""
        request: dict[str, Any] = {
            "TableName": self._table_name,
            "Key": to_item(friend_key(channel_id, user_id)),
            "UpdateExpression": expression,
            "ConditionExpression": "attribute_exists(pk)",
            "ReturnValues": "ALL_NEW",
        }
        if values:
            request["ExpressionAttributeValues"] = values
        if names:
            request["ExpressionAttributeNames"] = names
        try:
            response = self._client.update_item(**request)
        except Exception as error:
            if is_conditional_check_failure(error):
                raise FriendNotFound(channel_id, user_id) from error
            raise
        return Friend.model_validate(from_item(response["Attributes"]))

    # ------------------------------------------------------------------ reads
    def get(self, channel_id: str, user_id: str) -> Friend | None:
        response = self._client.get_item(
            TableName=self._table_name,
            Key=to_item(friend_key(channel_id, user_id)),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return Friend.model_validate(from_item(item)) if item else None

    def list_page(
        self,
        channel_id: str,
        *,
        tag_id: str | None = None,
        status: Literal["active", "blocked"] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> FriendPage:
        """Friends in user-id order, filtered; ``next_cursor`` continues after the last one."""
        limit = max(1, min(limit, MAX_PAGE_SIZE))
        filters: list[str] = []
        names: dict[str, str] = {}
        values: dict[str, Any] = {":list": friends_list_key(channel_id)}
        if tag_id is not None:
            filters.append("attribute_exists(tags.#tag)")
            names["#tag"] = tag_id
        if status is not None:
            filters.append("#status = :status")
            names["#status"] = "status"
            values[":status"] = status
        request: dict[str, Any] = {
            "TableName": self._table_name,
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :list",
            "ExpressionAttributeValues": to_item(values),
            "Limit": limit if not filters else max(limit, 100),
        }
        if filters:
            request["FilterExpression"] = " AND ".join(filters)
            request["ExpressionAttributeNames"] = names
        if cursor:
            request["ExclusiveStartKey"] = to_item(_decode_cursor(cursor, channel_id))
        friends: list[Friend] = []
        while True:
            response = self._client.query(**request)
            for item in response.get("Items", []):
                friends.append(Friend.model_validate(from_item(item)))
                if len(friends) == limit:
                    more = item != response["Items"][-1] or "LastEvaluatedKey" in response
                    return FriendPage(friends, _encode_cursor(item) if more else None)
            if "LastEvaluatedKey" not in response:
                return FriendPage(friends, None)
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def page_after(
        self, channel_id: str, after_user_id: str | None, limit: int
    ) -> tuple[list[Friend], bool]:
        """Up to ``limit`` friends after ``after_user_id`` in user-id order; and whether
        more may follow. For jobs that walk every friend and checkpoint by user id."""
        request: dict[str, Any] = {
            "TableName": self._table_name,
            "IndexName": "gsi1",
            "KeyConditionExpression": "gsi1pk = :list",
            "ExpressionAttributeValues": to_item({":list": friends_list_key(channel_id)}),
            "Limit": limit,
        }
        if after_user_id is not None:
            request["ExclusiveStartKey"] = to_item(
                {
                    **friend_key(channel_id, after_user_id),
                    "gsi1pk": friends_list_key(channel_id),
                    "gsi1sk": after_user_id,
                }
            )
        response = self._client.query(**request)
        friends = [Friend.model_validate(from_item(item)) for item in response.get("Items", [])]
        return friends, "LastEvaluatedKey" in response

    def walk(self, channel_id: str, page_size: int = 1000) -> Iterator[Friend]:
        """Every friend of the channel in user-id order, a page at a time."""
        after: str | None = None
        while True:
            friends, more = self.page_after(channel_id, after, page_size)
            yield from friends
            if not more or not friends:
                return
            after = friends[-1].user_id

    def reserve_marketing_send(
        self,
        channel_id: str,
        user_id: str,
        delivery_key: str,
        periods: dict[str, int],
        stale_periods: frozenset[str] = frozenset(),
    ) -> bool:
        """Count ``delivery_key`` in each period (key -> cap) unless one is full.

        One conditional write: concurrent broadcasts cannot both take a friend's last
        slot, and counting the same delivery again (a replayed step) changes nothing.
        ``stale_periods`` (older than any cap looks at) are removed in the same write.
        """
        names: dict[str, str] = {}
        values: dict[str, Any] = {":key": {delivery_key}}
        adds: list[str] = []
        conditions: list[str] = []
        for index, (period, cap) in enumerate(sorted(periods.items())):
            names[f"#p{index}"] = MARKETING_PERIOD_PREFIX + period
            values[f":cap{index}"] = cap
            adds.append(f"#p{index} :key")
            conditions.append(
                f"(attribute_not_exists(#p{index}) OR size(#p{index}) < :cap{index} "
                f"OR contains(#p{index}, :one))"
            )
        values[":one"] = delivery_key
        expression = "ADD " + ", ".join(adds)
        stale = sorted(stale_periods - set(periods))
        if stale:
            for index, period in enumerate(stale):
                names[f"#s{index}"] = MARKETING_PERIOD_PREFIX + period
            expression += " REMOVE " + ", ".join(f"#s{index}" for index in range(len(stale)))
        try:
            self._client.update_item(
                TableName=self._table_name,
                Key=to_item(friend_key(channel_id, user_id)),
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(pk) AND " + " AND ".join(conditions),
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_item(values),
            )
        except Exception as error:
            if is_conditional_check_failure(error):
                return False
            raise
        return True

    def export(self, channel_id: str, user_id: str) -> list[dict[str, Any]]:
        """Every item of the friend's partition, as plain values (data export)."""
        return [from_item(item) for item in self._partition_items(channel_id, user_id)]

    def delete(self, channel_id: str, user_id: str) -> int:
        """Delete every item of the friend's partition; the number deleted."""
        keys = [
            {"pk": item["pk"], "sk": item["sk"]}
            for item in self._partition_items(channel_id, user_id, keys_only=True)
        ]
        for start in range(0, len(keys), 25):
            pending: list[Any] = [
                {"DeleteRequest": {"Key": key}} for key in keys[start : start + 25]
            ]
            while pending:
                response = self._client.batch_write_item(RequestItems={self._table_name: pending})
                pending = list(response.get("UnprocessedItems", {}).get(self._table_name, []))
        return len(keys)

    # ------------------------------------------------------------------ internals
    def _partition_items(
        self, channel_id: str, user_id: str, *, keys_only: bool = False
    ) -> list[dict[str, Any]]:
        request: dict[str, Any] = {
            "TableName": self._table_name,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": to_item({":pk": friend_pk(channel_id, user_id)}),
            "ConsistentRead": True,
        }
        if keys_only:
            request["ProjectionExpression"] = "pk, sk"
        items: list[dict[str, Any]] = []
        while True:
            response = self._client.query(**request)
            items.extend(response.get("Items", []))
            if "LastEvaluatedKey" not in response:
                return items
            request["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def _update(
        self,
        channel_id: str,
        user_id: str,
        assignments: str,
        values: dict[str, Any],
        *,
        remove: str | None = None,
        return_values: Literal["NONE", "ALL_OLD", "ALL_NEW"] = "NONE",
        names: dict[str, str] | None = None,
        condition: str | None = None,
    ) -> dict[str, Any]:
        """One UpdateItem that also (re)writes the identity, listing and map attributes."""
        expression = (
            "SET channel_id = :channel, user_id = :user, gsi1pk = :list, gsi1sk = :user, "
            "tags = if_not_exists(tags, :empty), #fields = if_not_exists(#fields, :empty), "
            "rule_fired_at = if_not_exists(rule_fired_at, :empty), " + assignments
        )
        if remove:
            expression += f" REMOVE {remove}"
        names = {**(names or {}), "#fields": "fields"}  # a DynamoDB reserved word
        if re.search(r"#status\b", expression):
            names["#status"] = "status"
        request: dict[str, Any] = {}
        if condition:
            request["ConditionExpression"] = condition
        response = self._client.update_item(
            **request,
            TableName=self._table_name,
            Key=to_item(friend_key(channel_id, user_id)),
            UpdateExpression=expression,
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=to_item(
                {
                    ":channel": channel_id,
                    ":user": user_id,
                    ":list": friends_list_key(channel_id),
                    ":empty": {},
                    **values,
                }
            ),
            ReturnValues=return_values,
        )
        return from_item(response.get("Attributes", {}))


def _encode_cursor(item: Mapping[str, Any]) -> str:
    key = {name: from_item({name: item[name]})[name] for name in ("pk", "sk", "gsi1pk", "gsi1sk")}
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str, channel_id: str) -> dict[str, Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        key = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidCursor("cursor is not one this API returned") from error
    if (
        not isinstance(key, dict)
        or set(key) != {"pk", "sk", "gsi1pk", "gsi1sk"}
        or key["gsi1pk"] != friends_list_key(channel_id)
        or not all(isinstance(value, str) for value in key.values())
    ):
        raise InvalidCursor("cursor is not one this API returned")
    return key
