"""Faults injected on request: errors, delays and held ("timed out") requests."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from enum import Enum

from .config import ALL_ENDPOINTS


class FaultOutcome(Enum):
    NONE = "none"
    TIMEOUT = "timeout"
    ERROR_500 = "error_500"
    ERROR_429 = "error_429"
    ERROR_500_AFTER_DELIVERY = "error_500_after_delivery"


class InvalidFault(ValueError):
    pass


@dataclass
class FaultSpec:
    error_500: float = 0.0
    error_500_after_delivery: float = 0.0
    error_429: float = 0.0
    delay_seconds: float = 0.0
    timeout: float = 0.0
    seed: int | None = None
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        probabilities = (
            self.error_500,
            self.error_500_after_delivery,
            self.error_429,
            self.timeout,
        )
        if any(not 0.0 <= p <= 1.0 for p in probabilities) or sum(probabilities) > 1.0 + 1e-9:
            raise InvalidFault("probabilities must be within 0..1 and add up to at most 1")
        if self.delay_seconds < 0:
            raise InvalidFault("delay_seconds must not be negative")
        self.rng = random.Random(self.seed)

    def draw(self) -> FaultOutcome:
        # One draw per request, so a seeded spec yields the same sequence every run.
        roll = self.rng.random()
        for outcome, probability in (
            (FaultOutcome.TIMEOUT, self.timeout),
            (FaultOutcome.ERROR_500, self.error_500),
            (FaultOutcome.ERROR_429, self.error_429),
            (FaultOutcome.ERROR_500_AFTER_DELIVERY, self.error_500_after_delivery),
        ):
            if roll < probability:
                return outcome
            roll -= probability
        return FaultOutcome.NONE


@dataclass(frozen=True)
class FaultDecision:
    outcome: FaultOutcome
    delay_seconds: float


NO_FAULT = FaultDecision(FaultOutcome.NONE, 0.0)


class FaultInjector:
    def __init__(self) -> None:
        self._specs: dict[str, FaultSpec] = {}
        self._lock = threading.Lock()

    def set(self, endpoint: str, spec: FaultSpec) -> None:
        with self._lock:
            self._specs[endpoint] = spec

    def clear(self) -> None:
        with self._lock:
            self._specs.clear()

    def decide(self, endpoint: str) -> FaultDecision:
        with self._lock:
            spec = self._specs.get(endpoint) or self._specs.get(ALL_ENDPOINTS)
            if spec is None:
                return NO_FAULT
            return FaultDecision(spec.draw(), spec.delay_seconds)

    def to_json(self) -> dict[str, dict[str, float | int | None]]:
        with self._lock:
            return {
                endpoint: {
                    "error_500": spec.error_500,
                    "error_500_after_delivery": spec.error_500_after_delivery,
                    "error_429": spec.error_429,
                    "delay_seconds": spec.delay_seconds,
                    "timeout": spec.timeout,
                    "seed": spec.seed,
                }
                for endpoint, spec in self._specs.items()
            }
