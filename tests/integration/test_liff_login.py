"""LIFF login end to end on the local stack: gateway → liff_login → the emulator's JWKS.

ID tokens are minted by the emulator (its control API, as a LIFF page's
``liff.getIDToken()`` would get them from LINE) and verified offline against the keys
it publishes at ``/oauth2/v2.1/certs``: fetched once, refetched once when LINE (the
emulator) rotates its key, 503 when they cannot be read. Then the friend: found, or
created login-only, and the member id of a linked one. Every AWS call the function
makes is checked against its grants in the CDK template."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from examples.shop_link_client import ShopLinkClient
from linecrm.resources import Env
from linecrm_local.demo import (
    DEMO_CHANNEL_ID,
    DEMO_EVENT_SOURCE,
    DEMO_EVENT_SOURCE_KEY,
    DEMO_LOGIN_CHANNEL_ID,
)
from linecrm_local.emulator.login import IdTokenIssuer
from linecrm_local.stack import LocalStack
from tests.support.admin_http import READ, admin, eventually, follower

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

JWKS = "login_jwks"
STRANGER = "U" + "5" * 32


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    """The stack as deployed (JWKS verification), but an unknown kid may fetch the keys
    again at once (30 s on AWS), so a rotation is seen within one test."""
    with LocalStack(
        scheduler_tick_seconds=0.2,
        poll_interval_seconds=0.02,
        batching_window_seconds=0.05,
        visibility_timeout_seconds=1,
        settings={Env.JWKS_REFRESH_COOLDOWN_SECONDS: "0"},
    ) as local:
        # Before any webhook: the webhook function caches the channel's config.
        login_page = {"shop_login_url": "https://shop.example/"}
        assert admin(local, "PUT", "/account-link", login_page).ok
        yield local


def login(stack: LocalStack, body: Any) -> requests.Response:
    return requests.post(f"{stack.gateway_url}/liff/login", json=body, timeout=READ)


def id_token(stack: LocalStack, user_id: str, **extra: str) -> str:
    """Minted through the emulator's control API, as the LIFF SDK gets it from LINE."""
    response = requests.post(
        f"{stack.emulator_url}/_emulator/channels/{DEMO_CHANNEL_ID}/id-token",
        json={"userId": user_id, **extra},
        timeout=READ,
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["idToken"]
    return token


def jwks_fetches(stack: LocalStack) -> int:
    return len(stack.emulator.calls(JWKS))


def rejected(stack: LocalStack, body: dict[str, Any]) -> tuple[str, str]:
    response = login(stack, {"channelId": DEMO_CHANNEL_ID, **body})
    assert response.status_code == 401, response.text
    answer = response.json()
    assert answer["message"].startswith("invalid ID token: ")
    (error,) = answer["errors"]
    assert error["field"] == answer["field"]
    return answer["field"], error["type"]


def test_a_friend_logs_in_with_an_es256_token_from_the_emulator(stack: LocalStack) -> None:
    user_id = follower(stack, "ログイン")
    token = id_token(stack, user_id, nonce="nonce-1")
    assert jwt.get_unverified_header(token)["alg"] == "ES256"
    response = login(stack, {"channelId": DEMO_CHANNEL_ID, "idToken": token, "nonce": "nonce-1"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "userId": user_id,
        "displayName": "ログイン",
        "isFriend": True,
        "linked": False,
    }
    friend = admin(stack, "GET", f"/friends/{user_id}").json()
    assert friend["status"] == "active" and friend["last_login_at"]


def test_a_user_who_is_no_friend_is_recorded_login_only_until_they_follow(
    stack: LocalStack,
) -> None:
    token = id_token(stack, STRANGER, displayName="まだ友だちじゃない")
    response = login(stack, {"channelId": DEMO_CHANNEL_ID, "idToken": token})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "userId": STRANGER,
        "displayName": "まだ友だちじゃない",
        "isFriend": False,
        "linked": False,
    }
    friend = admin(stack, "GET", f"/friends/{STRANGER}").json()
    assert friend["status"] == "login_only"
    assert friend["first_followed_at"] is None
    listed = admin(stack, "GET", "/friends?status=login_only").json()["friends"]
    assert [f["user_id"] for f in listed] == [STRANGER]
    # A second login changes nothing but the time.
    again = login(stack, {"channelId": DEMO_CHANNEL_ID, "idToken": id_token(stack, STRANGER)})
    assert again.json()["displayName"] == "まだ友だちじゃない"

    # They follow: an active friend now, welcomed as on a first follow.
    stack.emulator.simulate_follow(DEMO_CHANNEL_ID, STRANGER, display_name="友だちになった")
    eventually(
        lambda: admin(stack, "GET", f"/friends/{STRANGER}").json()["status"] == "active",
        "the follow",
    )
    eventually(lambda: stack.emulator.inbox(STRANGER), "the welcome message")
    after = login(stack, {"channelId": DEMO_CHANNEL_ID, "idToken": id_token(stack, STRANGER)})
    assert after.json()["isFriend"] is True


def test_a_linked_friend_logs_in_with_its_member_id(stack: LocalStack) -> None:
    user_id = follower(stack, "連携済み")
    stack.emulator.simulate_postback(DEMO_CHANNEL_ID, user_id, "linecrm=1&account.link=1")

    def link_token() -> str | None:
        for message in stack.emulator.inbox(user_id):
            if message.message.get("type") == "template":
                uri = message.message["template"]["actions"][0]["uri"]
                return str(parse_qs(urlsplit(uri).query)["linkToken"][0])
        return None

    token = eventually(link_token, "the link button")
    shop = ShopLinkClient(
        stack.gateway_url,
        DEMO_CHANNEL_ID,
        source=DEMO_EVENT_SOURCE,
        key=DEMO_EVENT_SOURCE_KEY,
        account_link_url=f"{stack.emulator_url}/dialog/bot/accountLink",
        clock=lambda: stack.clock.now().timestamp(),
    )
    nonce = shop.request_nonce("M-2001", token)
    assert requests.get(shop.account_link_url(token, nonce.nonce), timeout=READ).ok
    eventually(
        lambda: admin(stack, "GET", f"/friends/{user_id}").json()["member_id"] == "M-2001",
        "the link",
    )
    response = login(stack, {"channelId": DEMO_CHANNEL_ID, "idToken": id_token(stack, user_id)})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "userId": user_id,
        "displayName": "連携済み",
        "isFriend": True,
        "linked": True,
        "memberId": "M-2001",
    }


