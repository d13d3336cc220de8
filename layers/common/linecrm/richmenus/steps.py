"""The job queue's message for a rich menu sync (``linecrm.richmenus.jobs``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class RichMenuSyncStep(BaseModel):
    """Put version ``version`` of the channel's menu set on LINE, relink its friends
    and retire the LINE menus it replaced; the progress is on the stored set."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["richmenu_sync"] = "richmenu_sync"
    channel_id: str = Field(min_length=1, max_length=64)
    version: int = Field(ge=1)
