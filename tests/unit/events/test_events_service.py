"""The events API's receiver: authentication (signature, timestamp, replay), per-event
results, once per idempotency key (stored and emitted once), aggregates on the friend."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from linecrm.domain.signals import BehaviourEvent, FriendSignal, Signals
from linecrm.events.service import (
    MAX_BODY_BYTES,
    EventsReceiver,
    EventsRejected,
    SignedRequest,
)
from linecrm.events.signature import compute_signature
from linecrm.events.sources import UnknownSource
from linecrm.repositories.events import EventStore, SeenSignatures
from linecrm.repositories.friends import FriendRepository
from tests.unit.conftest import CHANNEL_ID, AwsWorld

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
FRIEND = "U" + "a" * 32
BLOCKED = "U" + "b" * 32
STRANGER = "U" + "c" * 32
SOURCE = "shop-web"
KEY = "k" * 40
OLD_KEY = "o" * 40


class FakeSources:
    """The channel's sources as a dict; ``rotated`` is what a fresh read returns."""

    def __init__(self, keys: dict[str, tuple[str, ...]]) -> None:
        self.cached = keys
        self.rotated: dict[str, tuple[str, ...]] | None = None
        self.fresh_reads = 0

    def keys(self, channel_id: str, source_id: str, *, fresh: bool = False) -> tuple[str, ...]:
        if fresh:
            self.fresh_reads += 1
            if self.rotated is not None:
                self.cached = self.rotated
        if channel_id != CHANNEL_ID or source_id not in self.cached:
            raise UnknownSource(source_id)
        return self.cached[source_id]

    def may_refresh(self, channel_id: str) -> bool:
        return True


class RecordingListener:
    def __init__(self) -> None:
        self.heard: list[FriendSignal] = []

    def on_signal(self, signal: FriendSignal) -> Sequence[str]:
        self.heard.append(signal)
        return ()


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def world(aws: AwsWorld) -> dict[str, Any]:
    dynamodb = aws.client("dynamodb")
    table = aws.resources.table_names["Main"]
    friends = FriendRepository(dynamodb, table)
    friends.record_follow(CHANNEL_ID, FRIEND, NOW - timedelta(days=30))
    friends.record_follow(CHANNEL_ID, BLOCKED, NOW - timedelta(days=30))
    friends.record_unfollow(CHANNEL_ID, BLOCKED, NOW - timedelta(days=1))
    listener = RecordingListener()
    clock = Clock(NOW)
    sources = FakeSources({SOURCE: (KEY, OLD_KEY)})
    store = EventStore(dynamodb, table, friends)
    receiver = EventsReceiver(
        sources,  # type: ignore[arg-type]
        SeenSignatures(dynamodb, table),
        store,
        Signals([listener]),
        clock,
        retention_days=400,
        time_zone="Asia/Tokyo",
    )
    return {
        "receiver": receiver,
        "listener": listener,
        "clock": clock,
        "friends": friends,
        "store": store,
        "sources": sources,
    }


def event(key: str, *, name: str = "purchase", user: str = FRIEND, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "user": user,
        "occurred_at": (NOW - timedelta(minutes=1)).isoformat(),
        "idempotency_key": key,
        **extra,
    }


_sent = iter(range(10**6))


def signed(
    body: bytes | dict[str, Any],
    *,
    key: str = KEY,
    at: datetime = NOW,
    source: str = SOURCE,
    signature: str | None = None,
) -> SignedRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    # A different timestamp per request (the same second would sign identical bytes).
    timestamp = str(int(at.timestamp()) - next(_sent) % 60)
    return SignedRequest(
        channel_id=CHANNEL_ID,
        body=raw,
        source=source,
        timestamp=timestamp,
        signature=signature or compute_signature(key, timestamp, raw),
    )


def refused(world: dict[str, Any], request: SignedRequest) -> EventsRejected:
    with pytest.raises(EventsRejected) as raised:
        world["receiver"].receive(request)
    return raised.value


