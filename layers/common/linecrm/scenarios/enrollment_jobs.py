"""Enrolling a segment by hand, as a job of any size on the job queue.

``POST …/scenarios/{id}/enroll`` stores a job (``SegmentEnrollmentJob``) and queues
its first step (``EnrollSegmentStep``). Each step (the jobs function) walks pages of
the channel's friends in user-id order after the job's cursor, enrols the page's
active friends that match the segment (``ScenarioEngine.enroll_many``, one page at a
time), then saves the cursor and the counts in one conditional write; when its time
budget is low it queues the next step. ``GET …/scenarios/{id}/enrollments/{job}``
shows the progress and, once done, the outcomes.

Every friend of a job is enrolled as of the job's ``created_at`` (the request), and
the segment is matched as of then too: one timeline for everyone the request enrolled
(a step ``after: 1h`` is due an hour after the request, so the whole segment shares
its bucket), however long the job takes.

A step holds the job with a lease (as import steps do), so two copies of a step
message never walk the same page at once; a copy that finds the job held is dropped.
"""

from __future__ import annotations

import contextlib
import secrets
import uuid
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from linecrm.domain.channel_config import ChannelConfig
from linecrm.domain.friends import Friend
from linecrm.domain.segments import CompiledSegment, SegmentError, compile_segment
from linecrm.jobs import StepBudget, StepOutcome
from linecrm.models.jobs import EnrollSegmentStep

if TYPE_CHECKING:
    from linecrm.repositories.enrollment_jobs import EnrollmentJobRepository
    from linecrm.repositories.enrollments import EnrollmentRepository
    from linecrm.repositories.friends import FriendRepository
    from linecrm.repositories.scenarios import ScenarioRepository

EnrollmentJobStatus = Literal["running", "done", "failed"]
# Friends read per page: a page is enrolled (two writes per matched friend) and saved
# before the next one is read, well within a step's margin (``StepBudget``).
ENROLL_PAGE_SIZE = 1_000


def new_enrollment_job_id(now: datetime) -> str:
    """Sortable by creation time, unique."""
    return f"{now:%Y%m%dT%H%M%S}-{secrets.token_hex(4)}"


def to_the_millisecond(moment: datetime) -> datetime:
    """Enrolments store their instant to the millisecond: a job's instant is cut to it,
    so an enrolment made by the job can be told by its instant (``enrolled_at``)."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


class EnrollmentCounts(BaseModel):
    model_config = ConfigDict(frozen=True)

    walked: int = Field(default=0, description="friends read so far")
    matched: int = Field(default=0, description="of them, active friends in the segment")
    outcomes: dict[str, int] = Field(
        default_factory=dict,
        description="matched friends by outcome: `enrolled`, or why not "
        "(`re-entry is never`, …); they add up to `matched`",
    )

    def plus(self, walked: int, matched: int, outcomes: Mapping[str, int]) -> EnrollmentCounts:
        total = Counter(self.outcomes)
        total.update(outcomes)
        return EnrollmentCounts(
            walked=self.walked + walked,
            matched=self.matched + matched,
            outcomes=dict(sorted(total.items())),
        )


class SegmentEnrollmentJob(BaseModel):
    """A segment enrolment: what the job stores, and what the admin API shows."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    job_id: str
    channel_id: str
    scenario_id: str
    segment: dict[str, Any]
    status: EnrollmentJobStatus = "running"
    after_user_id: str | None = Field(
        default=None, description="the cursor: the last friend walked (friends go in user-id order)"
    )
    counts: EnrollmentCounts = Field(default_factory=EnrollmentCounts)
    reason: str | None = Field(default=None, description="why the job failed")
    steps: int = Field(default=0, description="steps that ran")
    version: int = 0  # bumped by every write; writes are conditional on it
    # The step that runs the job now (internal: not shown by the API).
    lease_token: str | None = Field(default=None, exclude=True)
    lease_expires_at: datetime | None = Field(default=None, exclude=True)
    created_at: datetime = Field(
        description="the request; every friend of the job is enrolled, and the segment "
        "matched, as of this instant"
    )
    updated_at: datetime
    finished_at: datetime | None = None

    @property
    def is_finished(self) -> bool:
        return self.status in ("done", "failed")


