"""The console's admin pages in a real browser (docs/console.md): the owner invites a
staff user and changes their role, and the audit page lists both changes; a saved
segment opened in the builder is edited and saved again, and a broadcast to it dry-runs
the segment's count; a saved reply made in the chat page's editor is sent as a reply
with the friend's name filled in, and "older messages" pages back through a long
conversation. Screenshots in build/e2e/console-<page>.png, axe-core on every page.

One local stack for this module (the pattern of tests/e2e/test_console_browser.py).
"""

from __future__ import annotations

from typing import Any

import pytest
import requests

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
    staff_page,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

# Fixtures imported for pytest (module-scoped: this file gets its own stack and chromium).
__all__ = ["activity", "browser", "console", "stack"]


def api(stack: LocalStack, method: str, path: str, body: Any = None) -> Any:
    url = path if path.startswith("/admin/") else f"{BASE}{path}"
    answer = requests.request(
        method, f"{stack.gateway_url}{url}", json=body, headers=ADMIN, timeout=READ
    )
    assert answer.status_code < 300, (method, path, answer.status_code, answer.text)
    return answer.json() if answer.content else None


def test_the_owner_invites_a_staff_user_changes_the_role_and_the_audit_lists_both(
    stack: LocalStack, browser: Any, console: Watched
) -> None:
    page = open_page(console, "staff")
    page.wait_for_selector("#staff-list [data-email]", timeout=30_000)
    # A bad address: the API's 422 reason in the page, nothing invited.
    page.fill("#staff-email", "not-an-email")
    page.click("#staff-invite-button")
    alert = page.locator("main [role=alert]")
    alert.wait_for(timeout=30_000)
    assert "email" in alert.inner_text(), alert.inner_text()
    assert [p for p in console.take() if "422" not in p] == []

    email = "sato@shop.example"
    page.fill("#staff-email", email)
    page.select_option("#staff-role", "operator")
    page.click("#staff-invite-button")
    page.wait_for_selector("#staff-notice", timeout=30_000)
    row = page.locator(f"#staff-list [data-email='{email}']")
    row.wait_for(timeout=30_000)
    assert row.locator("select").input_value() == "operator"
    row.locator("select").select_option("marketer")
    page.wait_for_selector(f"#staff-notice:has-text('{email}')", timeout=30_000)
    page.wait_for_function(
        f"document.querySelector(\"#staff-list [data-email='{email}'] select\").value"
        " === 'marketer'",
        timeout=30_000,
    )
    users = {u["email"]: u for u in api(stack, "GET", "/admin/staff")["users"]}
    assert users[email]["role"] == "marketer", users
    screenshot(page, "staff")
    assert critical_violations(page) == []

    # The audit page: the changes outside a channel list the invitation and the role.
    page = open_page(console, "audit")
    page.wait_for_selector("#audit-list .audit-entry", timeout=30_000)
    page.click("#audit-scope label:has-text('チャネル外')")
    page.wait_for_selector(
        "#audit-list .audit-entry[data-route='/admin/staff/{username}']", timeout=30_000
    )
    invited = page.locator("#audit-list .audit-entry[data-route='/admin/staff'][data-method=POST]")
    changed = page.locator(
        "#audit-list .audit-entry[data-route='/admin/staff/{username}'][data-method=PUT]"
    )
    assert invited.count() == 1 and changed.count() == 1
    assert email in changed.locator(".audit-path").inner_text()
    # Newest first: the role change above the invitation.
    routes = page.locator("#audit-list .audit-entry").evaluate_all(
        "rows => rows.map(r => r.dataset.method + ' ' + r.dataset.route)"
    )
    assert routes.index("PUT /admin/staff/{username}") < routes.index("POST /admin/staff")
    screenshot(page, "audit")
    assert critical_violations(page) == []

    # A channel change with before / after: the delivery policy, shown as a diff.
    policy = api(stack, "GET", "/delivery-policy")
    api(stack, "PUT", "/delivery-policy", {**policy, "when_capped": "defer"})
    page.click("#audit-scope label:has-text('このチャネル')")
    entry = page.locator(
        "#audit-list .audit-entry[data-route='/admin/channels/{channel_id}/delivery-policy']"
    ).first
    entry.wait_for(timeout=30_000)
    entry.locator("button").click()
    changes = page.locator("#audit-list .audit-changes")
    changes.wait_for(timeout=30_000)
    assert "when_capped" in changes.inner_text()
    assert "defer" in changes.inner_text()
    screenshot(page, "audit-diff")
    api(stack, "PUT", "/delivery-policy", policy)

    # Settings: the owner sees the channels card; a viewer neither it nor the staff page.
    page = open_page(console, "settings")
    page.wait_for_selector(f"#settings-channels [data-channel-id='{DEMO_CHANNEL_ID}']")
    page.wait_for_selector("#settings-me", timeout=30_000)
    page.wait_for_selector("#settings-chat-retention", timeout=30_000)
    screenshot(page, "settings-channels")
    assert critical_violations(page) == []
    # No business hours set in the demo: their GET answers 404, the card says so.
    assert [p for p in console.take() if "/business-hours" not in p and "404" not in p] == []

    viewer = staff_page(stack, browser, "viewer")
    try:
        page = open_page(viewer, "settings")
        page.wait_for_selector("#settings-policy", timeout=30_000)
        assert page.locator("#settings-channels").count() == 0
        assert page.locator("nav [data-page=staff]").count() == 0
        assert page.locator("nav [data-page=audit]").count() == 1
        page = open_page(viewer, "audit")
        assert page.locator("#audit-scope").count() == 0
        assert [p for p in viewer.take() if "/business-hours" not in p and "404" not in p] == []
    finally:
        viewer.page.close()
    assert stack.gateway.internal_errors == 0


