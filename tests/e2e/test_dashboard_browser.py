"""The analytics dashboard in a real browser (Debian's chromium driven by Playwright),
against the demo activity `make dev` seeds: friends follow, a broadcast goes out, friends
click and buy, some block, all through the local stack's real flows. The admin signs in
with the admin token once; every section draws its chart from the report routes (a
canvas with something drawn on it), the figures table agrees with the API, and the page
logs no errors. The screenshot is kept in build/e2e/dashboard.png.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from linecrm_local.demo import DEMO_ADMIN_TOKEN, DEMO_CHANNEL_ID
from linecrm_local.demo_activity import (
    DemoActivity,
    DemoClient,
    run_demo_activity,
    tracked_links,
)
from linecrm_local.stack import LocalStack
from tests.support.waiting import settle

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

CHROMIUM = Path("/usr/bin/chromium")
ADMIN = {"Authorization": f"Bearer {DEMO_ADMIN_TOKEN}"}
BASE = f"/admin/channels/{DEMO_CHANNEL_ID}"
READ = (10, 120)
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "e2e"
SECTIONS = ("funnel", "rates", "experiment", "scenario", "timeline")


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(
        scheduler_tick_seconds=0.2,
        poll_interval_seconds=0.02,
        batching_window_seconds=0.05,
        visibility_timeout_seconds=1,
    ) as local:
        yield local


@pytest.fixture(scope="module")
def activity(stack: LocalStack) -> DemoActivity:
    """The demo activity, then the scenario's later steps (minutes apart: the clock is
    moved past them, as `make dev` would simply wait)."""
    done = run_demo_activity(
        DemoClient(stack.gateway_url), stack.emulator, settle=lambda: settle(stack)
    )
    for _ in range(4):
        stack.clock.advance(timedelta(minutes=1, seconds=5))
        settle(stack)
    return done


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "no /usr/bin/chromium: `make test` installs Debian's chromium"
    with sync_playwright() as playwright:
        # Debian's chromium, never a downloaded one; no sandbox as root in a container.
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield chromium
        chromium.close()


def report(stack: LocalStack, path: str) -> Any:
    answer = requests.get(f"{stack.gateway_url}{BASE}{path}", headers=ADMIN, timeout=READ)
    assert answer.status_code == 200, answer.text
    return answer.json()


def ink(png: bytes) -> float:
    """The share of pixels that are not (near) white: something is drawn."""
    image = Image.open(io.BytesIO(png)).convert("L")
    histogram = image.histogram()
    return 1 - sum(histogram[245:]) / (image.width * image.height)


@pytest.fixture(scope="module")
def dashboard(stack: LocalStack, browser: Any, activity: DemoActivity) -> Iterator[Any]:
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, locale="ja-JP")
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"console {message.type}: {message.text}")
            if message.type == "error"
            else None
        ),
    )
    page.on(
        "response",
        lambda response: (
            problems.append(f"HTTP {response.status} {response.url}")
            if response.status >= 400
            else None
        ),
    )
    page.goto(f"{stack.gateway_url}/admin/dashboard?channel={DEMO_CHANNEL_ID}")
    # Asked once: the admin token (the local stack's admin credentials).
    page.fill("#signin-token", DEMO_ADMIN_TOKEN, timeout=30_000)
    page.click("#signin button[type=submit]")
    page.wait_for_selector("body[data-loaded=true]", timeout=60_000)
    page.wait_for_timeout(500)  # ECharts draws on the next animation frame
    page.problems = problems
    yield page
    page.close()


def test_the_dashboard_draws_its_charts_from_the_demo_activity(
    stack: LocalStack, dashboard: Any, activity: DemoActivity
) -> None:
    page = dashboard
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "dashboard.png"), full_page=True)

    assert activity.friends and activity.purchases and activity.blocked, activity.summary()
    campaigns = report(stack, "/reports/campaigns?limit=10")["campaigns"]
    timeline = report(stack, "/reports/timeline")
    funnel = report(stack, "/reports/scenarios/demo-welcome/funnel")

    # The demo's figures reached the counters (the flows counted them)...
    assert campaigns, "the demo activity left no campaign in the reports"
    sale = next(c for c in campaigns if c["kind"] == "broadcast")
    # The broadcast's clicks: the taps on its links (the sale's copy, A or B).
    sale_links = {
        url
        for user_id in activity.friends
        for received in stack.emulator.inbox(user_id)
        if "冬のセール" in received.message.get("text", "")
        for url in tracked_links([received.message])
    }
    sale_taps = [(user_id, url) for user_id, url in activity.taps if url in sale_links]
    assert sale["clicks"] == len(sale_taps)
    assert sale["unique_clicks"] == len({user_id for user_id, _ in sale_taps})
    assert {v["variant"] for v in sale["variants"]} == {"A", "B"}
    assert sale["holdout"]["held_out"] > 0
    assert any(day["friends_added"] for day in timeline["days"])
    assert any(step["sent"] for step in funnel["steps"])

    # ...and every section draws its chart: a canvas with something on it.
    states = {name: page.get_attribute(f"#section-{name}", "data-state") for name in SECTIONS}
    assert states == dict.fromkeys(SECTIONS, "ready"), (states, page.problems)
    for name in SECTIONS:
        chart = page.locator(f"#chart-{name}")
        assert chart.locator("canvas").count() >= 1, name
        box = chart.bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 200, (name, box)
        assert ink(chart.screenshot()) > 0.01, f"the {name} chart is blank"

    # The figures table lists the campaigns the API reports, one row each, in yen.
    assert page.locator("#campaign-table tbody tr").count() == len(campaigns)
    assert f"￥{sale['revenue']:,}" in page.locator("#campaign-table").inner_text()
    # The timeline covers the account's days (its time zone, named on the page).
    assert timeline["time_zone"] in page.locator("#time-zone").inner_text()
    assert timeline["days"][-1]["date"] in page.locator("#section-timeline .note").inner_text()
    # A build without the experiment route (the A/B engineer's) shows the variants'
    # own figures; the only failed request is then that route's 404.
    experiment = f"{BASE}/reports/campaigns/{sale['campaign']}/experiment"
    if requests.get(stack.gateway_url + experiment, headers=ADMIN, timeout=READ).status_code == 404:
        missing = [p for p in page.problems if p.startswith("HTTP 404") and "/experiment" in p]
        assert len(missing) == 1, page.problems
        page.problems[:] = [
            p for p in page.problems if p not in missing and not p.endswith("404 (Not Found)")
        ]
    assert page.problems == []
    assert stack.gateway.internal_errors == 0


def test_the_japanese_labels_are_there(dashboard: Any) -> None:
    text = dashboard.locator("main").inner_text()
    labels = ("ファネル", "配信ごとの率", "A/B テスト", "シナリオのステップファネル", "日別の推移")
    for label in labels:
        assert label in text