class EnrollmentJobNotFound(LookupError):
    def __init__(self, channel_id: str, scenario_id: str, job_id: str) -> None:
        super().__init__(
            f"no enrolment job {job_id} for scenario {scenario_id!r} in channel {channel_id}"
        )


class EnrollmentJobBusy(RuntimeError):
    """Another step holds the job, or the job changed since it was read."""


class CannotEnroll(RuntimeError):
    """The job cannot go on (the scenario was paused, a tag of the segment deleted…)."""


class JobQueue(Protocol):
    def send_step(self, step: EnrollSegmentStep) -> None: ...


class Enrolling(Protocol):
    """The engine's bulk enrolment (``ScenarioEngine.enroll_many``)."""

    def enroll_many(
        self,
        channel_id: str,
        scenario_id: str,
        friends: Sequence[Friend],
        *,
        at: datetime | None = None,
    ) -> Counter[str]: ...


def step_of(job: SegmentEnrollmentJob) -> EnrollSegmentStep:
    return EnrollSegmentStep(
        channel_id=job.channel_id, scenario_id=job.scenario_id, job_id=job.job_id
    )


def compiled_segment(segment: Mapping[str, Any], config: ChannelConfig) -> CompiledSegment:
    """The segment checked against the channel's tags and fields (``SegmentError``)."""
    return compile_segment(
        segment,
        config.tags,
        config.fields,
        time_zone=config.delivery_policy.time_zone,
        saved=config.segments,
    )


