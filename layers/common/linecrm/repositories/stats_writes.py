"""Writing report counters exactly once per cause (a webhook event, an order).

``StatsWriter.count_once`` writes, in one TransactWriteItems, a claim item for the
cause (conditional: it must not exist) and the counter updates
(``CampaignStatsRepository``'s ADDs). A cause counted before cancels the whole
transaction: a redelivered webhook event, a re-emitted signal or an order reported
twice adds nothing. Claims:

- a friend's unfollow or follow: ``pk = <the friend's partition>``,
  ``sk = TRACK#COUNTED#<what>#<when>`` (erased with the friend);
- an order: ``pk = CH#<channel>#ORDER#<order key>``, ``sk = COUNTED`` (no user id in it,
  one partition per order).

Claims expire (``expires_at``, DynamoDB TTL) after ``CLAIM_DAYS``, longer than LINE
redelivers or a shop retries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from linecrm.domain.attribution import Credits
from linecrm.repositories.campaign_stats import CampaignStatsRepository
from linecrm.repositories.dynamo import iso, to_item, transact_unless_done
from linecrm.repositories.friends import friend_pk

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

CLAIM_DAYS = 400  # as long as events (and their idempotency keys) are kept
COUNTED_PREFIX = "TRACK#COUNTED#"
ORDER_SK = "COUNTED"
_ROUNDS = 6  # transaction conflicts (a hot counter item) are retried this often


def friend_claim_key(channel_id: str, user_id: str, what: str, at: datetime) -> dict[str, str]:
    return {"pk": friend_pk(channel_id, user_id), "sk": f"{COUNTED_PREFIX}{what}#{iso(at)}"}


def order_claim_key(channel_id: str, order_key: str) -> dict[str, str]:
    # Hashed: an order id is the shop's text (any characters, up to 128 of them).
    digest = hashlib.sha256(order_key.encode()).hexdigest()[:40]
    return {"pk": f"CH#{channel_id}#ORDER#{digest}", "sk": ORDER_SK}


class StatsWriter:
    def __init__(
        self, client: DynamoDBClient, table_name: str, stats: CampaignStatsRepository
    ) -> None:
        self._client = client
        self._table_name = table_name
        self._stats = stats

    def updates(
        self, channel_id: str, credits: Credits, day: date, *, shard_by: str
    ) -> list[dict[str, Any]]:
        """The UpdateItems (ADD) of ``credits``: one per campaign+variant, one for the day."""
        found: list[dict[str, Any] | None] = [
            self._stats.campaign_update(
                channel_id, campaign, counts, shard_by=shard_by, variant=variant
            )
            for (campaign, variant), counts in credits.campaigns.items()
        ]
        found.append(self._stats.day_update(channel_id, day, credits.day, shard_by=shard_by))
        return [update for update in found if update is not None]

    def count_once(
        self,
        claim_key: Mapping[str, str],
        updates: Sequence[dict[str, Any]],
        at: datetime,
        **claim: str,
    ) -> bool:
        """Apply ``updates`` and the claim together; False (nothing written) when the
        claim exists already. ``claim``: further attributes kept on the claim item."""
        put = {
            "TableName": self._table_name,
            "Item": to_item(
                {
                    **claim_key,
                    **claim,
                    "counted_at": iso(at),
                    "expires_at": int((at + timedelta(days=CLAIM_DAYS)).timestamp()),
                }
            ),
            "ConditionExpression": "attribute_not_exists(pk)",
        }
        items: list[Any] = [{"Put": put}, *({"Update": update} for update in updates)]
        # False: counted before; a conflict with a concurrent write of a counter goes again.
        return transact_unless_done(self._client, items, rounds=_ROUNDS)
