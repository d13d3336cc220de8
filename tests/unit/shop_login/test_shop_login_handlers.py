"""Auto-login through the functions (moto): /liff/shop-login mints for a linked friend,
the shop verifies with GET /login/jwks.json and consumes once with a signed request.
Every refusal is a 4xx with a reason, never a 500."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from linecrm import resources
from linecrm.domain.id_links import IdLink
from linecrm.domain.visitor_ids import verify_visitor_id
from linecrm.events.signature import compute_signature
from linecrm.line.login import IdTokenRejected, VerifiedIdToken
from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm.repositories.id_links import IdLinkRepository
from linecrm.shop_login.keys import PUBLISH_DELAY, LoginKeySet
from linecrm.shop_login.tokens import mint_login_token
from tests.support.lambda_support import FakeLambdaContext, http_event, load_handler, response_json
from tests.unit.conftest import CHANNEL_ID, AwsWorld
from tests.unit.events.test_events_handler import FRIEND, KEY, SOURCE, events_world  # noqa: F401

SHOP = {"base_url": "https://shop.example", "allow": ["/mypage", "/cart/"]}
_last_timestamp = [0]


def _fresh_timestamp() -> str:
    """A timestamp no request used before (identical bytes in one second are a replay)."""
    _last_timestamp[0] = max(int(time.time()), _last_timestamp[0] + 1)
    return str(_last_timestamp[0])


@pytest.fixture
def world(events_world: AwsWorld) -> AwsWorld:  # noqa: F811 - the imported fixture
    table = events_world.resources.table_names["Main"]
    dynamodb = events_world.client("dynamodb")
    now = datetime.now(UTC)
    IdLinkRepository(dynamodb, table).link(CHANNEL_ID, IdLink("M-1", FRIEND, now, now))
    ChannelConfigRepository(dynamodb, table).set_setting(CHANNEL_ID, "shop_login", SHOP)
    return events_world


class Liff:
    """The liff_login function, its ID-token check replaced (it calls LINE)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.handler = load_handler("liff_login")

        def verified(channel_id: str, id_token: str, nonce: str | None) -> VerifiedIdToken:
            if not id_token.startswith("ok:"):
                raise IdTokenRejected("signature", "Invalid IdToken.")
            return VerifiedIdToken(sub=id_token[3:], aud=channel_id, exp=int(time.time()) + 60)

        monkeypatch.setattr(self.handler, "verified_id_token", verified)

    def mint(self, body: Any) -> tuple[int, Any, dict[str, str]]:
        event = http_event(
            "POST",
            "/liff/shop-login",
            route="/liff/shop-login",
            body=body if isinstance(body, str) else json.dumps(body),
            headers={"content-type": "application/json"},
        )
        response = self.handler.lambda_handler(event, FakeLambdaContext())
        return response["statusCode"], response_json(response), response.get("headers", {})


@pytest.fixture
def liff(world: AwsWorld, monkeypatch: pytest.MonkeyPatch) -> Liff:
    return Liff(monkeypatch)


def consume(body: Any, *, key: str = KEY, channel_id: str = CHANNEL_ID) -> tuple[int, Any]:
    raw = (body if isinstance(body, str) else json.dumps(body)).encode()
    timestamp = _fresh_timestamp()
    event = http_event(
        "POST",
        f"/login/{channel_id}/consume",
        route="/login/{channel_id}/consume",
        body=raw,
        headers={
            "content-type": "application/json",
            "x-linecrm-source": SOURCE,
            "x-linecrm-timestamp": timestamp,
            "x-linecrm-signature": compute_signature(key, timestamp, raw),
        },
        path_parameters={"channel_id": channel_id},
    )
    response = load_handler("events").lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], response_json(response)


def jwks() -> tuple[int, Any, dict[str, str]]:
    event = http_event("GET", "/login/jwks.json", route="/login/jwks.json", headers={})
    response = load_handler("events").lambda_handler(event, FakeLambdaContext())
    return response["statusCode"], response_json(response), response.get("headers", {})


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def minted(liff: Liff, target: str = "/mypage") -> str:
    status, answer, _ = liff.mint(
        {"channelId": CHANNEL_ID, "idToken": f"ok:{FRIEND}", "target": target}
    )
    assert status == 200, answer
    return token_of(answer["url"])


