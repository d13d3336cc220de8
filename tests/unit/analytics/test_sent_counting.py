"""``sent`` is counted with the ledger's move to sent: once per delivery, however often
the chunk is retried, redelivered or re-driven; last-sent markers and the campaign
index come with it, in a fixed number of AWS calls per chunk."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from linecrm.counting.sent import SentCounting
from linecrm.delivery.outbox import SendQueueOutbox
from linecrm.delivery.sender import Sender, SendFailedRetryable, SendOutcome
from linecrm.domain.campaigns import broadcast_campaign, step_campaign
from linecrm.domain.deliveries import DeliveryStatus
from linecrm.line.client import SendReceipt
from linecrm.line.errors import LineTransientError
from linecrm.models.send import SendRequest
from linecrm.repositories.campaign_stats import CampaignStatsRepository
from linecrm.repositories.deliveries import DeliveryLedger
from linecrm.repositories.tracking_markers import Marker, TrackingMarkers
from linecrm.resources import Env
from linecrm_local.emulator import EmulatedChannel, EmulatorConfig, LineEmulator
from linecrm_local.sqs_poller import build_sqs_event
from tests.support.lambda_support import FakeLambdaContext, load_handler
from tests.unit.conftest import ACCESS_TOKEN, CHANNEL_ID, CHANNEL_SECRET, AwsWorld
from tests.unit.test_sender import FakeLineClient

# 23:30 UTC: already the next day in Tokyo (the account's time zone).
NOW = datetime(2026, 12, 2, 23, 30, tzinfo=UTC)
TOKYO_DAY = date(2026, 12, 3)
TEXT = [{"type": "text", "text": "セール開始"}]
SALE = broadcast_campaign("sale")


def user(number: int) -> str:
    return f"U{number:032x}"


def chunk(
    delivery_id: str = "broadcast:sale:0",
    recipients: int = 3,
    *,
    campaign: str | None = SALE,
    variant: str | None = None,
) -> SendRequest:
    return SendRequest(
        delivery_id=delivery_id,
        channel_id=CHANNEL_ID,
        to=[user(n) for n in range(recipients)],
        messages=TEXT,
        cause="broadcast",
        campaign=campaign,
        variant=variant,
    )


@pytest.fixture
def world(aws: AwsWorld) -> tuple[DeliveryLedger, CampaignStatsRepository, TrackingMarkers, Any]:
    client = aws.client("dynamodb")
    table = aws.resources.table_names["Main"]
    return (
        DeliveryLedger(client, table),
        CampaignStatsRepository(client, table),
        TrackingMarkers(client, table),
        client,
    )


def sender(world: Any, line: FakeLineClient, clock: Any = lambda: NOW) -> Sender:
    ledger, stats, markers, client = world
    counting = SentCounting(client, stats, markers, lambda _channel: ZoneInfo("Asia/Tokyo"))
    return Sender(ledger, lambda _channel: line, clock, counting=counting)  # type: ignore[arg-type,return-value]


def test_a_sent_chunk_counts_its_recipients_on_campaign_variant_and_day(world: Any) -> None:
    _, stats, markers, _ = world
    report = sender(world, FakeLineClient()).send(chunk(variant="B"), final_attempt=False)

    assert report.outcome is SendOutcome.SENT
    assert stats.campaign(CHANNEL_ID, SALE) == {"B": {"sent": 3}}
    assert stats.days(CHANNEL_ID, TOKYO_DAY, TOKYO_DAY) == {TOKYO_DAY: {"sent": 3}}
    (indexed,) = stats.campaigns(CHANNEL_ID)
    assert (indexed.campaign, indexed.kind, indexed.last_sent_at) == (SALE, "broadcast", NOW)
    for number in range(3):
        assert markers.last_sent(CHANNEL_ID, user(number)) == Marker(SALE, "B", NOW)


def test_a_replayed_chunk_counts_once(world: Any) -> None:
    _, stats, _, _ = world
    line = FakeLineClient()
    send = sender(world, line)
    send.send(chunk(), final_attempt=False)
    again = send.send(chunk(), final_attempt=False)

    assert again.outcome is SendOutcome.ALREADY_FINISHED
    assert stats.campaign_total(CHANNEL_ID, SALE) == {"sent": 3}


def test_a_chunk_that_failed_then_went_out_counts_once(world: Any) -> None:
    _, stats, markers, _ = world
    line = FakeLineClient(LineTransientError("LINE answered 500"))
    send = sender(world, line)
    with pytest.raises(SendFailedRetryable):
        send.send(chunk(), final_attempt=False)
    assert stats.campaign(CHANNEL_ID, SALE) == {}
    assert markers.last_sent(CHANNEL_ID, user(0)) is None

    send.send(chunk(), final_attempt=False)
    assert stats.campaign_total(CHANNEL_ID, SALE) == {"sent": 3}


def test_a_redriven_chunk_accepted_by_line_before_counts_once(world: Any) -> None:
    """Dead after retries, yet LINE had taken it: the re-drive's 409 records it sent."""
    ledger, stats, _, _ = world
    line = FakeLineClient(LineTransientError("timeout"), SendReceipt("r-1", already_accepted=True))
    send = sender(world, line)
    assert send.send(chunk(), final_attempt=True).outcome is SendOutcome.DEAD
    assert ledger.redrive(chunk().delivery_id, NOW, first_attempt_at=NOW, previous_reason="x")

    assert send.send(chunk(), final_attempt=False).outcome is SendOutcome.SENT
    assert send.send(chunk(), final_attempt=False).outcome is SendOutcome.ALREADY_FINISHED
    assert stats.campaign_total(CHANNEL_ID, SALE) == {"sent": 3}


