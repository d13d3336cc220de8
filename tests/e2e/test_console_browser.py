"""The admin console (web/console) in a real browser: Debian's chromium driven by
Playwright, against a local stack seeded like ``make dev`` (the demo activity: friends
follow, a broadcast goes out, some click, buy and block).

The admin signs in (the admin token: a machine with the owner role); each main page
renders from the admin API with no failed request or page error, and is kept as a
screenshot in build/e2e/console-<page>.png; axe-core (from web/console/node_modules)
finds no critical accessibility violation on them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from linecrm_local.demo import DEMO_ADMIN_TOKEN, DEMO_CHANNEL_ID
from linecrm_local.demo_activity import DemoActivity, DemoClient, run_demo_activity
from linecrm_local.stack import LocalStack
from tests.support.waiting import settle

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
AXE = REPO / "web" / "console" / "node_modules" / "axe-core" / "axe.min.js"
CONSOLE_BUILD = REPO / "web" / "console" / "dist" / "index.html"
SCREENSHOTS = REPO / "build" / "e2e"
ADMIN = {"Authorization": f"Bearer {DEMO_ADMIN_TOKEN}"}
BASE = f"/admin/channels/{DEMO_CHANNEL_ID}"
READ = (10, 120)


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    assert CONSOLE_BUILD.exists(), "the console is not built: `make console`"
    with LocalStack(
        scheduler_tick_seconds=0.2,
        poll_interval_seconds=0.02,
        batching_window_seconds=0.05,
        visibility_timeout_seconds=1,
    ) as local:
        yield local


@pytest.fixture(scope="module")
def activity(stack: LocalStack) -> DemoActivity:
    done = run_demo_activity(
        DemoClient(stack.gateway_url), stack.emulator, settle=lambda: settle(stack)
    )
    stack.clock.advance(timedelta(minutes=1, seconds=5))
    settle(stack)
    return done


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "no /usr/bin/chromium: `make browser` installs Debian's chromium"
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield chromium
        chromium.close()


class Watched:
    """A page and what went wrong on it: page errors, console errors, HTTP >= 400."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.problems: list[str] = []
        page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        page.on(
            "console",
            lambda message: (
                self.problems.append(f"console {message.type}: {message.text}")
                if message.type == "error"
                else None
            ),
        )
        page.on(
            "response",
            lambda response: (
                self.problems.append(f"HTTP {response.status} {response.url}")
                if response.status >= 400
                else None
            ),
        )

    def take(self) -> list[str]:
        taken, self.problems[:] = list(self.problems), []
        return taken


@pytest.fixture(scope="module")
def console(stack: LocalStack, browser: Any, activity: DemoActivity) -> Iterator[Watched]:
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    watched = Watched(page)
    page.goto(f"{stack.gateway_url}/console/")
    page.fill("#signin-token", DEMO_ADMIN_TOKEN, timeout=30_000)
    page.click("#signin-machine button[type=submit]")
    page.wait_for_selector("#signed-in-as", timeout=30_000)
    yield watched
    page.close()


def open_page(console: Watched, page_id: str) -> Any:
    page = console.page
    page.click(f"nav [data-page={page_id}]")
    page.wait_for_selector(f"main [data-page={page_id}]", timeout=30_000)
    page.wait_for_load_state("networkidle")
    page.wait_for_selector("main [aria-busy=true]", state="detached", timeout=30_000)
    return page


def screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"console-{name}.png"), full_page=True)


def critical_violations(page: Any) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".filter(v => v.impact === 'critical')"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', '))"
    )
    return list(found)


def test_the_dashboard_charts_friends_and_ranks_deliveries(
    stack: LocalStack, console: Watched, activity: DemoActivity
) -> None:
    page = open_page(console, "dashboard")
    page.wait_for_selector("#chart-friends canvas", timeout=30_000)
    page.wait_for_timeout(500)  # ECharts draws on the next animation frame
    totals = page.locator("#friends-totals").inner_text()
    assert str(len(activity.friends)) in totals, totals
    best = page.locator("#campaigns-best").inner_text()
    assert "冬のセール" in best or "一斉配信" in best or "デモ" in best, best
    screenshot(page, "dashboard")
    assert critical_violations(page) == []
    assert console.take() == []
    assert stack.gateway.internal_errors == 0


