"""Builds the objects a function needs, lazily, from its settings model.

Each handler owns one ``Container``, built on the function's first invocation: it
validates the function's settings then (``linecrm.config``), so a missing one fails at
cold start, not halfway through a request. Nothing here runs at import time, so
importing a handler stays cheap and a test can build a container against moto and the
emulator.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from linecrm.config import (
    FunctionSettings,
    IdempotencyTableSettings,
    InflowWindowSettings,
    JobQueueSettings,
    LineSettings,
    LoginKeysSettings,
    MainTableSettings,
    ScheduleSettings,
    SendQueueSettings,
    SettingsError,
    UploadsSettings,
    VisitorKeySettings,
)
from linecrm.environment import DEFAULTS

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from mypy_boto3_dynamodb.client import DynamoDBClient
    from mypy_boto3_s3.client import S3Client
    from mypy_boto3_scheduler.client import EventBridgeSchedulerClient
    from mypy_boto3_sqs.client import SQSClient

    from linecrm.admin.erasure import FriendErasure
    from linecrm.admin.services import AdminServices
    from linecrm.admin.staff_users import StaffDirectory
    from linecrm.broadcasts.planner import BroadcastPlanner
    from linecrm.broadcasts.service import BroadcastService
    from linecrm.channels import ChannelDirectory
    from linecrm.chat.service import ChatService
    from linecrm.counting.listener import ReportCounting
    from linecrm.counting.sent import SentCounting
    from linecrm.dashboard.summary import DashboardService
    from linecrm.delivery.deferred_sends import ScheduledSends
    from linecrm.delivery.failed_fires import FailedFires
    from linecrm.delivery.holdouts import Holdouts
    from linecrm.delivery.ledger_admin import LedgerAdmin
    from linecrm.delivery.line_tasks import LineTaskRunner
    from linecrm.delivery.outbox import SendQueueOutbox
    from linecrm.delivery.schedule_planner import SchedulePlanner
    from linecrm.delivery.sender import Sender
    from linecrm.domain.automation import ActionRunner
    from linecrm.domain.broadcasts import Broadcast
    from linecrm.domain.idempotency import CreateOnce
    from linecrm.domain.shop_login import ShopLoginSettings
    from linecrm.domain.signals import Signals
    from linecrm.events.service import EventsReceiver, RequestAuthenticator
    from linecrm.experiments.report import ExperimentReports
    from linecrm.id_links.service import AccountLinks
    from linecrm.id_links.shop_api import ShopLinkApi
    from linecrm.imports.runner import ImportRunner
    from linecrm.imports.service import ImportService
    from linecrm.imports.storage import UploadStore
    from linecrm.inflow.attribution import InflowAttribution
    from linecrm.inflow.login import InflowLogin
    from linecrm.inflow.routes import RouteService
    from linecrm.insight.fetcher import InsightFetcher
    from linecrm.insight.service import InsightReports
    from linecrm.jobs import JobStepQueue
    from linecrm.line.client import LineMessagingClient, MessageQuota
    from linecrm.reports.service import ReportService
    from linecrm.repositories.audit import AuditLog
    from linecrm.repositories.broadcasts import BroadcastRepository
    from linecrm.repositories.campaign_stats import CampaignStatsRepository
    from linecrm.repositories.channel_config import CachedChannelConfig, ChannelConfigRepository
    from linecrm.repositories.channel_registry import ChannelRegistry
    from linecrm.repositories.conversations import ConversationRepository
    from linecrm.repositories.deliveries import DeliveryLedger
    from linecrm.repositories.enrollment_jobs import EnrollmentJobRepository
    from linecrm.repositories.enrollments import EnrollmentRepository
    from linecrm.repositories.erasures import ErasureRepository
    from linecrm.repositories.events import EventStore
    from linecrm.repositories.friends import FriendRepository
    from linecrm.repositories.id_links import IdLinkRepository
    from linecrm.repositories.inflow_routes import InflowRouteRepository
    from linecrm.repositories.rich_menus import RichMenuRepository
    from linecrm.repositories.scenarios import ScenarioRepository
    from linecrm.repositories.tracking_markers import TrackingMarkers
    from linecrm.repositories.web_tag_keys import WebTagKeyRepository
    from linecrm.richmenus.follower import RichMenuFollower
    from linecrm.richmenus.jobs import RichMenuSyncRunner
    from linecrm.richmenus.service import RichMenuService
    from linecrm.scenarios.engine import ScenarioEngine
    from linecrm.scenarios.enrollment_jobs import SegmentEnrollmentRunner
    from linecrm.scenarios.service import ScenarioService
    from linecrm.shop_login.keys import LoginKeyStore
    from linecrm.shop_login.service import ShopLoginApi, ShopLoginMinter
    from linecrm.tracking.clicks import ClickRecorder
    from linecrm.tracking.links import LinkTracker
    from linecrm.webhook.service import WebhookReceiver
    from linecrm.webtag.landing import ShopLanding
    from linecrm.webtag.service import WebEventsReceiver
    from linecrm.webtag.visitor_keys import VisitorIds


S = TypeVar("S", bound=FunctionSettings)
P = TypeVar("P", bound=FunctionSettings)


def utc_now() -> datetime:
    return datetime.now(UTC)


_RUNTIME_CLOCK: ContextVar[Callable[[], datetime]] = ContextVar(
    "linecrm_runtime_clock", default=utc_now
)


@contextmanager
def runtime_clock(clock: Callable[[], datetime]) -> Iterator[None]:
    """The clock of every Container built inside this block (on this thread).

    The seam for a runtime other than Lambda: the local stack runs each invocation
    inside it, so handlers tell time by the stack's clock. On Lambda nothing sets it
    and Containers use real time.
    """
    token = _RUNTIME_CLOCK.set(clock)
    try:
        yield
    finally:
        _RUNTIME_CLOCK.reset(token)


class Container(Generic[S]):
    def __init__(self, settings: S | type[S], clock: Callable[[], datetime] | None = None) -> None:
        """``settings``: the function's settings, or its model to read them from the
        environment now (``SettingsError`` names what is missing). ``clock``: what
        "now" is (aware UTC); None takes the runtime's clock."""
        self.settings: S = settings.from_env() if isinstance(settings, type) else settings
        self.clock = clock or _RUNTIME_CLOCK.get()
        # Keyed on the token too: a rotated token gets a client of its own.
        self._line_clients: dict[tuple[str, str], LineMessagingClient] = {}
        self._line_clients_lock = threading.Lock()  # the sender's threads share them

    def _part(self, kind: type[P]) -> P:
        """The settings of one part (a queue, the schedules, ...) this function has."""
        if not isinstance(self.settings, kind):
            raise SettingsError(
                f"{type(self.settings).__name__} has no {kind.__name__}: this function's "
                "access (resources.FUNCTION_ACCESS) does not include what it tried to use"
            )
        return self.settings

    @property
    def _table_name(self) -> str:
        return self._part(MainTableSettings).table_name

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

        return FriendRepository(self.dynamodb, self._table_name)

    @cached_property
    def channel_config(self) -> ChannelConfigRepository:
        from linecrm.repositories.channel_config import ChannelConfigRepository

        return ChannelConfigRepository(self.dynamodb, self._table_name)

    @cached_property
    def channel_registry(self) -> ChannelRegistry:
        """The channel ids this deployment serves (the admin API's 404 for others)."""
        from linecrm.repositories.channel_registry import ChannelRegistry

        return ChannelRegistry(self.dynamodb, self._table_name, self.clock)

    @cached_property
    def admin(self) -> AdminServices:
        from linecrm.admin.services import AdminServices

        return AdminServices.build(
            self.friends, self.channel_config, self.clock, erasure=self.friend_erasure
        )

    @cached_property
    def friend_erasure(self) -> FriendErasure:
        from linecrm.admin.erasure import FriendErasure
        from linecrm.repositories.deliveries import RecipientLedger

        return FriendErasure(
            RecipientLedger(self.dynamodb, self._table_name),
            self.erasures,
            self.clock,
            audit=self.audit_log,
        )

    @cached_property
    def conversations(self) -> ConversationRepository:
        """The 1:1 chat log and inbox (docs/chat.md)."""
        from linecrm.repositories.conversations import ConversationRepository

        return ConversationRepository(self.dynamodb, self._table_name)

    @cached_property
    def chat_service(self) -> ChatService:
        """The 1:1 chat's admin operations (docs/chat.md)."""
        from linecrm.chat.service import ChatService

        return ChatService(
            self.conversations,
            self.friends,
            self.ledger,
            self.channel_config,
            lambda: self.outbox,
            self.clock,
        )

    @cached_property
    def staff_directory(self) -> StaffDirectory:
        """The staff user pool (the staff users API); none configured: it says so."""
        from linecrm.admin.staff_users import StaffDirectory
        from linecrm.config.admin import AdminSettings

        pool_id = (
            self.settings.staff_user_pool_id if isinstance(self.settings, AdminSettings) else ""
        )
        return StaffDirectory(self._session.client("cognito-idp") if pool_id else None, pool_id)

    @cached_property
    def audit_log(self) -> AuditLog:
        """The admin API's audit log (its retention: the admin function's setting)."""
        from linecrm.config.admin import AdminSettings
        from linecrm.repositories.audit import AuditLog

        retention = (
            self.settings.audit_retention_days
            if isinstance(self.settings, AdminSettings)
            else DEFAULTS.audit_retention_days
        )
        return AuditLog(self.dynamodb, self._table_name, retention)

    @cached_property
    def erasures(self) -> ErasureRepository:
        from linecrm.repositories.erasures import ErasureRepository

        return ErasureRepository(self.dynamodb, self._table_name)

    @cached_property
    def ledger(self) -> DeliveryLedger:
        from linecrm.repositories.deliveries import DeliveryLedger

        return DeliveryLedger(self.dynamodb, self._table_name)

    @cached_property
    def cached_channel_config(self) -> CachedChannelConfig:
        """Channel config as the webhook reads it: reloaded at most every 30 s."""
        from linecrm.repositories.channel_config import CachedChannelConfig

        return CachedChannelConfig(self.channel_config, self.clock)

    @cached_property
    def link_tracker(self) -> LinkTracker:
        """Tracked links in outgoing messages (every producer of campaign content)."""
        from linecrm.repositories.tracked_links import TrackedLinkRepository
        from linecrm.tracking.links import LinkTracker

        return LinkTracker(
            TrackedLinkRepository(self.dynamodb, self._table_name),
            self.cached_channel_config.get,
            self.clock,
        )

    @cached_property
    def click_recorder(self) -> ClickRecorder:
        """Clicks on tracked links (the redirector and the LIFF click page)."""
        from linecrm.repositories.campaign_stats import CampaignStatsRepository
        from linecrm.repositories.tracked_links import TrackedLinkRepository
        from linecrm.repositories.tracking_markers import TrackingMarkers
        from linecrm.tracking.clicks import ClickRecorder

        return ClickRecorder(
            TrackedLinkRepository(self.dynamodb, self._table_name),
            TrackingMarkers(self.dynamodb, self._table_name),
            CampaignStatsRepository(self.dynamodb, self._table_name),
            self.clock,
            zone=self._channel_zone,
        )

    @cached_property
    def enrollments(self) -> EnrollmentRepository:
        from linecrm.repositories.enrollments import EnrollmentRepository

        return EnrollmentRepository(self.dynamodb, self._table_name)

    @cached_property
    def channels(self) -> ChannelDirectory:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        from linecrm.channels import ChannelDirectory

        provider = SecretsProvider(boto3_client=self._session.client("secretsmanager"))
        return ChannelDirectory(provider, self._part(LineSettings).channel_secret_prefix)

    # ------------------------------------------------------------ delivery
    @cached_property
    def outbox(self) -> SendQueueOutbox:
        from linecrm.delivery.outbox import SendQueueOutbox

        queue_url = self._part(SendQueueSettings).send_queue_url
        return SendQueueOutbox(self.ledger, self.sqs, queue_url, self.clock)

    def line_client(self, channel_id: str) -> LineMessagingClient:
        """One LINE client per channel and token (connection reuse). A 401 makes the
        client read the secret again, past the cache, and retry with a rotated token."""
        token = self.channels.credentials(channel_id).channel_access_token
        with self._line_clients_lock:
            return self._line_client_for(channel_id, token)

    def _line_client_for(self, channel_id: str, token: str) -> LineMessagingClient:
        client = self._line_clients.get((channel_id, token))
        if client is None:
            from linecrm.line.client import LineMessagingClient, RetryPolicy

            line = self._part(LineSettings)
            client = LineMessagingClient(
                token,
                line.line,
                retry_policy=RetryPolicy(base_seconds=line.send_retry_base_seconds),
                reload_token=lambda: (
                    self.channels.credentials(channel_id, fresh=True).channel_access_token
                ),
            )
            for key in list(self._line_clients):
                if key[0] == channel_id:
                    self._line_clients.pop(key, None)  # the channel's old token is gone
            self._line_clients[(channel_id, token)] = client
        return client

    @cached_property
    def sender(self) -> Sender:
        from linecrm.config.sender import SenderSettings
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
            time_zone=self._part(SenderSettings).account_time_zone,
            counting=self.sent_counting,
            conversations=self.conversations,
            chat_settings=lambda channel_id: (
                self.cached_channel_config.get(channel_id).chat_settings
            ),
        )

    @cached_property
    def campaign_stats(self) -> CampaignStatsRepository:
        from linecrm.repositories.campaign_stats import CampaignStatsRepository

        return CampaignStatsRepository(self.dynamodb, self._table_name)

    @cached_property
    def tracking_markers(self) -> TrackingMarkers:
        from linecrm.repositories.tracking_markers import TrackingMarkers

        return TrackingMarkers(self.dynamodb, self._table_name)

    def _channel_zone(self, channel_id: str) -> ZoneInfo:
        """What a day is for the channel's reports: its delivery policy's time zone
        (default Asia/Tokyo), as the reports read it."""
        return self.cached_channel_config.get(channel_id).delivery_policy.zone

    @cached_property
    def sent_counting(self) -> SentCounting:
        """``sent``, last-sent markers and the campaign index, with each sent delivery."""
        from linecrm.counting.sent import SentCounting

        return SentCounting(
            self.dynamodb, self.campaign_stats, self.tracking_markers, self._channel_zone
        )

    @cached_property
    def report_counting(self) -> ReportCounting:
        """Follows, unfollows, blocks and attributed purchases (a signal listener)."""
        from linecrm.counting.listener import ReportCounting
        from linecrm.domain.attribution import stored_attribution
        from linecrm.repositories.stats_writes import StatsWriter

        return ReportCounting(
            StatsWriter(self.dynamodb, self._table_name, self.campaign_stats),
            self.tracking_markers,
            lambda channel_id: stored_attribution(
                self.cached_channel_config.get(channel_id).settings
            ),
            self._channel_zone,
        )

    @cached_property
    def line_tasks(self) -> LineTaskRunner:
        from linecrm.delivery.line_tasks import LineTaskRunner

        return LineTaskRunner(self.friends, self.line_client, self.clock, link_tokens=self.id_links)

    def schedule_planner(self) -> SchedulePlanner:
        from linecrm.delivery.schedule_planner import SchedulePlanner

        settings = self._part(ScheduleSettings)
        return SchedulePlanner(
            self.scheduler,
            group_name=settings.schedule_group_name,
            target_arn=settings.scheduler_target_arn,
            role_arn=settings.scheduler_role_arn,
            dead_letter_arn=settings.schedule_dead_letter_arn,
        )

    # ------------------------------------------------------------ broadcasts
    @cached_property
    def broadcasts(self) -> BroadcastRepository:
        from linecrm.repositories.broadcasts import BroadcastRepository

        return BroadcastRepository(self.dynamodb, self._table_name)

    @cached_property
    def scheduled_sends(self) -> ScheduledSends:
        from linecrm.delivery.deferred_sends import ScheduledSends

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
            self.read_message_quota,
            self.clock,
            track_links=self.link_tracker.track,
            holdouts=self.holdouts,
        )

    @cached_property
    def experiment_reports(self) -> ExperimentReports:
        from linecrm.experiments.report import CampaignExperiments, ExperimentReports
        from linecrm.repositories.campaign_stats import CampaignStatsRepository

        return ExperimentReports(
            CampaignStatsRepository(self.dynamodb, self._table_name),
            CampaignExperiments(self.broadcasts, self.scenarios),
        )

    @cached_property
    def holdouts(self) -> Holdouts:
        from linecrm.delivery.holdouts import Holdouts
        from linecrm.repositories.campaign_stats import CampaignStatsRepository
        from linecrm.repositories.tracking_markers import TrackingMarkers

        return Holdouts(
            TrackingMarkers(self.dynamodb, self._table_name),
            CampaignStatsRepository(self.dynamodb, self._table_name),
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
            create_once=self.create_once,
            previews=PreviewStore(self.dynamodb, self._table_name),
        )

    @cached_property
    def create_once(self) -> CreateOnce:
        """Idempotency keys of the creating admin routes (records in the main table)."""
        import time

        from linecrm.domain.idempotency import CreateOnce
        from linecrm.repositories.idempotency_keys import IdempotencyKeyRepository
        from linecrm.resources import ADMIN_FUNCTION

        return CreateOnce(
            IdempotencyKeyRepository(self.dynamodb, self._table_name),
            self.clock,
            time.sleep,
            # Past the admin function's timeout the request that claimed a key is gone.
            lease=timedelta(seconds=ADMIN_FUNCTION.timeout_seconds + 30),
        )

    @cached_property
    def ledger_admin(self) -> LedgerAdmin:
        from linecrm.delivery.ledger_admin import LedgerAdmin

        return LedgerAdmin(self.ledger, lambda: self.outbox, self.clock)

    @cached_property
    def failed_fires(self) -> FailedFires:
        from linecrm.delivery.failed_fires import FailedFires

        return FailedFires(self.ledger, self.broadcasts, self.clock)

    # ------------------------------------------------------------ webhook
    @cached_property
    def idempotency_config(self) -> Any:
        from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

        from linecrm.environment import DEFAULTS
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

        store = DynamoDBPersistenceLayer(
            table_name=self._part(IdempotencyTableSettings).idempotency_table_name,
            boto3_client=self.dynamodb,
        )
        processor = WebhookEventProcessor(
            self.friends,
            self.cached_channel_config,
            self.outbox,
            self.action_runner,
            signals=self.signals,
            links=lambda: self.account_links,
            conversations=self.conversations,
        )
        return WebhookReceiver(
            self.channels,
            make_apply_once(processor, store, self.idempotency_config),
            on_verified=self.channel_registry.register,
        )

    # ------------------------------------------------------------ step scenarios
    @cached_property
    def signals(self) -> Signals:
        """Who reacts to what happens to a friend (``linecrm.domain.signals``): the
        scenario engine, the rich menu rules, inflow route attribution and the report
        counters. An emitter
        (webhook, events API, admin) calls ``emit``."""
        from linecrm.domain.signals import Signals

        return Signals(
            listeners=(
                self.scenario_engine,
                self.rich_menu_follower,
                self.inflow_attribution,
                self.report_counting,
            )
        )

    @cached_property
    def rich_menus(self) -> RichMenuRepository:
        from linecrm.repositories.rich_menus import RichMenuRepository

        return RichMenuRepository(self.dynamodb, self._table_name)

    @cached_property
    def rich_menu_service(self) -> RichMenuService:
        """Applies menu sets (the admin API): validates, stores, queues the sync job."""
        from linecrm.repositories.tracked_links import TrackedLinkRepository
        from linecrm.richmenus.service import RichMenuService
        from linecrm.tracking.links import LinkTracker

        return RichMenuService(
            self.rich_menus,
            self.channel_config.load,
            lambda: self.uploads,
            lambda: self.job_queue,
            self.clock,
            # The channel's LIFF setup as stored now (not the webhook's cached config).
            links=LinkTracker(
                TrackedLinkRepository(self.dynamodb, self._table_name),
                self.channel_config.load,
                self.clock,
            ),
            campaigns=self.campaign_stats,
            read_image=lambda key: self.uploads.read_if_kept(key),
        )

    @cached_property
    def rich_menu_sync_runner(self) -> RichMenuSyncRunner:
        """Steps of the rich menu sync job (the jobs function): LINE menus, bulk relinks."""
        from linecrm.delivery.pacing import Pacer
        from linecrm.resources import JOB_QUEUE
        from linecrm.richmenus.jobs import RichMenuSyncRunner
        from linecrm.richmenus.sync import Relinker

        return RichMenuSyncRunner(
            self.rich_menus,
            self.channel_config.load,
            self.channel_config,
            lambda key: self.uploads.read(key),
            self.line_client,
            # One pacer per environment: its share of the channel's bulk call rate.
            Relinker(
                self.friends,
                self.line_client,
                Pacer(JOB_QUEUE.max_concurrency),
                self.clock,
                lambda: self.outbox,
            ),
            lambda: self.job_queue,
            self.clock,
        )

    @cached_property
    def rich_menu_follower(self) -> RichMenuFollower:
        """Switches a friend's rich menu when the assignment rules say so (one LINE
        call per change, through the send queue)."""
        from linecrm.richmenus.follower import RichMenuFollower

        return RichMenuFollower(
            self.cached_channel_config.get, self.friends, lambda: self.outbox, self.clock
        )

    @cached_property
    def action_runner(self) -> ActionRunner:
        """CRM actions; ``start_scenario``/``stop_scenario`` go to the scenario engine,
        and the tags and fields they change are signalled."""
        from linecrm.domain.automation import ActionRunner

        return ActionRunner(
            self.friends,
            self.outbox,
            self.scenario_engine,
            signals=lambda: self.signals,
            links=lambda: self.account_links,
            track_links=lambda request: self.link_tracker.track(request),
        )

    @cached_property
    def scenarios(self) -> ScenarioRepository:
        from linecrm.repositories.scenarios import ScenarioRepository

        return ScenarioRepository(self.dynamodb, self._table_name)

    @cached_property
    def scenario_engine(self) -> ScenarioEngine:
        from linecrm.repositories.clicked_friends import ClickedFriends
        from linecrm.repositories.scenario_fires import ScenarioFireRepository
        from linecrm.scenarios.engine import ScenarioEngine

        return ScenarioEngine(
            self.scenarios,
            self.enrollments,
            ScenarioFireRepository(self.dynamodb, self._table_name),
            self.friends,
            self.ledger,
            self.cached_channel_config.get,
            lambda: self.outbox,
            self.schedule_planner,
            lambda: self.action_runner,
            self.clock,
            lambda: self.job_queue,
            track_links=lambda request: self.link_tracker.track(request),
            clicks=ClickedFriends(self.dynamodb, self._table_name),
            holdouts=self.holdouts,
        )

    @cached_property
    def scenario_service(self) -> ScenarioService:
        from linecrm.scenarios.service import ScenarioService

        return ScenarioService(
            self.scenarios,
            self.channel_config.load,
            self.friends,
            self.clock,
            enrollment_jobs=self.enrollment_jobs,
            job_queue=lambda: self.job_queue,
            create_once=self.create_once,
        )

    @cached_property
    def enrollment_jobs(self) -> EnrollmentJobRepository:
        from linecrm.repositories.enrollment_jobs import EnrollmentJobRepository

        return EnrollmentJobRepository(self.dynamodb, self._table_name)

    @cached_property
    def segment_enrollment_runner(self) -> SegmentEnrollmentRunner:
        """Steps of segment enrolment jobs (the jobs function): they enrol (enrolments,
        scenario counters, bucket fire registry) and create bucket schedules."""
        from linecrm.resources import JOBS_FUNCTION
        from linecrm.scenarios.enrollment_jobs import SegmentEnrollmentRunner

        return SegmentEnrollmentRunner(
            self.enrollment_jobs,
            self.friends,
            self.enrollments,
            self.scenarios,
            lambda: self.scenario_engine,
            self.channel_config.load,
            lambda: self.job_queue,
            self.clock,
            # A step ends with its function (timeout); its lease a minute after that.
            lease=timedelta(seconds=JOBS_FUNCTION.timeout_seconds + 60),
        )

    # ------------------------------------------------------------ friend imports
    @cached_property
    def uploads(self) -> UploadStore:
        from linecrm.imports.storage import UploadStore

        return UploadStore(self.s3, self._part(UploadsSettings).uploads_bucket_name)

    @cached_property
    def insight_fetcher(self) -> InsightFetcher:
        """LINE's opens and clicks per campaign, fetched hourly (docs/insight.md)."""
        from linecrm.insight.fetcher import InsightFetcher
        from linecrm.repositories.message_insight import MessageInsightRepository

        return InsightFetcher(
            self.campaign_stats,
            MessageInsightRepository(self.dynamodb, self._table_name),
            self.ledger,
            self.line_client,
            self.clock,
        )

    @cached_property
    def insight_reports(self) -> InsightReports:
        """LINE's figures per campaign, as the admin API shows them."""
        from linecrm.insight.service import InsightReports
        from linecrm.repositories.message_insight import MessageInsightRepository

        return InsightReports(
            self.campaign_stats,
            MessageInsightRepository(self.dynamodb, self._table_name),
        )

    def read_message_quota(self, channel_id: str) -> MessageQuota:
        """The channel's monthly quota and usage from LINE, kept as its snapshot (the
        admin's dashboard shows it: the admin function never calls LINE)."""
        from linecrm.delivery import quota_snapshot

        quota = self.line_client(channel_id).message_quota()
        return quota_snapshot.remember(self.channel_config, channel_id, quota, self.clock())

    @cached_property
    def dashboard_service(self) -> DashboardService:
        """The console's dashboard summary (the admin API)."""
        from linecrm.dashboard.summary import DashboardService

        return DashboardService(
            self.report_service, self.channel_config, lambda: self.job_queue, self.clock
        )

    @cached_property
    def job_queue(self) -> JobStepQueue:
        from linecrm.jobs import JobStepQueue

        return JobStepQueue(self.sqs, self._part(JobQueueSettings).job_queue_url)

    @cached_property
    def import_service(self) -> ImportService:
        from linecrm.imports.service import ImportService
        from linecrm.repositories.imports import ImportJobRepository

        return ImportService(
            ImportJobRepository(self.dynamodb, self._table_name),
            self.channel_config,
            uploads=lambda: self.uploads,
            queue=lambda: self.job_queue,
            clock=self.clock,
            create_once=self.create_once,
        )

    @cached_property
    def import_runner(self) -> ImportRunner:
        from linecrm.config.jobs import JobsSettings
        from linecrm.imports.runner import ImportRunner
        from linecrm.repositories.imports import ImportJobRepository
        from linecrm.resources import JOBS_FUNCTION

        return ImportRunner(
            ImportJobRepository(self.dynamodb, self._table_name),
            self.friends,
            self.channel_config,
            followers=self.line_client,
            read_upload=lambda key: self.uploads.read(key),
            clock=self.clock,
            erasures=self.erasures,
            page_size=self._part(JobsSettings).import_page_size,
            # A step ends with its function (timeout); its lease a minute after that.
            lease=timedelta(seconds=JOBS_FUNCTION.timeout_seconds + 60),
        )

    # ------------------------------------------------------------ events API
    @cached_property
    def event_store(self) -> EventStore:
        from linecrm.repositories.events import EventStore

        return EventStore(self.dynamodb, self._table_name, self.friends)

    @cached_property
    def events_receiver(self) -> EventsReceiver:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        from linecrm.config.events import EventsSettings
        from linecrm.events.service import EventsReceiver
        from linecrm.events.sources import EventSourceDirectory
        from linecrm.repositories.events import SeenSignatures

        settings = self._part(EventsSettings)
        provider = SecretsProvider(boto3_client=self._session.client("secretsmanager"))
        return EventsReceiver(
            EventSourceDirectory(provider, settings.event_sources_secret_prefix),
            SeenSignatures(self.dynamodb, self._table_name),
            self.event_store,
            self.signals,
            self.clock,
            retention_days=settings.event_retention_days,
            time_zone=settings.account_time_zone,
            members=self.id_links,
        )

    @cached_property
    def _events_authenticator(self) -> RequestAuthenticator:
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        from linecrm.config.events import EventsSettings
        from linecrm.events.service import RequestAuthenticator
        from linecrm.events.sources import EventSourceDirectory
        from linecrm.repositories.events import SeenSignatures

        settings = self._part(EventsSettings)
        provider = SecretsProvider(boto3_client=self._session.client("secretsmanager"))
        return RequestAuthenticator(
            EventSourceDirectory(provider, settings.event_sources_secret_prefix),
            SeenSignatures(self.dynamodb, self._table_name),
        )

    # ------------------------------------------------------------ ID linking
    @cached_property
    def id_links(self) -> IdLinkRepository:
        from linecrm.repositories.id_links import IdLinkRepository

        return IdLinkRepository(self.dynamodb, self._table_name)

    @cached_property
    def account_links(self) -> AccountLinks:
        from linecrm.id_links.service import AccountLinks

        return AccountLinks(self.id_links, lambda: self.signals, self.clock)

    @cached_property
    def shop_link_api(self) -> ShopLinkApi:
        """The shop's nonce and unlink requests, signed with its events API keys."""
        from linecrm.id_links.shop_api import ShopLinkApi

        return ShopLinkApi(self._events_authenticator, self.account_links, self.clock)

    # ------------------------------------------------------------ auto-login
    @cached_property
    def login_keys(self) -> LoginKeyStore:
        """The keys that sign login URLs (cached per container; rotation writes)."""
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        from linecrm.shop_login.keys import LoginKeyStore

        client = self._session.client("secretsmanager")
        return LoginKeyStore(
            SecretsProvider(boto3_client=client),
            self._part(LoginKeysSettings).login_keys_secret_name,
            client=lambda: client,
        )

    def shop_login_settings(self, channel_id: str) -> ShopLoginSettings | None:
        """The channel's auto-login setting (one GetItem of its settings item)."""
        from linecrm.domain.shop_login import stored_shop_login

        return stored_shop_login(self.channel_config.load_settings(channel_id))

    @cached_property
    def shop_login_minter(self) -> ShopLoginMinter:
        """Login URLs for linked friends (the liff_login function)."""
        from linecrm.shop_login.service import ShopLoginMinter

        return ShopLoginMinter(
            self.login_keys, self.shop_login_settings, self.id_links.link_of_user, self.clock
        )

    @cached_property
    def shop_login_api(self) -> ShopLoginApi:
        """The shop's consume call, signed with its events API keys (the events function)."""
        from linecrm.repositories.login_tokens import SpentLoginTokens
        from linecrm.shop_login.service import ShopLoginApi

        return ShopLoginApi(
            self._events_authenticator,
            self.login_keys,
            self.shop_login_settings,
            self.id_links.user_of_member,
            SpentLoginTokens(self.dynamodb, self._table_name),
            self.clock,
            visitor_id=self.visitor_ids.issue
            if isinstance(self.settings, VisitorKeySettings)
            else None,
        )

    # ------------------------------------------------------------ web tag
    @cached_property
    def visitor_ids(self) -> VisitorIds:
        """Issues and verifies the web tag's visitor ids (docs/web-tag.md): the events
        function (auto-login, the web tag) and the click redirector (``shop_landing``)."""
        from aws_lambda_powertools.utilities.parameters import SecretsProvider

        from linecrm.webtag.visitor_keys import VisitorIds

        return VisitorIds(
            SecretsProvider(boto3_client=self._session.client("secretsmanager")),
            self._part(VisitorKeySettings).visitor_key_secret_name,
        )

    @cached_property
    def shop_landing(self) -> ShopLanding:
        """A friend's click into the shop's sites lands with their visitor id."""
        from linecrm.webtag.landing import ShopLanding

        return ShopLanding(self.web_tag_keys, self.visitor_ids, self.clock)

    @cached_property
    def web_tag_keys(self) -> WebTagKeyRepository:
        from linecrm.repositories.web_tag_keys import WebTagKeyRepository

        return WebTagKeyRepository(self.dynamodb, self._table_name)

    @cached_property
    def web_events_receiver(self) -> WebEventsReceiver:
        """``POST /events/web``: the web tag's events, into the events receiver."""
        from linecrm.repositories.rate_limits import FixedWindowLimiter
        from linecrm.webtag.service import WebEventsReceiver

        return WebEventsReceiver(
            self.web_tag_keys,
            FixedWindowLimiter(self.dynamodb, self._table_name),
            self.visitor_ids,
            self.events_receiver,
            self.clock,
        )

    # ------------------------------------------------------------ inflow routes
    @cached_property
    def inflow_routes(self) -> InflowRouteRepository:
        from linecrm.repositories.inflow_routes import InflowRouteRepository

        return InflowRouteRepository(self.dynamodb, self._table_name)

    @cached_property
    def inflow_attribution(self) -> InflowAttribution:
        """Attributes follows to inflow routes (a signal listener) and keeps each
        route's counters; the window where the function has the setting."""
        from linecrm.domain.inflow import DEFAULT_WINDOW
        from linecrm.inflow.attribution import InflowAttribution

        window = (
            timedelta(minutes=self.settings.inflow_window_minutes)
            if isinstance(self.settings, InflowWindowSettings)
            else DEFAULT_WINDOW
        )
        return InflowAttribution(
            self.inflow_routes,
            self.friends,
            self.cached_channel_config.get,
            lambda: self.action_runner,
            lambda: self.signals,
            self.clock,
            window=window,
        )

    @cached_property
    def route_service(self) -> RouteService:
        """Inflow routes in the admin API: create, change, report, QR codes."""
        from linecrm.inflow.routes import RouteService

        return RouteService(
            self.inflow_routes, self.channel_config.load, self.scenarios, self.clock
        )

    @cached_property
    def inflow_login(self) -> InflowLogin:
        """``GET /r/<code>`` and LINE Login's callback (the inflow function)."""
        from linecrm.config.inflow import InflowSettings
        from linecrm.inflow.login import InflowLogin, LoginEndpoints
        from linecrm.line.oauth import exchange_code

        settings = self._part(InflowSettings)
        return InflowLogin(
            self.inflow_routes,
            self.channels,
            lambda: self.inflow_attribution,
            self.friends,
            exchange_code,
            self.clock,
            LoginEndpoints(
                authorize_url=settings.login_authorize_url,
                login_base_url=settings.login_base_url,
                add_friend_url=settings.add_friend_url,
            ),
            state_ttl=timedelta(seconds=settings.inflow_state_ttl_seconds),
        )

    # ------------------------------------------------------------ reports
    @cached_property
    def report_service(self) -> ReportService:
        """Reports from the counters (the admin API): campaigns, funnels, routes, days."""
        from linecrm.reports.service import ReportService
        from linecrm.repositories.message_insight import MessageInsightRepository

        return ReportService(
            self.campaign_stats,
            self.broadcasts,
            self.scenarios,
            self.inflow_routes,
            self.channel_config.load,
            self.clock,
            insight=MessageInsightRepository(self.dynamodb, self._table_name),
            menus=self.rich_menus,
        )
