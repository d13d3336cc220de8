"""Minting login URLs for linked friends (``/liff/shop-login``) and the shop's consume
call (``POST /login/{channel_id}/consume``). No AWS or HTTP here: the keys, settings,
links and spent tokens are ports.

Refusals are ``LoginRefused``: the handlers answer their status, reason and field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any, Protocol

from linecrm.domain.id_links import IdLink
from linecrm.domain.shop_login import ShopLoginSettings, TargetRefused
from linecrm.events.service import RequestAuthenticator, SignedRequest
from linecrm.id_links.shop_api import json_object
from linecrm.observability import logger
from linecrm.shop_login.errors import LoginRefused
from linecrm.shop_login.keys import LoginKey, LoginKeySet
from linecrm.shop_login.tokens import (
    TokenRejected,
    mint_login_token,
    verify_login_token,
)

NOT_SET_UP = "auto-login into the shop is not set up for this channel"
NOT_LINKED = (
    "not linked: this LINE user has no ID link to a shop member in this channel "
    "(link the membership first: 会員連携)"
)
REPLAYED = "replayed token: this login URL was used before (each works once)"
NO_LONGER_LINKED = "the member is no longer ID-linked to a LINE user of this channel"
CONSUME_FIELDS = frozenset({"token"})


class LoginKeys(Protocol):
    def current(self, *, fresh: bool = False) -> LoginKeySet: ...
    def key(self, kid: str) -> LoginKey | None: ...


class SpentTokens(Protocol):
    def spend(self, channel_id: str, jti: str, *, now: datetime, expires_at: datetime) -> bool: ...


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class LoginUrl:
    url: str
    expires_at: datetime
    target: str


class ShopLoginMinter:
    """A login URL for a friend who is ID-linked (the LIFF page's call)."""

    def __init__(
        self,
        keys: LoginKeys,
        settings_of: Callable[[str], ShopLoginSettings | None],
        link_of_user: Callable[[str, str], IdLink | None],
        clock: Callable[[], datetime],
    ) -> None:
        self._keys = keys
        self._settings_of = settings_of
        self._link_of_user = link_of_user
        self._clock = clock

    def mint(self, channel_id: str, user_id: str, target: str) -> LoginUrl:
        settings = self._settings_of(channel_id)
        if settings is None:
            raise LoginRefused(HTTPStatus.CONFLICT, NOT_SET_UP, "channelId")
        try:
            target = settings.checked_target(target)
        except TargetRefused as error:
            raise LoginRefused(HTTPStatus.UNPROCESSABLE_ENTITY, str(error), "target") from error
        link = self._link_of_user(channel_id, user_id)
        if link is None:
            raise LoginRefused(HTTPStatus.CONFLICT, NOT_LINKED, "idToken")
        minted = mint_login_token(
            self._keys.current(),
            self._clock(),
            channel_id=channel_id,
            member_id=link.member_id,
            target=target,
        )
        logger.info(
            "shop login minted",
            extra={"channel_id": channel_id, "kid": minted.claims.kid, "target": target},
        )
        return LoginUrl(settings.login_url(minted.token), minted.claims.expires_at, target)


class ShopLoginApi:
    """The shop's consume call, signed like its other requests (events API keys)."""

    def __init__(
        self,
        authenticator: RequestAuthenticator,
        keys: LoginKeys,
        settings_of: Callable[[str], ShopLoginSettings | None],
        user_of_member: Callable[[str, str], str | None],
        spent: SpentTokens,
        clock: Callable[[], datetime],
        visitor_id: Callable[[str, str, datetime], str] | None = None,
    ) -> None:
        """``visitor_id(channel_id, user_id, now)``: the web tag's visitor id of the
        friend (docs/web-tag.md), given in the consume answer for the landing URL."""
        self._authenticator = authenticator
        self._keys = keys
        self._settings_of = settings_of
        self._user_of_member = user_of_member
        self._spent = spent
        self._clock = clock
        self._visitor_id = visitor_id

    def consume(self, request: SignedRequest) -> dict[str, Any]:
        """``{"member_id", "target", "expires_at", "visitor_id"}`` of a valid, unused
        token: it is spent now. 401 (``EventsRejected``) for the request's signature;
        ``LoginRefused`` 401 for the token, 403 for a target off the allow-list, 409 for a
        replay."""
        self._authenticator.authenticate(request, self._clock())
        body = json_object(request.body, CONSUME_FIELDS)
        token = body.get("token")
        if not isinstance(token, str) or not token:
            raise LoginRefused(
                HTTPStatus.UNPROCESSABLE_ENTITY, "token: the ?token= of the login URL", "token"
            )
        now = self._clock()
        channel_id = request.channel_id
        try:
            claims = verify_login_token(token, channel_id, now, self._keys.key)
        except TokenRejected as error:
            raise LoginRefused(HTTPStatus.UNAUTHORIZED, str(error), "token") from error
        settings = self._settings_of(channel_id)
        if settings is None:
            raise LoginRefused(HTTPStatus.FORBIDDEN, NOT_SET_UP, "token")
        if not settings.allows(claims.target):
            raise LoginRefused(
                HTTPStatus.FORBIDDEN,
                "target: not on the channel's shop-login allow-list (no open redirect)",
                "token",
            )
        user_id = self._user_of_member(channel_id, claims.member_id)
        if user_id is None:
            raise LoginRefused(HTTPStatus.CONFLICT, NO_LONGER_LINKED, "token")
        if not self._spent.spend(channel_id, claims.jti, now=now, expires_at=claims.expires_at):
            logger.warning("shop login replayed", extra={"channel_id": channel_id})
            raise LoginRefused(HTTPStatus.CONFLICT, REPLAYED, "token")
        logger.info("shop login consumed", extra={"channel_id": channel_id, "kid": claims.kid})
        answer = {
            "member_id": claims.member_id,
            "target": claims.target,
            "expires_at": _iso(claims.expires_at),
        }
        if self._visitor_id is not None:
            # The shop appends it to the target (?lcv=…) for its web tag.
            answer["visitor_id"] = self._visitor_id(channel_id, user_id, now)
        return answer
