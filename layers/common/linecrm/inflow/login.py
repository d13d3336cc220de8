"""The pass through LINE Login that tells us who came through a route.

``GET /r/<code>``: a 302 to LINE Login's authorize page (``bot_prompt=aggressive``: LINE
offers to add the account as a friend inside the login), with a signed, short-lived
``state`` naming the route and a nonce, and the nonce in a cookie (the callback must come
back to the browser that started).

``GET /r/callback``: spend the code at LINE's token endpoint, verify the ID token
(audience = our LINE Login channel, the nonce), keep the *touch* (attribution), then
send the person on: to the account's add-friend page if they are no friend yet, else to
the route's landing page (UTM parameters added) or a thank-you page.
"""

from __future__ import annotations

import hmac
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol
from urllib.parse import quote, urlencode

from linecrm.channels import ChannelCredentials, UnknownChannel
from linecrm.domain.friends import Friend
from linecrm.domain.inflow import (
    CODE_PATTERN,
    DEFAULT_STATE_TTL,
    InflowRoute,
    LoginState,
    StateRejected,
    new_nonce,
    open_state,
    sign_state,
    state_channel,
    state_key,
)
from linecrm.line.login import LoginChannel, VerifiedIdToken, VerifyEndpointVerifier
from linecrm.line.oauth import LoginTokens

COOKIE_NAME = "linecrm_inflow"
CALLBACK_PATH = "/r/callback"
AUTHORIZE_URL = "https://access.line.me/oauth2/v2.1/authorize"
ADD_FRIEND_URL = "https://line.me/R/ti/p/"
_CODE = re.compile(CODE_PATTERN)


class RouteUnknown(LookupError):
    """No route has this code (never had, or deleted)."""


class LoginNotSetUp(RuntimeError):
    """The channel has no LINE Login channel id and secret in its credentials."""


class LoginCancelled(Exception):
    """The person said no on LINE's page (``error=access_denied``)."""

    def __init__(self, retry_url: str | None) -> None:
        super().__init__("login cancelled")
        self.retry_url = retry_url


class LoginRefused(ValueError):
    """LINE answered the callback with another error, or refused the code."""


def verify_id_token(
    login_base_url: str, id_token: str, client_id: str, nonce: str
) -> VerifiedIdToken:
    """The one place inflow routes verify an ID token: LINE Login's verify endpoint,
    which checks signature, ``iss``, ``aud``, ``exp`` and ``nonce`` (web login's tokens
    are HS256 with the login channel's secret, which LINE checks for us), and our own
    nonce check after it."""
    channel = LoginChannel(channel_id=client_id)
    return VerifyEndpointVerifier(login_base_url).verify(id_token, channel, nonce)


class RouteByCode(Protocol):
    def by_code(self, code: str) -> InflowRoute | None: ...
    def get(self, channel_id: str, route_id: str) -> InflowRoute | None: ...


class Credentials(Protocol):
    def credentials(self, channel_id: str, *, fresh: bool = False) -> ChannelCredentials: ...


class Touched(Protocol):
    def touched(self, channel_id: str, user_id: str, route_id: str) -> list[str]: ...


class FriendReader(Protocol):
    def get(self, channel_id: str, user_id: str) -> Friend | None: ...


class CodeExchange(Protocol):
    def __call__(
        self,
        login_base_url: str,
        *,
        code: str,
        redirect_uri: str,
        client_id: str,
        client_secret: str,
    ) -> LoginTokens: ...


@dataclass(frozen=True)
class LoginEndpoints:
    authorize_url: str = AUTHORIZE_URL
    login_base_url: str = "https://api.line.me"  # token and verify endpoints
    add_friend_url: str = ADD_FRIEND_URL


@dataclass(frozen=True)
class SetCookie:
    """The login's cookie (path /r, HttpOnly, SameSite=Lax); max_age 0 removes it."""

    name: str
    value: str
    max_age: int
    secure: bool


@dataclass(frozen=True)
class Redirect:
    location: str
    cookies: list[SetCookie] = field(default_factory=list)


@dataclass(frozen=True)
class Done:
    """The login went through: where the person goes now, and what we learnt."""

    redirect: Redirect | None  # None: our thank-you page
    user_id: str
    route: InflowRoute
    notes: list[str]


