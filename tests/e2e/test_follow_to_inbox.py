"""The pipe is real: simulated follow → signed webhook → friend row → welcome on SQS →
sender → LINE emulator → the friend's inbox; exactly once, even with LINE failing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from linecrm.domain.deliveries import retry_key_for
from linecrm.resources import MAIN_TABLE
from linecrm_local.demo import DEMO_CHANNEL_ID
from linecrm_local.seed import DEMO_WELCOME_MESSAGES
from linecrm_local.stack import LocalStack
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]  # generous deadlines below
WELCOME_TEXT = DEMO_WELCOME_MESSAGES[0]["text"]


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    # The stack seeds the demo account (its welcome message), as `make dev` shows it.
    with LocalStack(visibility_timeout_seconds=1, scheduler_tick_seconds=0.2) as local:
        yield local


@pytest.fixture(autouse=True)
def clean_emulator(stack: LocalStack) -> Iterator[None]:
    stack.emulator.clear_faults()
    yield
    stack.emulator.clear_faults()


def welcome_texts(stack: LocalStack, user_id: str) -> list[str]:
    return [m.message.get("text", "") for m in stack.emulator.inbox(user_id)]


def ledger_row(stack: LocalStack, delivery_id: str) -> dict[str, Any]:
    table = stack.resources.table_names[MAIN_TABLE.logical_id]
    item = boto3.client("dynamodb").get_item(
        TableName=table, Key={"pk": {"S": f"DELIVERY#{delivery_id}"}, "sk": {"S": "DELIVERY"}}
    )
    return item.get("Item", {})


def friend_row(stack: LocalStack, user_id: str) -> dict[str, Any]:
    table = stack.resources.table_names[MAIN_TABLE.logical_id]
    key = {"pk": {"S": f"CH#{DEMO_CHANNEL_ID}#FRIEND#{user_id}"}, "sk": {"S": "PROFILE"}}
    return boto3.client("dynamodb").get_item(TableName=table, Key=key).get("Item", {})


def test_follow_reaches_the_friends_inbox_once(stack: LocalStack) -> None:
    delivery = stack.emulator.simulate_follow(DEMO_CHANNEL_ID, display_name="Hanako")
    assert [attempt.status for attempt in delivery.attempts] == [200]

    friend = friend_row(stack, delivery.user_id)
    assert friend["status"]["S"] == "active"

    wait_for(lambda: welcome_texts(stack, delivery.user_id))
    stack.poller.drain()
    assert welcome_texts(stack, delivery.user_id) == [WELCOME_TEXT]

    delivery_id = f"welcome:{DEMO_CHANNEL_ID}:{delivery.webhook_event_id}"
    row = ledger_row(stack, delivery_id)
    assert row["status"]["S"] == "sent"
    (received,) = stack.emulator.inbox(delivery.user_id)
    # The follow's reply token was fresh: the welcome went out as a reply (free of quota).
    assert received.endpoint == "reply"
    assert row["sent_via"]["S"] == "reply"
    assert row["line_request_id"]["S"] == received.request_id
    assert stack.gateway.internal_errors == 0

    # The sender also fetched the friend's LINE profile.
    wait_for(lambda: friend_row(stack, delivery.user_id).get("display_name"))
    assert friend_row(stack, delivery.user_id)["display_name"]["S"] == "Hanako"


def test_welcome_arrives_exactly_once_with_half_of_pushes_failing(stack: LocalStack) -> None:
    # Replies fail (before delivery), so every welcome falls back to a push; half the
    # pushes fail: some before LINE delivers, some after (the response is lost), which
    # only the retry key can make safe.
    stack.emulator.set_faults("reply", error_500=1.0, seed=2)
    stack.emulator.set_faults("push", error_500=0.25, error_500_after_delivery=0.25, seed=3)
    deliveries = [stack.emulator.simulate_follow(DEMO_CHANNEL_ID) for _ in range(12)]
    assert all(d.attempts[-1].status == 200 for d in deliveries)

    users = [d.user_id for d in deliveries]
    wait_for(lambda: all(welcome_texts(stack, u) for u in users), timeout=300)
    stack.poller.drain(timeout=300)
    assert all(welcome_texts(stack, u) == [WELCOME_TEXT] for u in users)

    push_calls = [c for c in stack.emulator.calls("push") if c.channel_id == DEMO_CHANNEL_ID]
    failures = [c for c in push_calls if c.status >= 500]
    assert failures, "the fault injection did not trigger: the test proves nothing"
    assert any(c.status == 409 for c in push_calls), "no retry of a delivered push happened"
    for d in deliveries:
        row = ledger_row(stack, f"welcome:{DEMO_CHANNEL_ID}:{d.webhook_event_id}")
        assert row["status"]["S"] == "sent"
        assert row["sent_via"]["S"] == "push"
        assert "reply_error" in row
        (received,) = stack.emulator.inbox(d.user_id)
        assert received.retry_key == retry_key_for(
            f"welcome:{DEMO_CHANNEL_ID}:{d.webhook_event_id}"
        )


def test_redelivered_follow_sends_no_second_welcome(stack: LocalStack) -> None:
    delivery = stack.emulator.simulate_follow(DEMO_CHANNEL_ID)
    redelivered = {**delivery.event, "deliveryContext": {"isRedelivery": True}}
    again = stack.emulator.simulate(DEMO_CHANNEL_ID, delivery.user_id, redelivered)
    assert again.attempts[-1].status == 200
    wait_for(lambda: welcome_texts(stack, delivery.user_id))
    stack.poller.drain()
    assert welcome_texts(stack, delivery.user_id) == [WELCOME_TEXT]


def test_cli_simulates_a_follow_and_reads_the_inbox(stack: LocalStack) -> None:
    env = {**os.environ, "LINECRM_EMULATOR_URL": stack.emulator_url}
    cli = [sys.executable, "-m", "linecrm_local.cli"]
    followed = subprocess.run(
        [*cli, "simulate", "follow", "--name", "Taro"], env=env, capture_output=True, text=True
    )
    assert followed.returncode == 0, followed.stderr
    user_id = json.loads(followed.stdout)["userId"]
    wait_for(lambda: welcome_texts(stack, user_id))

    inbox = subprocess.run([*cli, "inbox", user_id], env=env, capture_output=True, text=True)
    assert inbox.returncode == 0, inbox.stderr
    assert WELCOME_TEXT in inbox.stdout


def test_cli_explains_when_the_emulator_is_not_running() -> None:
    env = {**os.environ, "LINECRM_EMULATOR_URL": "http://127.0.0.1:9"}
    result = subprocess.run(
        [sys.executable, "-m", "linecrm_local.cli", "inbox", "U1"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "cannot reach the LINE emulator" in result.stderr
    assert "Traceback" not in result.stderr
