"""The local stack for integration tests: one per test module, on free ports."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from linecrm_local.stack import LocalStack

# Every AWS call a function makes is checked against its role in the CDK template.
from tests.support.grants import grants_from_the_template, no_ungranted_calls  # noqa: F401

# Failed SQS messages come back after this many seconds (minutes on AWS).
TEST_VISIBILITY_TIMEOUT_SECONDS = 1


@pytest.fixture(scope="module")
def local_stack() -> Iterator[LocalStack]:
    """The whole stack: moto, emulator (demo channel), gateway, runner, poller.

    The scheduler runner ticks every 0.2 s on a MovableClock (``local_stack.clock``);
    tests can also call ``local_stack.runner.run_due()`` after ``clock.advance(...)``
    and ``local_stack.poller.drain()`` to wait for the send queue to empty.
    """
    with LocalStack(
        scheduler_tick_seconds=0.2,
        scheduler_retry_delay_seconds=0.01,
        poll_interval_seconds=0.02,
        batching_window_seconds=0.05,
        visibility_timeout_seconds=TEST_VISIBILITY_TIMEOUT_SECONDS,
    ) as stack:
        yield stack


@pytest.fixture
def fresh(local_stack: LocalStack) -> LocalStack:
    """The module's stack with a clean emulator (inboxes, calls, faults, rate buckets)
    and a gateway whose 500 counter is back at zero. AWS state is kept."""
    local_stack.emulator.reset()
    local_stack.emulator.clear_faults()
    local_stack.gateway.internal_errors = 0
    return local_stack
