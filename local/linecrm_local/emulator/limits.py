"""Rate limits: one token bucket per channel and endpoint key."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class TokenBucket:
    rate: float  # tokens per second
    capacity: float
    tokens: float
    updated_at: float

    def take(self, now: float) -> bool:
        elapsed = max(0.0, now - self.updated_at)
        self.tokens = min(self.capacity, self.tokens + elapsed * self.rate)
        self.updated_at = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def bucket_capacity(rate: float) -> float:
    """A second's worth of requests; an hour's worth for per-hour limits.

    LINE states narrowcast and broadcast limits per hour (60/h): a one-second burst
    would allow no second request for a minute, which is not how LINE behaves.
    """
    window_seconds = 1.0 if rate >= 1.0 else 3600.0
    return max(1.0, rate * window_seconds)


class RateLimiter:
    def __init__(self, rate_for: Callable[[str], float], clock: Callable[[], float]) -> None:
        self._rate_for = rate_for
        self._clock = clock
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._lock = threading.Lock()

    def allow(self, channel_id: str, endpoint: str) -> bool:
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get((channel_id, endpoint))
            if bucket is None:
                rate = self._rate_for(endpoint)
                capacity = bucket_capacity(rate)
                bucket = TokenBucket(rate, capacity, capacity, now)
                self._buckets[(channel_id, endpoint)] = bucket
            return bucket.take(now)

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()
