"""The attribution rules alone (no AWS): which campaign a block or a purchase is
credited to, and the edges of the windows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from linecrm.domain import stats
from linecrm.domain.attribution import (
    AttributionSettings,
    is_block,
    local_day,
    order_key,
    purchase_amount,
    purchase_credits,
    stored_attribution,
    unfollow_credits,
)
from linecrm.repositories.tracking_markers import Marker

AT = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
WEEK = timedelta(days=stats.DEFAULT_ATTRIBUTION_WINDOW_DAYS)


def marker(campaign: str, at: datetime, variant: str | None = None) -> Marker:
    return Marker(campaign=campaign, variant=variant, at=at)


def test_an_unfollow_within_24_hours_is_a_block_of_the_last_delivery() -> None:
    sent = marker("broadcast:sale", AT, "B")
    exactly = unfollow_credits(sent, AT + timedelta(hours=24))
    assert exactly.campaigns == {("broadcast:sale", "B"): {"blocks": 1}}
    assert exactly.day == {"unfollows": 1, "blocks": 1}


def test_an_unfollow_at_24_hours_and_a_second_is_no_block() -> None:
    late = unfollow_credits(marker("broadcast:sale", AT), AT + timedelta(hours=24, seconds=1))
    assert late.campaigns == {}
    assert late.day == {"unfollows": 1}


def test_an_unfollow_without_a_delivery_or_before_it_is_no_block() -> None:
    assert unfollow_credits(None, AT).campaigns == {}
    assert not is_block(marker("broadcast:sale", AT), AT - timedelta(seconds=1))


def test_a_purchase_is_credited_to_the_last_click_within_7_days() -> None:
    credits = purchase_credits(
        amount=4200,
        purchased_at=AT + WEEK,
        window=WEEK,
        last_click=marker("step:welcome:day3", AT, "A"),
        last_sent=None,
        holdout=None,
    )
    assert credits.campaigns == {("step:welcome:day3", "A"): {"conversions": 1, "revenue": 4200}}
    assert credits.day == {"conversions": 1, "revenue": 4200}


def test_a_purchase_7_days_and_a_second_after_the_click_is_not_attributed() -> None:
    credits = purchase_credits(
        amount=4200,
        purchased_at=AT + WEEK + timedelta(seconds=1),
        window=WEEK,
        last_click=marker("broadcast:sale", AT),
        last_sent=None,
        holdout=None,
    )
    assert credits.campaigns == {} and credits.day == {}


def test_a_purchase_without_a_click_counts_only_as_exposed() -> None:
    credits = purchase_credits(
        amount=1000,
        purchased_at=AT + timedelta(hours=3),
        window=WEEK,
        last_click=None,
        last_sent=marker("broadcast:sale", AT, "B"),
        holdout=None,
    )
    assert credits.campaigns == {
        ("broadcast:sale", "B"): {"exposed_conversions": 1, "exposed_revenue": 1000}
    }
    assert credits.day == {}


def test_click_and_delivery_of_one_campaign_merge_into_one_write() -> None:
    credits = purchase_credits(
        amount=500,
        purchased_at=AT + timedelta(days=1),
        window=WEEK,
        last_click=marker("broadcast:sale", AT + timedelta(hours=1), "A"),
        last_sent=marker("broadcast:sale", AT, "A"),
        holdout=marker("broadcast:other", AT),
    )
    assert credits.campaigns == {
        ("broadcast:sale", "A"): {
            "conversions": 1,
            "revenue": 500,
            "exposed_conversions": 1,
            "exposed_revenue": 500,
        },
        ("broadcast:other", "holdout"): {
            "conversions": 1,
            "revenue": 500,
            "exposed_conversions": 1,
            "exposed_revenue": 500,
        },
    }


def test_a_purchase_before_the_click_is_not_credited_to_it() -> None:
    credits = purchase_credits(
        amount=500,
        purchased_at=AT - timedelta(minutes=1),
        window=WEEK,
        last_click=marker("broadcast:sale", AT),
        last_sent=marker("broadcast:sale", AT),
        holdout=marker("broadcast:sale", AT),
    )
    assert credits.campaigns == {}


@pytest.mark.parametrize(
    ("value", "amount"),
    [(4200, 4200), (4200.4, 4200), (None, 0), ("4200", 0), (True, 0), (-300, 0), (float("nan"), 0)],
)
def test_purchase_amounts(value: object, amount: int) -> None:
    assert purchase_amount(value) == amount


def test_the_order_id_makes_one_order_of_two_idempotency_keys() -> None:
    assert order_key({"order_id": "100045"}, "web-1") == order_key({"order_id": "100045"}, "srv")
    assert order_key({"order_id": 100045}, "x") == "order:100045"
    assert order_key({}, "order-7") == "key:order-7"
    assert order_key({"order_id": ""}, "k") == order_key({"order_id": ["a"]}, "k") == "key:k"
    assert order_key({"order_id": "9" * 129}, "k") == "key:k"


def test_days_are_the_account_time_zone() -> None:
    late_evening_utc = datetime(2026, 12, 2, 16, 30, tzinfo=UTC)  # 01:30 on the 3rd in Tokyo
    assert local_day(late_evening_utc, ZoneInfo("Asia/Tokyo")) == date(2026, 12, 3)
    assert local_day(late_evening_utc, ZoneInfo("UTC")) == date(2026, 12, 2)


def test_the_window_setting() -> None:
    assert stored_attribution({}).window == WEEK
    assert stored_attribution({"attribution": '{"window_days": 3}'}).window == timedelta(days=3)
    for bad in ({"window_days": 0}, {"window_days": 91}, {"window_days": "7"}, {"days": 7}):
        with pytest.raises(ValidationError):
            AttributionSettings.model_validate(bad)
