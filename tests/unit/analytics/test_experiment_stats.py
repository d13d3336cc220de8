"""Wilson intervals, the two-proportion z-test and the verdict, against known values."""

from __future__ import annotations

import random

import pytest

from linecrm.domain.experiment_stats import (
    NOT_ENOUGH_DATA,
    compare,
    enough_data,
    normal_two_sided_p,
    overall_verdict,
    shown_p,
    two_proportion_test,
    wilson_interval,
)


def test_wilson_interval_known_values() -> None:
    # 10 of 100: the textbook 95 % Wilson interval is 0.0552 … 0.1744.
    low, high = wilson_interval(10, 100) or (0, 0)
    assert low == pytest.approx(0.05523, abs=1e-4)
    assert high == pytest.approx(0.17437, abs=1e-4)
    # 0 of 10: 0 … 0.2775 (not the degenerate 0 … 0 of the normal interval).
    low, high = wilson_interval(0, 10) or (1, 1)
    assert low == 0.0
    assert high == pytest.approx(0.27753, abs=1e-4)
    assert wilson_interval(0, 0) is None


def test_normal_tail_known_values() -> None:
    assert normal_two_sided_p(1.959963984540054) == pytest.approx(0.05, abs=1e-9)
    assert normal_two_sided_p(-2.5758293035489) == pytest.approx(0.01, abs=1e-9)
    assert normal_two_sided_p(0.0) == pytest.approx(1.0)


def test_two_proportion_test_known_value() -> None:
    # 100/1000 vs 130/1000: chi-square (no continuity correction) 4.4214, p = 0.0355.
    test = two_proportion_test(100, 1000, 130, 1000)
    assert test is not None
    assert test.z**2 == pytest.approx(4.4214, abs=1e-3)
    assert test.p_value == pytest.approx(0.0355, abs=1e-4)
    assert test.z > 0
    assert two_proportion_test(0, 100, 0, 100) is None
    assert two_proportion_test(1, 0, 1, 100) is None


def test_small_samples_are_not_enough_data() -> None:
    assert not enough_data(1, 40, 9, 40)  # fewer than 100 reached per arm
    assert not enough_data(1, 500, 2, 500)  # under 5 expected conversions per arm
    assert enough_data(10, 500, 20, 500)
    comparison = compare("B", 9, 40, "A", 1, 40)
    assert comparison.verdict == NOT_ENOUGH_DATA
    assert overall_verdict([comparison]) == NOT_ENOUGH_DATA
    assert overall_verdict([]) == NOT_ENOUGH_DATA


def test_a_real_difference_is_found_on_a_seeded_large_sample() -> None:
    draw = random.Random(13)
    sent = 5_000
    conversions_a = sum(draw.random() < 0.04 for _ in range(sent))
    conversions_b = sum(draw.random() < 0.06 for _ in range(sent))
    comparison = compare("B", conversions_b, sent, "A", conversions_a, sent)
    assert comparison.decided
    assert comparison.verdict.startswith("B converts better than A (p")
    assert overall_verdict([comparison]) == comparison.verdict


def test_no_difference_when_both_arms_convert_alike() -> None:
    draw = random.Random(5)
    a = sum(draw.random() < 0.05 for _ in range(3_000))
    b = sum(draw.random() < 0.05 for _ in range(3_000))
    comparison = compare("B", b, 3_000, "A", a, 3_000)
    assert comparison.decided
    assert comparison.verdict.startswith("no difference found between B and A (p = ")
    assert overall_verdict([comparison]) == "no difference found"


def test_worse_is_said_too() -> None:
    comparison = compare("B", 20, 1_000, "A", 60, 1_000)
    assert comparison.verdict == "B converts worse than A (p < 0.001)"


def test_p_shown_plainly() -> None:
    assert shown_p(0.0123) == "p = 0.012"
    assert shown_p(0.01) == "p = 0.01"
    assert shown_p(0.0004) == "p < 0.001"