def test_tokens_line_would_refuse_are_401_with_the_reason(stack: LocalStack) -> None:
    issuer = stack.emulator.issuer
    now = time.time()
    user = "U" + "6" * 32

    def minted(**overrides: Any) -> str:
        # The demo account's LIFF app is on its linked LINE Login channel (the aud).
        claims: dict[str, Any] = {"channel_id": DEMO_LOGIN_CHANNEL_ID, "user_id": user, "now": now}
        claims.update(overrides)
        return issuer.issue(**claims)

    good = minted(nonce="n-1")
    # Another channel's token (aud), an expired one, a wrong or missing nonce.
    assert rejected(stack, {"idToken": minted(channel_id="2000000999")}) == ("idToken", "aud")
    expired = minted(now=now - 7200)
    assert rejected(stack, {"idToken": expired}) == ("idToken", "expired")
    assert rejected(stack, {"idToken": good, "nonce": "n-2"}) == ("nonce", "nonce")
    assert rejected(stack, {"idToken": good}) == ("nonce", "nonce")
    # A changed payload, a key LINE never published, liff-mock's fixed token (off here).
    header, _payload, signature = good.split(".")
    claims = jwt.decode(good, options={"verify_signature": False})
    claims["sub"] = "U" + "7" * 32
    forged = jwt.encode(claims, "x" * 32, algorithm="HS256").split(".")[1]
    assert rejected(stack, {"idToken": f"{header}.{forged}.{signature}"}) == (
        "idToken",
        "signature",
    )
    stranger = IdTokenIssuer().issue(channel_id=DEMO_LOGIN_CHANNEL_ID, user_id=user, now=now)
    assert rejected(stack, {"idToken": stranger}) == ("idToken", "kid")
    assert rejected(stack, {"idToken": "id_token"}) == ("idToken", "malformed")
    assert rejected(stack, {"idToken": "forged.token.value"}) == ("idToken", "malformed")
    # None of them made a friend.
    for user_id in (user, "U" + "7" * 32):
        assert admin(stack, "GET", f"/friends/{user_id}").status_code == 404
    assert stack.gateway.internal_errors == 0


def test_web_login_hs256_tokens_verify_with_the_channel_secret(stack: LocalStack) -> None:
    user_id = follower(stack, "ウェブ")
    token = id_token(stack, user_id, alg="HS256")
    assert "kid" not in jwt.get_unverified_header(token)
    before = jwks_fetches(stack)
    response = login(stack, {"channelId": DEMO_CHANNEL_ID, "idToken": token})
    assert response.status_code == 200, response.text
    assert response.json()["userId"] == user_id
    assert jwks_fetches(stack) == before


def test_lines_keys_are_fetched_once_and_again_after_a_rotation(stack: LocalStack) -> None:
    user_id = follower(stack, "鍵")
    assert login(stack, {"channelId": DEMO_CHANNEL_ID, "idToken": id_token(stack, user_id)}).ok
    before = jwks_fetches(stack)
    for _ in range(5):
        token = id_token(stack, user_id)
        assert login(stack, {"channelId": DEMO_CHANNEL_ID, "idToken": token}).ok
    assert jwks_fetches(stack) == before  # cached

    old_token = id_token(stack, user_id)
    rotated = requests.post(f"{stack.emulator_url}/_emulator/login/rotate-key", timeout=READ)
    assert rotated.ok
    for _ in range(3):
        token = id_token(stack, user_id)
        assert jwt.get_unverified_header(token)["kid"] == rotated.json()["kid"]
        assert login(stack, {"channelId": DEMO_CHANNEL_ID, "idToken": token}).ok
    assert jwks_fetches(stack) == before + 1  # one refetch for the new kid
    assert login(stack, {"channelId": DEMO_CHANNEL_ID, "idToken": old_token}).ok


def test_keys_that_cannot_be_read_are_503_never_500(stack: LocalStack) -> None:
    user_id = follower(stack, "障害")
    stack.emulator.rotate_login_key()  # a kid the function has not seen: it must fetch
    stack.emulator.set_faults(JWKS, error_500=1)
    try:
        token = id_token(stack, user_id)
        response = login(stack, {"channelId": DEMO_CHANNEL_ID, "idToken": token})
        assert response.status_code == 503, response.text
        assert response.json() == {
            "message": "LINE Login unavailable; retry later",
            "field": None,
            "errors": [],
        }
    finally:
        stack.emulator.clear_faults()
    assert login(stack, {"channelId": DEMO_CHANNEL_ID, "idToken": token}).ok  # LINE is back
    assert stack.gateway.internal_errors == 0