def test_a_delivery_without_a_campaign_counts_nothing(world: Any, aws: AwsWorld) -> None:
    sender(world, FakeLineClient()).send(chunk(campaign=None), final_attempt=False)
    stats_items = [i for i in aws.main_items() if i["pk"]["S"].startswith("STATS#")]
    assert stats_items == []


def test_the_aws_calls_of_a_500_friend_chunk(world: Any) -> None:
    """1 ledger read, 20 marker batches (25 each), the index, 1 transaction."""
    ledger, _, _, client = world
    request = chunk(recipients=500, campaign=step_campaign("welcome", "day3"))
    ledger.record_queued(request, NOW)
    calls: list[str] = []
    client.meta.events.register(
        "before-call.dynamodb.*", lambda model, **_: calls.append(model.name)
    )

    sender(world, FakeLineClient()).send(request, final_attempt=False)

    assert calls == ["GetItem", *["BatchWriteItem"] * 20, "UpdateItem", "TransactWriteItems"]
    delivery = ledger.get(request.delivery_id)
    assert delivery is not None and delivery.status is DeliveryStatus.SENT


def _index_writes(client: Any) -> list[str]:
    """The campaigns whose index entry each UpdateItem of ``client`` writes."""
    written: list[str] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        if params["Key"]["pk"]["S"].endswith("#CAMPAIGNS"):
            written.append(params["Key"]["sk"]["S"])

    client.meta.events.register("provide-client-params.dynamodb.UpdateItem", record)
    return written


def test_a_campaign_index_entry_is_written_at_most_once_a_minute_per_environment(
    world: Any,
) -> None:
    """One partition holds a channel's index: one push per new friend (the welcome)
    must not write it once per follow (the hot-key bench)."""
    _, stats, _, client = world
    written = _index_writes(client)
    now = [NOW]
    send = sender(world, FakeLineClient(), clock=lambda: now[0])
    welcome = broadcast_campaign("welcome-burst")

    for number, seconds in enumerate([0, 1, 30, 59]):
        now[0] = NOW + timedelta(seconds=seconds)
        send.send(chunk(f"welcome:{number}", 1, campaign=welcome), final_attempt=False)
    assert written == [welcome]
    (indexed,) = stats.campaigns(CHANNEL_ID)
    assert (indexed.first_sent_at, indexed.last_sent_at) == (NOW, NOW)

    now[0] = NOW + timedelta(seconds=60)
    send.send(chunk("welcome:4", 1, campaign=welcome), final_attempt=False)
    send.send(chunk("sale:0", 1, campaign=SALE), final_attempt=False)  # its own entry
    assert written == [welcome, welcome, SALE]
    entries = {entry.campaign: entry for entry in stats.campaigns(CHANNEL_ID)}
    assert entries[welcome].first_sent_at == NOW
    assert entries[welcome].last_sent_at == NOW + timedelta(seconds=60)

    now[0] = NOW + timedelta(seconds=10)  # the clock went back: written again
    send.send(chunk("welcome:5", 1, campaign=welcome), final_attempt=False)
    assert written == [welcome, welcome, SALE, welcome]


