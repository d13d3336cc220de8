"""Typed settings, one model per function, read once from its environment.

Each function's model (``linecrm.config.<function>``, e.g. ``linecrm.config.webhook``)
is made of the parts here (a table, a queue, the LINE endpoints, ...) and reads exactly
the variables ``resources.FUNCTION_ACCESS`` gives that function (a unit test holds the
two together; ``linecrm.config.registry`` has every function's model). Its container
validates it when the function starts, before any request work: a missing or malformed
setting fails there, with the variable named.

A function imports its own model only: building the classes of every function's model
(and what only LIFF login's reads) was a tenth of the webhook's cold import.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextvars import ContextVar
from typing import ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from linecrm.environment import LOGIN_KEYS_SECRET_NAME, VISITOR_KEY_SECRET_NAME, Env

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

    model_config = ConfigDict(frozen=True, defer_build=True)  # not used at import

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