# ---------------------------------------------------------------- authentication
def test_a_correctly_signed_batch_is_applied_and_emitted(world: dict[str, Any]) -> None:
    batch = world["receiver"].receive(
        signed({"events": [event("order-1", value=4200, properties={"sku": "A1"})]})
    )
    assert [(r.status, r.idempotency_key) for r in batch.results] == [("applied", "order-1")]
    (heard,) = world["listener"].heard
    assert isinstance(heard, BehaviourEvent)
    assert (heard.channel_id, heard.user_id, heard.name, heard.source) == (
        CHANNEL_ID,
        FRIEND,
        "purchase",
        SOURCE,
    )
    assert heard.properties == {"sku": "A1", "value": 4200}  # the value is a property too
    assert heard.occurred_at == NOW - timedelta(minutes=1)


def test_a_bad_signature_is_401_and_nothing_applies(world: dict[str, Any]) -> None:
    error = refused(world, signed({"events": [event("order-1")]}, key="x" * 40))
    assert (error.status, error.reason) == (401, "invalid signature")
    assert world["listener"].heard == []
    assert world["friends"].get(CHANNEL_ID, FRIEND).event_stats == {}


def test_a_signature_over_other_bytes_is_401(world: dict[str, Any]) -> None:
    request = signed({"events": [event("order-1")]})
    tampered = SignedRequest(
        request.channel_id,
        request.body.replace(b"order-1", b"order-2"),
        request.source,
        request.timestamp,
        request.signature,
    )
    assert refused(world, tampered).status == 401


def test_the_previous_key_still_works_during_a_rotation(world: dict[str, Any]) -> None:
    batch = world["receiver"].receive(signed({"events": [event("order-1")]}, key=OLD_KEY))
    assert batch.count("applied") == 1


def test_a_key_rotated_after_the_cache_is_read_again(world: dict[str, Any]) -> None:
    new_key = "n" * 40
    world["sources"].rotated = {SOURCE: (new_key, KEY)}
    batch = world["receiver"].receive(signed({"events": [event("order-1")]}, key=new_key))
    assert batch.count("applied") == 1
    assert world["sources"].fresh_reads == 1


def test_base64_signatures_are_accepted(world: dict[str, Any]) -> None:
    import base64

    raw = json.dumps({"events": [event("order-1")]}).encode()
    request = signed(raw)
    as_base64 = base64.b64encode(bytes.fromhex(str(request.signature))).decode()
    batch = world["receiver"].receive(
        SignedRequest(request.channel_id, raw, request.source, request.timestamp, as_base64)
    )
    assert batch.count("applied") == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"source": None}, "missing X-Linecrm-Source"),
        ({"source": "someone-else"}, "unknown source for this channel"),
        ({"channel_id": "9999999999"}, "unknown source for this channel"),
        ({"timestamp": None}, "X-Linecrm-Timestamp"),
        ({"timestamp": "yesterday"}, "X-Linecrm-Timestamp"),
        ({"signature": None}, "X-Linecrm-Signature"),
        ({"signature": "not a signature"}, "X-Linecrm-Signature"),
    ],
)
def test_missing_or_unknown_credentials_are_401_with_a_reason(
    world: dict[str, Any], change: dict[str, Any], reason: str
) -> None:
    request = signed({"events": [event("order-1")]})
    values = {**request.__dict__, **change}
    error = refused(world, SignedRequest(**values))
    assert error.status == 401
    assert reason in error.reason


@pytest.mark.parametrize("timestamp", ["0", "999999999999", "1796176800"])
def test_far_off_timestamps_are_401_not_a_crash(world: dict[str, Any], timestamp: str) -> None:
    raw = json.dumps({"events": [event("order-1")]}).encode()
    request = SignedRequest(
        CHANNEL_ID, raw, SOURCE, timestamp, compute_signature(KEY, timestamp, raw)
    )
    assert refused(world, request).reason.startswith("stale timestamp")


