"""The broadcast planner and service on moto, with the queues and schedules faked."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest

from linecrm.broadcasts import planner as planner_module
from linecrm.broadcasts.planner import BroadcastPlanner
from linecrm.broadcasts.service import BroadcastRejected, BroadcastRequest, BroadcastService
from linecrm.domain.broadcasts import Broadcast, BroadcastStep, chunk_delivery_id
from linecrm.domain.deliveries import DeliveryStatus
from linecrm.domain.delivery_policy import DeliveryPolicy, QuietHours
from linecrm.domain.segments import audience_warnings
from linecrm.domain.tags import Tag
from linecrm.jobs import StepBudget, StepOutcome
from linecrm.line.client import MessageQuota
from linecrm.models.jobs import StartBroadcast
from linecrm.models.send import SendRequest
from linecrm.repositories.broadcasts import BroadcastRepository
from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm.repositories.deliveries import DeliveryLedger
from linecrm.repositories.dynamo import to_item
from linecrm.repositories.friends import FriendRepository, friend_key, friends_list_key
from tests.unit.conftest import CHANNEL_ID, AwsWorld

NOW = datetime(2026, 11, 23, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo
SALE = [{"type": "text", "text": "セール開催中"}]


class QueueCrashed(RuntimeError):
    pass


@dataclass
class FakeChunkQueue:
    """The send queue; ``crash_on`` puts (0-based) raise before anything is queued."""

    crash_on: set[int] = field(default_factory=set)
    puts: int = 0
    queued: list[SendRequest] = field(default_factory=list)

    def put_on_queue(self, request: SendRequest) -> None:
        attempt = self.puts
        self.puts += 1
        if attempt in self.crash_on:
            raise QueueCrashed(f"crashed before queueing {request.delivery_id}")
        self.queued.append(request)


@dataclass
class FakeSteps:
    steps: list[BroadcastStep] = field(default_factory=list)

    def send_step(self, step: BroadcastStep) -> None:
        self.steps.append(step)


@dataclass
class FakeSchedules:
    scheduled: list[tuple[str, datetime]] = field(default_factory=list)
    cancelled: list[str] = field(default_factory=list)

    def schedule(self, job: StartBroadcast, at: datetime) -> str:
        self.scheduled.append((job.job_id, at))
        return job.job_id

    def cancel(self, job_id: str) -> bool:
        self.cancelled.append(job_id)
        return True


@dataclass
class World:
    aws: AwsWorld
    broadcasts: BroadcastRepository
    friends: FriendRepository
    ledger: DeliveryLedger
    config: ChannelConfigRepository
    chunks: FakeChunkQueue
    steps: FakeSteps
    schedules: FakeSchedules
    deferred: list[tuple[SendRequest, datetime, str]] = field(default_factory=list)
    started_later: list[tuple[str, datetime]] = field(default_factory=list)

    def planner(self) -> BroadcastPlanner:
        return BroadcastPlanner(
            self.broadcasts,
            self.friends,
            self.ledger,
            self.config.load,
            self.chunks,
            self.steps,
            lambda broadcast, at: self.started_later.append((broadcast.broadcast_id, at)),
            self,
            lambda _channel: MessageQuota(limit=None, used=0),
            lambda: NOW,
        )

    def service(self) -> BroadcastService:
        return BroadcastService(
            self.broadcasts,
            self.ledger,
            self.friends,
            self.config.load,
            self.config,
            lambda: self.steps,
            lambda: self.schedules,
            lambda: NOW,
        )

    def defer(self, request: SendRequest, until: datetime, reason: str) -> None:
        self.deferred.append((request, until, reason))

    def add_friends(self, count: int, *, status: str = "active", tags: tuple[str, ...] = ()):
        table = self.aws.resources.table_names["Main"]
        start = len(self.friends.page_after(CHANNEL_ID, None, 1000)[0])
        user_ids = [f"U{start + n:032x}" for n in range(count)]
        for user_id in user_ids:
            self.aws.client("dynamodb").put_item(
                TableName=table,
                Item=to_item(
                    {
                        **friend_key(CHANNEL_ID, user_id),
                        "channel_id": CHANNEL_ID,
                        "user_id": user_id,
                        "gsi1pk": friends_list_key(CHANNEL_ID, user_id),
                        "gsi1sk": user_id,
                        "status": status,
                        "status_at": "2026-01-05T00:00:00.000+00:00",
                        "first_followed_at": "2026-01-05T00:00:00.000+00:00",
                        "last_followed_at": "2026-01-05T00:00:00.000+00:00",
                        "last_interaction_at": "2026-01-05T00:00:00.000+00:00",
                        "tags": dict.fromkeys(tags, "2026-01-05T00:00:00.000+00:00"),
                        "fields": {},
                        "rule_fired_at": {},
                    }
                ),
            )
        return user_ids


@pytest.fixture
def world(aws: AwsWorld) -> World:
    table = aws.resources.table_names["Main"]
    dynamodb = aws.client("dynamodb")
    return World(
        aws=aws,
        broadcasts=BroadcastRepository(dynamodb, table),
        friends=FriendRepository(dynamodb, table),
        ledger=DeliveryLedger(dynamodb, table),
        config=ChannelConfigRepository(dynamodb, table),
        chunks=FakeChunkQueue(),
        steps=FakeSteps(),
        schedules=FakeSchedules(),
    )


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> int:
    """Chunks (and friend pages) of 2, so a handful of friends make several chunks."""
    monkeypatch.setattr(planner_module, "PAGE_SIZE", 2)
    return 2


def budget(max_chunks: int | None = None) -> StepBudget:
    return StepBudget(lambda: 900_000, max_chunks=max_chunks)


def create(world: World, **request: Any) -> Broadcast:
    body: dict[str, Any] = {"name": "sale", "messages": SALE, "method": "multicast", **request}
    return world.service().create(CHANNEL_ID, BroadcastRequest(**body))


def chunk_recipients(world: World, broadcast_id: str) -> list[list[str]]:
    broadcast = world.broadcasts.get(CHANNEL_ID, broadcast_id)
    assert broadcast is not None
    ids = [chunk_delivery_id(broadcast_id, n) for n in range(broadcast.cursor.next_chunk)]
    found = world.ledger.get_many(ids)
    return [found[delivery_id].recipients for delivery_id in ids]


# ---------------------------------------------------------------- planner


def test_a_crash_between_commit_and_queue_put_is_resumed_from_the_ledger(
    world: World, small_chunks: int
) -> None:
    friends = world.add_friends(5)
    broadcast = create(world)
    planner = world.planner()
    world.chunks.crash_on = {1}  # chunk 0 goes on the queue; the put of chunk 1 crashes

    with pytest.raises(QueueCrashed):
        planner.run_step(CHANNEL_ID, broadcast.broadcast_id, budget())
    crashed = world.broadcasts.get(CHANNEL_ID, broadcast.broadcast_id)
    assert crashed is not None and crashed.status == "sending"
    assert crashed.cursor.next_chunk == 2 and crashed.cursor.enqueued_chunks == 1

    # The step's message is received again: chunk 1 is re-queued from its ledger row.
    outcome = planner.run_step(CHANNEL_ID, broadcast.broadcast_id, budget())

    assert outcome is StepOutcome.DONE
    queued_ids = [request.delivery_id for request in world.chunks.queued]
    assert sorted(queued_ids) == [chunk_delivery_id(broadcast.broadcast_id, n) for n in range(3)]
    assert len(set(queued_ids)) == len(queued_ids)  # no chunk queued twice
    ledger_chunks = chunk_recipients(world, broadcast.broadcast_id)
    assert [len(chunk) for chunk in ledger_chunks] == [2, 2, 1]
    everyone = [user for chunk in ledger_chunks for user in chunk]
    assert sorted(everyone) == sorted(friends)  # nobody twice, nobody lost
    requeued = next(r for r in world.chunks.queued if r.delivery_id.endswith(":1"))
    assert requeued.to == ledger_chunks[1] and requeued.messages == SALE
    done = world.broadcasts.get(CHANNEL_ID, broadcast.broadcast_id)
    assert done is not None and done.status == "sent"
    assert done.counters.recipients == 5 and done.counters.chunks == 3


def test_cancel_skips_queued_chunks_and_stops_planning(world: World, small_chunks: int) -> None:
    world.add_friends(5)
    broadcast = create(world)
    planner = world.planner()
    assert planner.run_step(CHANNEL_ID, broadcast.broadcast_id, budget(1)) is (StepOutcome.CONTINUE)
    assert len(world.chunks.queued) == 1

    cancelled = world.service().cancel(CHANNEL_ID, broadcast.broadcast_id)

    assert cancelled.status == "cancelled"
    first = world.ledger.get(chunk_delivery_id(broadcast.broadcast_id, 0))
    assert first is not None and first.status is DeliveryStatus.SKIPPED
    assert first.reason == "broadcast cancelled"
    # The continuation step on the job queue finds it cancelled and plans nothing more.
    assert planner.run_step(CHANNEL_ID, broadcast.broadcast_id, budget()) is (StepOutcome.FINISHED)
    assert len(world.chunks.queued) == 1
    report = world.service().report(CHANNEL_ID, broadcast.broadcast_id)
    assert report.deliveries == {"skipped": 1}
    assert report.broadcast.cursor.next_chunk == 1


def test_quiet_hours_times_are_in_the_accounts_time_zone(world: World) -> None:
    """12:00 in Tokyo is within quiet hours 11:00-13:00: the preview says when it would
    go out and the start is deferred until then, both in the account's zone."""
    world.add_friends(2)
    policy = DeliveryPolicy(
        time_zone="Asia/Tokyo", quiet_hours=QuietHours(start="11:00", end="13:00")
    )
    world.service().set_delivery_policy(CHANNEL_ID, policy)
    resume = "2026-11-23T13:00+09:00 (Asia/Tokyo)"

    preview = world.service().preview(CHANNEL_ID, BroadcastRequest(name="x", messages=SALE))
    assert f"quiet hours at that time: it will go out at {resume}" in preview.warnings

    broadcast = create(world)
    world.planner().run_step(CHANNEL_ID, broadcast.broadcast_id, budget())
    held = world.broadcasts.get(CHANNEL_ID, broadcast.broadcast_id)
    assert held is not None and held.status == "scheduled"
    assert held.reason == f"deferred by quiet hours until {resume}"
    assert world.started_later == [(broadcast.broadcast_id, datetime(2026, 11, 23, 4, tzinfo=UTC))]
    assert world.chunks.queued == []