def test_a_linked_friend_gets_a_login_url_the_shop_verifies_and_consumes_once(
    liff: Liff, world: AwsWorld
) -> None:
    status, answer, headers = liff.mint(
        {"channelId": CHANNEL_ID, "idToken": f"ok:{FRIEND}", "target": "/cart/a?x=1"}
    )
    assert status == 200, answer
    assert headers.get("Cache-Control") == "no-store"
    assert answer["url"].startswith("https://shop.example/auto-login?token=")
    expires = datetime.fromisoformat(answer["expiresAt"])
    assert timedelta(seconds=100) < expires - datetime.now(UTC) <= timedelta(seconds=121)

    # Offline, with the published keys.
    status, keys, jwks_headers = jwks()
    assert status == 200 and "max-age=60" in jwks_headers["Cache-Control"]
    assert all("d" not in key for key in keys["keys"])
    token = token_of(answer["url"])
    signing_key = jwt.PyJWKSet.from_dict(keys)[jwt.get_unverified_header(token)["kid"]]
    claims = jwt.decode(
        token, signing_key.key, algorithms=["ES256"], audience=CHANNEL_ID, issuer="linecrm"
    )
    assert (claims["sub"], claims["target"]) == ("M-1", "/cart/a?x=1")

    status, spent = consume({"token": token})
    assert status == 200, spent
    visitor_id = spent.pop("visitor_id")
    assert spent == {
        "member_id": "M-1",
        "target": "/cart/a?x=1",
        "expires_at": claims_expiry(claims),
    }
    # The web tag's visitor id of the friend (docs/web-tag.md), opaque: no user id in it.
    assert FRIEND not in visitor_id and FRIEND[1:] not in visitor_id
    secret = world.client("secretsmanager").get_secret_value(
        SecretId=resources.VISITOR_KEY_SECRET_NAME
    )
    key = json.loads(secret["SecretString"])["current"].encode()
    verified = verify_visitor_id(key, visitor_id, datetime.now(UTC))
    assert verified is not None
    assert (verified.channel_id, verified.user_id) == (CHANNEL_ID, FRIEND)
    status, again = consume({"token": token})
    assert status == 409 and "replayed" in again["message"], again


def claims_expiry(claims: dict[str, Any]) -> str:
    return datetime.fromtimestamp(claims["exp"], UTC).isoformat(timespec="seconds")


@pytest.mark.parametrize(
    ("body", "status", "field", "words"),
    [
        ({"channelId": CHANNEL_ID, "idToken": "bad", "target": "/mypage"}, 401, "idToken", ""),
        (
            {"channelId": CHANNEL_ID, "idToken": f"ok:{FRIEND}", "target": "/admin"},
            422,
            "target",
            "allow-list",
        ),
        (
            {"channelId": CHANNEL_ID, "idToken": f"ok:{FRIEND}", "target": "//evil.example/"},
            422,
            "target",
            "//",
        ),
        (
            {"channelId": CHANNEL_ID, "idToken": f"ok:{FRIEND}", "target": "https://evil/"},
            422,
            "target",
            "",
        ),
        (
            {"channelId": CHANNEL_ID, "idToken": "ok:U" + "0" * 32, "target": "/mypage"},
            409,
            "idToken",
            "not linked",
        ),
        ({"channelId": CHANNEL_ID, "idToken": f"ok:{FRIEND}"}, 422, "target", ""),
        # (The ID-token check, replaced here, answers 404 for an unknown channel.)
        (
            {"channelId": "2000000009", "idToken": f"ok:{FRIEND}", "target": "/mypage"},
            409,
            "channelId",
            "not set up",
        ),
        ('{"a": ' * 1000 + "1" + "}" * 1000, 400, "body", ""),
    ],
)
def test_minting_refusals_are_4xx_with_a_reason(
    liff: Liff, body: Any, status: int, field: str, words: str
) -> None:
    got, answer, _ = liff.mint(body)
    assert got == status, answer
    assert answer["field"] == field and words in answer["message"], answer


def test_no_setting_no_login(liff: Liff, world: AwsWorld) -> None:
    config = ChannelConfigRepository(world.client("dynamodb"), world.resources.table_names["Main"])
    config.set_setting(CHANNEL_ID, "shop_login", None)
    status, answer, _ = liff.mint(
        {"channelId": CHANNEL_ID, "idToken": f"ok:{FRIEND}", "target": "/mypage"}
    )
    assert status == 409 and "not set up" in answer["message"], answer


def _stored_keys(world: AwsWorld) -> LoginKeySet:
    raw = world.client("secretsmanager").get_secret_value(
        SecretId=resources.LOGIN_KEYS_SECRET_NAME
    )["SecretString"]
    return LoginKeySet.model_validate_json(raw)


