"""Typed settings, one model per function, read once from its environment.

Each function's model is made of the parts it needs (a table, a queue, the LINE
endpoints, ...) and reads exactly the variables ``resources.FUNCTION_ACCESS`` gives that
function (a unit test holds the two together). Its container validates it when the
function starts, before any request work: a missing or malformed setting fails there,
with the variable named.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, Json, ValidationError

from linecrm.environment import DEFAULTS, LOGIN_KEYS_SECRET_NAME, VISITOR_KEY_SECRET_NAME, Env
from linecrm.line.login_settings import (
    JWKS_REFRESH_COOLDOWN_SECONDS,
    MockIdentity,
    Verification,
)

LINE_API_BASE_URL = "https://api.line.me"
LINE_DATA_API_BASE_URL = "https://api-data.line.me"
LINE_LOGIN_BASE_URL = "https://api.line.me"

FUNCTION_ENVIRONMENT: ContextVar[Mapping[str, str] | None] = ContextVar(
    "linecrm_function_environment", default=None
)
"""The environment settings are read from when set; else ``os.environ``. On Lambda each
function has a process (and ``os.environ``) of its own; the local stack runs every
function in one process and sets each one's own variables here while it runs."""


class SettingsError(RuntimeError):
    """The function's environment is missing or has a malformed setting."""


class LineEndpoints(BaseModel):
    """Where the LINE platform is: the real one, or the local emulator."""

    model_config = ConfigDict(frozen=True)

    api_base_url: str = LINE_API_BASE_URL
    data_api_base_url: str = LINE_DATA_API_BASE_URL
    login_base_url: str = LINE_LOGIN_BASE_URL