class InflowLogin:
    def __init__(
        self,
        routes: RouteByCode,
        channels: Credentials,
        attribution: Callable[[], Touched],
        friends: FriendReader,
        exchange: CodeExchange,
        clock: Callable[[], datetime],
        endpoints: LoginEndpoints,
        *,
        state_ttl: timedelta = DEFAULT_STATE_TTL,
        verify: Callable[[str, str, str, str], VerifiedIdToken] = verify_id_token,
    ) -> None:
        self._routes = routes
        self._channels = channels
        self._attribution = attribution
        self._friends = friends
        self._exchange = exchange
        self._clock = clock
        self._endpoints = endpoints
        self._state_ttl = state_ttl
        self._verify = verify

    # ------------------------------------------------------------ GET /r/<code>
    def start(self, code: str, public_base_url: str, *, secure: bool) -> Redirect:
        route = self._routes.by_code(code) if _CODE.fullmatch(code) else None
        if route is None:
            raise RouteUnknown(code)
        credentials = self._login_credentials(route.channel_id)
        nonce = new_nonce()
        expires_at = int((self._clock() + self._state_ttl).timestamp())
        state = sign_state(
            LoginState(route.channel_id, route.route_id, nonce, expires_at),
            state_key(credentials.login_channel_secret or ""),
        )
        query = urlencode(
            {
                "response_type": "code",
                "client_id": credentials.login_channel_id,
                "redirect_uri": callback_url(public_base_url),
                "state": state,
                "scope": "openid profile",
                "nonce": nonce,
                "bot_prompt": "aggressive",
            },
            quote_via=quote,
        )
        cookie = SetCookie(COOKIE_NAME, nonce, int(self._state_ttl.total_seconds()), secure)
        return Redirect(f"{self._endpoints.authorize_url}?{query}", [cookie])

    # ------------------------------------------------------------ GET /r/callback
    def callback(
        self, params: Mapping[str, str], cookie_nonce: str | None, public_base_url: str
    ) -> Done:
        state = self._open(params.get("state", ""))
        if not cookie_nonce or not hmac.compare_digest(cookie_nonce.encode(), state.nonce.encode()):
            raise StateRejected(
                "this login did not start in this browser (or its cookie is gone); "
                "open the link again"
            )
        route = self._routes.get(state.channel_id, state.route_id)
        if "error" in params:
            if params["error"] == "access_denied":
                raise LoginCancelled(route_url_of(public_base_url, route))
            raise LoginRefused(
                f"LINE Login refused: {params.get('error_description') or params['error']}"[:300]
            )
        code = params.get("code", "")
        if not code or len(code) > 512:
            raise LoginRefused("LINE Login sent no authorization code")
        if route is None:
            raise RouteUnknown(state.route_id)
        credentials = self._login_credentials(state.channel_id)
        assert credentials.login_channel_id
        assert credentials.login_channel_secret
        tokens = self._exchange(
            self._endpoints.login_base_url,
            code=code,
            redirect_uri=callback_url(public_base_url),
            client_id=credentials.login_channel_id,
            client_secret=credentials.login_channel_secret,
        )
        token = self._verify(
            self._endpoints.login_base_url,
            tokens.id_token,
            credentials.login_channel_id,
            state.nonce,
        )
        notes = self._attribution().touched(state.channel_id, token.user_id, route.route_id)
        clear = SetCookie(COOKIE_NAME, "", 0, public_base_url.startswith("https://"))
        friend = self._friends.get(state.channel_id, token.user_id)
        is_friend = friend is not None and friend.status == "active"
        if not is_friend and credentials.bot_basic_id:
            basic_id = credentials.bot_basic_id
            basic_id = basic_id if basic_id.startswith("@") else f"@{basic_id}"
            location = self._endpoints.add_friend_url + quote(basic_id, safe="")
            return Done(Redirect(location, [clear]), token.user_id, route, notes)
        landing = route.landing()
        redirect = Redirect(landing, [clear]) if landing else None
        return Done(redirect, token.user_id, route, notes)

    # ------------------------------------------------------------ helpers
    def _open(self, text: str) -> LoginState:
        channel_id = state_channel(text)
        try:
            credentials = self._channels.credentials(channel_id)
        except UnknownChannel as error:
            raise StateRejected("the login state is not one linecrm signed") from error
        if not credentials.login_channel_secret:
            raise StateRejected("the login state is not one linecrm signed")
        return open_state(text, state_key(credentials.login_channel_secret), self._clock())

    def _login_credentials(self, channel_id: str) -> ChannelCredentials:
        try:
            credentials = self._channels.credentials(channel_id)
        except UnknownChannel as error:
            raise LoginNotSetUp(f"channel {channel_id} has no credentials") from error
        if not credentials.login_channel_id or not credentials.login_channel_secret:
            raise LoginNotSetUp(
                f"channel {channel_id} has no login_channel_id / login_channel_secret"
            )
        return credentials


def callback_url(public_base_url: str) -> str:
    """The redirect URI to register on the LINE Login channel (its Callback URL)."""
    return public_base_url.rstrip("/") + CALLBACK_PATH


def route_url_of(public_base_url: str, route: InflowRoute | None) -> str | None:
    if route is None:
        return None
    return f"{public_base_url.rstrip('/')}/r/{route.code}"
