"""The console's ID-link page (ID連携) in a real browser (Debian's chromium driven by
Playwright) against a local stack seeded like ``make dev``: the owner sets the account
link and the shop auto-login in the page and the API then answers with what was typed;
a bad value shows the API's 422 reason next to its field; rotating the signing keys adds
a key to the list; the linked friends are counted as the friends list answers and link
to it filtered; a viewer sees the page without its edit controls. Screenshot in
build/e2e/console-idlink.png, axe-core on the page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
import requests

from linecrm.domain.id_links import IdLink
from linecrm.repositories.id_links import IdLinkRepository
from linecrm.resources import MAIN_TABLE
from linecrm_local.demo import DEMO_CHANNEL_ID
from linecrm_local.demo_activity import DemoActivity
from linecrm_local.stack import LocalStack
from tests.e2e.test_console_browser import (
    ADMIN,
    BASE,
    READ,
    Watched,
    activity,
    browser,
    console,
    critical_violations,
    open_page,
    screenshot,
    stack,
    staff_page,
)
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
# Fixtures imported for pytest (module-scoped: this file gets its own stack and chromium).
__all__ = ["activity", "browser", "console", "stack"]


def call(stack: LocalStack, method: str, path: str, body: Any = None) -> requests.Response:
    url = f"{stack.gateway_url}{path if path.startswith('/admin/') else BASE + path}"
    return requests.request(method, url, json=body, headers=ADMIN, timeout=READ)


def admin(stack: LocalStack, method: str, path: str, body: Any = None) -> Any:
    response = call(stack, method, path, body)
    assert response.status_code < 300, (response.status_code, response.text)
    return response.json() if response.content else None


def linked_friends(stack: LocalStack) -> int:
    total, cursor = 0, None
    while True:
        query = "/friends?linked=true&limit=200" + (f"&cursor={cursor}" if cursor else "")
        page = admin(stack, "GET", query)
        total += len(page["friends"])
        cursor = page.get("next_cursor")
        if not cursor:
            return total


def shown_kids(page: Any) -> set[str]:
    rows = page.locator("#idlink-keys-table tbody tr")
    return {rows.nth(i).get_attribute("data-kid") for i in range(rows.count())}


def unexpected(problems: list[str]) -> list[str]:
    """A setting not yet set answers 404 (the page shows it as 未設定); the bad values
    typed on purpose answer 422 (shown next to their field)."""
    unset = ("/account-link", "/shop-login", "/liff")
    return [
        p
        for p in problems
        if not (p.startswith("HTTP 404") and any(s in p for s in unset))
        and not p.startswith("HTTP 422")
        and not p.endswith("404 (Not Found)")
        and not p.endswith("422 (Unprocessable Entity)")
    ]


def test_the_owner_sets_the_account_link_and_shop_login_and_rotates_the_keys(
    stack: LocalStack, console: Watched, activity: DemoActivity
) -> None:
    now = datetime.now(UTC)
    IdLinkRepository(
        boto3.session.Session().client("dynamodb"),
        stack.resources.table_names[MAIN_TABLE.logical_id],
    ).link(
        DEMO_CHANNEL_ID,
        IdLink(member_id="M-idlink", user_id=activity.friends[0], linked_at=now, consented_at=now),
    )
    page = open_page(console, "idlink")

    # The account link: a bad URL shows the API's own reason under the field.
    bad = {"shop_login_url": "ftp://shop.example/login"}
    refused = call(stack, "PUT", "/account-link", bad)
    assert refused.status_code == 422, refused.text
    reason = next(e["message"] for e in refused.json()["errors"] if e["field"] == "shop_login_url")
    page.fill("#idlink-account-url", bad["shop_login_url"])
    page.click("#idlink-account-save")
    error = page.locator("#idlink-account-url-error")
    error.wait_for(timeout=30_000)
    assert reason in error.inner_text(), (reason, error.inner_text())

    typed = {
        "shop_login_url": "https://shop.example/login?from=line",
        "text": "会員連携で限定クーポンをお届けします",
        "button_label": "連携する",
    }
    page.fill("#idlink-account-url", typed["shop_login_url"])
    page.fill("#idlink-account-text", typed["text"])
    page.fill("#idlink-account-button", typed["button_label"])
    page.click("#idlink-account-save")
    page.wait_for_selector("#idlink-account-saved", timeout=30_000)
    assert page.locator("#idlink-account-url-error").count() == 0
    assert admin(stack, "GET", "/account-link") == typed

    # The shop auto-login: an allow-list path without its leading / is refused.
    page.fill("#idlink-shop-base", "https://shop.example")
    page.fill("#idlink-shop-path", "/auto-login")
    page.fill("#idlink-shop-allow", "mypage")
    page.click("#idlink-shop-save")
    allow_error = page.locator("#idlink-shop-allow-error")
    allow_error.wait_for(timeout=30_000)
    refused = call(
        stack,
        "PUT",
        "/shop-login",
        {"base_url": "https://shop.example", "login_path": "/auto-login", "allow": ["mypage"]},
    )
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["message"] in allow_error.inner_text()
    page.fill("#idlink-shop-allow", "/mypage\n/cart/\n/products/")
    page.click("#idlink-shop-save")
    page.wait_for_selector("#idlink-shop-saved", timeout=30_000)
    assert admin(stack, "GET", "/shop-login") == {
        "base_url": "https://shop.example",
        "login_path": "/auto-login",
        "allow": ["/mypage", "/cart/", "/products/"],
    }

    # Rotating adds a key: the page lists what the API lists.
    before = shown_kids(page)
    assert before == {k["kid"] for k in admin(stack, "GET", "/admin/login-keys")["keys"]}
    page.click("#idlink-rotate")
    page.wait_for_selector("#idlink-rotate-confirm", timeout=10_000)
    page.click("#idlink-rotate-confirm-button")
    page.wait_for_selector("#idlink-rotated", timeout=60_000)
    listing = admin(stack, "GET", "/admin/login-keys")
    after = shown_kids(page)
    assert after == {k["kid"] for k in listing["keys"]}
    assert listing["active_kid"] in after - before
    state = page.locator(f"#idlink-keys-table tr[data-kid='{listing['active_kid']}']")
    expected = "signing" if listing["signing_kid"] == listing["active_kid"] else "pending"
    assert state.get_attribute("data-state") == expected

    # The linked friends: counted as the friends list answers; the link filters it.
    count = page.locator("#idlink-linked-count")
    count.wait_for(timeout=30_000)
    assert count.inner_text() == f"{linked_friends(stack):,} 人"
    page.wait_for_timeout(300)
    screenshot(page, "idlink")
    assert critical_violations(page) == []
    page.click("#idlink-linked-link")
    page.wait_for_selector("#friends-table", timeout=30_000)
    assert "linked=true" in page.url
    rows = page.locator(f"#friends-table tr[data-user-id='{activity.friends[0]}']")
    rows.wait_for(timeout=30_000)
    assert unexpected(console.take()) == []


def test_the_viewer_reads_the_id_link_page_without_its_edit_controls(
    stack: LocalStack, browser: Any
) -> None:
    shop = {"base_url": "https://shop.example", "login_path": "/auto-login", "allow": ["/sale/"]}
    admin(stack, "PUT", "/shop-login", shop)
    viewer = staff_page(stack, browser, "viewer")
    try:
        page = open_page(viewer, "idlink")
        page.wait_for_selector("#idlink-keys-table", timeout=30_000)
        wait_for(lambda: page.locator("#idlink-linked-count").count() == 1, timeout=30)
        for control in (
            "#idlink-account-save",
            "#idlink-shop-save",
            "#idlink-shop-disable",
            "#idlink-liff-save",
            "#idlink-rotate",
        ):
            assert page.locator(control).count() == 0, control
        for field in ("#idlink-account-url", "#idlink-shop-base", "#idlink-liff-id"):
            assert page.locator(field).get_attribute("readonly") is not None, field
        assert page.locator("#idlink-shop-allow").input_value() == "/sale/"
        assert page.locator("#idlink-shop-base").input_value() == shop["base_url"]
        assert page.get_by_text("閲覧のみ").count() == 4
        assert unexpected(viewer.take()) == []
    finally:
        viewer.page.close()
