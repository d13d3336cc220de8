"""The sender handler when pacing would outlast the invocation: records go back to the
queue with a short visibility, unsent and unrecorded, and come back to be sent."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from linecrm.delivery.outbox import SendQueueOutbox
from linecrm.delivery.send_limits import SEND_RATE_SETTING
from linecrm.domain.deliveries import DeliveryStatus
from linecrm.models.send import SendRequest
from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm.repositories.deliveries import DeliveryLedger
from linecrm.resources import SEND_QUEUE, Env
from linecrm_local.emulator import EmulatedChannel, EmulatorConfig, LineEmulator
from linecrm_local.sqs_poller import build_sqs_event
from tests.support.lambda_support import FakeLambdaContext, load_handler
from tests.unit.conftest import ACCESS_TOKEN, CHANNEL_ID, CHANNEL_SECRET, AwsWorld

# 6 pushes/s for the channel: 0.6/s, one every 1.67 s, in each of 10 environments.
CHANNEL_RATE = 6.0
INTERVAL = SEND_QUEUE.max_concurrency / CHANNEL_RATE
# A context with 2 s left: pacing may wait 1 s (the rest is the call's reserve).
CONTEXT_MS = 2_000


@pytest.fixture
def emulator() -> Iterator[LineEmulator]:
    channel = EmulatedChannel(CHANNEL_ID, CHANNEL_SECRET, ACCESS_TOKEN, None, "U" + "f" * 32)
    with LineEmulator(EmulatorConfig(channels=[channel])) as running:
        yield running


@pytest.fixture
def handler(aws: AwsWorld, emulator: LineEmulator, monkeypatch: pytest.MonkeyPatch) -> Any:
    # A fresh environment starts at phase 0 of its first interval (not a random one), so
    # which record goes first, and when, is fixed.
    monkeypatch.setattr("linecrm.delivery.pacing.random.random", lambda: 0.0)
    monkeypatch.setenv(Env.LINE_API_BASE_URL, emulator.base_url)
    ChannelConfigRepository(aws.client("dynamodb"), aws.resources.table_names["Main"]).set_setting(
        CHANNEL_ID, SEND_RATE_SETTING, {"push": CHANNEL_RATE}
    )
    return load_handler("sender")


def ledger(aws: AwsWorld) -> DeliveryLedger:
    return DeliveryLedger(aws.client("dynamodb"), aws.resources.table_names["Main"])


def enqueue(aws: AwsWorld, users: list[str]) -> list[str]:
    outbox = SendQueueOutbox(
        ledger(aws), aws.client("sqs"), os.environ[Env.SEND_QUEUE_URL], lambda: datetime.now(UTC)
    )
    ids = []
    for number, user in enumerate(users):
        delivery_id = f"paced:{number}"
        outbox.enqueue(
            SendRequest(
                delivery_id=delivery_id,
                channel_id=CHANNEL_ID,
                to=[user],
                messages=[{"type": "text", "text": f"message {number}"}],
                cause="manual",
            )
        )
        ids.append(delivery_id)
    return ids


def receive(aws: AwsWorld) -> dict[str, Any]:
    sqs = aws.client("sqs")
    url = os.environ[Env.SEND_QUEUE_URL]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    messages = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
    ).get("Messages", [])
    return build_sqs_event(sorted(messages, key=lambda m: m["Body"]), arn)


def delivery_of(record: dict[str, Any]) -> str:
    return str(json.loads(record["body"])["delivery_id"])


def failed(result: dict[str, Any]) -> list[str]:
    return [failure["itemIdentifier"] for failure in result["batchItemFailures"]]


def test_records_past_the_budget_go_back_unsent_and_come_back(
    aws: AwsWorld, emulator: LineEmulator, handler: Any
) -> None:
    users = [emulator.add_friend(CHANNEL_ID).user_id for _ in range(3)]
    ids = enqueue(aws, users)
    event = receive(aws)
    assert [delivery_of(r) for r in event["Records"]] == ids
    # The deferred records go back at once while the first one pushes: with the LINE
    # SDK imported already, that push ends well within their 2 s of invisibility.
    handler.container().line_client(CHANNEL_ID)

    result = handler.lambda_handler(event, FakeLambdaContext(timeout_ms=CONTEXT_MS))

    # The records go concurrently: the first to take a slot pushed at once; the next
    # slot is 1.67 s away, past the 1 s budget, so the other two went back.
    by_message = {r["messageId"]: delivery_of(r) for r in event["Records"]}
    deferred = sorted(by_message[m] for m in failed(result))
    assert len(deferred) == 2
    assert len(emulator.calls("push")) == 1
    for delivery_id in deferred:  # nothing lost, nothing counted as a failed attempt
        delivery = ledger(aws).get(delivery_id)
        assert delivery is not None and delivery.status is DeliveryStatus.QUEUED
        assert delivery.attempts == 0
    (sent,) = set(ids) - set(deferred)
    assert ledger(aws).get(sent).status is DeliveryStatus.SENT  # type: ignore[union-attr]

    # Back after the short visibility (ceil(1.67 s) = 2 s after the hand-back), not 180 s.
    time.sleep(INTERVAL + 0.4)
    again = receive(aws)
    assert [delivery_of(r) for r in again["Records"]] == deferred
    assert [r["attributes"]["ApproximateReceiveCount"] for r in again["Records"]] == ["2", "2"]

    result = handler.lambda_handler(again, FakeLambdaContext(timeout_ms=CONTEXT_MS))
    assert len(failed(result)) == 1
    assert len(emulator.calls("push")) == 2
    assert all(c.status == 200 for c in emulator.calls("push"))


def test_a_whole_batch_deferred_is_reported_not_raised(
    aws: AwsWorld, emulator: LineEmulator, handler: Any
) -> None:
    users = [emulator.add_friend(CHANNEL_ID).user_id for _ in range(3)]
    # The pacer's clock stands still: the next slot stays 1.67 s after the first push
    # however long this (busy) machine takes between the two invocations.
    handler.container().sender._pacer._clock = lambda: 1_000.0
    enqueue(aws, users[:1])
    handler.lambda_handler(receive(aws), FakeLambdaContext(timeout_ms=CONTEXT_MS))
    enqueue(aws, users[1:])
    event = receive(aws)

    result = handler.lambda_handler(event, FakeLambdaContext(timeout_ms=CONTEXT_MS))

    assert failed(result) == [r["messageId"] for r in event["Records"]]
    assert len(emulator.calls("push")) == 1


def test_on_the_final_receive_it_sends_late_instead_of_dead_lettering(
    aws: AwsWorld, emulator: LineEmulator, handler: Any
) -> None:
    users = [emulator.add_friend(CHANNEL_ID).user_id for _ in range(2)]
    ids = enqueue(aws, users)
    event = receive(aws)
    # SQS would move the message to the DLQ instead of a ninth receive.
    event["Records"][1]["attributes"]["ApproximateReceiveCount"] = str(SEND_QUEUE.max_receive_count)

    result = handler.lambda_handler(event, FakeLambdaContext(timeout_ms=CONTEXT_MS))

    # The two go concurrently: whichever takes the first slot pushes at once. The last
    # receive never goes back (it waits the budget at most, then sends late); the
    # other one, if it came second, goes back for later.
    final = event["Records"][1]["messageId"]
    assert final not in failed(result)
    assert len(emulator.calls("push")) == 2 - len(failed(result))
    delivery = ledger(aws).get(ids[1])
    assert delivery is not None and delivery.status is DeliveryStatus.SENT
