"""The jobs function's settings (``linecrm.config`` has the parts)."""

from __future__ import annotations

from pydantic import Field

from linecrm.config import (
    JobQueueSettings,
    LineSettings,
    MainTableSettings,
    ScheduleSettings,
    SendQueueSettings,
    UploadsSettings,
)
from linecrm.environment import Env


class JobsSettings(
    MainTableSettings,
    SendQueueSettings,
    JobQueueSettings,
    UploadsSettings,
    ScheduleSettings,
    LineSettings,
):
    function_name = "jobs"
    # Friend imports: followers ids per LINE call / CSV rows per chunk, and chunks per
    # step (0: as many as the step's time budget allows).
    import_page_size: int = Field(alias=Env.IMPORT_PAGE_SIZE, default=1000, ge=1, le=1000)
    import_chunks_per_step: int = Field(alias=Env.IMPORT_CHUNKS_PER_STEP, default=0, ge=0)
