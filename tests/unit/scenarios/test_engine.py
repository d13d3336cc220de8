"""The scenario engine on moto: enrolment, one schedule per bucket, idempotent fires
(double, late, after an exit or a stop, after an edit), branches, reminders, exits and
the per-step counters. The fire is called directly, on a clock the test moves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from linecrm.config.scheduler import SchedulerSettings
from linecrm.delivery.schedule_planner import schedule_name_for
from linecrm.domain.signals import BehaviourEvent, Blocked, Followed, PostbackReceived, TagAdded
from linecrm.domain.tags import Tag
from linecrm.models.jobs import FireScenarioStep
from linecrm.scenarios.engine import bucket_job
from linecrm.wiring import Container
from tests.unit.conftest import CHANNEL_ID, AwsWorld

T0 = datetime(2026, 12, 1, 1, 0, 10, tzinfo=UTC)  # 10:00 in Tokyo
USERS = [f"U{index:032x}" for index in range(1, 5)]


def scenario(text: str = "ようこそ", **extra: Any) -> dict[str, Any]:
    return {
        "name": "テスト",
        "triggers": [{"type": "follow"}],
        "exit_when": [{"type": "event", "name": "purchase"}, {"type": "tag", "tag": "購入者"}],
        "steps": [
            {
                "id": "hello",
                "timing": {"after": "0m"},
                "messages": [{"type": "text", "text": text}],
                "branches": [{"postback": "topic=skin", "goto": "skin"}],
                "reminder": {"after": "1d", "goto": "nudge"},
            },
            {
                "id": "nudge",
                "timing": {"after": "1d"},
                "messages": [{"type": "text", "text": "まだですか？"}],
                "next": "end",
            },
            {
                "id": "skin",
                "timing": {"after": "1h"},
                "messages": [{"type": "text", "text": "スキンケア"}],
                "next": "end",
            },
        ],
        **extra,
    }


class World:
    def __init__(self, aws: AwsWorld) -> None:
        self.aws = aws
        self.now = T0
        self.container = Container(SchedulerSettings.from_env(), clock=lambda: self.now)
        self.engine = self.container.scenario_engine
        self.service = self.container.scenario_service
        self.container.channel_config.create_tag(CHANNEL_ID, Tag(tag_id="buyer", name="購入者"))

    def follow(self, user_id: str) -> list[str]:
        self.container.friends.record_follow(CHANNEL_ID, user_id, self.now)
        return list(self.engine.on_signal(Followed(CHANNEL_ID, user_id, self.now)))

    def job(self, step_id: str, minute: datetime, version: int = 1) -> FireScenarioStep:
        return bucket_job(CHANNEL_ID, "s", version, step_id, minute.strftime("%Y-%m-%dT%H:%M"))

    def schedule_names(self) -> set[str]:
        client = self.aws.client("scheduler")
        group = self.container.settings.schedule_group_name
        return {s["Name"] for s in client.list_schedules(GroupName=group)["Schedules"]}

    def fire_at(self, job: FireScenarioStep, at: datetime) -> dict[str, Any]:
        self.now = at
        return self.engine.fire(job).as_dict()

    def sends(self) -> list[tuple[list[str], str]]:
        return [
            (sorted(message["to"]), message["messages"][0]["text"])
            for message in self.aws.queued_sends()
            if message["cause"] == "step"
        ]

    def counters(self) -> dict[str, dict[str, int]]:
        return self.service.show(CHANNEL_ID, "s").counters


@pytest.fixture
def world(aws: AwsWorld) -> World:
    world = World(aws)
    world.service.apply(CHANNEL_ID, "s", scenario(), dry_run=False)
    return world


MINUTE_1 = T0.replace(second=0) + timedelta(minutes=1)


def test_friends_enrolled_in_one_minute_share_one_schedule_and_one_multicast(world: World) -> None:
    for user_id in USERS:
        assert "enrolled" in world.follow(user_id)[0]
    job = world.job("hello", MINUTE_1)
    assert schedule_name_for(job.job_id) in world.schedule_names()
    assert len([n for n in world.schedule_names() if n.startswith("job-")]) == 1

    assert world.fire_at(job, MINUTE_1)["sent"] == 4
    assert world.sends() == [(sorted(USERS), "ようこそ")]
    # The reminder bucket, a day later, is scheduled once for all of them.
    reminder = world.job("nudge", MINUTE_1 + timedelta(days=1))
    assert schedule_name_for(reminder.job_id) in world.schedule_names()
    counters = world.counters()
    assert counters["hello"]["enrolled"] == 4 and counters["hello"]["sent"] == 4
    assert counters["nudge"]["due"] == 4


def test_a_double_or_late_fire_sends_nothing_twice(world: World) -> None:
    world.follow(USERS[0])
    job = world.job("hello", MINUTE_1)
    late = MINUTE_1 + timedelta(hours=2)
    assert world.fire_at(job, late)["sent"] == 1
    assert world.fire_at(job, late)["outcome"] == "already_done"
    assert world.sends() == [([USERS[0]], "ようこそ")]
    # A late fire plans the reminder from when it actually sent.
    reminder = world.job("nudge", late + timedelta(days=1))
    assert schedule_name_for(reminder.job_id) in world.schedule_names()


def test_an_exit_or_a_stop_before_the_fire_cancels_that_friends_step(world: World) -> None:
    for user_id in USERS[:3]:
        world.follow(user_id)
    purchase = BehaviourEvent(
        CHANNEL_ID, USERS[0], T0, name="purchase", properties={}, idempotency_key="k1", source="ec"
    )
    assert world.engine.on_signal(purchase) == ["scenario s exited (event:purchase)"]
    assert world.engine.stop(CHANNEL_ID, USERS[1], "s", T0) is True
    report = world.fire_at(world.job("hello", MINUTE_1), MINUTE_1)
    # Both left the due index at once: the fire does not even read them.
    assert report == {"outcome": "fired", "sent": 1}
    assert world.sends() == [([USERS[2]], "ようこそ")]
    counters = world.counters()["hello"]
    assert counters["exited:event:purchase"] == 1 and counters["exited:stop_scenario"] == 1


def test_a_tag_exit_is_checked_again_at_send_time(world: World) -> None:
    world.follow(USERS[0])
    change = world.container.friends.get(CHANNEL_ID, USERS[0])
    assert change is not None
    from linecrm.domain.friends import FriendChangeSet

    # The tag was added by an import (no signal): the fire still sees it.
    world.container.friends.apply_change(
        CHANNEL_ID,
        USERS[0],
        FriendChangeSet(frozenset({"buyer"}), frozenset(), {}, frozenset()),
        T0,
    )
    report = world.fire_at(world.job("hello", MINUTE_1), MINUTE_1)
    assert report["exited:tag:購入者"] == 1
    assert world.sends() == []


def test_an_edit_leaves_enrolments_in_flight_on_their_version(world: World) -> None:
    world.follow(USERS[0])
    result = world.service.apply(CHANNEL_ID, "s", scenario("新しい文面"), dry_run=False)
    assert result.version == 2 and any("新しい文面" in line for line in result.diff)
    world.follow(USERS[1])  # enrolled on version 2, same minute: a bucket of its own
    world.fire_at(world.job("hello", MINUTE_1, version=1), MINUTE_1)
    world.fire_at(world.job("hello", MINUTE_1, version=2), MINUTE_1)
    assert sorted(world.sends()) == [([USERS[0]], "ようこそ"), ([USERS[1]], "新しい文面")]


def test_a_tap_branches_and_the_silent_get_the_reminder(world: World) -> None:
    world.follow(USERS[0])
    world.follow(USERS[1])
    world.fire_at(world.job("hello", MINUTE_1), MINUTE_1)
    tap_at = MINUTE_1 + timedelta(hours=3, seconds=5)
    world.now = tap_at
    notes = world.engine.on_signal(
        PostbackReceived(CHANNEL_ID, USERS[0], tap_at, data="topic=skin")
    )
    skin_minute = (tap_at + timedelta(hours=1)).replace(second=0) + timedelta(minutes=1)
    assert notes == [f"scenario s: branch to skin due {skin_minute:%Y-%m-%dT%H:%M}"]
    # The same tap again (a redelivered webhook) moves nothing.
    assert (
        world.engine.on_signal(PostbackReceived(CHANNEL_ID, USERS[0], tap_at, data="topic=skin"))
        == []
    )
    world.aws.queued_sends()  # forget the welcome
    world.fire_at(world.job("skin", skin_minute), skin_minute)
    reminder = world.job("nudge", MINUTE_1 + timedelta(days=1))
    assert world.fire_at(reminder, MINUTE_1 + timedelta(days=1))["sent"] == 1
    assert world.sends() == [([USERS[0]], "スキンケア"), ([USERS[1]], "まだですか？")]
    counters = world.counters()
    assert counters["hello"]["branched:skin"] == 1
    assert counters["skin"]["completed"] == 1 and counters["nudge"]["completed"] == 1


def test_a_block_exits_and_a_tag_trigger_enrols(world: World) -> None:
    world.follow(USERS[0])
    assert world.engine.on_signal(Blocked(CHANNEL_ID, USERS[0], T0)) == [
        "scenario s exited (blocked)"
    ]
    assert world.fire_at(world.job("hello", MINUTE_1), MINUTE_1) == {"outcome": "fired"}
    world.service.apply(
        CHANNEL_ID,
        "vip",
        {
            **scenario(),
            "id": "vip",
            "triggers": [{"type": "tag_added", "tag": "購入者"}],
            "exit_when": [],
        },
        dry_run=False,
    )
    world.now = T0 + timedelta(seconds=31)  # past the 30 s cache of active scenarios
    notes = world.engine.on_signal(
        TagAdded(CHANNEL_ID, USERS[1], T0, tag_id="buyer", tag_name="購入者")
    )
    assert notes and "scenario vip: enrolled in vip v1" in notes[0]


def test_re_entry_never_enrols_once(world: World) -> None:
    world.follow(USERS[0])
    assert (
        world.engine.enroll(CHANNEL_ID, USERS[0], "s", T0) == "not enrolled in s: re-entry is never"
    )


def test_paused_scenarios_enrol_nobody_and_their_fires_wait(world: World) -> None:
    world.follow(USERS[0])
    world.service.set_status(CHANNEL_ID, "s", "paused")
    assert world.engine.enroll(CHANNEL_ID, USERS[1], "s", T0).endswith("is paused")
    assert world.fire_at(world.job("hello", MINUTE_1), MINUTE_1)["outcome"] == "paused"
    assert world.sends() == []
    world.service.set_status(CHANNEL_ID, "s", "active")
    world.now = MINUTE_1 + timedelta(minutes=5)  # the next sweep after the resume
    assert world.engine.sweep().as_dict()["sent"] == 1


def test_the_sweeper_fires_overdue_buckets_whose_schedule_is_gone(world: World) -> None:
    world.follow(USERS[0])
    world.now = MINUTE_1 + timedelta(minutes=10)
    report = world.engine.sweep().as_dict()
    assert report["bucket:fired"] == 1 and report["sent"] == 1
    assert world.engine.sweep().as_dict() == {"outcome": "swept"}  # nothing left over


def test_a_condition_false_at_send_time_skips_the_step_with_the_reason(world: World) -> None:
    definition = scenario()
    definition["steps"][0]["condition"] = {"tag": "購入者"}
    world.service.apply(CHANNEL_ID, "s", definition, dry_run=False)
    world.follow(USERS[0])
    report = world.fire_at(world.job("hello", MINUTE_1, version=2), MINUTE_1)
    assert report["skipped:condition"] == 1
    assert world.counters()["hello"]["skipped:condition"] == 1


def test_apply_checks_references_and_dry_run_stores_nothing(world: World) -> None:
    from linecrm.scenarios.service import ScenarioRejected

    bad = scenario()
    bad["steps"][0]["condition"] = {"tag": "存在しない"}
    with pytest.raises(ScenarioRejected) as raised:
        world.service.apply(CHANNEL_ID, "s", bad, dry_run=False)
    assert raised.value.problems[0].path.startswith("steps[0].condition")
    dry = world.service.apply(CHANNEL_ID, "s", scenario("x"), dry_run=True)
    assert dry.dry_run and dry.version == 2
    assert world.service.show(CHANNEL_ID, "s").version == 1
    assert world.service.apply(CHANNEL_ID, "s", scenario(), dry_run=False).action == "unchanged"


def test_a_segment_is_enrolled_by_hand_under_the_re_entry_policy(world: World) -> None:
    for user_id in USERS[:3]:
        world.container.friends.record_follow(CHANNEL_ID, user_id, T0)
    world.follow(USERS[0])  # already in: re-entry never
    # What a segment enrolment job does with each page (tests/unit/scenarios/
    # test_enrollment_jobs.py runs the job).
    friends = world.container.friends.get_many(CHANNEL_ID, USERS[:3])
    outcomes = world.engine.enroll_many(CHANNEL_ID, "s", list(friends.values()))
    assert outcomes == {"enrolled": 2, "re-entry is never": 1}
    assert world.fire_at(world.job("hello", MINUTE_1), MINUTE_1)["sent"] == 3


def test_plan_prints_each_step_with_its_time_and_why(world: World) -> None:
    world.container.friends.record_follow(CHANNEL_ID, USERS[0], T0)
    plan = world.service.plan(CHANNEL_ID, "s", USERS[0], days=14)
    assert [(step.step_id, step.due_at) for step in plan.steps] == [
        ("hello", "2026-12-01T10:01+09:00 (Asia/Tokyo)"),
        ("nudge", "2026-12-02T10:01+09:00 (Asia/Tokyo)"),
    ]
    assert any("topic=skin → skin" in why for why in plan.steps[0].why)
    assert plan.steps[1].why[0].startswith("reminder: none of hello's branches")
