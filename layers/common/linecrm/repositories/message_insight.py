"""LINE's opens and clicks per campaign, as the insight job last fetched them.

One partition per channel, ``pk = INSIGHT#<channel>``:

- ``sk = C#<campaign>``: the campaign's figures (``opens`` = LINE's unique
  impressions, ``line_unique_clicks``, ``impressions``, ``line_clicks``; an absent
  figure is one LINE withheld, under 20 users), ``withheld``, ``source`` (``unit:…``
  or ``request:…``), ``fetched_at``, the period asked for, ``final`` once LINE's
  figures no longer change. A report reads it with one GetItem, next to the
  campaign's counters (``linecrm.repositories.campaign_stats``).
- ``sk = U#<unit name>``: which campaign a custom aggregation unit names (LINE lists
  unit names, e.g. ``GET /v2/bot/message/aggregation/list``; this maps them back).
- ``sk = BUDGET#<yyyy-mm-ddThh>``: insight requests made in that clock hour, so
  every fetch of the channel (a schedule may fire twice) shares one hourly budget.

The job writes a few items an hour (LINE allows 60 insight requests per hour), so
one partition per channel is far from hot.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from linecrm.domain.insight import CampaignInsight, MessageStatistics
from linecrm.repositories.dynamo import from_item, is_conditional_check_failure, iso, to_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

_FIGURES = {
    "opens": "unique_impressions",
    "line_unique_clicks": "unique_clicks",
    "impressions": "impressions",
    "line_clicks": "clicks",
    "delivered": "delivered",
}
BATCH_GET_LIMIT = 100
BUDGET_TTL_SECONDS = 2 * 86400


def insight_pk(channel_id: str) -> str:
    return f"INSIGHT#{channel_id}"


def _campaign_key(channel_id: str, campaign: str) -> dict[str, str]:
    return {"pk": insight_pk(channel_id), "sk": f"C#{campaign}"}


def _insight(item: dict[str, Any]) -> CampaignInsight:
    figures = {field: item.get(name) for name, field in _FIGURES.items()}
    statistics = MessageStatistics(
        **{field: int(value) if value is not None else None for field, value in figures.items()}
    )
    return CampaignInsight(
        campaign=str(item["sk"]).removeprefix("C#"),
        source=str(item["source"]),
        statistics=statistics,
        fetched_at=datetime.fromisoformat(str(item["fetched_at"])),
        period_from=date.fromisoformat(str(item["period_from"])) if "period_from" in item else None,
        period_to=date.fromisoformat(str(item["period_to"])) if "period_to" in item else None,
        final=bool(item.get("final", False)),
        error=str(item["error"]) if item.get("error") else None,
        over_unit_limit=bool(item.get("over_unit_limit", False)),
    )


class MessageInsightRepository:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table_name = table_name

    def save(self, channel_id: str, insight: CampaignInsight) -> None:
        """Replace the campaign's figures with these (a withheld figure is absent)."""
        item: dict[str, Any] = {
            **_campaign_key(channel_id, insight.campaign),
            "source": insight.source,
            "withheld": insight.statistics.withheld,
            "fetched_at": iso(insight.fetched_at),
            "final": insight.final,
            "over_unit_limit": insight.over_unit_limit,
        }
        for name, field in _FIGURES.items():
            value = getattr(insight.statistics, field)
            if value is not None:
                item[name] = value
        if insight.period_from is not None:
            item["period_from"] = insight.period_from.isoformat()
        if insight.period_to is not None:
            item["period_to"] = insight.period_to.isoformat()
        if insight.error:
            item["error"] = insight.error[:1000]
        self._client.put_item(TableName=self._table_name, Item=to_item(item))

    def get(self, channel_id: str, campaign: str) -> CampaignInsight | None:
        """The campaign's figures as last fetched; None: never fetched (yet)."""
        response = self._client.get_item(
            TableName=self._table_name, Key=to_item(_campaign_key(channel_id, campaign))
        )
        item = response.get("Item")
        return _insight(from_item(item)) if item else None

    def get_many(self, channel_id: str, campaigns: Iterable[str]) -> dict[str, CampaignInsight]:
        """The figures of several campaigns (BatchGetItem, 100 at a time)."""
        wanted = list(dict.fromkeys(campaigns))
        found: dict[str, CampaignInsight] = {}
        for start in range(0, len(wanted), BATCH_GET_LIMIT):
            keys: list[Any] = [
                to_item(_campaign_key(channel_id, campaign))
                for campaign in wanted[start : start + BATCH_GET_LIMIT]
            ]
            pending: dict[str, Any] = {self._table_name: {"Keys": keys}}
            while pending:
                response = self._client.batch_get_item(RequestItems=pending)
                for raw in response.get("Responses", {}).get(self._table_name, []):
                    insight = _insight(from_item(raw))
                    found[insight.campaign] = insight
                pending = dict(response.get("UnprocessedKeys") or {})
        return found

    def take_request(self, channel_id: str, now: datetime, per_hour: int) -> bool:
        """Count one insight request in ``now``'s clock hour; False (nothing counted)
        when ``per_hour`` were made in it already."""
        try:
            self._client.update_item(
                TableName=self._table_name,
                Key=to_item({"pk": insight_pk(channel_id), "sk": f"BUDGET#{now:%Y-%m-%dT%H}"}),
                UpdateExpression="ADD used :one SET expires_at = :expires",
                ConditionExpression="attribute_not_exists(used) OR used < :limit",
                ExpressionAttributeValues=to_item(
                    {
                        ":one": 1,
                        ":limit": per_hour,
                        ":expires": int(now.timestamp()) + BUDGET_TTL_SECONDS,
                    }
                ),
            )
        except Exception as error:
            if is_conditional_check_failure(error):
                return False
            raise
        return True

    def record_unit(self, channel_id: str, unit: str, campaign: str) -> None:
        """Remember that ``unit`` names ``campaign`` (idempotent)."""
        self._client.put_item(
            TableName=self._table_name,
            Item=to_item({"pk": insight_pk(channel_id), "sk": f"U#{unit}", "campaign": campaign}),
        )

    def campaign_for_unit(self, channel_id: str, unit: str) -> str | None:
        response = self._client.get_item(
            TableName=self._table_name,
            Key=to_item({"pk": insight_pk(channel_id), "sk": f"U#{unit}"}),
        )
        item = response.get("Item")
        return str(from_item(item)["campaign"]) if item else None
