"""The sender's pacing through the local stack: five concurrent sender environments,
each at a fifth of the channel's rate, never trip the emulator's rate limit.

Events, not a stopwatch: the emulator enforces the limit itself (a token bucket per
channel and endpoint answers 429 past it), so 0 x 429 with every inbox exact shows the
pacer kept within the bucket however fast or slow this machine is. How close to the
rate the stack sends is a figure of ``make bench`` (benchmarks/send_rate.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from linecrm.delivery.outbox import SendQueueOutbox
from linecrm.delivery.send_limits import SEND_RATE_SETTING
from linecrm.models.send import SendRequest
from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm.repositories.deliveries import DeliveryLedger
from linecrm.resources import MAIN_TABLE
from linecrm_local.demo import DEMO_CHANNEL_ID
from linecrm_local.stack import LocalStack

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]  # drain has its own deadline

PUSH_LIMIT = 40.0  # requests per second, the emulator's and the channel's
RECIPIENTS = 200


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    # A paced batch of 10 takes longer than the 1 s visibility the other integration
    # tests use (SQS would hand its tail to a second consumer, and LINE's 409 on the
    # retry key shows up): 120 s here, longer than a batch takes on a busy machine, as
    # on AWS the visibility (6 x 30 s) outlasts the sender's timeout.
    with LocalStack(
        poll_interval_seconds=0.02, batching_window_seconds=0.05, visibility_timeout_seconds=120
    ) as local:
        yield local


def test_200_single_pushes_at_the_channel_rate_get_no_429(stack: LocalStack) -> None:
    stack.emulator.set_rate_limit("push", PUSH_LIMIT)
    dynamodb = stack.aws.session().client("dynamodb")
    table = stack.resources.table_names[MAIN_TABLE.logical_id]
    ChannelConfigRepository(dynamodb, table).set_setting(
        DEMO_CHANNEL_ID, SEND_RATE_SETTING, {"push": PUSH_LIMIT}
    )
    users = [stack.emulator.add_friend(DEMO_CHANNEL_ID).user_id for _ in range(RECIPIENTS)]
    outbox = SendQueueOutbox(
        DeliveryLedger(dynamodb, table),
        stack.aws.session().client("sqs"),
        stack.send_queue_url,
        lambda: datetime.now(UTC),
    )
    for number, user in enumerate(users):
        outbox.enqueue(
            SendRequest(
                delivery_id=f"pacing-test:{number}",
                channel_id=DEMO_CHANNEL_ID,
                to=[user],
                messages=[{"type": "text", "text": f"お知らせ {number}"}],
                cause="manual",
            )
        )

    stack.poller.drain(timeout=600)  # generous: a busy machine is slower, never faster

    pushes = [c for c in stack.emulator.calls("push") if c.channel_id == DEMO_CHANNEL_ID]
    assert [c.status for c in pushes if c.status != 200] == []  # no 429, no other error
    assert len(pushes) == RECIPIENTS
    assert all(len(stack.emulator.inbox(user)) == 1 for user in users)
    # The emulator's own record, replayed through a bucket like the one it enforces:
    # no second window ever held more than the limit plus a second's burst.
    times = sorted(call.time for call in pushes)
    assert max(window_counts(times, 1.0)) <= 2 * PUSH_LIMIT
    assert stack.functions.error_count("sender") == 0


def window_counts(times: list[float], seconds: float) -> list[int]:
    """For each call, how many calls fell in the ``seconds`` that it starts."""
    counts, end = [], 0
    for start, moment in enumerate(times):
        while end < len(times) and times[end] < moment + seconds:
            end += 1
        counts.append(end - start)
    return counts
