"""A delayed message through EventBridge Scheduler (moto + our runner on a moved
clock), and LIFF login against the emulator's LINE Login, on the local stack."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest
import requests

from linecrm import resources
from linecrm.config.admin import AdminSettings
from linecrm.delivery.deferred_sends import ScheduledSends
from linecrm.delivery.schedule_planner import SchedulePlanner, schedule_name_for
from linecrm.models.jobs import ScheduledSend
from linecrm.models.send import SendRequest
from linecrm.wiring import Container
from linecrm_local import cli
from linecrm_local.demo import DEMO_CHANNEL_ID
from linecrm_local.scheduler_runner import Firing
from linecrm_local.stack import LocalStack

pytestmark = pytest.mark.integration


def one_time_firings(stack: LocalStack) -> list[Firing]:
    """What the runner fired now, but the recurring schedules (the scenario sweeper
    every five minutes of the clock, the insight fetch every hour): not what these
    tests are about."""
    recurring = {schedule.name for schedule in resources.RECURRING_SCHEDULES}
    return [f for f in stack.runner.run_due() if f.name not in recurring]


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    # A long tick: the test fires schedules itself with run_due() after moving the clock.
    with LocalStack(visibility_timeout_seconds=1, scheduler_tick_seconds=3600) as local:
        yield local


def planner(stack: LocalStack) -> SchedulePlanner:
    """The planner the admin function uses, wired from its environment in the stack."""
    environment = stack.functions.environment(resources.ADMIN_FUNCTION.name)
    return Container(AdminSettings.from_env(environment)).schedule_planner()


def texts(stack: LocalStack, user_id: str) -> list[str]:
    return [m.message.get("text", "") for m in stack.emulator.inbox(user_id)]


def wait_for_inbox(stack: LocalStack, user_id: str, timeout: float = 60) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if texts(stack, user_id):
            stack.poller.drain()
            return texts(stack, user_id)
        time.sleep(0.05)
    return []


def delayed_job(user_id: str, job_id: str) -> ScheduledSend:
    return ScheduledSend(
        job_id=job_id,
        request=SendRequest(
            delivery_id=f"reminder:{job_id}",
            channel_id=DEMO_CHANNEL_ID,
            to=[user_id],
            messages=[{"type": "text", "text": "カートに商品が残っています"}],
            cause="trigger",
        ),
    )


def test_delayed_message_goes_out_only_when_due_and_once(stack: LocalStack) -> None:
    friend = stack.emulator.add_friend(DEMO_CHANNEL_ID, display_name="Cart")
    job = delayed_job(friend.user_id, "cart-1")
    plans = planner(stack)
    name = plans.schedule(job, stack.clock.now() + timedelta(hours=1))
    assert plans.schedule(job, stack.clock.now() + timedelta(hours=1)) == name  # idempotent

    assert one_time_firings(stack) == []
    assert texts(stack, friend.user_id) == []

    stack.clock.advance(timedelta(hours=1, seconds=1))
    fired = one_time_firings(stack)
    assert len(fired) == 1
    assert wait_for_inbox(stack, friend.user_id) == ["カートに商品が残っています"]

    # ActionAfterCompletion=DELETE: the schedule is gone, nothing fires again.
    group = stack.resources.schedule_group_name
    names = [
        s["Name"] for s in boto3.client("scheduler").list_schedules(GroupName=group)["Schedules"]
    ]
    assert schedule_name_for(job.job_id) not in names
    stack.clock.advance(timedelta(hours=1))
    assert one_time_firings(stack) == []


def test_schedule_firing_twice_sends_once(stack: LocalStack) -> None:
    friend = stack.emulator.add_friend(DEMO_CHANNEL_ID)
    job = delayed_job(friend.user_id, "cart-2")
    event = json.loads(json.dumps(job.model_dump(mode="json")))
    stack.functions.invoke("scheduler", event)
    assert wait_for_inbox(stack, friend.user_id)
    result = stack.functions.invoke("scheduler", event)  # Scheduler is at-least-once
    assert result["status"] == "already_finished"
    stack.poller.drain()
    assert len(texts(stack, friend.user_id)) == 1


def test_schedules_carry_the_retry_policy_and_the_failure_queue_as_dlq(
    stack: LocalStack,
) -> None:
    friend = stack.emulator.add_friend(DEMO_CHANNEL_ID)
    name = planner(stack).schedule(delayed_job(friend.user_id, "policy-1"), stack.clock.now())
    group = resources.SCHEDULE_GROUP_NAME
    target = boto3.client("scheduler").get_schedule(GroupName=group, Name=name)["Target"]

    failure_queue = stack.resources.queues["ScheduleFailureQueue"]
    assert target["DeadLetterConfig"] == {"Arn": failure_queue.arn}
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 3600}
    planner(stack).cancel("policy-1")


def test_a_fire_whose_function_always_fails_ends_dead_and_is_redriven(
    stack: LocalStack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    friend = stack.emulator.add_friend(DEMO_CHANNEL_ID, display_name="Doomed")
    job = delayed_job(friend.user_id, "doomed-1")
    delivery_id = job.request.delivery_id
    deps = Container(
        AdminSettings.from_env(stack.functions.environment(resources.ADMIN_FUNCTION.name)),
        clock=stack.clock.now,
    )
    deps.scheduled_sends.defer(job.request, stack.clock.now() + timedelta(hours=1), "test")
    assert deps.ledger.get(delivery_id).status.value == "queued"  # type: ignore[union-attr]

    def unreachable(self: ScheduledSends, fired: ScheduledSend) -> str:
        raise RuntimeError("the send queue is unreachable")

    # The real handler runs; the domain call it makes fails on every attempt.
    monkeypatch.setattr(ScheduledSends, "fire", unreachable)
    # Failed invocations, not all: the recurring sweeper's fire also runs (and succeeds).
    failed_before = stack.functions.error_count("scheduler")
    stack.clock.advance(timedelta(hours=1, seconds=1))
    (firing,) = one_time_firings(stack)
    assert firing.succeeded  # Lambda accepted the event; the function then failed
    stack.invoker.drain()
    stack.poller.drain()

    assert stack.functions.error_count("scheduler") - failed_before == 3  # 1 + 2 retries
    dead = deps.ledger.get(delivery_id)
    assert dead is not None and dead.status.value == "dead"
    assert dead.reason is not None
    assert "RetriesExhausted after 3 attempt(s)" in dead.reason
    assert "RuntimeError: the send queue is unreachable" in dead.reason
    assert texts(stack, friend.user_id) == []

    # Fixed: re-driven from the ledger with the CLI, it goes out once.
    monkeypatch.undo()
    capsys.readouterr()
    assert cli.main(["--api-url", stack.gateway_url, "deliveries", "redrive", delivery_id]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "queued"
    assert wait_for_inbox(stack, friend.user_id) == ["カートに商品が残っています"]
    assert deps.ledger.get(delivery_id).status.value == "sent"  # type: ignore[union-attr]


def test_a_fire_scheduler_cannot_hand_over_ends_dead_via_the_schedule_dlq(
    stack: LocalStack,
) -> None:
    friend = stack.emulator.add_friend(DEMO_CHANNEL_ID)
    job = delayed_job(friend.user_id, "throttled-1")
    deps = Container(
        AdminSettings.from_env(stack.functions.environment(resources.ADMIN_FUNCTION.name)),
        clock=stack.clock.now,
    )
    deps.scheduled_sends.defer(job.request, stack.clock.now() + timedelta(minutes=5), "test")
    # Throttled past the schedule's event age (an hour, scaled to 3.6 s locally).
    stack.invoker.refuse_next("scheduler", 100_000)
    try:
        stack.clock.advance(timedelta(minutes=6))
        (firing,) = one_time_firings(stack)
    finally:
        stack.invoker.refuse_next("scheduler", 0)
    assert firing.dead_lettered and not firing.succeeded
    stack.poller.drain()

    dead = deps.ledger.get(job.request.delivery_id)
    assert dead is not None and dead.status.value == "dead"
    assert dead.reason is not None
    assert "Scheduler could not invoke the scheduler function" in dead.reason
    assert "MaximumEventAgeInSeconds" in dead.reason
    assert "TooManyRequestsException" in dead.reason


def test_malformed_scheduled_job_is_discarded_with_a_reason(stack: LocalStack) -> None:
    result = stack.functions.invoke("scheduler", {"kind": "send", "job_id": "x"})
    assert result == {"status": "discarded", "reason": "malformed job"}


def login(stack: LocalStack, body: Any) -> requests.Response:
    return requests.post(f"{stack.gateway_url}/liff/login", json=body, timeout=10)


def test_liff_login_verifies_the_id_token_with_line_login(stack: LocalStack) -> None:
    delivery = stack.emulator.simulate_follow(DEMO_CHANNEL_ID, display_name="Login")
    token = stack.emulator.issue_id_token(DEMO_CHANNEL_ID, delivery.user_id)
    response = login(stack, {"channelId": DEMO_CHANNEL_ID, "idToken": token})
    assert response.status_code == 200, response.text
    assert response.json() == {
        "userId": delivery.user_id,
        "displayName": "Login",
        "isFriend": True,
        "linked": False,
    }


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"channelId": DEMO_CHANNEL_ID, "idToken": "forged.token.value"}, 401),
        ({"channelId": "404404404", "idToken": "x"}, 404),
        ({"channelId": DEMO_CHANNEL_ID}, 422),
        ("not an object", 422),
    ],
)
def test_liff_login_rejects_bad_requests_with_a_reason(
    stack: LocalStack, body: Any, status: int
) -> None:
    response = login(stack, body)
    assert response.status_code == status, response.text
    assert stack.gateway.internal_errors == 0
