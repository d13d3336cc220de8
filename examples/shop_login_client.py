"""A reference client for the shop's side of auto-login (docs/auto-login.md).

The friend taps "open the shop logged in" in LINE; linecrm sends their browser to the
shop's login page with a short-lived, single-use token:

    https://shop.example/auto-login?token=<JWT>

On that page the shop's backend:

    client = ShopLoginClient(api_url, channel_id, source="shop-web", key=SOURCE_KEY)
    login = client.verify_offline(token)      # signature, iss, aud, exp (our JWKS)
    login = client.consume(token)             # once: linecrm spends the token
    start_session(login.member_id)
    redirect_to(shop_base_url + login.target)  # a path on the channel's allow-list

``verify_offline`` needs PyJWT with ``cryptography`` (``pip install 'PyJWT[crypto]'``);
``consume`` alone is enough (linecrm verifies everything for you) and needs the
standard library only. The consume request is signed with the same source and key as
the events API and the ID-linking requests (``ShopLinkClient``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

try:  # copied next to shop_link_client.py
    from shop_link_client import LinkApiError, ShopLinkClient
except ImportError:  # imported from the repository root
    from examples.shop_link_client import LinkApiError, ShopLinkClient

__all__ = ["LinkApiError", "LoginRefused", "ShopLogin", "ShopLoginClient"]

ISSUER = "linecrm"
CLOCK_SKEW_SECONDS = 30


class LoginRefused(Exception):
    """The token does not verify offline (the reason is the message)."""


@dataclass(frozen=True)
class ShopLogin:
    member_id: str  # the shop's member id: log this member in
    target: str  # where to send the browser: a path on the shop (on the allow-list)
    expires_at: int | str  # the token's exp (offline: unix time; consume: ISO 8601)


class ShopLoginClient(ShopLinkClient):
    def __init__(
        self,
        api_url: str,
        channel_id: str,
        *,
        source: str,
        key: str,
        clock: Callable[[], float] = time.time,
        **kwargs: Any,
    ) -> None:
        super().__init__(api_url, channel_id, source=source, key=key, clock=clock, **kwargs)
        self._jwks_url = f"{self._api_url}/login/jwks.json"
        self._jwks: Any = None

    def verify_offline(self, token: str) -> ShopLogin:
        """Check the token with linecrm's public keys (cached; an unknown kid fetches the
        JWKS again, so a rotated key is picked up). It does not spend the token: call
        ``consume`` before logging the member in."""
        import jwt  # PyJWT[crypto]

        if self._jwks is None:
            self._jwks = jwt.PyJWKClient(self._jwks_url, cache_jwk_set=True, lifespan=60)
        try:
            signing_key = self._jwks.get_signing_key_from_jwt(token)
            claims = jwt.decode(
                token,
                signing_key.key,
                algorithms=["ES256"],
                audience=self._channel_id,
                issuer=ISSUER,
                # Times with this client's clock, below (PyJWT would use time.time()).
                options={
                    "require": ["exp", "iat", "sub", "jti", "target"],
                    "verify_exp": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as error:
            raise LoginRefused(f"the login token does not verify: {error}") from error
        now = self._clock()
        if now >= claims["exp"]:
            raise LoginRefused("the login token expired")
        if claims["iat"] > now + CLOCK_SKEW_SECONDS:
            raise LoginRefused("the login token was issued in the future: check your clock")
        return ShopLogin(claims["sub"], claims["target"], claims["exp"])

    def consume(self, token: str) -> ShopLogin:
        """Spend the token (once): linecrm verifies it too and answers the member and
        target. ``LinkApiError``: 401 invalid or expired, 403 target off the allow-list,
        409 used before (a replay) or the member no longer linked."""
        answer = self._send(
            "POST", f"/login/{quote(self._channel_id, safe='')}/consume", {"token": token}
        )
        return ShopLogin(answer["member_id"], answer["target"], answer["expires_at"])
