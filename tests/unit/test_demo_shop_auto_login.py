"""The demo shop's auto-login verification against a locally generated ES256 key: the
offline checks (signature, algorithm, expiry, audience, target allow-list), then the one
consume call, whose answer must agree with the token."""

from __future__ import annotations

import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from werkzeug.test import Client

from linecrm_local.demo_shop.auto_login import (
    AutoLoginRejected,
    AutoLoginVerifier,
    is_allowed_target,
)
from linecrm_local.demo_shop.server import ALLOWED_TARGETS, DemoShopApp, DemoShopConfig

NOW = 1_796_176_800
CHANNEL_ID = "2000000001"
KID = "key-2026-12"


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def jwks(key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
    return {"keys": [{**jwk, "kid": KID, "alg": "ES256", "use": "sig"}]}


def mint(key: Any, algorithm: str = "ES256", kid: str = KID, **overrides: Any) -> str:
    claims: dict[str, Any] = {
        "iss": "linecrm",
        "aud": CHANNEL_ID,
        "sub": "M-1001",
        "target": "/cart",
        "jti": "login-1",
        "iat": NOW,
        "exp": NOW + 300,
    }
    claims.update(overrides)
    claims = {name: value for name, value in claims.items() if value is not None}
    return jwt.encode(claims, key, algorithm=algorithm, headers={"kid": kid})


class Linecrm:
    """The consume endpoint: spends each token once, as linecrm does."""

    def __init__(self) -> None:
        self.spent: list[str] = []

    def consume(self, token: str) -> dict[str, Any]:
        if token in self.spent:
            raise RuntimeError("409: already used")
        self.spent.append(token)
        claims = jwt.decode(token, options={"verify_signature": False})
        return {"member_id": claims["sub"], "target": claims["target"], "expires_at": "…"}


def verifier(jwks: dict[str, Any], linecrm: Linecrm, now: float = NOW) -> AutoLoginVerifier:
    keys = jwt.PyJWKSet.from_dict(jwks)

    def signing_key(token: str) -> Any:
        kid = jwt.get_unverified_header(token).get("kid")
        return next(k.key for k in keys.keys if k.key_id == kid)

    return AutoLoginVerifier(
        signing_key=signing_key,
        consume=linecrm.consume,
        audience=CHANNEL_ID,
        allowed_targets=ALLOWED_TARGETS,
        clock=lambda: now,
    )


def test_a_good_token_logs_the_member_in_once(key: Any, jwks: dict[str, Any]) -> None:
    linecrm = Linecrm()
    check = verifier(jwks, linecrm)
    token = mint(key)

    login = check.verify(token)
    assert (login.member_id, login.target) == ("M-1001", "/cart")
    assert linecrm.spent == [token]
    with pytest.raises(AutoLoginRejected, match="consume"):
        check.verify(token)  # replay: linecrm refuses the second consume


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": NOW - 10}, "expired"),
        ({"aud": "another-channel"}, "invalid token"),
        ({"aud": None}, "invalid token"),
        ({"iss": "someone-else"}, "invalid token"),
        ({"iss": None}, "invalid token"),
        ({"sub": None}, "invalid token"),
        ({"jti": None}, "invalid token"),
        ({"exp": None}, "invalid token"),
        ({"target": "https://evil.example/"}, "allow-list"),
        ({"target": "//evil.example/cart"}, "allow-list"),
        ({"target": "/admin"}, "allow-list"),
        ({"target": "/cart/../admin"}, "allow-list"),
        ({"target": None}, "allow-list"),
    ],
)
def test_bad_tokens_are_rejected_before_consuming(
    key: Any, jwks: dict[str, Any], overrides: dict[str, Any], reason: str
) -> None:
    linecrm = Linecrm()
    with pytest.raises(AutoLoginRejected, match=reason):
        verifier(jwks, linecrm).verify(mint(key, **overrides))
    assert linecrm.spent == []  # nothing was spent for a token the shop refuses


def test_a_tampered_token_or_another_key_is_rejected(key: Any, jwks: dict[str, Any]) -> None:
    linecrm = Linecrm()
    header, _payload, signature = mint(key).split(".")
    other = jwt.encode({"sub": "M-9999"}, "x" * 32, algorithm="HS256").split(".")[1]
    with pytest.raises(AutoLoginRejected, match="invalid token"):
        verifier(jwks, linecrm).verify(f"{header}.{other}.{signature}")
    stranger = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(AutoLoginRejected, match="invalid token"):
        verifier(jwks, linecrm).verify(mint(stranger))
    assert linecrm.spent == []


