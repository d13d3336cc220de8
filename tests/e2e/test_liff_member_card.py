"""The LIFF member card in a real browser (Debian's chromium driven by Playwright):
a friend linked through the demo shop opens the card (liff-mock carries a real ID token
from the LINE emulator), sees the member number as a barcode and a QR code with rank
and points, taps 「ショップにログイン」 and lands logged in on the demo shop.

The screenshot checks are about what a person sees: the barcode and the QR code are
drawn (dark bars on white, inside the viewport), the member number is visible, and the
Japanese text is set in a CJK font (no tofu).
"""

from __future__ import annotations

import io
import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from PIL import Image

from linecrm_local.demo import DEMO_ADMIN_TOKEN, DEMO_CHANNEL_ID
from linecrm_local.demo_shop.members import DEMO_MEMBERS
from linecrm_local.demo_shop.server import ALLOWED_TARGETS, LOGIN_PATH
from linecrm_local.stack import LocalStack
from tests.support.waiting import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

CHROMIUM = Path("/usr/bin/chromium")
ADMIN = {"Authorization": f"Bearer {DEMO_ADMIN_TOKEN}"}
BASE = f"/admin/channels/{DEMO_CHANNEL_ID}"
READ = (10, 120)
MEMBER_ID, EMAIL, _NAME, PASSWORD = DEMO_MEMBERS[0]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "e2e"


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(
        scheduler_tick_seconds=0.2,
        poll_interval_seconds=0.02,
        batching_window_seconds=0.05,
        visibility_timeout_seconds=1,
        demo_shop_port=0,
    ) as local:
        yield local


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


def admin(stack: LocalStack, method: str, path: str, body: Any = None) -> requests.Response:
    answer = requests.request(
        method, f"{stack.gateway_url}{BASE}{path}", json=body, headers=ADMIN, timeout=READ
    )
    assert answer.status_code < 300, answer.text
    return answer


def linked_friend(stack: LocalStack) -> str:
    """A friend who taps 会員連携 and logs in on the demo shop: linked to M-1001."""
    user_id = stack.emulator.simulate_follow(DEMO_CHANNEL_ID, display_name="山田花子").user_id
    wait_for(lambda: requests.get(
        f"{stack.gateway_url}{BASE}/friends/{user_id}", headers=ADMIN, timeout=READ
    ).ok)  # fmt: skip
    stack.emulator.simulate_postback(DEMO_CHANNEL_ID, user_id, "linecrm=1&account.link=1")
    message = wait_for(
        lambda: next(
            (m.message for m in stack.emulator.inbox(user_id) if m.message["type"] == "template"),
            None,
        )
    )
    uri = message["template"]["actions"][0]["uri"]
    link_token = parse_qs(urlsplit(uri).query)["linkToken"][0]
    login = requests.post(
        f"{stack.demo_shop.url}/login",
        data={"email": EMAIL, "password": PASSWORD, "linkToken": link_token},
        allow_redirects=False,
        timeout=READ,
    )
    assert requests.get(login.headers["Location"], timeout=READ).ok  # LINE's dialog
    wait_for(lambda: requests.get(
        f"{stack.gateway_url}{BASE}/friends/{user_id}/link", headers=ADMIN, timeout=READ
    ).ok)  # fmt: skip
    return user_id


def give_rank_and_points(stack: LocalStack, user_id: str) -> None:
    admin(stack, "PUT", "/fields/rank", {"label": "ランク", "type": "text"})
    admin(stack, "PUT", "/fields/points", {"label": "ポイント", "type": "number"})
    admin(
        stack, "PATCH", f"/friends/{user_id}", {"set_fields": {"rank": "ゴールド", "points": 1200}}
    )


def card_url(stack: LocalStack, user_id: str, page: str = "card") -> str:
    token = stack.emulator.issue_id_token(DEMO_CHANNEL_ID, user_id)
    return f"{stack.gateway_url}/liff/{DEMO_CHANNEL_ID}/{page}?mockIdToken={token}"


