"""The console's staff sign-in through the managed login in a real browser (issue 14):
the authorization code flow with PKCE (S256) against the local gateway's stand-in for
Cognito's hosted UI (``/local/oauth2/authorize`` and ``/local/oauth2/token``).

The marketer signs in on the hosted-login page and lands on the dashboard; signing out
goes through ``/local/logout`` back to the sign-in. A callback whose ``state`` was
tampered with is refused with a message, and its code, never exchanged by the console,
is refused by the token endpoint with a wrong verifier and then as spent.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from linecrm_local.stack import LocalStack
from tests.e2e.test_console_browser import (
    READ,
    STAFF_PASSWORD,
    Watched,
    browser,
    critical_violations,
    screenshot,
    stack,
)

# Fixtures imported for pytest (module-scoped: this file gets its own stack and chromium).
__all__ = ["browser", "stack"]

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

MARKETER = "marketer@demo.linecrm.local"


def _hosted_login(page: Any, stack: LocalStack) -> None:
    page.goto(f"{stack.gateway_url}/console/")
    page.click("#signin-hosted", timeout=30_000)
    page.wait_for_url(f"{stack.gateway_url}/local/oauth2/authorize?*", timeout=30_000)
    page.fill("#signin-email", MARKETER, timeout=30_000)
    page.fill("#signin-password", STAFF_PASSWORD)


def test_the_marketer_signs_in_on_the_hosted_login_and_signs_out(
    stack: LocalStack, browser: Any
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    watched = Watched(page)
    exchanges: list[Any] = []
    page.on(
        "request",
        lambda request: exchanges.append(request) if "/oauth2/token" in request.url else None,
    )
    try:
        page.goto(f"{stack.gateway_url}/console/")
        page.wait_for_selector("#signin-hosted", timeout=30_000)
        assert page.locator("#signin-token").count() == 1  # the admin token stays, locally
        assert critical_violations(page) == []
        screenshot(page, "signin-staff")

        _hosted_login(page, stack)
        query = parse_qs(urlsplit(page.url).query)
        assert query["code_challenge_method"] == ["S256"]
        assert query["response_type"] == ["code"]
        assert query["redirect_uri"] == [f"{stack.gateway_url}/console/callback"]
        assert len(query["code_challenge"][0]) == 43 and query["state"][0] and query["nonce"][0]
        assert critical_violations(page) == []
        screenshot(page, "hosted-login")

        page.click("#signin-staff button[type=submit]")
        page.wait_for_selector("main [data-page=dashboard]", timeout=30_000)
        assert page.url == f"{stack.gateway_url}/console/"  # the code is gone from the URL
        assert MARKETER in page.locator("#signed-in-as").inner_text()
        # One exchange, with the verifier whose S256 is the challenge sent.
        (exchange,) = exchanges
        sent = parse_qs(exchange.post_data)
        assert sent["grant_type"] == ["authorization_code"]
        assert len(sent["code_verifier"][0]) == 43
        # The ID token is in sessionStorage, and the API takes it.
        session = json.loads(
            page.evaluate("sessionStorage.getItem('linecrm.console.session')") or "{}"
        )
        assert session["kind"] == "staff" and session["role"] == "marketer"
        me = requests.get(
            f"{stack.gateway_url}/admin/me",
            headers={"Authorization": f"Bearer {session['token']}"},
            timeout=READ,
        )
        assert me.status_code == 200 and me.json()["role"] == "marketer", me.text

        page.click("#sign-out")
        page.wait_for_selector("#signin-hosted", timeout=30_000)
        assert page.url == f"{stack.gateway_url}/console/"
        assert page.evaluate("sessionStorage.getItem('linecrm.console.session')") is None
        assert watched.take() == []
    finally:
        page.close()


def test_a_tampered_state_is_refused_and_its_code_is_not_exchanged(
    stack: LocalStack, browser: Any
) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="ja-JP")
    exchanges: list[str] = []
    callbacks: list[str] = []
    page.on(
        "request",
        lambda request: (
            exchanges.append(request.url)
            if "/oauth2/token" in request.url
            else callbacks.append(request.url)
            if "/console/callback" in request.url
            else None
        ),
    )
    try:
        _hosted_login(page, stack)
        # What an attacker's callback carries: another state than the tab's.
        page.evaluate(
            "document.querySelector('#signin-staff input[name=state]').value = 'tampered'"
        )
        page.click("#signin-staff button[type=submit]")
        page.wait_for_selector("[data-testid=signin-error]", timeout=30_000)
        assert "state が一致しません" in page.locator("[data-testid=signin-error]").inner_text()
        assert page.locator("#signin-hosted").count() == 1
        assert page.url == f"{stack.gateway_url}/console/"
        assert exchanges == []
        assert page.evaluate("sessionStorage.getItem('linecrm.console.session')") is None
        assert critical_violations(page) == []
        screenshot(page, "signin-refused")

        # The code the console would not exchange: a wrong verifier spends it.
        (callback,) = callbacks
        code = parse_qs(urlsplit(callback).query)["code"][0]
        config = requests.get(f"{stack.gateway_url}/console/config.json", timeout=READ).json()
        form = {
            "grant_type": "authorization_code",
            "client_id": config["auth"]["clientId"],
            "code": code,
            "redirect_uri": f"{stack.gateway_url}/console/callback",
            "code_verifier": "x" * 43,
        }
        token = f"{stack.gateway_url}/local/oauth2/token"
        wrong = requests.post(token, data=form, timeout=READ)
        assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant", wrong.text
        reused = requests.post(token, data=form, timeout=READ)
        assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
        assert "used" in reused.json()["error_description"]
    finally:
        page.close()
