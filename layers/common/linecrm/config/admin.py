"""The admin function's settings (``linecrm.config`` has the parts)."""

from __future__ import annotations

from pydantic import Field

from linecrm.config import (
    JobQueueSettings,
    LoginKeysSettings,
    MainTableSettings,
    PublicUrlSettings,
    ScheduleSettings,
    SendQueueSettings,
    UploadsSettings,
)
from linecrm.environment import DEFAULTS, Env


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
