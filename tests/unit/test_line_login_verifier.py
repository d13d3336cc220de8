"""ID-token verification against LINE's JWKS: signature, claims, nonce, key cache."""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

from linecrm.line.login import (
    EXPIRY_LEEWAY_SECONDS,
    ISSUER,
    IdTokenRejected,
    JwksVerifier,
    LoginChannel,
    LoginServiceUnavailable,
    MockIdentity,
    MockIdTokens,
    build_verifier,
)

CHANNEL = LoginChannel("1650000001", secret="c0ffee" * 5 + "00")
USER = "U" + "a" * 32
NOW = 1_800_000_000.0


class Keys:
    """LINE's side: key pairs by kid, the JWKS it publishes, tokens it signs."""

    def __init__(self) -> None:
        self.private: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.current = self.rotate()

    def rotate(self) -> str:
        self.current = secrets.token_hex(8)
        self.private[self.current] = ec.generate_private_key(ec.SECP256R1())
        return self.current

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, key in self.private.items():
            jwk = json.loads(ECAlgorithm.to_jwk(key.public_key()))
            jwk.update({"kid": kid, "alg": "ES256", "use": "sig"})
            keys.append(jwk)
        return {"keys": keys}

    def token(self, kid: str | None = None, **overrides: Any) -> str:
        kid = kid or self.current
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": USER,
            "aud": CHANNEL.channel_id,
            "exp": int(NOW) + 3600,
            "iat": int(NOW),
            "name": "Taro",
        }
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return jwt.encode(claims, self.private[kid], algorithm="ES256", headers={"kid": kid})


class CountingJwksClient(jwt.PyJWKClient):
    """PyJWKClient with LINE's certs endpoint replaced by ``Keys`` (fetches counted)."""

    def __init__(self, keys: Keys, **kwargs: Any) -> None:
        super().__init__("https://api.line.me/oauth2/v2.1/certs", **kwargs)
        self.keys = keys
        self.fetches = 0

    def fetch_data(self) -> Any:
        self.fetches += 1
        self._last_successful_fetch = time.monotonic()
        return self.keys.jwks()


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def keys() -> Keys:
    return Keys()


@pytest.fixture
def clock() -> Clock:
    return Clock()


def verifier(keys: Keys, clock: Clock, cooldown: float = 0.0) -> tuple[JwksVerifier, Any]:
    client = CountingJwksClient(keys, cooldown_duration=cooldown, lifespan=3600)
    return JwksVerifier("https://api.line.me", clock, jwks_client=client), client


def rejected(check: Any, *args: Any) -> IdTokenRejected:
    with pytest.raises(IdTokenRejected) as raised:
        check(*args)
    return raised.value


def test_a_good_token_verifies_to_its_claims(keys: Keys, clock: Clock) -> None:
    check, _ = verifier(keys, clock)
    token = check.verify(keys.token(nonce="n-1"), CHANNEL, "n-1")
    assert (token.user_id, token.audience, token.name, token.nonce) == (
        USER,
        CHANNEL.channel_id,
        "Taro",
        "n-1",
    )


def test_the_jwks_url_comes_from_the_login_base_url(clock: Clock) -> None:
    assert JwksVerifier("https://api.line.me/", clock).jwks_url == (
        "https://api.line.me/oauth2/v2.1/certs"
    )
    assert JwksVerifier("http://127.0.0.1:8090", clock).jwks_url == (
        "http://127.0.0.1:8090/oauth2/v2.1/certs"
    )


@pytest.mark.parametrize(
    ("overrides", "kind"),
    [
        ({"aud": "1650000002"}, "aud"),
        ({"aud": None}, "claims"),
        ({"iss": "https://evil.example"}, "iss"),
        ({"sub": None}, "claims"),
        ({"exp": None}, "claims"),
    ],
)
def test_wrong_claims_are_rejected_with_the_reason(
    keys: Keys, clock: Clock, overrides: dict[str, Any], kind: str
) -> None:
    check, _ = verifier(keys, clock)
    error = rejected(check.verify, keys.token(**overrides), CHANNEL)
    assert error.kind == kind
    assert error.field == "idToken"


def test_an_expired_token_is_rejected_after_a_small_leeway(keys: Keys, clock: Clock) -> None:
    check, _ = verifier(keys, clock)
    token = keys.token(exp=int(NOW) + 60)
    clock.now = NOW + 60 + EXPIRY_LEEWAY_SECONDS - 1
    assert check.verify(token, CHANNEL).user_id == USER  # skew within the leeway
    clock.now = NOW + 60 + EXPIRY_LEEWAY_SECONDS
    assert rejected(check.verify, token, CHANNEL).kind == "expired"


def test_a_bad_signature_is_rejected(keys: Keys, clock: Clock) -> None:
    check, _ = verifier(keys, clock)
    # Another key pair under LINE's kid: the signature does not verify with LINE's key.
    forger = Keys()
    forger.private[keys.current] = forger.private.pop(forger.current)
    forged = forger.token(kid=keys.current)
    assert rejected(check.verify, forged, CHANNEL).kind == "signature"
    # A payload changed after signing.
    header, _, signature = keys.token().split(".")
    payload = jwt.utils.base64url_encode(
        json.dumps({"iss": ISSUER, "sub": "U" + "b" * 32, "aud": CHANNEL.channel_id}).encode()
    ).decode()
    tampered = f"{header}.{payload}.{signature}"
    assert rejected(check.verify, tampered, CHANNEL).kind == "signature"
    assert rejected(check.verify, "forged.token.value", CHANNEL).kind == "malformed"
    assert rejected(check.verify, "id_token", CHANNEL).kind == "malformed"


