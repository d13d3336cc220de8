"""Segment conditions on behaviour events: counts in a window of days, the latest
occurrence, the latest event's value and properties; checked at compile time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from linecrm.domain.events import (
    MAX_EVENT_WINDOW_DAYS,
    BehaviourEventRecord,
    EventStats,
    record_event,
)
from linecrm.domain.fields import FieldCatalog
from linecrm.domain.friends import Friend
from linecrm.domain.segments import SegmentError, compile_segment
from linecrm.domain.tags import TagCatalog

TOKYO = ZoneInfo("Asia/Tokyo")
# 2026-12-02 12:00 in Tokyo.
AT = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
TAGS = TagCatalog([], [])
FIELDS = FieldCatalog([])


def stats(*events: tuple[str, float, dict[str, Any], float | None]) -> dict[str, EventStats]:
    """(name, days ago, properties, value) -> the aggregates record_event keeps."""
    kept: dict[str, EventStats] = {}
    for index, (name, days_ago, properties, value) in enumerate(events):
        event = BehaviourEventRecord(
            name=name,
            user_id="U" + "0" * 32,
            occurred_at=AT - timedelta(days=days_ago),
            idempotency_key=f"k{index}",
            properties=properties,
            value=value,
            source="shop",
        )
        kept[name] = record_event(kept.get(name), event, TOKYO, AT)
    return kept


def friend(user: str, *events: tuple[str, float, dict[str, Any], float | None]) -> Friend:
    return Friend(
        channel_id="c", user_id="U" + user * 32, status="active", event_stats=stats(*events)
    )


BUYER_3 = friend(
    "1",
    ("purchase", 5, {}, 1000.0),
    ("purchase", 40, {}, 2000.0),
    ("purchase", 80, {}, 500.0),
)
BUYER_OLD = friend(  # three purchases, but one of them 120 days ago
    "2",
    ("purchase", 5, {}, 1000.0),
    ("purchase", 40, {}, 2000.0),
    ("purchase", 120, {}, 500.0),
)
BROWSER = friend("3", ("page_view", 2, {"path": "/sale"}, None))
STALE_BROWSER = friend("4", ("page_view", 10, {"path": "/top"}, None))
CART_BIG = friend(
    "5",
    ("cart_updated", 3, {"cart_value": 1000}, 1000.0),
    ("cart_updated", 1, {"cart_value": 3500, "coupon": "ＳＡＬＥ"}, 3500.0),
)
CART_SMALL = friend("6", ("cart_updated", 1, {"cart_value": 2999}, 2999.0))
NOBODY = friend("7")
EVERYONE = [BUYER_3, BUYER_OLD, BROWSER, STALE_BROWSER, CART_BIG, CART_SMALL, NOBODY]


def matching(condition: dict[str, Any]) -> list[Friend]:
    segment = compile_segment({"match": condition}, TAGS, FIELDS, time_zone="Asia/Tokyo")
    return [f for f in EVERYONE if segment.matches(f, AT)]


def test_purchase_at_least_three_times_in_90_days() -> None:
    found = matching({"event": {"name": "purchase", "count": {"gte": 3}, "within_days": 90}})
    assert found == [BUYER_3]
    # Without a window every kept event counts.
    assert matching({"event": {"name": "purchase", "count": {"gte": 3}}}) == [BUYER_3, BUYER_OLD]


def test_last_page_view_within_7_days() -> None:
    assert matching({"event": {"name": "page_view", "last_within_days": 7}}) == [BROWSER]
    silent = {"not": {"event": {"name": "page_view", "last_within_days": 7}}}
    assert BROWSER not in matching(silent) and STALE_BROWSER in matching(silent)


def test_latest_cart_value_at_least_3000() -> None:
    by_property = {
        "event": {
            "name": "cart_updated",
            "property": {"key": "cart_value", "op": "gte", "value": 3000},
        }
    }
    by_value = {"event": {"name": "cart_updated", "value": {"gte": 3000}}}
    assert matching(by_property) == [CART_BIG]
    assert matching(by_value) == [CART_BIG]


def test_property_text_compares_like_keyword_rules() -> None:
    condition = {
        "event": {
            "name": "cart_updated",
            "property": {"key": "coupon", "op": "eq", "value": "sale"},
        }
    }
    assert matching(condition) == [CART_BIG]
    exists = {"event": {"name": "cart_updated", "property": {"key": "coupon", "op": "not_exists"}}}
    assert matching(exists) == [CART_SMALL]  # friends without the event match nothing


def test_had_the_event_and_never_had_it() -> None:
    assert matching({"event": {"name": "page_view"}}) == [BROWSER, STALE_BROWSER]
    no_purchase = {"event": {"name": "purchase", "count": {"eq": 0}, "within_days": 30}}
    assert BUYER_3 not in matching(no_purchase)
    assert NOBODY in matching(no_purchase) and BROWSER in matching(no_purchase)


def test_counts_are_days_in_the_account_time_zone() -> None:
    # 2026-11-02 16:00 UTC is already 11-03 in Tokyo: inside "within 29 days" of 12-02.
    late = BehaviourEventRecord(
        name="visit",
        user_id="U" + "0" * 32,
        occurred_at=datetime(2026, 11, 2, 16, 0, tzinfo=UTC),
        idempotency_key="v",
        properties={},
        value=None,
        source="pos",
    )
    kept = record_event(None, late, TOKYO, AT)
    assert kept.days == {"2026-11-03": 1}
    visitor = Friend(
        channel_id="c", user_id="U" + "8" * 32, status="active", event_stats={"visit": kept}
    )
    segment = compile_segment(
        {"match": {"event": {"name": "visit", "within_days": 29}}}, TAGS, FIELDS
    )
    assert segment.matches(visitor, AT)


def test_old_day_buckets_are_dropped_but_the_total_stays() -> None:
    kept = stats(("purchase", MAX_EVENT_WINDOW_DAYS + 5, {}, None), ("purchase", 1, {}, None))
    assert kept["purchase"].count == 2
    assert len(kept["purchase"].days) == 1


def test_a_late_event_does_not_replace_the_latest() -> None:
    kept = stats(
        ("cart_updated", 1, {"cart_value": 5000}, 5000.0),
        ("cart_updated", 3, {"cart_value": 1}, 1.0),
    )
    assert kept["cart_updated"].latest_value == 5000.0
    assert kept["cart_updated"].count == 2


@pytest.mark.parametrize(
    ("condition", "path"),
    [
        ({"event": {"name": "Purchase"}}, "match.event.name"),
        ({"event": {"name": "purchase", "count": {}}}, "match.event.count"),
        (
            {"event": {"name": "purchase", "within_days": MAX_EVENT_WINDOW_DAYS + 1}},
            "match.event.within_days",
        ),
        ({"event": {"name": "purchase", "colour": 1}}, "match.event.colour"),
        (
            {"event": {"name": "cart", "property": {"key": "v", "op": "gte", "value": "x"}}},
            "match.event.property.value",
        ),
        (
            {"event": {"name": "cart", "property": {"key": "v", "op": "exists", "value": 1}}},
            "match.event.property.value",
        ),
        (
            {"event": {"name": "cart", "property": {"key": "v", "op": "in", "value": []}}},
            "match.event.property.value",
        ),
    ],
)
def test_bad_event_conditions_name_their_path(condition: dict[str, Any], path: str) -> None:
    with pytest.raises(SegmentError) as raised:
        compile_segment({"match": condition}, TAGS, FIELDS)
    assert raised.value.path == path, raised.value


def test_descriptions_read_well() -> None:
    segment = compile_segment(
        {"match": {"event": {"name": "purchase", "count": {"gte": 3}, "within_days": 90}}},
        TAGS,
        FIELDS,
    )
    assert segment.describe() == 'event "purchase" count >= 3 within 90 days'
