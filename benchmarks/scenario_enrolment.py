"""10,000 friends enrolled in a step scenario at once, through the real local stack.

The scenario's first step is "day 1 at 10:00" (minute-aligned, as step deliveries
are): every friend is due at the same instant. The clock is moved to just before it;
then the scheduler runner fires the bucket's schedule (the scheduler function splits
it into parts of 500 on the job queue), the jobs function fires the parts, the sender
multicasts. Figures:

- **every first step sent, none twice** (the emulator's inboxes);
- **LINE calls** for the identical content: budget ⌈N/500⌉ plus the chunks' retries;
- **AWS calls per delivered step message**, made by the functions (scheduler, jobs,
  sender), counted by operation: goal ≤ 6;
- **lateness** of each friend's message against its due time, p50/p99: goal ≤ 60 s.
  The baseline of the same run is a broadcast of the same content to another 10,000
  friends (the delivery path we already trust): the ratio says what the scenario path
  costs over it. On this 2-core machine everything (moto, poller, ten sender and ten
  jobs environments) shares one Python process, so the absolute seconds are an upper
  bound of what AWS does;
- the enrolment itself: the segment enrolled through the admin API, a job on the job
  queue that the jobs function runs a page of 1,000 friends per step (seconds).
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import time
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from linecrm.models.send import MAX_MULTICAST_RECIPIENTS
from linecrm.resources import MAIN_TABLE
from linecrm_local.aws_calls import count_aws_calls
from linecrm_local.demo import DEMO_ADMIN_TOKEN, DEMO_CHANNEL_ID
from linecrm_local.emulator.models import ApiCall
from linecrm_local.lambda_runtime import current_function
from linecrm_local.seed import seed_friends
from linecrm_local.stack import LocalStack

FRIENDS = 10_000
MAX_LATENESS_SECONDS = 60.0
MAX_AWS_CALLS_PER_MESSAGE = 6.0
DEADLINE_SECONDS = 900.0
# Thursday 2026-12-03 09:00 in Tokyo; "day 1 at 10:00" is Friday 10:00 (01:00 UTC).
START = datetime(2026, 12, 3, 0, 0, tzinfo=UTC)
DUE = datetime(2026, 12, 4, 1, 0, tzinfo=UTC)
TEXT = "1日目: 会員様限定のご案内"
SCENARIO = {
    "name": "1万人ベンチ",
    "message_class": "marketing",
    "steps": [
        {
            "id": "day1",
            "timing": {"day": 1, "at": "10:00"},
            "messages": [{"type": "text", "text": TEXT}],
        },
        {
            "id": "day3",
            "timing": {"day": 3, "at": "10:00"},
            "messages": [{"type": "text", "text": "3日目"}],
        },
    ],
}
ADMIN = {"Authorization": f"Bearer {DEMO_ADMIN_TOKEN}"}
TAGS = ("bench", "baseline")


@dataclass(frozen=True)
class Delivery:
    """When each recipient's message reached LINE, and what it took."""

    seconds_late: list[float]  # per recipient, from its due time (or the broadcast's start)
    line_calls: int  # successful multicast calls
    line_retries: int  # failed calls (retried with the same retry key)
    inboxes_exact: bool

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.seconds_late)
        return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]


@dataclass(frozen=True)
class EnrolmentReport:
    friends: int
    enrol_seconds: float
    enrolled: dict[str, int]
    scenario: Delivery
    broadcast: Delivery
    aws_calls: dict[str, int]  # operation -> calls, by the functions, for the scenario fire
    aws_calls_by_function: dict[str, int]

    @property
    def calls_budget(self) -> int:
        return math.ceil(self.friends / MAX_MULTICAST_RECIPIENTS)

    @property
    def aws_calls_per_message(self) -> float:
        return sum(self.aws_calls.values()) / self.friends

    @property
    def lateness_ratio(self) -> float:
        """The scenario's p99 over the broadcast's (same content, same count)."""
        return self.scenario.percentile(0.99) / max(self.broadcast.percentile(0.99), 1e-9)

    @property
    def within_budget(self) -> bool:
        return (
            self.scenario.inboxes_exact
            and len(self.scenario.seconds_late) == self.friends
            and self.scenario.line_calls <= self.calls_budget
            and self.aws_calls_per_message <= MAX_AWS_CALLS_PER_MESSAGE
            and self.scenario.percentile(0.99) <= MAX_LATENESS_SECONDS
        )


