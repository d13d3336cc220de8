"""Builds the objects a function needs, lazily, from its Settings.

Each handler owns one ``Container``; nothing here runs at import time, so importing a
handler stays cheap and a test can build a container against moto and the emulator.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from linecrm.config import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_scheduler.client import EventBridgeSchedulerClient
    from mypy_boto3_sqs.client import SQSClient

    from linecrm.channels import ChannelDirectory
    from linecrm.delivery.outbox import SendQueueOutbox
    from linecrm.delivery.schedules import SchedulePlanner
    from linecrm.delivery.sender import Sender
    from linecrm.line.client import LineMessagingClient
    from linecrm.repositories.channel_settings import ChannelSettingsRepository
    from linecrm.repositories.deliveries import DeliveryLedger
    from linecrm.repositories.friends import FriendRepository
    from linecrm.webhook.service import WebhookReceiver


def utc_now() -> datetime:
    return datetime.now(UTC)


class Container:
    def __init__(
        self, settings: Settings | None = None, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._settings = settings
        self.clock = clock
        self._line_clients: dict[str, LineMessagingClient] = {}

    @cached_property
    def settings(self) -> Settings:
        return self._settings or Settings.from_env()

    # ------------------------------------------------------------ AWS clients
    @cached_property
    def _session(self) -> Any:
        import boto3

        return boto3.session.Session()

    @cached_property
    def dynamodb(self) -> DynamoDBClient:
        client: DynamoDBClient = self._session.client("dynamodb")
        return client

    @cached_property
    def sqs(self) -> SQSClient:
        client: SQSClient = self._session.client("sqs")
        return client

    @cached_property
    def scheduler(self) -> EventBridgeSchedulerClient:
        client: EventBridgeSchedulerClient = self._session.client("scheduler")
        return client

    # ------------------------------------------------------------ repositories
    @cached_property
    def friends(self) -> FriendRepository:
        from linecrm.repositories.friends import FriendRepository

        return FriendRepository(self.dynamodb, self.settings.table_name)

    @cached_property
    def ledger(self) -> DeliveryLedger:
        from linecrm.repositories.deliveries import DeliveryLedger

        return DeliveryLedger(self.dynamodb, self.settings.table_name)

    @cached_property
    def channel_settings(self) -> ChannelSettingsRepository:
        from linecrm.repositories.channel_settings import ChannelSettingsRepository

        return ChannelSettingsRepository(self.dynamodb, self.settings.table_name)

    @cached_property
    def channels(self) -> ChannelDirectory:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        from linecrm.channels import ChannelDirectory

        provider = SecretsProvider(boto3_client=self._session.client("secretsmanager"))
        return ChannelDirectory(provider, self.settings.channel_secret_prefix)

    # ------------------------------------------------------------ delivery
    @cached_property
    def outbox(self) -> SendQueueOutbox:
        from linecrm.delivery.outbox import SendQueueOutbox

        queue_url = self.settings.require(self.settings.send_queue_url, "send_queue_url")
        return SendQueueOutbox(self.ledger, self.sqs, queue_url, self.clock)

    def line_client(self, channel_id: str) -> LineMessagingClient:
        """One LINE client per channel, kept for the container's life (connection reuse)."""
        client = self._line_clients.get(channel_id)
        if client is None:
            from linecrm.line.client import LineMessagingClient, RetryPolicy

            token = self.channels.credentials(channel_id).channel_access_token
            client = LineMessagingClient(
                token,
                self.settings.line,
                retry_policy=RetryPolicy(base_seconds=self.settings.send_retry_base_seconds),
            )
            self._line_clients[channel_id] = client
        return client

    @cached_property
    def sender(self) -> Sender:
        from linecrm.delivery.sender import Sender

        return Sender(self.ledger, self.line_client, self.clock)

    def schedule_planner(self, target_arn: str | None = None) -> SchedulePlanner:
        from linecrm.delivery.schedules import SchedulePlanner

        settings = self.settings
        return SchedulePlanner(
            self.scheduler,
            group_name=settings.require(settings.schedule_group_name, "schedule_group_name"),
            target_arn=target_arn
            or settings.require(settings.scheduler_target_arn, "scheduler_target_arn"),
            role_arn=settings.require(settings.scheduler_role_arn, "scheduler_role_arn"),
        )

    # ------------------------------------------------------------ webhook
    @cached_property
    def idempotency_config(self) -> Any:
        from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

        from linecrm.resources import DEFAULTS
        from linecrm.webhook.idempotency import flag_duplicate

        return IdempotencyConfig(
            event_key_jmespath="[channel_id, webhook_event_id]",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=DEFAULTS.idempotency_hours * 3600,
            response_hook=flag_duplicate,  # type: ignore[arg-type]
        )

    @cached_property
    def webhook_receiver(self) -> WebhookReceiver:
        from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

        from linecrm.domain.webhook_events import WebhookEventProcessor
        from linecrm.webhook.idempotency import make_apply_once
        from linecrm.webhook.service import WebhookReceiver

        settings = self.settings
        store = DynamoDBPersistenceLayer(
            table_name=settings.require(settings.idempotency_table_name, "idempotency_table"),
            boto3_client=self.dynamodb,
        )
        processor = WebhookEventProcessor(self.friends, self.channel_settings, self.outbox)
        return WebhookReceiver(
            self.channels, make_apply_once(processor, store, self.idempotency_config)
        )
