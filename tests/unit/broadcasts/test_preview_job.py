"""A broadcast preview of a big channel runs as a job: the request counts the first
friends, a job step counts the rest, and the result equals a preview counted at once."""

from __future__ import annotations

from typing import Any

import pytest

from linecrm.broadcasts.service import (
    BroadcastPreview,
    BroadcastRequest,
    BroadcastService,
    PreviewJobStatus,
    PreviewNotFound,
)
from linecrm.domain.broadcasts import PreviewStep
from linecrm.domain.tags import Tag
from linecrm.jobs import StepBudget, StepOutcome
from linecrm.repositories.previews import PreviewStore
from linecrm.resources import JOB_QUEUE
from tests.support.lambda_support import FakeLambdaContext, load_handler
from tests.unit.broadcasts.test_planner_and_service import NOW, SALE, World
from tests.unit.broadcasts.test_planner_and_service import world as world
from tests.unit.conftest import CHANNEL_ID

REQUEST = BroadcastRequest(name="vip", messages=SALE, segment={"match": {"tag": "VIP"}})


class Steps:
    def __init__(self) -> None:
        self.steps: list[Any] = []

    def send_step(self, step: Any) -> None:
        self.steps.append(step)


def service(world: World, steps: Steps, inline: int) -> BroadcastService:
    table = world.aws.resources.table_names["Main"]
    return BroadcastService(
        world.broadcasts,
        world.ledger,
        world.friends,
        world.config.load,
        world.config,
        lambda: steps,
        lambda: world.schedules,
        lambda: NOW,
        previews=PreviewStore(world.aws.client("dynamodb"), table),
        inline_preview_friends=inline,
    )


def budget(pages: int) -> StepBudget:
    return StepBudget(lambda: 120_000, max_chunks=pages)


@pytest.fixture
def channel(world: World) -> World:
    world.config.create_tag(CHANNEL_ID, Tag(tag_id="vip", name="VIP"))
    world.add_friends(30, tags=("vip",))
    world.add_friends(25)
    world.add_friends(5, status="blocked", tags=("vip",))
    return world


def test_a_channel_within_the_inline_limit_is_previewed_at_once(channel: World) -> None:
    steps = Steps()
    preview = service(channel, steps, inline=60).preview(CHANNEL_ID, REQUEST)
    assert isinstance(preview, BroadcastPreview)
    assert (preview.recipients, preview.friends_considered) == (30, 60)
    assert steps.steps == []


def test_a_bigger_channel_continues_as_a_job_with_the_same_result(
    channel: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("linecrm.broadcasts.service.PREVIEW_PAGE_SIZE", 7)
    at_once = service(channel, Steps(), inline=1000).preview(CHANNEL_ID, REQUEST)
    steps = Steps()
    previews = service(channel, steps, inline=20)

    started = previews.preview(CHANNEL_ID, REQUEST)
    assert isinstance(started, PreviewJobStatus)
    assert (started.status, started.friends_considered, started.result) == ("running", 20, None)
    assert steps.steps == [PreviewStep(channel_id=CHANNEL_ID, preview_id=started.preview_id)]

    # Each step counts two pages of 7, then queues the next step: 20 + 14 + 14 + 12.
    progress, outcomes = [], []
    while steps.steps:
        step = steps.steps.pop()
        outcomes.append(previews.run_preview_step(step.channel_id, step.preview_id, budget(2)))
        progress.append(previews.preview_job(CHANNEL_ID, started.preview_id).friends_considered)
    assert progress == [34, 48, 60]
    assert outcomes == [StepOutcome.CONTINUE, StepOutcome.CONTINUE, StepOutcome.DONE]
    assert previews.run_preview_step(CHANNEL_ID, started.preview_id, budget(1)) is (
        StepOutcome.FINISHED
    )
    done = previews.preview_job(CHANNEL_ID, started.preview_id)
    assert done.status == "done"
    assert done.result == at_once


def test_a_preview_whose_tag_was_deleted_meanwhile_fails_with_the_reason(
    channel: World,
) -> None:
    steps = Steps()
    previews = service(channel, steps, inline=20)
    started = previews.preview(CHANNEL_ID, REQUEST)
    assert isinstance(started, PreviewJobStatus)
    channel.config.delete_tag(CHANNEL_ID, Tag(tag_id="vip", name="VIP"))
    outcome = previews.run_preview_step(CHANNEL_ID, started.preview_id, budget(1))
    assert outcome is StepOutcome.FAILED
    failed = previews.preview_job(CHANNEL_ID, started.preview_id)
    assert failed.status == "failed" and failed.reason and "VIP" in failed.reason


def test_an_unknown_preview_is_not_found(channel: World) -> None:
    with pytest.raises(PreviewNotFound):
        service(channel, Steps(), inline=20).preview_job(CHANNEL_ID, "nope")


def test_the_jobs_function_runs_a_preview_step_to_the_end(channel: World) -> None:
    at_once = service(channel, Steps(), inline=1000).preview(CHANNEL_ID, REQUEST)
    steps = Steps()
    started = service(channel, steps, inline=20).preview(CHANNEL_ID, REQUEST)
    assert isinstance(started, PreviewJobStatus)
    (step,) = steps.steps
    record = {
        "messageId": "m-1",
        "receiptHandle": "rh-1",
        "body": step.model_dump_json(),
        "attributes": {"ApproximateReceiveCount": "1"},
        "messageAttributes": {},
        "md5OfBody": "",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:ap-northeast-1:123456789012:{JOB_QUEUE.local_name}",
        "awsRegion": "ap-northeast-1",
    }
    jobs = load_handler("jobs")
    result = jobs.lambda_handler({"Records": [record]}, FakeLambdaContext(timeout_ms=120_000))
    assert result == {"batchItemFailures": []}
    done = service(channel, Steps(), inline=20).preview_job(CHANNEL_ID, started.preview_id)
    assert done.status == "done"
    assert done.result == at_once
