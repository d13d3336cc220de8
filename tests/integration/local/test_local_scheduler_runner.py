from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from linecrm_local.aws_local import LocalAws
from linecrm_local.clock import MovableClock
from linecrm_local.lambda_runtime import LocalFunctions
from linecrm_local.scheduler_runner import SchedulerRunner, parse_at_expression

from .conftest import Journal

pytestmark = pytest.mark.integration

GROUP = "tests"
ROLE = "arn:aws:iam::123456789012:role/scheduler"
NOW = datetime(2031, 5, 1, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def scheduler(clean_aws: LocalAws) -> Any:
    client = boto3.client("scheduler")
    client.create_schedule_group(Name=GROUP)
    return client


@pytest.fixture
def sqs(clean_aws: LocalAws) -> Any:
    return boto3.client("sqs")


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(NOW)


@pytest.fixture
def runner(scheduler: Any, functions: LocalFunctions, clock: MovableClock) -> SchedulerRunner:
    return SchedulerRunner(functions, clock, group_name=GROUP, retry_delay_seconds=0.001)


def at(moment: datetime) -> str:
    return f"at({moment.strftime('%Y-%m-%dT%H:%M:%S')})"


def create(
    scheduler: Any, name: str, expression: str, target: dict[str, Any], **extra: Any
) -> None:
    scheduler.create_schedule(
        Name=name,
        GroupName=GROUP,
        ScheduleExpression=expression,
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"RoleArn": ROLE, **target},
        **extra,
    )


def names(scheduler: Any) -> list[str]:
    return [s["Name"] for s in scheduler.list_schedules(GroupName=GROUP)["Schedules"]]


def queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def test_parses_at_expressions_in_their_time_zone() -> None:
    assert parse_at_expression("at(2031-05-01T09:00:00)", "Asia/Tokyo") == datetime(
        2031, 5, 1, 0, 0, tzinfo=UTC
    )
    assert parse_at_expression("at(2031-05-01T09:00:00)", None) == datetime(
        2031, 5, 1, 9, 0, tzinfo=UTC
    )
    assert parse_at_expression("rate(5 minutes)", "UTC") is None


def test_fires_once_due_on_the_moved_clock_and_deletes_it(
    scheduler: Any,
    runner: SchedulerRunner,
    functions: LocalFunctions,
    clock: MovableClock,
    journal: Journal,
) -> None:
    job = {"job_id": "j1", "steps": [1, 2]}
    create(
        scheduler,
        "send-j1",
        at(NOW + timedelta(minutes=30)),
        {"Arn": functions.arn_of("job"), "Input": json.dumps(job)},
        ActionAfterCompletion="DELETE",
    )

    assert runner.run_due() == []
    clock.advance(timedelta(minutes=29))
    assert runner.run_due() == []
    assert journal.entries() == []

    clock.advance(timedelta(minutes=2))
    fired = runner.run_due()

    assert [(f.name, f.succeeded, f.attempts) for f in fired] == [("send-j1", True, 1)]
    assert [e["event"] for e in journal.entries("job")] == [job]  # Input, as is
    assert names(scheduler) == []
    assert runner.run_due() == []


def test_a_kept_schedule_never_fires_twice(
    scheduler: Any, runner: SchedulerRunner, functions: LocalFunctions, journal: Journal
) -> None:
    create(
        scheduler,
        "keep",
        at(NOW - timedelta(minutes=1)),
        {"Arn": functions.arn_of("job"), "Input": "{}"},
        ActionAfterCompletion="NONE",
    )

    assert len(runner.run_due()) == 1
    assert runner.run_due() == []
    assert names(scheduler) == ["keep"]
    assert len(journal.entries("job")) == 1


def test_the_schedule_time_zone_decides_when_it_is_due(
    scheduler: Any,
    runner: SchedulerRunner,
    functions: LocalFunctions,
    clock: MovableClock,
    journal: Journal,
) -> None:
    tokyo_wall_clock = (NOW + timedelta(hours=9, minutes=10)).replace(tzinfo=None)
    create(
        scheduler,
        "tokyo",
        f"at({tokyo_wall_clock.isoformat(timespec='seconds')})",
        {"Arn": functions.arn_of("job"), "Input": "{}"},
        ScheduleExpressionTimezone="Asia/Tokyo",
    )

    assert runner.run_due() == []
    clock.advance(timedelta(minutes=11))
    assert len(runner.run_due()) == 1


