"""/liff/login under bad input: a 4xx in the admin API's error shape, never a 500."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from linecrm.config import SettingsError
from linecrm.domain.friends import FollowOutcome
from linecrm.domain.id_links import IdLink
from linecrm.repositories.dynamo import from_item, to_item
from linecrm.repositories.friends import FriendRepository, friend_key
from linecrm.repositories.id_links import IdLinkRepository
from linecrm.resources import Env
from tests.support.lambda_support import FakeLambdaContext, http_event, load_handler, response_json
from tests.unit.conftest import CHANNEL_ID, CHANNEL_SECRET, AwsWorld

USER = "U" + "f" * 32


def login(body: bytes | str, content_type: str = "application/json") -> tuple[int, Any]:
    handler = load_handler("liff_login")
    event = http_event(
        "POST",
        "/liff/login",
        route="/liff/login",
        body=body,
        headers={"content-type": content_type},
    )
    response = handler.lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], response_json(response)


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"channelId": "\xff\xfe", "idToken": "x"}', "not UTF-8"),
        (b"\x80" * 10, "not UTF-8"),
        ('{"a": ' * 1_000 + "1" + "}" * 1_000, "deeper than 64 levels"),
        ("[" * 100_000 + "]" * 100_000, "deeper than 64 levels"),
    ],
)
def test_unreadable_bodies_are_400_with_a_reason(body: bytes | str, reason: str) -> None:
    status, answer = login(body)

    assert status == 400, answer
    assert reason in answer["message"]
    assert answer["field"] == "body"


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize(
    ("body", "field"),
    [
        (json.dumps({"channelId": CHANNEL_ID}), "idToken"),
        ('{"idToken": "x"}', "channelId"),
        (json.dumps({"channelId": CHANNEL_ID, "idToken": ""}), "idToken"),
        ('"not an object"', "body"),
    ],
)
def test_invalid_requests_are_422_in_the_admin_api_error_shape(body: str, field: str) -> None:
    status, answer = login(body)

    assert status == 422, answer
    assert answer["field"] == field
    assert answer["message"].startswith(f"invalid request: {field}")
    assert "statusCode" not in answer and "detail" not in answer


@pytest.mark.usefixtures("aws")
def test_a_body_that_is_not_json_is_415() -> None:
    status, answer = login("channelId=1", content_type="text/plain")
    assert status == 415, answer
    assert answer["field"] == "body"


def test_an_unknown_channel_is_404_naming_the_field(aws: AwsWorld) -> None:
    status, answer = login('{"channelId": "404404404", "idToken": "x"}')
    assert status == 404, answer
    assert answer == {"message": "unknown channel", "field": "channelId", "errors": []}


@pytest.mark.usefixtures("aws")
def test_a_method_no_route_serves_is_404_in_the_error_shape() -> None:
    handler = load_handler("liff_login")
    # (GET /liff/<anything> is a LIFF page: see test_liff_pages.py.)
    event = http_event("DELETE", "/liff/login", route="/liff/login", headers={})
    response = handler.lambda_handler(event, FakeLambdaContext())
    assert response["statusCode"] == 404
    assert response_json(response) == {
        "message": "no such route: DELETE /liff/login",
        "field": None,
        "errors": [],
    }


# ---------------------------------------------------------------- verified logins
# The unit channel has no login_channel_id: its tokens are for the channel itself, and
# web-login (HS256) tokens are signed with its secret, so no JWKS (no network) is needed.
def web_login_token(user_id: str, **claims: Any) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": "https://access.line.me",
        "sub": user_id,
        "aud": CHANNEL_ID,
        "exp": now + 600,
        "iat": now,
        **claims,
    }
    return jwt.encode({k: v for k, v in payload.items() if v is not None}, CHANNEL_SECRET, "HS256")


def profile(aws: AwsWorld, user_id: str) -> dict[str, Any]:
    item = aws.client("dynamodb").get_item(
        TableName=aws.resources.table_names["Main"], Key=to_item(friend_key(CHANNEL_ID, user_id))
    )["Item"]
    return from_item(item)


def friends(aws: AwsWorld) -> FriendRepository:
    return FriendRepository(aws.client("dynamodb"), aws.resources.table_names["Main"])


def test_a_line_user_who_never_followed_gets_a_login_only_friend(aws: AwsWorld) -> None:
    user = "U" + "1" * 32
    status, answer = login(
        json.dumps({"channelId": CHANNEL_ID, "idToken": web_login_token(user, name="Hanako")})
    )
    assert status == 200, answer
    assert answer == {"userId": user, "displayName": "Hanako", "isFriend": False, "linked": False}
    stored = profile(aws, user)
    assert stored["status"] == "login_only"
    assert stored["display_name"] == "Hanako"
    assert "first_followed_at" not in stored and "last_followed_at" not in stored
    assert stored["last_login_at"]
    # Then they follow: a first follow (welcome, scenarios), not "already following".
    outcome = friends(aws).record_follow(CHANNEL_ID, user, datetime.now(UTC))
    assert outcome is FollowOutcome.FIRST_FOLLOW
    assert profile(aws, user)["status"] == "active"


def test_an_existing_friend_is_untouched_but_its_last_login(aws: AwsWorld) -> None:
    user = "U" + "2" * 32
    friends(aws).record_follow(CHANNEL_ID, user, datetime(2026, 1, 1, tzinfo=UTC))
    before = profile(aws, user)
    token = web_login_token(user, name="Another Name")
    status, answer = login(json.dumps({"channelId": CHANNEL_ID, "idToken": token}))
    assert status == 200, answer
    assert answer == {
        "userId": user,
        "displayName": "Another Name",  # the friend has no name stored: the token's
        "isFriend": True,
        "linked": False,
    }
    after = profile(aws, user)
    assert after.pop("last_login_at")
    assert after == before


def test_a_linked_friend_answers_with_its_member_id(aws: AwsWorld) -> None:
    user = "U" + "3" * 32
    repository = friends(aws)
    repository.record_follow(CHANNEL_ID, user, datetime.now(UTC))
    now = datetime.now(UTC)
    IdLinkRepository(aws.client("dynamodb"), aws.resources.table_names["Main"]).link(
        CHANNEL_ID, IdLink(member_id="M-42", user_id=user, linked_at=now, consented_at=now)
    )
    status, answer = login(json.dumps({"channelId": CHANNEL_ID, "idToken": web_login_token(user)}))
    assert status == 200, answer
    assert answer["linked"] is True and answer["memberId"] == "M-42"
    assert answer["isFriend"] is True


@pytest.mark.usefixtures("aws")
@pytest.mark.parametrize(
    ("claims", "nonce", "field", "kind"),
    [
        ({"aud": "1650000099"}, None, "idToken", "aud"),
        ({"exp": int(time.time()) - 3600}, None, "idToken", "expired"),
        ({"iss": "https://example.com"}, None, "idToken", "iss"),
        ({"nonce": "n-1"}, "n-2", "nonce", "nonce"),
        ({"nonce": "n-1"}, None, "nonce", "nonce"),
        ({}, "n-1", "nonce", "nonce"),
    ],
)
def test_rejected_tokens_are_401_with_the_reason(
    claims: dict[str, Any], nonce: str | None, field: str, kind: str
) -> None:
    body: dict[str, Any] = {"channelId": CHANNEL_ID, "idToken": web_login_token(USER, **claims)}
    if nonce is not None:
        body["nonce"] = nonce
    status, answer = login(json.dumps(body))
    assert status == 401, answer
    assert answer["field"] == field
    assert answer["message"].startswith("invalid ID token: ")
    assert [(e["field"], e["type"]) for e in answer["errors"]] == [(field, kind)]


def test_a_bad_signature_is_401_and_creates_no_friend(aws: AwsWorld) -> None:
    claims = {"iss": "https://access.line.me", "sub": USER, "aud": CHANNEL_ID, "exp": 2**40}
    forged = jwt.encode(claims, "f" * 32, "HS256")
    status, answer = login(json.dumps({"channelId": CHANNEL_ID, "idToken": forged}))
    assert status == 401, answer
    assert answer["errors"][0]["type"] == "signature"
    assert aws.main_items() == []


@pytest.mark.usefixtures("aws")
def test_lines_keys_unreachable_is_503_never_500(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(Env.LINE_LOGIN_BASE_URL, "http://127.0.0.1:9")  # nothing listens
    key = ec.generate_private_key(ec.SECP256R1())
    claims = {"iss": "https://access.line.me", "sub": USER, "aud": CHANNEL_ID, "exp": 2**40}
    token = jwt.encode(claims, key, "ES256", headers={"kid": "k1"})
    status, answer = login(json.dumps({"channelId": CHANNEL_ID, "idToken": token}))
    assert status == 503, answer
    assert answer == {"message": "LINE Login unavailable; retry later", "field": None, "errors": []}


@pytest.mark.usefixtures("aws")
def test_liff_mock_tokens_work_only_when_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    body = json.dumps({"channelId": CHANNEL_ID, "idToken": "id_token"})
    assert login(body)[0] == 401
    monkeypatch.setenv(
        Env.LIFF_MOCK_ID_TOKENS, json.dumps({"id_token": {"userId": USER, "displayName": "Brown"}})
    )
    status, answer = login(body)
    assert status == 200, answer
    assert (answer["userId"], answer["displayName"]) == (USER, "Brown")


@pytest.mark.usefixtures("aws")
def test_the_verify_endpoint_mode_is_a_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(Env.ID_TOKEN_VERIFICATION, "verify_endpoint")
    monkeypatch.setenv(Env.LINE_LOGIN_BASE_URL, "http://127.0.0.1:9")  # LINE unreachable
    body = json.dumps({"channelId": CHANNEL_ID, "idToken": web_login_token(USER)})
    assert login(body)[0] == 503
    monkeypatch.setenv(Env.ID_TOKEN_VERIFICATION, "trust_me")
    with pytest.raises(SettingsError, match=Env.ID_TOKEN_VERIFICATION):
        login(body)
