"""Segments: which friends a broadcast, a rich menu or a report is for.

A segment document (YAML or JSON) holds one condition under ``match``. A condition is a
mapping with exactly one key, its kind::

    tag: VIP                               # has the tag (name or id)
    tags_any: [VIP, 購入者]                 # has at least one of the tags
    tags_all: [VIP, 購入者]                 # has every one of the tags
    field: {key: rank, op: eq, value: gold}
    status: active                         # or blocked
    inflow_route: qr_shop_a                # or {in: [qr_shop_a, qr_shop_b]}
    followed: {after: 2025-06-01, before: 2025-07-01, within_days: 30}
    last_interaction: {within_days: 30}    # or {not_within_days: 30}: silent for 30 days
    blocked: {within_days: 7}
    linked: true                           # a member id is linked (ID連携)
    language: ja                           # or {in: [ja, en]}
    event: {name: purchase, count: {gte: 3}, within_days: 90}   # behaviour events
    event: {name: page_view, last_within_days: 7}
    event: {name: cart_updated, property: {key: cart_value, op: gte, value: 3000}}
    all: [...]  any: [...]  not: {...}

Semantics, decided once here (and in docs/segments.md):

- ``all: []`` matches everyone and ``any: []`` no one (the identities of and / or).
- A missing field value never matches a comparison, ``ne`` and ``not_in`` included; it
  matches ``not_exists``. A stored value of the wrong type counts as a value for
  ``exists`` but matches no comparison.
- Text comparisons (eq, ne, in, not_in, contains) use NFKC-normalised, case-folded
  text, like keyword rules: "ＶＩＰ" equals "vip". Choice and date values compare exactly.
- ``after`` is "on or after" and ``before`` "strictly before", so ``after: X, before: Y``
  is the half-open range [X, Y). A date (no time) means midnight in the account's time
  zone. ``within_days: N`` on a timestamp means "at or after N×24 h before the
  evaluation time"; on a date field, "from N days before today until today" (local).
- Nesting is at most ``MAX_DEPTH`` conditions deep and a segment has at most
  ``MAX_CONDITIONS`` conditions, combinators included.

``compile_segment`` checks a document against the channel's tags and fields once
(tag names become ids, field values are coerced, operators are checked against field
types) and returns a ``CompiledSegment`` whose ``matches`` runs plain Python closures
over precomputed values: no pydantic and no catalog look-ups per friend.

The package is four modules: ``document`` (the conditions, parsing and size checks),
``compiler`` (``compile_segment`` and ``CompiledSegment``), ``previews`` (counts,
samples and warnings) and ``saved`` (saved segments, used by reference as
``{"segment": "<segment_id>"}``); everything public is importable from ``linecrm.domain.segments``.
"""

from linecrm.domain.segments.compiler import CompiledSegment, Predicate, compile_segment
from linecrm.domain.segments.document import (
    CONDITION_KINDS,
    MAX_CONDITIONS,
    MAX_DEPTH,
    MAX_LIST_ITEMS,
    MAX_WINDOW_DAYS,
    OPERATORS_BY_FIELD_TYPE,
    ROOT_PATH,
    AllCondition,
    AnyCondition,
    BlockedCondition,
    Condition,
    CountTest,
    EventCondition,
    EventTest,
    FieldCondition,
    FieldOperator,
    FieldTest,
    FollowedCondition,
    FollowedWindow,
    InflowRouteCondition,
    InteractionWindow,
    LanguageChoice,
    LanguageCondition,
    LanguageTag,
    LastInteractionCondition,
    LinkedCondition,
    NotCondition,
    PropertyTest,
    RecentWindow,
    RouteChoice,
    RouteName,
    Segment,
    SegmentError,
    StatusCondition,
    TagCondition,
    TagReference,
    TagReferences,
    TagsAllCondition,
    TagsAnyCondition,
    ValueTest,
    WindowDays,
    check_size,
    parse_segment,
)
from linecrm.domain.segments.previews import (
    NARROWCAST_MIN_AUDIENCE,
    SMALL_SEGMENT_THRESHOLD,
    SegmentPreview,
    audience_warnings,
    preview,
)
from linecrm.domain.segments.saved import (
    MAX_SAVED_SEGMENTS,
    SEGMENT_ID_PATTERN,
    SavedSegment,
    as_document,
    check_definition,
    new_segment_id,
    reference_of,
    resolve_reference,
)

__all__ = [
    "CONDITION_KINDS",
    "MAX_CONDITIONS",
    "MAX_DEPTH",
    "MAX_LIST_ITEMS",
    "MAX_SAVED_SEGMENTS",
    "MAX_WINDOW_DAYS",
    "NARROWCAST_MIN_AUDIENCE",
    "OPERATORS_BY_FIELD_TYPE",
    "ROOT_PATH",
    "SEGMENT_ID_PATTERN",
    "SMALL_SEGMENT_THRESHOLD",
    "AllCondition",
    "AnyCondition",
    "BlockedCondition",
    "CompiledSegment",
    "Condition",
    "CountTest",
    "EventCondition",
    "EventTest",
    "FieldCondition",
    "FieldOperator",
    "FieldTest",
    "FollowedCondition",
    "FollowedWindow",
    "InflowRouteCondition",
    "InteractionWindow",
    "LanguageChoice",
    "LanguageCondition",
    "LanguageTag",
    "LastInteractionCondition",
    "LinkedCondition",
    "NotCondition",
    "Predicate",
    "PropertyTest",
    "RecentWindow",
    "RouteChoice",
    "RouteName",
    "SavedSegment",
    "Segment",
    "SegmentError",
    "SegmentPreview",
    "StatusCondition",
    "TagCondition",
    "TagReference",
    "TagReferences",
    "TagsAllCondition",
    "TagsAnyCondition",
    "ValueTest",
    "WindowDays",
    "as_document",
    "audience_warnings",
    "check_definition",
    "check_size",
    "compile_segment",
    "new_segment_id",
    "parse_segment",
    "preview",
    "reference_of",
    "resolve_reference",
]