# ---------------------------------------------------------------- service


def rejected(world: World, **request: Any) -> BroadcastRejected:
    with pytest.raises(BroadcastRejected) as raised:
        create(world, **request)
    assert world.broadcasts.recent(CHANNEL_ID) == []
    assert world.steps.steps == []
    return raised.value


def test_a_flex_message_with_a_bad_enum_is_rejected_on_messages(world: World) -> None:
    flex = {
        "type": "flex",
        "altText": "sale",
        "contents": {
            "type": "bubble",
            "body": {"type": "box", "layout": "diagonal", "contents": []},
        },
    }
    error = rejected(world, messages=[flex])
    assert error.field == "messages"
    assert "messages[0]" in error.reason or "layout" in error.reason


def test_an_unknown_placeholder_is_rejected_on_messages(world: World) -> None:
    error = rejected(world, messages=[{"type": "text", "text": "{nickname} さん、セールです"}])
    assert error.field == "messages"
    assert "unknown placeholder {nickname}" in error.reason


def test_a_segment_with_an_unknown_tag_is_rejected_on_segment(world: World) -> None:
    error = rejected(world, segment={"match": {"tag": "NoSuchTag"}})
    assert error.field == "segment"
    assert "NoSuchTag" in error.reason


def test_the_broadcast_endpoint_cannot_take_a_segment(world: World) -> None:
    world.config.create_tag(CHANNEL_ID, Tag(tag_id="vip", name="VIP"))
    error = rejected(world, method="broadcast", segment={"match": {"tag": "VIP"}})
    assert error.field == "method"
    assert "segment" in error.reason


