"""Tracked links by token (main table, docs/data-model.md): what ``GET /t/<token>`` and
the LIFF click page resolve.

``LINK#<token>`` / ``LINK``: channel, campaign, variant (absent when none), the original
URL and when it was first made. The token is a hash of the other four
(``linecrm.domain.tracked_links.link_token``), so writing it again is harmless; the item
is kept as long as the channel (a message in a friend's chat can be tapped years later).
A token that has no item is unknown: 404, whatever it looks like.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from linecrm.domain.tracked_links import TrackedLink, is_token
from linecrm.repositories.dynamo import from_item, iso, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

LINK_SK = "LINK"


def link_pk(token: str) -> str:
    return f"LINK#{token}"


class TrackedLinkRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def put(self, link: TrackedLink, at: datetime) -> None:
        """Create the link (again: the same values; ``created_at`` stays the first)."""
        values: dict[str, object] = {
            ":channel": link.channel_id,
            ":campaign": link.campaign,
            ":url": link.url,
            ":at": iso(at),
        }
        update = "SET channel_id = :channel, campaign = :campaign, #url = :url, "
        update += "created_at = if_not_exists(created_at, :at)"
        if link.variant is not None:
            values[":variant"] = link.variant
            update += ", variant = :variant"
        self._client.update_item(
            TableName=self._table_name,
            Key=to_item({"pk": link_pk(link.token), "sk": LINK_SK}),
            UpdateExpression=update,
            ExpressionAttributeNames={"#url": "url"},
            ExpressionAttributeValues=to_item(values),
        )

    def get(self, token: str) -> TrackedLink | None:
        if not is_token(token):
            return None
        item = self._client.get_item(
            TableName=self._table_name, Key=to_item({"pk": link_pk(token), "sk": LINK_SK})
        ).get("Item")
        if not item:
            return None
        values = from_item(item)
        return TrackedLink(
            token=token,
            channel_id=str(values["channel_id"]),
            campaign=str(values["campaign"]),
            variant=values.get("variant"),
            url=str(values["url"]),
        )