def test_friends_filter_bulk_tag_and_the_friend_detail(
    stack: LocalStack, console: Watched, activity: DemoActivity
) -> None:
    page = open_page(console, "friends")
    assert page.locator("#friends-table tbody tr").count() == len(activity.friends)
    # Bulk tag: the first two friends get a new tag (made through the API).
    tag = requests.post(
        f"{stack.gateway_url}{BASE}/tags", json={"name": "コンソール"}, headers=ADMIN, timeout=READ
    )
    assert tag.status_code == 201, tag.text
    page.reload()
    page.wait_for_selector("#friends-table tbody tr", timeout=30_000)
    rows = page.locator("#friends-table tbody tr")
    chosen = [rows.nth(i).get_attribute("data-user-id") for i in range(2)]
    for i in range(2):
        rows.nth(i).locator("input[type=checkbox]").check()
    page.fill("#friends-bulk-tag", "コンソール")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    page.click("#friends-bulk-add")
    page.wait_for_selector("#friends-notice", timeout=30_000)
    for user_id in chosen:
        friend = requests.get(
            f"{stack.gateway_url}{BASE}/friends/{user_id}", headers=ADMIN, timeout=READ
        )
        assert "コンソール" in [t["name"] for t in friend.json()["tags"]]
    screenshot(page, "friends")
    assert critical_violations(page) == []

    # CSV import: a known friend gets a tag, an unknown user id is a rejected row.
    csv = f"user_id,tags\n{chosen[1]},CSV取り込み\nnot-a-user-id,CSV取り込み\n"
    page.set_input_files(
        "#friends-import input[type=file]",
        files=[{"name": "friends.csv", "mimeType": "text/csv", "buffer": csv.encode()}],
    )
    page.click("#friends-import label:has-text('ないタグは作成する')")
    page.click("#friends-import-start")
    page.wait_for_selector("#friends-import-status >> text=/done|failed/", timeout=60_000)
    assert page.locator("#friends-import-rejections tbody tr").count() == 1
    assert "not-a-user-id" in page.locator("#friends-import-rejections").inner_text()
    imported = requests.get(
        f"{stack.gateway_url}{BASE}/friends/{chosen[1]}", headers=ADMIN, timeout=READ
    )
    assert "CSV取り込み" in [t["name"] for t in imported.json()["tags"]]

    # The friend's detail: profile, tags, the scenario plan, take and release the chat.
    page.click(f"#friends-table tr[data-user-id='{chosen[0]}'] a")
    page.wait_for_selector("#friend-profile", timeout=30_000)
    page.wait_for_selector("main [aria-busy=true]", state="detached", timeout=30_000)
    assert "コンソール" in page.locator("#friend-tags").inner_text()
    page.click("#friend-take")
    page.wait_for_selector("#friend-release", timeout=30_000)
    mode = requests.get(
        f"{stack.gateway_url}{BASE}/friends/{chosen[0]}", headers=ADMIN, timeout=READ
    )
    assert mode.json()["chat_mode"] is not None
    screenshot(page, "friend")
    page.click("#friend-release")
    page.wait_for_selector("#friend-take", timeout=30_000)
    # Not linked and not in a scenario are 404s the page shows as such.
    expected = ("/link", "/plan?")
    problems = [
        p
        for p in console.take()
        if not (p.startswith("HTTP 404") and any(e in p for e in expected))
        and not p.endswith("404 (Not Found)")
    ]
    assert problems == []


