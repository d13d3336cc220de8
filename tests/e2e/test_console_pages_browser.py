"""The console's dashboard summary, friends filters, friend timeline and tag merge in a
real browser (Debian's chromium driven by Playwright) against a local stack seeded like
``make dev``: the dashboard shows the message quota read from the LINE emulator and the
deliveries per day; the friends list filtered by ID link and by a saved segment lists
exactly whom the API says, and keeps the filters over a reload; the friend detail's
timeline shows a message the friend sent through the emulator; merging two tags adds
their counts up. Screenshots in build/e2e/console-<page>.png, axe-core on each page.
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
    settle,
    stack,
)
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
# Fixtures imported for pytest (module-scoped: this file gets its own stack and chromium).
__all__ = ["activity", "browser", "console", "stack"]


def admin(stack: LocalStack, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(
        method, f"{stack.gateway_url}{BASE}{path}", json=body, headers=ADMIN, timeout=READ
    )
    assert response.status_code < 300, (response.status_code, response.text)
    return response.json() if response.content else None


def listed(page: Any) -> set[str]:
    rows = page.locator("#friends-table tbody tr")
    return {rows.nth(i).get_attribute("data-user-id") for i in range(rows.count())}


def choose(page: Any, select: str, option: str) -> None:
    page.click(select)
    page.get_by_role("option", name=option, exact=True).click()


def wait_for_list(page: Any, expected: set[str]) -> None:
    wait_for(lambda: listed(page) == expected, timeout=30, interval=0.2)


def without_expected_404s(problems: list[str]) -> list[str]:
    """Not linked and not in a scenario are 404s the friend page shows as such."""
    return [
        p
        for p in problems
        if not (p.startswith("HTTP 404") and any(e in p for e in ("/link", "/plan?")))
        and not p.endswith("404 (Not Found)")
    ]


def test_the_dashboard_shows_the_quota_and_deliveries_per_day(
    stack: LocalStack, console: Watched
) -> None:
    page = open_page(console, "dashboard")
    page.wait_for_selector("#chart-deliveries canvas", timeout=30_000)
    # The jobs function reads the quota from the emulator; the page asks again meanwhile.
    page.wait_for_selector("#quota-used", timeout=120_000)
    page.wait_for_timeout(500)  # ECharts draws on the next animation frame
    summary = admin(stack, "GET", "/dashboard/summary?days=30")
    quota = summary["quota"]
    assert quota["limit"] == stack.emulator.config.monthly_quota
    shown = page.locator("#quota-used").inner_text()
    assert f"{quota['used']:,} / {quota['limit']:,}" in shown, shown
    delivered = sum(day["deliveries"] for day in summary["days"])
    assert delivered > 0
    assert f"{delivered:,}" in page.locator("#deliveries-total").inner_text()
    screenshot(page, "dashboard-summary")
    assert critical_violations(page) == []
    assert console.take() == []


def test_friends_filtered_by_link_and_segment_and_a_message_on_the_timeline(
    stack: LocalStack, console: Watched, activity: DemoActivity
) -> None:
    friends = [u for u in activity.friends if u not in activity.blocked]
    linked, fan, other_fan = friends[0], friends[1], friends[2]
    now = datetime.now(UTC)
    IdLinkRepository(
        boto3.session.Session().client("dynamodb"),
        stack.resources.table_names[MAIN_TABLE.logical_id],
    ).link(
        DEMO_CHANNEL_ID,
        IdLink(member_id="M-pages1", user_id=linked, linked_at=now, consented_at=now),
    )
    admin(stack, "POST", "/tags", {"name": "ページ確認"})
    for user_id in (fan, other_fan):
        admin(stack, "PATCH", f"/friends/{user_id}", {"add_tags": ["ページ確認"]})
    segment = admin(
        stack,
        "POST",
        "/segments",
        {"name": "ページ確認の友だち", "definition": {"match": {"tag": "ページ確認"}}},
    )

    page = open_page(console, "friends")
    page.wait_for_selector("#friends-filter-segment", timeout=30_000)
    choose(page, "#friends-filter-linked", "連携済み")
    expected = {f["user_id"] for f in admin(stack, "GET", "/friends?linked=true")["friends"]}
    assert linked in expected
    wait_for_list(page, expected)
    assert "linked=true" in page.url
    page.reload()  # the filters live in the URL
    page.wait_for_selector("#friends-table", timeout=30_000)
    wait_for_list(page, expected)

    choose(page, "#friends-filter-linked", "すべて")
    choose(page, "#friends-filter-segment", "ページ確認の友だち")
    wait_for_list(page, {fan, other_fan})
    assert f"segment={segment['segmentId']}" in page.url
    screenshot(page, "friends-filters")
    assert critical_violations(page) == []

    # The friend writes through the emulator: the message is on their timeline.
    stack.emulator.simulate_text(DEMO_CHANNEL_ID, fan, "タイムラインに載るメッセージ")
    settle(stack)
    page.click(f"#friends-table tr[data-user-id='{fan}'] a")
    page.wait_for_selector("#friend-timeline", timeout=30_000)
    entry = page.locator("#friend-timeline tr[data-kind=message]", has_text="タイムラインに載る")
    entry.first.wait_for(timeout=30_000)
    assert "受信" in entry.first.inner_text()
    page.wait_for_selector("main [aria-busy=true]", state="detached", timeout=30_000)
    screenshot(page, "friend-timeline")
    assert critical_violations(page) == []
    assert without_expected_404s(console.take()) == []


def test_merging_two_tags_adds_their_counts_up(
    stack: LocalStack, console: Watched, activity: DemoActivity
) -> None:
    friends = activity.friends[10:13]
    admin(stack, "POST", "/tags", {"name": "統合元"})
    admin(stack, "POST", "/tags", {"name": "統合先"})
    for user_id in friends[:2]:
        admin(stack, "PATCH", f"/friends/{user_id}", {"add_tags": ["統合元"]})
    admin(stack, "PATCH", f"/friends/{friends[2]}", {"add_tags": ["統合先"]})

    page = open_page(console, "tags")
    source = page.locator("#tags-list tr[data-tag='統合元'] .tag-friend-count")
    assert source.inner_text() == "2"
    assert page.locator("#tags-list tr[data-tag='統合先'] .tag-friend-count").inner_text() == "1"
    choose(page, "#tags-merge-source", "統合元 (2)")
    choose(page, "#tags-merge-into", "統合先 (1)")
    page.click("#tags-merge-start")
    confirm = page.locator("#tags-merge-confirm")
    confirm.wait_for(timeout=10_000)
    text = confirm.inner_text()
    assert "統合元" in text and "統合先" in text and "2 人" in text, text
    page.wait_for_timeout(500)  # the dialog's fade-in
    screenshot(page, "tags-merge")
    assert critical_violations(page) == []
    page.click("#tags-merge-confirm-button")
    page.wait_for_selector("#tags-merge-notice", timeout=60_000)

    kept = page.locator("#tags-list tr[data-tag='統合先'] .tag-friend-count")
    wait_for(lambda: kept.inner_text() == "3", timeout=30, interval=0.2)
    assert page.locator("#tags-list tr[data-tag='統合元']").count() == 0
    counts = {tag["name"]: tag["friend_count"] for tag in admin(stack, "GET", "/tags")["tags"]}
    assert counts.get("統合先") == 3 and "統合元" not in counts
    for user_id in friends:
        names = [tag["name"] for tag in admin(stack, "GET", f"/friends/{user_id}")["tags"]]
        assert "統合先" in names and "統合元" not in names
    assert console.take() == []
