"""The admin side of step scenarios: apply (validate, diff, store a version), list,
show (with the per-step counters), pause / resume / archive, enrol a segment (a job:
``linecrm.scenarios.enrollment_jobs``), and the plan of one friend's timeline."""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field, ValidationError

from linecrm.domain.channel_config import ChannelConfig
from linecrm.domain.idempotency import CreateOnce, fingerprint
from linecrm.domain.problems import Problem
from linecrm.domain.segments import SegmentError, compile_segment
from linecrm.repositories.friends import FriendRepository
from linecrm.repositories.scenarios import ScenarioChanged, ScenarioHead, ScenarioRepository
from linecrm.scenarios.enrollment_jobs import (
    EnrollmentJobNotFound,
    JobQueue,
    SegmentEnrollmentJob,
    compiled_segment,
    new_enrollment_job_id,
    step_of,
    to_the_millisecond,
)
from linecrm.scenarios.model import ScenarioDefinition, ScenarioStatus, Step

ENROLL = "POST /scenarios/{id}/enroll"  # the operation an Idempotency-Key is bound to


class EnrollmentJobs(Protocol):
    def get(
        self, channel_id: str, scenario_id: str, job_id: str
    ) -> SegmentEnrollmentJob | None: ...

    def create(self, job: SegmentEnrollmentJob) -> None: ...