def test_consume_refuses_what_it_cannot_trust(liff: Liff, world: AwsWorld) -> None:
    token = minted(liff)
    header, payload, signature = token.split(".")
    assert consume({"token": f"{header}.{payload}.{signature[:-4]}AAAA"})[0] == 401
    status, answer = consume({"token": token}, channel_id=CHANNEL_ID, key="w" * 40)
    assert status == 401 and "signature" in answer["message"]  # the request's signature
    status, answer = consume({"token": "not-a-jwt"})
    assert (status, answer["field"]) == (401, "token")
    assert consume({"token": 5})[0] == 422
    assert consume({"token": token, "extra": 1})[0] == 422
    assert consume("[1,")[0] == 400

    keys = _stored_keys(world)
    now = datetime.now(UTC)
    expired = mint_login_token(
        keys, now - timedelta(minutes=3), channel_id=CHANNEL_ID, member_id="M-1", target="/mypage"
    ).token
    status, answer = consume({"token": expired})
    assert status == 401 and "expired" in answer["message"]
    other_channel = mint_login_token(
        keys, now, channel_id="2000000009", member_id="M-1", target="/mypage"
    ).token
    status, answer = consume({"token": other_channel})
    assert status == 401 and "another channel" in answer["message"]
    # Signed by us, but for a target the allow-list does not have (any more).
    off_list = mint_login_token(
        keys, now, channel_id=CHANNEL_ID, member_id="M-1", target="/admin"
    ).token
    status, answer = consume({"token": off_list})
    assert status == 403 and "allow-list" in answer["message"]
    # A member that is not (or no longer) linked.
    stranger = mint_login_token(
        keys, now, channel_id=CHANNEL_ID, member_id="M-9", target="/mypage"
    ).token
    assert consume({"token": stranger})[0] == 409
    # The untouched token still works: nothing above spent it.
    assert consume({"token": token})[0] == 200


def test_rotation_through_the_admin_api_keeps_old_urls_valid(liff: Liff, world: AwsWorld) -> None:
    from tests.unit.admin.conftest import AdminApi

    old = minted(liff)
    admin = AdminApi(load_handler("admin"), world)
    before = admin.call("GET", "/admin/login-keys")
    assert before.status == 200, before.body
    rotated = admin.call("POST", "/admin/login-keys/rotate")
    assert rotated.status == 200, rotated.body
    assert rotated.body["active_kid"] != before.body["active_kid"]
    assert rotated.body["signing_kid"] == before.body["active_kid"]  # not published yet
    assert "PRIVATE" not in json.dumps(rotated.body)
    assert len(jwks()[1]["keys"]) == 2
    assert consume({"token": old})[0] == 200

    # Once published, the new key signs; a fresh container (cache) verifies it.
    keys = _stored_keys(world)
    later = datetime.now(UTC) + PUBLISH_DELAY
    assert keys.signing_key(later).kid == rotated.body["active_kid"]
    new = mint_login_token(
        keys, later - timedelta(seconds=1), channel_id=CHANNEL_ID, member_id="M-1", target="/mypage"
    )
    assert new.claims.kid == before.body["active_kid"]  # one second short of it


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"base_url": "http://shop.example", "allow": ["/mypage"]}, "base_url"),
        ({"base_url": "https://shop.example", "allow": ["//evil"]}, "allow"),
        ({"base_url": "https://shop.example", "allow": ["/a/../b"]}, "allow"),
        ({"base_url": "https://shop.example", "allow": []}, "allow"),
        ({"base_url": "https://shop.example", "allow": ["/a"], "x": 1}, "x"),
        ({"base_url": "https://shop.example"}, "allow"),
    ],
)
def test_the_admin_setting_refuses_bad_input_naming_the_field(
    world: AwsWorld, body: dict[str, Any], field: str
) -> None:
    from tests.unit.admin.conftest import AdminApi, assert_error

    admin = AdminApi(load_handler("admin"), world)
    answer = admin.call("PUT", "/shop-login", body)
    assert_error(answer, 422)
    assert answer.body["field"].startswith(field), answer.body


def test_the_admin_setting_round_trips(world: AwsWorld) -> None:
    from tests.unit.admin.conftest import AdminApi

    admin = AdminApi(load_handler("admin"), world)
    assert admin.call("GET", "/shop-login").body == {**SHOP, "login_path": "/auto-login"}
    stored = admin.call(
        "PUT", "/shop-login", {"base_url": "https://shop.example/", "allow": ["/a", "/a"]}
    )
    assert stored.body == {
        "base_url": "https://shop.example",
        "login_path": "/auto-login",
        "allow": ["/a"],
    }
    assert admin.call("DELETE", "/shop-login").status == 204
    assert admin.call("GET", "/shop-login").status == 404
