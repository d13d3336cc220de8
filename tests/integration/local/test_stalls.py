"""The stall watchdog: a block still running past its time is logged once, with stacks."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from linecrm_local import stalls


def _stalls(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == stalls.logger.name]


def test_a_block_past_its_time_is_logged_once_with_where_each_thread_is(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger=stalls.logger.name)
    parked = threading.Event()
    waiter = threading.Thread(target=parked.wait, name="parked-thread", daemon=True)
    waiter.start()
    try:
        with stalls.watch("slow block", 0.2):
            deadline = time.monotonic() + 30
            while not _stalls(caplog) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(3 * stalls.TICK_SECONDS)  # another tick: still one report
    finally:
        parked.set()
    (message,) = _stalls(caplog)
    assert message.startswith("slow block still runs after ")
    # This thread's own frame, and the parked thread in one line.
    assert "test_a_block_past_its_time_is_logged_once" in message
    assert "- parked-thread: waits" in message


def test_a_block_done_in_time_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=stalls.logger.name)
    with stalls.watch("quick block", 1.0):
        pass
    time.sleep(1.0 + 3 * stalls.TICK_SECONDS)
    assert _stalls(caplog) == []
