"""A channel on moto with the things reports name (a broadcast, a scenario, a rule,
inflow routes) and counters written with the report counters' repository."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from linecrm.domain.broadcasts import Broadcast
from linecrm.domain.inflow import InflowRoute, RouteSettings
from linecrm.reports.service import ReportService
from linecrm.repositories.broadcasts import BroadcastRepository
from linecrm.repositories.campaign_stats import CampaignStatsRepository
from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm.repositories.inflow_routes import InflowRouteRepository
from linecrm.repositories.message_insight import MessageInsightRepository
from linecrm.repositories.scenarios import ScenarioRepository
from linecrm.scenarios.model import ScenarioDefinition
from tests.unit.conftest import CHANNEL_ID, AwsWorld

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo


def text(value: str) -> dict[str, str]:
    return {"type": "text", "text": value}


@dataclass
class ReportWorld:
    aws: AwsWorld
    now: datetime = NOW
    channel_id: str = CHANNEL_ID

    @property
    def client(self) -> Any:
        return self.aws.client("dynamodb")

    @property
    def table(self) -> str:
        return str(self.aws.resources.table_names["Main"])

    @property
    def stats(self) -> CampaignStatsRepository:
        return CampaignStatsRepository(self.client, self.table)

    @property
    def routes(self) -> InflowRouteRepository:
        return InflowRouteRepository(self.client, self.table)

    @property
    def insight(self) -> MessageInsightRepository:
        return MessageInsightRepository(self.client, self.table)

    @property
    def config(self) -> ChannelConfigRepository:
        return ChannelConfigRepository(self.client, self.table)

    def service(self, client: Any = None) -> ReportService:
        client = client or self.client
        return ReportService(
            CampaignStatsRepository(client, self.table),
            BroadcastRepository(client, self.table),
            ScenarioRepository(client, self.table),
            InflowRouteRepository(client, self.table),
            ChannelConfigRepository(client, self.table).load,
            lambda: self.now,
            insight=MessageInsightRepository(client, self.table),
        )

    # ------------------------------------------------------------ things to report on
    def broadcast(self, broadcast_id: str, name: str, started_at: datetime | None = None) -> None:
        BroadcastRepository(self.client, self.table).create(
            Broadcast(
                broadcast_id=broadcast_id,
                channel_id=self.channel_id,
                name=name,
                messages=[text(name)],
                status="sent" if started_at else "scheduled",
                created_at=self.now,
                updated_at=self.now,
                started_at=started_at,
            )
        )

    def scenario(self, scenario_id: str, name: str, steps: list[dict[str, Any]]) -> None:
        definition = ScenarioDefinition.model_validate(
            {"id": scenario_id, "name": name, "steps": steps}
        )
        ScenarioRepository(self.client, self.table).put_version(
            self.channel_id, definition, expected_version=None, at=self.now
        )

    def rule(self, rule_id: str, name: str) -> None:
        self.config.replace_rules(
            self.channel_id,
            [
                {
                    "rule_id": rule_id,
                    "name": name,
                    "match": {"type": "keyword", "keywords": ["hi"]},
                    "actions": [{"type": "reply", "messages": [text("hello")]}],
                }
            ],
        )

    def time_zone(self, name: str) -> None:
        self.config.set_setting(self.channel_id, "delivery_policy", {"time_zone": name})

    def route(self, route_id: str, name: str, code: str) -> None:
        self.routes.create(
            InflowRoute(
                channel_id=self.channel_id,
                route_id=route_id,
                code=code,
                settings=RouteSettings(name=name),
                created_at=self.now,
                updated_at=self.now,
            )
        )

    # ------------------------------------------------------------ counters
    def sent(self, campaign: str, at: datetime, count: int, variant: str | None = None) -> None:
        """A send of ``count`` recipients (one chunk), as the sender records it."""
        self.stats.add_to_campaign(
            self.channel_id, campaign, {"sent": count}, shard_by=f"chunk-{at}", variant=variant
        )
        self.client.update_item(**self.stats.index_update(self.channel_id, campaign, at))

    def add(self, campaign: str, user_id: str, variant: str | None = None, **counts: int) -> None:
        self.stats.add_to_campaign(
            self.channel_id, campaign, counts, shard_by=user_id, variant=variant
        )
