"""The sender's monthly-quota guard and the channel send limits it reads (moto, fakes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from linecrm.delivery.pacing import SendRates
from linecrm.delivery.send_limits import (
    QUOTA_EXHAUSTED_SETTING,
    SEND_RATE_SETTING,
    ChannelSendLimits,
    ChannelSendLimitsCache,
    next_quota_period,
    parse_send_limits,
)
from linecrm.delivery.sender import Sender, SendOutcome
from linecrm.domain.deliveries import DeliveryStatus
from linecrm.line.client import SendReceipt
from linecrm.line.errors import LineQuotaExceeded
from linecrm.models.send import MessageClass, SendRequest
from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm.repositories.deliveries import DeliveryLedger
from tests.unit.conftest import CHANNEL_ID, AwsWorld

TOKYO = "Asia/Tokyo"
NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo
# 2026-12-01 00:00 in Tokyo.
DECEMBER_IN_TOKYO = datetime(2026, 11, 30, 15, 0, tzinfo=UTC)
TEXT = [{"type": "text", "text": "セール"}]
QUOTA_429 = LineQuotaExceeded("You have reached your monthly limit.", status=429)


# ---------------------------------------------------------------- pure


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (NOW, DECEMBER_IN_TOKYO),
        # One second before midnight on the last day in Tokyo: still November there.
        (DECEMBER_IN_TOKYO - timedelta(seconds=1), DECEMBER_IN_TOKYO),
        # Midnight in Tokyo on the 1st (still Nov 30 in UTC): December's quota is new.
        (DECEMBER_IN_TOKYO, datetime(2026, 12, 31, 15, 0, tzinfo=UTC)),
        # December runs into January of the next year.
        (datetime(2026, 12, 20, tzinfo=UTC), datetime(2026, 12, 31, 15, 0, tzinfo=UTC)),
    ],
)
def test_the_quota_period_ends_at_the_next_month_in_the_account_time_zone(
    now: datetime, expected: datetime
) -> None:
    assert next_quota_period(now, TOKYO) == expected
    assert next_quota_period(now, TOKYO).tzinfo is UTC


def test_quota_exhausted_until_the_instant_it_ends() -> None:
    limits = ChannelSendLimits(quota_exhausted_until=DECEMBER_IN_TOKYO)
    assert limits.quota_exhausted(DECEMBER_IN_TOKYO - timedelta(microseconds=1))
    assert not limits.quota_exhausted(DECEMBER_IN_TOKYO)
    assert not ChannelSendLimits().quota_exhausted(NOW)


def test_settings_are_parsed_from_their_stored_json() -> None:
    limits = parse_send_limits(
        {
            SEND_RATE_SETTING: json.dumps({"push": 100}),
            QUOTA_EXHAUSTED_SETTING: json.dumps("2026-11-30T15:00:00.000+00:00"),
        }
    )
    assert limits.rates.push == 100 and limits.rates.multicast == SendRates().multicast
    assert limits.quota_exhausted_until == DECEMBER_IN_TOKYO
    # Typed into the DynamoDB console as a number: arrives decoded.
    assert parse_send_limits({SEND_RATE_SETTING: 30}).rates == SendRates.from_setting(30)


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        (SEND_RATE_SETTING, "not json"),
        (SEND_RATE_SETTING, json.dumps(-5)),
        (QUOTA_EXHAUSTED_SETTING, json.dumps("yesterday")),
        (QUOTA_EXHAUSTED_SETTING, json.dumps("2026-12-01T00:00:00")),  # no time zone
        (QUOTA_EXHAUSTED_SETTING, json.dumps(17)),
    ],
)
def test_a_malformed_setting_falls_back_to_its_default_and_is_reported(name: str, raw: str) -> None:
    reported: list[str] = []
    limits = parse_send_limits({name: raw}, on_invalid=lambda setting, _e: reported.append(setting))
    assert limits == ChannelSendLimits()
    assert reported == [name]


# ---------------------------------------------------------------- store and cache


@pytest.fixture
def repository(aws: AwsWorld) -> ChannelConfigRepository:
    return ChannelConfigRepository(aws.client("dynamodb"), aws.resources.table_names["Main"])


@pytest.fixture
def ledger(aws: AwsWorld) -> DeliveryLedger:
    return DeliveryLedger(aws.client("dynamodb"), aws.resources.table_names["Main"])


def test_the_flag_is_written_once_per_period(repository: ChannelConfigRepository) -> None:
    november = ChannelSendLimitsCache(repository, lambda: NOW)
    assert november.record_quota_exhausted(CHANNEL_ID, DECEMBER_IN_TOKYO) is True
    assert november.record_quota_exhausted(CHANNEL_ID, DECEMBER_IN_TOKYO) is False
    # Another environment finding it too: the conditional write says it was first.
    assert (
        ChannelSendLimitsCache(repository, lambda: NOW).record_quota_exhausted(
            CHANNEL_ID, DECEMBER_IN_TOKYO
        )
        is False
    )
    # December's exhaustion replaces November's flag; an older one never does.
    january = datetime(2026, 12, 31, 15, 0, tzinfo=UTC)
    assert november.record_quota_exhausted(CHANNEL_ID, january) is True
    assert repository.advance_setting(CHANNEL_ID, QUOTA_EXHAUSTED_SETTING, "2026-01-01") is False
    stored = parse_send_limits(repository.load_settings(CHANNEL_ID))
    assert stored.quota_exhausted_until == january


def test_the_cache_rereads_settings_after_its_ttl(repository: ChannelConfigRepository) -> None:
    now = [NOW]
    cache = ChannelSendLimitsCache(repository, lambda: now[0])
    assert cache.get(CHANNEL_ID) == ChannelSendLimits()
    repository.set_setting(CHANNEL_ID, SEND_RATE_SETTING, 40)
    assert cache.get(CHANNEL_ID).rates.push != 40  # cached
    now[0] += timedelta(seconds=30)
    assert cache.get(CHANNEL_ID).rates.push == 40


# ---------------------------------------------------------------- the sender's guard


class FakeLineClient:
    def __init__(self, *outcomes: Any) -> None:
        self.outcomes = list(outcomes)
        self.calls: list[str] = []

    def _next(self, kind: str) -> SendReceipt:
        self.calls.append(kind)
        outcome = self.outcomes.pop(0) if self.outcomes else SendReceipt(f"req-{len(self.calls)}")
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def push(
        self, to: str, messages: Any, retry_key: str, aggregation_unit: str | None = None
    ) -> SendReceipt:
        return self._next("push")

    def multicast(
        self, to: list[str], messages: Any, retry_key: str, aggregation_unit: str | None = None
    ) -> SendReceipt:
        return self._next("multicast")

    def reply(self, reply_token: str, messages: Any) -> SendReceipt:
        return self._next("reply")


def request(
    delivery_id: str,
    message_class: MessageClass = "marketing",
    to: list[str] | None = None,
    reply_token: str | None = None,
) -> SendRequest:
    return SendRequest(
        delivery_id=delivery_id,
        channel_id=CHANNEL_ID,
        to=to or ["U1"],
        messages=TEXT,
        cause="broadcast" if message_class == "marketing" else "trigger",
        message_class=message_class,
        reply_token=reply_token,
    )


class World:
    def __init__(self, ledger: DeliveryLedger, repository: ChannelConfigRepository) -> None:
        self.ledger = ledger
        self.repository = repository
        self.now = NOW
        self.client = FakeLineClient()

    def sender(self) -> Sender:
        """A sender environment of its own (own cache), like another Lambda container."""
        return Sender(
            self.ledger,
            lambda _channel: self.client,  # type: ignore[arg-type,return-value]
            lambda: self.now,
            limits=ChannelSendLimitsCache(self.repository, lambda: self.now),
            time_zone=TOKYO,
        )


@pytest.fixture
def world(ledger: DeliveryLedger, repository: ChannelConfigRepository) -> World:
    return World(ledger, repository)


def test_first_quota_429_stores_the_flag_and_says_so(world: World) -> None:
    world.client = FakeLineClient(QUOTA_429)
    report = world.sender().send(request("d-1"), final_attempt=False)
    assert report.outcome is SendOutcome.SKIPPED and report.quota_exhausted_now
    delivery = world.ledger.get("d-1")
    assert delivery is not None and delivery.status is DeliveryStatus.SKIPPED
    assert (delivery.reason or "").startswith("monthly_quota_exceeded")
    stored = parse_send_limits(world.repository.load_settings(CHANNEL_ID))
    assert stored.quota_exhausted_until == DECEMBER_IN_TOKYO


def test_later_marketing_is_skipped_without_a_line_call(world: World) -> None:
    world.client = FakeLineClient(QUOTA_429)
    sender = world.sender()
    sender.send(request("d-1"), final_attempt=False)
    for number in range(2, 5):
        report = sender.send(
            request(f"d-{number}", to=["U1", "U2"] if number % 2 else None), final_attempt=False
        )
        assert report.outcome is SendOutcome.SKIPPED and not report.quota_exhausted_now
        delivery = world.ledger.get(f"d-{number}")
        assert delivery is not None and delivery.status is DeliveryStatus.SKIPPED
        assert (delivery.reason or "").startswith("monthly_quota_exceeded")
    assert world.client.calls == ["push"]  # the first one only


def test_another_environment_learns_it_from_the_stored_flag(world: World) -> None:
    world.client = FakeLineClient(QUOTA_429)
    world.sender().send(request("d-1"), final_attempt=False)
    world.sender().send(request("d-2"), final_attempt=False)
    assert world.client.calls == ["push"]


def test_a_second_environment_hitting_the_429_does_not_alarm_again(world: World) -> None:
    first, second = world.sender(), world.sender()
    second.send(request("warm-up", "transactional"), final_attempt=False)  # caches "no flag"
    world.client = FakeLineClient(QUOTA_429, QUOTA_429)
    assert first.send(request("d-1"), final_attempt=False).quota_exhausted_now
    report = second.send(request("d-2"), final_attempt=False)
    assert report.outcome is SendOutcome.SKIPPED and not report.quota_exhausted_now


def test_transactional_deliveries_still_try(world: World) -> None:
    world.client = FakeLineClient(QUOTA_429)
    sender = world.sender()
    sender.send(request("d-1"), final_attempt=False)
    report = sender.send(request("order-shipped", "transactional"), final_attempt=False)
    assert report.outcome is SendOutcome.SENT
    assert world.client.calls == ["push", "push"]


def test_a_transactional_quota_429_is_skipped_too(world: World) -> None:
    world.client = FakeLineClient(QUOTA_429, QUOTA_429)
    sender = world.sender()
    sender.send(request("d-1"), final_attempt=False)
    report = sender.send(request("order-shipped", "transactional"), final_attempt=False)
    assert report.outcome is SendOutcome.SKIPPED
    assert world.client.calls == ["push", "push"]


def test_replies_are_free_of_quota_and_still_go_out(world: World) -> None:
    world.client = FakeLineClient(QUOTA_429)
    sender = world.sender()
    sender.send(request("d-1"), final_attempt=False)
    report = sender.send(request("welcome", reply_token="token-1"), final_attempt=False)
    assert report.outcome is SendOutcome.SENT and report.detail == "replied"
    assert world.client.calls == ["push", "reply"]


def test_the_flag_expires_at_the_month_boundary_in_tokyo(world: World) -> None:
    world.client = FakeLineClient(QUOTA_429)
    sender = world.sender()
    sender.send(request("d-1"), final_attempt=False)

    world.now = DECEMBER_IN_TOKYO - timedelta(seconds=1)  # 23:59:59 on Nov 30 in Tokyo
    assert sender.send(request("d-2"), final_attempt=False).outcome is SendOutcome.SKIPPED
    world.now = DECEMBER_IN_TOKYO  # 00:00 on Dec 1 in Tokyo (still Nov 30 in UTC)
    assert sender.send(request("d-3"), final_attempt=False).outcome is SendOutcome.SENT
    assert world.client.calls == ["push", "push"]
