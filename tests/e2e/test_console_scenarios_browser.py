"""The console's scenario editor (web/console/src/pages/ScenarioEditor.tsx) in a real
browser, against a local stack seeded like ``make dev``.

A 2-step scenario with a 1-day delay is made in the editor and the API returns it as
typed; the timeline shows day 0 and day 1; a bad step id is refused with the API's
reason next to the field; the demo's scenario (branches, a reminder, day 3 at 10:00)
loaded and saved unchanged is unchanged; a saved segment enrolled from the page
finishes with the segment's active friends enrolled, and a friend's plan is shown.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

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
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
# Fixtures imported for pytest (module-scoped: this file gets its own stack and chromium).
__all__ = ["activity", "browser", "console", "stack"]

SCENARIO = "console-steps"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "scenarios.yaml"


def get(stack: LocalStack, path: str) -> Any:
    answer = requests.get(f"{stack.gateway_url}{BASE}{path}", headers=ADMIN, timeout=READ)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_two_step_scenario_made_in_the_editor_and_the_demo_saved_unchanged(
    stack: LocalStack, console: Watched
) -> None:
    page = open_page(console, "scenarios")
    page.click("#scenario-new")
    page.wait_for_selector("#scenario-editor")
    page.fill("#scenario-id", SCENARIO)
    page.fill("#scenario-name", "コンソールのステップ配信")
    page.fill("#step-0-message-0", "{display_name|お客}様、ようこそ！")
    page.click("#scenario-add-step")
    page.wait_for_selector("#step-1-message-0")
    page.fill("#step-1-id", "day1")
    page.fill("#step-1-timing-amount", "1")
    page.fill("#step-1-message-0", "登録の翌日のメッセージ")
    # The bubble preview draws the text, the placeholder's default filled in.
    page.locator("[data-step-editor='0'] .bubble-text", has_text="お客様、ようこそ！").wait_for()

    # A bad step id: the API's reason next to the field, nothing stored.
    page.fill("#step-1-id", "Day 1")
    page.click("#scenario-save")
    page.wait_for_selector("#scenario-problems", timeout=30_000)
    field = page.locator("[data-step-editor='1']")
    assert field.locator("#step-1-id[aria-invalid=true]").count() == 1
    assert "pattern" in field.inner_text() or "match" in field.inner_text(), field.inner_text()
    refused = [p for p in console.take() if "422" not in p]  # the refusal itself
    assert refused == []
    missing = requests.get(
        f"{stack.gateway_url}{BASE}/scenarios/{SCENARIO}", headers=ADMIN, timeout=READ
    )
    assert missing.status_code == 404

    page.fill("#step-1-id", "day1")
    page.click("#scenario-save")
    page.wait_for_selector("#scenario-saved[data-version='1']", timeout=30_000)
    stored = get(stack, f"/scenarios/{SCENARIO}")
    definition = stored["definition"]
    assert stored["status"] == "active" and stored["version"] == 1
    assert definition["name"] == "コンソールのステップ配信"
    assert definition["triggers"] == [{"type": "follow"}]
    assert [(s["id"], s["timing"], s["messages"]) for s in definition["steps"]] == [
        (
            "welcome",
            {"after": "0m"},
            [{"type": "text", "text": "{display_name|お客}様、ようこそ！"}],
        ),
        ("day1", {"after": "1d"}, [{"type": "text", "text": "登録の翌日のメッセージ"}]),
    ]
    # The timeline: day 0, then day 1.
    timeline = page.locator("#scenario-timeline")
    assert timeline.locator("[data-day='0'] [data-timeline-step=welcome]").count() == 1
    assert timeline.locator("[data-day='1'] [data-timeline-step=day1]").count() == 1
    assert "0日目" in timeline.inner_text() and "1日目" in timeline.inner_text()
    screenshot(page, "scenario-editor")
    assert critical_violations(page) == []

    # Scenarios with every kind of field, loaded and saved as they are: unchanged.
    rich = next(
        x for x in yaml.safe_load(EXAMPLES.read_text())["scenarios"] if x["id"] == "welcome-series"
    )
    rich["steps"][2]["experiment"] = {
        "variants": [
            {"name": "A", "percent": 50},
            {"name": "B", "percent": 50, "messages": [{"type": "text", "text": "B案"}]},
        ]
    }
    rich["steps"][2]["condition"] = {"status": "active"}
    rich["steps"][4]["if_clicked"] = {"step": "welcome", "clicked": False}
    put = requests.put(
        f"{stack.gateway_url}{BASE}/scenarios/welcome-series",
        json=rich,
        headers=ADMIN,
        timeout=READ,
    )
    assert put.status_code == 200, put.text
    for scenario_id, days in (("welcome-series", ["0", "1", "3"]), ("demo-welcome", None)):
        before = get(stack, f"/scenarios/{scenario_id}")
        page.click("#scenario-editor-close")
        page.locator(f"[data-scenario={scenario_id}] [data-action=edit]").click()
        page.wait_for_selector(
            f"#scenario-editor[data-editing={scenario_id}] [data-step-editor='0']"
        )
        timeline = page.locator("#scenario-timeline")
        for step in before["definition"]["steps"]:
            assert timeline.locator(f"[data-timeline-step='{step['id']}']").count() == 1, step["id"]
        if days:
            shown = [d.get_attribute("data-day") for d in timeline.locator("[data-day]").all()]
            assert shown == days, shown
            assert "experiment" in page.input_value(
                "[data-step-editor='2'] .step-advanced textarea"
            )
            screenshot(page, "scenario-editor-branches")
        page.click("#scenario-save")
        page.wait_for_selector("#scenario-saved", timeout=30_000)
        assert "変更なし" in page.inner_text("#scenario-saved")
        after = get(stack, f"/scenarios/{scenario_id}")
        assert after["definition"] == before["definition"]
        assert after["version"] == before["version"]
    page.click("#scenario-editor-close")
    assert console.take() == []
    assert stack.gateway.internal_errors == 0


def test_a_saved_segment_enrolled_from_the_page_and_a_friends_plan(
    stack: LocalStack, console: Watched, activity: DemoActivity
) -> None:
    definition = {"match": {"all": [{"status": "active"}]}}
    made = requests.post(
        f"{stack.gateway_url}{BASE}/segments",
        json={"name": "ステップの対象", "definition": definition},
        headers=ADMIN,
        timeout=READ,
    )
    assert made.status_code in (200, 201), made.text
    expected = requests.post(
        f"{stack.gateway_url}{BASE}/segments/preview",
        json={"definition": definition},
        headers=ADMIN,
        timeout=READ,
    ).json()["count"]
    assert expected > 0

    page = open_page(console, "scenarios")
    card = page.locator(f"[data-scenario={SCENARIO}]")
    card.wait_for(timeout=30_000)
    panel = card.locator(f"[data-enroll={SCENARIO}]")
    panel.locator(".enroll-choice input").click()
    page.locator("[role=option]:visible", has_text="ステップの対象").click()
    panel.locator(".enroll-start").click()
    panel.locator(".enroll-job").wait_for(timeout=30_000)
    wait_until(
        lambda: panel.locator(".enroll-job[data-status=done]").count() == 1,
        "the enrolment job to finish",
        stack,
        seconds=120,
    )
    job = panel.locator(".enroll-job")
    assert job.get_attribute("data-enrolled") == str(expected), job.inner_text()
    stored = get(stack, f"/scenarios/{SCENARIO}")
    assert stored["counters"]["welcome"]["enrolled"] == expected, stored["counters"]

    # A friend's plan: the two steps, as dates in the account's time zone.
    friend = next(f for f in activity.friends if f not in activity.blocked)
    card.locator("input[name=plan-user]").fill(friend)
    card.locator("button[type=submit]").click()
    plan = card.locator(f"[data-plan='{friend}']")
    plan.wait_for(timeout=30_000)
    rows = plan.locator("tbody tr")
    assert rows.count() == 2
    assert "day1" in rows.nth(1).inner_text()
    due = rows.nth(0).locator("td").nth(1).inner_text()
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}", due), due
    screenshot(page, "scenarios")
    assert critical_violations(page) == []
    assert console.take() == []
    assert stack.gateway.internal_errors == 0
