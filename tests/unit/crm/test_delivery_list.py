"""The ledger's delivery list on moto: newest first across its shards, filters, cursors."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from linecrm.models.send import SendRequest
from linecrm.repositories.deliveries import DeliveryLedger, InvalidDeliveryCursor
from linecrm.repositories.sharding import SHARDS, shard_of
from tests.unit.conftest import CHANNEL_ID, AwsWorld

OTHER_CHANNEL = "1650000099"
T0 = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)


@pytest.fixture
def ledger(aws: AwsWorld) -> DeliveryLedger:
    return DeliveryLedger(aws.client("dynamodb"), aws.resources.table_names["Main"])


def queue(ledger: DeliveryLedger, count: int, channel_id: str = CHANNEL_ID) -> list[str]:
    """``count`` deliveries a second apart; their ids, newest first."""
    ids = []
    for n in range(count):
        delivery_id = f"test:{channel_id}:{n:04d}"
        request = SendRequest(
            delivery_id=delivery_id,
            channel_id=channel_id,
            to=["U" + "a" * 32],
            messages=[{"type": "text", "text": "hi"}],
            cause="broadcast" if n % 3 else "welcome",
        )
        ledger.record_queued(request, T0 + timedelta(seconds=n))
        ids.append(delivery_id)
    return ids[::-1]


def pages(ledger: DeliveryLedger, **options: object) -> list[list[str]]:
    found: list[list[str]] = []
    cursor = None
    while True:
        page, cursor = ledger.list_page(CHANNEL_ID, cursor=cursor, **options)  # type: ignore[arg-type]
        found.append([delivery.delivery_id for delivery in page])
        if cursor is None:
            return found
        assert len(found) < 50, "paging does not end"


def test_pages_are_newest_first_across_every_shard(ledger: DeliveryLedger) -> None:
    newest_first = queue(ledger, 70)
    queue(ledger, 5, OTHER_CHANNEL)
    assert len({shard_of(delivery_id) for delivery_id in newest_first}) == SHARDS
    found = pages(ledger, limit=25)
    assert [len(page) for page in found] == [25, 25, 20]
    assert [delivery_id for page in found for delivery_id in page] == newest_first


def test_filters_apply_across_pages(ledger: DeliveryLedger) -> None:
    newest_first = queue(ledger, 60)
    welcome = [d for d in newest_first if int(d[-4:]) % 3 == 0]
    found = pages(ledger, cause="welcome", limit=7)
    assert [delivery_id for page in found for delivery_id in page] == welcome
    ledger.mark_sent(welcome[0], None, T0)
    sent, cursor = ledger.list_page(CHANNEL_ID, status="sent")
    assert [d.delivery_id for d in sent] == [welcome[0]] and cursor is None


def encode(key: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage!!",
        encode({"pk": "x", "sk": "y", "gsi1pk": f"CH#{CHANNEL_ID}#DELIVERIES", "gsi1sk": "z"}),
        encode({"list": f"CH#{CHANNEL_ID}#DELIVERIES", "before": 5}),
        encode({"list": f"CH#{OTHER_CHANNEL}#DELIVERIES", "before": "2026"}),
    ],
)
def test_forged_and_foreign_cursors_are_invalid(ledger: DeliveryLedger, cursor: str) -> None:
    with pytest.raises(InvalidDeliveryCursor):
        ledger.list_page(CHANNEL_ID, cursor=cursor)
