"""LINE Login ID tokens: the emulator's own ES256 key pair, JWKS and verify endpoint."""

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
        self._private_key = ec.generate_private_key(ec.SECP256R1())
        self.kid = secrets.token_hex(16)

    def jwks(self) -> dict[str, Any]:
        jwk: dict[str, Any] = json.loads(ECAlgorithm.to_jwk(self._private_key.public_key()))
        jwk.update({"kid": self.kid, "alg": ALGORITHM, "use": "sig"})
        return {"keys": [jwk]}

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
    ) -> str:
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
        return jwt.encode(claims, self._private_key, algorithm=ALGORITHM, headers={"kid": self.kid})

    def verify(
        self,
        id_token: str,
        *,
        client_id: str,
        now: float,
        nonce: str | None = None,
        user_id: str | None = None,
    ) -> dict[str, Any]:
        """The token's claims, or VerifyError with LINE's error description."""
        try:
            # Expiry is checked below against the emulator's clock, not the wall clock.
            claims: dict[str, Any] = jwt.decode(
                id_token,
                self._private_key.public_key(),
                algorithms=[ALGORITHM],
                options={"verify_exp": False, "verify_aud": False, "verify_iss": False},
            )
        except jwt.PyJWTError as error:
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