def test_only_es256_is_accepted(jwks: dict[str, Any]) -> None:
    with pytest.raises(AutoLoginRejected, match="invalid token"):
        verifier(jwks, Linecrm()).verify(mint("k" * 32, algorithm="HS256"))


def test_linecrm_must_agree_with_the_token(key: Any, jwks: dict[str, Any]) -> None:
    class Disagreeing(Linecrm):
        def consume(self, token: str) -> dict[str, Any]:
            return {"member_id": "M-1002", "target": "/cart"}

    with pytest.raises(AutoLoginRejected, match="does not match"):
        verifier(jwks, Disagreeing()).verify(mint(key))


@pytest.mark.parametrize(
    ("target", "allowed"),
    [
        ("/mypage", True),
        ("/", False),
        ("/cart", True),
        ("/cart?from=line", True),
        ("/products/A1", True),
        ("/cartx", False),
        ("/cart/x", False),  # /cart is an exact path; /products/ a prefix
        ("/products/../cart", False),
        ("/admin", False),
        ("cart", False),
        ("//evil.example", False),
        ("/\\evil.example", False),
        ("/cart/../admin", False),
        ("/cart\r\nSet-Cookie: x", False),
    ],
)
def test_the_allow_list(target: str, allowed: bool) -> None:
    assert is_allowed_target(target, ALLOWED_TARGETS) is allowed


def test_the_shop_logs_in_and_redirects_only_for_a_good_token(
    key: Any, jwks: dict[str, Any]
) -> None:
    config = DemoShopConfig("http://127.0.0.1:9", CHANNEL_ID, "demo-shop", "k", "http://x/d")
    shop = DemoShopApp(config, verifier(jwks, Linecrm()))
    browser = Client(shop)

    refused = browser.get("/auto-login?token=forged")
    assert refused.status_code == 401
    assert "自動ログインできませんでした" in refused.get_data(as_text=True)

    answer = browser.get(f"/auto-login?token={mint(key)}")
    assert answer.status_code == 303 and answer.headers["Location"] == "/cart"
    cart = browser.get("/cart").get_data(as_text=True)
    assert 'id="member-id">M-1001<' in cart


class TaggingLinecrm(Linecrm):
    """linecrm with the web tag: the consume answer carries the friend's visitor id."""

    def consume(self, token: str) -> dict[str, Any]:
        return super().consume(token) | {"visitor_id": "VISITOR_ID_0123456789"}


def test_with_the_web_tag_the_landing_carries_the_visitor_id_and_pages_report(
    key: Any, jwks: dict[str, Any]
) -> None:
    config = DemoShopConfig("http://127.0.0.1:9", CHANNEL_ID, "demo-shop", "k", "http://x/d")
    shop = DemoShopApp(config, verifier(jwks, TaggingLinecrm()))
    shop.web_tag_key = "pk_" + "k" * 24
    browser = Client(shop)

    answer = browser.get(f"/auto-login?token={mint(key, target='/cart?from=line')}")
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/cart?from=line&lcv=VISITOR_ID_0123456789"
    page = browser.get("/").get_data(as_text=True)
    head = page.split("</head>", 1)[0]
    assert 'src="http://127.0.0.1:9/web/tag.js" data-key="pk_kkkkkkkkkkkkkkkkkkkkkkkk"' in head
    assert "linecrm.track(" not in page  # nothing happened yet but the page view

    # Into the cart: the next page reports it (the tag sends it, not the shop's backend).
    added = browser.post("/cart/add", data={"sku": "A1"})
    assert (added.status_code, added.headers["Location"]) == (303, "/cart")
    cart = browser.get("/cart").get_data(as_text=True)
    assert 'linecrm.track("cart_updated",{"value": 3200' in cart, cart
    assert "linecrm.track(" not in browser.get("/cart").get_data(as_text=True)  # once
    thanks = browser.post("/checkout").get_data(as_text=True)
    assert 'linecrm.track("purchase",{"amount": 3200, "order_id": "' in thanks, thanks


def test_the_shop_escapes_what_it_puts_into_a_script() -> None:
    from linecrm_local.demo_shop.server import _script_json

    assert _script_json({"name": "</script><script>alert(1)"}) == (
        '{"name": "<\\/script><script>alert(1)"}'
    )
