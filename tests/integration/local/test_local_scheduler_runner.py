from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from linecrm.resources import AsyncInvocation, QueueDefinition
from linecrm_local.async_invoke import AsyncInvoker
from linecrm_local.aws_calls import count_aws_calls
from linecrm_local.aws_local import LocalAws
from linecrm_local.clock import MovableClock
from linecrm_local.lambda_runtime import LocalFunctions
from linecrm_local.scheduler_runner import (
    SchedulerRunner,
    parse_at_expression,
    parse_rate_expression,
)

from .conftest import JOB, Journal

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


# The fixture job function's on-failure destination (what the CDK would configure).
FAILURES = QueueDefinition(
    "JobFailures",
    consumer=JOB,
    max_receive_count=1,
    batch_size=1,
    max_batching_window_seconds=0,
    max_concurrency=2,
)


@pytest.fixture
def destination(sqs: Any) -> tuple[str, str]:
    return queue(sqs, "job-failures")


@pytest.fixture
def invoker(functions: LocalFunctions, destination: tuple[str, str]) -> Iterator[AsyncInvoker]:
    invoker = AsyncInvoker(
        functions,
        destinations={"job": destination[0]},
        configs={"job": AsyncInvocation(JOB, on_failure=FAILURES)},
    )
    invoker.start()
    yield invoker
    invoker.stop()


@pytest.fixture
def runner(
    scheduler: Any, functions: LocalFunctions, clock: MovableClock, invoker: AsyncInvoker
) -> SchedulerRunner:
    return SchedulerRunner(
        functions, clock, invoker=invoker, group_name=GROUP, retry_delay_seconds=0.001
    )


def received(sqs: Any, url: str) -> list[dict[str, Any]]:
    messages = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )
    return list(messages.get("Messages", []))


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
    runner.invoker.drain()

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
    runner.invoker.drain()
    assert names(scheduler) == ["keep"]
    assert len(journal.entries("job")) == 1


def test_a_rate_schedule_fires_every_period_and_once_after_a_jump(
    scheduler: Any,
    runner: SchedulerRunner,
    functions: LocalFunctions,
    clock: MovableClock,
    journal: Journal,
) -> None:
    create(
        scheduler,
        "sweeper",
        "rate(5 minutes)",
        {"Arn": functions.arn_of("job"), "Input": '{"kind": "sweep"}'},
    )

    assert runner.run_due() == []  # first seen: due one period from now
    clock.advance(timedelta(minutes=4, seconds=59))
    assert runner.run_due() == []
    clock.advance(timedelta(seconds=2))
    assert [f.name for f in runner.run_due()] == ["sweeper"]
    assert runner.run_due() == []  # not again within the period
    clock.advance(timedelta(days=2))  # 576 periods: one firing, as Scheduler does
    assert len(runner.run_due()) == 1
    assert runner.run_due() == []
    clock.advance(timedelta(minutes=5))
    assert len(runner.run_due()) == 1
    runner.invoker.drain()
    assert [e["event"] for e in journal.entries("job")] == [{"kind": "sweep"}] * 3
    assert names(scheduler) == ["sweeper"]  # recurring: kept


@pytest.mark.parametrize(
    ("expression", "period"),
    [
        ("rate(1 minute)", timedelta(minutes=1)),
        ("rate(5 minutes)", timedelta(minutes=5)),
        ("rate(2 hours)", timedelta(hours=2)),
        ("rate(1 day)", timedelta(days=1)),
        ("rate(1 minutes)", None),  # Scheduler's grammar: singular for 1
        ("rate(5 minute)", None),
        ("rate(0 minutes)", None),
        ("cron(0 * * * ? *)", None),
    ],
)
def test_rate_expressions(expression: str, period: timedelta | None) -> None:
    assert parse_rate_expression(expression) == period


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


def test_a_failing_function_gets_lambdas_two_retries_then_its_destination(
    scheduler: Any,
    sqs: Any,
    runner: SchedulerRunner,
    functions: LocalFunctions,
    journal: Journal,
    destination: tuple[str, str],
) -> None:
    dlq_url, dlq_arn = queue(sqs, "schedule-dlq")
    create(
        scheduler,
        "failing",
        at(NOW),
        {
            "Arn": functions.arn_of("job"),
            "Input": json.dumps({"outcome": "raise"}),
            "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 3600},
            "DeadLetterConfig": {"Arn": dlq_arn},
        },
        ActionAfterCompletion="DELETE",
    )

    (firing,) = runner.run_due()
    # Scheduler's part ends when Lambda accepts the event: one attempt, no dead letter.
    assert (firing.succeeded, firing.attempts, firing.dead_lettered) == (True, 1, False)
    assert names(scheduler) == []
    runner.invoker.drain()

    assert len(journal.entries("job")) == 3  # the invocation and Lambda's 2 retries
    (message,) = received(sqs, destination[0])
    record = json.loads(message["Body"])
    assert record["requestContext"]["requestId"] == firing.request_id
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"] == functions.arn_of("job") + ":$LATEST"
    assert record["requestPayload"] == {"outcome": "raise"}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "RuntimeError"
    assert record["responsePayload"]["errorMessage"] == "target failed"
    assert received(sqs, dlq_url) == []  # the schedule's DLQ is for failed hand-overs
    (outcome,) = runner.invoker.outcomes
    assert (outcome.succeeded, outcome.attempts, outcome.sent_to_destination) == (False, 3, True)


