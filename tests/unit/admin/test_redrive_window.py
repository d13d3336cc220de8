"""Re-drive and LINE's 24 h retry-key window: refused past it unless forced, and the
ledger row says which happened."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from linecrm.delivery.ledger_admin import (
    REDRIVE_WINDOW,
    LedgerAdmin,
    NotRedrivable,
    RetryKeyExpired,
)
from linecrm.domain.deliveries import DeliveryStatus
from linecrm.models.send import SendRequest
from linecrm.repositories.deliveries import DeliveryLedger
from tests.unit.admin.conftest import AdminApi, assert_error
from tests.unit.conftest import CHANNEL_ID, AwsWorld

QUEUED = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)
TEXT = [{"type": "text", "text": "hello"}]


@dataclass
class FakeOutbox:
    queued: list[SendRequest] = field(default_factory=list)

    def put_on_queue(self, request: SendRequest) -> None:
        self.queued.append(request)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def ledger(aws: AwsWorld) -> DeliveryLedger:
    return DeliveryLedger(aws.client("dynamodb"), aws.resources.table_names["Main"])


def dead_row(ledger: DeliveryLedger, delivery_id: str, *, failed_first_at: datetime | None) -> None:
    """Queued at QUEUED; a transient failure at ``failed_first_at``; dead an hour later."""
    request = SendRequest(
        delivery_id=delivery_id, channel_id=CHANNEL_ID, to=["U1"], messages=TEXT, cause="manual"
    )
    ledger.record_queued(request, QUEUED)
    last = QUEUED
    if failed_first_at is not None:
        ledger.record_attempt_failure(delivery_id, "LineTransientError: 500", failed_first_at)
        ledger.record_attempt_failure(
            delivery_id, "LineTransientError: 503", failed_first_at + timedelta(minutes=5)
        )
        last = failed_first_at + timedelta(hours=1)
    ledger.mark_dead(delivery_id, "gave up after retries: 500", last)


def admin(ledger: DeliveryLedger, now: datetime) -> tuple[LedgerAdmin, FakeOutbox]:
    outbox = FakeOutbox()
    return LedgerAdmin(ledger, lambda: outbox, Clock(now)), outbox  # type: ignore[arg-type,return-value]


def test_within_the_window_the_redrive_keeps_the_key_and_clears_the_reason(
    ledger: DeliveryLedger,
) -> None:
    dead_row(ledger, "d-1", failed_first_at=QUEUED + timedelta(minutes=1))
    ledger_admin, outbox = admin(ledger, QUEUED + timedelta(hours=20))

    revived = ledger_admin.redrive(CHANNEL_ID, "d-1")

    assert revived.status is DeliveryStatus.QUEUED
    assert revived.reason is None and revived.last_error is None
    assert revived.previous_reason == "gave up after retries: 500"
    assert revived.first_attempt_at == QUEUED + timedelta(minutes=1)
    assert revived.redrive_forced_at is None
    assert [r.delivery_id for r in outbox.queued] == ["d-1"]  # same id: same retry key
    ledger.mark_sent("d-1", "req-1", QUEUED + timedelta(hours=20, minutes=1))
    sent = ledger.get("d-1")
    assert sent is not None and sent.status is DeliveryStatus.SENT and sent.reason is None


def test_past_the_window_it_is_refused_with_the_reason_and_nothing_changes(
    ledger: DeliveryLedger,
) -> None:
    first = QUEUED + timedelta(minutes=1)
    dead_row(ledger, "d-2", failed_first_at=first)
    ledger_admin, outbox = admin(ledger, first + REDRIVE_WINDOW + timedelta(seconds=1))

    with pytest.raises(RetryKeyExpired, match=r"24 h only.*second copy") as refused:
        ledger_admin.redrive(CHANNEL_ID, "d-2")

    assert isinstance(refused.value, NotRedrivable)  # → 409 in the admin API
    row = ledger.get("d-2")
    assert row is not None and row.status is DeliveryStatus.DEAD and row.redrives == 0
    assert outbox.queued == []


def test_the_window_counts_from_the_first_attempt_not_the_queue_time(
    ledger: DeliveryLedger,
) -> None:
    # Deferred for two days, then tried and dead: the key is young, the row is old.
    dead_row(ledger, "d-3", failed_first_at=QUEUED + timedelta(days=2))
    ledger_admin, _ = admin(ledger, QUEUED + timedelta(days=2, hours=3))
    assert ledger_admin.redrive(CHANNEL_ID, "d-3").status is DeliveryStatus.QUEUED
    # A row that died on its only attempt: that attempt ended when it died.
    dead_row(ledger, "d-4", failed_first_at=None)
    assert admin(ledger, QUEUED + timedelta(hours=22))[0].redrive(CHANNEL_ID, "d-4")
    dead_row(ledger, "d-5", failed_first_at=None)
    with pytest.raises(RetryKeyExpired):
        admin(ledger, QUEUED + timedelta(hours=23, minutes=1))[0].redrive(CHANNEL_ID, "d-5")


def test_forced_past_the_window_it_goes_and_the_row_records_it(ledger: DeliveryLedger) -> None:
    dead_row(ledger, "d-6", failed_first_at=QUEUED)
    now = QUEUED + timedelta(days=3)
    ledger_admin, outbox = admin(ledger, now)

    revived = ledger_admin.redrive(CHANNEL_ID, "d-6", force=True)

    assert revived.status is DeliveryStatus.QUEUED
    assert revived.redrive_forced_at == now
    assert revived.first_attempt_at == QUEUED  # kept: a second re-drive is past it too
    assert [r.delivery_id for r in outbox.queued] == ["d-6"]


def test_redrive_all_dead_lists_what_it_refused(ledger: DeliveryLedger) -> None:
    dead_row(ledger, "old", failed_first_at=QUEUED)
    dead_row(ledger, "young", failed_first_at=QUEUED + timedelta(days=2))
    ledger_admin, outbox = admin(ledger, QUEUED + timedelta(days=2, hours=2))

    redriven, refused = ledger_admin.redrive_all_dead(CHANNEL_ID, cause=None, limit=10)

    assert redriven == ["young"]
    assert [r.delivery_id for r in refused] == ["old"]
    forced, none_refused = ledger_admin.redrive_all_dead(
        CHANNEL_ID, cause=None, limit=10, force=True
    )
    assert forced == ["old"] and none_refused == []
    assert sorted(r.delivery_id for r in outbox.queued) == ["old", "young"]


def test_the_admin_api_answers_409_past_the_window_and_force_sends_it(
    api: AdminApi, ledger: DeliveryLedger
) -> None:
    dead_row(ledger, "d-7", failed_first_at=QUEUED)  # days before the handler's clock

    refused = api.call("POST", "/deliveries/d-7/redrive")
    assert_error(refused, 409)
    assert "retry key" in refused.body["message"]

    forced = api.call("POST", "/deliveries/d-7/redrive", query={"force": "true"})
    assert forced.status == 200, forced.body
    assert forced.body["status"] == "queued" and forced.body["redrive_forced_at"]
    assert api.call("POST", "/deliveries/d-7/redrive", query={"force": "maybe"}).status == 422
