"""The sender's ledger transitions and error handling, on moto with a fake LINE client."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from linecrm.delivery.sender import Sender, SendFailedRetryable, SendOutcome
from linecrm.domain.deliveries import DeliveryStatus, retry_key_for
from linecrm.line.client import SendReceipt
from linecrm.line.errors import (
    LineQuotaExceeded,
    LineRateLimited,
    LineRequestRejected,
    LineTransientError,
)
from linecrm.models.send import SendRequest
from linecrm.repositories.deliveries import DeliveryLedger
from tests.unit.conftest import CHANNEL_ID, AwsWorld

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
TEXT = [{"type": "text", "text": "hello"}]


class FakeLineClient:
    def __init__(self, *outcomes: Any) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[tuple[str, Any, str]] = []

    def _next(self, kind: str, to: Any, retry_key: str) -> SendReceipt:
        self.calls.append((kind, to, retry_key))
        outcome = self.outcomes.pop(0) if self.outcomes else SendReceipt("req-ok")
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def push(
        self, to: str, messages: Any, retry_key: str, aggregation_unit: str | None = None
    ) -> SendReceipt:
        return self._next("push", to, retry_key)

    def multicast(
        self, to: list[str], messages: Any, retry_key: str, aggregation_unit: str | None = None
    ) -> SendReceipt:
        return self._next("multicast", to, retry_key)


def request(delivery_id: str = "d-1", to: list[str] | None = None) -> SendRequest:
    return SendRequest(
        delivery_id=delivery_id,
        channel_id=CHANNEL_ID,
        to=to or ["U1"],
        messages=TEXT,
        cause="manual",
    )


@pytest.fixture
def ledger(aws: AwsWorld) -> DeliveryLedger:
    return DeliveryLedger(aws.client("dynamodb"), aws.resources.table_names["Main"])


def make_sender(ledger: DeliveryLedger, client: FakeLineClient) -> Sender:
    return Sender(ledger, lambda _channel: client, lambda: NOW)  # type: ignore[arg-type,return-value]


def test_push_with_retry_key_then_ledger_sent(ledger) -> None:
    client = FakeLineClient(SendReceipt("req-1"))
    ledger.record_queued(request(), NOW)
    report = make_sender(ledger, client).send(request(), final_attempt=False)
    assert report.outcome is SendOutcome.SENT
    assert client.calls == [("push", "U1", retry_key_for("d-1"))]
    delivery = ledger.get("d-1")
    assert delivery is not None
    assert delivery.status is DeliveryStatus.SENT
    assert delivery.line_request_id == "req-1"


def test_several_recipients_go_out_as_one_multicast(ledger) -> None:
    client = FakeLineClient()
    make_sender(ledger, client).send(request(to=["U1", "U2", "U3"]), final_attempt=False)
    assert [kind for kind, *_ in client.calls] == ["multicast"]


def test_replay_of_a_sent_delivery_makes_no_line_call(ledger) -> None:
    client = FakeLineClient()
    sender = make_sender(ledger, client)
    sender.send(request(), final_attempt=False)
    report = sender.send(request(), final_attempt=False)
    assert report.outcome is SendOutcome.ALREADY_FINISHED
    assert len(client.calls) == 1


def test_409_already_accepted_is_recorded_as_sent(ledger) -> None:
    client = FakeLineClient(SendReceipt("first-req", already_accepted=True))
    report = make_sender(ledger, client).send(request(), final_attempt=False)
    assert report.outcome is SendOutcome.SENT
    delivery = ledger.get("d-1")
    assert delivery is not None and delivery.line_request_id == "first-req"


def test_rejected_message_is_dead_at_once_with_lines_reason(ledger) -> None:
    client = FakeLineClient(LineRequestRejected("LINE answered 400: messages[0].text", status=400))
    report = make_sender(ledger, client).send(request(), final_attempt=False)
    assert report.outcome is SendOutcome.DEAD
    delivery = ledger.get("d-1")
    assert delivery is not None and delivery.status is DeliveryStatus.DEAD
    assert "messages[0].text" in (delivery.reason or "")


def test_transient_failure_stays_queued_and_asks_for_a_retry(ledger) -> None:
    client = FakeLineClient(LineTransientError("LINE answered 500"))
    with pytest.raises(SendFailedRetryable) as raised:
        make_sender(ledger, client).send(request(), final_attempt=False)
    assert not raised.value.rate_limited
    delivery = ledger.get("d-1")
    assert delivery is not None and delivery.status is DeliveryStatus.QUEUED
    assert delivery.attempts == 1


def test_rate_limit_asks_for_a_slower_retry(ledger) -> None:
    client = FakeLineClient(LineRateLimited("429"))
    with pytest.raises(SendFailedRetryable) as raised:
        make_sender(ledger, client).send(request(), final_attempt=False)
    assert raised.value.rate_limited


def test_final_attempt_failure_is_dead_with_the_reason(ledger) -> None:
    client = FakeLineClient(LineTransientError("LINE answered 503"))
    report = make_sender(ledger, client).send(request(), final_attempt=True)
    assert report.outcome is SendOutcome.DEAD
    delivery = ledger.get("d-1")
    assert delivery is not None and "503" in (delivery.reason or "")


def test_monthly_quota_skips_with_reason(ledger) -> None:
    client = FakeLineClient(LineQuotaExceeded("You have reached your monthly limit."))
    report = make_sender(ledger, client).send(request(), final_attempt=False)
    assert report.outcome is SendOutcome.SKIPPED
    delivery = ledger.get("d-1")
    assert delivery is not None and delivery.status is DeliveryStatus.SKIPPED
    assert (delivery.reason or "").startswith("monthly_quota_exceeded")


def test_terminal_state_is_never_overwritten(ledger) -> None:
    ledger.record_queued(request(), NOW)
    ledger.mark_sent("d-1", "req-1", NOW)
    ledger.mark_dead("d-1", "late failure", NOW)
    delivery = ledger.get("d-1")
    assert delivery is not None and delivery.status is DeliveryStatus.SENT


def test_retry_key_is_a_stable_uuid_per_delivery() -> None:
    import uuid

    assert retry_key_for("d-1") == retry_key_for("d-1")
    assert retry_key_for("d-1") != retry_key_for("d-2")
    assert uuid.UUID(retry_key_for("d-1")).version == 5


def test_a_refused_token_is_retried_later_not_dead(ledger) -> None:
    from linecrm.line.errors import LineAuthFailed

    client = FakeLineClient(LineAuthFailed("LINE answered 401", status=401))
    ledger.record_queued(request(), NOW)
    with pytest.raises(SendFailedRetryable):
        make_sender(ledger, client).send(request(), final_attempt=False)
    row = ledger.get("d-1")
    assert row is not None and row.status is DeliveryStatus.QUEUED
    assert row.first_attempt_at == NOW and "401" in (row.last_error or "")


def test_a_message_over_lines_length_limit_is_skipped_without_a_call(ledger) -> None:
    client = FakeLineClient()
    too_long = SendRequest(
        delivery_id="d-long",
        channel_id=CHANNEL_ID,
        to=["U1"],
        messages=[{"type": "text", "text": "😀" * 2600}],  # 5,200 UTF-16 units
        cause="manual",
    )
    report = make_sender(ledger, client).send(too_long, final_attempt=False)
    assert report.outcome is SendOutcome.SKIPPED
    assert client.calls == []
    row = ledger.get("d-long")
    assert row is not None and row.status is DeliveryStatus.SKIPPED
    assert "5,200 UTF-16 units" in (row.reason or "")
