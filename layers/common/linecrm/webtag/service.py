"""``POST /events/web`` and its preflight (docs/web-tag.md): the key and its origin, the
rate limits, the visitor id, then the same events service as the signed events API.

Order of checks: the key (401), the Origin (403), the key's rate (429), the body
(400/413/422), the visitor id (401/403), the visitor's rate (429); then each event is
checked alone and answered in ``results`` (like the signed API).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from typing import Any, Protocol

from linecrm.domain.visitor_ids import VisitorId
from linecrm.domain.web_tag import (
    KEY_PATTERN,
    WEB_SOURCE,
    WebTagKey,
    WebTagRejected,
    behaviour_event,
    parse_web_event,
    parse_web_request,
)
from linecrm.events.service import BatchResult, EventResult
from linecrm.http_bodies import UnreadableBody, loads_json
from linecrm.observability import logger

MAX_WEB_BODY_BYTES = 16 * 1024
PREFLIGHT_MAX_AGE_SECONDS = 600
TAG_MAX_AGE_SECONDS = 300  # browsers and CDNs may keep tag.js this long
ANONYMOUS = "anonymous"


def cors_headers(origin: str) -> dict[str, str]:
    """The headers that let the page at ``origin`` (an allowed one) read the answer."""
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": "Retry-After",
        "Vary": "Origin",
    }


def preflight_headers(origin: str) -> dict[str, str]:
    """The preflight's answer for an allowed ``origin``: POST with a JSON body, no
    credentials (the tag sends none: the visitor id is in the body)."""
    return cors_headers(origin) | {
        "Access-Control-Allow-Methods": "POST",
        "Access-Control-Allow-Headers": "Content-Type",
        "Access-Control-Max-Age": str(PREFLIGHT_MAX_AGE_SECONDS),
    }


class WebTagKeys(Protocol):
    def get(self, key: str) -> WebTagKey | None: ...


class RateLimiter(Protocol):
    def hit(self, scope: str, limit: int, now: datetime) -> int | None: ...


class VisitorVerifier(Protocol):
    def verify(self, token: str, now: datetime) -> VisitorId | None: ...


class EventBatchApplier(Protocol):
    def apply_batch(
        self, channel_id: str, raw_events: list[Any], source: str, now: datetime
    ) -> BatchResult: ...


class RateLimited(WebTagRejected):
    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(HTTPStatus.TOO_MANY_REQUESTS, reason)
        self.retry_after = retry_after


@dataclass(frozen=True)
class WebRequest:
    key: str | None
    origin: str | None
    body: bytes


@dataclass(frozen=True)
class WebAnswer:
    """The answer's body and the origin it may be read from (CORS)."""

    body: dict[str, Any]
    origin: str


