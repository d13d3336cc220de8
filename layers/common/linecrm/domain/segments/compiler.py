"""Compiling a segment document against a channel's tags and fields into plain
Python closures, and testing friends with them."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from linecrm.domain.events import EventStats
from linecrm.domain.fields import FieldCatalog, FieldDefinition, FieldValueError, UnknownField
from linecrm.domain.friends import FieldValue, Friend
from linecrm.domain.rules import normalize_text
from linecrm.domain.segments.document import (
    MAX_LIST_ITEMS,
    MAX_WINDOW_DAYS,
    OPERATORS_BY_FIELD_TYPE,
    ROOT_PATH,
    AllCondition,
    AnyCondition,
    BlockedCondition,
    EventCondition,
    FieldCondition,
    FieldOperator,
    FieldTest,
    FollowedCondition,
    InflowRouteCondition,
    LanguageCondition,
    LastInteractionCondition,
    LinkedCondition,
    NotCondition,
    PropertyTest,
    Segment,
    SegmentError,
    StatusCondition,
    TagCondition,
    TagsAllCondition,
    TagsAnyCondition,
    _Condition,
    parse_segment,
)
from linecrm.domain.segments.saved import SavedSegment, resolve_reference
from linecrm.domain.tags import TagCatalog, UnknownTag
from linecrm.domain.time_zones import DEFAULT_TIME_ZONE

# ---------------------------------------------------------------- compiled form


@dataclass(frozen=True)
class _Moment:
    """The evaluation time, prepared once per ``at``: UTC instant and local date."""

    at: datetime
    today: date


Predicate = Callable[[Friend, _Moment], bool]


@dataclass(frozen=True)
class _Node:
    test: Predicate
    text: str
    compound: bool = False  # several parts joined by and/or: parenthesise when nested


class CompiledSegment:
    """A segment resolved against a channel's tags and fields, ready to test friends."""

    def __init__(
        self, segment: Segment, root: _Node, zone: ZoneInfo, tag_ids: frozenset[str]
    ) -> None:
        self.segment = segment
        self.zone = zone
        self.tag_ids = tag_ids  # every tag the segment refers to (for index planning)
        self._root = root
        self._moment_cache: tuple[datetime, _Moment] | None = None

    def matches(self, friend: Friend, at: datetime) -> bool:
        """Whether ``friend`` is in the segment at the aware instant ``at``."""
        return self._root.test(friend, self._moment(at))

    def filter(self, friends: Iterable[Friend], at: datetime) -> Iterator[Friend]:
        """The friends in the segment at ``at``, in the order given."""
        moment = self._moment(at)
        test = self._root.test
        return (friend for friend in friends if test(friend, moment))

    def describe(self) -> str:
        """One line for humans (previews, logs): tag names, field keys, values."""
        return self._root.text

    def _moment(self, at: datetime) -> _Moment:
        cached = self._moment_cache
        if cached is not None and cached[0] is at:
            return cached[1]
        if at.tzinfo is None:
            raise ValueError("segments are evaluated at an aware datetime")
        moment = _Moment(at=at.astimezone(UTC), today=at.astimezone(self.zone).date())
        self._moment_cache = (at, moment)
        return moment


def compile_segment(
    document: Segment | Mapping[str, Any],
    tags: TagCatalog,
    fields: FieldCatalog,
    *,
    time_zone: str = DEFAULT_TIME_ZONE,
    saved: Mapping[str, SavedSegment] | None = None,
) -> CompiledSegment:
    """Check ``document`` against the channel's catalogs and prepare it for evaluation.

    ``time_zone`` (the account's) gives plain dates a midnight and "today" its date.
    ``saved`` (the channel's saved segments) resolves a reference ``{"segment": id}``;
    without it a reference is an unknown saved segment.
    """
    segment = parse_segment(resolve_reference(document, saved))
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise SegmentError("time_zone", f"unknown time zone {time_zone!r}") from error
    compiler = _Compiler(tags, fields, zone)
    root = compiler.compile(segment.match, ROOT_PATH)
    return CompiledSegment(segment, root, zone, frozenset(compiler.tag_ids))


# ---------------------------------------------------------------- the compiler


def _quoted(value: object) -> str:
    return f'"{value}"' if isinstance(value, str) else str(value)


def _listed(values: Iterable[object]) -> str:
    return "[" + ", ".join(_quoted(value) for value in values) + "]"


