from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import boto3
import pytest

from linecrm.resources import QueueDefinition
from linecrm_local.aws_calls import count_aws_calls
from linecrm_local.aws_local import LocalAws
from linecrm_local.lambda_runtime import LocalFunctions
from linecrm_local.sqs_poller import PolledQueue, SqsPoller, failed_message_ids

from .conftest import BATCH, SLOW, Journal

pytestmark = pytest.mark.integration

VISIBILITY_SECONDS = 1  # the override tests use; the real queue's is minutes


def definition(**overrides: Any) -> QueueDefinition:
    values: dict[str, Any] = {
        "logical_id": "TestQueue",
        "consumer": BATCH,
        "max_receive_count": 2,
        "batch_size": 5,
        "max_batching_window_seconds": 0,
        "max_concurrency": 2,
    }
    values.update(overrides)
    return QueueDefinition(**values)


class Queues:
    def __init__(self, sqs: Any) -> None:
        self.sqs = sqs

    def create(self, queue_definition: QueueDefinition) -> tuple[PolledQueue, str]:
        dlq_url = self.sqs.create_queue(QueueName=queue_definition.local_dlq_name)["QueueUrl"]
        url = self.sqs.create_queue(
            QueueName=queue_definition.local_name,
            Attributes={
                "VisibilityTimeout": str(VISIBILITY_SECONDS),
                "RedrivePolicy": json.dumps(
                    {
                        "deadLetterTargetArn": self.arn(dlq_url),
                        "maxReceiveCount": queue_definition.max_receive_count,
                    }
                ),
            },
        )["QueueUrl"]
        return PolledQueue(queue_definition, url, self.arn(url)), dlq_url

    def arn(self, url: str) -> str:
        attributes = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return str(attributes["Attributes"]["QueueArn"])

    def send(self, url: str, *bodies: dict[str, Any], **extra: Any) -> list[str]:
        return [
            self.sqs.send_message(QueueUrl=url, MessageBody=json.dumps(body), **extra)["MessageId"]
            for body in bodies
        ]

    def count(self, url: str) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(
            attributes["ApproximateNumberOfMessagesNotVisible"]
        )


@pytest.fixture
def queues(clean_aws: LocalAws) -> Queues:
    return Queues(boto3.client("sqs"))


def poller_for(functions: LocalFunctions, *polled: PolledQueue) -> SqsPoller:
    return SqsPoller(functions, list(polled), poll_interval_seconds=0.02)


def test_a_successful_batch_is_deleted_and_the_event_is_lambdas(
    queues: Queues, functions: LocalFunctions, journal: Journal
) -> None:
    polled, _ = queues.create(definition())
    (message_id,) = queues.send(
        polled.url,
        {"outcome": "ok"},
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "push"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x01\x02"},
        },
    )
    poller = poller_for(functions, polled)

    assert poller.poll_once() == 1

    assert queues.count(polled.url) == 0
    (record,) = journal.entries("batch")[0]["event"]["Records"]
    assert record["messageId"] == message_id
    assert record["body"] == '{"outcome": "ok"}'
    assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == polled.arn
    assert record["awsRegion"] == "ap-northeast-1"
    assert record["receiptHandle"]
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "ApproximateFirstReceiveTimestamp", "SenderId"} <= set(
        record["attributes"]
    )
    assert record["messageAttributes"]["kind"] == {
        "stringValue": "push",
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": "String",
    }
    assert record["messageAttributes"]["blob"]["binaryValue"] == "AQI="
    assert "md5OfMessageAttributes" in record


