"""Auto-login from LINE: the shop's side of linecrm's signed login URLs.

linecrm (``POST /liff/shop-login``) mints a short-lived, single-use ES256 JWT for a
linked friend's member id and a target path, and sends the browser to the shop with
it. The shop:

1. verifies it **offline** with linecrm's public keys (a JWKS, fetched and cached): the
   signature (ES256 only), issuer, expiry, audience (our channel), a member id, a token
   id and a target on the shop's allow-list;
2. **spends** it with one signed ``POST /login/{channel_id}/consume`` (a replay, or a
   token linecrm no longer knows, is refused there) and takes the member id and target
   linecrm answers, which must agree with the token's;
3. logs the member in and redirects to the target (a path on the shop, never a URL).

The contract is linecrm's docs/auto-login.md; the names it fixes (claims, the query
parameter, the paths, the consume body and answer) are the constants below.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jwt

ISSUER = "linecrm"
TOKEN_PARAMETER = "token"  # noqa: S105 - the login URL's query parameter with the JWT
ALGORITHMS = ["ES256"]
MEMBER_CLAIM = "sub"
TARGET_CLAIM = "target"
TOKEN_ID_CLAIM = "jti"  # noqa: S105 - a claim name
JWKS_PATH = "/login/jwks.json"  # one key set for the deployment; aud names the channel
CONSUME_PATH = "/login/{channel_id}/consume"
LEEWAY_SECONDS = 5


class AutoLoginRejected(Exception):
    """The login URL is not one the shop may act on: the reason, for the log."""


@dataclass(frozen=True)
class AutoLogin:
    member_id: str
    target: str
    # The web tag's visitor id of the friend (linecrm's consume answer; docs/web-tag.md).
    visitor_id: str | None = None


def consume_body(token: str) -> dict[str, Any]:
    return {"token": token}


def is_allowed_target(target: str, allowed: Sequence[str]) -> bool:
    """A path on this shop (no scheme, host, ``//`` or backslash) on the allow-list: an
    exact path, or under a prefix that ends in ``/`` (linecrm's rule)."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return False
    if any(ord(char) < 0x20 for char in target):
        return False
    path = target.split("?", 1)[0].split("#", 1)[0]
    if "/../" in path + "/" or "/./" in path + "/":
        return False
    return any(
        path == entry or (entry.endswith("/") and path.startswith(entry)) for entry in allowed
    )


class AutoLoginVerifier:
    def __init__(
        self,
        *,
        signing_key: Callable[[str], Any],
        consume: Callable[[str], dict[str, Any]],
        audience: str,
        allowed_targets: Sequence[str],
        clock: Callable[[], float],
    ) -> None:
        """``signing_key(token)``: the public key of the token's ``kid`` (a JWKS client's
        ``get_signing_key_from_jwt(token).key``); ``consume(token)``: the signed consume
        call (``{"member_id", "target", "expires_at"}``, raising when linecrm refuses)."""
        self._signing_key = signing_key
        self._consume = consume
        self._audience = audience
        self._allowed = tuple(allowed_targets)
        self._clock = clock

    def verify(self, token: str) -> AutoLogin:
        claims = self._verify_offline(token)
        try:
            spent = self._consume(token)
        except Exception as error:
            raise AutoLoginRejected(f"linecrm refused to consume it: {error}") from error
        member_id, target = spent.get("member_id"), spent.get("target")
        if member_id != claims[MEMBER_CLAIM] or target != claims[TARGET_CLAIM]:
            raise AutoLoginRejected("linecrm's answer does not match the token")
        visitor_id = spent.get("visitor_id")
        return AutoLogin(
            member_id=str(member_id),
            target=str(target),
            visitor_id=visitor_id if isinstance(visitor_id, str) and visitor_id else None,
        )

    def _verify_offline(self, token: str) -> dict[str, Any]:
        try:
            key = self._signing_key(token)
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self._audience,
                issuer=ISSUER,
                leeway=LEEWAY_SECONDS,
                # Expiry against the shop's clock (the local stack's, in tests).
                options={
                    "require": ["iss", "exp", MEMBER_CLAIM, TOKEN_ID_CLAIM],
                    "verify_exp": False,
                },
            )
        except jwt.PyJWTError as error:
            raise AutoLoginRejected(f"invalid token: {error}") from error
        if (
            not isinstance(claims.get("exp"), int)
            or claims["exp"] + LEEWAY_SECONDS <= self._clock()
        ):
            raise AutoLoginRejected("expired token")
        target = claims.get(TARGET_CLAIM)
        if not isinstance(target, str) or not is_allowed_target(target, self._allowed):
            raise AutoLoginRejected(f"target {target!r} is not on the shop's allow-list")
        if not isinstance(claims[MEMBER_CLAIM], str) or not claims[MEMBER_CLAIM]:
            raise AutoLoginRejected("no member id")
        return claims