class WebEventsReceiver:
    def __init__(
        self,
        keys: WebTagKeys,
        limiter: RateLimiter,
        visitors: VisitorVerifier,
        events: EventBatchApplier,
        clock: Callable[[], datetime],
    ) -> None:
        self._keys = keys
        self._limiter = limiter
        self._visitors = visitors
        self._events = events
        self._clock = clock

    # ------------------------------------------------------------ CORS
    def allowed_origin(self, key: str | None, origin: str | None) -> str:
        """``origin`` when the key exists and lists it; ``WebTagRejected`` (401/403)."""
        found = self._key(key)
        if not found.allows(origin):
            raise WebTagRejected(
                HTTPStatus.FORBIDDEN,
                f"origin {str(origin or '(none)')[:100]!r} is not allowed for this web tag "
                "key (add it to the key's origins: linecrm webtag keys create --origin …)",
                "Origin",
            )
        return str(origin)

    def _key(self, key: str | None) -> WebTagKey:
        if not key or not KEY_PATTERN.fullmatch(key):
            raise WebTagRejected(
                HTTPStatus.UNAUTHORIZED,
                "missing or malformed key: POST /events/web?key=pk_… (the tag's data-key)",
                "key",
            )
        found = self._keys.get(key)
        if found is None:
            raise WebTagRejected(HTTPStatus.UNAUTHORIZED, "unknown or revoked web tag key", "key")
        return found

    # ------------------------------------------------------------ events
    def receive(self, request: WebRequest) -> WebAnswer:
        now = self._clock()
        key = self._key(request.key)
        origin = self.allowed_origin(request.key, request.origin)
        try:
            return WebAnswer(self._receive(key, request, now), origin)
        except WebTagRejected as error:
            error.origin = origin  # the page may read why
            raise

    def _receive(self, key: WebTagKey, request: WebRequest, now: datetime) -> dict[str, Any]:
        retry = self._limiter.hit(f"key#{key.key}", key.rate_per_minute, now)
        if retry is not None:
            raise RateLimited(
                f"this web tag key sends more than {key.rate_per_minute} requests a minute",
                retry,
            )
        envelope = parse_web_request(_document(request.body))
        visitor = self._visitor(key, envelope.visitor, now)
        if visitor is not None:
            retry = self._limiter.hit(
                f"visitor#{key.key}#{_pseudonym(visitor.user_id)}",
                key.visitor_rate_per_minute,
                now,
            )
            if retry is not None:
                raise RateLimited(
                    f"this visitor sends more than {key.visitor_rate_per_minute} requests a minute",
                    retry,
                )
        results: list[dict[str, Any] | None] = [None] * len(envelope.events)
        documents: list[Any] = []
        positions: list[int] = []
        for index, raw in enumerate(envelope.events):
            try:
                event = parse_web_event(raw)
            except WebTagRejected as error:
                results[index] = _result(index, "rejected", error.reason, error.field)
                continue
            if visitor is None:
                if event.name == "page_view":
                    # Accepted, and nothing is stored: no friend to attribute it to.
                    results[index] = _result(index, ANONYMOUS)
                else:
                    results[index] = _result(
                        index,
                        "rejected",
                        f"visitor: {event.name} needs a visitor id (a friend who came from "
                        "LINE); anonymous visitors send page_view only",
                        "visitor",
                    )
                continue
            positions.append(index)
            documents.append(behaviour_event(event, visitor.user_id, now))
        if documents:
            batch = self._events.apply_batch(key.channel_id, documents, WEB_SOURCE, now)
            for result in batch.results:
                results[positions[result.index]] = _from_batch(positions[result.index], result)
            if batch.listener_failures:
                logger.warning(
                    "a listener failed on web tag events",
                    extra={"failures": batch.listener_failures},
                )
        answered = [result for result in results if result is not None]
        return {
            status: sum(1 for result in answered if result["status"] == name)
            for status, name in (
                ("applied", "applied"),
                ("duplicates", "duplicate"),
                ("rejected", "rejected"),
                ("anonymous", ANONYMOUS),
            )
        } | {"results": answered}

    def _visitor(self, key: WebTagKey, token: str | None, now: datetime) -> VisitorId | None:
        if token is None or token == "":
            return None
        visitor = self._visitors.verify(token, now)
        if visitor is None:
            raise WebTagRejected(
                HTTPStatus.UNAUTHORIZED,
                "visitor: invalid or expired visitor id (drop it; a new one comes with the "
                "next visit from LINE)",
                "visitor",
            )
        if visitor.channel_id != key.channel_id:
            raise WebTagRejected(
                HTTPStatus.FORBIDDEN,
                "visitor: the visitor id is for another channel than this key",
                "visitor",
            )
        return visitor


def _pseudonym(user_id: str) -> str:
    """The friend in a rate counter's key: a hash, never the LINE user id itself."""
    return hashlib.sha256(user_id.encode()).hexdigest()[:24]


def _document(body: bytes) -> Any:
    if len(body) > MAX_WEB_BODY_BYTES:
        raise WebTagRejected(
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
            f"the body has more than {MAX_WEB_BODY_BYTES} bytes",
            "body",
        )
    try:
        return loads_json(body)
    except UnreadableBody as error:
        raise WebTagRejected(HTTPStatus.BAD_REQUEST, error.reason, "body") from error
    except ValueError as error:
        raise WebTagRejected(
            HTTPStatus.BAD_REQUEST, "the body is not valid JSON", "body"
        ) from error


def _result(
    index: int, status: str, reason: str | None = None, field: str | None = None
) -> dict[str, Any]:
    result: dict[str, Any] = {"index": index, "status": status}
    if reason is not None:
        result["reason"] = reason
    if field is not None:
        result["field"] = field
    return result


def _from_batch(index: int, result: EventResult) -> dict[str, Any]:
    return _result(index, result.status, result.reason, result.field)
