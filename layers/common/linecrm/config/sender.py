"""The sender function's settings (``linecrm.config`` has the parts)."""

from __future__ import annotations

from pydantic import Field

from linecrm.config import LineSettings, MainTableSettings, SendQueueSettings
from linecrm.environment import DEFAULTS, Env


class SenderSettings(MainTableSettings, SendQueueSettings, LineSettings):
    function_name = "sender"
    account_time_zone: str = Field(
        alias=Env.ACCOUNT_TIME_ZONE, default=DEFAULTS.account_time_zone, min_length=1
    )
