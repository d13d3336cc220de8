"""What a schedule carries to the scheduler function when it fires."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from linecrm.models.send import SendRequest


class ScheduledSend(BaseModel):
    """A delayed message: put this delivery on the send queue when the schedule fires.

    A marketing message is decided again then (quiet hours, frequency caps).
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["send"] = "send"
    job_id: str = Field(min_length=1, max_length=200)
    request: SendRequest


class StartBroadcast(BaseModel):
    """A broadcast's time has come: start planning it on the job queue."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["start_broadcast"] = "start_broadcast"
    job_id: str = Field(min_length=1, max_length=200)
    channel_id: str = Field(min_length=1, max_length=64)
    broadcast_id: str = Field(min_length=1, max_length=100)


ScheduledJob = Annotated[ScheduledSend | StartBroadcast, Field(discriminator="kind")]
SCHEDULED_JOB: TypeAdapter[ScheduledJob] = TypeAdapter(ScheduledJob)
