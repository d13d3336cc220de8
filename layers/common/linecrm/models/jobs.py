"""What a schedule carries to the scheduler function when it fires."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from linecrm.models.send import SendRequest


class ScheduledSend(BaseModel):
    """A delayed message: put this delivery on the send queue when the schedule fires."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["send"] = "send"
    job_id: str = Field(min_length=1, max_length=200)
    request: SendRequest


ScheduledJob = ScheduledSend
