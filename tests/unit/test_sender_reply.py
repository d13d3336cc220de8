"""The sender's reply path: reply once while the token is fresh, else push with the
retry key. A fake LINE client (as in test_sender.py) for the decisions, and the LINE
emulator for real reply tokens (valid, used)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from linecrm.config import LineEndpoints
from linecrm.delivery.sender import REPLY_SETTLE_TIME, Sender, SendFailedRetryable, SendOutcome
from linecrm.domain.deliveries import DeliveryStatus, retry_key_for
from linecrm.line.client import LineMessagingClient, RetryPolicy, SendReceipt
from linecrm.line.errors import LineRequestRejected, LineTransientError
from linecrm.models.send import SendRequest
from linecrm.repositories.deliveries import DeliveryLedger, delivery_key
from linecrm.repositories.dynamo import from_item, to_item
from linecrm_local.emulator import EmulatedChannel, EmulatorConfig, LineEmulator
from tests.unit.conftest import ACCESS_TOKEN, CHANNEL_ID, CHANNEL_SECRET, AwsWorld

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
TEXT = [{"type": "text", "text": "ご予約ありがとうございます"}]
USER = "U" + "a" * 32
TOKEN = "reply-token-1"
INVALID_TOKEN = LineRequestRejected("LINE answered 400: Invalid reply token", status=400)


class FakeLineClient:
    """Records every call; each call takes the next outcome (receipt or exception)."""

    def __init__(self, *outcomes: Any) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[tuple[str, Any, str | None]] = []

    def _next(self, kind: str, to: Any, key: str | None) -> SendReceipt:
        self.calls.append((kind, to, key))
        outcome = self.outcomes.pop(0) if self.outcomes else SendReceipt(f"req-{kind}")
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def reply(self, reply_token: str, messages: Any) -> SendReceipt:
        return self._next("reply", reply_token, None)

    def push(
        self, to: str, messages: Any, retry_key: str, aggregation_unit: str | None = None
    ) -> SendReceipt:
        return self._next("push", to, retry_key)

    def multicast(
        self, to: list[str], messages: Any, retry_key: str, aggregation_unit: str | None = None
    ) -> SendReceipt:
        return self._next("multicast", to, retry_key)

    def kinds(self) -> list[str]:
        return [kind for kind, *_ in self.calls]


def request(
    delivery_id: str = "d-1",
    *,
    to: list[str] | None = None,
    reply_token: str | None = TOKEN,
    reply_by: datetime | None = NOW + timedelta(seconds=30),
) -> SendRequest:
    return SendRequest(
        delivery_id=delivery_id,
        channel_id=CHANNEL_ID,
        to=to or [USER],
        messages=TEXT,
        cause="auto_response",
        reply_token=reply_token,
        reply_by=reply_by,
    )


@pytest.fixture
def ledger(aws: AwsWorld) -> DeliveryLedger:
    return DeliveryLedger(aws.client("dynamodb"), aws.resources.table_names["Main"])


def make_sender(ledger: DeliveryLedger, client: Any, now: datetime = NOW) -> Sender:
    return Sender(ledger, lambda _channel: client, lambda: now)


def raw_delivery(aws: AwsWorld, delivery_id: str = "d-1") -> dict[str, Any]:
    item = aws.client("dynamodb").get_item(
        TableName=aws.resources.table_names["Main"], Key=to_item(delivery_key(delivery_id))
    )["Item"]
    return from_item(item)


# ---------------------------------------------------------------- with a fake client


def test_fresh_reply_token_replies_once_and_never_pushes(ledger, aws) -> None:
    client = FakeLineClient(SendReceipt("req-reply-1"))
    ledger.record_queued(request(), NOW)
    report = make_sender(ledger, client).send(request(), final_attempt=False)
    assert report.outcome is SendOutcome.SENT
    assert client.calls == [("reply", TOKEN, None)]
    delivery = ledger.get("d-1")
    assert delivery is not None
    assert delivery.status is DeliveryStatus.SENT
    assert delivery.sent_via == "reply"
    assert delivery.line_request_id == "req-reply-1"
    assert delivery.reply_error is None
    assert delivery.attempts == 1
    assert raw_delivery(aws)["reply_attempted_at"].startswith("2026-11-23T03:00")


def test_reply_without_a_deadline_is_tried(ledger) -> None:
    client = FakeLineClient()
    make_sender(ledger, client).send(request(reply_by=None), final_attempt=False)
    assert client.kinds() == ["reply"]
    delivery = ledger.get("d-1")
    assert delivery is not None and delivery.sent_via == "reply"


def test_reply_works_without_a_prior_ledger_row(ledger) -> None:
    client = FakeLineClient()
    report = make_sender(ledger, client).send(request(), final_attempt=False)
    assert report.outcome is SendOutcome.SENT
    assert client.kinds() == ["reply"]
    delivery = ledger.get("d-1")
    assert delivery is not None and delivery.sent_via == "reply"


@pytest.mark.parametrize("late_by", [timedelta(seconds=1), timedelta(0)])
def test_expired_reply_token_pushes_with_the_retry_key(ledger, aws, late_by) -> None:
    client = FakeLineClient(SendReceipt("req-push-1"))
    ledger.record_queued(request(reply_by=NOW - late_by), NOW)
    report = make_sender(ledger, client).send(request(reply_by=NOW - late_by), final_attempt=False)
    assert report.outcome is SendOutcome.SENT
    assert client.calls == [("push", USER, retry_key_for("d-1"))]
    delivery = ledger.get("d-1")
    assert delivery is not None
    assert delivery.status is DeliveryStatus.SENT
    assert delivery.sent_via == "push"
    assert delivery.line_request_id == "req-push-1"
    assert "reply_attempted_at" not in raw_delivery(aws)  # no reply was claimed


def test_no_reply_token_pushes(ledger) -> None:
    client = FakeLineClient()
    make_sender(ledger, client).send(request(reply_token=None, reply_by=None), final_attempt=False)
    assert client.kinds() == ["push"]
    delivery = ledger.get("d-1")
    assert delivery is not None and delivery.sent_via == "push"


def test_reply_rejected_falls_back_to_push_and_records_why(ledger) -> None:
    client = FakeLineClient(INVALID_TOKEN, SendReceipt("req-push-1"))
    ledger.record_queued(request(), NOW)
    report = make_sender(ledger, client).send(request(), final_attempt=False)
    assert report.outcome is SendOutcome.SENT
    assert client.calls == [("reply", TOKEN, None), ("push", USER, retry_key_for("d-1"))]
    delivery = ledger.get("d-1")
    assert delivery is not None
    assert delivery.status is DeliveryStatus.SENT
    assert delivery.sent_via == "push"
    assert delivery.line_request_id == "req-push-1"
    assert delivery.reply_error is not None
    assert "LineRequestRejected" in delivery.reply_error
    assert "Invalid reply token" in delivery.reply_error
    assert delivery.attempts == 1


def test_reply_transient_failure_also_falls_back_to_push(ledger) -> None:
    client = FakeLineClient(LineTransientError("LINE answered 500: boom"))
    make_sender(ledger, client).send(request(), final_attempt=False)
    assert client.kinds() == ["reply", "push"]
    delivery = ledger.get("d-1")
    assert delivery is not None and delivery.sent_via == "push"
    assert "LineTransientError" in (delivery.reply_error or "")


def test_long_reply_errors_are_truncated(ledger) -> None:
    client = FakeLineClient(LineRequestRejected("x" * 5000, status=400))
    make_sender(ledger, client).send(request(), final_attempt=False)
    delivery = ledger.get("d-1")
    assert delivery is not None and delivery.reply_error is not None
    assert len(delivery.reply_error) == 1000


class MovableClock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def test_redelivery_while_a_claimed_reply_may_still_run_waits(ledger) -> None:
    """A redelivery overtaking a slow first consumer must neither reply nor push."""
    ledger.record_queued(request(), NOW)
    assert ledger.claim_reply("d-1", NOW) is True  # the first consumer, still running
    client = FakeLineClient()
    sender = make_sender(ledger, client, NOW + REPLY_SETTLE_TIME - timedelta(seconds=1))
    with pytest.raises(SendFailedRetryable) as raised:
        sender.send(request(), final_attempt=False)
    assert not raised.value.rate_limited
    assert client.calls == []
    delivery = ledger.get("d-1")
    assert delivery is not None
    assert delivery.status is DeliveryStatus.QUEUED and delivery.attempts == 0


@pytest.mark.parametrize("after", [REPLY_SETTLE_TIME, REPLY_SETTLE_TIME + timedelta(minutes=5)])
def test_redelivery_after_a_crashed_reply_pushes_instead(ledger, aws, after) -> None:
    """The first run claimed the reply and crashed (no ledger outcome): once that attempt
    is surely over, the redelivered message pushes with the retry key, never replies."""
    ledger.record_queued(request(), NOW)
    assert ledger.claim_reply("d-1", NOW) is True  # the crashed attempt
    client = FakeLineClient(SendReceipt("req-push-1"))
    # Even with a reply token that would still be fresh at this time.
    fresh = request(reply_by=NOW + after + timedelta(seconds=10))
    report = make_sender(ledger, client, NOW + after).send(fresh, final_attempt=False)
    assert report.outcome is SendOutcome.SENT
    assert client.calls == [("push", USER, retry_key_for("d-1"))]
    delivery = ledger.get("d-1")
    assert delivery is not None and delivery.sent_via == "push"
    assert delivery.reply_attempted_at == NOW
    assert raw_delivery(aws)["reply_attempted_at"].startswith("2026-11-23T03:00:00")


def test_a_reply_claimed_by_a_racing_consumer_is_not_sent_twice(aws) -> None:
    """Between reading the ledger and claiming, another consumer claims the reply."""

    class RacingLedger(DeliveryLedger):
        def claim_reply(self, delivery_id: str, at: datetime) -> bool:
            assert super().claim_reply(delivery_id, at)  # the other consumer wins
            return super().claim_reply(delivery_id, at)

    racing = RacingLedger(aws.client("dynamodb"), aws.resources.table_names["Main"])
    racing.record_queued(request(), NOW)
    client = FakeLineClient()
    with pytest.raises(SendFailedRetryable):
        make_sender(racing, client).send(request(), final_attempt=False)
    assert client.calls == []
    delivery = racing.get("d-1")
    assert delivery is not None and delivery.status is DeliveryStatus.QUEUED


def test_retry_after_failed_fallback_push_does_not_reply_again(ledger, aws) -> None:
    clock = MovableClock()
    client = FakeLineClient(INVALID_TOKEN, LineTransientError("LINE answered 503"))
    sender = Sender(ledger, lambda _channel: client, clock)
    with pytest.raises(SendFailedRetryable):
        sender.send(request(), final_attempt=False)
    delivery = ledger.get("d-1")
    assert delivery is not None and delivery.status is DeliveryStatus.QUEUED
    assert "Invalid reply token" in (delivery.reply_error or "")
    assert "503" in raw_delivery(aws)["last_error"]

    clock.advance(REPLY_SETTLE_TIME.total_seconds())
    report = sender.send(request(), final_attempt=False)
    assert report.outcome is SendOutcome.SENT
    assert client.kinds() == ["reply", "push", "push"]
    assert client.calls[1][2] == client.calls[2][2] == retry_key_for("d-1")
    delivery = ledger.get("d-1")
    assert delivery is not None and delivery.sent_via == "push"
    assert "Invalid reply token" in (delivery.reply_error or "")  # kept for the record


def test_a_recorded_reply_failure_does_not_delay_the_push_retry(ledger) -> None:
    clock = MovableClock()
    client = FakeLineClient(INVALID_TOKEN, LineTransientError("LINE answered 503"))
    sender = Sender(ledger, lambda _channel: client, clock)
    with pytest.raises(SendFailedRetryable):
        sender.send(request(), final_attempt=False)
    clock.advance(2)
    assert sender.send(request(), final_attempt=False).outcome is SendOutcome.SENT
    assert client.kinds() == ["reply", "push", "push"]


def test_final_attempt_within_the_settle_time_still_ends_the_delivery(ledger) -> None:
    ledger.record_queued(request(), NOW)
    ledger.claim_reply("d-1", NOW)
    client = FakeLineClient()
    sender = make_sender(ledger, client, NOW + timedelta(seconds=5))
    sender.send(request(), final_attempt=True)
    delivery = ledger.get("d-1")
    assert delivery is not None and delivery.status.is_terminal


def test_replay_of_a_replied_delivery_makes_no_call(ledger) -> None:
    client = FakeLineClient()
    sender = make_sender(ledger, client)
    sender.send(request(), final_attempt=False)
    report = sender.send(request(), final_attempt=False)
    assert report.outcome is SendOutcome.ALREADY_FINISHED
    assert client.kinds() == ["reply"]


def test_multicast_never_replies(ledger, aws) -> None:
    client = FakeLineClient(SendReceipt("req-mc"))
    users = [USER, "U" + "b" * 32]
    report = make_sender(ledger, client).send(request(to=users), final_attempt=False)
    assert report.outcome is SendOutcome.SENT
    assert client.calls == [("multicast", users, retry_key_for("d-1"))]
    delivery = ledger.get("d-1")
    assert delivery is not None and delivery.sent_via == "multicast"
    assert "reply_attempted_at" not in raw_delivery(aws)


# ---------------------------------------------------------------- ledger primitives


def test_claim_reply_succeeds_once_per_queued_delivery(ledger) -> None:
    assert ledger.claim_reply("d-missing", NOW) is False
    ledger.record_queued(request(), NOW)
    assert ledger.claim_reply("d-1", NOW) is True
    assert ledger.claim_reply("d-1", NOW) is False


def test_claim_reply_refuses_a_finished_delivery(ledger) -> None:
    ledger.record_queued(request(), NOW)
    ledger.mark_sent("d-1", "req-1", NOW, sent_via="push")
    assert ledger.claim_reply("d-1", NOW) is False


def test_claim_reply_of_an_unknown_delivery_writes_nothing(ledger, aws) -> None:
    assert ledger.claim_reply("d-missing", NOW) is False
    assert ledger.get("d-missing") is None
    assert aws.main_items() == []


def test_mark_sent_without_sent_via_leaves_it_unset(ledger) -> None:
    ledger.record_queued(request(), NOW)
    ledger.mark_sent("d-1", "req-1", NOW)
    delivery = ledger.get("d-1")
    assert delivery is not None
    assert delivery.status is DeliveryStatus.SENT and delivery.sent_via is None


# ---------------------------------------------------------------- with the emulator

BOT_USER_ID = "U" + "f" * 32


@pytest.fixture
def emulator() -> Iterator[LineEmulator]:
    channel = EmulatedChannel(CHANNEL_ID, CHANNEL_SECRET, ACCESS_TOKEN, None, BOT_USER_ID)
    with LineEmulator(EmulatorConfig(channels=[channel])) as running:
        yield running


def emulator_client(emulator: LineEmulator) -> LineMessagingClient:
    return LineMessagingClient(
        ACCESS_TOKEN,
        LineEndpoints(api_base_url=emulator.base_url),
        retry_policy=RetryPolicy(max_attempts=1),
        sleep=lambda _seconds: None,
    )


def issued_reply_token(emulator: LineEmulator, user_id: str) -> str:
    """The reply token LINE gives the webhook of a user's text message."""
    delivery = emulator.simulate_text(CHANNEL_ID, user_id, "予約したい")
    token: str = delivery.event["replyToken"]
    return token


