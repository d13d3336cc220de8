"""Builds the objects a function needs, lazily, from its Settings.

Each handler owns one ``Container``; nothing here runs at import time, so importing a
handler stays cheap and a test can build a container against moto and the emulator.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any

from linecrm.config import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_scheduler.client import EventBridgeSchedulerClient
    from mypy_boto3_sqs.client import SQSClient

    from linecrm.admin.service import AdminService
    from linecrm.broadcasts.planner import BroadcastPlanner
    from linecrm.broadcasts.service import BroadcastService
    from linecrm.channels import ChannelDirectory
    from linecrm.delivery.ledger_admin import LedgerAdmin
    from linecrm.delivery.line_tasks import LineTaskRunner
    from linecrm.delivery.outbox import SendQueueOutbox
    from linecrm.delivery.scheduled import ScheduledSends
    from linecrm.delivery.schedules import SchedulePlanner
    from linecrm.delivery.sender import Sender
    from linecrm.domain.broadcasts import Broadcast
    from linecrm.imports.runner import ImportRunner
    from linecrm.imports.service import ImportService
    from linecrm.imports.storage import JobStepQueue, UploadStore
    from linecrm.line.client import LineMessagingClient
    from linecrm.repositories.broadcasts import BroadcastRepository
    from linecrm.repositories.channel_config import CachedChannelConfig, ChannelConfigRepository
    from linecrm.repositories.deliveries import DeliveryLedger
    from linecrm.repositories.enrollments import EnrollmentRepository
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

    @cached_property
    def s3(self) -> S3Client:
        client: S3Client = self._session.client("s3")
        return client

    # ------------------------------------------------------------ repositories
    @cached_property
    def friends(self) -> FriendRepository:
        from linecrm.repositories.friends import FriendRepository

        return FriendRepository(self.dynamodb, self.settings.table_name)

    @cached_property
    def channel_config(self) -> ChannelConfigRepository:
        from linecrm.repositories.channel_config import ChannelConfigRepository

        return ChannelConfigRepository(self.dynamodb, self.settings.table_name)

    @cached_property
    def admin(self) -> AdminService:
        from linecrm.admin.service import AdminService

        return AdminService(self.friends, self.channel_config, self.clock)

    @cached_property
    def ledger(self) -> DeliveryLedger:
        from linecrm.repositories.deliveries import DeliveryLedger

        return DeliveryLedger(self.dynamodb, self.settings.table_name)

    @cached_property
    def cached_channel_config(self) -> CachedChannelConfig:
        """Channel config as the webhook reads it: reloaded at most every 30 s."""
        from linecrm.repositories.channel_config import CachedChannelConfig

        return CachedChannelConfig(self.channel_config, self.clock)

    @cached_property
    def enrollments(self) -> EnrollmentRepository:
        from linecrm.repositories.enrollments import EnrollmentRepository

        return EnrollmentRepository(self.dynamodb, self.settings.table_name)

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
        from linecrm.delivery.pacing import Pacer
        from linecrm.delivery.send_limits import ChannelSendLimitsCache
        from linecrm.delivery.sender import Sender
        from linecrm.resources import SEND_QUEUE

        return Sender(
            self.ledger,
            self.line_client,
            self.clock,
            limits=ChannelSendLimitsCache(self.channel_config, self.clock),
            # One pacer per execution environment: its share of each channel's rate.
            pacer=Pacer(SEND_QUEUE.max_concurrency),
            time_zone=self.settings.account_time_zone,
        )

    @cached_property
    def line_tasks(self) -> LineTaskRunner:
        from linecrm.delivery.line_tasks import LineTaskRunner

        return LineTaskRunner(self.friends, self.line_client, self.clock)

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

    # ------------------------------------------------------------ broadcasts
    @cached_property
    def broadcasts(self) -> BroadcastRepository:
        from linecrm.repositories.broadcasts import BroadcastRepository

        return BroadcastRepository(self.dynamodb, self.settings.table_name)

    @cached_property
    def scheduled_sends(self) -> ScheduledSends:
        from linecrm.delivery.scheduled import ScheduledSends

        return ScheduledSends(
            self.ledger,
            self.outbox,
            self.friends,
            self.channel_config.load,
            self.schedule_planner,
            self.clock,
        )

    @cached_property
    def broadcast_planner(self) -> BroadcastPlanner:
        from linecrm.broadcasts.planner import BroadcastPlanner

        return BroadcastPlanner(
            self.broadcasts,
            self.friends,
            self.ledger,
            self.channel_config.load,
            self.outbox,
            self.job_queue,
            self._schedule_broadcast_start,
            self.scheduled_sends,
            lambda channel_id: self.line_client(channel_id).message_quota(),
            self.clock,
        )

    def _schedule_broadcast_start(self, broadcast: Broadcast, at: datetime) -> None:
        from linecrm.broadcasts.service import start_job

        job = start_job(broadcast)
        # A name of its own per time: the schedule that fired may not be deleted yet.
        job = job.model_copy(update={"job_id": f"{job.job_id}@{at:%Y%m%dT%H%M%S}"})
        self.schedule_planner().schedule(job, at)

    @cached_property
    def broadcast_service(self) -> BroadcastService:
        from linecrm.broadcasts.service import BroadcastService
        from linecrm.repositories.previews import PreviewStore

        return BroadcastService(
            self.broadcasts,
            self.ledger,
            self.friends,
            self.channel_config.load,
            self.channel_config,
            lambda: self.job_queue,
            self.schedule_planner,
            self.clock,
            previews=PreviewStore(self.dynamodb, self.settings.table_name),
        )

    @cached_property
    def ledger_admin(self) -> LedgerAdmin:
        from linecrm.delivery.ledger_admin import LedgerAdmin

        return LedgerAdmin(self.ledger, lambda: self.outbox, self.clock)

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

        from linecrm.domain.automation import ActionRunner
        from linecrm.domain.webhook_events import WebhookEventProcessor
        from linecrm.webhook.idempotency import make_apply_once
        from linecrm.webhook.service import WebhookReceiver

        settings = self.settings
        store = DynamoDBPersistenceLayer(
            table_name=settings.require(settings.idempotency_table_name, "idempotency_table"),
            boto3_client=self.dynamodb,
        )
        processor = WebhookEventProcessor(
            self.friends,
            self.cached_channel_config,
            self.outbox,
            ActionRunner(self.friends, self.outbox, self.enrollments),
        )
        return WebhookReceiver(
            self.channels, make_apply_once(processor, store, self.idempotency_config)
        )

    # ------------------------------------------------------------ friend imports
    @cached_property
    def uploads(self) -> UploadStore:
        from linecrm.imports.storage import UploadStore

        settings = self.settings
        return UploadStore(
            self.s3, settings.require(settings.uploads_bucket_name, "uploads_bucket_name")
        )

    @cached_property
    def job_queue(self) -> JobStepQueue:
        from linecrm.imports.storage import JobStepQueue

        settings = self.settings
        return JobStepQueue(self.sqs, settings.require(settings.job_queue_url, "job_queue_url"))

    @cached_property
    def import_service(self) -> ImportService:
        from linecrm.imports.service import ImportService
        from linecrm.repositories.imports import ImportJobRepository

        return ImportService(
            ImportJobRepository(self.dynamodb, self.settings.table_name),
            self.channel_config,
            uploads=lambda: self.uploads,
            queue=lambda: self.job_queue,
            clock=self.clock,
        )

    @cached_property
    def import_runner(self) -> ImportRunner:
        from linecrm.imports.runner import ImportRunner
        from linecrm.repositories.imports import ImportJobRepository
        from linecrm.resources import JOBS_FUNCTION

        return ImportRunner(
            ImportJobRepository(self.dynamodb, self.settings.table_name),
            self.friends,
            self.channel_config,
            followers=self.line_client,
            read_upload=lambda key: self.uploads.read(key),
            clock=self.clock,
            page_size=self.settings.import_page_size,
            # A step ends with its function (timeout); its lease a minute after that.
            lease=timedelta(seconds=JOBS_FUNCTION.timeout_seconds + 60),
        )
