"""The per-environment pacer on virtual time: no real sleeping."""

from __future__ import annotations

import pytest

from linecrm.delivery.pacing import (
    LINE_RATE_LIMITS,
    EndpointKind,
    Pacer,
    PacingDeferred,
    SendRates,
)

PUSH = EndpointKind.PUSH
MULTICAST = EndpointKind.MULTICAST


class VirtualTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def time_() -> VirtualTime:
    return VirtualTime()


def pacer(time_: VirtualTime, concurrency: int = 5, phase: float = 0.0, **options: float) -> Pacer:
    """A pacer whose idle lanes start at ``phase`` of their first interval."""
    return Pacer(concurrency, clock=time_.clock, sleep=time_.sleep, phase=lambda: phase, **options)


def test_n_calls_take_at_least_n_minus_1_intervals_of_the_environments_share(
    time_: VirtualTime,
) -> None:
    paced = pacer(time_)
    # Channel rate 50/s over 5 environments: this one may make 10 calls per second.
    for _ in range(21):
        paced.acquire("ch", PUSH, 50.0)
    assert time_.now == pytest.approx(2.0)  # 20 intervals of 0.1 s after the first call
    assert paced.environment_rate("ch", PUSH, 50.0) == pytest.approx(10.0)


def test_five_environments_together_stay_within_the_channel_rate(time_: VirtualTime) -> None:
    environments = [pacer(time_) for _ in range(5)]
    starts: list[float] = []
    # Each environment's next call, in time order: what five concurrent senders do.
    next_free = [0.0] * 5
    for _ in range(500):
        index = min(range(5), key=lambda i: next_free[i])
        time_.now = max(time_.now, next_free[index])
        environments[index].acquire("ch", PUSH, 50.0)
        starts.append(time_.now)
        next_free[index] = time_.now + 0.001  # the call itself is quick
    window = [t for t in starts if 2.0 <= t < 7.0]
    assert len(window) <= 50 * 5 + 5  # at most the channel rate (+ one call per environment)
    assert len(window) >= 50 * 5 - 5  # and not much less: pacing is not throttling


def test_time_spent_in_the_call_is_absorbed_by_the_spacing(time_: VirtualTime) -> None:
    paced = pacer(time_)
    for _ in range(11):
        paced.acquire("ch", PUSH, 50.0)
        time_.now += 0.06  # the LINE call and the ledger write
    # Slots stay 0.1 s apart: 10 intervals, plus the last call's own 0.06 s.
    assert time_.now == pytest.approx(1.06)
    assert all(wait == pytest.approx(0.04) for wait in time_.sleeps)


def test_channels_and_endpoint_kinds_are_paced_independently(time_: VirtualTime) -> None:
    paced = pacer(time_)
    paced.acquire("ch-a", PUSH, 5.0)  # next push of ch-a only after 1 s
    assert paced.acquire("ch-b", PUSH, 5.0) == 0.0
    assert paced.acquire("ch-a", MULTICAST, 5.0) == 0.0
    assert time_.now == 0.0
    assert paced.acquire("ch-a", PUSH, 5.0) == pytest.approx(1.0)


def test_a_slot_past_the_deadline_defers_without_reserving_it(time_: VirtualTime) -> None:
    paced = pacer(time_)
    paced.acquire("ch", PUSH, 1.0)  # one call per 5 s in this environment
    with pytest.raises(PacingDeferred) as deferred:
        paced.acquire("ch", PUSH, 1.0, deadline=time_.now + 2.0)
    assert deferred.value.wait_seconds == pytest.approx(5.0)
    assert time_.now == 0.0  # no sleeping
    # The slot was not taken: the next caller gets the same one.
    assert paced.acquire("ch", PUSH, 1.0) == pytest.approx(5.0)


def test_a_slot_before_the_deadline_is_waited_for(time_: VirtualTime) -> None:
    paced = pacer(time_)
    paced.acquire("ch", PUSH, 1.0)
    assert paced.acquire("ch", PUSH, 1.0, deadline=5.0) == pytest.approx(5.0)


def test_the_last_chance_goes_at_the_deadline_instead_of_deferring(time_: VirtualTime) -> None:
    paced = pacer(time_)
    paced.acquire("ch", PUSH, 1.0)
    assert paced.acquire("ch", PUSH, 1.0, deadline=2.0, late_ok=True) == pytest.approx(2.0)
    # The slot it took is still accounted: the next call keeps the spacing after it.
    assert paced.acquire("ch", PUSH, 1.0) == pytest.approx(8.0)


