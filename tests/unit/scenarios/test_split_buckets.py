"""Big buckets: a bucket of more than PART_SIZE enrolments is split into parts fired on
the job queue; each part is idempotent on its own, one multicast per part for identical
content, and a part whose message is lost is queued again by the sweeper.

PART_SIZE is made 3 here, so 8 friends are three parts (3, 3, 2)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from linecrm.models.jobs import FireScenarioStep
from linecrm.scenarios import engine as engine_module
from tests.unit.conftest import CHANNEL_ID, AwsWorld
from tests.unit.scenarios.test_engine import MINUTE_1, World, scenario

USERS = [f"U{index:032x}" for index in range(1, 9)]


@pytest.fixture
def world(aws: AwsWorld, monkeypatch: pytest.MonkeyPatch) -> World:
    monkeypatch.setattr(engine_module, "PART_SIZE", 3)
    world = World(aws)
    world.service.apply(CHANNEL_ID, "s", scenario(), dry_run=False)
    for user_id in USERS:
        world.follow(user_id)
    return world


def queued_parts(aws: AwsWorld) -> list[FireScenarioStep]:
    """The scenario parts on the job queue (received: they leave the queue)."""
    sqs = aws.client("sqs")
    url = aws.resources.queue_urls["JobQueue"]
    found: list[FireScenarioStep] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return sorted(found, key=lambda job: job.job_id)
        for message in batch:
            body: dict[str, Any] = json.loads(message["Body"])
            if body.get("kind") == "scenario_step":
                found.append(FireScenarioStep.model_validate(body))


def test_a_big_bucket_is_split_into_parts_each_one_multicast(world: World) -> None:
    bucket = world.job("hello", MINUTE_1)

    assert world.fire_at(bucket, MINUTE_1) == {"outcome": "split", "parts": 3}
    parts = queued_parts(world.aws)
    assert [(p.part.first, p.part.last) for p in parts if p.part] == [
        (USERS[0], USERS[2]),
        (USERS[3], USERS[5]),
        (USERS[6], USERS[7]),
    ]
    assert world.sends() == []  # the bucket itself sends nothing
    assert world.fire_at(bucket, MINUTE_1)["outcome"] == "already_done"
    assert queued_parts(world.aws) == []  # and queues nothing again

    reports = [world.fire_at(part, MINUTE_1) for part in parts]
    assert [r["sent"] for r in reports] == [3, 3, 2]
    assert sorted(world.sends()) == [
        (USERS[0:3], "ようこそ"),
        (USERS[3:6], "ようこそ"),
        (USERS[6:8], "ようこそ"),
    ]
    # Each part is idempotent: a second delivery of its message sends nothing.
    assert world.fire_at(parts[0], MINUTE_1)["outcome"] == "already_done"
    assert world.sends() == []
    counters = world.counters()
    assert counters["hello"]["sent"] == 8
    assert counters["nudge"]["due"] == 8


def test_a_crash_after_planning_the_parts_queues_the_same_parts_on_retry(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    bucket = world.job("hello", MINUTE_1)
    queue = world.container.job_queue

    def unavailable(_steps: Any) -> None:
        raise ConnectionError("SQS unavailable")

    monkeypatch.setattr(queue, "send_steps", unavailable)
    with pytest.raises(ConnectionError):
        world.fire_at(bucket, MINUTE_1)
    monkeypatch.undo()
    # One friend leaves meanwhile: the retry keeps the recorded parts (no new split).
    world.engine.stop(CHANNEL_ID, USERS[4], "s", MINUTE_1)

    assert world.fire_at(bucket, MINUTE_1) == {"outcome": "split", "parts": 3}
    parts = queued_parts(world.aws)
    assert [r["sent"] for r in (world.fire_at(p, MINUTE_1) for p in parts)] == [3, 2, 2]
    assert sum(len(to) for to, _ in world.sends()) == 7


def test_the_sweeper_queues_again_a_part_whose_message_was_lost(world: World) -> None:
    bucket = world.job("hello", MINUTE_1)
    world.fire_at(bucket, MINUTE_1)
    lost = queued_parts(world.aws)  # received and dropped: as if the messages were lost
    world.fire_at(lost[1], MINUTE_1)  # one part did run

    world.now = MINUTE_1 + timedelta(minutes=10)
    report = world.engine.sweep().as_dict()

    assert report["bucket:part_queued"] == 2
    again = queued_parts(world.aws)
    assert [p.job_id for p in again] == [lost[0].job_id, lost[2].job_id]
    for part in again:
        world.fire_at(part, world.now)
    assert sum(len(to) for to, _ in world.sends()) == 8
    assert world.engine.sweep().as_dict() == {"outcome": "swept"}  # nothing left


def test_a_sent_steps_actions_run_once_when_two_copies_of_a_fire_race(
    aws: AwsWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two copies of one fire (a redelivered part) read the same pending enrolments;
    only the copy whose moves apply runs the step's actions."""
    world = World(aws)
    tagged = scenario()
    tagged["steps"][0]["actions"] = [{"type": "add_tags", "tags": ["購入者"]}]
    world.service.apply(CHANNEL_ID, "s", tagged, dry_run=False)
    for user_id in USERS[:2]:
        world.follow(user_id)
    runs: list[str] = []
    runner = world.container.action_runner
    original_run = runner.run

    def counting(context: Any, *args: Any, **kwargs: Any) -> Any:
        runs.append(context.user_id)
        return original_run(context, *args, **kwargs)

    monkeypatch.setattr(runner, "run", counting)
    enrollments = world.container.enrollments
    original_write_many = enrollments.write_many
    raced: list[Any] = []
    started: list[bool] = []

    def write_after_the_other_copy(updates: Any) -> Any:
        if not started:  # the first copy is about to write: the second one runs first
            started.append(True)
            raced.append(world.engine.fire(bucket).as_dict())
        return original_write_many(updates)

    monkeypatch.setattr(enrollments, "write_many", write_after_the_other_copy)
    bucket = world.job("hello", MINUTE_1)
    world.now = MINUTE_1

    first = world.engine.fire(bucket).as_dict()

    assert raced[0]["sent"] == 2  # the copy that wrote first moved both
    assert first.get("sent", 0) == 0 and first["stale"] == 2  # this one moved none
    assert sorted(runs) == USERS[:2]  # each friend's actions ran once