def test_an_event_older_than_the_maximum_age_is_not_retried(
    scheduler: Any,
    sqs: Any,
    functions: LocalFunctions,
    clock: MovableClock,
    journal: Journal,
    destination: tuple[str, str],
) -> None:
    # 60 s (the minimum): Lambda's first retry comes a minute later, too old by then.
    invoker = AsyncInvoker(
        functions,
        destinations={"job": destination[0]},
        configs={"job": AsyncInvocation(JOB, max_event_age_seconds=60, on_failure=FAILURES)},
    )
    invoker.start()
    try:
        runner = SchedulerRunner(functions, clock, invoker=invoker, group_name=GROUP)
        create(
            scheduler,
            "old",
            at(NOW),
            {"Arn": functions.arn_of("job"), "Input": json.dumps({"outcome": "raise"})},
        )
        runner.run_due()
        invoker.drain()
    finally:
        invoker.stop()

    assert len(journal.entries("job")) == 1
    (message,) = received(sqs, destination[0])
    context = json.loads(message["Body"])["requestContext"]
    assert (context["condition"], context["approximateInvokeCount"]) == ("EventAgeExceeded", 1)


def test_a_throttled_invoke_is_retried_per_the_schedule_policy_then_dead_lettered(
    scheduler: Any,
    sqs: Any,
    runner: SchedulerRunner,
    functions: LocalFunctions,
    journal: Journal,
) -> None:
    dlq_url, dlq_arn = queue(sqs, "schedule-dlq")
    create(
        scheduler,
        "throttled",
        at(NOW),
        {
            "Arn": functions.arn_of("job"),
            "Input": json.dumps({"outcome": "ok"}),
            "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600},
            "DeadLetterConfig": {"Arn": dlq_arn},
        },
        ActionAfterCompletion="DELETE",
    )
    runner.invoker.refuse_next("job", 10)

    (firing,) = runner.run_due()

    assert (firing.succeeded, firing.attempts, firing.dead_lettered) == (False, 3, True)
    assert journal.entries("job") == []
    (message,) = received(sqs, dlq_url)
    assert json.loads(message["Body"]) == {"outcome": "ok"}
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "TooManyRequestsException"
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert attributes["RETRY_ATTEMPTS"] == "2"
    assert attributes["TARGET_ARN"] == functions.arn_of("job")
    assert names(scheduler) == []  # completed, even though it failed


def test_a_throttle_that_ends_within_the_policy_delivers_once(
    scheduler: Any, runner: SchedulerRunner, functions: LocalFunctions, journal: Journal
) -> None:
    create(
        scheduler,
        "recovers",
        at(NOW),
        {
            "Arn": functions.arn_of("job"),
            "Input": "{}",
            "RetryPolicy": {"MaximumRetryAttempts": 5, "MaximumEventAgeInSeconds": 3600},
        },
    )
    runner.invoker.refuse_next("job", 2)

    (firing,) = runner.run_due()
    runner.invoker.drain()

    assert (firing.succeeded, firing.attempts) == (True, 3)
    assert len(journal.entries("job")) == 1


def test_the_schedule_event_age_limits_the_retries(
    scheduler: Any, sqs: Any, functions: LocalFunctions, clock: MovableClock, invoker: AsyncInvoker
) -> None:
    dlq_url, dlq_arn = queue(sqs, "schedule-dlq")
    # 60 s scaled by 1/1000: 60 ms of 10 ms waits, far fewer than 185 attempts.
    runner = SchedulerRunner(
        functions, clock, invoker=invoker, group_name=GROUP, retry_delay_seconds=0.01
    )
    create(
        scheduler,
        "aging",
        at(NOW),
        {
            "Arn": functions.arn_of("job"),
            "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 60},
            "DeadLetterConfig": {"Arn": dlq_arn},
        },
    )
    invoker.refuse_next("job", 1000)

    (firing,) = runner.run_due()

    assert firing.dead_lettered and 1 < firing.attempts < 186
    (message,) = received(sqs, dlq_url)
    condition = message["MessageAttributes"]["EXHAUSTED_RETRY_CONDITION"]["StringValue"]
    assert condition == "MaximumEventAgeInSeconds"


def test_an_unknown_function_is_not_retried(
    scheduler: Any, sqs: Any, runner: SchedulerRunner, functions: LocalFunctions
) -> None:
    dlq_url, dlq_arn = queue(sqs, "schedule-dlq")
    unknown = functions.arn_of("job").replace("linecrm-job", "linecrm-nope")
    create(
        scheduler,
        "nowhere",
        at(NOW),
        {"Arn": unknown, "Input": "{}", "DeadLetterConfig": {"Arn": dlq_arn}},
    )

    (firing,) = runner.run_due()

    assert (firing.succeeded, firing.attempts, firing.dead_lettered) == (False, 1, True)
    (message,) = received(sqs, dlq_url)
    attributes = message["MessageAttributes"]
    assert attributes["ERROR_CODE"]["StringValue"] == "ResourceNotFoundException"
    assert "EXHAUSTED_RETRY_CONDITION" not in attributes


