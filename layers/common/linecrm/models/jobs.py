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


class BucketPart(BaseModel):
    """A slice of a big bucket: the enrolments due in it whose user ids are in
    ``[first, last]`` (user-id order over every shard of the due index)."""

    model_config = ConfigDict(frozen=True)

    index: int = Field(ge=0)
    first: str = Field(min_length=1, max_length=64)
    last: str = Field(min_length=1, max_length=64)


class FireScenarioStep(BaseModel):
    """A scenario step's bucket is due: send the step to every enrolment due in that
    minute (``linecrm.scenarios.engine``). A bucket too big for one invocation is
    fired in parts (``part``), each a message on the job queue."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["scenario_step"] = "scenario_step"
    job_id: str = Field(min_length=1, max_length=300)
    channel_id: str = Field(min_length=1, max_length=64)
    scenario_id: str = Field(min_length=1, max_length=64)
    version: int = Field(ge=1)
    step_id: str = Field(min_length=1, max_length=32)
    minute: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$")
    part: BucketPart | None = None

    def in_part(self, part: BucketPart) -> FireScenarioStep:
        return self.model_copy(update={"job_id": f"{self.job_id}:p{part.index}", "part": part})


class SweepScenarios(BaseModel):
    """The sweeper's rate schedule: fire overdue buckets whose schedule is gone."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["sweep_scenarios"] = "sweep_scenarios"
    job_id: str = Field(default="sweep-scenarios", min_length=1, max_length=200)


class FetchInsight(BaseModel):
    """The insight schedule (hourly): fetch LINE's opens and clicks of every channel's
    recent campaigns, one ``InsightFetchStep`` per channel on the job queue."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["fetch_insight"] = "fetch_insight"
    job_id: str = Field(default="fetch-insight", min_length=1, max_length=200)


ScheduledJob = Annotated[
    ScheduledSend | StartBroadcast | FireScenarioStep | SweepScenarios | FetchInsight,
    Field(discriminator="kind"),
]
SCHEDULED_JOB: TypeAdapter[ScheduledJob] = TypeAdapter(ScheduledJob)


# ---------------------------------------------------------------- job queue: enrolment
class EnrollSegmentStep(BaseModel):
    """The job queue's message: enrol the next pages of a segment enrolment job
    (``linecrm.scenarios.enrollment_jobs``)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["scenario_enroll"] = "scenario_enroll"
    channel_id: str = Field(min_length=1, max_length=64)
    scenario_id: str = Field(min_length=1, max_length=64)
    job_id: str = Field(min_length=1, max_length=100)


# ---------------------------------------------------------------- job queue: insight
class InsightFetchStep(BaseModel):
    """The job queue's message: fetch one channel's campaign statistics from LINE
    (``linecrm.insight.fetcher``)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["insight_fetch"] = "insight_fetch"
    channel_id: str = Field(min_length=1, max_length=64)


# ---------------------------------------------------------------- job queue: quota
class QuotaFetchStep(BaseModel):
    """The job queue's message: read one channel's monthly message quota and usage from
    LINE and keep it as the channel's snapshot (``linecrm.delivery.quota_snapshot``)."""

    model_config = ConfigDict(frozen=True)

    kind: Literal["quota_fetch"] = "quota_fetch"
    channel_id: str = Field(min_length=1, max_length=64)
