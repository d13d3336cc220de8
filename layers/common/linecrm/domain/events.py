"""Behaviour events from the shop's systems (``POST /events/{channel_id}``).

An event says what a friend did elsewhere: ``purchase``, ``cart_updated``,
``page_view``. Each one is checked alone (``parse_event``): a bad event is refused with
its reason and the others of the batch still apply. An applied event goes on the
friend's timeline and updates the friend's per-name ``EventStats`` (kept on the profile,
so a segment such as "purchase at least 3 times in 90 days" reads no further item).

Pure logic: no AWS, no HTTP, no clock of its own (``now`` is passed in).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

MAX_BATCH_EVENTS = 100
# Clocks drift: an event may say it happened a little after our "now".
MAX_FUTURE_SKEW = timedelta(minutes=5)
MAX_PROPERTIES_BYTES = 4096  # the properties object, as compact JSON
MAX_PROPERTIES_DEPTH = 4  # the object itself is level 1
MAX_PROPERTY_KEY_LENGTH = 64
# The friend's profile keeps aggregates of at most this many event names (the item
# stays far below DynamoDB's 400 KB); events of further names still go on the timeline.
MAX_TRACKED_EVENT_NAMES = 30
# Day buckets kept per name: the longest window an event condition may ask about.
MAX_EVENT_WINDOW_DAYS = 400
# The latest event's top-level scalar properties kept on the profile (segment tests).
MAX_LATEST_PROPERTIES = 20
MAX_LATEST_TEXT_LENGTH = 200

EVENT_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
LINE_USER_ID = re.compile(r"^U[0-9a-f]{32}$")

EventName = Annotated[str, StringConstraints(pattern=EVENT_NAME.pattern)]
IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=128)]
ScalarProperty = str | int | float | bool


class EventRejected(ValueError):
    """One event of a batch cannot be applied; ``reason`` says why (for the caller)."""

    def __init__(self, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.field = field


class EventIn(BaseModel):
    """One event as the shop sends it."""

    # defer_build: validators built on first use, not at import (cold starts).
    model_config = ConfigDict(
        frozen=True, extra="forbid", str_strip_whitespace=False, defer_build=True
    )

    name: EventName
    # The LINE user id ("U" + 32 hex). ``member_id`` (the shop's own id) needs an ID link.
    user: str | None = Field(default=None, max_length=64)
    member_id: str | None = Field(default=None, min_length=1, max_length=128)
    occurred_at: AwareDatetime
    idempotency_key: IdempotencyKey
    properties: dict[str, Any] = Field(default_factory=dict)
    value: float | None = Field(default=None, strict=True)  # a number, not "42" or true

    @field_validator("user")
    @classmethod
    def _line_user_id(cls, user: str | None) -> str | None:
        if user is not None and not LINE_USER_ID.fullmatch(user):
            raise ValueError("user is a LINE user id: 'U' followed by 32 hex digits")
        return user

    @field_validator("idempotency_key", "member_id")
    @classmethod
    def _text(cls, text: str | None) -> str | None:
        if text is not None:
            try:
                text.encode("utf-8")
            except UnicodeEncodeError as error:
                raise ValueError("must be UTF-8 text (no unpaired surrogates)") from error
        return text

    @field_validator("value")
    @classmethod
    def _finite(cls, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise ValueError("value must be a finite number")
        return value

    @field_validator("properties")
    @classmethod
    def _bounded(cls, properties: dict[str, Any]) -> dict[str, Any]:
        check_properties(properties)
        return properties


def check_properties(properties: Mapping[str, Any]) -> None:
    """Bounded size and depth, string keys of bounded length, finite numbers."""
    try:
        size = len(json.dumps(properties, ensure_ascii=False, allow_nan=False).encode("utf-8"))
    except (ValueError, UnicodeEncodeError) as error:
        raise ValueError("properties must be JSON: finite numbers, UTF-8 text") from error
    if size > MAX_PROPERTIES_BYTES:
        raise ValueError(f"properties take {size} bytes as JSON; at most {MAX_PROPERTIES_BYTES}")
    pending: list[tuple[Any, int]] = [(properties, 1)]
    while pending:
        node, depth = pending.pop()
        if isinstance(node, dict):
            if depth > MAX_PROPERTIES_DEPTH:
                raise ValueError(f"properties nest at most {MAX_PROPERTIES_DEPTH} levels deep")
            for key, inner in node.items():
                if not key or len(key) > MAX_PROPERTY_KEY_LENGTH:
                    raise ValueError(f"property names have 1-{MAX_PROPERTY_KEY_LENGTH} characters")
                pending.append((inner, depth + 1))
        elif isinstance(node, list):
            if depth > MAX_PROPERTIES_DEPTH:
                raise ValueError(f"properties nest at most {MAX_PROPERTIES_DEPTH} levels deep")
            pending.extend((inner, depth + 1) for inner in node)


@dataclass(frozen=True)
class BehaviourEventRecord:
    """A checked event, ready to store: the user resolved to a LINE user id."""

    name: str
    user_id: str
    occurred_at: datetime  # aware
    idempotency_key: str
    properties: Mapping[str, Any]
    value: float | None
    source: str


def parse_event(
    raw: Any,
    *,
    source: str,
    now: datetime,
    retention_days: int,
    resolve_member: Callable[[str], str | None] | None = None,
) -> BehaviourEventRecord:
    """The event in ``raw``, or ``EventRejected`` with the first reason it cannot apply.

    ``resolve_member`` finds the LINE user ID-linked to a member id (None: not linked);
    without it, events naming a ``member_id`` are refused."""
    if not isinstance(raw, dict):
        raise EventRejected("an event is a JSON object")
    try:
        event = EventIn.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "event"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise EventRejected(f"{where}: {message}", where) from error
    if event.user is not None and event.member_id is not None:
        raise EventRejected("give user or member_id, not both", "member_id")
    user_id = event.user
    if user_id is None:
        if event.member_id is None:
            raise EventRejected(
                "user: give the friend's LINE user id (or member_id once ID-linked)", "user"
            )
        user_id = resolve_member(event.member_id) if resolve_member else None
        if user_id is None:
            raise EventRejected(
                "member_id: no friend of this channel is ID-linked to this member id "
                "(docs/id-linking.md); send the LINE user id as user",
                "member_id",
            )
    if event.occurred_at > now + MAX_FUTURE_SKEW:
        raise EventRejected(
            f"occurred_at is more than {int(MAX_FUTURE_SKEW.total_seconds() // 60)} minutes "
            "in the future",
            "occurred_at",
        )
    if event.occurred_at < now - timedelta(days=retention_days):
        raise EventRejected(
            f"occurred_at is older than the {retention_days} days events are kept",
            "occurred_at",
        )
    return BehaviourEventRecord(
        name=event.name,
        user_id=user_id,
        occurred_at=event.occurred_at,
        idempotency_key=event.idempotency_key,
        properties=event.properties,
        value=event.value,
        source=source,
    )


# ---------------------------------------------------------------- aggregates
class EventStats(BaseModel):
    """A friend's aggregate of one event name, kept on the profile on every write.

    ``days`` counts events per day (the account's time zone, ``YYYY-MM-DD``) for the
    last ``MAX_EVENT_WINDOW_DAYS`` days; ``count`` counts every event ever applied. The
    ``latest_*`` values are those of the event with the latest ``occurred_at`` (an event
    arriving late does not replace a newer one).
    """

    model_config = ConfigDict(frozen=True, extra="ignore", defer_build=True)

    count: int = 0
    days: dict[str, int] = Field(default_factory=dict)
    first_at: datetime | None = None
    last_at: datetime | None = None
    latest_value: float | None = None
    latest_properties: dict[str, ScalarProperty] = Field(default_factory=dict)

    def count_since(self, first_day: date) -> int:
        """Events on ``first_day`` or later (day buckets)."""
        start = first_day.isoformat()
        return sum(count for day, count in self.days.items() if day >= start)

    def as_item(self) -> dict[str, Any]:
        """The stats as stored (plain JSON values)."""
        return self.model_dump(mode="json", exclude_none=True)


def _latest_properties(properties: Mapping[str, Any]) -> dict[str, ScalarProperty]:
    kept: dict[str, ScalarProperty] = {}
    for key, value in properties.items():
        if len(kept) >= MAX_LATEST_PROPERTIES:
            break
        if isinstance(value, str):
            kept[key] = value[:MAX_LATEST_TEXT_LENGTH]
        elif isinstance(value, bool | int | float):
            kept[key] = value
    return kept


def record_event(
    stats: EventStats | None, event: BehaviourEventRecord, zone: ZoneInfo, now: datetime
) -> EventStats:
    """``stats`` with ``event`` counted; day buckets older than the window dropped."""
    stats = stats or EventStats()
    day = event.occurred_at.astimezone(zone).date().isoformat()
    oldest = (now.astimezone(zone).date() - timedelta(days=MAX_EVENT_WINDOW_DAYS)).isoformat()
    days = {d: n for d, n in stats.days.items() if d >= oldest}
    if day >= oldest:
        days[day] = days.get(day, 0) + 1
    newest = stats.last_at is None or event.occurred_at >= stats.last_at
    return EventStats(
        count=stats.count + 1,
        days=dict(sorted(days.items())),
        first_at=(
            event.occurred_at
            if stats.first_at is None or event.occurred_at < stats.first_at
            else stats.first_at
        ),
        last_at=event.occurred_at if newest else stats.last_at,
        latest_value=event.value if newest else stats.latest_value,
        latest_properties=(
            _latest_properties(event.properties) if newest else stats.latest_properties
        ),
    )
