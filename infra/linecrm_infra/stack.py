"""``LinecrmStack``: the constructs of each concern, wired with least privilege."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, get_args

import aws_cdk as cdk
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_lambda_event_sources as event_sources
from cdk_nag import AwsSolutionsChecks
from constructs import Construct

from linecrm import resources
from linecrm.line.login import Verification
from linecrm.resources import Env
from linecrm_infra import constants
from linecrm_infra.constructs.api import HttpApi
from linecrm_infra.constructs.console import AdminConsole, ConsoleAuth
from linecrm_infra.constructs.data import DataTables
from linecrm_infra.constructs.delivery import DeliveryQueues
from linecrm_infra.constructs.functions import Functions
from linecrm_infra.constructs.monitoring import Monitoring
from linecrm_infra.constructs.scheduling import Scheduling
from linecrm_infra.constructs.secrets import (
    ChannelSecrets,
    EventSourceSecrets,
    LoginKeySecret,
    VisitorKeySecret,
    parse_channel_ids,
)
from linecrm_infra.constructs.staff import StaffAccess
from linecrm_infra.constructs.uploads import UploadBuckets


@dataclass(frozen=True)
class StackSettings:
    """Deploy-time choices, from CDK context (``cdk deploy -c key=value``)."""

    channel_ids: tuple[str, ...]
    alarm_email: str | None
    line_api_base_url: str
    line_data_api_base_url: str
    line_login_base_url: str
    id_token_verification: str = constants.DEFAULT_ID_TOKEN_VERIFICATION
    # Other URLs the console is served at (a custom domain); CloudFront's is always one.
    console_urls: tuple[str, ...] = ()
    staff_domain_prefix: str | None = None

    @classmethod
    def from_context(cls, scope: Construct) -> StackSettings:
        def context(key: str, default: str) -> str:
            value = scope.node.try_get_context(key)
            return str(value) if value else default

        return cls(
            channel_ids=parse_channel_ids(
                context(constants.CONTEXT_CHANNEL_IDS, constants.DEFAULT_CHANNEL_IDS)
            ),
            alarm_email=context(constants.CONTEXT_ALARM_EMAIL, "") or None,
            line_api_base_url=context(
                constants.CONTEXT_LINE_API_BASE_URL, constants.DEFAULT_LINE_API_BASE_URL
            ),
            line_data_api_base_url=context(
                constants.CONTEXT_LINE_DATA_API_BASE_URL, constants.DEFAULT_LINE_DATA_API_BASE_URL
            ),
            line_login_base_url=context(
                constants.CONTEXT_LINE_LOGIN_BASE_URL, constants.DEFAULT_LINE_LOGIN_BASE_URL
            ),
            id_token_verification=_id_token_verification(
                context(
                    constants.CONTEXT_ID_TOKEN_VERIFICATION,
                    constants.DEFAULT_ID_TOKEN_VERIFICATION,
                )
            ),
            console_urls=tuple(
                url.strip()
                for url in context(constants.CONTEXT_CONSOLE_URLS, "").split(",")
                if url.strip()
            ),
            staff_domain_prefix=context(constants.CONTEXT_STAFF_DOMAIN_PREFIX, "") or None,
        )


def _id_token_verification(value: str) -> str:
    if value not in get_args(Verification):
        raise ValueError(
            f"-c {constants.CONTEXT_ID_TOKEN_VERIFICATION}={value!r}: "
            f"use one of {', '.join(get_args(Verification))}"
        )
    return value


class LinecrmStack(cdk.Stack):
    def __init__(
        self, scope: Construct, construct_id: str, *, settings: StackSettings, **kwargs: Any
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.data = DataTables(self, "Data")
        self.delivery = DeliveryQueues(self, "Delivery")
        self.uploads = UploadBuckets(self, "Uploads")
        self.scheduling = Scheduling(self, "Scheduling")
        self.channel_secrets = ChannelSecrets(self, "ChannelSecrets", settings.channel_ids)
        self.event_source_secrets = EventSourceSecrets(
            self, "EventSourceSecrets", settings.channel_ids
        )
        self.login_keys = LoginKeySecret(self, "LoginKeys")
        self.visitor_key = VisitorKeySecret(self, "VisitorKey")
        self.functions = Functions(self, "Functions", common_environment={})
        # Staff sign-in for the console (Cognito, its JWT authorizer); docs/staff.md.
        self.staff = StaffAccess(
            self,
            "Staff",
            console_urls=settings.console_urls,
            domain_prefix=settings.staff_domain_prefix,
        )
        # Settings with a deploy-time value; a function gets those its access lists.
        self._deploy_settings = {
            Env.LINE_API_BASE_URL: settings.line_api_base_url,
            Env.LINE_DATA_API_BASE_URL: settings.line_data_api_base_url,
            Env.LINE_LOGIN_BASE_URL: settings.line_login_base_url,
            Env.ID_TOKEN_VERIFICATION: settings.id_token_verification,
        }
        # Local-only settings (the liff-mock ID tokens) are never deployed.
        if set(self._deploy_settings) & set(resources.LOCAL_ONLY_SETTINGS):
            raise ValueError("local-only settings are never deployed")
        for access in resources.FUNCTION_ACCESS:
            self._grant(access)
        self._connect_queue_consumers()
        schedule_target = self.functions.function(resources.SCHEDULE_TARGET)
        self.scheduling.allow_schedules_to_invoke(schedule_target)
        self.scheduling.allow_schedules_to_dead_letter(
            self.delivery.pair(resources.SCHEDULE_DEAD_LETTER_QUEUE).queue
        )
        for recurring in resources.RECURRING_SCHEDULES:  # the sweeper, the insight fetch
            self.scheduling.add_recurring(
                recurring,
                schedule_target,
                self.delivery.pair(resources.SCHEDULE_DEAD_LETTER_QUEUE).queue,
            )
        self._configure_async_invocations()
        self.api = HttpApi(
            self, "Http", functions=self.functions.functions, jwt_authorizer=self.staff.authorizer
        )
        # The admin console (web/console) from S3 behind CloudFront. Its calls go to the
        # staff routes (JWT) through the same distribution (/staff/*), so the browser makes
        # same-origin requests: no CORS, no preflight at the JWT authorizer.
        self.console = AdminConsole(
            self,
            "Console",
            api_url=f"{self.api.url}staff",
            staff_api_domain=f"{self.api.api.api_id}.execute-api.{self.region}.{self.url_suffix}",
            channel_ids=settings.channel_ids,
            auth=ConsoleAuth(
                region=self.region,
                user_pool_id=self.staff.user_pool.user_pool_id,
                client_id=self.staff.console_client.user_pool_client_id,
                domain=self.staff.domain.base_url(),
            ),
        )
        # The managed login sends staff back to the console on CloudFront.
        self.staff.serve_console_at(self.console.url)
        self.monitoring = Monitoring(self, "Monitoring", alarm_email=settings.alarm_email)
        self._add_alarms()
        self._add_outputs()
        for key, value in resources.DEFAULTS.tags.items():
            cdk.Tags.of(self).add(key, value)

    def _grant(self, access: resources.FunctionAccess) -> None:
        """The grants and environment of one ``resources.FUNCTION_ACCESS`` entry."""
        function = self.functions.function(access.function)

        def environment(name: str, value: str) -> None:
            if name not in access.environment_names:
                raise ValueError(f"{access.function.name} has no setting {name}")
            if name in resources.LOCAL_ONLY_SETTINGS:
                raise ValueError(f"{name} is local only: it is never deployed")
            function.add_environment(name, value)

        for table_definition, level in access.tables:
            table = self.data.table(table_definition)
            if level == "read":
                table.grant_read_data(function)
            elif level == "read_update":
                table.grant_read_data(function)
                table.grant(function, "dynamodb:PutItem", "dynamodb:UpdateItem")
            else:
                table.grant_read_write_data(function)
            environment(resources.TABLE_ENV[table_definition.logical_id], table.table_name)
            if table_definition.global_indexes:
                self.functions.acknowledge_policy_finding(
                    access.function,
                    f"AwsSolutions-IAM5[Resource::<{self._table_logical_id(table)}.Arn>/index/*]",
                    f"{access.function.name} queries the table's GSIs; the grant covers this "
                    "table's indexes only",
                )
        for queue_definition in access.sends_to:
            queue = self.delivery.pair(queue_definition).queue
            queue.grant_send_messages(function)
            environment(resources.QUEUE_ENV[queue_definition.logical_id], queue.queue_url)
        # Its consumer delays a retry with ChangeMessageVisibility (granted by the event
        # source), which needs the queue's URL.
        for queue_definition in access.consumes:
            queue = self.delivery.pair(queue_definition).queue
            environment(resources.QUEUE_ENV[queue_definition.logical_id], queue.queue_url)
        for bucket_definition, level in access.buckets:
            finding = self.uploads.grant_uploads(
                bucket_definition, function, write=level == "read_write"
            )
            self.functions.acknowledge_policy_finding(
                access.function,
                finding,
                f"{access.function.name}: upload objects are named per job at run time; the "
                "grant covers the uploads prefix of this one bucket",
            )
        if access.reads_channel_secrets:
            for secret in self.channel_secrets.secrets.values():
                secret.grant_read(function)
            environment(Env.CHANNEL_SECRET_PREFIX, resources.CHANNEL_SECRET_PREFIX)
        if access.reads_event_sources:
            for secret in self.event_source_secrets.secrets.values():
                secret.grant_read(function)
            environment(Env.EVENT_SOURCES_SECRET_PREFIX, resources.EVENT_SOURCES_SECRET_PREFIX)
        if access.login_keys is not None:
            self.login_keys.grant(function, access.login_keys)
            environment(Env.LOGIN_KEYS_SECRET_NAME, resources.LOGIN_KEYS_SECRET_NAME)
        if access.visitor_key:
            self.visitor_key.grant(function)
            environment(Env.VISITOR_KEY_SECRET_NAME, resources.VISITOR_KEY_SECRET_NAME)
        if access.manages_schedules:
            self.scheduling.grant_schedule_management(function)
            self.functions.acknowledge_policy_finding(
                access.function,
                f"AwsSolutions-IAM5[Resource::{self.scheduling.schedule_arn_pattern_for_nag}]",
                f"{access.function.name}: schedule names are made per enrollment at run "
                "time; the grant is limited to linecrm's own schedule group",
            )
            environment(Env.SCHEDULE_GROUP_NAME, resources.SCHEDULE_GROUP_NAME)
            environment(Env.SCHEDULER_ROLE_ARN, self.scheduling.target_role.role_arn)
            # Built from the target's fixed name, so the scheduler function (which
            # defers a delivery again by scheduling itself) can carry it too.
            environment(Env.SCHEDULER_TARGET_ARN, self.functions.schedule_target_arn)
            environment(
                Env.SCHEDULE_DEAD_LETTER_ARN,
                self.delivery.pair(resources.SCHEDULE_DEAD_LETTER_QUEUE).queue.queue_arn,
            )
        if access.staff_pool:
            self.staff.grant_staff_admin(function)
            environment(Env.STAFF_USER_POOL_ID, self.staff.user_pool.user_pool_id)
        for name in access.settings:
            if name in self._deploy_settings:
                environment(name, self._deploy_settings[name])

    def _connect_queue_consumers(self) -> None:
        for pair in self.delivery.pairs.values():
            definition = pair.definition
            consumer = self.functions.function(definition.consumer)
            consumer.add_event_source(
                event_sources.SqsEventSource(
                    pair.queue,
                    batch_size=definition.batch_size,
                    max_batching_window=cdk.Duration.seconds(
                        definition.max_batching_window_seconds
                    ),
                    max_concurrency=definition.max_concurrency,
                    report_batch_item_failures=True,
                )
            )

    def _configure_async_invocations(self) -> None:
        """Lambda's retries, event age and on-failure destination per resources.py."""
        for config in resources.ASYNC_INVOCATIONS:
            function = self.functions.function(config.function)
            on_failure = (
                destinations.SqsDestination(self.delivery.pair(config.on_failure).queue)
                if config.on_failure is not None
                else None
            )
            function.configure_async_invoke(
                retry_attempts=config.max_retry_attempts,
                max_event_age=cdk.Duration.seconds(config.max_event_age_seconds),
                on_failure=on_failure,
            )

    def _add_alarms(self) -> None:
        for pair in self.delivery.pairs.values():
            self.monitoring.alarm_on_dead_letters(
                f"{pair.definition.logical_id}DeadLetters", pair.dead_letter_queue
            )
        self.monitoring.alarm_on_function_errors(self.functions.functions.items())
        self.monitoring.alarm_on_throttles(
            "SenderThrottles", self.functions.function(resources.SENDER_FUNCTION)
        )
        self.monitoring.alarm_on_monthly_quota("MonthlyQuotaExhausted")
        self.monitoring.alarm_on_failed_fires("ScheduledFiresDead")

    def _table_logical_id(self, table: Construct) -> str:
        cfn = table.node.default_child
        assert isinstance(cfn, cdk.CfnElement)
        return str(self.resolve(self.get_logical_id(cfn)))

    def _add_outputs(self) -> None:
        outputs: dict[str, tuple[str, str]] = {
            "ApiUrl": (self.api.url, "HTTP API base URL"),
            "WebhookUrlTemplate": (
                f"{self.api.url}webhook/<channelId>",
                "Webhook URL for the LINE Developers console; replace <channelId>",
            ),
            "LoginJwksUrl": (
                f"{self.api.url}login/jwks.json",
                "Public keys of the auto-login URLs, for the shop (docs/auto-login.md)",
            ),
            "ConsoleUrl": (self.console.url, "The admin console (docs/console.md)"),
            "EventsUrlTemplate": (
                f"{self.api.url}events/<channelId>",
                "Events API URL for the shop's systems (docs/events.md); replace <channelId>",
            ),
            "StaffApiUrl": (
                f"{self.api.url}{resources.STAFF_PREFIX.lstrip('/')}",
                "The console's API base: the admin routes with a staff JWT (docs/staff.md)",
            ),
            "StaffUserPoolId": (self.staff.user_pool.user_pool_id, "Staff user pool"),
            "ConsoleClientId": (
                self.staff.console_client.user_pool_client_id,
                "The console's app client (authorization code with PKCE)",
            ),
            "StaffSignInDomain": (
                self.staff.domain.base_url(),
                "Cognito's hosted sign-in for the console",
            ),
        }
        for logical_id, table in self.data.tables.items():
            outputs[f"{logical_id}TableName"] = (table.table_name, f"{logical_id} table")
        for logical_id, pair in self.delivery.pairs.items():
            outputs[f"{logical_id}Url"] = (pair.queue.queue_url, f"{logical_id} URL")
            outputs[f"{logical_id}DlqUrl"] = (
                pair.dead_letter_queue.queue_url,
                f"{logical_id} dead-letter queue URL",
            )
        for channel_id in self.channel_secrets.secrets:
            # The literal name: secret.secret_name is parsed out of the ARN at deploy time
            # and cuts names that contain a hyphen.
            outputs[f"ChannelSecretName{_output_safe(channel_id)}"] = (
                f"{resources.CHANNEL_SECRET_PREFIX}{channel_id}",
                f"Secret holding LINE channel {channel_id}'s secret and access token",
            )
        for output_id, (value, description) in outputs.items():
            cdk.CfnOutput(self, output_id, value=value, description=description)


def _output_safe(channel_id: str) -> str:
    return "".join(character for character in channel_id if character.isalnum())


def build_app(context: Mapping[str, Any] | None = None, *, nag: bool = True) -> cdk.App:
    """The CDK app with ``LinecrmStack``; with ``nag``, AwsSolutions checks run on synth."""
    # The CLI passes cdk.json's context itself; tests get the same feature flags here.
    # Context from the CLI (-c) takes precedence over these values.
    cdk_json = json.loads((constants.REPO_ROOT / "cdk.json").read_text())
    app = cdk.App(context={**cdk_json.get("context", {}), **(context or {})})
    LinecrmStack(
        app,
        constants.STACK_ID,
        stack_name=constants.STACK_NAME,
        description="linecrm: CRM and marketing automation for LINE Official Accounts",
        settings=StackSettings.from_context(app),
    )
    if nag:
        cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    return app