def test_a_429_halves_the_pace_for_a_while(time_: VirtualTime) -> None:
    paced = pacer(time_, slowdown_seconds=30.0)
    paced.slow_down("ch", PUSH)
    assert paced.environment_rate("ch", PUSH, 50.0) == pytest.approx(5.0)
    paced.acquire("ch", PUSH, 50.0)
    assert paced.acquire("ch", PUSH, 50.0) == pytest.approx(0.2)  # 1 / (10/s / 2)
    paced.slow_down("ch", PUSH)  # another 429 meanwhile: a quarter
    assert paced.environment_rate("ch", PUSH, 50.0) == pytest.approx(2.5)
    assert paced.environment_rate("ch", MULTICAST, 50.0) == pytest.approx(10.0)
    assert paced.environment_rate("other", PUSH, 50.0) == pytest.approx(10.0)
    time_.now += 30.0
    assert paced.environment_rate("ch", PUSH, 50.0) == pytest.approx(10.0)


def test_repeated_429s_slow_down_to_a_floor(time_: VirtualTime) -> None:
    paced = pacer(time_, min_factor=1 / 8)
    for _ in range(10):
        paced.slow_down("ch", PUSH)
    assert paced.environment_rate("ch", PUSH, 80.0) == pytest.approx(2.0)


def test_concurrency_must_be_positive() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        Pacer(0)


# ---------------------------------------------------------------- rates


def test_default_rates_keep_ten_percent_under_lines_published_limits() -> None:
    rates = SendRates()
    assert LINE_RATE_LIMITS[PUSH] == 2000 and LINE_RATE_LIMITS[MULTICAST] == 200
    assert rates.for_kind(PUSH) == pytest.approx(1800)
    assert rates.for_kind(MULTICAST) == pytest.approx(180)
    assert rates.for_kind(EndpointKind.REPLY) == pytest.approx(1800)


def test_rate_setting_as_a_number_or_per_kind() -> None:
    assert SendRates.from_setting(None) == SendRates()
    assert SendRates.from_setting(50) == SendRates(push=50, multicast=50, reply=50)
    partial = SendRates.from_setting({"multicast": 20.5})
    assert partial.multicast == 20.5 and partial.push == SendRates().push


@pytest.mark.parametrize("value", [0, -1, True, "fast", {"push": 0}, {"pushes": 10}, [10]])
def test_invalid_rate_settings_are_refused(value: object) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - pydantic's or ours
        SendRates.from_setting(value)


def test_idle_lanes_start_at_their_phase_so_environments_woken_together_spread_out(
    time_: VirtualTime,
) -> None:
    # Ten environments, channel rate 8/s: one call each per 1.25 s. Woken at once,
    # each starts at its own phase of the first interval instead of all at t = 0.
    phases = [n / 10 for n in range(10)]
    environments = [pacer(time_, concurrency=10, phase=p) for p in phases]
    waits = [env.acquire("ch", PUSH, 8.0) for env in environments]
    assert waits == [pytest.approx(p * 1.25) for p in phases]

    # Busy from then on: the next call keeps the spacing (no new random phase) ...
    time_.now = 0.0
    first = pacer(time_, concurrency=10, phase=0.5)
    first.acquire("ch", PUSH, 8.0)
    assert first.acquire("ch", PUSH, 8.0) == pytest.approx(1.25)
    # ... nor after a pause shorter than IDLE_SECONDS (between two batches) ...
    time_.now += 4.0
    assert first.acquire("ch", PUSH, 8.0) == 0.0
    # ... but after a longer idle time, it starts at its phase again.
    time_.now += 10.0
    assert first.acquire("ch", PUSH, 8.0) == pytest.approx(0.625)


def test_the_default_phase_is_random_within_the_first_interval(time_: VirtualTime) -> None:
    waits = [
        Pacer(10, clock=time_.clock, sleep=lambda _: None).acquire("ch", PUSH, 8.0)
        for _ in range(50)
    ]
    assert all(0.0 <= wait < 1.25 for wait in waits)
    assert len({round(wait, 6) for wait in waits}) > 40  # not one fixed offset
