"""Login tokens: ES256 JWTs (PyJWT) that carry who logs in and where they land.

Claims: ``iss`` ``linecrm``; ``aud`` the LINE channel id; ``sub`` the shop's member id;
``target`` the path to land on; ``jti`` 192 random bits (spent once at consume);
``iat`` and ``exp`` (``LOGIN_TOKEN_LIFETIME`` later). The header names the key
(``kid``). Times are checked against the injected clock, not the host's.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt

from linecrm.domain.shop_login import LOGIN_TOKEN_LIFETIME, MAX_LOGIN_TOKEN_LIFETIME
from linecrm.shop_login.keys import ALGORITHM, LoginKey, LoginKeySet

ISSUER = "linecrm"
JTI_BYTES = 24  # 192 bits
JTI_PATTERN = re.compile(r"^[A-Za-z0-9_-]{22,128}$")
MAX_TOKEN_LENGTH = 4096
_REQUIRED = ["iss", "aud", "sub", "target", "jti", "iat", "exp"]


class TokenRejected(ValueError):
    """The token is not one linecrm signed, or not for this channel, or expired."""


@dataclass(frozen=True)
class LoginClaims:
    channel_id: str
    member_id: str
    target: str
    jti: str
    issued_at: datetime
    expires_at: datetime
    kid: str


@dataclass(frozen=True)
class MintedLogin:
    token: str
    claims: LoginClaims


def mint_login_token(
    keys: LoginKeySet, now: datetime, *, channel_id: str, member_id: str, target: str
) -> MintedLogin:
    key = keys.signing_key(now)
    issued = int(now.timestamp())
    expires = issued + int(LOGIN_TOKEN_LIFETIME.total_seconds())
    jti = secrets.token_urlsafe(JTI_BYTES)
    payload = {
        "iss": ISSUER,
        "aud": channel_id,
        "sub": member_id,
        "target": target,
        "jti": jti,
        "iat": issued,
        "exp": expires,
    }
    token = jwt.encode(
        payload, key.private_key(), algorithm=ALGORITHM, headers={"kid": key.kid, "typ": "JWT"}
    )
    claims = LoginClaims(
        channel_id=channel_id,
        member_id=member_id,
        target=target,
        jti=jti,
        issued_at=datetime.fromtimestamp(issued, UTC),
        expires_at=datetime.fromtimestamp(expires, UTC),
        kid=key.kid,
    )
    return MintedLogin(token, claims)


def verify_login_token(
    token: str, channel_id: str, now: datetime, key_of: Callable[[str], LoginKey | None]
) -> LoginClaims:
    """The claims of a token linecrm signed for ``channel_id`` that has not expired;
    ``TokenRejected`` says what is wrong. ``key_of``: the kept key with that kid."""
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_LENGTH:
        raise TokenRejected("malformed token")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as error:
        raise TokenRejected("malformed token") from error
    kid = header.get("kid")
    if header.get("alg") != ALGORITHM or not isinstance(kid, str) or not kid:
        raise TokenRejected(f"not a linecrm login token (alg {ALGORITHM} with a kid)")
    key = key_of(kid)
    if key is None:
        raise TokenRejected("unknown signing key (kid): not signed by linecrm, or long expired")
    try:
        claims: dict[str, Any] = jwt.decode(
            token,
            key.public_key(),
            algorithms=[ALGORITHM],
            audience=channel_id,
            issuer=ISSUER,
            # Times against our clock, below (PyJWT would read the host's).
            options={
                "require": _REQUIRED,
                "verify_exp": False,
                "verify_iat": False,
                "verify_nbf": False,
            },
        )
    except jwt.InvalidSignatureError as error:
        raise TokenRejected("bad signature: the token was altered or not signed by us") from error
    except jwt.InvalidAudienceError as error:
        raise TokenRejected("the token is for another channel (aud)") from error
    except jwt.InvalidIssuerError as error:
        raise TokenRejected("the token was not issued by linecrm (iss)") from error
    except jwt.MissingRequiredClaimError as error:
        raise TokenRejected(f"the token lacks the claim {error.claim}") from error
    except jwt.PyJWTError as error:
        raise TokenRejected("malformed token") from error
    return _checked_claims(claims, channel_id, now, kid)


def _checked_claims(
    claims: dict[str, Any], channel_id: str, now: datetime, kid: str
) -> LoginClaims:
    issued, expires = claims["iat"], claims["exp"]
    member, target, jti = claims["sub"], claims["target"], claims["jti"]
    if not all(type(value) is int for value in (issued, expires)):
        raise TokenRejected("malformed token: iat and exp are integers")
    if not all(isinstance(value, str) for value in (member, target, jti)):
        raise TokenRejected("malformed token: sub, target and jti are strings")
    if not JTI_PATTERN.fullmatch(jti):
        raise TokenRejected("malformed token: jti")
    if expires - issued > MAX_LOGIN_TOKEN_LIFETIME.total_seconds():
        raise TokenRejected("the token claims a lifetime over 5 minutes")
    moment = now.timestamp()
    if moment >= expires:
        raise TokenRejected("expired token: login URLs work for 2 minutes")
    if moment < issued - 5:  # a few seconds of skew between our own functions
        raise TokenRejected("the token was issued in the future (iat)")
    return LoginClaims(
        channel_id=channel_id,
        member_id=member,
        target=target,
        jti=jti,
        issued_at=datetime.fromtimestamp(issued, UTC),
        expires_at=datetime.fromtimestamp(expires, UTC),
        kid=kid,
    )