def test_a_broadcast_composed_previewed_and_double_clicked_arrives_once(
    stack: LocalStack, console: Watched, activity: DemoActivity
) -> None:
    page = open_page(console, "broadcasts")
    page.fill("#broadcast-name", "コンソールからの配信")
    # Transactional: no caps or quiet hours, whatever the hour the test runs at.
    page.click("#broadcast-class")
    page.click("text=取引・お知らせ（上限なし）")
    page.fill("#broadcast-message-0-text", "{display_name|お客様}さん、コンソールから")
    # The LINE-like preview fills the placeholder in for a sample friend.
    page.wait_for_selector("#broadcast-preview .bubble-text", timeout=10_000)
    assert "デモ友だち" in page.locator("#broadcast-preview").inner_text()

    page.click("#broadcast-dry-run")
    page.wait_for_selector("#broadcast-dry-run-result", timeout=60_000)
    active = len(activity.friends) - len(activity.blocked)
    assert str(active) in page.locator("#broadcast-dry-run-result").inner_text()
    screenshot(page, "broadcasts")

    # A double click sends once (the same Idempotency-Key for the composition).
    page.dblclick("#broadcast-send")
    page.wait_for_selector("#broadcast-sent", timeout=60_000)
    settle(stack)
    settle(stack)
    listed = requests.get(
        f"{stack.gateway_url}{BASE}/broadcasts?limit=50", headers=ADMIN, timeout=READ
    ).json()["broadcasts"]
    assert [b["name"] for b in listed].count("コンソールからの配信") == 1
    receiver = next(u for u in activity.friends if u not in activity.blocked)
    got = [
        m.message.get("text", "")
        for m in stack.emulator.inbox(receiver)
        if "コンソールから" in m.message.get("text", "")
    ]
    assert len(got) == 1, got
    assert got[0].endswith("さん、コンソールから") and "お客様" not in got[0]

    # The list shows it with its status and opens its report.
    page.click("#broadcast-list button:has-text('再読み込み')")
    row = page.locator("#broadcast-list tr", has_text="コンソールからの配信")
    row.wait_for(timeout=30_000)
    row.locator("button", has_text="レポート").click()
    page.wait_for_selector("#broadcast-list [data-report]", timeout=30_000)
    assert critical_violations(page) == []
    problems = [p for p in console.take() if "/reports/campaigns/" not in p and "404" not in p]
    assert problems == []


def test_a_rule_added_saved_and_tested_answers_with_the_reason(
    stack: LocalStack, console: Watched
) -> None:
    page = open_page(console, "rules")
    before = page.locator("[data-rule]").count()
    page.click("#rules-add")
    rule = page.locator("[data-rule]").nth(before)
    rule.locator("input[id$='-id']").fill("hours")
    rule.locator("input[id$='-name']").fill("営業時間の案内")
    rule.locator("textarea[id$='-patterns']").fill("営業時間")
    rule.locator("textarea[id$='-reply']").fill("10時から19時まで営業しています")
    page.click("#rules-check")
    page.wait_for_selector("#rules-result", timeout=30_000)
    assert "hours" in page.locator("#rules-result").inner_text()
    saved = requests.get(f"{stack.gateway_url}{BASE}/rules", headers=ADMIN, timeout=READ)
    assert "hours" not in [r["rule_id"] for r in saved.json()["rules"]]  # a dry run
    page.click("#rules-save")
    page.wait_for_selector("#rules-result >> text=保存しました", timeout=30_000)
    saved = requests.get(f"{stack.gateway_url}{BASE}/rules", headers=ADMIN, timeout=READ)
    hours = next(r for r in saved.json()["rules"] if r["rule_id"] == "hours")
    assert hours["match"] == {
        "kind": "keyword",
        "mode": "contains",
        "patterns": ["営業時間"],
        "case_sensitive": False,
    }
    assert hours["actions"][0]["messages"][0]["text"] == "10時から19時まで営業しています"

    page.fill("#rules-test-text", "営業時間を教えて")
    page.click("#rules-test-run")
    page.wait_for_selector("#rules-test-answer", timeout=30_000)
    answer = page.locator("#rules-test-answer").inner_text()
    assert "営業時間の案内" in answer and "hours" in answer
    assert "10時から19時" in answer
    screenshot(page, "rules")
    assert critical_violations(page) == []
    assert console.take() == []