def test_preview_counts_recipients_segment_and_blocked_friends(world: World) -> None:
    world.config.create_tag(CHANNEL_ID, Tag(tag_id="vip", name="VIP"))
    vips = world.add_friends(3, tags=("vip",))
    world.add_friends(2)  # not in the segment
    world.add_friends(1, status="blocked", tags=("vip",))

    preview = world.service().preview(
        CHANNEL_ID,
        BroadcastRequest(name="vip", messages=SALE, segment={"match": {"tag": "VIP"}}),
    )

    assert preview.recipients == 3
    assert preview.friends_considered == 6
    assert preview.not_in_segment == 2
    assert preview.blocked == 1
    assert preview.capped == 0 and preview.deferred == 0
    assert sorted(preview.sample_user_ids) == sorted(vips)
    assert preview.sample_messages == SALE
    assert preview.method == "multicast"
    assert any("only 3 recipients" in warning for warning in preview.warnings)
    # The audience warnings are the segments' own (one source for both previews).
    size_warnings = audience_warnings(3, subject="broadcast")
    assert len(size_warnings) == 2 and set(size_warnings) <= set(preview.warnings)
    # A preview creates nothing.
    assert world.broadcasts.recent(CHANNEL_ID) == []
    assert world.steps.steps == []


def test_a_whole_channel_preview_warns_only_when_it_reaches_no_one(world: World) -> None:
    world.add_friends(3)
    preview = world.service().preview(CHANNEL_ID, BroadcastRequest(name="all", messages=SALE))
    assert preview.recipients == 3
    assert preview.warnings == []  # no segment: nothing about small segments or narrowcast

    world.config.create_tag(CHANNEL_ID, Tag(tag_id="vip", name="VIP"))
    empty = world.service().preview(
        CHANNEL_ID,
        BroadcastRequest(name="vip", messages=SALE, segment={"match": {"tag": "VIP"}}),
    )
    assert empty.recipients == 0
    assert empty.warnings == ["no friend would receive this broadcast"]