def drawn(png: bytes, threshold: int = 128) -> tuple[float, int]:
    """The share of pixels darker than ``threshold``, and the dark/light changes along
    the middle row."""
    image = Image.open(io.BytesIO(png)).convert("L")
    width, height = image.size
    pixels = image.load()
    assert pixels is not None
    dark = sum(1 for x in range(width) for y in range(height) if pixels[x, y] < threshold)
    row = [pixels[x, height // 2] < threshold for x in range(width)]
    changes = sum(1 for a, b in itertools.pairwise(row) if a != b)
    return dark / (width * height), changes


# Each character drawn alone in the page's font: with no CJK font, every one is the
# same "tofu" box; with one, all differ.
DISTINCT_GLYPHS = """(chars) => {
  const font = getComputedStyle(document.querySelector('#shop-login')).fontFamily;
  const images = chars.map((char) => {
    const canvas = document.createElement('canvas');
    canvas.width = 48; canvas.height = 48;
    const context = canvas.getContext('2d');
    context.font = `40px ${font}`;
    context.fillText(char, 4, 40);
    return Array.from(context.getImageData(0, 0, 48, 48).data).join(',');
  });
  return new Set(images).size;
}"""


def configure_shop_login(stack: LocalStack) -> None:
    """linecrm's side of auto-login for the demo shop (docs/auto-login.md), as `make dev`
    seeds it: the shop's origin, its login page and allow-list."""
    admin(
        stack,
        "PUT",
        "/shop-login",
        {
            "base_url": stack.demo_shop.url,
            "login_path": LOGIN_PATH,
            "allow": list(ALLOWED_TARGETS),
        },
    )


@pytest.fixture(scope="module")
def linked(stack: LocalStack) -> str:
    """A friend linked to M-1001 through the demo shop, with rank and points."""
    user_id = linked_friend(stack)
    give_rank_and_points(stack, user_id)
    return user_id


@pytest.fixture(scope="module")
def card(stack: LocalStack, browser: Any, linked: str) -> Iterator[tuple[Any, list[str]]]:
    """The member card of the linked friend, open in a phone-sized page, and the page's
    script errors."""
    user_id = linked
    page = browser.new_page(viewport={"width": 390, "height": 844}, locale="ja-JP")
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(card_url(stack, user_id))
    page.wait_for_selector("#barcode", state="visible", timeout=30_000)
    yield page, errors
    page.close()


def test_a_linked_friend_sees_the_member_card(card: tuple[Any, list[str]]) -> None:
    page, errors = card
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "liff-member-card.png"), full_page=True)

    # The member number, the rank and points, the link state: visible text.
    assert page.locator("#member-id").inner_text() == MEMBER_ID
    assert page.locator("#rank").inner_text() == "ゴールド"
    assert page.locator("#points").inner_text() == "1,200 pt"
    assert page.locator("#link-state").inner_text() == "会員連携済み"
    assert "山田花子" in page.locator("#display-name").inner_text()
    for selector in ("#member-id", "#rank", "#points", "#shop-login"):
        assert page.locator(selector).is_visible(), selector
    # The mock ID token is not left in the address bar.
    assert "mockIdToken" not in page.url

    # The barcode: a wide, visible box of many dark bars on white, inside the viewport.
    box = page.locator("#barcode").bounding_box()
    assert box is not None and box["width"] >= 200 and box["height"] >= 50, box
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    dark, changes = drawn(page.locator("#barcode").screenshot())
    assert 0.2 < dark < 0.8, dark
    assert changes >= 30, changes  # CODE128 of "M-1001": dozens of bars
    qr = page.locator("#qr").bounding_box()
    assert qr is not None and qr["width"] >= 120 and qr["height"] >= 120, qr
    qr_dark, qr_changes = drawn(page.locator("#qr").screenshot())
    assert 0.25 < qr_dark < 0.75 and qr_changes >= 10, (qr_dark, qr_changes)

    # Japanese text in a CJK font: distinct glyphs (no tofu), and the labels are drawn.
    characters = ["会", "員", "証", "シ", "ョ", "ッ", "プ"]
    assert page.evaluate(DISTINCT_GLYPHS, characters) == len(characters)
    assert page.locator("#shop-login").inner_text() == "ショップにログイン"
    heading_ink, _ = drawn(page.locator("h1").screenshot(), threshold=230)
    assert heading_ink > 0.02, "the heading 会員証 is not drawn"
    button_light, _ = drawn(page.locator("#shop-login").screenshot(), threshold=250)
    assert button_light > 0.5  # the green button itself
    assert errors == []


