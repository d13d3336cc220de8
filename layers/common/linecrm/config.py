"""Typed settings, read once from the environment (names in ``resources.Env``)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from linecrm.resources import DEFAULTS, Env

LINE_API_BASE_URL = "https://api.line.me"
LINE_DATA_API_BASE_URL = "https://api-data.line.me"
LINE_LOGIN_BASE_URL = "https://api.line.me"


class SettingsError(RuntimeError):
    """The function's environment is missing or has a malformed setting."""


class LineEndpoints(BaseModel):
    """Where the LINE platform is: the real one, or the local emulator."""

    model_config = ConfigDict(frozen=True)

    api_base_url: str = LINE_API_BASE_URL
    data_api_base_url: str = LINE_DATA_API_BASE_URL
    login_base_url: str = LINE_LOGIN_BASE_URL


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True)

    table_name: str = Field(min_length=1)
    idempotency_table_name: str | None = None
    send_queue_url: str | None = None
    schedule_group_name: str | None = None
    scheduler_target_arn: str | None = None
    scheduler_role_arn: str | None = None
    schedule_dead_letter_arn: str | None = None
    channel_secret_prefix: str = Field(min_length=1)
    line: LineEndpoints = LineEndpoints()
    # Base of the exponential backoff between send retries (LINE client and SQS).
    send_retry_base_seconds: float = Field(default=1.0, ge=0)
    account_time_zone: str = DEFAULTS.account_time_zone
    job_queue_url: str | None = None
    uploads_bucket_name: str | None = None
    # Friend imports: followers ids per LINE call / CSV rows per chunk, and chunks per
    # step (0: as many as the step's time budget allows).
    import_page_size: int = Field(default=1000, ge=1, le=1000)
    import_chunks_per_step: int = Field(default=0, ge=0)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values: dict[str, object] = {
            "table_name": env.get(Env.TABLE_NAME, ""),
            "idempotency_table_name": env.get(Env.IDEMPOTENCY_TABLE_NAME),
            "send_queue_url": env.get(Env.SEND_QUEUE_URL),
            "schedule_group_name": env.get(Env.SCHEDULE_GROUP_NAME),
            "scheduler_target_arn": env.get(Env.SCHEDULER_TARGET_ARN),
            "scheduler_role_arn": env.get(Env.SCHEDULER_ROLE_ARN),
            "schedule_dead_letter_arn": env.get(Env.SCHEDULE_DEAD_LETTER_ARN),
            "channel_secret_prefix": env.get(Env.CHANNEL_SECRET_PREFIX, ""),
            "line": LineEndpoints(
                api_base_url=env.get(Env.LINE_API_BASE_URL, LINE_API_BASE_URL),
                data_api_base_url=env.get(Env.LINE_DATA_API_BASE_URL, LINE_DATA_API_BASE_URL),
                login_base_url=env.get(Env.LINE_LOGIN_BASE_URL, LINE_LOGIN_BASE_URL),
            ),
        }
        if Env.SEND_RETRY_BASE_SECONDS in env:
            values["send_retry_base_seconds"] = env[Env.SEND_RETRY_BASE_SECONDS]
        if Env.ACCOUNT_TIME_ZONE in env:
            values["account_time_zone"] = env[Env.ACCOUNT_TIME_ZONE]
        values["job_queue_url"] = env.get(Env.JOB_QUEUE_URL)
        values["uploads_bucket_name"] = env.get(Env.UPLOADS_BUCKET_NAME)
        if Env.IMPORT_PAGE_SIZE in env:
            values["import_page_size"] = env[Env.IMPORT_PAGE_SIZE]
        if Env.IMPORT_CHUNKS_PER_STEP in env:
            values["import_chunks_per_step"] = env[Env.IMPORT_CHUNKS_PER_STEP]
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in error.errors())
            raise SettingsError(f"invalid or missing settings: {fields}") from error

    def require(self, value: str | None, name: str) -> str:
        """The setting ``name`` that this function needs, or a clear error."""
        if not value:
            raise SettingsError(f"setting {name} is required by this function")
        return value
