"""KARTE-style delayed message, end to end: the shop's events API says a friend's cart
holds 3,000 or more; an hour later that friend gets a reminder, unless a `purchase`
event came in meanwhile. The events function hears the events, the scenario engine
enrols and exits, the bucket schedule fires on the moved clock, and the sender pushes.
Every AWS call is checked against the functions' grants in the CDK template."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from linecrm_local.demo import DEMO_ADMIN_TOKEN, DEMO_CHANNEL_ID
from linecrm_local.stack import LocalStack
from tests.integration.test_events_api import send  # signed with the demo source
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ADMIN = {"Authorization": f"Bearer {DEMO_ADMIN_TOKEN}"}
BASE = f"/admin/channels/{DEMO_CHANNEL_ID}"
READ = (10, 120)
# Tuesday 2026-12-01 13:00:20 in Tokyo: the reminder is due at 14:00, in business hours.
START = datetime(2026, 12, 1, 4, 0, 20, tzinfo=UTC)
REMINDER = "カートに商品が残っています。お早めにどうぞ！"
CART_REMINDER: dict[str, Any] = {
    "name": "カゴ落ちリマインド",
    "message_class": "marketing",
    "re_entry": "after_completion",
    "triggers": [
        {
            "type": "event",
            "name": "cart_updated",
            "where": [{"property": "value", "op": "gte", "value": 3000}],
        }
    ],
    "exit_when": [{"type": "event", "name": "purchase"}],
    "steps": [
        {
            "id": "remind",
            "timing": {"after": "1h"},
            "messages": [{"type": "text", "text": REMINDER}],
        }
    ],
}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    # The test fires schedules itself (run_due) after moving the clock.
    with LocalStack(visibility_timeout_seconds=5, scheduler_tick_seconds=3600) as local:
        local.clock.set(START)
        yield local


def admin(stack: LocalStack, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(
        method, f"{stack.gateway_url}{BASE}{path}", json=body, headers=ADMIN, timeout=READ
    )
    assert response.status_code < 300, (response.status_code, response.text)
    return response.json()


def send_event(stack: LocalStack, user: str, name: str, key: str, value: float) -> dict[str, Any]:
    body = json.dumps(
        {
            "events": [
                {
                    "name": name,
                    "user": user,
                    "occurred_at": stack.clock.now().isoformat(),
                    "idempotency_key": key,
                    "value": value,
                }
            ]
        }
    ).encode()
    response = send(stack, body)
    assert response.status_code == 200, response.text
    (result,) = response.json()["results"]
    return dict(result)


def follower(stack: LocalStack, name: str) -> str:
    user_id = stack.emulator.simulate_follow(DEMO_CHANNEL_ID, display_name=name).user_id
    wait_for(
        lambda: (
            requests.get(
                f"{stack.gateway_url}{BASE}/friends/{user_id}", headers=ADMIN, timeout=READ
            ).status_code
            == 200
        ),
        timeout=120,
    )
    return user_id


def texts(stack: LocalStack, user_id: str) -> list[str]:
    return [m.message.get("text", "") for m in stack.emulator.inbox(user_id)]


def fire_due(stack: LocalStack, moment: datetime) -> None:
    stack.clock.set(moment)
    stack.runner.run_due()
    stack.invoker.drain(timeout=120)
    stack.poller.drain(timeout=120)


def test_a_cart_left_for_an_hour_is_reminded_unless_bought_meanwhile(stack: LocalStack) -> None:
    admin(stack, "PUT", "/scenarios/cart-reminder", CART_REMINDER)
    leaves, buys, small = (
        follower(stack, "置き去り"),
        follower(stack, "購入"),
        follower(stack, "少額"),
    )
    stack.poller.drain(timeout=120)
    welcomes = {user: texts(stack, user) for user in (leaves, buys, small)}

    assert send_event(stack, leaves, "cart_updated", "cart-1", 4200)["status"] == "applied"
    assert send_event(stack, buys, "cart_updated", "cart-2", 5800)["status"] == "applied"
    assert send_event(stack, small, "cart_updated", "cart-3", 900)["status"] == "applied"
    # The shop retries a request: the same idempotency key enrols nobody twice.
    assert send_event(stack, leaves, "cart_updated", "cart-1", 4200)["status"] == "duplicate"

    stack.clock.set(START + timedelta(minutes=20))
    assert send_event(stack, buys, "purchase", "order-1", 5800)["status"] == "applied"

    fire_due(stack, START + timedelta(minutes=59))
    assert texts(stack, leaves) == welcomes[leaves]  # not due yet

    fire_due(stack, START + timedelta(hours=1, minutes=1))
    assert texts(stack, leaves) == [*welcomes[leaves], REMINDER]
    assert texts(stack, buys) == welcomes[buys]  # bought meanwhile: exited, nothing sent
    assert texts(stack, small) == welcomes[small]  # 900 < 3,000: never enrolled

    fire_due(stack, START + timedelta(hours=3))  # a late or second fire sends nothing more
    assert texts(stack, leaves).count(REMINDER) == 1

    shown = admin(stack, "GET", "/scenarios/cart-reminder")
    assert json.dumps(shown, ensure_ascii=False).count("event:purchase") >= 1, shown
    assert stack.gateway.internal_errors == 0