def _utc(moment: datetime) -> datetime:
    """Stored times are UTC; one without a zone (hand-edited data) is read as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _fold(text: str) -> str:
    return normalize_text(text, case_sensitive=False)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Compiler:
    def __init__(self, tags: TagCatalog, fields: FieldCatalog, zone: ZoneInfo) -> None:
        self.tags = tags
        self.fields = fields
        self.zone = zone
        self.tag_ids: set[str] = set()

    def compile(self, condition: _Condition, path: str) -> _Node:
        compile_kind: Callable[[Any, str], _Node] = getattr(self, f"_{condition.KIND}")
        return compile_kind(condition, path)

    # --- combinators
    def _all(self, condition: AllCondition, path: str) -> _Node:
        return self._combine(condition.all, path, "all")

    def _any(self, condition: AnyCondition, path: str) -> _Node:
        return self._combine(condition.any, path, "any")

    def _combine(self, conditions: list[Any], path: str, kind: Literal["all", "any"]) -> _Node:
        nodes = [self.compile(item, f"{path}.{kind}[{i}]") for i, item in enumerate(conditions)]
        if not nodes:
            everyone = kind == "all"  # and of nothing is true, or of nothing is false
            return _Node(lambda friend, moment: everyone, "everyone" if everyone else "no one")
        if len(nodes) == 1:
            return nodes[0]
        tests = tuple(node.test for node in nodes)
        joiner = " and " if kind == "all" else " or "
        text = joiner.join(f"({node.text})" if node.compound else node.text for node in nodes)
        if kind == "all":

            def all_match(friend: Friend, moment: _Moment) -> bool:
                for test in tests:  # noqa: SIM110 - a plain loop beats all(genexpr) here
                    if not test(friend, moment):
                        return False
                return True

            return _Node(all_match, text, compound=True)

        def any_match(friend: Friend, moment: _Moment) -> bool:
            for test in tests:  # noqa: SIM110
                if test(friend, moment):
                    return True
            return False

        return _Node(any_match, text, compound=True)

    def _not(self, condition: NotCondition, path: str) -> _Node:
        inner = self.compile(condition.not_, f"{path}.not")
        test = inner.test
        text = f"not ({inner.text})" if inner.compound else f"not {inner.text}"
        return _Node(lambda friend, moment: not test(friend, moment), text)

    # --- tags
    def _resolve(self, reference: str, path: str) -> tuple[str, str]:
        try:
            tag = self.tags.resolve(reference)
        except UnknownTag as error:
            raise SegmentError(path, f"unknown tag {reference!r}") from error
        self.tag_ids.add(tag.tag_id)
        return tag.tag_id, tag.name

    def _tag(self, condition: TagCondition, path: str) -> _Node:
        tag_id, name = self._resolve(condition.tag, f"{path}.tag")
        return _Node(lambda friend, moment: tag_id in friend.tags, f"tag {_quoted(name)}")

    def _resolve_all(self, references: list[str], path: str) -> tuple[frozenset[str], str]:
        resolved = [self._resolve(ref, f"{path}[{i}]") for i, ref in enumerate(references)]
        names = sorted({name for _, name in resolved})
        return frozenset(tag_id for tag_id, _ in resolved), _listed(names)

    def _tags_any(self, condition: TagsAnyCondition, path: str) -> _Node:
        tag_ids, names = self._resolve_all(condition.tags_any, f"{path}.tags_any")
        return _Node(
            lambda friend, moment: not friend.tags.keys().isdisjoint(tag_ids),
            f"any tag of {names}",
        )

    def _tags_all(self, condition: TagsAllCondition, path: str) -> _Node:
        tag_ids, names = self._resolve_all(condition.tags_all, f"{path}.tags_all")
        return _Node(lambda friend, moment: friend.tags.keys() >= tag_ids, f"all tags of {names}")

    # --- friend attributes
    def _status(self, condition: StatusCondition, path: str) -> _Node:
        status = condition.status
        return _Node(lambda friend, moment: friend.status == status, f"status {status}")

    def _inflow_route(self, condition: InflowRouteCondition, path: str) -> _Node:
        routes = frozenset(condition.inflow_route.in_)
        text = (
            f"inflow route {_quoted(condition.inflow_route.in_[0])}"
            if len(routes) == 1
            else f"inflow route in {_listed(sorted(routes))}"
        )
        return _Node(lambda friend, moment: friend.inflow_route in routes, text)

    def _linked(self, condition: LinkedCondition, path: str) -> _Node:
        linked = condition.linked
        return _Node(
            lambda friend, moment: bool(friend.member_id) is linked,
            "ID-linked" if linked else "not ID-linked",
        )

    # --- behaviour events (aggregates on the friend: linecrm.domain.events.EventStats)
    def _event(self, condition: EventCondition, path: str) -> _Node:
        test = condition.event
        name = test.name
        tests: list[Callable[[EventStats, _Moment], bool]] = []
        parts = [f"event {_quoted(name)}"]
        window = test.within_days
        counted: Callable[[EventStats, _Moment], int]
        if window is None:
            counted = lambda stats, moment: stats.count  # noqa: E731 - every event kept
        else:
            span = timedelta(days=window)
            counted = lambda stats, moment: stats.count_since(moment.today - span)  # noqa: E731
        bounds = _bounds(test.count.model_dump() if test.count else {"gte": 1})
        tests.append(lambda stats, moment: _within(counted(stats, moment), bounds))
        if test.count is not None:
            parts.append("count " + _bounds_text(test.count.model_dump()))
        if window is not None:
            parts.append(f"within {window} days")
        if test.last_within_days is not None:
            recent = timedelta(days=test.last_within_days)
            tests.append(
                lambda stats, moment: (
                    stats.last_at is not None and _utc(stats.last_at) >= moment.at - recent
                )
            )
            parts.append(f"last within {test.last_within_days} days")
        if test.value is not None:
            value_bounds = _bounds(test.value.model_dump())
            tests.append(
                lambda stats, moment: (
                    stats.latest_value is not None and _within(stats.latest_value, value_bounds)
                )
            )
            parts.append("latest value " + _bounds_text(test.value.model_dump()))
        if test.property is not None:
            tests.append(self._property_test(test.property, f"{path}.event.property"))
            parts.append(
                f"latest {test.property.key} {test.property.op}"
                + ("" if test.property.value is None else f" {_quoted(test.property.value)}")
            )
        # No events at all: a count that allows zero still holds (e.g. count: {eq: 0}).
        never = _within(0, bounds)
        only_count = len(tests) == 1
        checks = tuple(tests)

        def event_matches(friend: Friend, moment: _Moment) -> bool:
            stats = friend.event_stats.get(name)
            if stats is None:
                return never and only_count
            for check in checks:  # noqa: SIM110
                if not check(stats, moment):
                    return False
            return True

        return _Node(event_matches, " ".join(parts))

    def _property_test(
        self, test: PropertyTest, path: str
    ) -> Callable[[EventStats, _Moment], bool]:
        key, op, raw = test.key, test.op, test.value
        if op in ("exists", "not_exists"):
            if raw is not None:
                raise SegmentError(f"{path}.value", f"{op} takes no value")
            present = op == "exists"
            return lambda stats, moment: (key in stats.latest_properties) is present
        if op in ("in", "not_in"):
            if not isinstance(raw, list) or not raw or len(raw) > MAX_LIST_ITEMS:
                raise SegmentError(
                    f"{path}.value", f"{op} needs a list of 1-{MAX_LIST_ITEMS} values"
                )
            values = frozenset(_scalar(item, f"{path}.value[{i}]") for i, item in enumerate(raw))
            inside = op == "in"

            def member(stats: EventStats, moment: _Moment) -> bool:
                value = _comparable(stats.latest_properties.get(key))
                return value is not None and (value in values) is inside

            return member
        target = _scalar(raw, f"{path}.value")
        if op in ("gt", "gte", "lt", "lte"):
            if not _is_number(target):
                raise SegmentError(f"{path}.value", f"{op} compares numbers")
            compare = _COMPARISONS[op]

            def ordered(stats: EventStats, moment: _Moment) -> bool:
                value = stats.latest_properties.get(key)
                return _is_number(value) and compare(value, target)

            return ordered
        if op == "contains":
            if not isinstance(target, str):
                raise SegmentError(f"{path}.value", "contains needs text")

            def contains(stats: EventStats, moment: _Moment) -> bool:
                value = _comparable(stats.latest_properties.get(key))
                return isinstance(value, str) and target in value

            return contains
        equal = op == "eq"

        def equality(stats: EventStats, moment: _Moment) -> bool:
            value = _comparable(stats.latest_properties.get(key))
            return value is not None and (value == target) is equal

        return equality

    def _language(self, condition: LanguageCondition, path: str) -> _Node:
        # RFC 4647 basic filtering: "zh" matches "zh-Hant", "zh-Hant" does not match "zh".
        languages = frozenset(condition.language.in_)
        prefixes = tuple(f"{language}-" for language in sorted(languages))

        def language_matches(friend: Friend, moment: _Moment) -> bool:
            if not friend.language:
                return False
            language = friend.language.lower()
            return language in languages or language.startswith(prefixes)

        text = (
            f"language {_quoted(condition.language.in_[0])}"
            if len(languages) == 1
            else f"language in {_listed(sorted(languages))}"
        )
        return _Node(language_matches, text)

    # --- times
    def _instant(self, value: date | datetime) -> datetime:
        if isinstance(value, datetime):
            return value.astimezone(UTC)
        return datetime.combine(value, time(0), tzinfo=self.zone).astimezone(UTC)

    def _followed(self, condition: FollowedCondition, path: str) -> _Node:
        window = condition.followed
        after = None if window.after is None else self._instant(window.after)
        before = None if window.before is None else self._instant(window.before)
        if after is not None and before is not None and before <= after:
            raise SegmentError(f"{path}.followed.before", "must be later than after")
        span = None if window.within_days is None else timedelta(days=window.within_days)

        def followed_in_window(friend: Friend, moment: _Moment) -> bool:
            followed_at = friend.first_followed_at
            if followed_at is None:
                return False
            followed_at = _utc(followed_at)
            return (
                (after is None or followed_at >= after)
                and (before is None or followed_at < before)
                and (span is None or followed_at >= moment.at - span)
            )

        parts = []
        if window.after is not None:
            parts.append(f"on or after {window.after.isoformat()}")
        if window.before is not None:
            parts.append(f"before {window.before.isoformat()}")
        if window.within_days is not None:
            parts.append(f"within the last {window.within_days} days")
        return _Node(followed_in_window, "first followed " + ", ".join(parts))

    def _last_interaction(self, condition: LastInteractionCondition, path: str) -> _Node:
        window = condition.last_interaction
        if window.within_days is not None:
            span = timedelta(days=window.within_days)

            def recent(friend: Friend, moment: _Moment) -> bool:
                last = friend.last_interaction_at
                return last is not None and _utc(last) >= moment.at - span

            return _Node(recent, f"interacted within the last {window.within_days} days")
        assert window.not_within_days is not None  # the model requires exactly one
        silence = timedelta(days=window.not_within_days)

        def silent(friend: Friend, moment: _Moment) -> bool:
            last = friend.last_interaction_at
            return last is None or _utc(last) < moment.at - silence

        return _Node(silent, f"no interaction in the last {window.not_within_days} days")

    def _blocked(self, condition: BlockedCondition, path: str) -> _Node:
        days = condition.blocked.within_days
        span = timedelta(days=days)

        def blocked_recently(friend: Friend, moment: _Moment) -> bool:
            blocked_at = friend.blocked_at
            return (
                friend.status == "blocked"
                and blocked_at is not None
                and _utc(blocked_at) >= moment.at - span
            )

        return _Node(blocked_recently, f"blocked within the last {days} days")

    # --- custom fields
    def _field(self, condition: FieldCondition, path: str) -> _Node:
        test = condition.field
        path = f"{path}.field"
        try:
            definition = self.fields.get(test.key)
        except UnknownField as error:
            raise SegmentError(f"{path}.key", f"unknown field {test.key!r}") from error
        allowed = OPERATORS_BY_FIELD_TYPE[definition.type]
        if test.op not in allowed:
            raise SegmentError(
                f"{path}.op",
                f"{test.op} does not apply to {definition.type} field {test.key!r}; "
                f"use one of: {', '.join(allowed)}",
            )
        return _FieldCompiler(definition, test, path).compile()


class _FieldCompiler:
    """One field test: its value coerced by the field's definition, then a closure."""

    def __init__(self, definition: FieldDefinition, test: FieldTest, path: str) -> None:
        self.definition = definition
        self.test = test
        self.path = path
        self.key = test.key
        self.is_text = definition.type == "text"

    def compile(self) -> _Node:
        op = self.test.op
        if op in ("exists", "not_exists"):
            return self._presence(op == "exists")
        if op in ("in", "not_in"):
            return self._membership(op == "in")
        if op == "within_days":
            return self._within_days()
        return self._comparison(op)

    def _coerce(self, raw: object, path: str) -> FieldValue:
        if isinstance(raw, list | dict):
            raise SegmentError(path, f"{self.test.op} takes one value, not a list or mapping")
        try:
            value = self.definition.coerce(raw)
        except FieldValueError as error:
            raise SegmentError(path, str(error)) from error
        if self.is_text and isinstance(value, str):
            value = _fold(value)
            if not value:
                raise SegmentError(path, "text to compare is blank")
        return value

    def _stored(self) -> Callable[[Friend], FieldValue | None]:
        """The friend's value in comparable form, or None when missing or mistyped."""
        key = self.key
        kind = self.definition.type
        if kind == "number":

            def number(friend: Friend) -> FieldValue | None:
                value = friend.fields.get(key)
                return value if _is_number(value) else None

            return number
        if kind == "text":

            def text(friend: Friend) -> FieldValue | None:
                value = friend.fields.get(key)
                return _fold(value) if isinstance(value, str) else None

            return text

        def exact(friend: Friend) -> FieldValue | None:
            value = friend.fields.get(key)
            return value if isinstance(value, str) else None

        return exact

    def _presence(self, exists: bool) -> _Node:
        if self.test.value is not None:
            raise SegmentError(f"{self.path}.value", f"{self.test.op} takes no value")
        key = self.key
        return _Node(
            lambda friend, moment: (key in friend.fields) is exists,
            f"{key} is set" if exists else f"{key} is not set",
        )

    def _membership(self, inside: bool) -> _Node:
        raw = self.test.value
        path = f"{self.path}.value"
        if not isinstance(raw, list) or not raw:
            raise SegmentError(path, f"{self.test.op} needs a list of values")
        if len(raw) > MAX_LIST_ITEMS:
            raise SegmentError(path, f"at most {MAX_LIST_ITEMS} values")
        values = frozenset(self._coerce(item, f"{path}[{i}]") for i, item in enumerate(raw))
        stored = self._stored()

        def member(friend: Friend, moment: _Moment) -> bool:
            value = stored(friend)
            return value is not None and (value in values) is inside

        shown = _listed(sorted(values, key=str))
        return _Node(member, f"{self.key} {'in' if inside else 'not in'} {shown}")

    def _within_days(self) -> _Node:
        days = self.test.value
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= MAX_WINDOW_DAYS:
            raise SegmentError(
                f"{self.path}.value",
                f"within_days needs a whole number of days, 1-{MAX_WINDOW_DAYS}",
            )
        stored = self._stored()
        span = timedelta(days=days)

        def recent(friend: Friend, moment: _Moment) -> bool:
            value = stored(friend)
            if not isinstance(value, str):
                return False
            return (moment.today - span).isoformat() <= value <= moment.today.isoformat()

        return _Node(recent, f"{self.key} within the last {days} days")

    def _comparison(self, op: FieldOperator) -> _Node:
        target = self._coerce(self.test.value, f"{self.path}.value")
        stored = self._stored()
        compare = _COMPARISONS[op]

        def compared(friend: Friend, moment: _Moment) -> bool:
            value = stored(friend)
            return value is not None and compare(value, target)

        return _Node(compared, f"{self.key} {_OPERATOR_TEXT[op]} {_quoted(target)}")