class ScenarioRejected(ValueError):
    """A scenario document that cannot be stored: every problem, with its path."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(problem) for problem in problems[:10]))
        self.problems = problems


class ScenarioMissing(LookupError):
    pass


class ScenarioNotActive(RuntimeError):
    """The request needs an active scenario (HTTP 409)."""


class ScenarioSummary(BaseModel):
    scenario_id: str
    name: str
    status: ScenarioStatus
    version: int
    updated_at: str


class ScenarioDetail(ScenarioSummary):
    definition: dict[str, Any]
    counters: dict[str, dict[str, int]] = Field(
        default_factory=dict,
        description="step id -> enrolled, due, sent, skipped:<reason>, exited:<reason>, …",
    )


class ApplyResult(BaseModel):
    scenario_id: str
    action: Literal["created", "updated", "unchanged"]
    version: int = Field(description="the version stored (with dry_run: that would be)")
    dry_run: bool
    diff: list[str] = Field(description="unified diff of the definition against what is live")


class PlannedStep(BaseModel):
    step_id: str
    due_at: str = Field(description="in the account's time zone")
    why: list[str]


class FriendPlan(BaseModel):
    user_id: str
    scenario_id: str
    version: int
    steps: list[PlannedStep]


class ScenarioService:
    def __init__(
        self,
        scenarios: ScenarioRepository,
        config: Callable[[str], ChannelConfig],
        friends: FriendRepository,
        clock: Callable[[], datetime],
        *,
        enrollment_jobs: EnrollmentJobs,
        job_queue: Callable[[], JobQueue],
        create_once: CreateOnce | None = None,
    ) -> None:
        self._scenarios = scenarios
        self._config = config
        self._friends = friends
        self._clock = clock
        self._enrollment_jobs = enrollment_jobs
        self._job_queue = job_queue
        self._create_once = create_once

    # ------------------------------------------------------------------ apply
    def apply(
        self, channel_id: str, scenario_id: str, document: dict[str, Any], *, dry_run: bool
    ) -> ApplyResult:
        definition = parse_definition({**document, "id": document.get("id", scenario_id)})
        if definition.id != scenario_id:
            raise ScenarioRejected(
                [Problem("id", f"{definition.id!r} is not {scenario_id!r} (the path)")]
            )
        from linecrm.scenarios.checks import check_against

        problems = check_against(definition, self._config(channel_id))
        if problems:
            raise ScenarioRejected(problems)
        current = self._scenarios.current(channel_id, scenario_id)
        live = _lines(current.definition) if current is not None else []
        diff = list(
            difflib.unified_diff(
                live,
                _lines(definition),
                fromfile=f"live v{current.head.version}" if current else "live (none)",
                tofile="file",
                lineterm="",
            )
        )
        if current is not None and not diff:
            return ApplyResult(
                scenario_id=scenario_id,
                action="unchanged",
                version=current.head.version,
                dry_run=dry_run,
                diff=[],
            )
        action: Literal["created", "updated"] = "created" if current is None else "updated"
        version = (current.head.version if current else 0) + 1
        if not dry_run:
            try:
                head = self._scenarios.put_version(
                    channel_id,
                    definition,
                    expected_version=current.head.version if current else None,
                    at=self._clock(),
                )
            except ScenarioChanged as error:
                raise ScenarioRejected(
                    [Problem("", "the scenario was changed meanwhile: apply again")]
                ) from error
            version = head.version
        return ApplyResult(
            scenario_id=scenario_id, action=action, version=version, dry_run=dry_run, diff=diff
        )

    # ------------------------------------------------------------------ read
    def list(self, channel_id: str) -> list[ScenarioSummary]:
        return [
            _summary(head)
            for head in sorted(self._scenarios.heads(channel_id), key=lambda h: h.scenario_id)
        ]

    def show(self, channel_id: str, scenario_id: str) -> ScenarioDetail:
        current = self._scenarios.current(channel_id, scenario_id)
        if current is None:
            raise ScenarioMissing(f"no scenario {scenario_id!r}")
        return ScenarioDetail(
            **_summary(current.head).model_dump(),
            definition=current.definition.model_dump(mode="json", exclude_none=True),
            counters=self._scenarios.counters(channel_id, scenario_id),
        )

    def set_status(
        self, channel_id: str, scenario_id: str, status: ScenarioStatus
    ) -> ScenarioSummary:
        head = self._scenarios.head(channel_id, scenario_id)
        if head is None:
            raise ScenarioMissing(f"no scenario {scenario_id!r}")
        if head.status == "archived" and status != "archived":
            raise ScenarioRejected(
                [Problem("status", "an archived scenario stays archived: apply it under a new id")]
            )
        updated = self._scenarios.set_status(channel_id, scenario_id, status, self._clock())
        if updated is None:
            raise ScenarioMissing(f"no scenario {scenario_id!r}")
        return _summary(updated)

    # ------------------------------------------------------------------ enrol
    def enroll_segment(
        self,
        channel_id: str,
        scenario_id: str,
        segment: dict[str, Any],
        idempotency_key: str | None = None,
    ) -> SegmentEnrollmentJob:
        """Enrol a segment's active friends: checked here (the scenario is there and
        active, the segment fits the channel), then a job on the job queue, whatever
        the segment's size; once per idempotency key."""
        head = self._scenarios.head(channel_id, scenario_id)
        if head is None:
            raise ScenarioMissing(f"no scenario {scenario_id!r}")
        if head.status != "active":
            raise ScenarioNotActive(
                f"scenario {scenario_id} is {head.status}: only an active scenario enrols"
                + (" (resume it first)" if head.status == "paused" else "")
            )
        try:
            compiled_segment(segment, self._config(channel_id))
        except SegmentError as error:
            raise ScenarioRejected([Problem(f"segment.{error.path}", error.reason)]) from error
        request = {"scenario_id": scenario_id, "segment": segment}
        new_id = new_enrollment_job_id(self._clock())
        create = functools.partial(self._start_enrollment, channel_id, scenario_id, segment)
        if idempotency_key is None:
            return create(new_id)
        if self._create_once is None:
            raise RuntimeError("this ScenarioService was built without an idempotency key store")
        return self._create_once.run(
            channel_id,
            idempotency_key,
            operation=ENROLL,
            fingerprint=fingerprint(ENROLL, request),
            new_id=new_id,
            create=create,
            load=lambda job_id: self._enrollment_jobs.get(channel_id, scenario_id, job_id),
        )

    def _start_enrollment(
        self, channel_id: str, scenario_id: str, segment: dict[str, Any], job_id: str
    ) -> SegmentEnrollmentJob:
        """Store the job and queue its first step. A job already stored under the id (an
        earlier attempt with the Idempotency-Key stored it, then crashed) is queued
        again: a second step message is harmless, as steps hold the job one at a time
        and go on from its cursor."""
        job = self._enrollment_jobs.get(channel_id, scenario_id, job_id)
        if job is None:
            now = to_the_millisecond(self._clock())
            job = SegmentEnrollmentJob(
                job_id=job_id,
                channel_id=channel_id,
                scenario_id=scenario_id,
                segment=segment,
                created_at=now,
                updated_at=now,
            )
            self._enrollment_jobs.create(job)
        if not job.is_finished:
            self._job_queue().send_step(step_of(job))
        return job

    def enrollment_job(
        self, channel_id: str, scenario_id: str, job_id: str
    ) -> SegmentEnrollmentJob:
        job = self._enrollment_jobs.get(channel_id, scenario_id, job_id)
        if job is None:
            raise EnrollmentJobNotFound(channel_id, scenario_id, job_id)
        return job

    # ------------------------------------------------------------------ plan
    def plan(self, channel_id: str, scenario_id: str, user_id: str, days: int) -> FriendPlan:
        """The steps the friend would get if enrolled now (no branch taken), in order,
        with their due times and why each would or would not go out."""
        current = self._scenarios.current(channel_id, scenario_id)
        if current is None:
            raise ScenarioMissing(f"no scenario {scenario_id!r}")
        friend = self._friends.get(channel_id, user_id)
        if friend is None:
            raise ScenarioMissing(f"no friend {user_id}")
        config = self._config(channel_id)
        return FriendPlan(
            user_id=user_id,
            scenario_id=scenario_id,
            version=current.head.version,
            steps=timeline(current.definition, friend, config, self._clock(), days),
        )


