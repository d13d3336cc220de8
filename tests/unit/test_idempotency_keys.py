"""CreateOnce and its DynamoDB key store (moto): once per key, also under races."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from linecrm.domain.idempotency import (
    KEY_TTL,
    CreateOnce,
    IdempotencyKeyInProgress,
    IdempotencyKeyReused,
    KeyRecord,
    fingerprint,
)
from linecrm.repositories.idempotency_keys import IdempotencyKeyRepository
from tests.unit.conftest import CHANNEL_ID, AwsWorld

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Resources:
    """What ``create`` made, by id; ``created`` counts the calls."""

    stored: dict[str, str] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def create(self, resource_id: str) -> str:
        time.sleep(self.delay)
        with self.lock:
            self.created.append(resource_id)
            self.stored.setdefault(resource_id, f"resource {resource_id}")
        return self.stored[resource_id]

    def load(self, resource_id: str) -> str | None:
        return self.stored.get(resource_id)


def store(aws: AwsWorld) -> IdempotencyKeyRepository:
    return IdempotencyKeyRepository(aws.client("dynamodb"), aws.resources.table_names["Main"])


def run(
    once: CreateOnce,
    resources: Resources,
    key: str | None,
    body: object = "a",
    *,
    new_id: str = "r1",
    operation: str = "POST /things",
) -> str:
    return once.run(
        CHANNEL_ID,
        key,
        operation=operation,
        fingerprint=fingerprint(operation, body),
        new_id=new_id,
        create=resources.create,
        load=resources.load,
    )


def test_fingerprints_ignore_key_order_and_tell_bodies_apart() -> None:
    assert fingerprint("op", {"a": 1, "b": [1, 2]}) == fingerprint("op", {"b": [1, 2], "a": 1})
    assert fingerprint("op", {"a": 1}) != fingerprint("op", {"a": 2})
    assert fingerprint("op", {"a": 1}) != fingerprint("other", {"a": 1})


def test_the_same_key_creates_once_and_answers_with_the_first_resource(aws: AwsWorld) -> None:
    resources = Resources()
    once = CreateOnce(store(aws), Clock(), time.sleep, lease=LEASE)

    first = run(once, resources, "k1", new_id="r1")
    again = run(once, resources, "k1", new_id="r2")

    assert first == again == "resource r1"
    assert resources.created == ["r1"]
    assert run(once, resources, None, new_id="r3") == "resource r3"  # no key: no memory
    assert run(once, resources, "k2", new_id="r4") == "resource r4"


def test_another_body_or_operation_with_the_key_is_refused(aws: AwsWorld) -> None:
    resources = Resources()
    once = CreateOnce(store(aws), Clock(), time.sleep, lease=LEASE)
    run(once, resources, "k1", {"name": "sale"})

    with pytest.raises(IdempotencyKeyReused, match="different request body"):
        run(once, resources, "k1", {"name": "other"}, new_id="r2")
    with pytest.raises(IdempotencyKeyReused, match="was used for POST /things"):
        run(once, resources, "k1", {"name": "sale"}, new_id="r3", operation="POST /other")
    assert resources.created == ["r1"]


def test_concurrent_requests_with_one_key_create_once(atomic_aws: AwsWorld) -> None:
    resources = Resources(delay=0.3)  # the first is still creating when the others come
    keys = store(atomic_aws)
    once = CreateOnce(keys, Clock(), time.sleep, lease=LEASE, wait_seconds=60, poll_seconds=0.05)
    start = threading.Barrier(6)

    def request(number: int) -> str:
        start.wait()
        return run(once, resources, "press-twice", new_id=f"r{number}")

    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(request, range(6)))

    assert len(resources.created) == 1
    assert set(answers) == {f"resource {resources.created[0]}"}
    record = keys.get(CHANNEL_ID, "press-twice")
    assert record is not None and record.state == "done"


def test_a_request_still_running_gives_in_progress_after_a_short_wait(aws: AwsWorld) -> None:
    keys = store(aws)
    keys.claim(pending_record(lease_until=NOW + LEASE), NOW)
    waits: list[float] = []
    once = CreateOnce(keys, Clock(), waits.append, lease=LEASE, wait_seconds=1, poll_seconds=0.25)

    with pytest.raises(IdempotencyKeyInProgress, match="retry with the same key"):
        run(once, Resources(), "k1")
    assert waits == [0.25] * 4


def test_a_crashed_request_is_taken_over_under_its_reserved_id(aws: AwsWorld) -> None:
    keys = store(aws)
    keys.claim(pending_record(resource_id="reserved", lease_until=NOW - timedelta(seconds=1)), NOW)
    resources = Resources()
    once = CreateOnce(keys, Clock(), time.sleep, lease=LEASE)

    assert run(once, resources, "k1", new_id="fresh") == "resource reserved"
    assert resources.created == ["reserved"]
    assert run(once, resources, "k1", new_id="fresh") == "resource reserved"
    assert resources.created == ["reserved"]


def test_a_failed_create_can_be_retried_with_the_key_at_once(aws: AwsWorld) -> None:
    keys = store(aws)
    once = CreateOnce(keys, Clock(), time.sleep, lease=LEASE, wait_seconds=0)
    resources = Resources()

    def failing(_resource_id: str) -> str:
        raise ConnectionError("queue unavailable")

    with pytest.raises(ConnectionError):
        once.run(
            CHANNEL_ID,
            "k1",
            operation="POST /things",
            fingerprint=fingerprint("POST /things", "a"),
            new_id="r1",
            create=failing,
            load=resources.load,
        )
    assert run(once, resources, "k1", new_id="r2") == "resource r1"  # same reserved id


def test_a_key_is_forgotten_after_its_ttl(aws: AwsWorld) -> None:
    clock = Clock()
    resources = Resources()
    once = CreateOnce(store(aws), clock, time.sleep, lease=LEASE)
    run(once, resources, "k1", new_id="r1")

    clock.now = NOW + KEY_TTL + timedelta(seconds=1)  # TTL deletes late: the claim checks

    assert run(once, resources, "k1", {"another": "body"}, new_id="r2") == "resource r2"


def pending_record(
    *, resource_id: str = "r0", lease_until: datetime, body: object = "a"
) -> KeyRecord:
    return KeyRecord(
        channel_id=CHANNEL_ID,
        key="k1",
        operation="POST /things",
        fingerprint=fingerprint("POST /things", body),
        resource_id=resource_id,
        state="pending",
        lease_until=lease_until,
        expires_at=NOW + KEY_TTL,
    )