def test_emulator_reply_with_a_real_token(ledger, emulator) -> None:
    user = emulator.add_friend(CHANNEL_ID, "Alice").user_id
    token = issued_reply_token(emulator, user)
    sent = request(to=[user], reply_token=token)
    report = make_sender(ledger, emulator_client(emulator)).send(sent, final_attempt=False)
    assert report.outcome is SendOutcome.SENT
    assert [m.endpoint for m in emulator.inbox(user)] == ["reply"]
    assert [m.message["text"] for m in emulator.inbox(user)] == [TEXT[0]["text"]]
    assert emulator.calls("push") == []
    delivery = ledger.get("d-1")
    assert delivery is not None and delivery.sent_via == "reply"
    assert delivery.line_request_id  # LINE's x-line-request-id of the reply


def test_emulator_used_token_falls_back_to_one_push(ledger, emulator) -> None:
    user = emulator.add_friend(CHANNEL_ID, "Alice").user_id
    token = issued_reply_token(emulator, user)
    client = emulator_client(emulator)
    client.reply(token, [{"type": "text", "text": "first"}])  # someone used it already

    sender = make_sender(ledger, client)
    report = sender.send(request(to=[user], reply_token=token), final_attempt=False)
    assert report.outcome is SendOutcome.SENT
    inbox = emulator.inbox(user)
    assert [(m.endpoint, m.message["text"]) for m in inbox] == [
        ("reply", "first"),
        ("push", TEXT[0]["text"]),
    ]
    assert inbox[1].retry_key == retry_key_for("d-1")
    delivery = ledger.get("d-1")
    assert delivery is not None
    assert delivery.sent_via == "push"
    assert "Invalid reply token" in (delivery.reply_error or "")
    assert len(emulator.calls("reply")) == 2

    # A redelivery of the same request makes no further LINE call.
    assert sender.send(request(to=[user], reply_token=token), final_attempt=False).outcome is (
        SendOutcome.ALREADY_FINISHED
    )
    assert len(emulator.inbox(user)) == 2


def test_emulator_unknown_token_falls_back_to_push(ledger, emulator) -> None:
    user = emulator.add_friend(CHANNEL_ID, "Alice").user_id
    sent = request(to=[user], reply_token="never-issued")
    make_sender(ledger, emulator_client(emulator)).send(sent, final_attempt=False)
    assert [m.endpoint for m in emulator.inbox(user)] == ["push"]
    delivery = ledger.get("d-1")
    assert delivery is not None and delivery.sent_via == "push"
    assert delivery.reply_error