def test_retries_per_policy_then_dead_letters_with_the_error(
    scheduler: Any,
    sqs: Any,
    runner: SchedulerRunner,
    functions: LocalFunctions,
    journal: Journal,
) -> None:
    dlq_url, dlq_arn = queue(sqs, "schedule-dlq")
    create(
        scheduler,
        "failing",
        at(NOW),
        {
            "Arn": functions.arn_of("job"),
            "Input": json.dumps({"outcome": "raise"}),
            "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 60},
            "DeadLetterConfig": {"Arn": dlq_arn},
        },
        ActionAfterCompletion="DELETE",
    )

    (firing,) = runner.run_due()

    assert (firing.succeeded, firing.attempts, firing.dead_lettered) == (False, 3, True)
    assert len(journal.entries("job")) == 3
    messages = sqs.receive_message(QueueUrl=dlq_url, MessageAttributeNames=["All"])["Messages"]
    assert json.loads(messages[0]["Body"]) == {"outcome": "raise"}
    attributes = messages[0]["MessageAttributes"]
    assert attributes["ERROR_CODE"]["StringValue"] == "RuntimeError"
    assert attributes["ERROR_MESSAGE"]["StringValue"] == "target failed"
    assert attributes["RETRY_ATTEMPTS"]["StringValue"] == "2"
    assert attributes["TARGET_ARN"]["StringValue"] == functions.arn_of("job")
    assert names(scheduler) == []  # completed, even though it failed


def test_a_failure_without_dlq_is_logged(
    scheduler: Any,
    runner: SchedulerRunner,
    functions: LocalFunctions,
    journal: Journal,
    caplog: pytest.LogCaptureFixture,
) -> None:
    create(
        scheduler,
        "lost",
        at(NOW),
        {
            "Arn": functions.arn_of("job"),
            "Input": json.dumps({"outcome": "raise"}),
            "RetryPolicy": {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60},
        },
    )
    with caplog.at_level(logging.ERROR, logger="linecrm_local.scheduler_runner"):
        (firing,) = runner.run_due()

    assert (firing.attempts, firing.dead_lettered) == (1, False)
    assert "no dead-letter queue" in caplog.text


def test_an_sqs_target_gets_the_input_as_message_body(
    scheduler: Any, sqs: Any, runner: SchedulerRunner
) -> None:
    url, arn = queue(sqs, "target-queue")
    create(scheduler, "to-queue", at(NOW), {"Arn": arn, "Input": '{"send": 1}'})

    runner.run_due()

    (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
    assert message["Body"] == '{"send": 1}'


def test_disabled_recurring_and_ended_schedules_do_not_fire(
    scheduler: Any,
    runner: SchedulerRunner,
    functions: LocalFunctions,
    clock: MovableClock,
    journal: Journal,
    caplog: pytest.LogCaptureFixture,
) -> None:
    target = {"Arn": functions.arn_of("job"), "Input": "{}"}
    create(scheduler, "disabled", at(NOW), target, State="DISABLED")
    create(scheduler, "recurring", "rate(1 minute)", target)
    create(
        scheduler, "ended", at(NOW + timedelta(hours=2)), target, EndDate=NOW + timedelta(hours=1)
    )
    create(scheduler, "later", at(NOW), target, StartDate=NOW + timedelta(hours=3))

    with caplog.at_level(logging.WARNING, logger="linecrm_local.scheduler_runner"):
        assert runner.run_due() == []
        clock.advance(timedelta(hours=2, minutes=1))
        assert runner.run_due() == []

    assert caplog.text.count("not supported locally") == 1
    assert journal.entries() == []
    clock.advance(timedelta(hours=1))
    assert [f.name for f in runner.run_due()] == ["later"]


def test_the_background_thread_fires_due_schedules(
    scheduler: Any, functions: LocalFunctions, clock: MovableClock, journal: Journal
) -> None:
    runner = SchedulerRunner(functions, clock, group_name=GROUP, tick_seconds=0.05)
    create(scheduler, "soon", at(NOW + timedelta(seconds=60)), {"Arn": functions.arn_of("job")})
    runner.start()
    try:
        time.sleep(0.2)
        assert journal.entries() == []
        clock.advance(timedelta(seconds=61))
        deadline = time.monotonic() + 5
        while not journal.entries() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        runner.stop()

    assert [e["event"] for e in journal.entries("job")] == [{}]
