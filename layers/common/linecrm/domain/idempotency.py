"""Idempotency keys for the admin routes that create something.

A client sends ``Idempotency-Key: <key>`` with a creating request. The first request
with a key stores a record (channel + key) with a fingerprint of the request and the
id reserved for the resource it creates, *before* creating it, with a conditional
write, so that of two concurrent requests exactly one creates. The others:

- same fingerprint, creation finished: get the same resource back (nothing is sent
  twice);
- same fingerprint, creation still running: wait briefly for it, then ``409`` (retry
  with the same key);
- another fingerprint (another body, or another route): ``422`` with the reason.

A request that crashed between claiming and finishing leaves its record ``pending``
with a lease (the admin function's timeout). After the lease a retry takes it over
and creates the resource under the reserved id; the ``create`` callback treats a
resource already stored under that id as created by the earlier attempt.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol, TypeVar

KEY_PATTERN = r"^[\x21-\x7e]{1,255}$"
"""What a key may be: 1-255 printable ASCII characters, no spaces (a UUID fits)."""
KEY_TTL = timedelta(hours=24)
"""How long a key is remembered: a retry a day later creates anew."""

T = TypeVar("T")


class IdempotencyKeyReused(ValueError):
    """The key was used for a different request (HTTP 422)."""


class IdempotencyKeyInProgress(RuntimeError):
    """A request with this key is still creating its resource (HTTP 409, retry)."""


@dataclass(frozen=True)
class KeyRecord:
    channel_id: str
    key: str
    operation: str  # e.g. "POST /broadcasts"
    fingerprint: str
    resource_id: str
    state: Literal["pending", "done"]
    lease_until: datetime
    expires_at: datetime


class KeyStore(Protocol):
    def claim(self, record: KeyRecord, now: datetime) -> KeyRecord | None:
        """Store ``record`` unless the key is taken (and not expired at ``now``); else
        the stored record."""
        ...

    def take_over(self, stale: KeyRecord, lease_until: datetime) -> bool:
        """Renew the lease of ``stale`` if nobody did meanwhile; False if someone did."""
        ...

    def complete(self, record: KeyRecord) -> None: ...

    def release(self, record: KeyRecord) -> None:
        """End the lease of ``record`` now: a retry with the key takes over at once."""
        ...


def fingerprint(operation: str, body: Any) -> str:
    """The same for requests that mean the same (JSON with sorted keys, then SHA-256)."""
    text = json.dumps(
        {"operation": operation, "body": body},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    )
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def fingerprint_bytes(operation: str, data: bytes, **parameters: Any) -> str:
    """A fingerprint of a raw body (a CSV) and the request's parameters."""
    return fingerprint(operation, {"sha256": hashlib.sha256(data).hexdigest(), **parameters})


class CreateOnce:
    """Runs a creating request at most once per (channel, key)."""

    def __init__(
        self,
        store: KeyStore,
        clock: Callable[[], datetime],
        sleep: Callable[[float], None],
        *,
        lease: timedelta,
        wait_seconds: float = 5.0,
        poll_seconds: float = 0.25,
    ) -> None:
        self._store = store
        self._clock = clock
        self._sleep = sleep
        self._lease = lease
        self._wait_seconds = wait_seconds
        self._poll_seconds = poll_seconds

    def run(
        self,
        channel_id: str,
        key: str | None,
        *,
        operation: str,
        fingerprint: str,
        new_id: str,
        create: Callable[[str], T],
        load: Callable[[str], T | None],
    ) -> T:
        """``create(resource_id)`` once for the key; later requests get ``load(resource_id)``."""
        if key is None:
            return create(new_id)
        waited = 0.0
        while True:
            now = self._clock()
            mine = KeyRecord(
                channel_id=channel_id,
                key=key,
                operation=operation,
                fingerprint=fingerprint,
                resource_id=new_id,
                state="pending",
                lease_until=now + self._lease,
                expires_at=now + KEY_TTL,
            )
            stored = self._store.claim(mine, now)
            if stored is None:
                return self._create(mine, create)
            _check_same_request(stored, operation, fingerprint)
            if stored.state == "done":
                resource = load(stored.resource_id)
                if resource is None:
                    raise IdempotencyKeyReused(
                        f"Idempotency-Key {key!r} created {stored.resource_id}, which no "
                        "longer exists; use a new key"
                    )
                return resource
            if stored.lease_until <= now:
                # The request that claimed it crashed: finish its work under its id.
                if self._store.take_over(stored, now + self._lease):
                    return self._create(stored, create)
                continue
            if waited >= self._wait_seconds:
                raise IdempotencyKeyInProgress(
                    f"a request with Idempotency-Key {key!r} is still being processed; "
                    "retry with the same key"
                )
            self._sleep(self._poll_seconds)
            waited += self._poll_seconds

    def _create(self, record: KeyRecord, create: Callable[[str], T]) -> T:
        try:
            resource = create(record.resource_id)
        except BaseException:
            # Refused or failed: a retry of the same request may run it again (its
            # ``create`` resumes under the same id), not only once the lease is over.
            self._store.release(record)
            raise
        self._store.complete(record)
        return resource


def _check_same_request(stored: KeyRecord, operation: str, fingerprint: str) -> None:
    if stored.operation != operation:
        raise IdempotencyKeyReused(
            f"Idempotency-Key {stored.key!r} was used for {stored.operation}; use a new key "
            f"for {operation}"
        )
    if stored.fingerprint != fingerprint:
        raise IdempotencyKeyReused(
            f"Idempotency-Key {stored.key!r} was used with a different request body "
            f"(it created {stored.resource_id}); use a new key for a different request"
        )
