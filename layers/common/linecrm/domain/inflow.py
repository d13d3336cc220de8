"""Inflow routes (流入経路): one per ad, shop or QR poster, and the follows they bring.

A route has a short global code: ``GET /r/<code>`` sends the person through LINE Login
(``bot_prompt=aggressive``), so linecrm learns their LINE user id before (or just after)
they add the account as a friend. The follow is then attributed to the route, whichever
of the two arrives first, if they are at most ``window`` apart (docs/inflow-routes.md).

Pure: no AWS, no HTTP, no clock (times are passed in).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated, Any, Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from linecrm.domain.actions import SCENARIO_ID_PATTERN, TagName

# The route id is what friends, segments (``inflow_route: …``) and follow triggers
# (``{type: follow, inflow_route: …}``) name, so it has their form.
ROUTE_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
# Codes: 8 characters of a 31-letter alphabet without look-alikes (0/o, 1/l/i):
# 31^8 ≈ 8.5e11, so a random guess finds a route with odds far below one in a million
# while a channel has fewer than a million routes.
CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
CODE_LENGTH = 8
CODE_PATTERN = rf"^[{CODE_ALPHABET}]{{{CODE_LENGTH}}}$"
MAX_ROUTE_TAGS = 10
MAX_ROUTES_PER_CHANNEL = 1000
DEFAULT_WINDOW = timedelta(minutes=30)
# How long the signed ``state`` of a login is accepted (LINE Login's own page may
# take the person a while: log in, read, add the friend).
DEFAULT_STATE_TTL = timedelta(minutes=10)

Counter = Literal["friends", "blocked", "linked", "converted"]
COUNTERS: tuple[Counter, ...] = ("friends", "blocked", "linked", "converted")
# The flag on a friend's route marker that each counter (but friends) follows.
FLAGS: tuple[Counter, ...] = ("blocked", "linked", "converted")
PURCHASE_EVENT = "purchase"

RouteId = Annotated[str, StringConstraints(pattern=ROUTE_ID_PATTERN)]
UtmValue = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


class Utm(BaseModel):
    """UTM parameters: kept with the route and added to its landing page's URL."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: UtmValue | None = None
    medium: UtmValue | None = None
    campaign: UtmValue | None = None
    content: UtmValue | None = None
    term: UtmValue | None = None

    def query(self) -> dict[str, str]:
        return {f"utm_{name}": value for name, value in self.model_dump().items() if value}


class RouteSettings(BaseModel):
    """What staff set on a route (the admin API's body and the stored definition)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="e.g. 'Shibuya store poster'")
    tags: list[TagName] = Field(
        default_factory=list,
        max_length=MAX_ROUTE_TAGS,
        description="tag names (or ids) added to each friend the route brings",
    )
    scenario: str | None = Field(
        default=None,
        pattern=SCENARIO_ID_PATTERN,
        description="a step scenario started for each friend the route brings",
    )
    utm: Utm = Field(default_factory=Utm)
    landing_url: str | None = Field(
        default=None,
        max_length=1000,
        description="https page shown after the friend add (UTM parameters added); "
        "none: linecrm's own thank-you page",
    )

    @field_validator("landing_url")
    @classmethod
    def _https_only(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.netloc or any(c.isspace() for c in value):
            raise ValueError("must be an absolute https:// URL")
        return value

    @field_validator("tags")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        return list(dict.fromkeys(value))


class RouteCounters(BaseModel):
    """The route's report, kept as counters on every change (never a scan)."""

    model_config = ConfigDict(frozen=True)

    friends: int = Field(default=0, description="distinct friends the route brought")
    blocked: int = Field(default=0, description="of them, blocking the account now")
    linked: int = Field(default=0, description="of them, ID-linked to a shop member now")
    converted: int = Field(default=0, description="of them, with a purchase event since")