@pytest.mark.parametrize("offset", [timedelta(minutes=6), -timedelta(minutes=6)])
def test_a_stale_timestamp_is_401(world: dict[str, Any], offset: timedelta) -> None:
    raw = json.dumps({"events": [event("order-1")]}).encode()
    timestamp = str(int((NOW + offset).timestamp()))
    request = SignedRequest(
        CHANNEL_ID, raw, SOURCE, timestamp, compute_signature(KEY, timestamp, raw)
    )
    error = refused(world, request)
    assert error.status == 401
    assert error.reason.startswith("stale timestamp")
    assert world["listener"].heard == []


def test_a_timestamp_within_five_minutes_is_fine(world: dict[str, Any]) -> None:
    raw = json.dumps({"events": [event("order-1")]}).encode()
    timestamp = str(int((NOW - timedelta(minutes=4, seconds=50)).timestamp()))
    request = SignedRequest(
        CHANNEL_ID, raw, SOURCE, timestamp, compute_signature(KEY, timestamp, raw)
    )
    assert world["receiver"].receive(request).count("applied") == 1


def test_a_replayed_request_is_401(world: dict[str, Any]) -> None:
    request = signed({"events": [event("order-1")]})
    assert world["receiver"].receive(request).count("applied") == 1
    world["clock"].now = NOW + timedelta(seconds=30)
    error = refused(world, request)
    assert error.status == 401
    assert error.reason.startswith("replayed request")
    assert len(world["listener"].heard) == 1


def test_a_replay_record_outlives_the_timestamp_window(aws: AwsWorld) -> None:
    from linecrm.events.service import REPLAY_MEMORY, TIMESTAMP_TOLERANCE

    seen = SeenSignatures(aws.client("dynamodb"), aws.resources.table_names["Main"])
    assert REPLAY_MEMORY > 2 * TIMESTAMP_TOLERANCE
    assert seen.remember(CHANNEL_ID, "ab" * 32, now=NOW, keep=REPLAY_MEMORY)
    later = NOW + 2 * TIMESTAMP_TOLERANCE
    assert not seen.remember(CHANNEL_ID, "ab" * 32, now=later, keep=REPLAY_MEMORY)
    # Long after, TTL may not have deleted it yet: an expired record counts as gone.
    assert seen.remember(CHANNEL_ID, "ab" * 32, now=NOW + timedelta(hours=1), keep=REPLAY_MEMORY)


# ---------------------------------------------------------------- idempotency
def test_a_duplicate_idempotency_key_is_applied_and_emitted_once(world: dict[str, Any]) -> None:
    first = world["receiver"].receive(signed({"events": [event("order-1", value=100)]}))
    again = world["receiver"].receive(signed({"events": [event("order-1", value=100)]}))
    twice_in_one = world["receiver"].receive(
        signed({"events": [event("order-2"), event("order-2")]})
    )
    assert [r.status for r in first.results] == ["applied"]
    assert [r.status for r in again.results] == ["duplicate"]
    assert [r.status for r in twice_in_one.results] == ["applied", "duplicate"]
    heard = [s.idempotency_key for s in world["listener"].heard if isinstance(s, BehaviourEvent)]
    assert heard == ["order-1", "order-2"]
    stats = world["friends"].get(CHANNEL_ID, FRIEND).event_stats["purchase"]
    assert stats.count == 2
    timeline = world["store"].timeline(CHANNEL_ID, FRIEND)
    assert sorted(e.idempotency_key for e in timeline.events) == ["order-1", "order-2"]


def test_the_same_key_with_other_content_is_still_a_duplicate(world: dict[str, Any]) -> None:
    world["receiver"].receive(signed({"events": [event("order-1", value=100)]}))
    later = event("order-1", value=999, occurred_at=NOW.isoformat())
    batch = world["receiver"].receive(signed({"events": [later]}))
    assert [r.status for r in batch.results] == ["duplicate"]
    assert world["friends"].get(CHANNEL_ID, FRIEND).event_stats["purchase"].latest_value == 100