def test_failures_without_a_dlq_or_destination_are_logged(
    scheduler: Any,
    functions: LocalFunctions,
    clock: MovableClock,
    journal: Journal,
    caplog: pytest.LogCaptureFixture,
) -> None:
    invoker = AsyncInvoker(functions)  # Lambda's defaults: 2 retries, no destination
    invoker.start()
    try:
        runner = SchedulerRunner(
            functions, clock, invoker=invoker, group_name=GROUP, retry_delay_seconds=0.001
        )
        target = {"Arn": functions.arn_of("job"), "Input": json.dumps({"outcome": "raise"})}
        create(scheduler, "lost", at(NOW), {**target, "RetryPolicy": {"MaximumRetryAttempts": 0}})
        with caplog.at_level(logging.ERROR):
            invoker.refuse_next("job", 1)
            (refused,) = runner.run_due()
            create(scheduler, "dropped", at(NOW), target)
            (accepted,) = runner.run_due()
            invoker.drain()
    finally:
        invoker.stop()

    assert (refused.attempts, refused.dead_lettered) == (1, False)
    assert "no dead-letter queue" in caplog.text
    assert accepted.succeeded and len(journal.entries("job")) == 3
    assert "no on-failure destination" in caplog.text


def test_an_sqs_target_gets_the_input_as_message_body(
    scheduler: Any, sqs: Any, runner: SchedulerRunner
) -> None:
    url, arn = queue(sqs, "target-queue")
    create(scheduler, "to-queue", at(NOW), {"Arn": arn, "Input": '{"send": 1}'})

    runner.run_due()

    (message,) = sqs.receive_message(QueueUrl=url)["Messages"]
    assert message["Body"] == '{"send": 1}'


def test_disabled_cron_and_ended_schedules_do_not_fire(
    scheduler: Any,
    runner: SchedulerRunner,
    functions: LocalFunctions,
    clock: MovableClock,
    journal: Journal,
    caplog: pytest.LogCaptureFixture,
) -> None:
    target = {"Arn": functions.arn_of("job"), "Input": "{}"}
    create(scheduler, "disabled", at(NOW), target, State="DISABLED")
    create(scheduler, "disabled-rate", "rate(1 minute)", target, State="DISABLED")
    create(scheduler, "cron", "cron(0 * * * ? *)", target)
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
    scheduler: Any,
    functions: LocalFunctions,
    clock: MovableClock,
    journal: Journal,
    invoker: AsyncInvoker,
) -> None:
    runner = SchedulerRunner(functions, clock, invoker=invoker, group_name=GROUP, tick_seconds=0.05)
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


def test_a_tick_reads_only_new_or_changed_schedules(
    scheduler: Any, runner: SchedulerRunner, functions: LocalFunctions, journal: Journal
) -> None:
    # A scenario keeps hundreds of at() schedules: a tick lists them, and reads one
    # (GetSchedule) only when it is new, changed, or due (to fire what it says now).
    for number in range(5):
        create(
            scheduler,
            f"later-{number}",
            at(NOW + timedelta(days=1)),
            {"Arn": functions.arn_of("job"), "Input": "{}"},
        )
    assert runner.run_due() == []
    with count_aws_calls() as calls:
        assert runner.run_due() == []
    assert calls.by_operation("scheduler") == {"scheduler.ListSchedules": 1}

    scheduler.update_schedule(
        Name="later-2",
        GroupName=GROUP,
        ScheduleExpression=at(NOW - timedelta(minutes=1)),
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"RoleArn": ROLE, "Arn": functions.arn_of("job"), "Input": '{"moved": true}'},
    )
    with count_aws_calls() as calls:
        fired = runner.run_due()
    runner.invoker.drain()
    assert [f.name for f in fired] == ["later-2"]
    assert calls.by_operation("scheduler") == {
        "scheduler.ListSchedules": 1,
        "scheduler.GetSchedule": 1,
    }
    assert [e["event"] for e in journal.entries("job")] == [{"moved": True}]


def test_a_due_schedule_deleted_since_the_last_read_does_not_fire(
    scheduler: Any,
    runner: SchedulerRunner,
    functions: LocalFunctions,
    clock: MovableClock,
    journal: Journal,
) -> None:
    create(
        scheduler,
        "soon",
        at(NOW + timedelta(minutes=5)),
        {"Arn": functions.arn_of("job"), "Input": "{}"},
    )
    assert runner.run_due() == []  # read and remembered
    clock.advance(timedelta(minutes=10))
    listed = runner._list_schedules()
    scheduler.delete_schedule(Name="soon", GroupName=GROUP)
    # Listed before the delete, due by what was read earlier: read again, gone, not fired.
    runner._list_schedules = lambda: listed  # type: ignore[method-assign]
    assert runner.run_due() == []
    runner.invoker.drain()
    assert journal.entries("job") == []
