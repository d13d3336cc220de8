"""The demo shop's auto-login over HTTP against a stand-in for linecrm (a locally
generated ES256 key): the JWKS fetched (and cached) from ``GET /login/jwks.json``, the
token spent with one signed ``POST /login/{channel_id}/consume``. The real routes are
exercised by the e2e browser test."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from linecrm_local.demo_shop.server import DemoShopApp, DemoShopConfig
from linecrm_local.serving import BackgroundWsgiServer, bind_listening_socket

pytestmark = pytest.mark.integration

CHANNEL_ID = "2000000001"
SOURCE, KEY = "demo-shop", "demo-shop-key"


class StandIn:
    """linecrm's JWKS and consume endpoints: each token spent once, signatures checked."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.spent: set[str] = set()
        self.jwks_fetches = 0

    def mint(self, **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": "linecrm",
            "aud": CHANNEL_ID,
            "sub": "M-1001",
            "target": "/cart",
            "jti": str(now),
        }
        claims |= {"iat": now, "exp": now + 300, **overrides}
        return jwt.encode(claims, self.key, algorithm="ES256", headers={"kid": "k1"})

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        if request.path == "/login/jwks.json":
            self.jwks_fetches += 1
            jwk = json.loads(ECAlgorithm.to_jwk(self.key.public_key()))
            body = {"keys": [{**jwk, "kid": "k1", "alg": "ES256", "use": "sig"}]}
            response = Response(json.dumps(body), content_type="application/json")
        elif request.path == f"/login/{CHANNEL_ID}/consume" and request.method == "POST":
            response = self.consume(request)
        else:
            response = Response("{}", status=404)
        return response(environ, start_response)

    def consume(self, request: Request) -> Response:
        raw = request.get_data()
        timestamp = request.headers.get("X-Linecrm-Timestamp", "")
        expected = hmac.new(KEY.encode(), timestamp.encode() + b"." + raw, hashlib.sha256)
        signed = hmac.compare_digest(
            expected.hexdigest(), request.headers.get("X-Linecrm-Signature", "")
        )
        if request.headers.get("X-Linecrm-Source") != SOURCE or not signed:
            return Response('{"message": "bad signature"}', status=401)
        token = json.loads(raw)["token"]
        if token in self.spent:
            return Response('{"message": "already used"}', status=409)
        self.spent.add(token)
        claims = jwt.decode(token, options={"verify_signature": False})
        answer = {"member_id": claims["sub"], "target": claims["target"], "expires_at": "…"}
        return Response(json.dumps(answer), content_type="application/json")


@pytest.fixture
def linecrm() -> Iterator[tuple[StandIn, str]]:
    stand_in = StandIn()
    server = BackgroundWsgiServer("stand-in", bind_listening_socket("x", "127.0.0.1", 0), stand_in)
    server.start()
    yield stand_in, server.url
    server.stop()


def test_a_minted_url_logs_in_once_and_the_keys_are_cached(linecrm: tuple[StandIn, str]) -> None:
    stand_in, url = linecrm
    config = DemoShopConfig(url, CHANNEL_ID, SOURCE, KEY, "http://127.0.0.1:9/dialog")
    browser = Client(DemoShopApp(config))

    token = stand_in.mint()
    answer = browser.get(f"/auto-login?token={token}")
    assert answer.status_code == 303 and answer.headers["Location"] == "/cart"
    assert 'id="member-id">M-1001<' in browser.get("/cart").get_data(as_text=True)
    assert stand_in.spent == {token}

    replay = Client(DemoShopApp(config)).get(f"/auto-login?token={token}")
    assert replay.status_code == 401  # linecrm refused the second consume

    off_list = browser.get(f"/auto-login?token={stand_in.mint(target='/admin')}")
    assert off_list.status_code == 401 and len(stand_in.spent) == 1
    second = browser.get(f"/auto-login?token={stand_in.mint(jti='another')}")
    assert second.status_code == 303
    assert stand_in.jwks_fetches == 2  # one per shop app: cached within each
