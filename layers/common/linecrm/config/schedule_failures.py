"""The schedule_failures function's settings (``linecrm.config`` has the parts)."""

from __future__ import annotations

from pydantic import Field

from linecrm.config import MainTableSettings
from linecrm.environment import Env


class ScheduleFailuresSettings(MainTableSettings):
    function_name = "schedule_failures"
    # The queue it consumes (its records come from the event source, not a receive).
    schedule_failure_queue_url: str = Field(alias=Env.SCHEDULE_FAILURE_QUEUE_URL, min_length=1)