def test_a_saved_segment_edited_in_the_builder_is_a_broadcasts_recipients(
    stack: LocalStack, console: Watched, activity: DemoActivity
) -> None:
    active = [u for u in activity.friends if u not in activity.blocked]
    chosen, blocked = active[:2], activity.blocked[:1]
    assert len(chosen) == 2 and blocked, activity
    api(stack, "POST", "/tags", {"name": "セグメント配信"})
    api(
        stack,
        "POST",
        "/friends/bulk",
        {"user_ids": [*chosen, *blocked], "add_tags": ["セグメント配信"]},
    )
    segment = api(
        stack,
        "POST",
        "/segments",
        {
            "name": "タグの友だち",
            "definition": {"match": {"all": [{"tags_any": ["セグメント配信"]}]}},
        },
    )

    # Open it in the builder, add "active", save it again (PUT).
    page = open_page(console, "segments")
    row = page.locator(f"#segment-list [data-segment-id='{segment['segmentId']}']")
    row.wait_for(timeout=30_000)
    row.locator(".segment-open").click()
    page.wait_for_selector("#segment-editing", timeout=30_000)
    assert page.input_value("#segment-name") == "タグの友だち"
    page.wait_for_selector("#segment-count[data-count='3']", timeout=30_000)
    page.select_option("#segment-builder .segment-add-kind select >> nth=0", "status")
    page.click("#segment-builder .segment-add >> nth=0")
    page.wait_for_selector("#segment-count[data-count='2']", timeout=30_000)
    page.click("#segment-save-button")
    page.wait_for_selector("#segment-saved", timeout=30_000)
    stored = api(stack, "GET", f"/segments/{segment['segmentId']}")
    assert stored["definition"] == {
        "match": {"all": [{"tags_any": ["セグメント配信"]}, {"status": "active"}]}
    }, stored
    assert len(api(stack, "GET", "/segments")["items"]) == 1  # replaced, not added
    screenshot(page, "segments-edit")
    assert critical_violations(page) == []

    # The broadcast composer: the saved segment as the recipients; the dry run counts it.
    page = open_page(console, "broadcasts")
    page.click("#broadcast-class")
    page.click("text=取引・お知らせ（上限なし）")
    page.fill("#broadcast-message-0-text", "セグメントへのお知らせ")
    page.click("#broadcast-audience-kind label:has-text('保存したセグメント')")
    assert page.locator("#broadcast-dry-run").is_disabled()
    page.click("#broadcast-saved-segment")
    page.click("[role=option]:has-text('タグの友だち')")
    page.click("#broadcast-dry-run")
    page.wait_for_selector("#broadcast-dry-run-result", timeout=60_000)
    recipients = page.locator("#broadcast-dry-run-result [data-figure='配信対象']").inner_text()
    outside = page.locator("#broadcast-dry-run-result [data-figure='条件外']").inner_text()
    expected = api(
        stack,
        "POST",
        "/broadcasts/preview",
        {
            "name": "セグメントへのお知らせ",
            "messages": [{"type": "text", "text": "x"}],
            "message_class": "transactional",
            "segment": {"segment": segment["segmentId"]},
        },
    )
    assert expected["recipients"] == 2, expected
    assert recipients == "2"
    assert outside == str(expected["not_in_segment"])
    screenshot(page, "broadcasts-segment")
    assert critical_violations(page) == []
    assert console.take() == []
    assert stack.gateway.internal_errors == 0


