"""Issue 4 end to end on `make dev`'s stack: follow → welcome → keyword → reply → tag
added → visible in /admin/friends; a rich-menu postback changes CRM state."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from linecrm_local.demo import DEMO_ADMIN_TOKEN, DEMO_CHANNEL_ID
from linecrm_local.stack import LocalStack
from tests.support.waiting import wait_for

pytestmark = pytest.mark.e2e

ADMIN = {"Authorization": f"Bearer {DEMO_ADMIN_TOKEN}"}
BASE = f"/admin/channels/{DEMO_CHANNEL_ID}"
WELCOME = "ようこそ！クーポンはメニューから"
PRICE = "料金表はこちら: https://example.com/price"

RULES: list[dict[str, Any]] = [
    {
        "rule_id": "welcome",
        "name": "友だち追加",
        "match": {"kind": "follow"},
        "actions": [
            {"type": "reply", "messages": [{"type": "text", "text": WELCOME}]},
            {"type": "add_tags", "tags": ["新規"]},
        ],
    },
    {
        "rule_id": "price",
        "name": "料金",
        "priority": 10,
        "match": {"kind": "keyword", "mode": "contains", "patterns": ["料金"]},
        "cooldown_seconds": 600,
        "actions": [
            {"type": "reply", "messages": [{"type": "text", "text": PRICE}]},
            {"type": "add_tags", "tags": ["料金確認"]},
        ],
    },
]


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(visibility_timeout_seconds=2, scheduler_tick_seconds=0.2) as local:
        yield local


def admin(stack: LocalStack, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(
        method, f"{stack.gateway_url}{BASE}{path}", json=body, headers=ADMIN, timeout=30
    )
    assert response.status_code < 300, (response.status_code, response.text)
    return response.json() if response.content else None


def texts(stack: LocalStack, user_id: str) -> list[str]:
    return [m.message.get("text", "") for m in stack.emulator.inbox(user_id)]


def test_follow_welcome_keyword_reply_tag_visible_in_admin(stack: LocalStack) -> None:
    for name in ("新規", "料金確認", "VIP"):
        admin(stack, "POST", "/tags", {"name": name})
    admin(stack, "POST", "/fields", {"key": "rank", "label": "ランク", "type": "text"})
    admin(stack, "PUT", "/rules", {"rules": RULES})

    follow = stack.emulator.simulate_follow(DEMO_CHANNEL_ID, display_name="Hanako")
    user = follow.user_id
    wait_for(lambda: texts(stack, user) == [WELCOME])

    stack.emulator.simulate_text(DEMO_CHANNEL_ID, user, "料金を教えてください")
    wait_for(lambda: len(texts(stack, user)) == 2)
    stack.poller.drain()
    assert texts(stack, user) == [WELCOME, PRICE]
    assert [m.endpoint for m in stack.emulator.inbox(user)] == ["reply", "reply"]

    # Within the cooldown the same question gets no second answer.
    stack.emulator.simulate_text(DEMO_CHANNEL_ID, user, "料金は？")
    stack.poller.drain()
    assert texts(stack, user) == [WELCOME, PRICE]

    tagged = admin(stack, "GET", "/friends?tag=料金確認")
    (friend,) = [f for f in tagged["friends"] if f["user_id"] == user]
    assert {tag["name"] for tag in friend["tags"]} == {"新規", "料金確認"}
    assert friend["display_name"] == "Hanako"  # the profile the sender fetched
    assert friend["status"] == "active"

    # A rich-menu button drives CRM state without code.
    stack.emulator.simulate_postback(DEMO_CHANNEL_ID, user, "linecrm=1&tag.add=VIP&field.rank=gold")
    shown = admin(stack, "GET", f"/friends/{user}")
    assert {tag["name"] for tag in shown["tags"]} == {"新規", "料金確認", "VIP"}
    assert shown["fields"] == {"rank": "gold"}
    assert stack.gateway.internal_errors == 0
