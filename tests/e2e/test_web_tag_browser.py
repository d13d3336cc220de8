"""The web tag in a real browser (Debian's chromium driven by Playwright) on the demo
shop: a linked friend opens the LIFF member card, taps 「ショップにログイン」 and lands
logged in (the auto-login's visitor id on the landing URL); the shop's pages carry the
tag, which keeps the id as a first-party cookie, takes it off the address bar and sends
page_view; adding to the cart sends cart_updated from the page (CORS preflight and all),
which enrols the friend in the cart reminder, and an hour later LINE delivers it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import requests

from linecrm_local.stack import LocalStack
from tests.e2e.test_cart_reminder import CART_REMINDER, REMINDER, fire_due, texts
from tests.e2e.test_liff_member_card import (
    ADMIN,
    BASE,
    READ,
    browser,  # noqa: F401 - the module's chromium fixture
    card_url,
    configure_shop_login,
    linked_friend,
)
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
# Sent whatever the hour (a marketing message would wait for business hours).
REMINDER_SCENARIO = CART_REMINDER | {"message_class": "transactional"}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    # The test fires schedules itself (fire_due) after moving the clock.
    with LocalStack(
        scheduler_tick_seconds=3600,
        poll_interval_seconds=0.02,
        batching_window_seconds=0.05,
        visibility_timeout_seconds=1,
        demo_shop_port=0,
    ) as local:
        yield local


def events_of(stack: LocalStack, user_id: str) -> list[dict[str, Any]]:
    answer = requests.get(
        f"{stack.gateway_url}{BASE}/friends/{user_id}/events", headers=ADMIN, timeout=READ
    )
    assert answer.ok, answer.text
    events: list[dict[str, Any]] = answer.json()["events"]
    return events


def named(stack: LocalStack, user_id: str, name: str) -> list[dict[str, Any]]:
    return [event for event in events_of(stack, user_id) if event["name"] == name]


def test_a_friend_from_line_is_tracked_on_the_shop_and_reminded_of_the_cart(
    stack: LocalStack,
    browser: Any,  # noqa: F811 - the imported fixture
) -> None:
    answer = requests.put(
        f"{stack.gateway_url}{BASE}/scenarios/cart-reminder",
        json=REMINDER_SCENARIO,
        headers=ADMIN,
        timeout=READ,
    )
    assert answer.status_code < 300, answer.text
    user_id = linked_friend(stack)
    configure_shop_login(stack)
    stack.poller.drain(timeout=120)
    before = texts(stack, user_id)

    page = browser.new_page(viewport={"width": 390, "height": 844}, locale="ja-JP")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    failed: list[str] = []
    page.on(
        "response",
        lambda response: (
            failed.append(f"{response.status} {response.url}") if response.status >= 400 else None
        ),
    )
    web_calls: list[tuple[str, int]] = []
    page.on(
        "response",
        lambda response: (
            web_calls.append((response.request.method, response.status))
            if "/events/web" in response.url
            else None
        ),
    )
    page.goto(card_url(stack, user_id))
    page.wait_for_selector("#shop-login", state="visible", timeout=30_000)
    page.locator("#shop-login").click()

    # Logged in on the shop; the tag took the visitor id off the address bar.
    page.wait_for_selector("#welcome", timeout=30_000)
    wait_for(lambda: page.evaluate("window.linecrm && window.linecrm.ready === true"))
    assert page.url == f"{stack.demo_shop.url}/mypage", page.url
    cookies = {cookie["name"]: cookie for cookie in page.context.cookies(stack.demo_shop.url)}
    visitor = cookies["_lcv"]["value"]
    assert visitor == page.evaluate("window.linecrm.visitor()")
    assert user_id not in visitor and user_id[1:] not in visitor  # opaque
    assert cookies["_lcv"]["sameSite"] == "Lax"
    wait_for(lambda: named(stack, user_id, "page_view"), timeout=60)

    # Another page, then into the cart: the page reports cart_updated with the value.
    page.goto(f"{stack.demo_shop.url}/")
    page.locator("button[data-sku]").first.click()
    page.wait_for_url(f"{stack.demo_shop.url}/cart", timeout=30_000)
    page.wait_for_selector("#cart-items", timeout=30_000)
    (cart,) = wait_for(lambda: named(stack, user_id, "cart_updated"), timeout=60)
    assert cart["value"] >= 3000, cart
    assert cart["source"] == "web-tag", cart

    def viewed() -> set[str]:
        return {event["properties"].get("path") for event in named(stack, user_id, "page_view")}

    wait_for(lambda: {"/mypage", "/", "/cart"} <= viewed(), timeout=60)
    # The browser sends the JSON POST only after its CORS preflight was answered for the
    # shop's origin (Playwright shows no preflights), and the page can read the answer.
    answer = page.evaluate("() => linecrm.track('page_view', {path: '/cart#again'})")
    assert (answer["status"], answer["applied"]) == (200, 1), answer
    assert all(status < 400 for _, status in web_calls), web_calls
    assert errors == [], errors
    # Nothing failed but the browser's own favicon requests (the demo pages have none).
    assert [url for url in failed if not url.endswith("/favicon.ico")] == [], failed
    page.close()

    # The cart reminder: due an hour later, delivered by LINE (the emulator's inbox).
    # The enrolment's schedule is made as the event is applied, which a busy machine may
    # finish after the page's request returned: fire the due moment until it is there.
    due = stack.clock.now() + timedelta(hours=1, minutes=1)

    def reminded() -> bool:
        fire_due(stack, due)
        return texts(stack, user_id) != before

    wait_for(reminded, timeout=180, interval=2)
    assert texts(stack, user_id) == [*before, REMINDER]
    assert stack.gateway.internal_errors == 0
