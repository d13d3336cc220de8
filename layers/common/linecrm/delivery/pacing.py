"""Pacing of LINE send calls inside one sender execution environment.

LINE limits each channel per endpoint (push, multicast, reply, …) and answers 429 above
the limit. The send queue's event source mapping runs at most ``max_concurrency``
sender invocations at once (``resources.SEND_QUEUE``: 10), each in its own execution
environment; an invocation sends its records concurrently, but the start of every call
takes a slot of this environment's pacer. So if every environment spaces the starts of
its calls to one (channel, endpoint kind) at least ``max_concurrency / channel_rate``
seconds apart, all of them together start at most ``channel_rate`` calls per second:

    10 environments x (channel_rate / 10) per environment = channel_rate

No shared counter (DynamoDB, Redis) is needed, at the price that a lone busy
environment uses only a tenth of the channel's rate. The spacing is strict (no burst
credit): LINE does not say over which window it counts, and a call that waits a few
milliseconds costs nothing.

Environments that start sending together (fresh ones, or idle ones that a new
broadcast wakes) would otherwise all take their first slot at the same instant: ten
calls at once where LINE's window allows fewer. So a lane that was idle for a while
(new, or its next slot more than ``IDLE_SECONDS`` and one interval in the past) starts
at a random point within one interval: the environments' phases spread out, and their
sum is the channel rate from the first call on. It delays that first call by at most
one interval (5.6 ms at the default push rate). A lane busy with short pauses (between
two batches) goes on from its slot, so the spacing costs no throughput.

Everything here takes an injected monotonic clock and sleep, so tests run on virtual
time.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class EndpointKind(StrEnum):
    """The LINE endpoints the sender paces; each has its own per-channel limit."""

    PUSH = "push"
    MULTICAST = "multicast"
    REPLY = "reply"


# LINE's published per-channel rate limits, Messaging API reference, "Rate limits"
# (https://developers.line.biz/en/reference/messaging-api/#rate-limits): "Send multicast
# message" 200 requests per second; push and reply fall under "Other API endpoints",
# 2,000 requests per second. (Narrowcast and broadcast: 60 per hour, not paced here.)
LINE_RATE_LIMITS: dict[EndpointKind, float] = {
    EndpointKind.PUSH: 2000.0,
    EndpointKind.MULTICAST: 200.0,
    EndpointKind.REPLY: 2000.0,
}
# The default stays 10 % under LINE's limit: room for clock skew between environments
# and for other callers of the same channel (LINE Official Account Manager, tools).
DEFAULT_SHARE_OF_LINE_LIMIT = 0.9


class SendRates(BaseModel):
    """A channel's send rate per endpoint kind, in requests per second (all senders)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    push: float = Field(
        default=LINE_RATE_LIMITS[EndpointKind.PUSH] * DEFAULT_SHARE_OF_LINE_LIMIT, gt=0
    )
    multicast: float = Field(
        default=LINE_RATE_LIMITS[EndpointKind.MULTICAST] * DEFAULT_SHARE_OF_LINE_LIMIT, gt=0
    )
    reply: float = Field(
        default=LINE_RATE_LIMITS[EndpointKind.REPLY] * DEFAULT_SHARE_OF_LINE_LIMIT, gt=0
    )

    def for_kind(self, kind: EndpointKind) -> float:
        rate: float = getattr(self, kind.value)
        return rate

    @classmethod
    def from_setting(cls, value: Any) -> SendRates:
        """The channel's ``send_rate_per_second`` setting (decoded JSON).

        A number applies to every kind; an object sets some kinds
        (``{"push": 500, "multicast": 50}``) and the others keep their default; None
        means the defaults. Raises ValueError (pydantic) on anything else.
        """
        if value is None:
            return cls()
        if isinstance(value, int | float) and not isinstance(value, bool):
            return cls(**dict.fromkeys(("push", "multicast", "reply"), value))
        return cls.model_validate(value)


class PacingDeferred(Exception):
    """The next free slot is past the deadline: hand the record back for later."""

    def __init__(self, wait_seconds: float) -> None:
        super().__init__(f"next send slot in {wait_seconds:.2f} s, past this invocation's budget")
        self.wait_seconds = wait_seconds