def timeline(
    definition: ScenarioDefinition,
    friend: Any,
    config: ChannelConfig,
    now: datetime,
    days: int,
) -> list[PlannedStep]:
    from linecrm.delivery.caps import sent_counts
    from linecrm.domain.delivery_policy import Defer, SendNow
    from linecrm.scenarios.engine import bucket_minute, preferred_hour
    from linecrm.scenarios.model import parse_duration

    policy = config.delivery_policy
    zone = policy.zone
    horizon = now + timedelta(days=days)
    steps: list[PlannedStep] = []
    step: Step | None = definition.steps[0]
    previous = now
    seen: set[str] = set()
    while step is not None and step.id not in seen:
        seen.add(step.id)
        due = bucket_minute(
            step.timing.due_at(
                enrolled_at=now,
                previous_at=previous,
                zone=zone,
                preferred_hour=preferred_hour(friend),
            ),
            now,
        )
        if due > horizon:
            break
        why = [_timing_text(step.timing.model_dump(exclude_none=True))]
        if step.condition is not None:
            compiled = compile_segment(
                {"match": step.condition}, config.tags, config.fields, time_zone=policy.time_zone
            )
            holds = compiled.matches(friend, due)
            why.append(
                f"condition {compiled.describe()}: {'true now' if holds else 'false now: skipped'}"
            )
        if step.messages:
            decision = policy.decide(
                definition.message_class, due, sent_counts(policy, friend, "plan", due)
            )
            if isinstance(decision, SendNow):
                why.append(f"{definition.message_class}: {decision.reason}")
            elif isinstance(decision, Defer):
                why.append(f"deferred to {policy.local_time(decision.until)}: {decision.reason}")
                due = decision.until
            else:
                why.append(f"skipped: {decision.reason}")
        if step.branches:
            targets = ", ".join(
                f"{getattr(b, 'postback', None) or getattr(b, 'tag', '')} → {b.goto}"
                for b in step.branches
            )
            why.append(f"branches: {targets}")
        steps.append(PlannedStep(step_id=step.id, due_at=policy.local_time(due), why=why))
        previous = due
        if step.reminder is not None:
            why.append(f"no reaction within {step.reminder.after} → {step.reminder.goto}")
            step_next = definition.step(step.reminder.goto)
            # The reminder's time replaces the target's own timing.
            if step_next is not None and step_next.id not in seen:
                reminder_due = bucket_minute(due + parse_duration(step.reminder.after), now)
                if reminder_due <= horizon:
                    seen.add(step_next.id)
                    steps.append(
                        PlannedStep(
                            step_id=step_next.id,
                            due_at=policy.local_time(reminder_due),
                            why=[
                                f"reminder: none of {step.id}'s branches "
                                f"within {step.reminder.after}"
                            ],
                        )
                    )
                    previous = reminder_due
                step = definition.next_step(step_next.id)
                continue
        step = definition.next_step(step.id)
    return steps


def _timing_text(timing: dict[str, Any]) -> str:
    if "after" in timing:
        return f"{timing['after']} after the previous step (or enrolment)"
    if "after_enrollment" in timing:
        return f"{timing['after_enrollment']} after enrolment"
    at = timing.get("at")
    return f"day {timing['day']}" + (
        f" at {at}" if at else " (preferred send hour, else enrolment time)"
    )


def parse_definition(document: dict[str, Any]) -> ScenarioDefinition:
    from linecrm.scenarios.checks import parse_problems

    try:
        return ScenarioDefinition.model_validate(document)
    except ValidationError as error:
        raise ScenarioRejected(parse_problems(error)) from error


def _lines(definition: ScenarioDefinition) -> list[str]:
    return json.dumps(
        definition.model_dump(mode="json", exclude_none=True), ensure_ascii=False, indent=2
    ).splitlines()


def _summary(head: ScenarioHead) -> ScenarioSummary:
    return ScenarioSummary(
        scenario_id=head.scenario_id,
        name=head.name,
        status=head.status,
        version=head.version,
        updated_at=head.updated_at,
    )
