"""A person with a phone, played by headless chromium: scan the poster's QR code (open
the route's URL), log in on LINE Login's page (the emulator's), tap "add friend", land on
the thank-you page; the friend is attributed to the route, with its tag.

Needs Playwright (the browser tests' dependency) and Debian's chromium; without them
the test is skipped, naming what is missing."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from linecrm_local.demo import DEMO_ADMIN_TOKEN, DEMO_CHANNEL_ID
from linecrm_local.stack import LocalStack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ADMIN = {"Authorization": f"Bearer {DEMO_ADMIN_TOKEN}"}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(scheduler_tick_seconds=0.2, poll_interval_seconds=0.02) as local:
        yield local


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
    if CHROMIUM is None:
        pytest.skip("no chromium executable on PATH")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox"]
        )
        yield launched
        launched.close()


def admin(stack: LocalStack, method: str, path: str, body: Any = None) -> Any:
    answer = requests.request(
        method,
        f"{stack.gateway_url}/admin/channels/{DEMO_CHANNEL_ID}{path}",
        json=body,
        headers=ADMIN,
        timeout=60,
    )
    assert answer.status_code < 300, answer.text
    return answer.json()


def test_scan_log_in_add_friend_and_land_attributed(stack: LocalStack, browser: Any) -> None:
    admin(stack, "POST", "/tags", {"name": "ポスター"})
    route = admin(
        stack, "POST", "/routes", {"route_id": "poster", "name": "P", "tags": ["ポスター"]}
    )
    page = browser.new_page()

    page.goto(route["url"])  # → LINE Login (the emulator), bot_prompt=aggressive
    assert page.url.startswith(f"{stack.emulator_url}/oauth2/v2.1/authorize?")
    assert page.locator("#bot-prompt").is_visible()
    user_id = page.input_value("#user-id")
    page.click("#add-friend")  # the follow webhook, then our callback

    page.wait_for_load_state()
    assert page.url.startswith(f"{stack.gateway_url}/r/callback?")
    assert "Thank you" in page.inner_text("h1")
    friend = admin(stack, "GET", f"/friends/{user_id}")
    assert (friend["inflow_route"], [t["name"] for t in friend["tags"]]) == ("poster", ["ポスター"])
    assert admin(stack, "GET", "/routes/poster")["report"]["friends"] == 1
    assert stack.gateway.internal_errors == 0