def test_deliveries_scenarios_tags_and_settings_render_from_the_api(
    stack: LocalStack, console: Watched
) -> None:
    page = open_page(console, "deliveries")
    page.wait_for_selector("#deliveries-table tbody tr", timeout=30_000)
    ledger = requests.get(
        f"{stack.gateway_url}{BASE}/deliveries?limit=50", headers=ADMIN, timeout=READ
    ).json()["deliveries"]
    assert page.locator("#deliveries-table tbody tr").count() == len(ledger)
    screenshot(page, "deliveries")
    assert critical_violations(page) == []

    page = open_page(console, "scenarios")
    card = page.locator("[data-scenario=demo-welcome]")
    card.locator("[data-step=welcome]").wait_for(timeout=30_000)
    screenshot(page, "scenarios")
    assert critical_violations(page) == []
    card.locator("[data-action=pause]").click()
    card.locator("[data-action=resume]").wait_for(timeout=30_000)
    shown = requests.get(
        f"{stack.gateway_url}{BASE}/scenarios/demo-welcome", headers=ADMIN, timeout=READ
    )
    assert shown.json()["status"] == "paused", shown.text
    card.locator("[data-action=resume]").click()
    card.locator("[data-action=pause]").wait_for(timeout=30_000)

    page = open_page(console, "tags")
    page.fill("#tags-folder-name", "キャンペーン")
    page.click("#tags-folders button:has-text('フォルダを作る')")
    page.locator("#tags-folders", has_text="キャンペーン").wait_for(timeout=30_000)
    screenshot(page, "tags")
    assert critical_violations(page) == []

    page = open_page(console, "settings")
    page.wait_for_selector("#policy-time-zone", timeout=30_000)
    assert page.input_value("#policy-time-zone") == "Asia/Tokyo"
    screenshot(page, "settings")
    assert critical_violations(page) == []
    problems = [p for p in console.take() if "business-hours" not in p and "404" not in p]
    assert problems == []


def test_the_language_switch_shows_english(console: Watched) -> None:
    page = open_page(console, "dashboard")
    page.click("#language-switch label:has-text('English')")
    page.locator("nav", has_text="Friends").wait_for(timeout=10_000)
    assert "Broadcasts" in page.locator("nav").inner_text()
    page.click("#language-switch label:has-text('日本語')")
    page.locator("nav", has_text="友だち").wait_for(timeout=10_000)


def test_a_wrong_token_is_refused_and_an_ended_session_returns_to_sign_in(
    stack: LocalStack, browser: Any
) -> None:
    page = browser.new_page(viewport={"width": 820, "height": 1180}, locale="ja-JP")  # a tablet
    try:
        page.goto(f"{stack.gateway_url}/console/friends")  # a client route: the SPA fallback
        page.fill("#signin-token", "not-the-admin-token", timeout=30_000)
        page.click("#signin-machine button[type=submit]")
        page.wait_for_selector("[data-testid=signin-error]", timeout=30_000)
        assert "Forbidden" in page.locator("[data-testid=signin-error]").inner_text()
        screenshot(page, "signin")
        assert critical_violations(page) == []

        # A session the API no longer accepts (401): back to the sign-in, with a note.
        page.evaluate(
            "sessionStorage.setItem('linecrm.console.session', JSON.stringify("
            "{token: '', kind: 'machine', role: 'owner', email: null, expiresAt: null}))"
        )
        page.reload()
        page.wait_for_selector("#signin-token", timeout=30_000)
        assert "セッションが切れました" in page.locator("main").inner_text()
        page.fill("#signin-token", DEMO_ADMIN_TOKEN)
        page.click("#signin-machine button[type=submit]")
        page.wait_for_selector("main [data-page=friends] #friends-table", timeout=30_000)
        screenshot(page, "friends-tablet")
    finally:
        page.close()


STAFF_PASSWORD = "linecrm-demo"  # the local demo staff's, printed by make dev


@pytest.mark.parametrize(
    ("role", "sidebar", "composer"),
    [
        ("marketer", {"dashboard", "friends", "broadcasts", "settings"}, True),
        ("viewer", {"dashboard", "friends", "broadcasts", "settings"}, False),
        ("operator", {"friends", "chat"}, False),
    ],
)
def test_staff_sign_in_and_the_sidebar_of_each_role(
    stack: LocalStack, browser: Any, role: str, sidebar: set[str], composer: bool
) -> None:
    email = f"{role}@demo.linecrm.local"
    login = requests.post(
        f"{stack.gateway_url}/local/staff/login",
        json={"email": email, "password": STAFF_PASSWORD},
        timeout=READ,
    )
    assert login.status_code == 200, login.text
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    try:
        page.goto(f"{stack.gateway_url}/console/")
        page.click("#signin-hosted", timeout=30_000)  # the managed login's page
        page.fill("#signin-email", email, timeout=30_000)
        page.fill("#signin-password", STAFF_PASSWORD)
        page.click("#signin-staff button[type=submit]")
        page.wait_for_selector("#signed-in-as", timeout=30_000)
        shown = {
            page.locator("nav [data-page]").nth(i).get_attribute("data-page")
            for i in range(page.locator("nav [data-page]").count())
        }
        assert sidebar <= shown, shown
        if role == "operator":
            assert shown == {"friends", "chat"}, shown
            # Hidden in the sidebar, and refused by the API itself, with the reason.
            refused = requests.get(
                f"{stack.gateway_url}/admin/channels/{DEMO_CHANNEL_ID}/broadcasts",
                headers={"Authorization": f"Bearer {login.json()['token']}"},
                timeout=READ,
            )
            assert refused.status_code == 403, refused.text
            assert "operator" in refused.json()["message"], refused.text
        else:
            page.click("nav [data-page=broadcasts]")
            page.wait_for_selector("#broadcast-list", timeout=30_000)
            assert (page.locator("#broadcast-composer").count() == 1) is composer
    finally:
        page.close()