def test_an_emoji_text_over_5000_utf16_units_is_rejected_on_messages(world: World) -> None:
    assert create(world, messages=[{"type": "text", "text": "😀" * 2500}])  # 5,000 units
    error = rejected_after_one(world, messages=[{"type": "text", "text": "😀" * 2600}])
    assert error.field == "messages"
    assert "5,200 UTF-16 units" in error.reason and "5,000" in error.reason


def rejected_after_one(world: World, **request: Any) -> BroadcastRejected:
    with pytest.raises(BroadcastRejected) as raised:
        create(world, **request)
    assert len(world.broadcasts.recent(CHANNEL_ID)) == 1
    return raised.value


# ---------------------------------------------------------------- saved segments


def _save_segment(world: World, definition: dict[str, Any]) -> str:
    from linecrm.domain.segments import SavedSegment

    segment = SavedSegment(
        segment_id="seg_vip",
        name="VIPs",
        definition=definition,
        created_at=NOW,
        updated_at=NOW,
    )
    try:
        world.config.put_segment(CHANNEL_ID, segment, new=True)
    except LookupError:
        world.config.put_segment(CHANNEL_ID, segment, new=False)
    return segment.segment_id


def test_a_saved_segment_reference_is_resolved_when_the_broadcast_is_planned(
    world: World,
) -> None:
    world.config.create_tag(CHANNEL_ID, Tag(tag_id="vip", name="VIP"))
    world.config.create_tag(CHANNEL_ID, Tag(tag_id="new", name="New"))
    vips = world.add_friends(2, tags=("vip",))
    newcomers = world.add_friends(3, tags=("new",))
    segment_id = _save_segment(world, {"match": {"tag": "VIP"}})
    broadcast = create(world, segment={"segment": segment_id})
    assert broadcast.segment == {"segment": segment_id}  # kept as a reference
    # Changed after the broadcast was created, before it is planned: the plan uses it.
    _save_segment(world, {"match": {"tag": "New"}})

    world.planner().run_step(CHANNEL_ID, broadcast.broadcast_id, budget())

    sent = [user for chunk in chunk_recipients(world, broadcast.broadcast_id) for user in chunk]
    assert sorted(sent) == sorted(newcomers) and not set(sent) & set(vips)


def test_a_saved_segment_deleted_before_the_plan_fails_the_broadcast_with_the_reason(
    world: World,
) -> None:
    world.config.create_tag(CHANNEL_ID, Tag(tag_id="vip", name="VIP"))
    world.add_friends(2, tags=("vip",))
    segment_id = _save_segment(world, {"match": {"tag": "VIP"}})
    broadcast = create(world, segment={"segment": segment_id})
    world.config.delete_segment(CHANNEL_ID, segment_id)

    outcome = world.planner().run_step(CHANNEL_ID, broadcast.broadcast_id, budget())

    assert outcome == StepOutcome.FAILED
    failed = world.broadcasts.get(CHANNEL_ID, broadcast.broadcast_id)
    assert failed is not None and failed.status == "failed"
    assert f"saved segment {segment_id!r} does not exist" in (failed.reason or "")
    assert world.chunks.queued == []
