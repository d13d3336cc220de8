"""Auto-login into the shop end to end on the local stack: a friend links their
membership (the account-link path of test_id_linking), the LIFF page mints a login URL
with the friend's ID token (the emulator's LINE Login), the shop verifies it offline
with the published JWKS (PyJWT) and consumes it once; a second consume, a tampered or
expired token, another channel's and an off-list target are refused. Every AWS call is
checked against the function's grants in the CDK template."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from examples.shop_link_client import LinkApiError
from examples.shop_login_client import LoginRefused, ShopLoginClient
from linecrm_local import cli
from linecrm_local.demo import DEMO_CHANNEL_ID, DEMO_EVENT_SOURCE, DEMO_EVENT_SOURCE_KEY
from linecrm_local.stack import LocalStack
from tests.integration.test_id_linking import (
    LOGIN_URL,
    READ,
    admin,
    eventually,
    follower,
    link_of,
    shop,
    tap_link_button,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

SHOP_LOGIN = {"base_url": "https://shop.example", "allow": ["/mypage", "/cart/"]}


@pytest.fixture(scope="module")
def stack(local_stack: LocalStack) -> LocalStack:
    assert admin(local_stack, "PUT", "/account-link", {"shop_login_url": LOGIN_URL}).ok
    answer = admin(local_stack, "PUT", "/shop-login", SHOP_LOGIN)
    assert answer.status_code == 200, answer.text
    return local_stack


def login_client(stack: LocalStack) -> ShopLoginClient:
    return ShopLoginClient(
        stack.gateway_url,
        DEMO_CHANNEL_ID,
        source=DEMO_EVENT_SOURCE,
        key=DEMO_EVENT_SOURCE_KEY,
        clock=lambda: stack.clock.now().timestamp(),
    )


def linked_friend(stack: LocalStack, name: str, member_id: str) -> str:
    user_id = follower(stack, name)
    token = tap_link_button(stack, user_id)
    nonce = shop(stack).request_nonce(member_id, token)
    assert requests.get(shop(stack).account_link_url(token, nonce.nonce), timeout=READ).ok
    eventually(lambda: link_of(stack, user_id), "the link")
    return user_id


def mint(stack: LocalStack, user_id: str, target: str, **extra: Any) -> requests.Response:
    id_token = stack.emulator.issue_id_token(DEMO_CHANNEL_ID, user_id)
    body = {"channelId": DEMO_CHANNEL_ID, "idToken": id_token, "target": target, **extra}
    return requests.post(f"{stack.gateway_url}/liff/shop-login", json=body, timeout=READ)


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def test_a_linked_friend_logs_into_the_shop_once(stack: LocalStack) -> None:
    user_id = linked_friend(stack, "ログインする人", "M-5005")
    answer = mint(stack, user_id, "/cart/items/42")
    assert answer.status_code == 200, answer.text
    url = answer.json()["url"]
    assert url.startswith("https://shop.example/auto-login?token=")
    token = token_of(url)

    # The shop, offline: the published JWKS and PyJWT, nothing else.
    jwks = requests.get(f"{stack.gateway_url}/login/jwks.json", timeout=READ)
    assert jwks.status_code == 200 and "max-age" in jwks.headers["Cache-Control"]
    kid = jwt.get_unverified_header(token)["kid"]
    public = jwt.PyJWKSet.from_dict(jwks.json())[kid].key
    claims = jwt.decode(
        token,
        public,
        algorithms=["ES256"],
        audience=DEMO_CHANNEL_ID,
        issuer="linecrm",
        options={"verify_exp": False},  # the stack's clock, checked below
    )
    assert (claims["sub"], claims["target"]) == ("M-5005", "/cart/items/42")
    assert 0 < claims["exp"] - stack.clock.now().timestamp() <= 120
    client = login_client(stack)
    assert client.verify_offline(token).member_id == "M-5005"

    # Consumed once; the second time is a replay.
    login = client.consume(token)
    assert (login.member_id, login.target) == ("M-5005", "/cart/items/42")
    # (A second later: the same request bytes in the same second are refused before
    # the token is even read, as a replayed request.)
    stack.clock.advance(timedelta(seconds=1))
    with pytest.raises(LinkApiError) as replay:
        client.consume(token)
    assert replay.value.status == 409 and "replayed" in replay.value.message
    assert stack.gateway.internal_errors == 0


def test_what_cannot_be_trusted_is_refused(stack: LocalStack) -> None:
    user_id = linked_friend(stack, "疑わしい人", "M-6006")
    client = login_client(stack)

    # Minting: off the allow-list (no open redirect), a friend without a link.
    for target in ("/admin", "//evil.example/mypage", "https://evil.example/"):
        refused = mint(stack, user_id, target)
        assert refused.status_code == 422 and refused.json()["field"] == "target", target
    stranger = follower(stack, "連携していない人")
    refused = mint(stack, stranger, "/mypage")
    assert refused.status_code == 409 and "not linked" in refused.json()["message"]
    forged = requests.post(
        f"{stack.gateway_url}/liff/shop-login",
        json={"channelId": DEMO_CHANNEL_ID, "idToken": "forged.token.x", "target": "/mypage"},
        timeout=READ,
    )
    assert forged.status_code == 401
    unknown = requests.post(
        f"{stack.gateway_url}/liff/shop-login",
        json={"channelId": "404404404", "idToken": "x", "target": "/mypage"},
        timeout=READ,
    )
    assert unknown.status_code == 404 and unknown.json()["field"] == "channelId"

    # Consuming: tampered payload, tampered signature, expired.
    token = token_of(mint(stack, user_id, "/mypage").json()["url"])
    header, payload, signature = token.split(".")
    claims = json.loads(jwt.utils.base64url_decode(payload))
    claims["sub"] = "M-0000"
    tampered = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    for bad in (f"{header}.{tampered}.{signature}", f"{header}.{payload}.{signature[::-1]}"):
        with pytest.raises(LinkApiError) as refused_token:
            client.consume(bad)
        assert refused_token.value.status == 401, bad
        with pytest.raises(LoginRefused):
            client.verify_offline(bad)
    stack.clock.advance(timedelta(minutes=3))
    with pytest.raises(LinkApiError) as expired:
        client.consume(token)
    assert expired.value.status == 401 and "expired" in expired.value.message
    with pytest.raises(LoginRefused, match="expired"):
        client.verify_offline(token)


def test_rotated_keys_keep_old_urls_valid(stack: LocalStack) -> None:
    user_id = linked_friend(stack, "鍵を回す人", "M-7007")
    token = token_of(mint(stack, user_id, "/mypage").json()["url"])
    bearer = {"Authorization": f"Bearer {stack.admin_token}"}
    keys_url = f"{stack.gateway_url}/admin/login-keys"
    before = requests.get(keys_url, headers=bearer, timeout=READ).json()
    rotated = requests.post(f"{keys_url}/rotate", headers=bearer, timeout=READ)
    assert rotated.status_code == 200, rotated.text
    listing = rotated.json()
    assert listing["active_kid"] != before["active_kid"]
    assert "PRIVATE" not in rotated.text
    assert {key["kid"] for key in listing["keys"]} >= {before["active_kid"]}
    # The new key signs once every cached copy has it (two minutes); until then the old
    # one does, and the JWKS (cached up to a minute per container) keeps it anyway.
    assert listing["signing_kid"] == before["active_kid"]
    jwks = requests.get(f"{stack.gateway_url}/login/jwks.json", timeout=READ).json()
    assert before["active_kid"] in {key["kid"] for key in jwks["keys"]}
    fresh = token_of(mint(stack, user_id, "/mypage").json()["url"])
    assert jwt.get_unverified_header(fresh)["kid"] == before["active_kid"]
    assert login_client(stack).consume(token).member_id == "M-7007"


def test_the_cli_configures_mints_and_consumes(
    stack: LocalStack, capsys: pytest.CaptureFixture[str]
) -> None:
    def linecrm(*argv: str, status: int = 0) -> Any:
        common = ["--emulator", stack.emulator_url, "--channel", DEMO_CHANNEL_ID]
        got = cli.main([*common, *argv[:2], "--api-url", stack.gateway_url, *argv[2:]])
        captured = capsys.readouterr()
        assert got == status, captured
        return json.loads(captured.out) if status == 0 else captured.err

    configured = linecrm(
        "shoplogin",
        "configure",
        "--base-url",
        "https://shop.example",
        "--allow",
        "/mypage",
        "--allow",
        "/cart/",
    )
    assert configured["allow"] == ["/mypage", "/cart/"]
    assert linecrm("shoplogin", "show")["base_url"] == "https://shop.example"
    assert linecrm("shoplogin", "keys")["active_kid"]
    user_id = linked_friend(stack, "CLIでログイン", "M-8008")
    url = linecrm("shoplogin", "mint", "--user", user_id, "--target", "/mypage")["url"]
    consumed = linecrm("shoplogin", "consume", token_of(url))
    assert consumed["member_id"] == "M-8008"
    time.sleep(1.1)  # the CLI signs with real time: a new second, a new request
    err = linecrm("shoplogin", "consume", token_of(url), status=2)
    assert err.count("\n") == 1 and "409" in err and "replayed" in err
    err = linecrm(
        "shoplogin", "configure", "--base-url", "http://shop.example", "--allow", "/x", status=2
    )
    assert err.count("\n") == 1 and "https" in err