def wait_until(check: Any, what: str, stack: LocalStack, seconds: float = 60) -> Any:
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        settle(stack)
        found = check()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def staff_page(stack: LocalStack, browser: Any, role: str) -> Watched:
    email = f"{role}@demo.linecrm.local"
    login = requests.post(
        f"{stack.gateway_url}/local/staff/login",
        json={"email": email, "password": STAFF_PASSWORD},
        timeout=READ,
    )
    if login.status_code == 404:
        pytest.skip("no POST /local/staff/login on this build (the roles branch adds it)")
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    watched = Watched(page)
    page.goto(f"{stack.gateway_url}/console/")
    page.click("#signin-hosted", timeout=30_000)  # the managed login's page
    page.fill("#signin-email", email, timeout=30_000)
    page.fill("#signin-password", STAFF_PASSWORD)
    page.click("#signin-staff button[type=submit]")
    page.wait_for_selector("#signed-in-as", timeout=30_000)
    return watched


def test_a_friend_writes_and_the_operator_answers_once_from_the_chat_page(
    stack: LocalStack, browser: Any, activity: DemoActivity
) -> None:
    user_id = stack.emulator.simulate_follow(DEMO_CHANNEL_ID, display_name="チャット花子").user_id
    settle(stack)
    stack.emulator.simulate_text(DEMO_CHANNEL_ID, user_id, "予約の時間を変えられますか？")

    def conversation() -> Any:
        items = requests.get(
            f"{stack.gateway_url}{BASE}/chat/conversations?limit=100", headers=ADMIN, timeout=READ
        ).json()["items"]
        return next((i for i in items if i["userId"] == user_id and i["unread"]), None)

    item = wait_until(conversation, "the conversation in the inbox", stack)
    assert item["unread"] == 1 and item["needsReply"] is True, item

    template = requests.post(
        f"{stack.gateway_url}{BASE}/chat/templates",
        json={"name": "予約の確認", "text": "{display_name|お客様}さん、ご予約を承りました。"},
        headers=ADMIN,
        timeout=READ,
    )
    assert template.status_code == 201, template.text

    console = staff_page(stack, browser, "operator")
    page = console.page
    try:
        page = open_page(console, "chat")
        row = f"#chat-inbox [data-user-id={user_id}]"
        page.wait_for_selector(row, timeout=30_000)
        assert page.locator(row).get_attribute("data-unread") == "1"
        assert page.locator(f"{row} .chat-needs-reply").count() == 1
        assert "チャット花子" in page.locator(row).inner_text()

        # Opening it marks it read (the inbox shows 0 unread on its next load).
        page.click(row)
        page.wait_for_selector(
            "#chat-messages .chat-in:has-text('予約の時間を変えられますか？')", timeout=30_000
        )
        page.wait_for_selector(f"{row}[data-unread='0']", timeout=30_000)

        # A double click on send: one reply (one Idempotency-Key for the composition).
        before = len(stack.emulator.inbox(user_id))
        text = "はい、変更できます。ご希望の時間を教えてください。"
        page.fill("#chat-reply-text", text)
        page.dblclick("#chat-send")
        page.wait_for_selector("#chat-sent", timeout=60_000)
        settle(stack)
        settle(stack)
        received = [
            m for m in stack.emulator.inbox(user_id)[before:] if m.message.get("text") == text
        ]
        assert len(received) == 1, received
        # The page's polling shows the reply as the staff member's.
        bubble = page.locator(f"#chat-messages .chat-out:has-text('{text}')")
        bubble.wait_for(timeout=30_000)
        assert bubble.count() == 1
        assert "スタッフ" in bubble.inner_text()  # the source, then the staff member's name
        page.wait_for_selector(f"{row}[data-needs-reply='false']", timeout=30_000)

        # A saved template, unchanged: sent as the template, the name filled in.
        page.click("#chat-template")
        page.click("[role=option]:has-text('予約の確認')")
        assert page.input_value("#chat-reply-text") == template.json()["text"]
        assert page.locator("#chat-sent").count() == 0
        page.click("#chat-send")
        page.wait_for_selector("#chat-sent", timeout=60_000)
        settle(stack)
        settle(stack)
        filled = "チャット花子さん、ご予約を承りました。"
        got = [m for m in stack.emulator.inbox(user_id) if m.message.get("text") == filled]
        assert len(got) == 1, [m.message for m in stack.emulator.inbox(user_id)]

        # Take over (automation pauses for the friend), then release.
        page.click("#chat-take")
        page.wait_for_selector("#chat-release", timeout=30_000)
        assert "operator@demo.linecrm.local" in page.locator("#chat-mode").inner_text()
        friend = requests.get(
            f"{stack.gateway_url}{BASE}/friends/{user_id}", headers=ADMIN, timeout=READ
        ).json()
        assert friend["chat_mode"]["staff"] == "operator@demo.linecrm.local", friend
        page.click("#chat-release")
        page.wait_for_selector("#chat-take", timeout=30_000)
        screenshot(page, "chat")
        assert critical_violations(page) == []
        assert console.take() == []
        assert stack.gateway.internal_errors == 0
    finally:
        page.close()

    # A viewer reads the conversation: no reply box, no take over.
    viewer = staff_page(stack, browser, "viewer")
    try:
        page = open_page(viewer, "chat")
        page.click(f"#chat-inbox [data-user-id={user_id}]")
        page.wait_for_selector(f"#chat-messages .chat-out:has-text('{text}')", timeout=30_000)
        assert page.locator("#chat-read-only").count() == 1
        assert page.locator("#chat-send, #chat-take, #chat-release").count() == 0
        assert viewer.take() == []
    finally:
        page.close()


