"""The local managed login (local/linecrm_local/staff_oauth.py): the authorization code
flow with PKCE (S256) as Cognito's hosted UI answers it, and the token endpoint's
refusals (400 ``invalid_grant``: wrong verifier, reused or expired code, another
redirect_uri)."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from linecrm_local.staff_oauth import HostedLogin, SignInRefused, s256

CLIENT = "console-client"
CALLBACK = "http://127.0.0.1:8080/console/callback"
FORM = "application/x-www-form-urlencoded"
VERIFIER = "v" * 20 + "-._~" + "A1" * 10  # 44 characters of the unreserved set
PASSWORD = "linecrm-demo"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _sign_in(email: str, password: str) -> Mapping[str, Any]:
    if email != "marketer@demo.linecrm.local" or password != PASSWORD:
        raise SignInRefused("wrong email or password")
    return {"token": "the-id-token", "access_token": "the-access-token", "expires_in": 3600}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def login(clock: Clock) -> HostedLogin:
    return HostedLogin(CLIENT, _sign_in, clock=clock)


def _authorize(login: HostedLogin, method: str = "GET", **changes: str) -> Any:
    params = {
        "response_type": "code",
        "client_id": CLIENT,
        "redirect_uri": CALLBACK,
        "scope": "openid email",
        "state": "the-state",
        "nonce": "the-nonce",
        "code_challenge": s256(VERIFIER),
        "code_challenge_method": "S256",
        **changes,
    }
    return login.authorize(method, params, redirect_uris={CALLBACK})


def _code(login: HostedLogin) -> str:
    answer = _authorize(login, "POST", email="marketer@demo.linecrm.local", password=PASSWORD)
    assert answer.status == 302, answer.body
    location = urlsplit(dict(answer.headers)["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == CALLBACK
    query = parse_qs(location.query)
    assert query["state"] == ["the-state"]
    return query["code"][0]


def _exchange(login: HostedLogin, code: str, **changes: str) -> tuple[int, dict[str, Any]]:
    content_type = changes.pop("content_type", FORM)
    form = {
        "grant_type": "authorization_code",
        "client_id": CLIENT,
        "code": code,
        "redirect_uri": CALLBACK,
        "code_verifier": VERIFIER,
        **changes,
    }
    answer = login.token("POST", content_type, form)
    return answer.status, json.loads(answer.body)


def test_s256_is_base64url_of_sha256_without_padding() -> None:
    # RFC 7636, appendix B.
    verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
    assert s256(verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    digest = hashlib.sha256(VERIFIER.encode()).digest()
    assert s256(VERIFIER) == base64.urlsafe_b64encode(digest).decode().rstrip("=")


def test_the_page_signs_in_and_the_code_is_exchanged_once(login: HostedLogin) -> None:
    page = _authorize(login)
    assert page.status == 200
    assert b'id="signin-email"' in page.body and b"the-state" in page.body
    code = _code(login)
    status, tokens = _exchange(login, code)
    assert status == 200
    assert tokens["id_token"] == "the-id-token"
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    # Single use: the same code again is refused as Cognito refuses it.
    assert _exchange(login, code) == (400, _grant_error("the code is unknown or was used"))


def _grant_error(description: str) -> dict[str, str]:
    return {"error": "invalid_grant", "error_description": description}


@pytest.mark.parametrize(
    ("changes", "description"),
    [
        ({"code_verifier": "w" * 43}, "the code_verifier does not match"),
        ({"code_verifier": "short"}, "the code_verifier does not match"),
        ({"code_verifier": ""}, "the code_verifier does not match"),
        (
            {"redirect_uri": "http://127.0.0.1:8080/console/other"},
            "the redirect_uri is not the code's",
        ),
    ],
)
def test_a_wrong_verifier_or_redirect_uri_is_invalid_grant_and_spends_the_code(
    login: HostedLogin, changes: dict[str, str], description: str
) -> None:
    code = _code(login)
    assert _exchange(login, code, **changes) == (400, _grant_error(description))
    # The code is gone: a guessing attacker gets one try.
    status, body = _exchange(login, code)
    assert (status, body["error"]) == (400, "invalid_grant")


def test_a_code_expires_after_five_minutes(login: HostedLogin, clock: Clock) -> None:
    code = _code(login)
    clock.now += 300
    assert _exchange(login, code) == (400, _grant_error("the code has expired (5 minutes)"))
    fresh = _code(login)
    clock.now += 299
    assert _exchange(login, fresh)[0] == 200


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
        ({"client_id": "another-client"}, "invalid_client"),
        ({"code": ""}, "invalid_request"),
        ({"code": "never-issued"}, "invalid_grant"),
        ({"content_type": "application/json"}, "invalid_request"),
    ],
)
def test_the_token_endpoint_refuses_other_requests(
    login: HostedLogin, changes: dict[str, str], error: str
) -> None:
    code = _code(login)
    status, body = _exchange(login, changes.pop("code", code), **changes)
    assert (status, body["error"]) == (400, error), body
    assert body["error_description"]


def test_a_wrong_password_shows_the_page_again_with_the_reason(login: HostedLogin) -> None:
    answer = _authorize(login, "POST", email="marketer@demo.linecrm.local", password="nope")
    assert answer.status == 401
    assert b"wrong email or password" in answer.body
    assert b'value="marketer@demo.linecrm.local"' in answer.body


def test_an_unknown_client_or_callback_is_never_redirected_to(login: HostedLogin) -> None:
    other = _authorize(login, client_id="another")
    assert other.status == 400 and b"invalid_client" in other.body
    elsewhere = _authorize(login, redirect_uri="https://evil.example/console/callback")
    assert elsewhere.status == 400 and b"redirect_mismatch" in elsewhere.body
    assert "Location" not in dict(elsewhere.headers)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"response_type": "token"}, "unsupported_response_type"),  # no implicit flow
        ({"code_challenge": ""}, "invalid_request"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"scope": "email"}, "invalid_scope"),
    ],
)
def test_the_code_flow_with_s256_only(
    login: HostedLogin, changes: dict[str, str], error: str
) -> None:
    answer = _authorize(login, **changes)
    assert answer.status == 302
    query = parse_qs(urlsplit(dict(answer.headers)["Location"]).query)
    assert query["error"] == [error]
    assert query["state"] == ["the-state"]


def test_logout_returns_to_the_consoles_sign_out_url_only(login: HostedLogin) -> None:
    home = "http://127.0.0.1:8080/console/"
    back = login.logout({"client_id": CLIENT, "logout_uri": home}, logout_uris={home})
    assert back.status == 302 and dict(back.headers)["Location"] == home
    away = login.logout(
        {"client_id": CLIENT, "logout_uri": "https://evil.example/"}, logout_uris={home}
    )
    assert away.status == 400