# ---------------------------------------------------------------- per-event errors
def test_bad_events_get_their_reason_and_the_good_ones_apply(world: dict[str, Any]) -> None:
    events: list[Any] = [
        event("ok-1"),
        event("bad-name", name="Purchase!"),
        event("bad-user", user="someone"),
        event("future", occurred_at=(NOW + timedelta(minutes=10)).isoformat()),
        event("naive", occurred_at="2026-12-02T10:00:00"),
        {
            "name": "purchase",
            "member_id": "M-1",
            "occurred_at": NOW.isoformat(),
            "idempotency_key": "member",
        },
        event("stranger", user=STRANGER),
        event("deep", properties={"a": {"b": {"c": {"d": {"e": 1}}}}}),
        event("big", properties={"text": "x" * 5000}),
        event("", name="purchase"),
        "not an object",
        event("extra", colour="red"),
        event("ok-2", name="page_view", user=BLOCKED),
        event("text-value", value="42"),
        event("bool-value", value=True),
    ]
    batch = world["receiver"].receive(signed({"events": events}))
    outcome = {r.index: (r.status, r.reason or "") for r in batch.results}
    assert [r.index for r in batch.results] == list(range(len(events)))
    assert outcome[0] == ("applied", "")
    assert outcome[12] == ("applied", "")  # a friend who blocked the account is still known
    for index, words in {
        1: "name",
        2: "LINE user id",
        3: "future",
        4: "timezone",
        5: "no friend of this channel is ID-linked",
        6: "not a friend",
        7: "nest",
        8: "bytes",
        9: "idempotency_key",
        10: "JSON object",
        11: "colour",
        13: "value",
        14: "value",
    }.items():
        status, reason = outcome[index]
        assert status == "rejected", (index, outcome[index])
        assert words in reason, (index, reason)
    heard = [s.idempotency_key for s in world["listener"].heard if isinstance(s, BehaviourEvent)]
    assert heard == ["ok-1", "ok-2"]
    assert world["friends"].get(CHANNEL_ID, STRANGER) is None  # no friend made up


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"not json", 400),
        (b"\xff\xfe", 400),
        (b"[" * 100 + b"]" * 100, 400),
        (b"[]", 422),
        (b'{"events": {}}', 422),
        (b'{"events": []}', 422),
        (json.dumps({"events": [{}] * 101}).encode(), 422),
        (b'{"events": [{}], "more": 1}', 422),
        (b'{"events": [' + b'"x",' * (MAX_BODY_BYTES // 4) + b'"x"]}', 413),
    ],
)
def test_a_body_that_is_no_batch_is_4xx_with_a_reason(
    world: dict[str, Any], body: bytes, status: int
) -> None:
    error = refused(world, signed(body))
    assert error.status == status
    assert error.reason


# ---------------------------------------------------------------- aggregates
def test_aggregates_count_by_day_and_keep_the_latest(world: dict[str, Any]) -> None:
    def at(days_ago: float) -> str:
        return (NOW - timedelta(days=days_ago)).isoformat()

    events = [
        event("p1", occurred_at=at(100), value=1000, properties={"cart_value": 1000}),
        event("p2", occurred_at=at(10), value=3000, properties={"cart_value": 3000}),
        event("p3", occurred_at=at(1), value=5000, properties={"cart_value": 5000, "x": [1]}),
        # Late but older than p3: counted, but not the latest.
        event("p4", occurred_at=at(2), value=1, properties={"cart_value": 1}),
    ]
    world["receiver"].receive(signed({"events": events}))
    stats = world["friends"].get(CHANNEL_ID, FRIEND).event_stats["purchase"]
    assert stats.count == 4
    assert sum(stats.days.values()) == 4
    assert stats.latest_value == 5000
    assert stats.latest_properties == {"cart_value": 5000}  # scalars only
    assert stats.last_at == NOW - timedelta(days=1)
    assert stats.first_at == NOW - timedelta(days=100)


