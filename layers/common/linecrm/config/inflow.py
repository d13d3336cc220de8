"""The inflow function's settings (``linecrm.config`` has the parts)."""

from __future__ import annotations

from pydantic import Field

from linecrm.config import (
    InflowWindowSettings,
    LineSettings,
    MainTableSettings,
    PublicUrlSettings,
    ScheduleSettings,
    SendQueueSettings,
)
from linecrm.environment import Env


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
