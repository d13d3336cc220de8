"""The console's rich menus and inflow routes pages in a real browser (Debian's
chromium driven by Playwright) against a local stack.

A menu set applied through the admin API is shown with each menu's image (served by
``GET …/richmenus/{menu_id}/image``) and one overlay per tap area of the spec, placed
at the area's bounds scaled to the displayed image; an area's action shows on click;
the tabs and the rules are listed; a bad spec "checked" shows the API's 422 reasons,
and the applied set applied again from the editor is unchanged. A route created in
the page is listed with its counters; a second one of the same id shows the API's
409; its QR code downloads as a real PNG and SVG (fetched with the bearer token, saved
as a Blob); the viewer sees both pages without their edit controls. Each page is kept
as a screenshot in build/e2e/console-<page>.png and axe-core finds no critical
violation on it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from linecrm_local.demo import DEMO_ADMIN_TOKEN, DEMO_CHANNEL_ID
from linecrm_local.stack import LocalStack
from tests.e2e.test_console_browser import (
    Watched,
    browser,
    critical_violations,
    open_page,
    screenshot,
    stack,
    staff_page,
    wait_until,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]
# Fixtures imported for pytest (module-scoped: this file gets its own stack and chromium).
__all__ = ["browser", "stack"]

ADMIN = {"Authorization": f"Bearer {DEMO_ADMIN_TOKEN}"}
BASE = f"/admin/channels/{DEMO_CHANNEL_ID}"
READ = (10, 120)
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# The demo menu set: a compact main menu (a tab and a link), a large member menu
# (three areas) for ID-linked friends, main the default.
DEMO_MENUS: dict[str, Any] = {
    "menus": [
        {
            "id": "main",
            "name": "メインメニュー",
            "size": "compact",
            "chat_bar_text": "メニュー",
            "areas": [
                {
                    "bounds": {"x": 0, "y": 0, "width": 1250, "height": 843},
                    "label": "会員メニュー",
                    "action": {"type": "richmenuswitch", "to": "member"},
                },
                {
                    "bounds": {"x": 1250, "y": 0, "width": 1250, "height": 843},
                    "label": "ショップへ",
                    "action": {"type": "uri", "uri": "https://shop.example/"},
                },
            ],
        },
        {
            "id": "member",
            "name": "会員メニュー",
            "size": "large",
            "areas": [
                {
                    "bounds": {"x": 0, "y": 0, "width": 2500, "height": 843},
                    "label": "会員特典",
                    "action": {
                        "type": "postback",
                        "data": "linecrm=1&tag.add=特典",
                        "display_text": "会員特典",
                    },
                },
                {
                    "bounds": {"x": 0, "y": 843, "width": 1250, "height": 843},
                    "label": "戻る",
                    "action": {"type": "richmenuswitch", "to": "main"},
                },
                {
                    "bounds": {"x": 1250, "y": 843, "width": 1250, "height": 843},
                    "label": "問い合わせ",
                    "action": {"type": "message", "text": "問い合わせ"},
                },
            ],
        },
    ],
    "default": "main",
    "rules": [{"menu": "member", "segment": {"match": {"linked": True}}}],
}


@pytest.fixture(scope="module")
def console(stack: LocalStack, browser: Any) -> Iterator[Watched]:
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    page.set_default_timeout(30_000)
    watched = Watched(page)
    page.goto(f"{stack.gateway_url}/console/")
    page.fill("#signin-token", DEMO_ADMIN_TOKEN)
    page.click("#signin-machine button[type=submit]")
    page.wait_for_selector("#signed-in-as")
    yield watched
    page.close()


def api(stack: LocalStack, method: str, path: str, body: Any = None) -> requests.Response:
    return requests.request(
        method, f"{stack.gateway_url}{BASE}{path}", json=body, headers=ADMIN, timeout=READ
    )


def unexpected(console: Watched, *expected: str) -> list[str]:
    """What went wrong on the page, but the refusals the test asked for."""
    return [p for p in console.take() if not any(e in p for e in expected)]


def test_the_demo_menus_are_drawn_with_their_areas_and_edited_with_the_apis_reasons(
    stack: LocalStack, console: Watched
) -> None:
    applied = api(stack, "PUT", "/richmenus", DEMO_MENUS)
    assert applied.status_code == 200, applied.text
    wait_until(  # the sync job puts the menus on the emulator's LINE
        lambda: api(stack, "GET", "/richmenus").json()["status"] == "ready",
        "the menus synced",
        stack,
    )

    page = open_page(console, "richmenus")
    for menu in DEMO_MENUS["menus"]:
        card = page.locator(f"[data-menu={menu['id']}]")
        card.locator("[data-area]").first.wait_for()
        assert card.locator("[data-area]").count() == len(menu["areas"])
        # The image came through the API with the token and is the menu's size.
        image = card.locator("[data-preview] img")
        image.wait_for()
        page.wait_for_function(
            "el => el.complete && el.naturalWidth > 0", arg=image.element_handle()
        )
        natural = image.evaluate("el => [el.naturalWidth, el.naturalHeight]")
        size = {"compact": [2500, 843], "large": [2500, 1686]}[menu["size"]]
        assert natural == size
        # Each overlay sits on its area's bounds, scaled to the displayed image.
        frame = card.locator("[data-preview]").bounding_box()
        assert frame is not None
        scale = frame["width"] / size[0]
        for index, area in enumerate(menu["areas"]):
            box = card.locator(f"[data-area='{index}']").bounding_box()
            assert box is not None
            bounds = area["bounds"]
            assert abs(box["x"] - frame["x"] - bounds["x"] * scale) < 2
            assert abs(box["y"] - frame["y"] - bounds["y"] * scale) < 2
            assert abs(box["width"] - bounds["width"] * scale) < 2
            assert abs(box["height"] - bounds["height"] * scale) < 2

    main = page.locator("[data-menu=main]")
    main.locator("[data-area='1']").click()
    assert "https://shop.example/" in main.locator("[data-area-detail]").inner_text()
    main.locator("[data-area='1']").hover()
    page.wait_for_selector("[role=tooltip] >> text=https://shop.example/")
    tabs = page.locator("#richmenus-tabs").inner_text()
    assert "main" in tabs and "member" in tabs and "会員メニュー" in tabs
    rules = page.locator("#richmenus-rules").inner_text()
    assert '"linked":true' in rules and "デフォルト" in rules
    assert "反映済み" in page.locator("#richmenus-status").inner_text()

    # The applied set, applied again from the editor as it loaded: unchanged.
    page.click("#richmenus-apply")
    page.wait_for_selector("#richmenus-result >> text=変更はありません")

    # A bad spec: the API's reasons, each with its field; nothing stored.
    spec = page.locator("#richmenus-spec").input_value()
    bad = spec.replace('"x": 1250', '"x": 2000', 1)
    assert bad != spec
    page.fill("#richmenus-spec", bad)
    page.click("#richmenus-check")
    problems = page.locator("#richmenus-problems")
    problems.wait_for()
    assert "HTTP 422" in problems.inner_text() and "menus[0].areas[1]" in problems.inner_text()
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "richmenus")
    assert critical_violations(page) == []
    page.fill("#richmenus-spec", "{not json")
    page.click("#richmenus-check")
    page.wait_for_selector("#richmenus-problems >> text=JSON として読めません")
    assert api(stack, "GET", "/richmenus").json()["version"] == 1
    assert unexpected(console, "HTTP 422", "status of 422") == []


def test_a_route_created_in_the_page_is_listed_and_its_qr_downloads(
    stack: LocalStack, console: Watched, tmp_path: Path
) -> None:
    assert api(stack, "POST", "/tags", {"name": "店頭QR"}).status_code in (200, 201)
    page = open_page(console, "routes")
    page.click("#routes-new")
    page.fill("#route-id", "qr_e2e")
    page.fill("#route-name", "渋谷店ポスター")
    page.click("#route-tags")
    page.click("[role=option] >> text=店頭QR")
    page.keyboard.press("Escape")
    page.fill("#route-utm-source", "poster")
    page.fill("#route-utm-campaign", "open2026")
    page.click("#route-save")
    row = page.locator("[data-route=qr_e2e]")
    row.wait_for()
    assert "渋谷店ポスター" in row.inner_text() and "店頭QR" in row.inner_text()
    assert row.locator("[data-counter=friends]").inner_text() == "0"
    url = row.locator("[data-url]").inner_text()
    assert "/r/" in url
    stored = api(stack, "GET", "/routes/qr_e2e").json()
    assert (stored["tags"], stored["utm"]["source"], stored["url"]) == (["店頭QR"], "poster", url)

    # The same id again: the API's 409 in the form.
    page.click("#routes-new")
    page.fill("#route-id", "qr_e2e")
    page.fill("#route-name", "二枚目")
    page.click("#route-save")
    page.wait_for_selector("#route-form [role=alert]")
    assert "qr_e2e" in page.locator("#route-form [role=alert]").inner_text()
    page.keyboard.press("Escape")
    page.locator("#route-form").wait_for(state="detached")

    with page.expect_download() as png_download:
        row.locator("[data-qr=png]").click()
    png = png_download.value
    assert png.suggested_filename == "qr_e2e.png"
    png_path = tmp_path / "qr.png"
    png.save_as(png_path)
    assert png_path.read_bytes().startswith(PNG_SIGNATURE)
    with page.expect_download() as svg_download:
        row.locator("[data-qr=svg]").click()
    svg_path = tmp_path / "qr.svg"
    svg_download.value.save_as(svg_path)
    assert b"<svg" in svg_path.read_bytes()[:400]

    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "routes")
    assert critical_violations(page) == []
    assert unexpected(console, "HTTP 409", "status of 409") == []


def test_the_viewer_reads_both_pages_without_their_edit_controls(
    stack: LocalStack, browser: Any, console: Watched
) -> None:
    viewer = staff_page(stack, browser, "viewer")
    page = viewer.page
    try:
        page.set_default_timeout(30_000)
        open_page(viewer, "routes")
        page.locator("#routes-list").wait_for()
        assert page.locator("#routes-new").count() == 0
        assert page.locator("[data-qr=png]").count() >= 1  # reading includes the QR codes
        open_page(viewer, "richmenus")
        page.locator("[data-menu=main] [data-area]").first.wait_for()
        assert page.locator("#richmenus-apply").count() == 0
        assert page.locator("#richmenus-spec").get_attribute("readonly") is not None
        assert viewer.take() == []
    finally:
        page.close()