def _bounds(values: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple((op, bound) for op, bound in values.items() if bound is not None)


def _within(value: float, bounds: tuple[tuple[str, Any], ...]) -> bool:
    return all(_COMPARISONS[op](value, bound) for op, bound in bounds)


def _bounds_text(values: Mapping[str, Any]) -> str:
    return " and ".join(
        f"{_OPERATOR_TEXT[op]} {bound}" for op, bound in values.items() if bound is not None
    )


def _comparable(value: Any) -> Any:
    """A stored property as compared: text folded like keyword rules, numbers as is."""
    if isinstance(value, str):
        return _fold(value)
    if isinstance(value, bool):
        return value
    return value if _is_number(value) else None


def _scalar(value: Any, path: str) -> Any:
    if isinstance(value, str):
        return _fold(value)
    if isinstance(value, bool) or _is_number(value):
        return value
    raise SegmentError(path, "an event property is compared with text, a number or true/false")


def _contains(value: Any, target: Any) -> bool:
    return isinstance(value, str) and target in value


_COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": lambda value, target: bool(value == target),
    "ne": lambda value, target: bool(value != target),
    "gt": lambda value, target: bool(value > target),
    "gte": lambda value, target: bool(value >= target),
    "lt": lambda value, target: bool(value < target),
    "lte": lambda value, target: bool(value <= target),
    "contains": _contains,
    "before": lambda value, target: bool(value < target),  # ISO dates sort as text
    "after": lambda value, target: bool(value >= target),  # "on or after"
}
_OPERATOR_TEXT = {
    "eq": "=",
    "ne": "!=",
    "gt": ">",
    "gte": ">=",
    "lt": "<",
    "lte": "<=",
    "contains": "contains",
    "before": "before",
    "after": "on or after",
}