# A lane whose next slot is further in the past than this woke from idle (see above).
IDLE_SECONDS = 5.0


@dataclass
class _Lane:
    """One (channel, endpoint kind) in this environment."""

    next_slot: float = -math.inf  # the earliest time the next call may start
    slow_factor: float = 1.0  # < 1 for a while after a 429
    slow_until: float = -math.inf


class Pacer:
    """Spaces LINE calls per (channel, endpoint kind) to ``channel_rate / concurrency``.

    Slots are reserved from the previous slot, not from the end of the previous call,
    so the time a call and its ledger writes take is absorbed by the spacing. Thread
    safe (a slot is reserved under a lock; the wait happens outside it).

    429 feedback: LINE rate-limiting us means someone else uses the channel's budget
    too (another tool, LINE's own console) or the rate setting is too high. The
    environment that saw it halves its pace (down to ``min_factor``) for
    ``slowdown_seconds``; another 429 meanwhile halves it again and extends the
    period; then it returns to the configured rate at once. Each environment learns
    from its own 429s only: no shared state, and all environments backing off
    halve the total.
    """

    def __init__(
        self,
        concurrency: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        slowdown_seconds: float = 30.0,
        min_factor: float = 1 / 8,
        phase: Callable[[], float] | None = None,
    ) -> None:
        """``phase``: a number in [0, 1), where within its first interval a lane that
        was idle starts; by default ``random.random`` (looked up at each call, so a
        test can fix it): no two environments start in step."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.concurrency = concurrency
        self._clock = clock
        self._sleep = sleep
        self._slowdown_seconds = slowdown_seconds
        self._min_factor = min_factor
        self._phase = phase or (lambda: random.random())
        self._lanes: dict[tuple[str, EndpointKind], _Lane] = {}
        self._lock = threading.Lock()

    def now(self) -> float:
        return self._clock()

    def environment_rate(self, channel_id: str, kind: EndpointKind, channel_rate: float) -> float:
        """Calls per second this environment allows itself now."""
        with self._lock:
            return self._rate(self._lane(channel_id, kind), channel_rate, self._clock())

    def acquire(
        self,
        channel_id: str,
        kind: EndpointKind,
        channel_rate: float,
        *,
        deadline: float | None = None,
        late_ok: bool = False,
    ) -> float:
        """Wait for the next slot of the lane and take it; returns the seconds waited.

        ``deadline`` (on this pacer's clock): a slot after it raises PacingDeferred and
        reserves nothing, unless ``late_ok`` (the record's last chance), in which case
        the call goes at the deadline at the latest.
        """
        with self._lock:
            now = self._clock()
            lane = self._lane(channel_id, kind)
            interval = 1.0 / self._rate(lane, channel_rate, now)
            if lane.next_slot < now - max(interval, IDLE_SECONDS):  # idle: a random phase
                slot = now + self._phase() * interval
            else:
                slot = max(now, lane.next_slot)
            if deadline is not None and slot > deadline:
                if not late_ok:
                    raise PacingDeferred(slot - now)
                wait = max(0.0, deadline - now)
            else:
                wait = slot - now
            lane.next_slot = slot + interval
        if wait > 0:
            self._sleep(wait)
        return wait

    def slow_down(self, channel_id: str, kind: EndpointKind) -> None:
        """LINE answered 429 (rate limit) on this lane: halve its pace for a while."""
        with self._lock:
            now = self._clock()
            lane = self._lane(channel_id, kind)
            current = lane.slow_factor if now < lane.slow_until else 1.0
            lane.slow_factor = max(self._min_factor, current / 2)
            lane.slow_until = now + self._slowdown_seconds

    def _lane(self, channel_id: str, kind: EndpointKind) -> _Lane:
        return self._lanes.setdefault((channel_id, kind), _Lane())

    def _rate(self, lane: _Lane, channel_rate: float, now: float) -> float:
        factor = lane.slow_factor if now < lane.slow_until else 1.0
        return channel_rate / self.concurrency * factor
