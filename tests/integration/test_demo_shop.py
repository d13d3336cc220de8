"""The demo shop (``make dev``) against the local stack: a friend taps 会員連携, logs in
on the demo shop with the link token, the shop asks linecrm for a nonce (signed) and
sends the browser to LINE's account-link dialog (the emulator's) → linked. Then the
cart and the purchase reach the friend's timeline as events. And the LIFF pages are
served with the bundle (``make liff``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from linecrm_local.demo import DEMO_CHANNEL_ID, DEMO_LIFF_ID
from linecrm_local.demo_shop.members import DEMO_MEMBERS
from linecrm_local.stack import LocalStack
from tests.integration.conftest import TEST_VISIBILITY_TIMEOUT_SECONDS
from tests.support.admin_http import READ, admin, eventually, follower

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

MEMBER_ID, EMAIL, _NAME, PASSWORD = DEMO_MEMBERS[0]


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(
        scheduler_tick_seconds=0.2,
        scheduler_retry_delay_seconds=0.01,
        poll_interval_seconds=0.02,
        batching_window_seconds=0.05,
        visibility_timeout_seconds=TEST_VISIBILITY_TIMEOUT_SECONDS,
        demo_shop_port=0,
    ) as local:
        yield local


def login_button(stack: LocalStack, user_id: str) -> str:
    """The friend taps 会員連携: the URI of the login button they receive."""
    before = len(stack.emulator.inbox(user_id))
    stack.emulator.simulate_postback(DEMO_CHANNEL_ID, user_id, "linecrm=1&account.link=1")

    def invitation() -> dict[str, Any] | None:
        received = stack.emulator.inbox(user_id)[before:]
        return next((m.message for m in received if m.message.get("type") == "template"), None)

    uri: str = eventually(invitation, "the login button")["template"]["actions"][0]["uri"]
    return uri


def link_of(stack: LocalStack, user_id: str) -> dict[str, Any] | None:
    response = admin(stack, "GET", f"/friends/{user_id}/link")
    return response.json() if response.status_code == 200 else None


def test_the_demo_shop_links_a_friend_and_sends_cart_and_purchase(stack: LocalStack) -> None:
    user_id = follower(stack, "デモ花子")
    uri = login_button(stack, user_id)
    # make dev's seed points ID linking at the demo shop's login page.
    assert uri.startswith(f"{stack.demo_shop.url}/login?linkToken=")
    link_token = parse_qs(urlsplit(uri).query)["linkToken"][0]

    browser = requests.Session()
    form = browser.get(uri, timeout=READ)
    assert form.status_code == 200 and f'value="{link_token}"' in form.text

    wrong = browser.post(
        f"{stack.demo_shop.url}/login",
        data={"email": EMAIL, "password": "wrong", "linkToken": link_token},
        allow_redirects=False,
        timeout=READ,
    )
    assert wrong.status_code == 401 and link_of(stack, user_id) is None

    answer = browser.post(
        f"{stack.demo_shop.url}/login",
        data={"email": EMAIL, "password": PASSWORD, "linkToken": link_token},
        allow_redirects=False,
        timeout=READ,
    )
    assert answer.status_code == 303, answer.text
    dialog = answer.headers["Location"]
    assert dialog.startswith(f"{stack.emulator_url}/dialog/bot/accountLink?")
    assert parse_qs(urlsplit(dialog).query)["linkToken"] == [link_token]
    assert requests.get(dialog, timeout=READ).status_code == 200

    link = eventually(lambda: link_of(stack, user_id), "the link")
    assert link["member_id"] == MEMBER_ID

    # Logged in on the shop: the cart and the purchase go to the events API (signed,
    # by member id) and land on the linked friend's timeline.
    assert browser.post(f"{stack.demo_shop.url}/cart/add", data={"sku": "A1"}, timeout=READ).ok
    browser.post(f"{stack.demo_shop.url}/cart/add", data={"sku": "C3"}, timeout=READ)
    done = browser.post(f"{stack.demo_shop.url}/checkout", timeout=READ)
    assert "ご注文ありがとうございました" in done.text and "LINE" not in done.text.split("</h1>")[1]

    def events() -> list[dict[str, Any]]:
        timeline = admin(stack, "GET", f"/friends/{user_id}/events").json()
        found: list[dict[str, Any]] = timeline["events"]
        return found

    names = eventually(lambda: [e["name"] for e in events()] or None, "the events")
    assert names.count("cart_updated") == 2 and names.count("purchase") == 1
    purchase = next(e for e in events() if e["name"] == "purchase")
    assert purchase["value"] == 3200 + 1100


def test_a_link_token_linecrm_never_issued_gets_no_nonce(stack: LocalStack) -> None:
    browser = requests.Session()
    answer = browser.post(
        f"{stack.demo_shop.url}/login",
        data={"email": EMAIL, "password": PASSWORD, "linkToken": "forged-link-token"},
        allow_redirects=False,
        timeout=READ,
    )
    assert answer.status_code == 422
    assert "連携を開始できませんでした" in answer.text
    assert "link_token" in answer.text


def test_a_guest_cart_sends_nothing(stack: LocalStack) -> None:
    browser = requests.Session()
    cart = browser.post(f"{stack.demo_shop.url}/cart/add", data={"sku": "B2"}, timeout=READ)
    assert "ログインしていないため" in cart.text


def test_the_liff_pages_are_served_with_the_bundle(stack: LocalStack) -> None:
    # make dev's seed sets the demo channel's LIFF app; the bundle comes from `make liff`.
    assert admin(stack, "GET", "/liff").json()["liff_id"] == DEMO_LIFF_ID
    page = requests.get(f"{stack.gateway_url}/liff/{DEMO_CHANNEL_ID}/card", timeout=READ)
    assert page.status_code == 200, "no LIFF bundle: run `make liff` first"
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert '"mock": true' in page.text  # the local stack runs the pages on liff-mock
    script = page.text.split('<script type="module" src="')[1].split('"')[0]
    asset = requests.get(stack.gateway_url + script, timeout=READ)
    assert asset.status_code == 200
    assert asset.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert "immutable" in asset.headers["Cache-Control"]
    traversal = requests.get(f"{stack.gateway_url}/liff/assets/..%2Fhandler.py", timeout=READ)
    assert traversal.status_code == 404
    assert stack.gateway.internal_errors == 0
