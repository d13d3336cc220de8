"""The scheduler function's settings (``linecrm.config`` has the parts)."""

from __future__ import annotations

from linecrm.config import (
    JobQueueSettings,
    MainTableSettings,
    ScheduleSettings,
    SendQueueSettings,
)


class SchedulerSettings(MainTableSettings, SendQueueSettings, JobQueueSettings, ScheduleSettings):
    function_name = "scheduler"