class InflowRoute(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    channel_id: str
    route_id: str
    code: str
    settings: RouteSettings
    counters: RouteCounters = Field(default_factory=RouteCounters)
    created_at: datetime
    updated_at: datetime

    def landing(self) -> str | None:
        """The landing page's URL with the UTM parameters (those it has already stay)."""
        if self.settings.landing_url is None:
            return None
        parts = urlsplit(self.settings.landing_url)
        extra = urlencode(self.settings.utm.query())
        query = "&".join(part for part in (parts.query, extra) if part)
        return urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment))


def route_url(public_base_url: str, code: str) -> str:
    """The route's short URL (what the QR code holds)."""
    return f"{public_base_url.rstrip('/')}/r/{code}"


# ---------------------------------------------------------------- attribution
@dataclass(frozen=True)
class Touch:
    """A person came through a route's URL and LINE Login told us who they are."""

    route_id: str
    touched_at: datetime


def attributable(touched_at: datetime, followed_at: datetime, window: timedelta) -> bool:
    """Either order counts: the follow may come before the login's callback (LINE
    shows the add-friend prompt inside the login) or after it (the person adds the
    friend on the page we send them to)."""
    return abs(followed_at - touched_at) <= window


ClaimOutcome = Literal["claimed", "own_retry", "taken"]
"""``claimed``: this follow is attributed now (apply the route's tags and scenario);
``own_retry``: the same party attributed it before and is running again (its effects
are repeated, they are idempotent); ``taken``: the other party attributed it."""


# ---------------------------------------------------------------- login state
STATE_MAX_LENGTH = 1024
_STATE_LABEL = b"linecrm inflow state v1"


class StateRejected(ValueError):
    """The ``state`` is not one we signed, or it expired, or the cookie does not match."""


@dataclass(frozen=True)
class LoginState:
    channel_id: str
    route_id: str
    nonce: str
    expires_at: int  # Unix seconds

    def to_json(self) -> dict[str, Any]:
        return {"c": self.channel_id, "r": self.route_id, "n": self.nonce, "e": self.expires_at}


def state_key(login_channel_secret: str) -> bytes:
    """The HMAC key of a channel's login states, derived from its LINE Login channel
    secret (which only linecrm and LINE know): no further secret to keep and rotate."""
    return hmac.new(login_channel_secret.encode(), _STATE_LABEL, hashlib.sha256).digest()


def new_nonce() -> str:
    return secrets.token_urlsafe(16)  # 128 bits


def sign_state(state: LoginState, key: bytes) -> str:
    payload = _b64(json.dumps(state.to_json(), separators=(",", ":")).encode())
    return f"{payload}.{_b64(_mac(key, payload))}"


def state_channel(text: str) -> str:
    """The channel a state names, *unverified* (to find the key that verifies it)."""
    return str(_payload(text)["c"])


def open_state(text: str, key: bytes, now: datetime) -> LoginState:
    """The state if we signed it with ``key`` and it has not expired (StateRejected)."""
    payload_text, _, signature = text.partition(".")
    if not hmac.compare_digest(_b64(_mac(key, payload_text)), signature):
        raise StateRejected("the login state is not one linecrm signed")
    payload = _payload(text)
    if payload["e"] < now.timestamp():
        raise StateRejected("the login took too long; open the link again")
    return LoginState(payload["c"], payload["r"], payload["n"], payload["e"])


def _payload(text: str) -> dict[str, Any]:
    if not text or len(text) > STATE_MAX_LENGTH or text.count(".") != 1:
        raise StateRejected("the login state is malformed")
    payload_text = text.split(".", 1)[0]
    try:
        padded = payload_text + "=" * (-len(payload_text) % 4)
        payload = json.loads(base64.urlsafe_b64decode(padded))
    except (ValueError, UnicodeDecodeError) as error:
        raise StateRejected("the login state is malformed") from error
    if (
        not isinstance(payload, dict)
        or not all(isinstance(payload.get(k), str) and payload[k] for k in ("c", "r", "n"))
        or not isinstance(payload.get("e"), int)
        or isinstance(payload.get("e"), bool)
    ):
        raise StateRejected("the login state is malformed")
    return payload


def _mac(key: bytes, payload_text: str) -> bytes:
    return hmac.new(key, payload_text.encode("ascii", "replace"), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")
