"""A broadcast chunk (multicast) sent at least once by SQS reaches each friend once:
the ledger check stops a redelivery of a finished chunk, and LINE's retry key (409)
stops a second copy when a crash lost the ledger write after LINE accepted it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from linecrm.config import LineEndpoints
from linecrm.delivery.sender import Sender, SendOutcome
from linecrm.domain.broadcasts import chunk_delivery_id
from linecrm.domain.deliveries import DeliveryStatus, retry_key_for
from linecrm.line.client import LineMessagingClient, RetryPolicy
from linecrm.models.send import SendRequest
from linecrm.repositories.deliveries import DeliveryLedger
from linecrm_local.emulator import EmulatedChannel, EmulatorConfig, LineEmulator
from tests.unit.conftest import ACCESS_TOKEN, CHANNEL_ID, CHANNEL_SECRET, AwsWorld

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
SALE = [{"type": "text", "text": "セール開催中"}]
BOT_USER_ID = "U" + "e" * 32


class Crash(RuntimeError):
    """The sender's process died (Lambda timeout, OOM) right after LINE's answer."""


class CrashOnceOnMarkSent(DeliveryLedger):
    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.crashes_left = 1

    def mark_sent(self, *args: object, **kwargs: object) -> None:  # type: ignore[override]
        if self.crashes_left:
            self.crashes_left -= 1
            raise Crash("after the LINE call, before the ledger write")
        super().mark_sent(*args, **kwargs)  # type: ignore[arg-type]


@pytest.fixture
def emulator() -> Iterator[LineEmulator]:
    channel = EmulatedChannel(CHANNEL_ID, CHANNEL_SECRET, ACCESS_TOKEN, None, BOT_USER_ID)
    with LineEmulator(EmulatorConfig(channels=[channel])) as running:
        yield running


def line_client(emulator: LineEmulator) -> LineMessagingClient:
    return LineMessagingClient(
        ACCESS_TOKEN,
        LineEndpoints(api_base_url=emulator.base_url),
        retry_policy=RetryPolicy(max_attempts=1),
        sleep=lambda _seconds: None,
    )


def chunk(emulator: LineEmulator) -> SendRequest:
    friends = [emulator.add_friend(CHANNEL_ID, f"Friend {n}").user_id for n in range(3)]
    return SendRequest(
        delivery_id=chunk_delivery_id("bc-1", 0),
        channel_id=CHANNEL_ID,
        to=friends,
        messages=SALE,
        cause="broadcast",
        message_class="marketing",
    )


def inbox_counts(emulator: LineEmulator, request: SendRequest) -> list[int]:
    return [len(emulator.inbox(user_id)) for user_id in request.to]


def test_a_redelivered_chunk_that_was_sent_makes_no_line_call(
    aws: AwsWorld, emulator: LineEmulator
) -> None:
    ledger = DeliveryLedger(aws.client("dynamodb"), aws.resources.table_names["Main"])
    sender = Sender(ledger, lambda _channel: line_client(emulator), lambda: NOW)
    request = chunk(emulator)
    ledger.record_queued(request, NOW)

    assert sender.send(request, final_attempt=False).outcome is SendOutcome.SENT
    # SQS hands the same batch out again (visibility expired, a second consumer).
    replay = sender.send(request, final_attempt=False)

    assert replay.outcome is SendOutcome.ALREADY_FINISHED
    assert len(emulator.calls("multicast")) == 1
    assert inbox_counts(emulator, request) == [1, 1, 1]


def test_a_crash_after_line_accepted_the_chunk_sends_no_second_copy(
    aws: AwsWorld, emulator: LineEmulator
) -> None:
    ledger = CrashOnceOnMarkSent(aws.client("dynamodb"), aws.resources.table_names["Main"])
    sender = Sender(ledger, lambda _channel: line_client(emulator), lambda: NOW)
    request = chunk(emulator)
    ledger.record_queued(request, NOW)

    with pytest.raises(Crash):
        sender.send(request, final_attempt=False)
    lost = ledger.get(request.delivery_id)
    assert lost is not None and lost.status is DeliveryStatus.QUEUED  # the write was lost
    assert inbox_counts(emulator, request) == [1, 1, 1]

    # The record comes back after its visibility timeout: same chunk, same retry key.
    report = sender.send(request, final_attempt=False)

    assert report.outcome is SendOutcome.SENT
    assert report.detail == "accepted earlier (retry key)"
    calls = emulator.calls("multicast")
    assert [call.status for call in calls] == [200, 409]
    assert inbox_counts(emulator, request) == [1, 1, 1]
    assert {m.retry_key for m in emulator.inbox(request.to[0])} == {
        retry_key_for(request.delivery_id)
    }
    sent = ledger.get(request.delivery_id)
    assert sent is not None and sent.status is DeliveryStatus.SENT
    assert sent.line_request_id  # the first (accepted) request's id, from the 409