def test_batch_item_failures_stay_and_return_after_the_visibility_timeout(
    queues: Queues, functions: LocalFunctions, journal: Journal
) -> None:
    polled, _ = queues.create(definition(max_receive_count=5))
    _, failing_id = queues.send(polled.url, {"outcome": "ok"}, {"outcome": "fail"})
    poller = poller_for(functions, polled)

    assert poller.poll_once() == 2
    assert queues.count(polled.url) == 1
    assert poller.poll_once() == 0  # invisible for now

    time.sleep(VISIBILITY_SECONDS + 0.2)
    assert poller.poll_once() == 1

    again = journal.entries("batch")[-1]["event"]["Records"]
    assert [(r["messageId"], r["attributes"]["ApproximateReceiveCount"]) for r in again] == [
        (failing_id, "2")
    ]


@pytest.mark.parametrize("outcome", ["raise", "malformed"])
def test_an_exception_or_malformed_response_fails_the_whole_batch(
    queues: Queues, functions: LocalFunctions, journal: Journal, outcome: str
) -> None:
    polled, _ = queues.create(definition(max_receive_count=5))
    queues.send(polled.url, {"outcome": "ok"}, {"outcome": outcome})
    poller = poller_for(functions, polled)

    poller.poll_once()

    assert queues.count(polled.url) == 2
    assert poller.whole_batch_failures == 1
    time.sleep(VISIBILITY_SECONDS + 0.2)
    assert poller.poll_once() == 2  # both come back


def test_a_poison_message_lands_in_the_dlq_after_max_receive_count(
    queues: Queues, functions: LocalFunctions, journal: Journal
) -> None:
    polled, dlq_url = queues.create(definition(max_receive_count=2))
    (poison_id,) = queues.send(polled.url, {"outcome": "fail"})
    poller = poller_for(functions, polled)
    poller.start()
    try:
        poller.drain(timeout=120)
    finally:
        poller.stop()

    assert len(journal.entries("batch")) == 2  # maxReceiveCount receives, then redrive
    # moto moves the message inside the poller's receive: wait for it, not for the thread
    (dead,) = queues.sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=20)["Messages"]
    assert dead["MessageId"] == poison_id
    assert queues.count(polled.url) == 0


def test_at_most_max_concurrency_batches_run_at_once(
    queues: Queues, functions: LocalFunctions, journal: Journal
) -> None:
    polled, _ = queues.create(definition(batch_size=1, max_concurrency=2))
    queues.send(polled.url, *({"outcome": "ok", "sleep": 0.25} for _ in range(6)))
    poller = poller_for(functions, polled)
    poller.start()
    try:
        poller.drain(timeout=10)
    finally:
        poller.stop()

    assert poller.peak_in_flight(polled.url) == 2
    starts = sorted(e["start"] for e in journal.entries("batch"))
    assert len(starts) == 6
    # Six 0.25 s batches two at a time: three waves, never three batches together.
    assert all(later - earlier >= 0.2 for earlier, later in zip(starts, starts[2:], strict=False))


def test_a_batching_window_gathers_messages_into_one_batch(
    queues: Queues, functions: LocalFunctions, journal: Journal
) -> None:
    polled, _ = queues.create(definition(batch_size=3, max_batching_window_seconds=1))
    queues.send(polled.url, {"outcome": "ok"})
    poller = poller_for(functions, polled)
    poller.start()
    try:
        time.sleep(0.3)
        queues.send(polled.url, {"outcome": "ok"}, {"outcome": "ok"})
        poller.drain(timeout=5)
    finally:
        poller.stop()

    assert [len(e["event"]["Records"]) for e in journal.entries("batch")] == [3]


def test_drain_times_out_while_messages_keep_failing(
    queues: Queues, functions: LocalFunctions, journal: Journal
) -> None:
    polled, _ = queues.create(definition(max_receive_count=100))
    queues.send(polled.url, {"outcome": "fail"})
    poller = poller_for(functions, polled)

    with pytest.raises(TimeoutError, match="not drained"):
        poller.drain(timeout=0.5)


