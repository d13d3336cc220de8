"""Scheduled fires that finally failed end dead in the ledger (or the broadcast failed),
from Lambda's invocation record or Scheduler's dead letter."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from linecrm.delivery.failed_fires import (
    FailedFire,
    FailedFires,
    UnreadableFailure,
    parse_failed_fire,
)
from linecrm.domain.deliveries import DeliveryStatus
from linecrm.models.jobs import ScheduledSend, StartBroadcast
from linecrm.models.send import SendRequest
from linecrm.repositories.broadcasts import BroadcastRepository
from linecrm.repositories.deliveries import DeliveryLedger
from linecrm.resources import SCHEDULED_FIRES_DEAD_METRIC
from tests.support.lambda_support import FakeLambdaContext, load_handler
from tests.unit.conftest import CHANNEL_ID, AwsWorld

NOW = datetime(2031, 5, 1, 12, 0, tzinfo=UTC)


def job(delivery_id: str = "reminder:1") -> ScheduledSend:
    return ScheduledSend(
        job_id=f"{delivery_id}@20310501T120000",
        request=SendRequest(
            delivery_id=delivery_id,
            channel_id=CHANNEL_ID,
            to=["U" + "0" * 32],
            messages=[{"type": "text", "text": "hi"}],
            cause="trigger",
        ),
    )


def lambda_record(payload: Any, *, condition: str = "RetriesExhausted") -> str:
    return json.dumps(
        {
            "version": "1.0",
            "timestamp": "2031-05-01T12:03:00.000Z",
            "requestContext": {
                "requestId": "r-1",
                "functionArn": "arn:aws:lambda:ap-northeast-1:1:function:linecrm-scheduler:$LATEST",
                "condition": condition,
                "approximateInvokeCount": 3,
            },
            "requestPayload": payload,
            "responseContext": {"statusCode": 200, "functionError": "Unhandled"},
            "responsePayload": {"errorType": "RuntimeError", "errorMessage": "table throttled"},
        }
    )


SCHEDULER_ATTRIBUTES = {
    "ERROR_CODE": "TooManyRequestsException",
    "ERROR_MESSAGE": "Rate Exceeded.",
    "EXHAUSTED_RETRY_CONDITION": "MaximumEventAgeInSeconds",
    "RETRY_ATTEMPTS": "40",
}


def test_reads_lambdas_invocation_record() -> None:
    failure = parse_failed_fire(lambda_record(job().model_dump(mode="json")), {})
    assert failure.job == job()
    assert failure.reason == (
        "scheduled fire failed (RetriesExhausted after 3 attempt(s)): RuntimeError: table throttled"
    )


def test_reads_schedulers_dead_letter() -> None:
    failure = parse_failed_fire(job().model_dump_json(), SCHEDULER_ATTRIBUTES)
    assert failure.job == job()
    assert failure.reason == (
        "Scheduler could not invoke the scheduler function (MaximumEventAgeInSeconds, 40 "
        "retries): TooManyRequestsException: Rate Exceeded."
    )


@pytest.mark.parametrize(
    "body",
    ["not json", "[1]", json.dumps({"kind": "send"}), lambda_record({"kind": "nope"})],
)
def test_an_unreadable_message_is_refused(body: str) -> None:
    with pytest.raises(UnreadableFailure):
        parse_failed_fire(body, {})


@pytest.fixture
def ledger(aws: AwsWorld) -> DeliveryLedger:
    return DeliveryLedger(aws.client("dynamodb"), aws.resources.table_names["Main"])


@pytest.fixture
def fires(aws: AwsWorld, ledger: DeliveryLedger) -> FailedFires:
    broadcasts = BroadcastRepository(aws.client("dynamodb"), aws.resources.table_names["Main"])
    return FailedFires(ledger, broadcasts, lambda: NOW)


def test_a_deferred_delivery_ends_dead_with_the_reason(
    ledger: DeliveryLedger, fires: FailedFires
) -> None:
    ledger.record_deferred(job().request, NOW, "quiet hours", NOW)

    assert fires.record(FailedFire(job(), "it failed")) == "dead"

    dead = ledger.get("reminder:1")
    assert dead is not None
    assert (dead.status, dead.reason) == (DeliveryStatus.DEAD, "it failed")
    assert (  # re-drivable
        ledger.redrive("reminder:1", NOW, first_attempt_at=NOW, previous_reason=dead.reason)
        is not None
    )


def test_a_delivery_without_a_row_gets_one_and_ends_dead(
    ledger: DeliveryLedger, fires: FailedFires
) -> None:
    assert fires.record(FailedFire(job("lost:1"), "it failed")) == "dead"
    assert ledger.get("lost:1").status is DeliveryStatus.DEAD  # type: ignore[union-attr]


def test_a_delivery_sent_meanwhile_stays_sent(ledger: DeliveryLedger, fires: FailedFires) -> None:
    ledger.record_queued(job().request, NOW)
    ledger.mark_sent("reminder:1", "line-req", NOW)

    assert fires.record(FailedFire(job(), "it failed")) == "already_finished"
    assert ledger.get("reminder:1").status is DeliveryStatus.SENT  # type: ignore[union-attr]


def test_a_broadcast_that_never_started_fails_with_the_reason(
    aws: AwsWorld, fires: FailedFires
) -> None:
    from linecrm.domain.broadcasts import Broadcast

    broadcasts = BroadcastRepository(aws.client("dynamodb"), aws.resources.table_names["Main"])
    broadcasts.create(
        Broadcast(
            broadcast_id="b-1",
            channel_id=CHANNEL_ID,
            name="sale",
            messages=[{"type": "text", "text": "sale"}],
            send_at=NOW,
            created_at=NOW,
            updated_at=NOW,
        )
    )
    start = StartBroadcast(job_id="bc:b-1", channel_id=CHANNEL_ID, broadcast_id="b-1")

    assert fires.record(FailedFire(start, "it failed")) == "broadcast_failed"
    failed = broadcasts.get(CHANNEL_ID, "b-1")
    assert failed is not None and (failed.status, failed.reason) == ("failed", "it failed")
    assert fires.record(FailedFire(start, "again")) == "already_finished"


def test_the_handler_marks_dead_and_counts_the_metric(
    aws: AwsWorld, ledger: DeliveryLedger, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = load_handler("schedule_failures")
    ledger.record_deferred(job().request, NOW, "quiet hours", NOW)
    records = [
        {
            "messageId": "m-1",
            "receiptHandle": "h-1",
            "body": lambda_record(job().model_dump(mode="json")),
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:ap-northeast-1:123456789012:failures",
            "awsRegion": "ap-northeast-1",
        },
        {
            "messageId": "m-2",
            "receiptHandle": "h-2",
            "body": "garbage",
            "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {},
            "md5OfBody": "",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:ap-northeast-1:123456789012:failures",
            "awsRegion": "ap-northeast-1",
        },
    ]

    result = handler.lambda_handler({"Records": records}, FakeLambdaContext())

    assert result == {"batchItemFailures": [{"itemIdentifier": "m-2"}]}
    dead = ledger.get("reminder:1")
    assert dead is not None and dead.status is DeliveryStatus.DEAD
    assert "RetriesExhausted" in (dead.reason or "")
    assert SCHEDULED_FIRES_DEAD_METRIC in capsys.readouterr().out
