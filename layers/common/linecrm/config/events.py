"""The events function's settings (``linecrm.config`` has the parts)."""

from __future__ import annotations

from pydantic import Field

from linecrm.config import (
    LoginKeysSettings,
    MainTableSettings,
    ScheduleSettings,
    SendQueueSettings,
    VisitorKeySettings,
)
from linecrm.environment import DEFAULTS, Env


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
