"""Report counters, kept as things happen so a report reads a few items, never a scan.

Two families of items, each write-sharded (``STATS_SHARDS`` partitions, the shard
from the friend or chunk that caused the write) so a burst of clicks or blocks after
a broadcast spreads over several items instead of one hot key:

- per campaign and variant: ``pk = STATS#<channel>#C#<campaign>#<shard>``,
  ``sk = V#<variant or ->``. Reading a campaign is ``STATS_SHARDS`` queries (every
  variant at once), summed.
- per day (the account's time zone): ``pk = STATS#<channel>#DAY#<shard>``,
  ``sk = <yyyy-mm-dd>``. A timeline of N days is ``STATS_SHARDS`` range queries.

And an index of the channel's campaigns, so a report can list them without a scan:
``pk = STATS#<channel>#CAMPAIGNS``, ``sk = <campaign>``, with ``kind`` (the campaign
key's prefix), ``first_sent_at`` and ``last_sent_at``; the sender updates it with a
sent chunk at most once a minute per environment and campaign (one partition per
channel: ``linecrm.counting.sent``), so ``last_sent_at`` may be a minute behind.

Counter names are plain attribute names (``sent``, ``clicks``, ``unique_clicks``,
``conversions``, ``revenue``, ``blocks``, ...; ``linecrm.domain.stats`` lists them).
Values are integers; money is in the currency's minor unit (yen) as an integer.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from linecrm.repositories.dynamo import from_item, iso, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

# 4 shards: a campaign's counters take about 4,000 updates/s before one item is hot,
# and a report reads 4 small queries.
STATS_SHARDS = 4
NO_VARIANT = "-"

Counters = dict[str, int]


def stats_shard(shard_by: str) -> int:
    return zlib.crc32(shard_by.encode()) % STATS_SHARDS


def campaign_stats_pk(channel_id: str, campaign: str, shard: int) -> str:
    return f"STATS#{channel_id}#C#{campaign}#{shard}"


def day_stats_pk(channel_id: str, shard: int) -> str:
    return f"STATS#{channel_id}#DAY#{shard}"


def campaign_index_pk(channel_id: str) -> str:
    return f"STATS#{channel_id}#CAMPAIGNS"


def campaign_kind(campaign: str) -> str:
    """``broadcast``, ``step``, ``rule``, ``richmenu``, ``welcome`` or ``chat``."""
    return campaign.split(":", 1)[0]


@dataclass(frozen=True)
class IndexedCampaign:
    campaign: str
    kind: str
    first_sent_at: datetime
    last_sent_at: datetime


def _indexed(item: dict[str, Any]) -> IndexedCampaign:
    return IndexedCampaign(
        campaign=str(item["sk"]),
        kind=str(item["kind"]),
        first_sent_at=datetime.fromisoformat(str(item["first_sent_at"])),
        last_sent_at=datetime.fromisoformat(str(item["last_sent_at"])),
    )


def _add_update(
    table_name: str, key: dict[str, str], increments: Mapping[str, int]
) -> dict[str, Any] | None:
    counts = {name: int(value) for name, value in increments.items() if value}
    if not counts:
        return None
    names = {f"#c{index}": name for index, name in enumerate(counts)}
    values = {f":c{index}": value for index, value in enumerate(counts.values())}
    return {
        "TableName": table_name,
        "Key": to_item(key),
        "UpdateExpression": "ADD "
        + ", ".join(f"{name} {value}" for name, value in zip(names, values, strict=True)),
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": to_item(values),
    }


def _counters(item: dict[str, Any]) -> Counters:
    return {
        name: int(value)
        for name, value in item.items()
        if name not in ("pk", "sk") and isinstance(value, int | float)
    }


def _add_into(total: Counters, counts: Mapping[str, int]) -> None:
    for name, value in counts.items():
        total[name] = total.get(name, 0) + value


class CampaignStatsRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    # ------------------------------------------------------------------ writes
    def campaign_update(
        self,
        channel_id: str,
        campaign: str,
        increments: Mapping[str, int],
        *,
        shard_by: str,
        variant: str | None = None,
    ) -> dict[str, Any] | None:
        """The UpdateItem (ADD) of a campaign's counters, also usable in a transaction;
        None when every increment is zero."""
        key = {
            "pk": campaign_stats_pk(channel_id, campaign, stats_shard(shard_by)),
            "sk": f"V#{variant or NO_VARIANT}",
        }
        return _add_update(self._table_name, key, increments)

    def day_update(
        self, channel_id: str, day: date, increments: Mapping[str, int], *, shard_by: str
    ) -> dict[str, Any] | None:
        key = {"pk": day_stats_pk(channel_id, stats_shard(shard_by)), "sk": day.isoformat()}
        return _add_update(self._table_name, key, increments)

    def index_update(self, channel_id: str, campaign: str, sent_at: datetime) -> dict[str, Any]:
        """The UpdateItem recording that ``campaign`` sent at ``sent_at`` (first and last
        send), also usable in a transaction."""
        return {
            "TableName": self._table_name,
            "Key": to_item({"pk": campaign_index_pk(channel_id), "sk": campaign}),
            "UpdateExpression": "SET kind = :kind, first_sent_at = if_not_exists("
            "first_sent_at, :at), last_sent_at = :at",
            "ExpressionAttributeValues": to_item(
                {":kind": campaign_kind(campaign), ":at": iso(sent_at)}
            ),
        }

    def index(self, channel_id: str, campaign: str, at: datetime) -> None:
        """Record ``campaign`` in the index at ``at`` (a rich menu applied: it sends
        nothing, so this is when its links went live)."""
        self._client.update_item(**self.index_update(channel_id, campaign, at))

    def add_to_campaign(
        self,
        channel_id: str,
        campaign: str,
        increments: Mapping[str, int],
        *,
        shard_by: str,
        variant: str | None = None,
    ) -> None:
        update = self.campaign_update(
            channel_id, campaign, increments, shard_by=shard_by, variant=variant
        )
        if update is not None:
            self._client.update_item(**update)

    def add_to_day(
        self, channel_id: str, day: date, increments: Mapping[str, int], *, shard_by: str
    ) -> None:
        update = self.day_update(channel_id, day, increments, shard_by=shard_by)
        if update is not None:
            self._client.update_item(**update)

    # ------------------------------------------------------------------ reads
    def campaign(self, channel_id: str, campaign: str) -> dict[str, Counters]:
        """Variant (``-`` when none) -> counter -> value, summed over the shards."""
        result: dict[str, Counters] = {}
        for shard in range(STATS_SHARDS):
            for item in self._query(
                {
                    "KeyConditionExpression": "pk = :pk",
                    "ExpressionAttributeValues": to_item(
                        {":pk": campaign_stats_pk(channel_id, campaign, shard)}
                    ),
                }
            ):
                variant = str(item["sk"]).removeprefix("V#")
                _add_into(result.setdefault(variant, {}), _counters(item))
        return result

    def campaigns(self, channel_id: str, kind: str | None = None) -> list[IndexedCampaign]:
        """The channel's campaigns (of one kind, if given), most recently sent first."""
        request: dict[str, Any] = {
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": to_item({":pk": campaign_index_pk(channel_id)}),
        }
        if kind is not None:
            request["KeyConditionExpression"] += " AND begins_with(sk, :kind)"
            request["ExpressionAttributeValues"].update(to_item({":kind": kind}))
        found = [
            _indexed(item)
            for item in self._query(request)
            if kind is None or item.get("kind") == kind
        ]
        return sorted(found, key=lambda found: found.last_sent_at, reverse=True)

    def indexed(self, channel_id: str, campaign: str) -> IndexedCampaign | None:
        """The campaign's index entry (one GetItem), None when it never sent."""
        item = self._client.get_item(
            TableName=self._table_name,
            Key=to_item({"pk": campaign_index_pk(channel_id), "sk": campaign}),
        ).get("Item")
        return _indexed(from_item(item)) if item else None

    def campaign_total(self, channel_id: str, campaign: str) -> Counters:
        """A campaign's counters over all its variants."""
        total: Counters = {}
        for counts in self.campaign(channel_id, campaign).values():
            _add_into(total, counts)
        return total

    def days(self, channel_id: str, first: date, last: date) -> dict[date, Counters]:
        """Day -> counter -> value for ``first`` … ``last`` (days with no activity absent)."""
        result: dict[date, Counters] = {}
        for shard in range(STATS_SHARDS):
            for item in self._query(
                {
                    "KeyConditionExpression": "pk = :pk AND sk BETWEEN :first AND :last",
                    "ExpressionAttributeValues": to_item(
                        {
                            ":pk": day_stats_pk(channel_id, shard),
                            ":first": first.isoformat(),
                            ":last": last.isoformat(),
                        }
                    ),
                }
            ):
                day = date.fromisoformat(str(item["sk"]))
                _add_into(result.setdefault(day, {}), _counters(item))
        return dict(sorted(result.items()))

    def _query(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        request = {"TableName": self._table_name, **request}
        while True:
            page = self._client.query(**request)
            items.extend(from_item(raw) for raw in page.get("Items", []))
            if "LastEvaluatedKey" not in page:
                return items
            request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
