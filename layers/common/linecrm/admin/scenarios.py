"""Step scenarios (ステップ配信): apply a definition (a new version, with a dry-run
diff), list, show with per-step counters, pause / resume / archive, enrol a segment by
hand (a job: 202, then its progress), and plan one friend's timeline. Guide:
docs/scenarios.md."""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends, Response, content_types
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from pydantic import BaseModel, ConfigDict, Field, field_validator

from linecrm.admin.models import USER_ID_PATTERN
from linecrm.admin.params import ChannelId, IdempotencyKey, new_router, responses
from linecrm.domain.segments import as_document
from linecrm.scenarios.enrollment_jobs import SegmentEnrollmentJob
from linecrm.scenarios.model import SCENARIO_SLUG
from linecrm.scenarios.service import (
    ApplyResult,
    FriendPlan,
    ScenarioDetail,
    ScenarioService,
    ScenarioSummary,
)

router = new_router()


def scenario_service() -> ScenarioService:
    """Replaced by ``api.build_app`` (``dependency_overrides``) with the real service."""
    raise NotImplementedError("build_app wires the scenario service")


Scenarios = Annotated[ScenarioService, Depends(scenario_service)]
ScenarioId = Annotated[str, Path(pattern=SCENARIO_SLUG, description="scenario id (a slug)")]
EnrollmentJobId = Annotated[
    str, Path(pattern=r"^[0-9A-Za-z_-]{1,100}$", description="enrolment job id")
]


class ScenarioListResponse(BaseModel):
    scenarios: list[ScenarioSummary]


class EnrollRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    segment: dict[str, Any] = Field(
        description="a segment document ({match: …}, see docs/segments.md), or a saved "
        'segment ({"segment": "seg_…"}, or its id alone): its active friends are '
        "enrolled, as of the request"
    )

    _saved_id = field_validator("segment", mode="before")(as_document)


@router.get("/scenarios", tags=["scenarios"], responses=responses(200, "The scenarios"))
def list_scenarios(channel_id: ChannelId, scenarios: Scenarios) -> ScenarioListResponse:
    """The channel's step scenarios (current version and status of each)."""
    return ScenarioListResponse(scenarios=scenarios.list(channel_id))


@router.get(
    "/scenarios/<scenario_id>",
    tags=["scenarios"],
    responses=responses(200, "The scenario, its current definition and counters", 404),
)
def get_scenario(
    channel_id: ChannelId, scenario_id: ScenarioId, scenarios: Scenarios
) -> ScenarioDetail:
    """One scenario: its current definition and, per step, the counters (enrolled,
    due, sent, skipped and exited by reason)."""
    return scenarios.show(channel_id, scenario_id)


@router.put(
    "/scenarios/<scenario_id>",
    tags=["scenarios"],
    responses=responses(200, "What changed (or, with dry_run, would change)", 409),
)
def put_scenario(
    channel_id: ChannelId,
    scenario_id: ScenarioId,
    scenarios: Scenarios,
    definition: Annotated[dict[str, Any], Body(description="the scenario (docs/scenarios.md)")],
    dry_run: Annotated[bool, Query(description="validate and diff only; store nothing")] = False,
) -> ApplyResult:
    """Create or edit a scenario: every edit is a new version; enrolments in flight
    stay on the version they started on. A 422 lists every problem with its field."""
    return scenarios.apply(channel_id, scenario_id, definition, dry_run=dry_run)


def _status_route(action: str, status: Any, doc: str) -> None:
    def change(
        channel_id: ChannelId, scenario_id: ScenarioId, scenarios: Scenarios
    ) -> ScenarioSummary:
        return scenarios.set_status(channel_id, scenario_id, status)

    change.__doc__ = doc
    change.__name__ = f"{action}_scenario"
    router.post(
        f"/scenarios/<scenario_id>/{action}",
        tags=["scenarios"],
        responses=responses(200, "The scenario's new status", 404),
    )(change)


_status_route(
    "pause",
    "paused",
    "Pause a scenario: nobody is enrolled, and due steps wait for the resume.",
)
_status_route(
    "resume",
    "active",
    "Resume a paused scenario: waiting steps go out with the next sweep (within 8 min).",
)
_status_route(
    "archive",
    "archived",
    "Archive a scenario: no enrolment; pending steps end their enrolments (archived).",
)


@router.post(
    "/scenarios/<scenario_id>/enroll",
    tags=["scenarios"],
    responses=responses(202, "The enrolment job, queued", 404, 409),
)
def enroll_segment(
    channel_id: ChannelId,
    scenario_id: ScenarioId,
    request: EnrollRequest,
    scenarios: Scenarios,
    idempotency_key: IdempotencyKey = None,
) -> Response[SegmentEnrollmentJob]:
    """Enrol a segment's active friends by hand (bulk), under the re-entry policy: a
    job on the job queue, of any size. Poll `GET …/enrollments/{job_id}` for its
    progress and, when done, the outcomes (enrolled, or why not). 409 unless the
    scenario is active. With an `Idempotency-Key`, a repeated request gets the same
    job and enrols nobody twice."""
    job = scenarios.enroll_segment(channel_id, scenario_id, request.segment, idempotency_key)
    return Response(
        status_code=HTTPStatus.ACCEPTED, content_type=content_types.APPLICATION_JSON, body=job
    )


@router.get(
    "/scenarios/<scenario_id>/enrollments/<job_id>",
    tags=["scenarios"],
    responses=responses(200, "The enrolment job: progress, then the outcomes", 404),
)
def get_enrollment(
    channel_id: ChannelId, scenario_id: ScenarioId, job_id: EnrollmentJobId, scenarios: Scenarios
) -> SegmentEnrollmentJob:
    """A segment enrolment job: status (running, done, failed with the reason), friends
    walked and matched so far, and the matched friends by outcome."""
    return scenarios.enrollment_job(channel_id, scenario_id, job_id)


@router.get(
    "/scenarios/<scenario_id>/plan",
    tags=["scenarios"],
    responses=responses(200, "The timeline the friend would get", 404),
)
def plan_scenario(
    channel_id: ChannelId,
    scenario_id: ScenarioId,
    scenarios: Scenarios,
    user_id: Annotated[str, Query(pattern=USER_ID_PATTERN, description="the friend")],
    days: Annotated[int, Query(ge=1, le=365, description="how far ahead")] = 14,
) -> FriendPlan:
    """The steps a friend would get if enrolled now (no branch taken): due time in the
    account's time zone, the condition's value now, and the caps that would apply."""
    return scenarios.plan(channel_id, scenario_id, user_id, days)