def test_tapping_shop_login_lands_logged_in_on_the_shop(
    stack: LocalStack, card: tuple[Any, list[str]]
) -> None:
    page, errors = card
    configure_shop_login(stack)
    page.locator("#shop-login").click()
    # The LIFF setup's shop target (make dev seeds /mypage), through /auto-login?token=…
    page.wait_for_url(f"{stack.demo_shop.url}/mypage", timeout=30_000)
    page.wait_for_selector("#welcome", timeout=30_000)
    page.screenshot(path=str(SCREENSHOTS / "demo-shop-logged-in.png"), full_page=True)
    assert page.locator("#member-id").inner_text() == MEMBER_ID
    assert "token=" not in page.url  # the shop redirected to the target, token spent
    assert errors == []


def test_an_unlinked_friend_is_asked_to_link(stack: LocalStack, browser: Any) -> None:
    user_id = stack.emulator.simulate_follow(DEMO_CHANNEL_ID, display_name="未連携").user_id
    wait_for(lambda: requests.get(
        f"{stack.gateway_url}{BASE}/friends/{user_id}", headers=ADMIN, timeout=READ
    ).ok)  # fmt: skip
    page = browser.new_page(locale="ja-JP")
    page.goto(card_url(stack, user_id))
    page.wait_for_selector("#unlinked", state="visible", timeout=30_000)
    assert "会員連携がまだです" in page.locator("#unlinked").inner_text()
    assert page.locator("#barcode").count() == 0 and page.locator("#shop-login").count() == 0
    page.close()


def test_a_forged_id_token_shows_an_error_and_no_card(stack: LocalStack, browser: Any) -> None:
    page = browser.new_page(locale="ja-JP")
    page.goto(f"{stack.gateway_url}/liff/{DEMO_CHANNEL_ID}/card?mockIdToken=forged.token.value")
    page.wait_for_selector("#app[data-ready=true]", timeout=30_000)
    assert "LINEのログインを確認できませんでした" in page.locator("#status").inner_text()
    assert page.locator("#barcode").count() == 0
    page.close()


def test_chromium_is_debians(browser: Any) -> None:
    assert shutil.which("chromium") == str(CHROMIUM)
    assert browser.version


def test_the_open_page_refuses_a_target_off_the_shop(
    stack: LocalStack, browser: Any, linked: str
) -> None:
    user_id = linked
    page = browser.new_page(locale="ja-JP")
    calls: list[str] = []
    page.on("request", lambda request: calls.append(request.url))
    page.goto(card_url(stack, user_id, "open") + "&target=https://evil.example/")
    page.wait_for_selector("#app[data-ready=true]", timeout=30_000)
    assert page.locator("#status").inner_text() == "移動先が正しくありません。"
    assert not any("/liff/shop-login" in url for url in calls)
    assert page.url.startswith(stack.gateway_url)
    page.close()


def test_the_open_page_opens_the_shop_logged_in_at_its_target(
    stack: LocalStack, browser: Any, linked: str
) -> None:
    """A rich-menu URI action: https://liff.line.me/{liffId}/open?target=/cart."""
    page = browser.new_page(locale="ja-JP")
    configure_shop_login(stack)
    page.goto(card_url(stack, linked, "open") + "&target=/cart")
    page.wait_for_url(f"{stack.demo_shop.url}/cart", timeout=30_000)
    assert page.locator("#member-id").inner_text() == MEMBER_ID
    page.close()
