"""Enrolling a segment as a job, on moto: the request checks and stores the job, steps
walk pages of friends after the saved cursor and enrol the matched ones, a step that
dies amid a page is resumed without enrolling anyone twice, and the counts add up."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from linecrm.config.jobs import JobsSettings
from linecrm.delivery.schedule_planner import schedule_name_for
from linecrm.domain.friends import Friend, FriendChangeSet
from linecrm.domain.tags import Tag
from linecrm.jobs import StepBudget, StepOutcome
from linecrm.models.jobs import EnrollSegmentStep
from linecrm.repositories.enrollment_jobs import EnrollmentJobRepository
from linecrm.resources import JOB_QUEUE
from linecrm.scenarios.engine import bucket_job, minute_of
from linecrm.scenarios.enrollment_jobs import (
    Enrolling,
    EnrollmentJobNotFound,
    SegmentEnrollmentJob,
    SegmentEnrollmentRunner,
)
from linecrm.scenarios.service import (
    ScenarioMissing,
    ScenarioNotActive,
    ScenarioRejected,
    ScenarioService,
)
from linecrm.wiring import Container
from tests.support.lambda_support import FakeLambdaContext, load_handler
from tests.unit.conftest import CHANNEL_ID, AwsWorld

T0 = datetime(2026, 12, 1, 1, 0, 10, 123456, tzinfo=UTC)  # 10:00 in Tokyo
PAGE_SIZE = 4
LEASE = timedelta(minutes=3)
VIP = {"match": {"tag": "VIP"}}


def user(number: int) -> str:
    return f"U{number:032x}"


def scenario(re_entry: str = "never") -> dict[str, Any]:
    return {
        "name": "手動",
        "re_entry": re_entry,
        "steps": [
            {"id": "hello", "timing": {"after": "1h"}, "messages": [{"type": "text", "text": "!"}]}
        ],
    }


class Steps:
    """Stands in for the job queue: the steps queued, in order."""

    def __init__(self) -> None:
        self.steps: list[EnrollSegmentStep] = []

    def send_step(self, step: EnrollSegmentStep) -> None:
        self.steps.append(step)


class World:
    def __init__(self, aws: AwsWorld) -> None:
        self.aws = aws
        self.now = T0
        self.container = Container(JobsSettings.from_env(), clock=lambda: self.now)
        self.queue = Steps()
        c = self.container
        self.service = ScenarioService(
            c.scenarios,
            c.channel_config.load,
            c.friends,
            lambda: self.now,
            enrollment_jobs=c.enrollment_jobs,
            job_queue=lambda: self.queue,
            create_once=c.create_once,
        )
        c.channel_config.create_tag(CHANNEL_ID, Tag(tag_id="vip", name="VIP"))
        self.vips: list[str] = []

    def runner(self, engine: Callable[[], Enrolling] | None = None) -> SegmentEnrollmentRunner:
        c = self.container
        return SegmentEnrollmentRunner(
            c.enrollment_jobs,
            c.friends,
            c.enrollments,
            c.scenarios,
            engine or (lambda: c.scenario_engine),
            c.channel_config.load,
            lambda: self.queue,
            lambda: self.now,
            page_size=PAGE_SIZE,
            lease=LEASE,
        )

    def add_friends(self, numbers: range, *, vip: bool, blocked: bool = False) -> list[str]:
        friends = self.container.friends
        user_ids = [user(number) for number in numbers]
        for user_id in user_ids:
            friends.record_follow(CHANNEL_ID, user_id, T0 - timedelta(days=3))
            if vip:
                change = FriendChangeSet(add_tag_ids=frozenset({"vip"}))
                friends.apply_change(CHANNEL_ID, user_id, change, T0 - timedelta(days=3))
            if blocked:
                friends.record_unfollow(CHANNEL_ID, user_id, T0 - timedelta(days=2))
        return user_ids

    def job(self, job: SegmentEnrollmentJob) -> SegmentEnrollmentJob:
        return self.service.enrollment_job(CHANNEL_ID, job.scenario_id, job.job_id)

    def entries(self, user_ids: list[str]) -> dict[str, int]:
        found = self.container.enrollments.get_many(CHANNEL_ID, "s", user_ids)
        return {user_id: found[user_id].entries for user_id in user_ids if user_id in found}

    def counters(self) -> dict[str, int]:
        return self.container.scenarios.counters(CHANNEL_ID, "s").get("hello", {})

    def schedule_names(self) -> set[str]:
        client = self.aws.client("scheduler")
        group = self.container.settings.schedule_group_name
        return {s["Name"] for s in client.list_schedules(GroupName=group)["Schedules"]}


def budget(pages: int) -> StepBudget:
    return StepBudget(lambda: 120_000, max_chunks=pages)


@pytest.fixture
def world(aws: AwsWorld) -> World:
    world = World(aws)
    # 33 friends in user-id order: VIPs and others mixed, three blocked VIPs.
    world.vips = world.add_friends(range(1, 11), vip=True)
    world.add_friends(range(11, 16), vip=False)
    world.add_friends(range(16, 19), vip=True, blocked=True)
    world.vips += world.add_friends(range(19, 34), vip=True)
    return world


def applied(world: World, re_entry: str = "never") -> World:
    world.service.apply(CHANNEL_ID, "s", scenario(re_entry), dry_run=False)
    return world


def run_to_the_end(world: World, runner: SegmentEnrollmentRunner, pages: int) -> list[Any]:
    """Run queued steps until none is left: what each came to, and the job after it."""
    seen = []
    while world.queue.steps:
        step = world.queue.steps.pop(0)
        outcome = runner.run_step(step.channel_id, step.scenario_id, step.job_id, budget(pages))
        job = world.container.enrollment_jobs.get(CHANNEL_ID, step.scenario_id, step.job_id)
        assert job is not None
        seen.append((outcome, job.counts.walked, job.counts.matched))
    return seen


def test_a_segment_of_many_pages_is_enrolled_in_steps_from_the_saved_cursor(
    world: World,
) -> None:
    applied(world)
    job = world.service.enroll_segment(CHANNEL_ID, "s", VIP)
    assert (job.status, job.counts.walked, job.steps) == ("running", 0, 0)
    assert world.queue.steps == [
        EnrollSegmentStep(channel_id=CHANNEL_ID, scenario_id="s", job_id=job.job_id)
    ]

    # Pages of 4, two per step: 8 friends a step, the cursor carried over between them.
    seen = run_to_the_end(world, world.runner(), pages=2)

    assert [outcome for outcome, _, _ in seen] == [StepOutcome.CONTINUE] * 4 + [StepOutcome.DONE]
    assert [walked for _, walked, _ in seen] == [8, 16, 24, 32, 33]
    assert [matched for _, _, matched in seen] == [8, 10, 16, 24, 25]
    done = world.job(job)
    assert done.status == "done" and done.finished_at is not None and done.steps == 5
    assert done.after_user_id == user(33)
    assert (done.counts.walked, done.counts.matched) == (33, 25)
    assert done.counts.outcomes == {"enrolled": 25}
    assert world.entries(world.vips) == dict.fromkeys(world.vips, 1)
    assert world.entries([user(11), user(16)]) == {}  # not in the segment; blocked
    assert world.counters()["enrolled"] == 25
    # Everyone is enrolled as of the request: one bucket (and schedule) for them all.
    bucket = bucket_job(CHANNEL_ID, "s", 1, "hello", minute_of(T0 + timedelta(hours=1, minutes=1)))
    assert [n for n in world.schedule_names() if n.startswith("job-")] == [
        schedule_name_for(bucket.job_id)
    ]
    # A step message that comes again for the finished job does nothing.
    again = world.runner().run_step(CHANNEL_ID, "s", job.job_id, budget(2))
    assert again is StepOutcome.FINISHED and world.queue.steps == []


def test_a_second_run_of_the_segment_enrols_nobody_twice_under_re_entry_never(
    world: World,
) -> None:
    applied(world)
    first = world.service.enroll_segment(CHANNEL_ID, "s", VIP)
    run_to_the_end(world, world.runner(), pages=10)
    second = world.service.enroll_segment(CHANNEL_ID, "s", {"match": {"status": "active"}})
    run_to_the_end(world, world.runner(), pages=10)
    assert world.job(first).counts.outcomes == {"enrolled": 25}
    assert world.job(second).counts.matched == 30
    assert world.job(second).counts.outcomes == {"enrolled": 5, "re-entry is never": 25}
    assert world.counters()["enrolled"] == 30


class DiesAmidAPage:
    """The engine, until it has enrolled ``after`` friends: then the step dies."""

    def __init__(self, engine: Enrolling, after: int) -> None:
        self.engine = engine
        self.left = after

    def enroll_many(
        self,
        channel_id: str,
        scenario_id: str,
        friends: Sequence[Friend],
        *,
        at: datetime | None = None,
    ) -> Counter[str]:
        done = self.engine.enroll_many(channel_id, scenario_id, friends[: self.left], at=at)
        if len(friends) > self.left:
            raise RuntimeError("the step died amid a page")
        self.left -= len(friends)
        return done


@pytest.mark.parametrize("re_entry", ["always", "never"])
def test_a_step_that_fails_amid_a_page_is_retried_at_once_and_enrols_nobody_twice(
    world: World, re_entry: str
) -> None:
    applied(world, re_entry)
    job = world.service.enroll_segment(CHANNEL_ID, "s", VIP)
    step = world.queue.steps.pop()
    engine = world.container.scenario_engine
    # Page 1 (4 VIPs) is saved; on page 2 the step dies after 2 of its 4 VIPs.
    dies = DiesAmidAPage(engine, after=6)
    dying = world.runner(lambda: dies)
    with pytest.raises(RuntimeError, match="amid a page"):
        dying.run_step(CHANNEL_ID, "s", job.job_id, budget(5))
    saved = world.job(job)
    assert (saved.counts.walked, saved.counts.matched, saved.after_user_id) == (4, 4, user(4))

    # The message comes back (SQS): the retry claims the job at once and goes on.
    assert world.queue.steps == []  # the dead step queued nothing
    world.queue.steps.append(step)
    seen = run_to_the_end(world, world.runner(), pages=5)

    assert seen[0][0] is StepOutcome.CONTINUE and seen[-1][0] is StepOutcome.DONE
    done = world.job(job)
    assert (done.counts.walked, done.counts.matched) == (33, 25)
    assert done.counts.outcomes == {"enrolled": 25}  # the two of page 2 counted once
    assert world.entries(world.vips) == dict.fromkeys(world.vips, 1)
    assert world.counters()["enrolled"] == 25


def test_a_step_whose_function_died_is_resumed_once_its_lease_is_over(world: World) -> None:
    applied(world, "always")
    job = world.service.enroll_segment(CHANNEL_ID, "s", VIP)
    step = world.queue.steps.pop()
    engine = world.container.scenario_engine
    dies = DiesAmidAPage(engine, after=2)
    dying = world.runner(lambda: dies)
    # The function is gone (timeout, out of memory): nothing lets go of the lease.
    repository: Any = world.container.enrollment_jobs
    repository.abandon = lambda *args: None
    with pytest.raises(RuntimeError):
        dying.run_step(CHANNEL_ID, "s", job.job_id, budget(5))
    del repository.abandon
    assert world.container.enrollments.get(CHANNEL_ID, user(2), "s") is not None

    # A copy of the message while the lease runs finds the job held and is dropped.
    runner = world.runner()
    assert runner.run_step(CHANNEL_ID, "s", job.job_id, budget(5)) is StepOutcome.BUSY
    world.now = T0 + LEASE + timedelta(seconds=1)
    world.queue.steps.append(step)
    run_to_the_end(world, runner, pages=5)

    done = world.job(job)
    assert done.status == "done" and done.counts.outcomes == {"enrolled": 25}
    assert (done.counts.walked, done.counts.matched) == (33, 25)
    assert world.entries(world.vips) == dict.fromkeys(world.vips, 1)
    # Every friend enrolled as of the request, also those enrolled after the takeover.
    enrollments = world.container.enrollments.get_many(CHANNEL_ID, "s", world.vips)
    assert {e.enrolled_at for e in enrollments.values()} == {"2026-12-01T01:00:10.123+00:00"}


def test_a_job_whose_scenario_was_paused_or_segment_broken_meanwhile_fails_with_the_reason(
    world: World,
) -> None:
    applied(world)
    paused = world.service.enroll_segment(CHANNEL_ID, "s", VIP)
    broken = world.service.enroll_segment(CHANNEL_ID, "s", VIP)
    runner = world.runner()
    assert runner.run_step(CHANNEL_ID, "s", paused.job_id, budget(1)) is StepOutcome.CONTINUE
    world.service.set_status(CHANNEL_ID, "s", "paused")
    assert runner.run_step(CHANNEL_ID, "s", paused.job_id, budget(1)) is StepOutcome.FAILED
    failed = world.job(paused)
    assert failed.status == "failed" and failed.counts.walked == 4
    assert failed.reason == (
        "scenario s is paused: the friends after 4 walked were not enrolled "
        "(resume it and enrol again)"
    )

    world.service.set_status(CHANNEL_ID, "s", "active")
    world.container.channel_config.delete_tag(CHANNEL_ID, Tag(tag_id="vip", name="VIP"))
    assert runner.run_step(CHANNEL_ID, "s", broken.job_id, budget(1)) is StepOutcome.FAILED
    reason = world.job(broken).reason
    assert reason is not None and "VIP" in reason and "segment.match" in reason
    # A failed job stays failed; its steps do nothing more.
    runner.fail(CHANNEL_ID, "s", broken.job_id, "later")
    assert world.job(broken).reason == reason
    assert runner.run_step(CHANNEL_ID, "s", broken.job_id, budget(1)) is StepOutcome.FINISHED


def test_the_request_is_checked_before_a_job_is_stored(world: World) -> None:
    with pytest.raises(ScenarioMissing):
        world.service.enroll_segment(CHANNEL_ID, "s", VIP)
    applied(world)
    with pytest.raises(ScenarioRejected) as rejected:
        world.service.enroll_segment(CHANNEL_ID, "s", {"match": {"tag": "存在しない"}})
    assert rejected.value.problems[0].path.startswith("segment.match")
    world.service.set_status(CHANNEL_ID, "s", "paused")
    with pytest.raises(ScenarioNotActive, match="resume it first"):
        world.service.enroll_segment(CHANNEL_ID, "s", VIP)
    assert world.queue.steps == []
    with pytest.raises(EnrollmentJobNotFound, match="no enrolment job nope for scenario 's'"):
        world.service.enrollment_job(CHANNEL_ID, "s", "nope")


def sqs_record(step: dict[str, Any], receive_count: int = 1) -> dict[str, Any]:
    return {
        "messageId": "m-1",
        "receiptHandle": "rh-1",
        "body": json.dumps(step),
        "attributes": {"ApproximateReceiveCount": str(receive_count)},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:ap-northeast-1:123456789012:{JOB_QUEUE.local_name}",
        "awsRegion": "ap-northeast-1",
    }


def queued_job_steps(aws: AwsWorld) -> list[dict[str, Any]]:
    sqs = aws.client("sqs")
    url = aws.resources.queue_urls[JOB_QUEUE.logical_id]
    found: list[dict[str, Any]] = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
        found.extend(json.loads(message["Body"]) for message in batch)
    return found


def test_the_jobs_function_runs_the_steps_and_fails_a_job_that_keeps_failing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    applied(world)
    monkeypatch.setenv("LINECRM_IMPORT_CHUNKS_PER_STEP", "1")
    admin_side = Container(JobsSettings.from_env(), clock=lambda: world.now).scenario_service
    job = admin_side.enroll_segment(CHANNEL_ID, "s", VIP)
    jobs = load_handler("jobs")
    context = FakeLambdaContext(timeout_ms=120_000)
    # One page of 1,000 per step: the 33 friends take one step; the step is queued.
    (step,) = queued_job_steps(world.aws)
    assert step == {
        "kind": "scenario_enroll",
        "channel_id": CHANNEL_ID,
        "scenario_id": "s",
        "job_id": job.job_id,
    }
    assert jobs.lambda_handler({"Records": [sqs_record(step)]}, context) == {
        "batchItemFailures": []
    }
    done = world.job(job)
    assert done.status == "done" and done.counts.outcomes == {"enrolled": 25}
    assert queued_job_steps(world.aws) == []

    # A step that raises comes back; on the queue's last receive the job fails.
    stuck = admin_side.enroll_segment(CHANNEL_ID, "s", VIP)
    (step,) = queued_job_steps(world.aws)

    def broken_page(*args: Any) -> Any:
        raise RuntimeError("DynamoDB is having a bad day")

    monkeypatch.setattr("linecrm.repositories.friends.FriendRepository.page_after", broken_page)
    first = jobs.lambda_handler({"Records": [sqs_record(step)]}, context)
    assert first == {"batchItemFailures": [{"itemIdentifier": "m-1"}]}
    assert world.job(stuck).status == "running"
    last = sqs_record(step, receive_count=JOB_QUEUE.max_receive_count)
    assert jobs.lambda_handler({"Records": [last]}, context) == {
        "batchItemFailures": [{"itemIdentifier": "m-1"}]
    }
    failed = world.job(stuck)
    assert failed.status == "failed"
    assert failed.reason == "gave up after 5 tries: DynamoDB is having a bad day"


def test_jobs_are_stored_under_their_scenario(world: World) -> None:
    applied(world)
    job = world.service.enroll_segment(CHANNEL_ID, "s", VIP)
    repository = EnrollmentJobRepository(
        world.aws.client("dynamodb"), world.aws.resources.table_names["Main"]
    )
    assert repository.get(CHANNEL_ID, "s", job.job_id) == job
    assert repository.get(CHANNEL_ID, "other", job.job_id) is None
