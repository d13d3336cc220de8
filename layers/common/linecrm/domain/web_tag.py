"""The web tag (docs/web-tag.md): public keys, their origins, and the events a browser sends.

A shop embeds ``tag.js`` with a *public* key (``pk_…``). The key names the channel and
the origins (``https://shop.example``) whose pages may send with it; browsers send the
page's ``Origin`` with every cross-origin request, so a page elsewhere cannot use the
key (a script outside a browser can: the key only scopes and rate-limits, the
visitor id says who the friend is). Events from the tag become ordinary behaviour
events (``linecrm.domain.events``) with the server's time, so they drive the same
triggers and segments.

Pure logic: no AWS, no HTTP, no clock of its own.
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from linecrm.domain.events import check_properties
from linecrm.domain.id_links import LOCAL_HOSTS

KEY_PREFIX = "pk_"
KEY_PATTERN = re.compile(r"^pk_[A-Za-z0-9_-]{24,64}$")
MAX_ORIGINS = 20
MAX_KEYS_PER_CHANNEL = 20
# Per key and per visitor, requests per minute (a fixed window; docs/web-tag.md).
DEFAULT_KEY_RATE_PER_MINUTE = 600
DEFAULT_VISITOR_RATE_PER_MINUTE = 60
MAX_RATE_PER_MINUTE = 60_000
RATE_WINDOW = timedelta(minutes=1)
MAX_WEB_EVENTS = 10  # per request
WEB_SOURCE = "web-tag"  # the events' ``source`` (the server-side API names its own)

WebEventName = Literal["page_view", "cart_updated", "purchase"]
WEB_EVENT_NAMES: tuple[str, ...] = ("page_view", "cart_updated", "purchase")
_EVENT_ID = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
_ORDER_ID = re.compile(r"^[\x21-\x7e]{1,64}$")


class WebTagRejected(ValueError):
    """The request (or one event of it) is refused: ``status``, ``reason``, ``field``."""

    def __init__(self, status: int, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.field = field
        # The page's origin once it was allowed: the answer may then be read there (CORS).
        self.origin: str | None = None


def normalized_origin(origin: str) -> str:
    """``scheme://host[:port]`` in lower case; ``ValueError`` says what is wrong. https
    only, except http for localhost / 127.0.0.1 (local development)."""
    text = origin.strip()
    parts = urlsplit(text)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{origin!r}: an origin is https://host[:port]")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"{origin!r}: an origin has no path, query, #fragment or user name")
    if parts.scheme == "http" and parts.hostname not in LOCAL_HOSTS:
        raise ValueError(f"{origin!r}: https only (http for localhost and 127.0.0.1)")
    try:
        port = parts.port
    except ValueError as error:
        raise ValueError(f"{origin!r}: the port is not a number") from error
    default = {"https": 443, "http": 80}[parts.scheme]
    host = parts.hostname.lower()
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, default) else "")


class WebTagKeySpec(BaseModel):
    """What the admin API takes to create a key."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    origins: list[str] = Field(
        min_length=1,
        max_length=MAX_ORIGINS,
        description="the shop's origins whose pages may send with this key, e.g. "
        "https://shop.example (https; http only for localhost / 127.0.0.1)",
    )
    label: str = Field(default="", max_length=100, description="what the key is for")
    rate_per_minute: int = Field(
        default=DEFAULT_KEY_RATE_PER_MINUTE,
        ge=1,
        le=MAX_RATE_PER_MINUTE,
        description="requests per minute for the key (all visitors together)",
    )
    visitor_rate_per_minute: int = Field(
        default=DEFAULT_VISITOR_RATE_PER_MINUTE,
        ge=1,
        le=MAX_RATE_PER_MINUTE,
        description="requests per minute for one visitor id",
    )

    @field_validator("origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        return list(dict.fromkeys(normalized_origin(origin) for origin in origins))


class WebTagKey(BaseModel):
    """A stored key: public, so its listing shows it whole."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    key: str
    channel_id: str
    origins: list[str]
    label: str = ""
    rate_per_minute: int = DEFAULT_KEY_RATE_PER_MINUTE
    visitor_rate_per_minute: int = DEFAULT_VISITOR_RATE_PER_MINUTE
    created_at: datetime

    def allows(self, origin: str | None) -> bool:
        if not origin:
            return False
        try:
            return normalized_origin(origin) in self.origins
        except ValueError:
            return False


def new_web_tag_key(channel_id: str, spec: WebTagKeySpec, now: datetime) -> WebTagKey:
    return WebTagKey(
        key=KEY_PREFIX + secrets.token_urlsafe(18),
        channel_id=channel_id,
        origins=spec.origins,
        label=spec.label,
        rate_per_minute=spec.rate_per_minute,
        visitor_rate_per_minute=spec.visitor_rate_per_minute,
        created_at=now,
    )


# ---------------------------------------------------------------- rate limits
@dataclass(frozen=True)
class RateWindow:
    """A fixed window: its start (the counter's name) and when it ends."""

    start: datetime
    ends_at: datetime

    def retry_after_seconds(self, now: datetime) -> int:
        return max(1, math.ceil((self.ends_at - now).total_seconds()))


def rate_window(now: datetime, length: timedelta = RATE_WINDOW) -> RateWindow:
    seconds = int(length.total_seconds())
    start = int(now.timestamp()) // seconds * seconds
    begin = datetime.fromtimestamp(start, now.tzinfo)
    return RateWindow(begin, begin + length)


# ---------------------------------------------------------------- the request
class WebEventIn(BaseModel):
    """One event as the tag sends it (``linecrm.track(name, properties)``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: WebEventName
    # Made by the tag per event (random): a retry of the same request is a duplicate.
    event_id: str = Field(min_length=8, max_length=64, pattern=_EVENT_ID.pattern)
    properties: dict[str, Any] = Field(default_factory=dict)

    @field_validator("properties")
    @classmethod
    def _bounded(cls, properties: dict[str, Any]) -> dict[str, Any]:
        check_properties(properties)
        return properties


class WebEventsIn(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    visitor: str | None = Field(default=None, max_length=256)
    events: list[Any] = Field(min_length=1, max_length=MAX_WEB_EVENTS)


def parse_web_request(document: Any) -> WebEventsIn:
    """The request's envelope; ``WebTagRejected`` (422) names what is wrong."""
    if not isinstance(document, dict):
        raise WebTagRejected(422, 'the body is a JSON object {"visitor": …, "events": [...]}')
    try:
        return WebEventsIn.model_validate(document)
    except ValidationError as error:
        raise WebTagRejected(422, *_first_problem(error)) from error


def parse_web_event(raw: Any) -> WebEventIn:
    """One event; ``WebTagRejected`` (422) with the reason and field."""
    if not isinstance(raw, dict):
        raise WebTagRejected(422, "an event is a JSON object", "event")
    try:
        event = WebEventIn.model_validate(raw)
    except ValidationError as error:
        raise WebTagRejected(422, *_first_problem(error)) from error
    if event.name == "purchase":
        _check_purchase(event.properties)
    return event


def _check_purchase(properties: Mapping[str, Any]) -> None:
    amount = properties.get("amount")
    if type(amount) is not int or not 0 <= amount <= 100_000_000:
        raise WebTagRejected(
            422,
            "properties.amount: the order's amount in yen, an integer 0..100,000,000",
            "properties.amount",
        )
    order_id = properties.get("order_id")
    if not isinstance(order_id, str) or not _ORDER_ID.fullmatch(order_id):
        raise WebTagRejected(
            422,
            "properties.order_id: the shop's order id, 1-64 printable ASCII characters "
            "(a purchase counts once per order id)",
            "properties.order_id",
        )


def behaviour_event(event: WebEventIn, user_id: str, now: datetime) -> dict[str, Any]:
    """The event in the events API's shape (``linecrm.domain.events.parse_event``): the
    server's time (a browser's clock is not trusted), a key per order for a purchase
    (a reload of the thank-you page counts once), else per event id."""
    properties = dict(event.properties)
    document: dict[str, Any] = {
        "name": event.name,
        "user": user_id,
        "occurred_at": now.isoformat(),
        "properties": properties,
    }
    if event.name == "purchase":
        document["idempotency_key"] = f"web-purchase-{properties['order_id']}"
        document["value"] = float(properties["amount"])
    else:
        document["idempotency_key"] = f"web-{event.event_id}"
        value = properties.get("value", properties.get("total"))
        if isinstance(value, int | float) and not isinstance(value, bool):
            document["value"] = float(value)
    return document


def _first_problem(error: ValidationError) -> tuple[str, str]:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {message}", where