class FunctionSettings(BaseModel):
    """Base of the function models: each field's alias is its environment variable."""

    # defer_build: a function validates only its own model (at cold start); building
    # the validators of every function's model when this module is imported is work
    # the webhook's cold start would do for nothing.
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore", defer_build=True)
    function_name: ClassVar[str] = ""

    @classmethod
    def env_names(cls) -> frozenset[str]:
        return frozenset(
            field.alias for field in cls.model_fields.values() if field.alias is not None
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The settings from ``environ`` (default: this function's environment)."""
        if environ is None:
            environ = FUNCTION_ENVIRONMENT.get()
        env = os.environ if environ is None else environ
        names = cls.env_names()
        try:
            return cls.model_validate({name: env[name] for name in names if name in env})
        except ValidationError as error:
            problems = "; ".join(
                f"{'.'.join(str(part) for part in e['loc'])}: {e['msg']}" for e in error.errors()
            )
            raise SettingsError(
                f"{cls.function_name or cls.__name__}: invalid or missing settings: {problems}"
            ) from error


# ---------------------------------------------------------------- parts
class MainTableSettings(FunctionSettings):
    table_name: str = Field(alias=Env.TABLE_NAME, min_length=1)


class IdempotencyTableSettings(FunctionSettings):
    idempotency_table_name: str = Field(alias=Env.IDEMPOTENCY_TABLE_NAME, min_length=1)


class SendQueueSettings(FunctionSettings):
    send_queue_url: str = Field(alias=Env.SEND_QUEUE_URL, min_length=1)


class JobQueueSettings(FunctionSettings):
    job_queue_url: str = Field(alias=Env.JOB_QUEUE_URL, min_length=1)


class UploadsSettings(FunctionSettings):
    uploads_bucket_name: str = Field(alias=Env.UPLOADS_BUCKET_NAME, min_length=1)


class ScheduleSettings(FunctionSettings):
    """Planning one-time schedules that invoke the scheduler function."""

    schedule_group_name: str = Field(alias=Env.SCHEDULE_GROUP_NAME, min_length=1)
    scheduler_target_arn: str = Field(alias=Env.SCHEDULER_TARGET_ARN, min_length=1)
    scheduler_role_arn: str = Field(alias=Env.SCHEDULER_ROLE_ARN, min_length=1)
    # Where Scheduler dead-letters a fire it could not hand to Lambda.
    schedule_dead_letter_arn: str = Field(alias=Env.SCHEDULE_DEAD_LETTER_ARN, min_length=1)


class LoginKeysSettings(FunctionSettings):
    """The secret with the keys that sign auto-login URLs (docs/auto-login.md)."""

    login_keys_secret_name: str = Field(
        alias=Env.LOGIN_KEYS_SECRET_NAME, default=LOGIN_KEYS_SECRET_NAME, min_length=1
    )


class VisitorKeySettings(FunctionSettings):
    """The secret with the key that signs the web tag's visitor ids (docs/web-tag.md)."""

    visitor_key_secret_name: str = Field(
        alias=Env.VISITOR_KEY_SECRET_NAME, default=VISITOR_KEY_SECRET_NAME, min_length=1
    )


class LineSettings(FunctionSettings):
    """Calling LINE for a channel: its credentials' secret name, the endpoints."""

    channel_secret_prefix: str = Field(alias=Env.CHANNEL_SECRET_PREFIX, min_length=1)
    api_base_url: str = Field(alias=Env.LINE_API_BASE_URL, default=LINE_API_BASE_URL)
    data_api_base_url: str = Field(alias=Env.LINE_DATA_API_BASE_URL, default=LINE_DATA_API_BASE_URL)
    login_base_url: str = Field(alias=Env.LINE_LOGIN_BASE_URL, default=LINE_LOGIN_BASE_URL)
    # Base of the exponential backoff between send retries (LINE client and SQS).
    send_retry_base_seconds: float = Field(alias=Env.SEND_RETRY_BASE_SECONDS, default=1.0, ge=0)

    @property
    def line(self) -> LineEndpoints:
        return LineEndpoints(
            api_base_url=self.api_base_url,
            data_api_base_url=self.data_api_base_url,
            login_base_url=self.login_base_url,
        )


class InflowWindowSettings(FunctionSettings):
    """How far apart an inflow route's login and the follow may be (either order)."""

    inflow_window_minutes: int = Field(
        alias=Env.INFLOW_WINDOW_MINUTES, default=30, ge=1, le=24 * 60
    )


class PublicUrlSettings(FunctionSettings):
    """The API's public base URL (``https://crm.example.com``); empty: the scheme and
    host the request came to (API Gateway's own domain)."""

    public_base_url: str = Field(
        alias=Env.PUBLIC_BASE_URL, default="", pattern=r"^(|https?://[^/?#\s]+(/[^?#\s]*)?)$"
    )


# ---------------------------------------------------------------- one per function
class WebhookSettings(
    MainTableSettings,
    IdempotencyTableSettings,
    SendQueueSettings,
    LineSettings,
    ScheduleSettings,
    InflowWindowSettings,
):
    function_name = "webhook"


class SchedulerSettings(MainTableSettings, SendQueueSettings, JobQueueSettings, ScheduleSettings):
    function_name = "scheduler"


class SenderSettings(MainTableSettings, SendQueueSettings, LineSettings):
    function_name = "sender"
    account_time_zone: str = Field(
        alias=Env.ACCOUNT_TIME_ZONE, default=DEFAULTS.account_time_zone, min_length=1
    )


class LiffLoginSettings(MainTableSettings, LineSettings, LoginKeysSettings, VisitorKeySettings):
    function_name = "liff_login"
    # ``jwks``: ES256 against LINE's keys (fetched from the login base URL, cached), or
    # HS256 with the LINE Login channel's secret; ``verify_endpoint``: ask LINE per token.
    id_token_verification: Verification = Field(alias=Env.ID_TOKEN_VERIFICATION, default="jwks")
    # An unknown kid (LINE rotated its keys, or a forged token) fetches LINE's keys
    # again at most this often.
    jwks_refresh_cooldown_seconds: float = Field(
        alias=Env.JWKS_REFRESH_COOLDOWN_SECONDS,
        default=JWKS_REFRESH_COOLDOWN_SECONDS,
        ge=0,
        le=3600,
    )
    # Local only (never deployed): JSON {"<liff-mock token>": {"userId": "U…",
    # "displayName": "…"}}; those fixed tokens stand for those users.
    liff_mock_id_tokens: Json[dict[str, MockIdentity]] | None = Field(
        alias=Env.LIFF_MOCK_ID_TOKENS, default=None
    )
    # Local stack only: the LIFF pages use @line/liff-mock (docs/liff.md).
    liff_mock_sdk: bool = Field(alias=Env.LIFF_MOCK_SDK, default=False)


class JobsSettings(
    MainTableSettings,
    SendQueueSettings,
    JobQueueSettings,
    UploadsSettings,
    ScheduleSettings,
    LineSettings,
):
    function_name = "jobs"
    # Friend imports: followers ids per LINE call / CSV rows per chunk, and chunks per
    # step (0: as many as the step's time budget allows).
    import_page_size: int = Field(alias=Env.IMPORT_PAGE_SIZE, default=1000, ge=1, le=1000)
    import_chunks_per_step: int = Field(alias=Env.IMPORT_CHUNKS_PER_STEP, default=0, ge=0)


class AdminSettings(
    MainTableSettings,
    SendQueueSettings,
    JobQueueSettings,
    UploadsSettings,
    ScheduleSettings,
    LoginKeysSettings,
    PublicUrlSettings,
):
    function_name = "admin"
    # How long an audit log entry of an admin change is kept (docs/staff.md).
    audit_retention_days: int = Field(
        alias=Env.AUDIT_RETENTION_DAYS, default=DEFAULTS.audit_retention_days, ge=1, le=3660
    )
    # The staff user pool (Cognito) of the staff users API; empty: none (it answers 503).
    staff_user_pool_id: str = Field(alias=Env.STAFF_USER_POOL_ID, default="")


class EventsSettings(
    MainTableSettings, SendQueueSettings, ScheduleSettings, LoginKeysSettings, VisitorKeySettings
):
    function_name = "events"
    event_sources_secret_prefix: str = Field(alias=Env.EVENT_SOURCES_SECRET_PREFIX, min_length=1)
    # How long an event stays on the friend's timeline (and its idempotency key).
    event_retention_days: int = Field(
        alias=Env.EVENT_RETENTION_DAYS, default=DEFAULTS.event_retention_days, ge=1, le=3660
    )
    # Day buckets of the event aggregates are days in this zone (as segments count).
    account_time_zone: str = Field(
        alias=Env.ACCOUNT_TIME_ZONE, default=DEFAULTS.account_time_zone, min_length=1
    )


class ScheduleFailuresSettings(MainTableSettings):
    function_name = "schedule_failures"
    # The queue it consumes (its records come from the event source, not a receive).
    schedule_failure_queue_url: str = Field(alias=Env.SCHEDULE_FAILURE_QUEUE_URL, min_length=1)


class InflowSettings(
    MainTableSettings,
    SendQueueSettings,
    ScheduleSettings,
    LineSettings,
    InflowWindowSettings,
    PublicUrlSettings,
):
    function_name = "inflow"
    # LINE Login's authorize page and the add-friend URL (the emulator's, locally).
    login_authorize_url: str = Field(
        alias=Env.LINE_LOGIN_AUTHORIZE_URL,
        default="https://access.line.me/oauth2/v2.1/authorize",
        min_length=1,
    )
    add_friend_url: str = Field(
        alias=Env.LINE_ADD_FRIEND_URL, default="https://line.me/R/ti/p/", min_length=1
    )
    # How long a login through a route may take (its signed state and cookie).
    inflow_state_ttl_seconds: int = Field(
        alias=Env.INFLOW_STATE_TTL_SECONDS, default=600, ge=60, le=3600
    )


FUNCTION_SETTINGS: dict[str, type[FunctionSettings]] = {
    model.function_name: model
    for model in (
        WebhookSettings,
        SchedulerSettings,
        SenderSettings,
        LiffLoginSettings,
        JobsSettings,
        AdminSettings,
        ScheduleFailuresSettings,
        EventsSettings,
        InflowSettings,
    )
}
"""Each function's settings model, by function name (``resources.FunctionDefinition``)."""
