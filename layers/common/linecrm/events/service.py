"""Receiving one events request: authenticate the source, refuse replays, then apply
each event of the batch once and answer per event (docs/events.md)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http import HTTPStatus
from typing import Any, Literal, Protocol
from zoneinfo import ZoneInfo

from linecrm.domain.events import (
    MAX_BATCH_EVENTS,
    BehaviourEventRecord,
    EventRejected,
    parse_event,
)
from linecrm.domain.signals import BehaviourEvent, Signals
from linecrm.events.signature import is_valid_signature, signature_digest
from linecrm.events.sources import EventSourceDirectory, UnknownSource
from linecrm.http_bodies import UnreadableBody, loads_json
from linecrm.observability import logger
from linecrm.repositories.events import ApplyOutcome, KnownStats

# A request's timestamp may be this far from our clock, either way.
TIMESTAMP_TOLERANCE = timedelta(minutes=5)
# A signature is remembered past the window it could be accepted in (both ways).
REPLAY_MEMORY = 2 * TIMESTAMP_TOLERANCE + timedelta(minutes=1)
# 100 events of the largest allowed properties, with room for the rest of each event.
MAX_BODY_BYTES = 1024 * 1024

SOURCE_HEADER = "x-linecrm-source"
TIMESTAMP_HEADER = "x-linecrm-timestamp"
SIGNATURE_HEADER = "x-linecrm-signature"

EventStatus = Literal["applied", "duplicate", "rejected"]
UNKNOWN_USER_REASON = (
    "user: not a friend of this channel (linecrm has seen no follow from this LINE user id)"
)


class EventsRejected(Exception):
    """The request is refused as a whole: this status, reason and (maybe) field."""

    def __init__(self, status: int, reason: str, field: str | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.field = field


@dataclass(frozen=True)
class EventResult:
    index: int
    status: EventStatus
    idempotency_key: str | None = None
    reason: str | None = None
    field: str | None = None


@dataclass
class BatchResult:
    results: list[EventResult] = field(default_factory=list)
    listener_failures: int = 0  # applied events whose signal a listener failed on

    def count(self, status: EventStatus) -> int:
        return sum(1 for result in self.results if result.status == status)


class EventApplier(Protocol):
    def apply(
        self,
        channel_id: str,
        event: BehaviourEventRecord,
        *,
        now: datetime,
        retention: timedelta,
        zone: ZoneInfo,
        known: KnownStats | None = None,
    ) -> ApplyOutcome: ...

    def prefetch(self, channel_id: str, user_ids: Iterable[str]) -> KnownStats: ...


class MemberDirectory(Protocol):
    def user_of_member(self, channel_id: str, member_id: str) -> str | None: ...


class ReplayGuard(Protocol):
    def remember(
        self, channel_id: str, signature: str, *, now: datetime, keep: timedelta
    ) -> bool: ...


@dataclass(frozen=True)
class _Checked:
    index: int
    event: BehaviourEventRecord


@dataclass(frozen=True)
class SignedRequest:
    channel_id: str
    body: bytes
    source: str | None
    timestamp: str | None
    signature: str | None


class EventsReceiver:
    def __init__(
        self,
        sources: EventSourceDirectory,
        replays: ReplayGuard,
        store: EventApplier,
        signals: Signals,
        clock: Callable[[], datetime],
        *,
        retention_days: int,
        time_zone: str,
        members: MemberDirectory | None = None,
    ) -> None:
        """``members``: who is ID-linked to a member id (events may name ``member_id``)."""
        self._members = members
        self._authenticator = RequestAuthenticator(sources, replays)
        self._store = store
        self._signals = signals
        self._clock = clock
        self._retention_days = retention_days
        self._zone = ZoneInfo(time_zone)

    def receive(self, request: SignedRequest) -> BatchResult:
        now = self._clock()
        source = self._authenticate(request, now)
        return self.apply_batch(request.channel_id, _parse_batch(request.body), source, now)

    def apply_batch(
        self, channel_id: str, raw_events: list[Any], source: str, now: datetime
    ) -> BatchResult:
        """Check and apply events of an already authenticated ``source`` (the signed
        API above, or the web tag's ``POST /events/web``): the same checks, store and
        listeners, so both drive the same triggers and segments."""
        checked = [
            self._check(channel_id, index, raw, source, now) for index, raw in enumerate(raw_events)
        ]
        events = [item for item in checked if isinstance(item, _Checked)]
        # One read for the batch's friends (not one per event).
        known = (
            self._store.prefetch(channel_id, {c.event.user_id for c in events}) if events else {}
        )
        batch = BatchResult()
        for item in checked:
            if isinstance(item, EventResult):
                batch.results.append(item)
            else:
                batch.results.append(self._apply(channel_id, item, now, known, batch))
        return batch

    def _authenticate(self, request: SignedRequest, now: datetime) -> str:
        return self._authenticator.authenticate(request, now)

    # ------------------------------------------------------------ events
    def _check(
        self, channel_id: str, index: int, raw: Any, source: str, now: datetime
    ) -> _Checked | EventResult:
        key = raw.get("idempotency_key") if isinstance(raw, dict) else None
        key = key if isinstance(key, str) and len(key) <= 128 else None
        try:
            event = parse_event(
                raw,
                source=source,
                now=now,
                retention_days=self._retention_days,
                resolve_member=self._resolver(channel_id),
            )
        except EventRejected as error:
            return EventResult(index, "rejected", key, error.reason, error.field)
        return _Checked(index, event)

    def _resolver(self, channel_id: str) -> Callable[[str], str | None] | None:
        members = self._members
        if members is None:
            return None
        return lambda member_id: members.user_of_member(channel_id, member_id)

    def _apply(
        self,
        channel_id: str,
        checked: _Checked,
        now: datetime,
        known: KnownStats,
        batch: BatchResult,
    ) -> EventResult:
        index, event, key = checked.index, checked.event, checked.event.idempotency_key
        outcome = self._store.apply(
            channel_id,
            event,
            now=now,
            retention=timedelta(days=self._retention_days),
            zone=self._zone,
            known=known,
        )
        if outcome is ApplyOutcome.UNKNOWN_USER:
            return EventResult(index, "rejected", key, UNKNOWN_USER_REASON, "user")
        if outcome is ApplyOutcome.DUPLICATE:
            return EventResult(index, "duplicate", key)
        if not self._emit(channel_id, event):
            batch.listener_failures += 1
        return EventResult(index, "applied", key)

    def _emit(self, channel_id: str, event: BehaviourEventRecord) -> bool:
        """Tell the listeners (the scenario engine); False when one of them failed."""
        signal = BehaviourEvent(
            channel_id=channel_id,
            user_id=event.user_id,
            occurred_at=event.occurred_at.astimezone(UTC),
            name=event.name,
            # The event's ``value`` is a property too, so triggers can test it
            # (``where: [{property: value, op: gte, value: 3000}]``).
            properties=_with_value(event.properties, event.value),
            idempotency_key=event.idempotency_key,
            source=event.source,
        )
        try:
            notes = self._signals.emit(signal)
        except Exception:
            # The event is stored (the shop must not resend it): a listener's failure
            # is ours to see in the logs and metrics, not the caller's.
            logger.exception(
                "a listener failed on a behaviour event",
                extra={"event": event.name, "idempotency_key": event.idempotency_key},
            )
            return False
        if notes:
            logger.info("behaviour event", extra={"event": event.name, "notes": list(notes)})
        return True


class RequestAuthenticator:
    """Checks a request the shop signed (docs/events.md): its source, its HMAC over
    timestamp and body with one of the source's keys, the timestamp's age, and that the
    signature was not seen before. The events API and the ID-linking API (the same
    shop backend, the same keys) both authenticate with it."""

    def __init__(self, sources: EventSourceDirectory, replays: ReplayGuard) -> None:
        self._sources = sources
        self._replays = replays

    def authenticate(self, request: SignedRequest, now: datetime) -> str:
        """The source that signed ``request``; ``EventsRejected`` (401, 413) otherwise."""
        if len(request.body) > MAX_BODY_BYTES:
            raise EventsRejected(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                f"the body has more than {MAX_BODY_BYTES} bytes; send smaller batches",
                "body",
            )
        source = (request.source or "").strip()
        if not source:
            raise EventsRejected(HTTPStatus.UNAUTHORIZED, "missing X-Linecrm-Source header")
        timestamp = (request.timestamp or "").strip()
        if not timestamp.isdigit() or len(timestamp) > 12:
            raise EventsRejected(
                HTTPStatus.UNAUTHORIZED,
                "missing or malformed X-Linecrm-Timestamp header (unix time in seconds)",
            )
        digest = signature_digest(request.signature)
        if digest is None:
            raise EventsRejected(
                HTTPStatus.UNAUTHORIZED,
                "missing or malformed X-Linecrm-Signature header (HMAC-SHA256 as hex or base64)",
            )
        try:
            keys = self._sources.keys(request.channel_id, source)
            valid = is_valid_signature(keys, timestamp, request.body, digest)
            if not valid and self._sources.may_refresh(request.channel_id):
                # A key rotated moments ago: read the secret once more, past the cache.
                keys = self._sources.keys(request.channel_id, source, fresh=True)
                valid = is_valid_signature(keys, timestamp, request.body, digest)
        except UnknownSource as error:
            # One answer for an unknown channel and an unknown source: which channel
            # ids exist is not told to whoever asks.
            logger.warning(
                "events from unknown source",
                extra={"channel_id": request.channel_id, "source": source[:64]},
            )
            raise EventsRejected(
                HTTPStatus.UNAUTHORIZED, "unknown source for this channel"
            ) from error
        if not valid:
            raise EventsRejected(HTTPStatus.UNAUTHORIZED, "invalid signature")
        if abs(now.timestamp() - int(timestamp)) > TIMESTAMP_TOLERANCE.total_seconds():
            raise EventsRejected(
                HTTPStatus.UNAUTHORIZED,
                f"stale timestamp: X-Linecrm-Timestamp is more than "
                f"{int(TIMESTAMP_TOLERANCE.total_seconds() // 60)} minutes from the server's "
                f"time ({int(now.timestamp())}); sign each request when you send it",
            )
        if not self._replays.remember(
            request.channel_id, digest.hex(), now=now, keep=REPLAY_MEMORY
        ):
            raise EventsRejected(
                HTTPStatus.UNAUTHORIZED,
                "replayed request: this signature was seen before; sign a retry anew "
                "(a new timestamp), the idempotency keys make it safe",
            )
        return source


def _parse_batch(body: bytes) -> list[Any]:
    try:
        document = loads_json(body)
    except UnreadableBody as error:
        raise EventsRejected(HTTPStatus.BAD_REQUEST, error.reason, "body") from error
    except ValueError as error:
        raise EventsRejected(
            HTTPStatus.BAD_REQUEST, "the body is not valid JSON", "body"
        ) from error
    if not isinstance(document, dict) or "events" not in document:
        raise EventsRejected(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            'the body is a JSON object {"events": [...]}',
            "events",
        )
    extra = sorted(str(key) for key in document if key != "events")
    if extra:
        raise EventsRejected(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            f"unknown top-level fields: {', '.join(extra)[:200]}; only events",
            extra[0][:64],
        )
    events = document["events"]
    if not isinstance(events, list):
        raise EventsRejected(HTTPStatus.UNPROCESSABLE_ENTITY, "events must be a list", "events")
    if not 1 <= len(events) <= MAX_BATCH_EVENTS:
        raise EventsRejected(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            f"events holds 1 to {MAX_BATCH_EVENTS} events, got {len(events)}",
            "events",
        )
    return events


def _with_value(properties: Mapping[str, Any], value: float | None) -> dict[str, Any]:
    merged = dict(properties)
    if value is not None:
        merged.setdefault("value", value)
    return merged
