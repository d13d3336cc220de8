"""The demo channel's admin API over the local stack's gateway, for integration tests."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import requests

from linecrm_local.demo import DEMO_ADMIN_TOKEN, DEMO_CHANNEL_ID
from linecrm_local.stack import LocalStack

ADMIN = {"Authorization": f"Bearer {DEMO_ADMIN_TOKEN}"}
BASE = f"/admin/channels/{DEMO_CHANNEL_ID}"
READ = (10, 120)  # connect, read timeouts: generous, a loaded machine is slow


def admin(stack: LocalStack, method: str, path: str, body: Any = None) -> requests.Response:
    """``method`` on the demo channel's admin ``path`` (``/friends/U…``)."""
    return requests.request(
        method, f"{stack.gateway_url}{BASE}{path}", json=body, headers=ADMIN, timeout=READ
    )


def eventually(check: Callable[[], Any], what: str, seconds: float = 30) -> Any:
    """The first truthy ``check()``; AssertionError naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"never happened: {what}")


def follower(stack: LocalStack, name: str) -> str:
    """A new friend of the demo channel (followed through the webhook), once stored."""
    user_id = stack.emulator.simulate_follow(DEMO_CHANNEL_ID, display_name=name).user_id
    eventually(lambda: admin(stack, "GET", f"/friends/{user_id}").status_code == 200, "follow")
    return user_id
