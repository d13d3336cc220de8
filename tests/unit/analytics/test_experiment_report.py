"""The experiment report from counters: rates, intervals, tests, holdout, verdict, CSV."""

from __future__ import annotations

import csv
import io
import random

import pytest

from linecrm.domain.experiment_stats import NOT_ENOUGH_DATA, wilson_interval
from linecrm.experiments.report import build_report, report_csv

CAMPAIGN = "broadcast:b1"


def arm(sent: int, exposed: int, **more: int) -> dict[str, int]:
    return {"sent": sent, "exposed_conversions": exposed, **more}


def test_small_samples_say_not_enough_data_yet() -> None:
    report = build_report(
        CAMPAIGN,
        {"A": arm(40, 1), "B": arm(40, 9), "holdout": {"held_out": 10, "exposed_conversions": 0}},
        ["A", "B"],
    )
    assert report.verdict == NOT_ENOUGH_DATA
    assert report.variants[1].verdict == NOT_ENOUGH_DATA
    assert report.holdout is not None and report.holdout.verdict == NOT_ENOUGH_DATA
    # The figures are still shown, with honest intervals.
    assert report.variants[1].cvr == pytest.approx(9 / 40)
    assert report.variants[1].cvr_ci_low is not None and report.variants[1].cvr_ci_low < 0.225


def test_a_real_difference_is_found_on_a_seeded_large_sample() -> None:
    draw = random.Random(2026)
    sent = 4_000
    a = sum(draw.random() < 0.03 for _ in range(sent))
    b = sum(draw.random() < 0.05 for _ in range(sent))
    held = 900
    h = sum(draw.random() < 0.02 for _ in range(held))
    report = build_report(
        CAMPAIGN,
        {
            "A": arm(sent, a, unique_clicks=400, blocks=12, conversions=a // 2, revenue=1000),
            "B": arm(sent, b, unique_clicks=500, blocks=20),
            "holdout": {"held_out": held, "exposed_conversions": h, "exposed_revenue": 5000},
        },
        ["A", "B"],
    )
    assert report.control == "A"
    control, variant = report.variants
    assert control.verdict == "control" and control.p_value is None
    assert variant.verdict.startswith("B converts better than A (p")
    assert variant.p_value is not None and variant.p_value < 0.05
    assert report.verdict == variant.verdict
    assert variant.lift_vs_control == pytest.approx((b / sent - a / sent) / (a / sent))
    assert control.ctr == pytest.approx(0.1)
    assert control.block_rate == pytest.approx(12 / sent)
    assert control.last_click_conversions == a // 2 and control.last_click_revenue == 1000
    assert (control.ctr_ci_low, control.ctr_ci_high) == wilson_interval(400, sent)
    holdout = report.holdout
    assert holdout is not None and holdout.held_out == held and holdout.conversions == h
    treated_cvr = (a + b) / (2 * sent)
    assert holdout.incremental_conversions == pytest.approx(
        round((treated_cvr - h / held) * 2 * sent, 1)
    )
    assert holdout.revenue == 5000


def test_one_variant_and_a_holdout_is_the_campaign_against_sending_nothing() -> None:
    report = build_report(
        CAMPAIGN,
        {"A": arm(9_000, 450), "holdout": {"held_out": 1_000, "exposed_conversions": 20}},
        ["A"],
    )
    assert report.verdict.startswith("A converts better than the holdout (p < 0.001)")
    assert report.holdout is not None
    assert report.holdout.incremental_conversions == pytest.approx((0.05 - 0.02) * 9_000)


def test_the_control_is_the_first_variant_as_defined() -> None:
    counters = {"A": arm(1_000, 50), "B": arm(1_000, 50)}
    assert build_report(CAMPAIGN, counters, ["B", "A"]).control == "B"
    assert build_report(CAMPAIGN, counters).control == "A"  # by name without a definition
    # A defined variant nobody was sent yet is listed with zeros.
    report = build_report(CAMPAIGN, {"A": arm(500, 10)}, ["A", "C"])
    assert [v.variant for v in report.variants] == ["A", "C"]
    assert report.variants[1].sent == 0 and report.variants[1].cvr is None
    assert report.verdict == NOT_ENOUGH_DATA


def test_no_data_and_no_experiment() -> None:
    assert build_report(CAMPAIGN, {}).verdict == "no data yet: nothing was sent"
    plain = build_report(CAMPAIGN, {"-": arm(100, 3)})
    assert plain.verdict == "nothing to compare: one group and no holdout"


def test_csv_has_a_bom_and_a_row_per_group() -> None:
    report = build_report(
        CAMPAIGN,
        {"A": arm(40, 1), "B": arm(40, 9), "holdout": {"held_out": 10}},
        ["A", "B"],
    )
    text = report_csv(report)
    assert text.startswith("\ufeffcampaign,group,sent")
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert [row["group"] for row in rows] == ["A", "B", "holdout", "verdict"]
    assert rows[1]["sent"] == "40" and rows[1]["cvr"] == "0.225"
    assert rows[2]["sent"] == "10"
    assert rows[3]["verdict"] == NOT_ENOUGH_DATA