class SegmentEnrollmentRunner:
    """Runs the steps of segment enrolment jobs (the jobs function).

    A step that dies (crash, timeout) loses the page it was on: cursor and counts are
    saved together after each page, so that page is walked, matched and counted again
    by the next step, never twice in the job's counts. Friends of that page whom the
    dead step had already enrolled are not enrolled again, whatever the scenario's
    re-entry policy: the next step takes the job over from a lease that was not ended
    well (its token is still on the job), reads the page's enrolments first, and counts
    those made at the job's instant as ``enrolled`` without enrolling them a second
    time. Other outcomes of a re-run page are those of now (e.g. a friend who blocked
    meanwhile is no longer matched). What a crash can get wrong is the scenario's own
    step counters, as for every enrolment: a crash between an enrolment and its counter
    loses that one count.
    """

    def __init__(
        self,
        jobs: EnrollmentJobRepository,
        friends: FriendRepository,
        enrollments: EnrollmentRepository,
        scenarios: ScenarioRepository,
        engine: Callable[[], Enrolling],
        config: Callable[[str], ChannelConfig],
        queue: Callable[[], JobQueue],
        clock: Callable[[], datetime],
        *,
        page_size: int = ENROLL_PAGE_SIZE,
        lease: timedelta = timedelta(minutes=3),
    ) -> None:
        self._jobs = jobs
        self._friends = friends
        self._enrollments = enrollments
        self._scenarios = scenarios
        self._engine = engine
        self._config = config
        self._queue = queue
        self._clock = clock
        self._page_size = page_size
        self._lease = lease

    def run_step(
        self, channel_id: str, scenario_id: str, job_id: str, budget: StepBudget
    ) -> StepOutcome:
        """Enrol the next pages of the job; queue its next step if it is not done."""
        job = self._jobs.get(channel_id, scenario_id, job_id)
        if job is None:
            return StepOutcome.MISSING
        if job.is_finished:
            return StepOutcome.FINISHED
        # A lease token still on the job when it can be claimed: the step that held it
        # died or failed amid a page (a live step's lease outlasts its function's
        # timeout; a step that ends well removes its token).
        taken_over = job.lease_token is not None
        token = uuid.uuid4().hex
        now = self._clock()
        try:
            job = self._jobs.claim(job, token, now, now + self._lease)
        except EnrollmentJobBusy:
            return StepOutcome.BUSY
        try:
            job, done = self._pages(job, token, budget, recheck_first_page=taken_over)
        except CannotEnroll as error:
            self.fail(channel_id, scenario_id, job_id, str(error))
            return StepOutcome.FAILED
        except EnrollmentJobBusy:
            return StepOutcome.LOST_RACE  # failed meanwhile, or our lease ran out
        except BaseException:
            self._abandon_quietly(job, token)
            raise
        if done:
            return StepOutcome.DONE
        self._jobs.release(job, token, self._clock())
        self._queue().send_step(step_of(job))
        return StepOutcome.CONTINUE

    def fail(self, channel_id: str, scenario_id: str, job_id: str, reason: str) -> None:
        """Mark the job failed with the reason (a finished job stays as it is)."""
        self._jobs.fail(channel_id, scenario_id, job_id, reason[:1000], self._clock())

    def _pages(
        self,
        job: SegmentEnrollmentJob,
        token: str,
        budget: StepBudget,
        *,
        recheck_first_page: bool,
    ) -> tuple[SegmentEnrollmentJob, bool]:
        segment = self._segment_of(job)
        recheck = recheck_first_page
        while budget.allows_more():
            budget.chunks += 1
            friends, more = self._friends.page_after(
                job.channel_id, job.after_user_id, self._page_size
            )
            matched = [
                friend
                for friend in friends
                if friend.status == "active" and segment.matches(friend, job.created_at)
            ]
            outcomes = self._enroll(job, matched, recheck=recheck)
            recheck = False
            done = not more or not friends
            job = self._jobs.checkpoint(
                job,
                token,
                after_user_id=friends[-1].user_id if friends else job.after_user_id,
                counts=job.counts.plus(len(friends), len(matched), outcomes),
                now=self._clock(),
                done=done,
            )
            if done:
                return job, True
        return job, False

    def _segment_of(self, job: SegmentEnrollmentJob) -> CompiledSegment:
        head = self._scenarios.head(job.channel_id, job.scenario_id)
        if head is None:
            raise CannotEnroll(f"scenario {job.scenario_id!r} no longer exists")
        if head.status != "active":
            raise CannotEnroll(
                f"scenario {job.scenario_id} is {head.status}: the friends after "
                f"{job.counts.walked} walked were not enrolled (resume it and enrol again)"
            )
        try:
            return compiled_segment(job.segment, self._config(job.channel_id))
        except SegmentError as error:
            raise CannotEnroll(
                f"the segment no longer fits the channel (segment.{error.path}: "
                f"{error.reason}): the friends after {job.counts.walked} walked were not "
                "enrolled"
            ) from error

    def _enroll(
        self, job: SegmentEnrollmentJob, matched: list[Friend], *, recheck: bool
    ) -> Counter[str]:
        outcomes: Counter[str] = Counter()
        if recheck and matched:
            # The page a dead step was on: who it enrolled already (at the job's instant).
            existing = self._enrollments.get_many(
                job.channel_id, job.scenario_id, [friend.user_id for friend in matched]
            )
            ours = {
                user_id
                for user_id, enrollment in existing.items()
                if enrollment.enrolled_at is not None
                and datetime.fromisoformat(enrollment.enrolled_at) == job.created_at
            }
            outcomes["enrolled"] += len(ours)
            matched = [friend for friend in matched if friend.user_id not in ours]
        if matched:
            outcomes.update(
                self._engine().enroll_many(
                    job.channel_id, job.scenario_id, matched, at=job.created_at
                )
            )
        return outcomes

    def _abandon_quietly(self, job: SegmentEnrollmentJob, token: str) -> None:
        """The step failed amid a page: end the lease now but leave its token, so the
        retry may claim the job at once and knows to recheck that page."""
        # The original error is what matters; a lease not ended expires anyway.
        with contextlib.suppress(Exception):
            self._jobs.abandon(job, token, self._clock())
