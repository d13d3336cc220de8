"""Which friends clicked a link of a campaign: their ``TRACK#CLICK#<campaign>`` markers
(``linecrm.repositories.tracking_markers``), read 100 friends per BatchGetItem, for the
scenario condition "clicked a link of step k" (``Step.if_clicked``)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from linecrm.repositories.dynamo import from_item, to_item
from linecrm.repositories.friends import friend_pk
from linecrm.repositories.tracking_markers import FIRST_CLICK_PREFIX

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

_BATCH = 100  # BatchGetItem's limit


class ClickedFriends:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def clicked(self, channel_id: str, campaign: str, user_ids: Iterable[str]) -> set[str]:
        """The friends of ``user_ids`` who clicked a link of ``campaign``."""
        by_pk = {friend_pk(channel_id, user_id): user_id for user_id in dict.fromkeys(user_ids)}
        keys = [to_item({"pk": pk, "sk": FIRST_CLICK_PREFIX + campaign}) for pk in by_pk]
        found: set[str] = set()
        retries = 0
        while keys:
            batch, keys = keys[:_BATCH], keys[_BATCH:]
            request: Any = {self._table_name: {"Keys": batch, "ProjectionExpression": "pk"}}
            response = self._client.batch_get_item(RequestItems=request)
            for item in response.get("Responses", {}).get(self._table_name, []):
                found.add(by_pk[str(from_item(item)["pk"])])
            unprocessed = response.get("UnprocessedKeys", {}).get(self._table_name)
            if unprocessed:  # throttled: back off, then read them first
                retries += 1
                time.sleep(min(1.0, 0.05 * 2**retries))
                keys = list(unprocessed["Keys"]) + keys
        return found