def test_a_segment_built_counts_as_the_api_previews_it_and_is_saved_and_deleted(
    stack: LocalStack, console: Watched, activity: DemoActivity
) -> None:
    page = open_page(console, "segments")
    page.wait_for_selector("#segment-count", timeout=30_000)
    # The root group (all), one condition: active friends.
    page.select_option("#segment-builder .segment-add-kind select >> nth=0", "status")
    page.click("#segment-builder .segment-add >> nth=0")
    page.wait_for_selector("#segment-builder .segment-condition[data-kind=status]")
    definition = {"match": {"all": [{"status": "active"}]}}
    preview = requests.post(
        f"{stack.gateway_url}{BASE}/segments/preview",
        json={"definition": definition},
        headers=ADMIN,
        timeout=READ,
    ).json()
    expected = preview["count"]
    page.wait_for_selector(f"#segment-count[data-count='{expected}']", timeout=30_000)
    assert (page.locator("#segment-small").count() == 1) is (expected < 20)

    page.fill("#segment-name", "有効な友だち（コンソール）")
    page.click("#segment-save-button")
    page.wait_for_selector("#segment-saved", timeout=30_000)
    row = page.locator("#segment-list tr", has_text="有効な友だち（コンソール）")
    row.wait_for(timeout=30_000)
    saved = requests.get(f"{stack.gateway_url}{BASE}/segments", headers=ADMIN, timeout=READ)
    mine = [s for s in saved.json()["items"] if s["name"] == "有効な友だち（コンソール）"]
    assert len(mine) == 1 and mine[0]["definition"] == definition, mine
    screenshot(page, "segments")
    assert critical_violations(page) == []

    row.locator(".segment-delete").click()
    row.wait_for(state="detached", timeout=30_000)
    assert console.take() == []
    assert stack.gateway.internal_errors == 0
