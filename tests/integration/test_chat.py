"""1:1 chat on the local stack: a friend writes, the inbox shows it unread, staff
replies (twice with the same Idempotency-Key), the friend's LINE inbox gets it once,
and the conversation log shows both directions."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests

from linecrm_local.demo import DEMO_ADMIN_TOKEN, DEMO_CHANNEL_ID
from linecrm_local.stack import LocalStack

pytestmark = pytest.mark.integration

ADMIN = {"Authorization": f"Bearer {DEMO_ADMIN_TOKEN}"}


def admin_url(stack: LocalStack, path: str) -> str:
    return f"{stack.gateway_url}/admin/channels/{DEMO_CHANNEL_ID}{path}"


def wait_for(check: Any, what: str, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what}: not seen within {timeout} s")


def conversation(stack: LocalStack, user_id: str) -> dict[str, Any] | None:
    answer = requests.get(admin_url(stack, "/chat/conversations"), headers=ADMIN, timeout=60)
    assert answer.status_code == 200, answer.text
    return next((c for c in answer.json()["items"] if c["userId"] == user_id), None)


def test_a_friend_writes_staff_replies_once_and_the_log_shows_both(fresh: LocalStack) -> None:
    stack = fresh
    user_id = stack.emulator.simulate_follow(DEMO_CHANNEL_ID, display_name="チャット花子").user_id
    wait_for(
        lambda: (
            requests.get(
                admin_url(stack, f"/friends/{user_id}"), headers=ADMIN, timeout=60
            ).status_code
            == 200
        ),
        "the friend",
    )
    stack.emulator.simulate_text(DEMO_CHANNEL_ID, user_id, "予約の時間を変えられますか？")
    item = wait_for(lambda: conversation(stack, user_id), "the conversation in the inbox")
    assert item["unread"] == 1
    assert item["lastMessage"]["direction"] == "in"
    stack.poller.drain()  # the welcome and any auto reply are delivered

    before = len(stack.emulator.inbox(user_id))
    key = str(uuid.uuid4())
    text = f"はい、変更できます（{key[:8]}）"
    url = admin_url(stack, f"/chat/conversations/{user_id}/replies")
    headers = {**ADMIN, "Idempotency-Key": key}
    first = requests.post(url, json={"text": text, "staff": "田中"}, headers=headers, timeout=60)
    again = requests.post(url, json={"text": text, "staff": "田中"}, headers=headers, timeout=60)
    assert (first.status_code, again.status_code) == (202, 202), (first.text, again.text)
    assert first.json()["deliveryId"] == again.json()["deliveryId"]
    stack.poller.drain()

    received = [m for m in stack.emulator.inbox(user_id)[before:] if m.message.get("text") == text]
    assert len(received) == 1
    assert received[0].endpoint == "push" and received[0].retry_key

    log = requests.get(
        admin_url(stack, f"/chat/conversations/{user_id}/messages"), headers=ADMIN, timeout=60
    )
    assert log.status_code == 200, log.text
    items = log.json()["items"]
    staff = [m for m in items if m["source"] == "staff"]
    assert [(m["text"], m["staff"], m["status"]) for m in staff] == [(text, "田中", "sent")]
    assert any(m["direction"] == "in" and m["source"] == "friend" for m in items)
    assert items[0]["source"] == "staff"  # newest first

    assert requests.post(
        admin_url(stack, f"/chat/conversations/{user_id}/read"), headers=ADMIN, timeout=60
    ).json() == {"userId": user_id, "unread": 0}
    after = conversation(stack, user_id)
    assert after is not None
    assert (after["unread"], after["needsReply"], after["lastMessage"]["direction"]) == (
        0,
        False,
        "out",
    )
    assert stack.gateway.internal_errors == 0
