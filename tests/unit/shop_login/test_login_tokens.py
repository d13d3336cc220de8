"""Login tokens and their keys: minted for a member and a target, verified offline with
the public keys, and refused when replayed, tampered with, expired, for another channel,
off the allow-list or signed by a key nobody knows. Rotation keeps old URLs valid."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from linecrm.domain.shop_login import ShopLoginSettings, TargetRefused
from linecrm.shop_login.errors import NoSigningKey
from linecrm.shop_login.keys import (
    MAX_KEYS,
    PUBLISH_DELAY,
    RETIRED_KEY_KEPT,
    LoginKey,
    LoginKeySet,
    RotationRefused,
)
from linecrm.shop_login.tokens import (
    ISSUER,
    TokenRejected,
    mint_login_token,
    verify_login_token,
)

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
CHANNEL = "2000000001"
SHOP = ShopLoginSettings(base_url="https://shop.example", allow=["/mypage", "/cart/"])


@pytest.fixture(scope="module")
def keys() -> LoginKeySet:
    return LoginKeySet().rotated(NOW - timedelta(days=1))


def mint(keys: LoginKeySet, target: str = "/mypage", now: datetime = NOW) -> str:
    return mint_login_token(keys, now, channel_id=CHANNEL, member_id="M-1", target=target).token


def verify(keys: LoginKeySet, token: str, now: datetime = NOW, channel: str = CHANNEL) -> str:
    return verify_login_token(token, channel, now, keys.key).member_id


def test_a_token_carries_who_where_and_for_how_long(keys: LoginKeySet) -> None:
    minted = mint_login_token(keys, NOW, channel_id=CHANNEL, member_id="M-1", target="/cart/a")
    header = jwt.get_unverified_header(minted.token)
    assert header["alg"] == "ES256" and header["kid"] == keys.active_kid
    claims = jwt.decode(minted.token, options={"verify_signature": False})
    assert claims["iss"] == ISSUER == "linecrm"
    assert (claims["aud"], claims["sub"], claims["target"]) == (CHANNEL, "M-1", "/cart/a")
    assert claims["exp"] - claims["iat"] == 120
    assert len(base64.urlsafe_b64decode(claims["jti"] + "==")) * 8 >= 128
    assert minted.claims.expires_at == NOW + timedelta(seconds=120)
    other = mint_login_token(keys, NOW, channel_id=CHANNEL, member_id="M-1", target="/cart/a")
    assert other.claims.jti != minted.claims.jti


def test_the_shop_verifies_offline_with_the_published_jwks(keys: LoginKeySet) -> None:
    token = mint(keys)
    jwk = next(
        k for k in keys.jwks()["keys"] if k["kid"] == jwt.get_unverified_header(token)["kid"]
    )
    assert set(jwk) == {"kty", "crv", "x", "y", "kid", "use", "alg"}  # no private "d"
    public = jwt.PyJWK(jwk).key
    # As the shop would (its own clock: the token was minted "now" in the test's past).
    claims = jwt.decode(
        token,
        public,
        algorithms=["ES256"],
        audience=CHANNEL,
        issuer="linecrm",
        options={"verify_exp": False},
    )
    assert claims["sub"] == "M-1"


def test_ours_verifies_and_answers_the_member(keys: LoginKeySet) -> None:
    assert verify(keys, mint(keys)) == "M-1"


def test_an_expired_token_is_refused(keys: LoginKeySet) -> None:
    token = mint(keys)
    assert verify(keys, token, NOW + timedelta(seconds=119)) == "M-1"
    with pytest.raises(TokenRejected, match="expired"):
        verify(keys, token, NOW + timedelta(seconds=120))


def test_a_token_for_another_channel_is_refused(keys: LoginKeySet) -> None:
    with pytest.raises(TokenRejected, match="another channel"):
        verify(keys, mint(keys), channel="2000000002")


def _tampered_payload(token: str, **changes: object) -> str:
    header, payload, signature = token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    claims.update(changes)
    raw = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{raw}.{signature}"


@pytest.mark.parametrize(
    "changes", [{"sub": "M-2"}, {"target": "/admin"}, {"exp": 9_999_999_999}, {"aud": "x"}]
)
def test_a_tampered_payload_is_refused(keys: LoginKeySet, changes: dict[str, object]) -> None:
    with pytest.raises(TokenRejected, match="bad signature"):
        verify(keys, _tampered_payload(mint(keys), **changes))


def test_a_tampered_signature_is_refused(keys: LoginKeySet) -> None:
    header, payload, signature = mint(keys).split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "=="))
    raw[5] ^= 0x01
    forged = base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(TokenRejected, match="bad signature"):
        verify(keys, f"{header}.{payload}.{forged}")


def test_a_token_signed_by_another_key_with_our_kid_is_refused(keys: LoginKeySet) -> None:
    stranger = LoginKeySet().rotated(NOW - timedelta(days=1))
    key = stranger.keys[0]
    impostor = LoginKeySet(
        active_kid=keys.active_kid,
        keys=[
            LoginKey(
                kid=str(keys.active_kid),
                created_at=key.created_at,
                private_key_pem=key.private_key_pem,
            )
        ],
    )
    with pytest.raises(TokenRejected, match="bad signature"):
        verify(keys, mint(impostor))


def test_an_unknown_kid_or_another_algorithm_is_refused(keys: LoginKeySet) -> None:
    stranger = LoginKeySet().rotated(NOW - timedelta(days=1))
    with pytest.raises(TokenRejected, match="unknown signing key"):
        verify(keys, mint(stranger))
    unsigned = jwt.encode({"sub": "M-1"}, "k" * 32, algorithm="HS256", headers={"kid": "x"})
    with pytest.raises(TokenRejected, match="ES256"):
        verify(keys, unsigned)
    none = jwt.encode({"sub": "M-1"}, None, algorithm="none")  # type: ignore[arg-type]
    with pytest.raises(TokenRejected):
        verify(keys, none)
    for garbage in ("", "x", "a.b.c", "é" * 10, "x" * 5000):
        with pytest.raises(TokenRejected):
            verify(keys, garbage)


def test_a_rotated_key_still_verifies_the_urls_the_old_key_signed(keys: LoginKeySet) -> None:
    old_url = mint(keys)
    rotated = keys.rotated(NOW)
    assert rotated.active_kid != keys.active_kid
    assert {k["kid"] for k in rotated.jwks()["keys"]} == {keys.active_kid, rotated.active_kid}
    assert verify(rotated, old_url) == "M-1"
    # The new key is published first: the old one signs until every cache has it.
    assert rotated.signing_key(NOW).kid == keys.active_kid
    assert rotated.signing_key(NOW + PUBLISH_DELAY).kid == rotated.active_kid
    new_url = mint(rotated, now=NOW + PUBLISH_DELAY)
    assert jwt.get_unverified_header(new_url)["kid"] == rotated.active_kid
    assert verify(rotated, new_url, NOW + PUBLISH_DELAY) == "M-1"
    # An hour on, the next rotation drops the key retired an hour before.
    later = rotated.rotated(NOW + RETIRED_KEY_KEPT)
    assert keys.active_kid not in {k.kid for k in later.keys}
    assert rotated.active_kid in {k.kid for k in later.keys}


def test_rotations_are_bounded_and_listed_without_private_keys(keys: LoginKeySet) -> None:
    current = keys
    for minute in range(MAX_KEYS - 1):
        current = current.rotated(NOW + timedelta(minutes=minute))
    assert len(current.keys) == MAX_KEYS
    with pytest.raises(RotationRefused, match="rotate again after"):
        current.rotated(NOW + timedelta(minutes=20))
    listing = current.listing(NOW + timedelta(minutes=20))
    assert "PRIVATE" not in json.dumps(listing)
    assert [k["active"] for k in listing["keys"]].count(True) == 1
    assert listing["signing_kid"] == current.active_kid


def test_no_key_yet_cannot_sign() -> None:
    with pytest.raises(NoSigningKey, match="rotate"):
        LoginKeySet().signing_key(NOW)
    first = LoginKeySet().rotated(NOW)
    assert first.signing_key(NOW).kid == first.active_kid  # nobody cached a JWKS without it


@pytest.mark.parametrize(
    "target", ["/mypage", "/cart/", "/cart/items/1", "/cart/?from=line", "/mypage?tab=coupons"]
)
def test_targets_on_the_allow_list_are_taken(target: str) -> None:
    assert SHOP.checked_target(target) == target


@pytest.mark.parametrize(
    "target",
    [
        "/mypage/other",  # an exact path is not a prefix
        "/cart",  # the prefix is "/cart/"
        "/mypagex",
        "https://evil.example/",
        "//evil.example/mypage",
        "/cart/../admin",
        "/cart/%2e%2e/admin",
        "/cart/%2F%2Fevil",
        "/cart//evil",
        "/\\evil.example",
        "/cart/a b",
        "/cart/#x",
        "/cart/?a=1#frag",
        "mypage",
        "",
    ],
)
def test_targets_off_the_list_or_unsafe_are_refused(target: str) -> None:
    with pytest.raises(TargetRefused, match="target"):
        SHOP.checked_target(target)


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"base_url": "http://shop.example"}, "https"),
        ({"base_url": "https://shop.example/?a=1"}, "query"),
        ({"base_url": "https://user@shop.example"}, "user"),
        ({"base_url": "ftp://shop.example"}, "https"),
        ({"base_url": "https://shop.example/a/../b"}, ".."),
        ({"allow": ["//evil.example/"]}, "//"),
        ({"allow": ["/a/../b"]}, ".."),
        ({"allow": ["relative"]}, "starts with /"),
        ({"allow": []}, "at least 1"),
        ({"login_path": "//evil/login"}, "//"),
    ],
)
def test_the_setting_is_validated(changes: dict[str, object], fragment: str) -> None:
    values: dict[str, object] = {"base_url": "https://shop.example", "allow": ["/mypage"]}
    with pytest.raises(ValueError, match=fragment):
        ShopLoginSettings.model_validate({**values, **changes})


def test_the_login_url_and_local_http() -> None:
    local = ShopLoginSettings(base_url="http://127.0.0.1:8095/", allow=["/"])
    assert local.login_url("T") == "http://127.0.0.1:8095/auto-login?token=T"
    assert SHOP.model_copy(update={"login_path": "/line/login"}).login_url("T") == (
        "https://shop.example/line/login?token=T"
    )
