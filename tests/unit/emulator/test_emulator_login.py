"""LINE Login ID tokens: /oauth2/v2.1/verify and the JWKS."""

from __future__ import annotations

import jwt
from werkzeug.test import Client

from linecrm_local.emulator import LineEmulator

from .conftest import CHANNEL_ID, FakeClock


def verify(
    client: Client, token: str, client_id: str = CHANNEL_ID, **extra: str
) -> tuple[int, dict]:  # type: ignore[type-arg]
    response = client.post(
        "/oauth2/v2.1/verify", data={"id_token": token, "client_id": client_id, **extra}
    )
    return response.status_code, response.json


def invalid(description: str) -> dict[str, str]:
    return {"error": "invalid_request", "error_description": description}


def test_good_token_verifies_to_its_claims(client: Client, emulator: LineEmulator) -> None:
    friend = emulator.add_friend(CHANNEL_ID, "Taro")
    token = emulator.issue_id_token(CHANNEL_ID, friend.user_id, nonce="n-1")
    status, claims = verify(client, token, nonce="n-1")
    assert status == 200
    assert claims["iss"] == "https://access.line.me"
    assert (claims["sub"], claims["aud"], claims["nonce"], claims["name"]) == (
        friend.user_id,
        CHANNEL_ID,
        "n-1",
        "Taro",
    )
    assert claims["exp"] > claims["iat"]


def test_bad_expired_and_foreign_tokens_are_refused(
    client: Client, emulator: LineEmulator, clock: FakeClock
) -> None:
    token = emulator.issue_id_token(CHANNEL_ID, "U" + "a" * 32, nonce="n-1")
    assert verify(client, token + "x") == (400, invalid("Invalid IdToken."))
    assert verify(client, "id_token") == (400, invalid("Invalid IdToken."))
    assert verify(client, token, client_id="2000000002") == (
        400,
        invalid("Invalid IdToken Audience."),
    )
    assert verify(client, token, nonce="other") == (400, invalid("Invalid IdToken Nonce."))
    clock.advance(3601)
    assert verify(client, token) == (400, invalid("IdToken expired."))
    missing = client.post("/oauth2/v2.1/verify", data={"id_token": token})
    assert missing.status_code == 400
    assert missing.json["error"] == "invalid_request"


def test_a_token_signed_by_another_key_is_refused(client: Client, make_emulator: object) -> None:
    from .conftest import make_config

    stranger = LineEmulator(make_config())
    token = stranger.issue_id_token(CHANNEL_ID, "U" + "a" * 32)
    assert verify(client, token)[0] == 400


def test_jwks_verifies_the_tokens(client: Client, emulator: LineEmulator, clock: FakeClock) -> None:
    jwks = client.get("/oauth2/v2.1/certs").json
    [key] = jwks["keys"]
    assert (key["kty"], key["crv"], key["alg"]) == ("EC", "P-256", "ES256")
    token = emulator.issue_id_token(CHANNEL_ID, "U" + "a" * 32)
    assert jwt.get_unverified_header(token)["kid"] == key["kid"]
    public_key = jwt.PyJWK(key).key
    claims = jwt.decode(
        token,
        public_key,
        algorithms=["ES256"],
        audience=CHANNEL_ID,
        issuer="https://access.line.me",
        options={"verify_exp": False},
    )
    assert claims["sub"] == "U" + "a" * 32


def test_web_login_tokens_are_hs256_with_the_channel_secret(
    client: Client, emulator: LineEmulator
) -> None:
    token = client.post(
        f"/_emulator/channels/{CHANNEL_ID}/id-token",
        json={"userId": "U" + "a" * 32, "alg": "HS256", "displayName": "Guest"},
    ).json["idToken"]
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256" and "kid" not in header  # as LINE: no kid for HS256
    secret = emulator.channel(CHANNEL_ID).channel_secret
    claims = jwt.decode(
        token, secret, algorithms=["HS256"], audience=CHANNEL_ID, options={"verify_exp": False}
    )
    assert claims["name"] == "Guest"
    status, verified = verify(client, token)
    assert status == 200 and verified["sub"] == "U" + "a" * 32
    # Another channel's secret does not verify it (nor does its audience match).
    assert verify(client, token, client_id="2000000002")[0] == 400
    forged = jwt.encode(claims, "0" * 32, algorithm="HS256")
    assert verify(client, forged) == (400, invalid("Invalid IdToken."))
    unsigned = jwt.encode(claims, None, algorithm="none")
    assert verify(client, unsigned) == (400, invalid("Invalid IdToken."))


def test_a_rotated_login_key_signs_new_tokens_and_old_ones_still_verify(
    client: Client, emulator: LineEmulator
) -> None:
    old_token = emulator.issue_id_token(CHANNEL_ID, "U" + "a" * 32)
    old_kid = jwt.get_unverified_header(old_token)["kid"]
    new_kid = client.post("/_emulator/login/rotate-key").json["kid"]
    assert new_kid != old_kid
    new_token = emulator.issue_id_token(CHANNEL_ID, "U" + "a" * 32)
    assert jwt.get_unverified_header(new_token)["kid"] == new_kid
    kids = [key["kid"] for key in client.get("/oauth2/v2.1/certs").json["keys"]]
    assert kids == [new_kid, old_kid]
    assert verify(client, old_token)[0] == 200
    assert verify(client, new_token)[0] == 200


def test_the_id_token_control_refuses_what_it_does_not_know(client: Client) -> None:
    url = f"/_emulator/channels/{CHANNEL_ID}/id-token"
    user = "U" + "a" * 32
    assert client.post(url, json={"userId": user, "alg": "RS256"}).status_code == 400
    assert client.post(url, json={"userId": user, "expired": True}).status_code == 400
