"""Frequency caps and quiet hours on the local stack, with the stack's clock moved:
the handlers and the scheduler runner both tell time by ``stack.clock``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from linecrm_local.demo import DEMO_CHANNEL_ID
from linecrm_local.seed import seed_friends
from linecrm_local.stack import LocalStack
from tests.integration.test_broadcasts import admin, settled, table, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]  # generous deadlines below

TOKYO = ZoneInfo("Asia/Tokyo")


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(visibility_timeout_seconds=30, scheduler_tick_seconds=0.2) as local:
        yield local


@pytest.fixture(autouse=True)
def clean_emulator(stack: LocalStack) -> Iterator[None]:
    stack.emulator.clear_faults()
    yield
    admin(stack, "PUT", "/delivery-policy", {})


def tokyo(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 12, day, hour, minute, second, tzinfo=TOKYO)


def tagged_friends(stack: LocalStack, tag: str, count: int) -> list[str]:
    tag_id = admin(stack, "POST", "/tags", {"name": tag})["tag_id"]
    return seed_friends(stack.emulator, DEMO_CHANNEL_ID, table(stack), count, tag_ids=(tag_id,))


def broadcast(stack: LocalStack, tag: str, text: str, message_class: str = "marketing") -> Any:
    body = {
        "name": text,
        "messages": [{"type": "text", "text": text}],
        "segment": {"match": {"tag": tag}},
        "message_class": message_class,
    }
    created = admin(stack, "POST", "/broadcasts", body)
    return wait_for(lambda: settled(stack, created["broadcast_id"]), timeout=300)


def texts(stack: LocalStack, user_id: str) -> list[str]:
    return [m.message["text"] for m in stack.emulator.inbox(user_id)]


def test_daily_cap_skips_the_third_marketing_broadcast_not_a_transactional_one(
    stack: LocalStack,
) -> None:
    stack.clock.set(tokyo(7, 12))
    friends = tagged_friends(stack, "CapSkip", 2)
    admin(
        stack,
        "PUT",
        "/delivery-policy",
        {"time_zone": "Asia/Tokyo", "marketing_caps": {"per_day": 2}, "when_capped": "skip"},
    )

    first = broadcast(stack, "CapSkip", "skip 1")
    second = broadcast(stack, "CapSkip", "skip 2")
    third = broadcast(stack, "CapSkip", "skip 3")
    receipt = broadcast(stack, "CapSkip", "ご注文を承りました", message_class="transactional")

    for report in (first, second):
        assert report["broadcast"]["counters"]["recipients"] == 2
        assert report["recipients_by_status"] == {"sent": 2}
    capped = third["broadcast"]
    assert capped["status"] == "sent"
    assert capped["counters"]["capped"] == 2 and capped["counters"]["recipients"] == 0
    assert third["deliveries"] == {}
    assert receipt["broadcast"]["counters"]["recipients"] == 2
    assert receipt["recipients_by_status"] == {"sent": 2}
    stack.poller.drain(timeout=30)
    for user_id in friends:
        assert texts(stack, user_id) == ["skip 1", "skip 2", "ご注文を承りました"]


def test_daily_cap_defers_the_third_to_local_midnight_and_sends_it_once(
    stack: LocalStack,
) -> None:
    stack.clock.set(tokyo(8, 12))
    friends = tagged_friends(stack, "CapDefer", 2)
    admin(
        stack,
        "PUT",
        "/delivery-policy",
        {"time_zone": "Asia/Tokyo", "marketing_caps": {"per_day": 2}, "when_capped": "defer"},
    )

    broadcast(stack, "CapDefer", "defer 1")
    broadcast(stack, "CapDefer", "defer 2")
    third = broadcast(stack, "CapDefer", "defer 3")

    assert third["broadcast"]["counters"]["deferred"] == 2
    assert third["broadcast"]["counters"]["recipients"] == 0
    bc_id = third["broadcast"]["broadcast_id"]
    midnight = tokyo(9, 0)
    for user_id in friends:
        row = admin(stack, "GET", f"/deliveries/bc:{bc_id}:u:{user_id}")
        assert row["status"] == "queued"
        assert datetime.fromisoformat(row["deferred_until"]) == midnight
        assert "daily cap 2" in row["deferred_reason"]
    stack.poller.drain(timeout=30)
    assert all(texts(stack, user_id) == ["defer 1", "defer 2"] for user_id in friends)

    stack.clock.set(midnight + timedelta(seconds=5))

    def delivered() -> bool:
        rows = [admin(stack, "GET", f"/deliveries/bc:{bc_id}:u:{u}") for u in friends]
        return all(row["status"] == "sent" for row in rows)

    wait_for(delivered, timeout=30)
    stack.poller.drain(timeout=30)
    stack.runner.run_due()  # nothing fires twice
    stack.invoker.drain(timeout=30)
    stack.poller.drain(timeout=30)
    for user_id in friends:
        assert texts(stack, user_id) == ["defer 1", "defer 2", "defer 3"]


def test_quiet_hours_hold_a_marketing_broadcast_until_morning(stack: LocalStack) -> None:
    stack.clock.set(tokyo(10, 22))
    friends = tagged_friends(stack, "Quiet", 2)
    admin(
        stack,
        "PUT",
        "/delivery-policy",
        {"time_zone": "Asia/Tokyo", "quiet_hours": {"start": "21:00", "end": "09:00"}},
    )
    multicasts_before = len(stack.emulator.calls("multicast"))
    body = {
        "name": "night sale",
        "messages": [{"type": "text", "text": "朝のセール"}],
        "segment": {"match": {"tag": "Quiet"}},
    }
    created = admin(stack, "POST", "/broadcasts", body)
    bc_id = created["broadcast_id"]

    def deferred() -> Any:
        report = admin(stack, "GET", f"/broadcasts/{bc_id}")
        return report if report["broadcast"]["reason"] else None

    held = wait_for(deferred, timeout=30)["broadcast"]
    assert held["status"] == "scheduled"
    assert "quiet hours" in held["reason"]
    assert datetime.fromisoformat(held["send_at"]) == tokyo(11, 9)

    # A transactional broadcast at 22:00 is not held.
    receipt = broadcast(stack, "Quiet", "発送しました", message_class="transactional")
    assert receipt["recipients_by_status"] == {"sent": 2}
    stack.poller.drain(timeout=30)
    assert all(texts(stack, user_id) == ["発送しました"] for user_id in friends)
    assert len(stack.emulator.calls("multicast")) == multicasts_before + 1

    stack.clock.set(tokyo(11, 9, 0, 5))
    report = wait_for(lambda: settled(stack, bc_id), timeout=30)
    stack.poller.drain(timeout=30)

    assert report["broadcast"]["status"] == "sent"
    assert report["recipients_by_status"] == {"sent": 2}
    assert datetime.fromisoformat(report["broadcast"]["started_at"]) >= tokyo(11, 9)
    for user_id in friends:
        assert texts(stack, user_id) == ["発送しました", "朝のセール"]
