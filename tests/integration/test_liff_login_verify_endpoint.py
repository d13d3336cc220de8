"""LIFF login on a local stack that verifies ID tokens through LINE's verify endpoint
(``LINECRM_ID_TOKEN_VERIFICATION=verify_endpoint``) and has the liff-mock test tokens
turned on (``LINECRM_LIFF_MOCK_ID_TOKENS``, local only): the emulator's
``/oauth2/v2.1/verify`` answers for each token, its refusals are 401 with LINE's
reason, its outages 503; the fixed liff-mock token stands for its mock user."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from linecrm.resources import Env
from linecrm_local.demo import DEMO_ADMIN_TOKEN, DEMO_CHANNEL_ID
from linecrm_local.stack import LocalStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

ADMIN = {"Authorization": f"Bearer {DEMO_ADMIN_TOKEN}"}
READ = (10, 120)
MOCK_USER = "U" + "8" * 32


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    mock = {"id_token": {"userId": MOCK_USER, "displayName": "Brown"}}
    with LocalStack(
        visibility_timeout_seconds=1,
        settings={
            Env.ID_TOKEN_VERIFICATION: "verify_endpoint",
            Env.LIFF_MOCK_ID_TOKENS: json.dumps(mock),
        },
    ) as local:
        yield local


def login(stack: LocalStack, body: dict[str, Any]) -> requests.Response:
    return requests.post(
        f"{stack.gateway_url}/liff/login",
        json={"channelId": DEMO_CHANNEL_ID, **body},
        timeout=READ,
    )


def rejected(stack: LocalStack, body: dict[str, Any]) -> tuple[str, str, str]:
    response = login(stack, body)
    assert response.status_code == 401, response.text
    answer = response.json()
    (error,) = answer["errors"]
    return answer["field"], error["type"], answer["message"]


def test_tokens_are_verified_by_lines_endpoint(stack: LocalStack) -> None:
    user_id = stack.emulator.simulate_follow(DEMO_CHANNEL_ID, display_name="確認").user_id
    token = stack.emulator.issue_id_token(DEMO_CHANNEL_ID, user_id, nonce="n-1")
    before = len(stack.emulator.calls("login_verify"))
    response = login(stack, {"idToken": token, "nonce": "n-1"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "userId": user_id,
        "displayName": "確認",
        "isFriend": True,
        "linked": False,
    }
    assert len(stack.emulator.calls("login_verify")) == before + 1
    assert stack.emulator.calls("login_jwks") == []  # no keys needed in this mode


def test_lines_refusals_are_401_with_its_reason(stack: LocalStack) -> None:
    issuer = stack.emulator.issuer
    now = time.time()
    user = "U" + "9" * 32
    other = issuer.issue(channel_id="2000000999", user_id=user, now=now)
    assert rejected(stack, {"idToken": other})[:2] == ("idToken", "aud")
    expired = issuer.issue(channel_id=DEMO_CHANNEL_ID, user_id=user, now=now - 7200)
    field, kind, message = rejected(stack, {"idToken": expired})
    assert (field, kind) == ("idToken", "expired")
    assert "IdToken expired." in message  # LINE's own words
    with_nonce = issuer.issue(channel_id=DEMO_CHANNEL_ID, user_id=user, now=now, nonce="n-1")
    assert rejected(stack, {"idToken": with_nonce, "nonce": "n-2"})[:2] == ("nonce", "nonce")
    # LINE checks no nonce it is not sent; we refuse a token bound to one sent without it.
    assert rejected(stack, {"idToken": with_nonce})[:2] == ("nonce", "nonce")
    assert rejected(stack, {"idToken": with_nonce + "x"})[0] == "idToken"
    assert stack.gateway.internal_errors == 0


def test_an_outage_of_the_verify_endpoint_is_503(stack: LocalStack) -> None:
    token = stack.emulator.issue_id_token(DEMO_CHANNEL_ID, "U" + "a" * 32)
    stack.emulator.set_faults("login_verify", error_500=1)
    try:
        response = login(stack, {"idToken": token})
    finally:
        stack.emulator.clear_faults()
    assert response.status_code == 503, response.text
    assert login(stack, {"idToken": token}).status_code == 200


def test_the_liff_mock_token_stands_for_its_mock_user(stack: LocalStack) -> None:
    response = login(stack, {"idToken": "id_token"})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "userId": MOCK_USER,
        "displayName": "Brown",
        "isFriend": False,
        "linked": False,
    }
    friend = requests.get(
        f"{stack.gateway_url}/admin/channels/{DEMO_CHANNEL_ID}/friends/{MOCK_USER}",
        headers=ADMIN,
        timeout=READ,
    ).json()
    assert friend["status"] == "login_only"
    # It carries no nonce; any other string is still LINE's to verify (and refuse).
    assert rejected(stack, {"idToken": "id_token", "nonce": "n-1"})[:2] == ("nonce", "nonce")
    assert rejected(stack, {"idToken": "another_mock_token"})[0] == "idToken"