def test_a_failed_index_write_is_tried_again_by_the_next_chunk(
    world: Any, monkeypatch: Any
) -> None:
    _, stats, markers, client = world
    counting = SentCounting(client, stats, markers, lambda _channel: ZoneInfo("Asia/Tokyo"))
    real_update = client.update_item
    failures = [RuntimeError("DynamoDB unavailable")]

    def update_item(**params: Any) -> Any:
        if failures:
            raise failures.pop()
        return real_update(**params)

    monkeypatch.setattr(client, "update_item", update_item)
    with pytest.raises(RuntimeError):
        counting.before_sent(chunk("sale:0"), NOW)
    assert stats.campaigns(CHANNEL_ID) == []

    counting.before_sent(chunk("sale:1"), NOW + timedelta(seconds=1))
    (indexed,) = stats.campaigns(CHANNEL_ID)
    assert indexed.first_sent_at == NOW + timedelta(seconds=1)


# ---------------------------------------------------------------- through the handler
@pytest.fixture
def emulator() -> Iterator[LineEmulator]:
    channel = EmulatedChannel(CHANNEL_ID, CHANNEL_SECRET, ACCESS_TOKEN, None, "U" + "f" * 32)
    with LineEmulator(EmulatorConfig(channels=[channel])) as running:
        yield running


def test_the_same_sqs_record_delivered_twice_counts_sent_once(
    aws: AwsWorld, emulator: LineEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(Env.LINE_API_BASE_URL, emulator.base_url)
    ledger = DeliveryLedger(aws.client("dynamodb"), aws.resources.table_names["Main"])
    sqs = aws.client("sqs")
    url = os.environ[Env.SEND_QUEUE_URL]
    SendQueueOutbox(ledger, sqs, url, lambda: datetime.now(UTC)).enqueue(chunk(variant="A"))
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    messages = sqs.receive_message(
        QueueUrl=url, AttributeNames=["All"], MessageAttributeNames=["All"]
    )["Messages"]
    event = build_sqs_event(messages, arn)
    handler = load_handler("sender")

    for _ in range(2):  # SQS delivers at least once: the same record again
        assert handler.lambda_handler(event, FakeLambdaContext()) == {"batchItemFailures": []}

    stats = CampaignStatsRepository(aws.client("dynamodb"), aws.resources.table_names["Main"])
    assert stats.campaign(CHANNEL_ID, SALE) == {"A": {"sent": 3}}
    today = datetime.now(ZoneInfo("Asia/Tokyo")).date()
    days = stats.days(CHANNEL_ID, today - timedelta(days=1), today)
    assert sum(counts.get("sent", 0) for counts in days.values()) == 3
    assert len(emulator.calls("multicast")) == 1


def test_a_transaction_conflict_on_a_counter_is_retried(world: Any, monkeypatch: Any) -> None:
    """Another chunk's transaction holds the counter item: DynamoDB cancels with
    TransactionConflict, and the move with its counters goes again."""
    from botocore.exceptions import ClientError

    ledger, stats, _, client = world
    original = client.transact_write_items
    attempts: list[int] = []

    def conflicted_once(**kwargs: Any) -> Any:
        attempts.append(len(kwargs["TransactItems"]))
        if len(attempts) == 1:
            raise ClientError(
                {
                    "Error": {"Code": "TransactionCanceledException", "Message": "conflict"},
                    "CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict"}],
                },
                "TransactWriteItems",
            )
        return original(**kwargs)

    monkeypatch.setattr(client, "transact_write_items", conflicted_once)
    sender(world, FakeLineClient()).send(chunk(), final_attempt=False)

    assert attempts == [3, 3]  # the ledger row, the campaign's and the day's counters
    assert stats.campaign_total(CHANNEL_ID, SALE) == {"sent": 3}
    delivery = ledger.get(chunk().delivery_id)
    assert delivery is not None and delivery.status is DeliveryStatus.SENT
