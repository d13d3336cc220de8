"""The admin function's settings (``linecrm.config`` has the parts)."""

from __future__ import annotations

from linecrm.config import (
    JobQueueSettings,
    LoginKeysSettings,
    MainTableSettings,
    PublicUrlSettings,
    ScheduleSettings,
    SendQueueSettings,
    UploadsSettings,
)


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