def test_a_saved_reply_made_in_the_editor_is_sent_and_older_messages_page_back(
    stack: LocalStack, console: Watched, activity: DemoActivity
) -> None:
    user_id = stack.emulator.simulate_follow(DEMO_CHANNEL_ID, display_name="定型文太郎").user_id
    settle(stack)
    # More than one page (50) of conversation.
    for n in range(1, 56):
        stack.emulator.simulate_text(DEMO_CHANNEL_ID, user_id, f"メッセージ{n:02d}")

    def conversation() -> Any:
        items = api(stack, "GET", "/chat/conversations?limit=100")["items"]
        return next((i for i in items if i["userId"] == user_id), None)

    wait_until(conversation, "the conversation in the inbox", stack)

    page = open_page(console, "chat")
    page.wait_for_selector("#chat-templates", timeout=30_000)
    # Create a saved reply, then rename it.
    page.click("#chat-template-new")
    page.fill("#chat-template-name", "営業時間")
    page.fill("#chat-template-text", "{display_name|お客様}さん、営業時間は10時からです。")
    page.click("#chat-template-save")
    row = page.locator("#chat-templates .chat-template-row", has_text="営業時間")
    row.wait_for(timeout=30_000)
    row.locator(".chat-template-edit").click()
    page.fill("#chat-template-name", "営業時間のご案内")
    page.click("#chat-template-save")
    page.wait_for_selector(
        "#chat-templates .chat-template-row:has-text('営業時間のご案内')", timeout=30_000
    )
    saved = api(stack, "GET", "/chat/templates")["items"]
    assert [t["name"] for t in saved].count("営業時間のご案内") == 1, saved
    assert "営業時間" not in [t["name"] for t in saved]
    # A second one, deleted again.
    page.click("#chat-template-new")
    page.fill("#chat-template-name", "消す定型文")
    page.fill("#chat-template-text", "消します")
    page.click("#chat-template-save")
    doomed = page.locator("#chat-templates .chat-template-row", has_text="消す定型文")
    doomed.wait_for(timeout=30_000)
    doomed.locator(".chat-template-delete").click()
    doomed.wait_for(state="detached", timeout=30_000)
    assert "消す定型文" not in [t["name"] for t in api(stack, "GET", "/chat/templates")["items"]]

    # The conversation: the latest page, then the older one.
    page.click(f"#chat-inbox [data-user-id={user_id}]")
    page.wait_for_selector("#chat-messages .chat-in:has-text('メッセージ55')", timeout=30_000)
    assert page.locator("#chat-messages .chat-in:has-text('メッセージ01')").count() == 0
    page.click("#chat-older")
    page.wait_for_selector("#chat-messages .chat-in:has-text('メッセージ01')", timeout=30_000)
    texts = page.locator("#chat-messages .chat-in .chat-text").all_inner_texts()
    mine = [t for t in texts if t.startswith("メッセージ")]
    assert mine == [f"メッセージ{n:02d}" for n in range(1, 56)], mine

    # The saved reply, picked and sent unchanged: the friend's name filled in.
    page.click("#chat-template")
    page.click("[role=option]:has-text('営業時間のご案内')")
    page.click("#chat-send")
    page.wait_for_selector("#chat-sent", timeout=60_000)
    settle(stack)
    settle(stack)
    filled = "定型文太郎さん、営業時間は10時からです。"
    got = [m for m in stack.emulator.inbox(user_id) if m.message.get("text") == filled]
    assert len(got) == 1, [m.message for m in stack.emulator.inbox(user_id)]
    page.wait_for_selector(f"#chat-messages .chat-out:has-text('{filled}')", timeout=30_000)
    # The new message scrolled into view (after the older page kept the place).
    page.wait_for_function(
        """() => {
            const out = [...document.querySelectorAll('#chat-messages .chat-out')].pop();
            const view = out.closest('.mantine-ScrollArea-viewport').getBoundingClientRect();
            const box = out.getBoundingClientRect();
            return box.top >= view.top - 1 && box.bottom <= view.bottom + 1;
        }""",
        timeout=30_000,
    )
    screenshot(page, "chat-templates")
    assert critical_violations(page) == []
    assert console.take() == []
    assert stack.gateway.internal_errors == 0
