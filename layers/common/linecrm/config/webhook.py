"""The webhook function's settings (``linecrm.config`` has the parts)."""

from __future__ import annotations

from linecrm.config import (
    IdempotencyTableSettings,
    InflowWindowSettings,
    LineSettings,
    MainTableSettings,
    ScheduleSettings,
    SendQueueSettings,
)


class WebhookSettings(
    MainTableSettings,
    IdempotencyTableSettings,
    SendQueueSettings,
    LineSettings,
    ScheduleSettings,
    InflowWindowSettings,
):
    function_name = "webhook"