def test_a_concurrent_event_of_the_same_name_is_not_lost(aws: AwsWorld) -> None:
    """Another event lands between our read of the aggregates and our write: the write's
    condition (the count read) fails, and the event is applied on a fresh read."""
    from linecrm.domain.events import BehaviourEventRecord, EventStats
    from linecrm.repositories.events import ApplyOutcome

    dynamodb = aws.client("dynamodb")
    table = aws.resources.table_names["Main"]
    friends = FriendRepository(dynamodb, table)
    friends.record_follow(CHANNEL_ID, FRIEND, NOW - timedelta(days=3))
    zone = ZoneInfo("Asia/Tokyo")
    retention = timedelta(days=400)

    def record(key: str) -> BehaviourEventRecord:
        return BehaviourEventRecord(
            name="purchase",
            user_id=FRIEND,
            occurred_at=NOW - timedelta(minutes=1),
            idempotency_key=key,
            properties={},
            value=None,
            source=SOURCE,
        )

    store = EventStore(dynamodb, table, friends)

    class RacingStore(EventStore):
        raced = False

        def _stats(self, channel_id: str, user_id: str) -> dict[str, EventStats] | None:
            seen = super()._stats(channel_id, user_id)
            if not self.raced:
                self.raced = True  # the other writer goes between our read and write
                other = store.apply(
                    CHANNEL_ID, record("other"), now=NOW, retention=retention, zone=zone
                )
                assert other is ApplyOutcome.APPLIED
            return seen

    racing = RacingStore(dynamodb, table, friends)
    outcome = racing.apply(CHANNEL_ID, record("ours"), now=NOW, retention=retention, zone=zone)
    assert outcome is ApplyOutcome.APPLIED
    stats = friends.get(CHANNEL_ID, FRIEND).event_stats["purchase"]
    assert stats.count == 2
    assert sum(stats.days.values()) == 2


class CountingClient:
    """A DynamoDB client that counts the operations called on it."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] = self.calls.get(name, 0) + 1
            return method(*args, **kwargs)

        return counted


def test_a_batch_reads_its_friends_once(world: dict[str, Any], aws: AwsWorld) -> None:
    client = CountingClient(aws.client("dynamodb"))
    table = aws.resources.table_names["Main"]
    receiver = EventsReceiver(
        world["sources"],
        SeenSignatures(aws.client("dynamodb"), table),
        EventStore(client, table, world["friends"]),  # type: ignore[arg-type]
        Signals(),
        world["clock"],
        retention_days=400,
        time_zone="Asia/Tokyo",
    )
    events = [event(f"p{i}", value=i) for i in range(5)] + [
        event(f"v{i}", name="page_view", user=BLOCKED) for i in range(3)
    ]
    batch = receiver.receive(signed({"events": events}))
    assert batch.count("applied") == 8
    # One BatchGetItem for both friends, no read per event, one transaction per event.
    assert client.calls == {"batch_get_item": 1, "transact_write_items": 8}
    assert world["friends"].get(CHANNEL_ID, FRIEND).event_stats["purchase"].count == 5
    assert world["friends"].get(CHANNEL_ID, BLOCKED).event_stats["page_view"].count == 3


def test_a_failing_listener_leaves_the_event_applied(world: dict[str, Any], aws: AwsWorld) -> None:
    class Broken:
        def on_signal(self, signal: FriendSignal) -> Sequence[str]:
            raise RuntimeError("the scenario engine is down")

    table = aws.resources.table_names["Main"]
    receiver = EventsReceiver(
        world["sources"],
        SeenSignatures(aws.client("dynamodb"), table),
        world["store"],
        Signals([Broken(), world["listener"]]),
        world["clock"],
        retention_days=400,
        time_zone="Asia/Tokyo",
    )
    batch = receiver.receive(signed({"events": [event("order-9")]}))
    assert [r.status for r in batch.results] == ["applied"]
    assert batch.listener_failures == 1
    again = receiver.receive(signed({"events": [event("order-9")]}))
    assert [r.status for r in again.results] == ["duplicate"]
