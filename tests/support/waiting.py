"""Waiting for the local stack to get somewhere (it works on its own threads)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from linecrm_local.stack import LocalStack


def wait_for(condition: Callable[[], Any], timeout: float = 30.0, interval: float = 0.05) -> Any:
    """The first truthy value of ``condition()``; AssertionError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def settle(stack: LocalStack) -> None:
    """Fire what is due, then wait until no asynchronous event or queued message is left."""
    stack.runner.run_due()
    stack.invoker.drain(timeout=60)
    stack.poller.drain(timeout=60)