def test_nonces_must_match_both_ways(keys: Keys, clock: Clock) -> None:
    check, _ = verifier(keys, clock)
    with_nonce = keys.token(nonce="n-1")
    wrong = rejected(check.verify, with_nonce, CHANNEL, "n-2")
    assert (wrong.kind, wrong.field) == ("nonce", "nonce")
    # A token bound to a nonce, replayed without it.
    assert rejected(check.verify, with_nonce, CHANNEL, None).kind == "nonce"
    # The page sent a nonce, the token has none.
    assert rejected(check.verify, keys.token(), CHANNEL, "n-1").kind == "nonce"
    assert check.verify(keys.token(), CHANNEL, None).nonce is None


def test_an_unknown_kid_is_rejected_after_one_refetch(keys: Keys, clock: Clock) -> None:
    check, client = verifier(keys, clock)
    check.verify(keys.token(), CHANNEL)
    stranger = Keys()
    error = rejected(check.verify, stranger.token(), CHANNEL)
    assert error.kind == "kid"
    assert client.fetches == 2  # the cached set, then once more for the unknown kid
    no_kid = jwt.encode({"sub": USER}, keys.private[keys.current], algorithm="ES256")
    assert rejected(check.verify, no_kid, CHANNEL).kind == "kid"


def test_the_jwks_is_fetched_once_for_many_logins(keys: Keys, clock: Clock) -> None:
    check, client = verifier(keys, clock)
    for _ in range(25):
        assert check.verify(keys.token(), CHANNEL).user_id == USER
    assert client.fetches == 1


def test_a_key_rotation_at_line_costs_one_refetch(keys: Keys, clock: Clock) -> None:
    check, client = verifier(keys, clock)
    check.verify(keys.token(), CHANNEL)
    old = keys.current
    keys.rotate()
    for _ in range(5):
        check.verify(keys.token(), CHANNEL)
    assert client.fetches == 2
    check.verify(keys.token(kid=old), CHANNEL)  # still published: still verifies
    assert client.fetches == 2


def test_unknown_kids_do_not_refetch_within_the_cooldown(keys: Keys, clock: Clock) -> None:
    check, client = verifier(keys, clock, cooldown=30.0)
    check.verify(keys.token(), CHANNEL)
    for _ in range(10):
        assert rejected(check.verify, Keys().token(), CHANNEL).kind == "kid"
    assert client.fetches == 1  # forged kids cannot make us call LINE per request


def test_a_jwks_that_cannot_be_fetched_is_unavailable_not_rejected(clock: Clock) -> None:
    keys = Keys()
    # Nothing listens on port 9 here (discard): the connection is refused.
    check = JwksVerifier("http://127.0.0.1:9", clock, timeout_seconds=1)
    with pytest.raises(LoginServiceUnavailable):
        check.verify(keys.token(), CHANNEL)

    class Garbage(CountingJwksClient):
        def fetch_data(self) -> Any:
            return {"keys": "nope"}

    garbage = JwksVerifier("https://x", clock, jwks_client=Garbage(keys))
    with pytest.raises(LoginServiceUnavailable):
        garbage.verify(keys.token(), CHANNEL)


def test_hs256_web_login_tokens_verify_with_the_login_channels_secret(
    keys: Keys, clock: Clock
) -> None:
    check, client = verifier(keys, clock)
    claims = {"iss": ISSUER, "sub": USER, "aud": CHANNEL.channel_id, "exp": int(NOW) + 60}
    assert CHANNEL.secret is not None
    token = jwt.encode(claims, CHANNEL.secret, algorithm="HS256")
    assert check.verify(token, CHANNEL).user_id == USER
    assert client.fetches == 0  # no key of LINE's is needed
    wrong_secret = jwt.encode(claims, "f" * 32, algorithm="HS256")
    assert rejected(check.verify, wrong_secret, CHANNEL).kind == "signature"
    no_secret = rejected(check.verify, token, LoginChannel(CHANNEL.channel_id))
    assert no_secret.kind == "alg"
    assert "login_channel_secret" in no_secret.reason


def test_other_algorithms_are_rejected_clearly(keys: Keys, clock: Clock) -> None:
    check, _ = verifier(keys, clock)
    claims = {"iss": ISSUER, "sub": USER, "aud": CHANNEL.channel_id, "exp": int(NOW) + 60}
    unsigned = jwt.encode(claims, None, algorithm="none")
    error = rejected(check.verify, unsigned, CHANNEL)
    assert error.kind == "alg"
    assert "ES256" in error.reason
    es384 = jwt.encode(claims, ec.generate_private_key(ec.SECP384R1()), algorithm="ES384")
    assert rejected(check.verify, es384, CHANNEL).kind == "alg"


def test_liff_mock_tokens_stand_for_their_mock_user_only_when_configured(
    keys: Keys, clock: Clock
) -> None:
    real, _ = verifier(keys, clock)
    mock = MockIdTokens(
        {"id_token": MockIdentity(userId=USER, displayName="Brown")},  # type: ignore[call-arg]
        real,
    )
    token = mock.verify("id_token", CHANNEL)
    assert (token.user_id, token.name) == (USER, "Brown")
    assert mock.verify(keys.token(), CHANNEL).name == "Taro"  # real tokens still verify
    assert rejected(mock.verify, "id_token", CHANNEL, "n-1").kind == "nonce"
    assert rejected(mock.verify, "other_token", CHANNEL).kind == "malformed"
    # Without the setting there is no mock at all.
    plain = build_verifier("jwks", "https://api.line.me", clock)
    assert isinstance(plain, JwksVerifier)
    assert rejected(plain.verify, "id_token", CHANNEL).kind == "malformed"
