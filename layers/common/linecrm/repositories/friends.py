"""Friends of a LINE channel: one item per (channel, user)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from linecrm.domain.friends import FollowOutcome, Friend
from linecrm.repositories.dynamo import from_item, iso, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

PROFILE_SK = "PROFILE"


def friend_key(channel_id: str, user_id: str) -> dict[str, str]:
    return {"pk": f"CH#{channel_id}#FRIEND#{user_id}", "sk": PROFILE_SK}


class FriendRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def record_follow(self, channel_id: str, user_id: str, at: datetime) -> FollowOutcome:
        """Create or revive the friend in one write; the old image tells which it was."""
        old = self._update(
            channel_id,
            user_id,
            "#status = :active, first_followed_at = if_not_exists(first_followed_at, :at), "
            "last_followed_at = :at, last_interaction_at = :at",
            {":active": "active", ":at": iso(at)},
            remove="blocked_at",
            return_old=True,
        )
        if not old:
            return FollowOutcome.FIRST_FOLLOW
        if old.get("status") == "blocked":
            return FollowOutcome.REFOLLOW
        return FollowOutcome.ALREADY_FOLLOWING

    def record_unfollow(self, channel_id: str, user_id: str, at: datetime) -> None:
        """Mark the friend blocked with the time; keep every other attribute."""
        self._update(
            channel_id,
            user_id,
            "#status = :blocked, blocked_at = :at",
            {":blocked": "blocked", ":at": iso(at)},
        )

    def record_interaction(self, channel_id: str, user_id: str, at: datetime) -> None:
        """Last interaction time; a friend from before linecrm gets a row on first contact."""
        self._update(
            channel_id,
            user_id,
            "last_interaction_at = :at, #status = if_not_exists(#status, :active)",
            {":active": "active", ":at": iso(at)},
        )

    def _update(
        self,
        channel_id: str,
        user_id: str,
        assignments: str,
        values: dict[str, Any],
        *,
        remove: str | None = None,
        return_old: bool = False,
    ) -> dict[str, Any]:
        """One UpdateItem that also (re)writes the identity and listing attributes."""
        expression = (
            "SET channel_id = :channel, user_id = :user, gsi1pk = :list, gsi1sk = :user, "
            + assignments
        )
        if remove:
            expression += f" REMOVE {remove}"
        response = self._client.update_item(
            TableName=self._table_name,
            Key=to_item(friend_key(channel_id, user_id)),
            UpdateExpression=expression,
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues=to_item(
                {
                    ":channel": channel_id,
                    ":user": user_id,
                    ":list": f"CH#{channel_id}#FRIENDS",
                    **values,
                }
            ),
            ReturnValues="ALL_OLD" if return_old else "NONE",
        )
        return from_item(response.get("Attributes", {}))

    def get(self, channel_id: str, user_id: str) -> Friend | None:
        response = self._client.get_item(
            TableName=self._table_name,
            Key=to_item(friend_key(channel_id, user_id)),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return Friend.model_validate(from_item(item)) if item else None
