"""Segments: every condition kind, combinators, compile-time checks with paths, previews."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, get_args

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from linecrm.domain.fields import FieldCatalog, FieldDefinition
from linecrm.domain.friends import Friend
from linecrm.domain.segments import (
    MAX_CONDITIONS,
    MAX_DEPTH,
    NARROWCAST_MIN_AUDIENCE,
    OPERATORS_BY_FIELD_TYPE,
    SMALL_SEGMENT_THRESHOLD,
    CompiledSegment,
    FieldOperator,
    Segment,
    SegmentError,
    audience_warnings,
    compile_segment,
    parse_segment,
    preview,
)
from linecrm.domain.tags import Tag, TagCatalog

JST = timezone(timedelta(hours=9))
# Sunday 2025-06-15 12:00 UTC = 21:00 in Tokyo, still June 15 there.
AT = datetime(2025, 6, 15, 12, 0, tzinfo=UTC)
DOCS = Path(__file__).resolve().parents[3] / "docs"

TAGS = TagCatalog(
    [
        Tag(tag_id="tag_vip", name="VIP"),
        Tag(tag_id="tag_buyer", name="購入者"),
        Tag(tag_id="tag_seminar", name="セミナー参加"),
    ],
    [],
)
FIELDS = FieldCatalog(
    [
        FieldDefinition(key="purchase_count", label="購入回数", type="number"),
        FieldDefinition(key="total_spent", label="累計購入金額", type="number"),
        FieldDefinition(key="last_visit", label="最終来店日", type="date"),
        FieldDefinition(key="rank", label="会員ランク", type="choice", choices=("gold", "silver")),
        FieldDefinition(key="last_purchase", label="最終購入日", type="date"),
        FieldDefinition(key="memo", label="メモ", type="text"),
        FieldDefinition(
            key="area", label="エリア", type="choice", choices=("東京", "大阪", "福岡")
        ),
    ]
)


def friend(**attributes: Any) -> Friend:
    values: dict[str, Any] = {"channel_id": "1650000000", "user_id": "U1", "status": "active"}
    return Friend.model_validate({**values, **attributes})


def compiled(condition: Any, **options: Any) -> CompiledSegment:
    return compile_segment({"match": condition}, TAGS, FIELDS, **options)


def matches(condition: Any, subject: Friend, at: datetime = AT) -> bool:
    return compiled(condition).matches(subject, at)


def error_of(condition: Any) -> SegmentError:
    with pytest.raises(SegmentError) as caught:
        compiled(condition)
    return caught.value


def field(key: str, op: str, value: Any = None) -> dict[str, Any]:
    test: dict[str, Any] = {"key": key, "op": op}
    if value is not None:
        test["value"] = value
    return {"field": test}


# ---------------------------------------------------------------- tags


def test_tag_by_name_or_id() -> None:
    vip = friend(tags={"tag_vip": AT})

    assert matches({"tag": "VIP"}, vip)
    assert matches({"tag": "tag_vip"}, vip)
    assert matches({"tag": " VIP "}, vip)
    assert not matches({"tag": "購入者"}, vip)
    assert not matches({"tag": "VIP"}, friend())


def test_tags_any_and_tags_all() -> None:
    vip_buyer = friend(tags={"tag_vip": AT, "tag_buyer": AT})
    vip = friend(tags={"tag_vip": AT})
    seminar = friend(tags={"tag_seminar": AT})

    assert matches({"tags_any": ["VIP", "セミナー参加"]}, vip)
    assert matches({"tags_any": ["VIP", "セミナー参加"]}, seminar)
    assert not matches({"tags_any": ["VIP", "購入者"]}, seminar)
    assert matches({"tags_all": ["VIP", "購入者"]}, vip_buyer)
    assert not matches({"tags_all": ["VIP", "購入者"]}, vip)
    # The same tag twice (by name and by id) is one requirement.
    assert matches({"tags_all": ["VIP", "tag_vip"]}, vip)


def test_tag_names_are_resolved_once_at_compile_time() -> None:
    segment = compiled({"tags_any": ["VIP", "tag_buyer"]})

    assert segment.tag_ids == frozenset({"tag_vip", "tag_buyer"})
    # Renaming a tag later does not change a compiled segment: it holds ids.
    assert segment.matches(friend(tags={"tag_buyer": AT}), AT)


def test_unknown_tags_are_named_with_their_path() -> None:
    error = error_of({"all": [{"tag": "VIP"}, {"tag": "ゴールド会員"}]})
    assert error.path == "match.all[1].tag"
    assert "unknown tag 'ゴールド会員'" in str(error)

    error = error_of({"any": [{"tags_any": ["VIP", "nope"]}]})
    assert error.path == "match.any[0].tags_any[1]"
    assert isinstance(error, ValueError)


def test_tag_lists_must_not_be_empty() -> None:
    assert error_of({"tags_any": []}).path == "match.tags_any"


# ---------------------------------------------------------------- custom fields


@pytest.mark.parametrize(
    ("op", "value", "stored", "expected"),
    [
        ("eq", 3, 3, True),
        ("eq", 3, 3.0, True),
        ("eq", "3", 3, True),  # coerced by the field definition
        ("eq", 3, 4, False),
        ("ne", 3, 4, True),
        ("ne", 3, 3, False),
        ("gt", 3, 3, False),
        ("gt", 3, 4, True),
        ("gte", 3, 3, True),
        ("gte", 3, 2, False),
        ("lt", 3, 3, False),
        ("lt", 3, 2.5, True),
        ("lte", 3, 3, True),
        ("lte", 3, 4, False),
        ("in", [1, 3], 3, True),
        ("in", [1, 3], 2, False),
        ("not_in", [1, 3], 2, True),
        ("not_in", [1, 3], 3, False),
    ],
)
def test_number_field_operators(op: str, value: Any, stored: Any, expected: bool) -> None:
    subject = friend(fields={"purchase_count": stored})
    assert matches(field("purchase_count", op, value), subject) is expected


@pytest.mark.parametrize("op", ["eq", "ne", "gt", "gte", "lt", "lte", "in", "not_in"])
def test_missing_value_never_matches_a_comparison(op: str) -> None:
    value: Any = [99] if op in ("in", "not_in") else 99
    assert not matches(field("purchase_count", op, value), friend())


def test_exists_and_not_exists() -> None:
    with_value = friend(fields={"purchase_count": 0})

    assert matches(field("purchase_count", "exists"), with_value)
    assert not matches(field("purchase_count", "exists"), friend())
    assert matches(field("purchase_count", "not_exists"), friend())
    assert not matches(field("purchase_count", "not_exists"), with_value)


def test_a_stored_value_of_the_wrong_type_matches_no_comparison() -> None:
    odd = friend(fields={"purchase_count": "many"})

    assert not matches(field("purchase_count", "ne", 3), odd)
    assert not matches(field("purchase_count", "gte", 0), odd)
    assert matches(field("purchase_count", "exists"), odd)


def test_text_comparisons_ignore_width_and_case() -> None:
    memo = friend(fields={"memo": "ＶＩＰ向けセール希望 "})

    assert matches(field("memo", "contains", "vip"), memo)
    assert matches(field("memo", "contains", "セール"), memo)
    assert not matches(field("memo", "contains", "クーポン"), memo)
    assert matches(field("memo", "eq", "vip向けセール希望"), memo)
    assert matches(field("memo", "in", ["x", "VIP向けセール希望"]), memo)
    assert not matches(field("memo", "ne", "vip向けセール希望"), memo)


def test_choice_fields() -> None:
    gold = friend(fields={"rank": "gold"})

    assert matches(field("rank", "eq", "gold"), gold)
    assert matches(field("rank", "in", ["gold", "silver"]), gold)
    assert matches(field("rank", "not_in", ["silver"]), gold)
    assert not matches(field("rank", "ne", "gold"), gold)


@pytest.mark.parametrize(
    ("op", "value", "stored", "expected"),
    [
        ("eq", "2025-06-01", "2025-06-01", True),
        ("before", "2025-06-01", "2025-05-31", True),
        ("before", "2025-06-01", "2025-06-01", False),  # strictly before
        ("after", "2025-06-01", "2025-06-01", True),  # on or after
        ("after", "2025-06-01", "2025-05-31", False),
        ("in", ["2025-06-01", "2025-06-02"], "2025-06-02", True),
    ],
)
def test_date_field_operators(op: str, value: Any, stored: str, expected: bool) -> None:
    subject = friend(fields={"last_purchase": stored})
    assert matches(field("last_purchase", op, value), subject) is expected


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("2025-06-15", True),  # today in Tokyo
        ("2025-05-16", True),  # 30 days before today
        ("2025-05-15", False),  # 31 days before
        ("2025-06-16", False),  # the future is not "within the last days"
    ],
)
def test_date_within_days_counts_local_calendar_days(stored: str, expected: bool) -> None:
    subject = friend(fields={"last_purchase": stored})
    assert matches(field("last_purchase", "within_days", 30), subject, AT) is expected


def test_date_within_days_uses_the_account_time_zone() -> None:
    # 16:00 UTC on June 15 is already June 16 in Tokyo, but not in New York.
    at = datetime(2025, 6, 15, 16, 0, tzinfo=UTC)
    subject = friend(fields={"last_purchase": "2025-05-16"})
    condition = {"match": field("last_purchase", "within_days", 30)}

    assert not compile_segment(condition, TAGS, FIELDS).matches(subject, at)
    new_york = compile_segment(condition, TAGS, FIELDS, time_zone="America/New_York")
    assert new_york.matches(subject, at)


def test_field_yaml_dates_are_accepted() -> None:
    document = yaml.safe_load("match: {field: {key: last_purchase, op: before, value: 2025-06-01}}")
    segment = compile_segment(document, TAGS, FIELDS)
    assert segment.matches(friend(fields={"last_purchase": "2025-05-01"}), AT)


@pytest.mark.parametrize(
    ("key", "op"),
    [
        ("rank", "gt"),
        ("rank", "contains"),
        ("memo", "gte"),
        ("memo", "before"),
        ("purchase_count", "contains"),
        ("purchase_count", "within_days"),
        ("last_purchase", "gt"),
        ("area", "within_days"),
    ],
)
def test_operators_are_checked_against_the_field_type(key: str, op: str) -> None:
    error = error_of({"all": [{"tag": "VIP"}, field(key, op, 1)]})
    assert error.path == "match.all[1].field.op"
    assert f"{op} does not apply to" in error.reason


def test_every_operator_applies_to_some_field_type() -> None:
    used = {op for ops in OPERATORS_BY_FIELD_TYPE.values() for op in ops}
    assert used == set(get_args(FieldOperator))


@pytest.mark.parametrize(
    ("condition", "path", "reason"),
    [
        (field("points", "eq", 1), "match.field.key", "unknown field 'points'"),
        (field("rank", "like", "g"), "match.field.op", "Input should be"),
        (field("rank", "eq", "platinum"), "match.field.value", "not one of"),
        (field("rank", "in", ["gold", "platinum"]), "match.field.value[1]", "not one of"),
        (field("rank", "in", "gold"), "match.field.value", "needs a list"),
        (field("rank", "in", []), "match.field.value", "needs a list"),
        (field("rank", "eq", ["gold"]), "match.field.value", "takes one value"),
        (field("rank", "eq"), "match.field.value", "expected a choice value"),
        (field("rank", "exists", "gold"), "match.field.value", "takes no value"),
        (field("purchase_count", "gte", "many"), "match.field.value", "expected a number"),
        (field("purchase_count", "gte", True), "match.field.value", "expected a number"),
        (field("last_purchase", "after", "June 1"), "match.field.value", "expected a date"),
        (field("last_purchase", "within_days", 0), "match.field.value", "whole number"),
        (field("last_purchase", "within_days", True), "match.field.value", "whole number"),
        (field("memo", "contains", "  "), "match.field.value", "blank"),
    ],
)
def test_field_errors_name_the_bad_node(condition: Any, path: str, reason: str) -> None:
    error = error_of({"not": {"any": [{"tag": "VIP"}, condition]}})
    assert error.path == path.replace("match", "match.not.any[1]", 1)
    assert reason in error.reason


# ---------------------------------------------------------------- friend attributes


def test_status() -> None:
    assert matches({"status": "active"}, friend())
    assert not matches({"status": "blocked"}, friend())
    assert matches({"status": "blocked"}, friend(status="blocked"))
    assert error_of({"status": "gone"}).path == "match.status"


def test_inflow_route_string_or_list() -> None:
    from_shop = friend(inflow_route="qr_shop_a")

    assert matches({"inflow_route": "qr_shop_a"}, from_shop)
    assert matches({"inflow_route": {"in": ["ad_x", "qr_shop_a"]}}, from_shop)
    assert not matches({"inflow_route": {"in": ["ad_x"]}}, from_shop)
    assert not matches({"inflow_route": "qr_shop_a"}, friend())
    assert error_of({"inflow_route": {"in": []}}).path == "match.inflow_route.in"


def test_linked() -> None:
    linked = friend(member_id="M-100")

    assert matches({"linked": True}, linked)
    assert not matches({"linked": False}, linked)
    assert matches({"linked": False}, friend())
    assert error_of({"linked": "yes"}).path == "match.linked"


def test_language_with_subtags_and_any_case() -> None:
    assert matches({"language": "ja"}, friend(language="ja"))
    assert matches({"language": {"in": ["ja", "EN"]}}, friend(language="en"))
    assert matches({"language": "zh"}, friend(language="zh-Hant"))
    assert not matches({"language": "zh-Hant"}, friend(language="zh"))
    assert not matches({"language": "zh"}, friend(language="zhx"))
    assert not matches({"language": "ja"}, friend())
    assert error_of({"language": "日本語"}).path == "match.language.in[0]"


# ---------------------------------------------------------------- times


def test_followed_after_and_before_are_a_half_open_local_range() -> None:
    june = {"followed": {"after": "2025-06-01", "before": "2025-07-01"}}

    # Midnight June 1 in Tokyo is 15:00 UTC on May 31.
    assert matches(june, friend(first_followed_at=datetime(2025, 5, 31, 15, 0, tzinfo=UTC)))
    assert not matches(june, friend(first_followed_at=datetime(2025, 5, 31, 14, 59, tzinfo=UTC)))
    assert matches(june, friend(first_followed_at=datetime(2025, 6, 30, 23, 59, tzinfo=JST)))
    assert not matches(june, friend(first_followed_at=datetime(2025, 7, 1, 0, 0, tzinfo=JST)))
    assert not matches(june, friend())


def test_followed_with_aware_datetimes_and_within_days() -> None:
    after_ten = {"followed": {"after": "2025-06-01T10:00:00+09:00"}}
    assert matches(after_ten, friend(first_followed_at=datetime(2025, 6, 1, 1, 0, tzinfo=UTC)))
    assert not matches(after_ten, friend(first_followed_at=datetime(2025, 6, 1, 0, 59, tzinfo=UTC)))

    recent = {"followed": {"within_days": 7}}
    assert matches(recent, friend(first_followed_at=AT - timedelta(days=7)))
    assert not matches(recent, friend(first_followed_at=AT - timedelta(days=7, seconds=1)))


def test_followed_uses_the_first_follow_not_the_last() -> None:
    refollowed = friend(
        first_followed_at=datetime(2024, 1, 1, tzinfo=UTC), last_followed_at=AT - timedelta(days=1)
    )
    assert not matches({"followed": {"within_days": 30}}, refollowed)


@pytest.mark.parametrize(
    ("followed", "path", "reason"),
    [
        ({}, "match.followed", "at least one of"),
        ({"after": "2025-06-01T10:00:00"}, "match.followed.after", "no UTC offset"),
        ({"after": "soon"}, "match.followed.after", "expected a date"),
        ({"after": "2025-07-01", "before": "2025-06-01"}, "match.followed.before", "later than"),
        ({"within_days": 0}, "match.followed.within_days", "greater than or equal to 1"),
        ({"within_days": "30"}, "match.followed.within_days", "valid integer"),
        ({"since": "2025-06-01"}, "match.followed.since", "Extra inputs"),
    ],
)
def test_followed_errors(followed: dict[str, Any], path: str, reason: str) -> None:
    error = error_of({"followed": followed})
    assert error.path == path
    assert reason in error.reason


def test_last_interaction_within_days_boundary() -> None:
    condition = {"last_interaction": {"within_days": 30}}

    assert matches(condition, friend(last_interaction_at=AT - timedelta(days=30)))
    assert not matches(condition, friend(last_interaction_at=AT - timedelta(days=30, seconds=1)))
    assert not matches(condition, friend())


def test_silent_friends() -> None:
    silent = {"last_interaction": {"not_within_days": 30}}

    assert matches(silent, friend(last_interaction_at=AT - timedelta(days=30, seconds=1)))
    assert not matches(silent, friend(last_interaction_at=AT - timedelta(days=30)))
    assert matches(silent, friend())  # never interacted (imported): silent


def test_last_interaction_needs_exactly_one_window() -> None:
    both = {"last_interaction": {"within_days": 1, "not_within_days": 2}}
    assert error_of(both).path == "match.last_interaction"
    assert error_of({"last_interaction": {}}).path == "match.last_interaction"


def test_blocked_within_days() -> None:
    condition = {"blocked": {"within_days": 7}}
    recently = friend(status="blocked", blocked_at=AT - timedelta(days=6))

    assert matches(condition, recently)
    assert not matches(condition, friend(status="blocked", blocked_at=AT - timedelta(days=8)))
    # Followed again since: not blocked now, whatever an old blocked_at says.
    assert not matches(condition, friend(blocked_at=AT - timedelta(days=1)))


def test_stored_times_without_a_zone_are_utc() -> None:
    naive = friend(last_interaction_at=(AT - timedelta(days=1)).replace(tzinfo=None))
    assert matches({"last_interaction": {"within_days": 2}}, naive)


def test_evaluation_time_must_be_aware() -> None:
    with pytest.raises(ValueError, match="aware"):
        compiled({"status": "active"}).matches(friend(), datetime(2025, 6, 15, 12, 0))


# ---------------------------------------------------------------- combinators


def test_all_any_not_nest() -> None:
    condition = {
        "all": [
            {"tag": "VIP"},
            {"any": [field("purchase_count", "gte", 3), {"inflow_route": "qr_shop_a"}]},
            {"not": {"linked": True}},
        ]
    }

    assert matches(condition, friend(tags={"tag_vip": AT}, fields={"purchase_count": 3}))
    assert matches(condition, friend(tags={"tag_vip": AT}, inflow_route="qr_shop_a"))
    assert not matches(condition, friend(tags={"tag_vip": AT}))
    assert not matches(
        condition, friend(tags={"tag_vip": AT}, inflow_route="qr_shop_a", member_id="M")
    )
    assert not matches(condition, friend(inflow_route="qr_shop_a"))


def test_all_of_nothing_is_everyone_and_any_of_nothing_is_no_one() -> None:
    assert matches({"all": []}, friend())
    assert not matches({"any": []}, friend())
    assert not matches({"not": {"all": []}}, friend())
    assert compiled({"all": []}).describe() == "everyone"
    assert compiled({"any": []}).describe() == "no one"


def nested(depth: int) -> dict[str, Any]:
    condition: dict[str, Any] = {"tag": "VIP"}
    for level in range(depth - 1):
        condition = {"not": condition} if level % 2 else {"all": [condition]}
    return condition


def test_nesting_depth_limit() -> None:
    vip = friend(tags={"tag_vip": AT})
    assert compiled(nested(MAX_DEPTH)).matches(vip, AT) is (MAX_DEPTH % 2 == 1)

    error = error_of(nested(MAX_DEPTH + 1))
    assert f"at most {MAX_DEPTH} levels" in error.reason
    assert error.path.count(".") == MAX_DEPTH  # points at the first node too deep
    assert error.path.startswith("match.not.all[0]")


def test_runaway_nesting_is_refused_by_the_limit() -> None:
    error = error_of(nested(5_000))
    assert f"at most {MAX_DEPTH} levels" in error.reason


def test_condition_count_limit() -> None:
    at_limit = {"any": [{"tag": "VIP"}] * (MAX_CONDITIONS - 1)}
    assert compiled(at_limit).matches(friend(tags={"tag_vip": AT}), AT)

    over = {"any": [{"tag": "VIP"}] * MAX_CONDITIONS}
    error = error_of(over)
    assert error.path == "match"
    assert f"at most {MAX_CONDITIONS} conditions" in error.reason


@pytest.mark.parametrize(
    ("condition", "path", "reason"),
    [
        ({"tagz": "VIP"}, "match", "unknown condition 'tagz'"),
        ({"all": [{"tag": "VIP"}, {"tag": "VIP", "status": "active"}]}, "match.all[1]", "one key"),
        ({"any": [{}]}, "match.any[0]", "one key (found: none)"),
        ({"not": "VIP"}, "match.not", "a condition is a mapping"),
        ({"all": {"tag": "VIP"}}, "match.all", "valid list"),
    ],
)
def test_malformed_conditions(condition: Any, path: str, reason: str) -> None:
    error = error_of(condition)
    assert error.path == path
    assert reason in error.reason


def test_document_level_errors() -> None:
    with pytest.raises(SegmentError) as caught:
        compile_segment({"name": "x"}, TAGS, FIELDS)
    assert caught.value.path == "match"

    with pytest.raises(SegmentError) as caught:
        compile_segment({"match": {"tag": "VIP"}, "owner": "me"}, TAGS, FIELDS)
    assert caught.value.path == "owner"

    with pytest.raises(SegmentError) as caught:
        compile_segment({"match": {"tag": "VIP"}}, TAGS, FIELDS, time_zone="Mars/Olympus")
    assert caught.value.path == "time_zone"


def test_a_parsed_segment_compiles_as_is() -> None:
    segment = parse_segment({"name": "VIP", "match": {"tag": "VIP"}})

    assert isinstance(segment, Segment)
    assert compile_segment(segment, TAGS, FIELDS).segment is segment


def test_a_segment_round_trips_through_its_stored_form() -> None:
    document = {
        "name": "round trip",
        "match": {
            "all": [
                {"not": {"inflow_route": "qr_shop_a"}},
                {"language": {"in": ["ja"]}},
                {"followed": {"after": "2025-06-01", "before": "2025-07-01T00:00:00+09:00"}},
                field("purchase_count", "exists"),
            ]
        },
    }
    segment = parse_segment(document)

    stored = segment.model_dump(mode="json", by_alias=True, exclude_none=True)

    assert stored["match"]["all"][0] == {"not": {"inflow_route": {"in": ["qr_shop_a"]}}}
    assert parse_segment(stored) == segment


def test_describe_is_one_readable_line() -> None:
    segment = compiled(
        {
            "all": [
                {"tag": "tag_vip"},
                {"any": [field("purchase_count", "gte", 3), {"inflow_route": "qr_shop_a"}]},
                {"not": {"any": [{"linked": True}, {"language": {"in": ["en", "ja"]}}]}},
                {"followed": {"after": "2025-06-01", "within_days": 30}},
                {"last_interaction": {"not_within_days": 60}},
                field("rank", "in", ["silver", "gold"]),
            ]
        }
    )

    assert segment.describe() == (
        'tag "VIP" and (purchase_count >= 3 or inflow route "qr_shop_a") and '
        'not (ID-linked or language in ["en", "ja"]) and '
        "first followed on or after 2025-06-01, within the last 30 days and "
        "no interaction in the last 60 days and "
        'rank in ["gold", "silver"]'
    )


# ---------------------------------------------------------------- properties

LEAVES: list[dict[str, Any]] = [
    {"tag": "VIP"},
    {"tags_any": ["購入者", "セミナー参加"]},
    {"tags_all": ["VIP", "購入者"]},
    field("purchase_count", "gte", 3),
    field("purchase_count", "ne", 1),
    field("rank", "eq", "gold"),
    field("purchase_count", "not_exists"),
    {"status": "active"},
    {"inflow_route": "qr_shop_a"},
    {"linked": True},
    {"language": "ja"},
    {"last_interaction": {"within_days": 30}},
    {"followed": {"within_days": 90}},
]


def conditions(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    leaf = st.sampled_from(LEAVES)
    if depth <= 1:
        return leaf
    inner = conditions(depth - 1)
    return st.one_of(
        leaf,
        st.lists(inner, max_size=3).map(lambda items: {"all": items}),
        st.lists(inner, max_size=3).map(lambda items: {"any": items}),
        inner.map(lambda item: {"not": item}),
    )


optional_time = st.one_of(
    st.none(), st.integers(0, 200).map(lambda days: AT - timedelta(days=days))
)
friends = st.builds(
    friend,
    status=st.sampled_from(["active", "blocked"]),
    tags=st.sets(st.sampled_from(["tag_vip", "tag_buyer", "tag_seminar"])).map(
        lambda ids: dict.fromkeys(ids, AT)
    ),
    fields=st.fixed_dictionaries(
        {},
        optional={"purchase_count": st.integers(0, 5), "rank": st.sampled_from(["gold", "silver"])},
    ),
    inflow_route=st.sampled_from([None, "qr_shop_a", "ad_x"]),
    member_id=st.sampled_from([None, "M-1"]),
    language=st.sampled_from([None, "ja", "en"]),
    last_interaction_at=optional_time,
    first_followed_at=optional_time,
)


@settings(max_examples=300, deadline=None)
@given(conditions(4), conditions(4), friends)
def test_combinators_follow_boolean_logic(
    left: dict[str, Any], right: dict[str, Any], subject: Friend
) -> None:
    a = matches(left, subject)
    b = matches(right, subject)

    assert matches({"not": left}, subject) is (not a)
    assert matches({"not": {"not": left}}, subject) is a
    assert matches({"all": [left]}, subject) is a
    assert matches({"any": [left]}, subject) is a
    assert matches({"all": [left, right]}, subject) is (a and b)
    assert matches({"any": [left, right]}, subject) is (a or b)
    # De Morgan, through the compiled closures.
    assert matches({"not": {"all": [left, right]}}, subject) is matches(
        {"any": [{"not": left}, {"not": right}]}, subject
    )


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 400), optional_time)
def test_silent_is_exactly_not_recent(days: int, last: datetime | None) -> None:
    subject = friend(last_interaction_at=last)

    assert matches({"last_interaction": {"not_within_days": days}}, subject) is not matches(
        {"last_interaction": {"within_days": days}}, subject
    )


# ---------------------------------------------------------------- scale and previews


def test_a_hundred_thousand_friends_in_memory() -> None:
    population = [
        Friend(
            channel_id="1650000000",
            user_id=f"U{index:032x}",
            status="blocked" if index % 10 == 0 else "active",
            tags={"tag_vip": AT} if index % 3 == 0 else {},
            fields={"purchase_count": index % 7},
            inflow_route="qr_shop_a" if index % 2 else "ad_x",
            last_interaction_at=AT - timedelta(days=index % 60),
        )
        for index in range(100_000)
    ]
    segment = compiled(
        {
            "all": [
                {"status": "active"},
                {"any": [{"tag": "VIP"}, field("purchase_count", "gte", 5)]},
                {"not": {"inflow_route": "ad_x"}},
                {"last_interaction": {"within_days": 30}},
            ]
        }
    )

    expected = sum(
        1
        for index in range(100_000)
        if index % 10 != 0
        and (index % 3 == 0 or index % 7 >= 5)
        and index % 2 == 1
        and index % 60 <= 30
    )
    assert sum(1 for _ in segment.filter(population, AT)) == expected
    assert expected > 10_000


def active_friends(count: int, **attributes: Any) -> list[Friend]:
    return [friend(user_id=f"U{index:03d}", **attributes) for index in range(count)]


def test_preview_counts_and_samples_in_order() -> None:
    population = active_friends(60, tags={"tag_vip": AT}) + active_friends(5)

    result = preview(population, compiled({"tag": "VIP"}), AT, sample_size=3)

    assert result.count == 60
    assert result.sample_user_ids == ("U000", "U001", "U002")
    assert result.warnings == ()


def test_preview_warns_about_empty_segments() -> None:
    result = preview(active_friends(30), compiled({"tag": "VIP"}), AT)

    assert result.count == 0
    assert result.sample_user_ids == ()
    assert result.warnings == ("no friend matches this segment",)


def test_preview_warns_about_small_segments() -> None:
    small = preview(active_friends(SMALL_SEGMENT_THRESHOLD - 1), compiled({"all": []}), AT)
    assert small.count == SMALL_SEGMENT_THRESHOLD - 1
    assert len(small.sample_user_ids) == 10
    assert any("under 20 friends" in warning for warning in small.warnings)
    assert any("narrowcast" in warning for warning in small.warnings)

    medium = preview(active_friends(SMALL_SEGMENT_THRESHOLD), compiled({"all": []}), AT)
    assert not any("under 20 friends" in warning for warning in medium.warnings)
    assert any(f"under {NARROWCAST_MIN_AUDIENCE}" in warning for warning in medium.warnings)

    large = preview(active_friends(NARROWCAST_MIN_AUDIENCE), compiled({"all": []}), AT)
    assert large.warnings == ()


def test_the_audience_warnings_are_one_function_for_segments_and_broadcasts() -> None:
    small = SMALL_SEGMENT_THRESHOLD - 1
    segment = preview(active_friends(small), compiled({"all": []}), AT).warnings
    assert segment == audience_warnings(small)
    broadcast = audience_warnings(small, subject="broadcast")
    assert [w.split(":", 1)[1] for w in broadcast] == [w.split(":", 1)[1] for w in segment]
    assert broadcast[0].startswith(f"only {small} recipients:")
    assert audience_warnings(0, subject="broadcast") == ("no friend would receive this broadcast",)
    # A broadcast to the whole channel is no segment: only an empty one is warned about.
    assert audience_warnings(small, subject="broadcast", segmented=False) == ()
    assert audience_warnings(0, subject="broadcast", segmented=False) == (
        "no friend would receive this broadcast",
    )


def test_preview_warns_when_blocked_friends_match() -> None:
    population = [*active_friends(50), friend(user_id="UB1", status="blocked")]

    result = preview(population, compiled({"all": []}), AT)

    assert result.count == 51
    assert result.warnings == (
        "1 of the 51 friends have blocked the account and will not receive messages "
        "(add `status: active` to leave them out)",
    )


def test_preview_warns_when_login_only_friends_match() -> None:
    population = [*active_friends(50), friend(user_id="UL1", status="login_only")]

    result = preview(population, compiled({"all": []}), AT)
    assert result.count == 51
    assert result.warnings == (
        "1 of the 51 friends only logged in through LIFF / LINE Login and never followed: "
        "they will not receive messages (add `status: active` to leave them out)",
    )
    followers = preview(population, compiled({"status": "active"}), AT)
    assert (followers.count, followers.warnings) == (50, ())
    logins = preview(population, compiled({"status": "login_only"}), AT)
    assert logins.sample_user_ids == ("UL1",)


# ---------------------------------------------------------------- the user docs


def yaml_blocks(markdown: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", markdown, flags=re.DOTALL)


def test_every_yaml_example_in_the_docs_compiles() -> None:
    blocks = yaml_blocks((DOCS / "segments.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 10
    for block in blocks:
        document = yaml.safe_load(block)
        segment = compile_segment(document, TAGS, FIELDS)
        assert segment.describe()