def test_a_batch_past_the_timeout_fails_and_its_records_come_back(
    queues: Queues, functions: LocalFunctions, journal: Journal
) -> None:
    # SLOW's timeout is 1 s; this batch would take 2 s.
    polled, _ = queues.create(definition(consumer=SLOW, max_receive_count=5))
    (message_id,) = queues.send(polled.url, {"sleep": 2})
    poller = poller_for(functions, polled)

    assert poller.poll_once() == 1

    assert poller.whole_batch_failures == 1
    assert functions.timeout_count("slow") == 1
    assert functions.error_count("slow") == 1
    assert queues.count(polled.url) == 1  # not deleted
    # Visible again after the visibility timeout, received a second time.
    deadline = time.monotonic() + 10
    again: list[dict[str, Any]] = []
    while not again and time.monotonic() < deadline:
        again = queues.sqs.receive_message(QueueUrl=polled.url, AttributeNames=["All"]).get(
            "Messages", []
        )
        time.sleep(0.1)
    assert [(m["MessageId"], m["Attributes"]["ApproximateReceiveCount"]) for m in again] == [
        (message_id, "2")
    ]


def test_a_timed_out_environment_is_never_reused(
    functions: LocalFunctions, journal: Journal
) -> None:
    from linecrm_local.lambda_runtime import FunctionTimedOut

    with pytest.raises(FunctionTimedOut, match=r"Task timed out after 1\.00 seconds"):
        functions.invoke("slow", {"Records": [{"body": json.dumps({"sleep": 1.5})}]})
    functions.invoke("slow", {"Records": [{"body": "{}"}]})
    functions.invoke("slow", {"Records": [{"body": "{}"}]})

    starts = [e["environment"] for e in journal.entries("slow") if e["phase"] == "start"]
    assert functions.environments_loaded("slow") == 2  # a cold start after the timeout
    assert starts[0] != starts[1] == starts[2]  # then warm again
    # The timed-out handler ran on in the background; its result was discarded.
    deadline = time.monotonic() + 10
    while len([e for e in journal.entries("slow") if e["phase"] == "finish"]) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert functions.timeout_count("slow") == 1


@pytest.mark.parametrize(
    ("result", "failed"),
    [
        (None, set()),
        ({}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "a"}]}, {"a"}),
    ],
)
def test_partial_batch_responses_per_lambda(result: Any, failed: set[str]) -> None:
    assert failed_message_ids(result, {"a", "b"}) == failed


@pytest.mark.parametrize(
    "result",
    [
        "text",
        [],
        {"batchItemFailures": "a"},
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"id": "a"}]},
        {"batchItemFailures": [{"itemIdentifier": "unknown"}]},
    ],
)
def test_malformed_batch_responses_fail_the_whole_batch(result: Any) -> None:
    from linecrm_local.sqs_poller import BatchFailed

    with pytest.raises(BatchFailed):
        failed_message_ids(result, {"a", "b"})


def test_an_idle_queue_is_looked_at_without_a_request_and_received_once_it_has_work(
    queues: Queues, functions: LocalFunctions, clean_aws: LocalAws, journal: Journal
) -> None:
    polled, _ = queues.create(definition())
    poller = SqsPoller(
        functions,
        [polled],
        poll_interval_seconds=0.02,
        may_have_messages=clean_aws.queue_may_have_messages,
    )
    assert clean_aws.queue_may_have_messages(polled.url) is False
    with count_aws_calls() as calls:
        assert poller.poll_once() == 0
    assert calls.by_operation("sqs") == {}

    queues.send(polled.url, {"outcome": "ok"}, DelaySeconds=60)
    assert clean_aws.queue_may_have_messages(polled.url) is False  # not due yet
    queues.send(polled.url, {"outcome": "ok"})
    assert clean_aws.queue_may_have_messages(polled.url) is True
    with count_aws_calls() as calls:
        assert poller.poll_once() == 1
    assert calls.by_operation("sqs")["sqs.ReceiveMessage"] >= 1
    assert len(journal.entries("batch")) == 1
    # An unknown queue says "maybe": the receive tells.
    assert clean_aws.queue_may_have_messages(polled.url + "-gone") is True