def measure(friends: int = FRIENDS) -> EnrolmentReport:
    os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _measure(friends)


def _measure(count: int) -> EnrolmentReport:
    with LocalStack(
        visibility_timeout_seconds=60, poll_interval_seconds=0.02, scheduler_tick_seconds=0.5
    ) as stack:
        stack.clock.set(START)
        table = stack.resources.table_names[MAIN_TABLE.logical_id]
        admin = _admin(stack)
        admin("PUT", "/scenarios/bench", SCENARIO)
        tags = {name: str(admin("POST", "/tags", {"name": name})["tag_id"]) for name in TAGS}
        users = seed_friends(
            stack.emulator, DEMO_CHANNEL_ID, table, count, tag_ids=(tags["bench"],)
        )
        started = time.perf_counter()
        job = admin("POST", "/scenarios/bench/enroll", {"segment": {"match": {"tag": "bench"}}})
        job = _wait_for_job(admin, str(job["job_id"]))
        enrol_seconds = time.perf_counter() - started
        counts: Any = job["counts"]
        enrolled = dict(counts["outcomes"])

        before = len(stack.emulator.calls("multicast"))
        with count_aws_calls(label=current_function.get) as counter:
            lead = 2.0
            stack.clock.set(DUE - timedelta(seconds=lead))
            due_at = time.time() + lead
            calls = _wait_for_recipients(stack, before, count)
            stack.poller.drain(timeout=120)  # the ledger's outcomes, then nothing is left
            # The functions' calls only: the local stack's own polling has no label.
            aws = counter.by_operation(labelled=True)
            by_function = counter.by_label()
        scenario = _delivery(stack, calls, users, lambda call: call.time - due_at)

        # The baseline: the same message as a broadcast to as many other friends.
        others = seed_friends(
            stack.emulator, DEMO_CHANNEL_ID, table, count, tag_ids=(tags["baseline"],)
        )
        before = len(stack.emulator.calls("multicast"))
        body = {
            "name": "baseline",
            "message_class": "transactional",
            "messages": [{"type": "text", "text": TEXT}],
            "segment": {"match": {"tag": "baseline"}},
        }
        sent_at = time.time()
        admin("POST", "/broadcasts", body)
        broadcast_calls = _wait_for_recipients(stack, before, count)
        broadcast = _delivery(stack, broadcast_calls, others, lambda call: call.time - sent_at)
    return EnrolmentReport(
        friends=count,
        enrol_seconds=enrol_seconds,
        enrolled=enrolled,
        scenario=scenario,
        broadcast=broadcast,
        aws_calls=aws,
        aws_calls_by_function=by_function,
    )


def _admin(stack: LocalStack) -> Callable[..., dict[str, Any]]:
    base = f"{stack.gateway_url}/admin/channels/{DEMO_CHANNEL_ID}"

    def call(method: str, path: str, body: object = None) -> dict[str, Any]:
        response = requests.request(method, base + path, json=body, headers=ADMIN, timeout=300)
        response.raise_for_status()
        result: dict[str, Any] = response.json()
        return result

    return call


def _wait_for_job(admin: Callable[..., dict[str, Any]], job_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        job = admin("GET", f"/scenarios/bench/enrollments/{job_id}")
        if job["status"] != "running" or time.monotonic() > deadline:
            return job
        time.sleep(0.5)


def _wait_for_recipients(stack: LocalStack, before: int, count: int) -> list[ApiCall]:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        calls = stack.emulator.calls("multicast")[before:]
        reached = sum(len(call.body["to"]) for call in calls if call.status == 200)
        if reached >= count or time.monotonic() > deadline:
            return calls
        time.sleep(0.25)


def _delivery(
    stack: LocalStack, calls: list[ApiCall], users: list[str], late: Callable[[ApiCall], float]
) -> Delivery:
    seconds = [late(call) for call in calls if call.status == 200 for _ in call.body["to"]]
    inboxes = Counter(len(stack.emulator.inbox(user)) for user in users)
    return Delivery(
        seconds_late=seconds,
        line_calls=sum(1 for call in calls if call.status == 200),
        line_retries=sum(1 for call in calls if call.status != 200),
        inboxes_exact=inboxes == Counter({1: len(users)}),
    )
