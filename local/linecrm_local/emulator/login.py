"""LINE Login ID tokens: the emulator's own ES256 key pairs, JWKS and verify endpoint.

As LINE: LIFF (and native-app) tokens are ES256, signed with a key published at
``/oauth2/v2.1/certs`` and named by the header's ``kid``; web-login tokens are HS256,
signed with the LINE Login channel's secret (here the emulated channel's), with no
``kid``. ``rotate_key`` starts signing with a new key; the old ones stay published,
so tokens they signed verify until they expire."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

ISSUER = "https://access.line.me"
ALGORITHM = "ES256"
WEB_LOGIN_ALGORITHM = "HS256"
ALGORITHMS = (ALGORITHM, WEB_LOGIN_ALGORITHM)
ID_TOKEN_TTL_SECONDS = 3600


@dataclass(frozen=True)
class VerifyError(Exception):
    """LINE's answer to a token that does not verify: 400 with this description."""

    description: str

    def to_json(self) -> dict[str, str]:
        return {"error": "invalid_request", "error_description": self.description}


class IdTokenIssuer:
    """Signs ID tokens like LINE Login does and verifies them like /oauth2/v2.1/verify."""

    def __init__(self) -> None:
        # kid -> key pair; the newest signs, every one is published and verifies.
        self._keys: dict[str, ec.EllipticCurvePrivateKey] = {}
        self.kid = ""
        self.rotate_key()

    def rotate_key(self) -> str:
        """Sign with a new key from now on; the new key's kid."""
        self.kid = secrets.token_hex(16)
        self._keys[self.kid] = ec.generate_private_key(ec.SECP256R1())
        return self.kid

    def jwks(self) -> dict[str, Any]:
        keys = []
        for kid, private_key in reversed(self._keys.items()):
            jwk: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(private_key.public_key()))
            jwk.update({"kid": kid, "alg": ALGORITHM, "use": "sig"})
            keys.append(jwk)
        return {"keys": keys}

    def issue(
        self,
        *,
        channel_id: str,
        user_id: str,
        now: float,
        nonce: str | None = None,
        name: str | None = None,
        picture: str | None = None,
        ttl_seconds: int = ID_TOKEN_TTL_SECONDS,
        channel_secret: str | None = None,
    ) -> str:
        """An ES256 token (LIFF), or with ``channel_secret`` an HS256 one (web login)."""
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "sub": user_id,
            "aud": channel_id,
            "exp": int(now) + ttl_seconds,
            "iat": int(now),
            "amr": ["linesso"],
        }
        if nonce is not None:
            claims["nonce"] = nonce
        if name is not None:
            claims["name"] = name
        if picture is not None:
            claims["picture"] = picture
        if channel_secret is not None:
            return jwt.encode(claims, channel_secret, algorithm=WEB_LOGIN_ALGORITHM)
        return jwt.encode(
            claims, self._keys[self.kid], algorithm=ALGORITHM, headers={"kid": self.kid}
        )

    def verify(
        self,
        id_token: str,
        *,
        client_id: str,
        now: float,
        nonce: str | None = None,
        user_id: str | None = None,
        channel_secret: str | None = None,
    ) -> dict[str, Any]:
        """The token's claims, or VerifyError with LINE's error description.

        ``channel_secret``: the secret of the channel ``client_id`` names (the key of
        its HS256 tokens; None: an HS256 token does not verify)."""
        try:
            header = jwt.get_unverified_header(id_token)
            algorithm = header.get("alg")
            key: Any
            if algorithm == ALGORITHM:
                key = self._keys[header["kid"]].public_key()
            elif algorithm == WEB_LOGIN_ALGORITHM and channel_secret is not None:
                key = channel_secret
            else:
                raise VerifyError("Invalid IdToken.")
            # Expiry is checked below against the emulator's clock, not the wall clock.
            claims: dict[str, Any] = jwt.decode(
                id_token,
                key,
                algorithms=[algorithm],
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                },
            )
        except (jwt.PyJWTError, KeyError, TypeError) as error:
            raise VerifyError("Invalid IdToken.") from error
        if claims.get("iss") != ISSUER:
            raise VerifyError("Invalid IdToken Issuer.")
        if not isinstance(claims.get("exp"), int) or claims["exp"] <= now:
            raise VerifyError("IdToken expired.")
        if claims.get("aud") != client_id:
            raise VerifyError("Invalid IdToken Audience.")
        if nonce is not None and claims.get("nonce") != nonce:
            raise VerifyError("Invalid IdToken Nonce.")
        if user_id is not None and claims.get("sub") != user_id:
            raise VerifyError("Invalid IdToken Subject Identifier.")
        return claims
