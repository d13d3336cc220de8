"""A step scenario across a simulated week on the local stack: webhook → enrolment →
bucket schedules (moto) fired by the scheduler runner on the moved clock → scheduler
function → send queue → sender → LINE emulator. A friend who taps, a silent one, one
who blocks; then a double fire, a fire after an edit."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests

from linecrm import resources
from linecrm.config.admin import AdminSettings
from linecrm.scenarios.engine import DUE_INDEX_SETTLE, bucket_job, bucket_minute
from linecrm.wiring import Container
from linecrm_local.demo import DEMO_ADMIN_TOKEN, DEMO_CHANNEL_ID
from linecrm_local.seed import seed_friends
from linecrm_local.stack import LocalStack
from tests.support.waiting import settle

pytestmark = [pytest.mark.integration, pytest.mark.timeout(600)]

ADMIN = {"Authorization": f"Bearer {DEMO_ADMIN_TOKEN}"}
BASE = f"/admin/channels/{DEMO_CHANNEL_ID}"
# Tuesday 2026-12-01 09:00:30 in Tokyo.
START = datetime(2026, 12, 1, 0, 0, 30, tzinfo=UTC)


def text(value: str) -> dict[str, str]:
    return {"type": "text", "text": value}


SCENARIO: dict[str, Any] = {
    "name": "4ステップ",
    "message_class": "transactional",  # no quiet hours in the way of exact times
    "triggers": [{"type": "follow"}],
    "exit_when": [{"type": "blocked"}],
    "steps": [
        {
            "id": "welcome",
            "timing": {"after": "0m"},
            "messages": [text("ようこそ！テーマを選んでね")],
            "branches": [{"postback": "topic=skin", "goto": "skin"}],
            "reminder": {"after": "1d", "goto": "nudge"},
        },
        {
            "id": "nudge",
            "timing": {"after": "1d"},
            "messages": [text("まだ選んでいませんか？")],
            "next": "day3",
        },
        {
            "id": "skin",
            "timing": {"after": "1h"},
            "messages": [text("スキンケアのコツ")],
            "next": "day3",
        },
        {
            "id": "day3",
            "timing": {"day": 3, "at": "10:00"},
            "messages": [text("3日目のクーポン")],
            "next": "end",
        },
    ],
}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    # A long tick: the test fires schedules itself with run_due() after moving the clock.
    with LocalStack(visibility_timeout_seconds=5, scheduler_tick_seconds=3600) as local:
        local.clock.set(START)
        admin_container(local).channel_config.set_welcome_messages(DEMO_CHANNEL_ID, [])
        yield local


def admin_container(stack: LocalStack) -> Container[AdminSettings]:
    environment = stack.functions.environment(resources.ADMIN_FUNCTION.name)
    return Container(AdminSettings.from_env(environment), clock=stack.clock.now)


def admin(stack: LocalStack, method: str, path: str, body: Any = None) -> Any:
    response = requests.request(
        method, f"{stack.gateway_url}{BASE}{path}", json=body, headers=ADMIN, timeout=120
    )
    assert response.status_code < 300, (response.status_code, response.text)
    return response.json()


def texts(stack: LocalStack, user_id: str) -> list[str]:
    return [m.message.get("text", "") for m in stack.emulator.inbox(user_id)]


def at(stack: LocalStack, moment: datetime) -> None:
    stack.clock.set(moment)
    settle(stack)


def test_a_week_of_a_four_step_scenario_for_a_tapper_a_silent_friend_and_a_blocker(
    stack: LocalStack,
) -> None:
    applied = admin(stack, "PUT", "/scenarios/four-steps", SCENARIO)
    assert applied["action"] == "created" and applied["version"] == 1

    tapper = stack.emulator.simulate_follow(DEMO_CHANNEL_ID, display_name="Tap").user_id
    silent = stack.emulator.simulate_follow(DEMO_CHANNEL_ID, display_name="Silent").user_id
    blocker = stack.emulator.simulate_follow(DEMO_CHANNEL_ID, display_name="Block").user_id
    stack.poller.drain(timeout=60)
    # The zero-delay first step answered each follow with its reply token (free).
    for user_id in (tapper, silent, blocker):
        assert texts(stack, user_id) == ["ようこそ！テーマを選んでね"]
    assert len(stack.emulator.calls("reply")) == 3
    assert stack.emulator.calls("push") == [] and stack.emulator.calls("multicast") == []

    # An edit now: enrolments in flight stay on version 1 (its day-3 text).
    edited = {
        **SCENARIO,
        "steps": [
            *SCENARIO["steps"][:3],
            {**SCENARIO["steps"][3], "messages": [text("v2のクーポン")]},
        ],
    }
    assert admin(stack, "PUT", "/scenarios/four-steps", edited)["version"] == 2

    # +3 h: the tapper taps; the skin step is due an hour later (+ the bucket's minute).
    at(stack, START + timedelta(hours=3))
    tapped_at = stack.clock.now()
    stack.emulator.simulate_postback(DEMO_CHANNEL_ID, tapper, "topic=skin")
    stack.emulator.simulate_unfollow(DEMO_CHANNEL_ID, blocker)  # a block mid-scenario
    moved = admin_container(stack).enrollments.get(DEMO_CHANNEL_ID, tapper, "four-steps")
    assert moved is not None and moved.step_id == "skin" and moved.due_minute is not None
    skin_due = datetime.fromisoformat(moved.due_minute + "+00:00")
    # An hour after the tap, in the next whole minute (the tap took < 1 min to apply).
    assert bucket_minute(tapped_at + timedelta(hours=1), tapped_at) <= skin_due
    assert skin_due <= bucket_minute(tapped_at + timedelta(hours=1, minutes=1), tapped_at)
    at(stack, skin_due - timedelta(minutes=1))
    assert texts(stack, tapper) == ["ようこそ！テーマを選んでね"]
    at(stack, skin_due + DUE_INDEX_SETTLE)  # a bucket fires 5 s after its minute
    assert texts(stack, tapper) == ["ようこそ！テーマを選んでね", "スキンケアのコツ"]

    # +1 day after the welcome went out: the silent friend's reminder; not the tapper,
    # not the blocker. (Time flows while the stack works: read when it went out.)
    welcomed = admin_container(stack).enrollments.get(DEMO_CHANNEL_ID, silent, "four-steps")
    assert welcomed is not None and welcomed.last_step_at is not None
    reminder_due = bucket_minute(
        datetime.fromisoformat(welcomed.last_step_at) + timedelta(days=1), START
    )
    at(stack, reminder_due - timedelta(minutes=1))
    assert texts(stack, silent) == ["ようこそ！テーマを選んでね"]
    at(stack, reminder_due + DUE_INDEX_SETTLE)  # a bucket fires 5 s after its minute
    assert texts(stack, silent) == ["ようこそ！テーマを選んでね", "まだ選んでいませんか？"]
    assert len(texts(stack, tapper)) == 2 and len(texts(stack, blocker)) == 1

    # A double fire of the reminder's bucket (Scheduler is at-least-once): nothing more.
    job = bucket_job(DEMO_CHANNEL_ID, "four-steps", 1, "nudge", f"{reminder_due:%Y-%m-%dT%H:%M}")
    again = stack.functions.invoke("scheduler", job.model_dump(mode="json"))
    assert again["status"] == "already_done"

    # Day 3 at 10:00 Tokyo (= 01:00 UTC on 12-04): both remaining friends, one multicast.
    day3 = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)
    at(stack, day3 - timedelta(minutes=1))
    assert len(texts(stack, silent)) == 2
    multicasts_before = len(stack.emulator.calls("multicast"))
    at(stack, day3 + DUE_INDEX_SETTLE)  # a bucket fires 5 s after its minute
    assert texts(stack, tapper) == [
        "ようこそ！テーマを選んでね",
        "スキンケアのコツ",
        "3日目のクーポン",
    ]
    assert texts(stack, silent) == [
        "ようこそ！テーマを選んでね",
        "まだ選んでいませんか？",
        "3日目のクーポン",
    ]
    assert len(stack.emulator.calls("multicast")) == multicasts_before + 1
    assert texts(stack, blocker) == ["ようこそ！テーマを選んでね"]

    # The rest of the week: nothing else, for anyone.
    at(stack, START + timedelta(days=7))
    assert [len(texts(stack, u)) for u in (tapper, silent, blocker)] == [3, 3, 1]

    shown = admin(stack, "GET", "/scenarios/four-steps")
    counters = shown["counters"]
    assert counters["welcome"]["enrolled"] == 3 and counters["welcome"]["sent"] == 3
    assert counters["welcome"]["branched:skin"] == 1
    assert counters["nudge"]["exited:blocked"] == 1 and counters["nudge"]["sent"] == 1
    assert counters["day3"]["sent"] == 2 and counters["day3"]["completed"] == 2


def test_a_late_fire_sends_once_and_a_fire_after_a_stop_sends_nothing(stack: LocalStack) -> None:
    # No more follow enrolments from the other test's scenario (if it ran first).
    requests.post(
        f"{stack.gateway_url}{BASE}/scenarios/four-steps/archive", headers=ADMIN, timeout=60
    )
    late = {
        "name": "遅れて届く",
        "message_class": "transactional",
        "steps": [
            {"id": "only", "timing": {"after": "10m"}, "messages": [text("10分後のお知らせ")]}
        ],
    }
    admin(stack, "PUT", "/scenarios/late-one", late)
    stopped = stack.emulator.simulate_follow(DEMO_CHANNEL_ID, display_name="Stop").user_id
    waiting = stack.emulator.simulate_follow(DEMO_CHANNEL_ID, display_name="Wait").user_id
    for user_id in (stopped, waiting):  # the postback grammar's scenario.start
        stack.emulator.simulate_postback(
            DEMO_CHANNEL_ID, user_id, "linecrm=1&scenario.start=late-one"
        )
    stack.emulator.simulate_postback(DEMO_CHANNEL_ID, stopped, "linecrm=1&scenario.stop=late-one")
    stack.poller.drain(timeout=60)
    # Scheduler fires half an hour late (say, the function was throttled).
    at(stack, stack.clock.now() + timedelta(minutes=40))
    assert texts(stack, waiting) == ["10分後のお知らせ"]
    assert texts(stack, stopped) == []
    at(stack, stack.clock.now() + timedelta(hours=2))
    assert texts(stack, waiting) == ["10分後のお知らせ"]
    counters = admin(stack, "GET", "/scenarios/late-one")["counters"]["only"]
    assert counters["enrolled"] == 2 and counters["sent"] == 1
    assert counters["exited:stop_scenario"] == 1


def test_a_bucket_of_1100_friends_fires_in_parts_of_one_multicast_each(stack: LocalStack) -> None:
    """Scheduler function (split) → job queue → jobs function (three parts, concurrently)
    → send queue → sender: ⌈1,100 / 500⌉ = 3 multicasts, every friend once."""
    mass = {
        "name": "一斉ステップ",
        "message_class": "transactional",
        "steps": [{"id": "only", "timing": {"after": "10m"}, "messages": [text("全員へ")]}],
    }
    admin(stack, "PUT", "/scenarios/mass", mass)
    users = seed_friends(
        stack.emulator, DEMO_CHANNEL_ID, stack.resources.table_names["Main"], 1_100
    )
    container = admin_container(stack)
    friends = container.friends.get_many(DEMO_CHANNEL_ID, users)
    outcome = container.scenario_engine.enroll_many(DEMO_CHANNEL_ID, "mass", list(friends.values()))
    assert outcome == {"enrolled": 1_100}
    calls_before = len(stack.emulator.calls("multicast"))

    at(stack, stack.clock.now() + timedelta(minutes=12))

    multicasts = stack.emulator.calls("multicast")[calls_before:]
    accepted = [call for call in multicasts if call.status == 200]
    assert sorted(len(call.body["to"]) for call in accepted) == [100, 500, 500]
    # On a loaded machine a sender invocation can pass its timeout after LINE accepted
    # its chunk: the record comes back and the chunk is sent again with its retry key,
    # which LINE answers 409 (already accepted). That is a retry, not a second send.
    retries = [call for call in multicasts if call.status != 200]
    assert all(call.status == 409 for call in retries), [call.status for call in retries]
    assert {call.retry_key for call in retries} <= {call.retry_key for call in accepted}
    assert all(texts(stack, user_id) == ["全員へ"] for user_id in users)
    counters = admin(stack, "GET", "/scenarios/mass")["counters"]["only"]
    assert counters["enrolled"] == 1_100 and counters["sent"] == 1_100
