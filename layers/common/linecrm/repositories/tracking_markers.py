"""Per-friend tracking markers: what a friend last received, clicked, or was held out of.

They live in the friend's partition (``friend_pk``), so erasing a friend erases them:

- ``TRACK#LASTSENT``  the last campaign delivered to the friend (the sender writes it
  for every recipient of a sent delivery that names a campaign): an unfollow within
  24 h counts against it, and conversions of exposed friends are credited to it.
- ``TRACK#LASTCLICK`` the last campaign whose link the friend clicked: purchases within
  the attribution window are credited to it (last click wins).
- ``TRACK#CLICK#<campaign>`` the friend's first click on a campaign: unique clicks, and
  the scenario condition "clicked a link of step k".
- ``TRACK#HOLDOUT``   the last campaign whose A/B holdout the friend was drawn into.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from linecrm.repositories.dynamo import (
    from_item,
    is_conditional_check_failure,
    iso,
    to_item,
)
from linecrm.repositories.friends import friend_pk

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

LAST_SENT_SK = "TRACK#LASTSENT"
LAST_CLICK_SK = "TRACK#LASTCLICK"
HOLDOUT_SK = "TRACK#HOLDOUT"
FIRST_CLICK_PREFIX = "TRACK#CLICK#"
_BATCH = 25  # BatchWriteItem's limit


@dataclass(frozen=True)
class Marker:
    campaign: str
    variant: str | None
    at: datetime


def _item(channel_id: str, user_id: str, sk: str, marker: Marker) -> dict[str, Any]:
    values: dict[str, Any] = {
        "pk": friend_pk(channel_id, user_id),
        "sk": sk,
        "campaign": marker.campaign,
        "at": iso(marker.at),
    }
    if marker.variant is not None:
        values["variant"] = marker.variant
    return values


def _marker(values: dict[str, Any]) -> Marker:
    return Marker(
        campaign=str(values["campaign"]),
        variant=values.get("variant"),
        at=datetime.fromisoformat(str(values["at"])),
    )


class TrackingMarkers:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    # ------------------------------------------------------------------ writes
    def put_last_sent_many(self, channel_id: str, user_ids: Iterable[str], marker: Marker) -> int:
        """``TRACK#LASTSENT`` for every recipient, 25 per BatchWriteItem; the calls made."""
        return self._put_many(channel_id, user_ids, LAST_SENT_SK, marker)

    def put_holdout_many(self, channel_id: str, user_ids: Iterable[str], marker: Marker) -> int:
        return self._put_many(channel_id, user_ids, HOLDOUT_SK, marker)

    def put_last_click(self, channel_id: str, user_id: str, marker: Marker) -> None:
        self._client.put_item(
            TableName=self._table_name,
            Item=to_item(_item(channel_id, user_id, LAST_CLICK_SK, marker)),
        )

    def put_first_click(self, channel_id: str, user_id: str, marker: Marker) -> bool:
        """Record the friend's first click on the campaign; False when they clicked before."""
        try:
            self._client.put_item(
                TableName=self._table_name,
                Item=to_item(
                    _item(channel_id, user_id, FIRST_CLICK_PREFIX + marker.campaign, marker)
                ),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except Exception as error:
            if is_conditional_check_failure(error):
                return False
            raise
        return True

    def _put_many(self, channel_id: str, user_ids: Iterable[str], sk: str, marker: Marker) -> int:
        calls = retries = 0
        pending: list[Any] = [
            {"PutRequest": {"Item": to_item(_item(channel_id, user_id, sk, marker))}}
            for user_id in dict.fromkeys(user_ids)  # one per friend (a batch refuses duplicates)
        ]
        while pending:
            batch, pending = pending[:_BATCH], pending[_BATCH:]
            calls += 1
            response = self._client.batch_write_item(RequestItems={self._table_name: batch})
            unprocessed = list(response.get("UnprocessedItems", {}).get(self._table_name, []))
            if unprocessed:  # throttled: back off, then send them first
                retries += 1
                time.sleep(min(1.0, 0.05 * 2**retries))
            pending = unprocessed + pending
        return calls

    # ------------------------------------------------------------------ reads
    def last_sent(self, channel_id: str, user_id: str) -> Marker | None:
        return self._get(channel_id, user_id, LAST_SENT_SK)

    def last_click(self, channel_id: str, user_id: str) -> Marker | None:
        return self._get(channel_id, user_id, LAST_CLICK_SK)

    def holdout(self, channel_id: str, user_id: str) -> Marker | None:
        return self._get(channel_id, user_id, HOLDOUT_SK)

    def first_click(self, channel_id: str, user_id: str, campaign: str) -> Marker | None:
        return self._get(channel_id, user_id, FIRST_CLICK_PREFIX + campaign)

    def _get(self, channel_id: str, user_id: str, sk: str) -> Marker | None:
        item = self._client.get_item(
            TableName=self._table_name,
            Key=to_item({"pk": friend_pk(channel_id, user_id), "sk": sk}),
        ).get("Item")
        return _marker(from_item(item)) if item else None
