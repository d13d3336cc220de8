"""One step of a job: how long it may work, and what came of it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum


class StepOutcome(StrEnum):
    """What one step of a job (an import's, a broadcast's, a preview's) came to."""

    CONTINUE = "continue"  # progress saved; the job needs another step
    DONE = "done"  # the job is complete (a broadcast: sent)
    DEFERRED = "deferred"  # the job waits for a later start (a broadcast: quota)
    FAILED = "failed"  # the job cannot go on (reason on the job)
    BUSY = "busy"  # another step holds the job: this message is redundant
    LOST_RACE = "lost_race"  # cancelled or advanced by another step meanwhile
    FINISHED = "finished"  # nothing to do: the job was already done, cancelled or failed
    MISSING = "missing"


@dataclass
class StepBudget:
    """How long a step may work: until the function's remaining time nears the margin,
    and (tests, the local stack) at most ``max_chunks`` pages/chunks."""

    remaining_ms: Callable[[], int]
    margin_seconds: float = 45.0  # a LINE page fetch with retries, then the writes
    max_chunks: int | None = None
    chunks: int = 0

    def allows_more(self) -> bool:
        if self.chunks == 0:
            return True  # every step makes progress, however short its time
        if self.max_chunks is not None and self.chunks >= self.max_chunks:
            return False
        return self.remaining_ms() > self.margin_seconds * 1000

    def allows_row(self) -> bool:
        # Within a chunk only the writes of a row and the checkpoint must still fit.
        return self.remaining_ms() > self.margin_seconds * 1000 / 3
