"""The segment document: its conditions (pydantic models), parsed and size-checked
once, with errors that name the bad node's path."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic import Tag as UnionTag

from linecrm.domain.events import EVENT_NAME, MAX_EVENT_WINDOW_DAYS

MAX_DEPTH = 8
MAX_CONDITIONS = 100
MAX_LIST_ITEMS = 100  # tags in tags_any / tags_all, values of in / not_in, routes, languages
MAX_WINDOW_DAYS = 3660  # ten years

ROOT_PATH = "match"


class SegmentError(ValueError):
    """A segment document is malformed or refers to unknown tags or fields.

    ``path`` points at the bad node, e.g. ``match.all[2].field.op``.
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}" if path else reason)
        self.path = path
        self.reason = reason


# ---------------------------------------------------------------- the document

TagReference = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)
]
TagReferences = Annotated[list[TagReference], Field(min_length=1, max_length=MAX_LIST_ITEMS)]
WindowDays = Annotated[StrictInt, Field(ge=1, le=MAX_WINDOW_DAYS)]
RouteName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
LanguageTag = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$"
    ),
]
FieldOperator = Literal[
    "eq",
    "ne",
    "in",
    "not_in",
    "gt",
    "gte",
    "lt",
    "lte",
    "exists",
    "not_exists",
    "contains",
    "before",
    "after",
    "within_days",
]
_EQUALITY: tuple[FieldOperator, ...] = ("eq", "ne", "in", "not_in", "exists", "not_exists")
OPERATORS_BY_FIELD_TYPE: dict[str, tuple[FieldOperator, ...]] = {
    "text": (*_EQUALITY, "contains"),
    "number": (*_EQUALITY, "gt", "gte", "lt", "lte"),
    "date": (*_EQUALITY, "before", "after", "within_days"),
    "choice": _EQUALITY,
}


def _shorthand_one_of(value: object) -> object:
    """``inflow_route: qr_a`` means ``inflow_route: {in: [qr_a]}`` (same for language)."""
    return {"in": [value]} if isinstance(value, str) else value


def _date_or_aware_datetime(value: object) -> object:
    """A date, or a date-time with a UTC offset; a bare date-time would be ambiguous."""
    if isinstance(value, str):
        text = value.strip()
        try:
            value = date.fromisoformat(text) if len(text) == 10 else datetime.fromisoformat(text)
        except ValueError as error:
            raise ValueError(
                f"expected a date (2025-06-01) or a date-time with offset "
                f"(2025-06-01T10:00:00+09:00), got {text!r}"
            ) from error
    if isinstance(value, datetime) and value.tzinfo is None:
        raise ValueError(
            f"date-time {value.isoformat()} has no UTC offset; write e.g. "
            f"{value.isoformat()}+09:00, or a plain date for midnight in the account time zone"
        )
    return value


class _Condition(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    KIND: ClassVar[str]


class TagCondition(_Condition):
    KIND = "tag"
    tag: TagReference


class TagsAnyCondition(_Condition):
    KIND = "tags_any"
    tags_any: TagReferences


class TagsAllCondition(_Condition):
    KIND = "tags_all"
    tags_all: TagReferences


class FieldTest(BaseModel):
    """``value`` is shaped and coerced by the field's definition when compiled."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(min_length=1, max_length=64)
    op: FieldOperator
    value: Any = None


class FieldCondition(_Condition):
    KIND = "field"
    field: FieldTest


class StatusCondition(_Condition):
    KIND = "status"
    status: Literal["active", "blocked", "login_only"]


class RouteChoice(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    in_: list[RouteName] = Field(alias="in", min_length=1, max_length=MAX_LIST_ITEMS)


class LanguageChoice(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    in_: list[LanguageTag] = Field(alias="in", min_length=1, max_length=MAX_LIST_ITEMS)


class InflowRouteCondition(_Condition):
    KIND = "inflow_route"
    inflow_route: RouteChoice

    _shorthand = field_validator("inflow_route", mode="before")(_shorthand_one_of)


class FollowedWindow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    after: AwareDatetime | date | None = None
    before: AwareDatetime | date | None = None
    within_days: WindowDays | None = None

    _dates = field_validator("after", "before", mode="before")(_date_or_aware_datetime)

    @model_validator(mode="after")
    def _something_to_test(self) -> FollowedWindow:
        if self.after is None and self.before is None and self.within_days is None:
            raise ValueError("followed needs at least one of after, before, within_days")
        return self


class FollowedCondition(_Condition):
    KIND = "followed"
    followed: FollowedWindow


class InteractionWindow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    within_days: WindowDays | None = None
    not_within_days: WindowDays | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> InteractionWindow:
        if (self.within_days is None) == (self.not_within_days is None):
            raise ValueError("last_interaction needs exactly one of within_days, not_within_days")
        return self


class LastInteractionCondition(_Condition):
    KIND = "last_interaction"
    last_interaction: InteractionWindow


class RecentWindow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    within_days: WindowDays


class BlockedCondition(_Condition):
    KIND = "blocked"
    blocked: RecentWindow


class LinkedCondition(_Condition):
    KIND = "linked"
    linked: StrictBool


class LanguageCondition(_Condition):
    KIND = "language"
    language: LanguageChoice

    _shorthand = field_validator("language", mode="before")(_shorthand_one_of)


# ---------------------------------------------------------------- behaviour events
# Day buckets of event aggregates reach MAX_EVENT_WINDOW_DAYS back (linecrm.domain.events).
EventWindowDays = Annotated[StrictInt, Field(ge=1, le=MAX_EVENT_WINDOW_DAYS)]
_Number = StrictInt | float


class _Comparisons(BaseModel):
    """``{gte: 3}``, ``{gt: 1, lte: 10}``, …: every bound given must hold."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="after")
    def _at_least_one(self) -> _Comparisons:
        if all(value is None for value in self.model_dump().values()):
            raise ValueError("give at least one of eq, gt, gte, lt, lte")
        return self


class CountTest(_Comparisons):
    eq: Annotated[StrictInt, Field(ge=0)] | None = None
    gt: Annotated[StrictInt, Field(ge=0)] | None = None
    gte: Annotated[StrictInt, Field(ge=0)] | None = None
    lt: Annotated[StrictInt, Field(ge=0)] | None = None
    lte: Annotated[StrictInt, Field(ge=0)] | None = None


class ValueTest(_Comparisons):
    eq: _Number | None = None
    gt: _Number | None = None
    gte: _Number | None = None
    lt: _Number | None = None
    lte: _Number | None = None


PropertyOperator = Literal[
    "eq", "ne", "in", "not_in", "gt", "gte", "lt", "lte", "contains", "exists", "not_exists"
]


class PropertyTest(BaseModel):
    """A test of one top-level property of the friend's latest event of the name."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(min_length=1, max_length=64)
    op: PropertyOperator
    value: Any = None


class EventTest(BaseModel):
    """``name`` plus any of the tests; all must hold. With none, the friend has had the
    event (within ``within_days`` if given)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, StringConstraints(pattern=EVENT_NAME.pattern)]
    count: CountTest | None = None
    within_days: EventWindowDays | None = None
    last_within_days: WindowDays | None = None
    value: ValueTest | None = None
    property: PropertyTest | None = None


class EventCondition(_Condition):
    KIND = "event"
    event: EventTest


class AllCondition(_Condition):
    KIND = "all"
    all: list[Condition] = Field(max_length=MAX_CONDITIONS)


class AnyCondition(_Condition):
    KIND = "any"
    any: list[Condition] = Field(max_length=MAX_CONDITIONS)


class NotCondition(_Condition):
    model_config = ConfigDict(populate_by_name=True)

    KIND = "not"
    not_: Condition = Field(alias="not")


_CONDITION_CLASSES: tuple[type[_Condition], ...] = (
    TagCondition,
    TagsAnyCondition,
    TagsAllCondition,
    FieldCondition,
    StatusCondition,
    InflowRouteCondition,
    FollowedCondition,
    LastInteractionCondition,
    BlockedCondition,
    LinkedCondition,
    LanguageCondition,
    EventCondition,
    AllCondition,
    AnyCondition,
    NotCondition,
)
CONDITION_KINDS: tuple[str, ...] = tuple(cls.KIND for cls in _CONDITION_CLASSES)


def _condition_kind(value: Any) -> str | None:
    if isinstance(value, Mapping):
        return str(next(iter(value))) if len(value) == 1 else None
    kind: str | None = getattr(value, "KIND", None)
    return kind


Condition = Annotated[
    Annotated[TagCondition, UnionTag("tag")]
    | Annotated[TagsAnyCondition, UnionTag("tags_any")]
    | Annotated[TagsAllCondition, UnionTag("tags_all")]
    | Annotated[FieldCondition, UnionTag("field")]
    | Annotated[StatusCondition, UnionTag("status")]
    | Annotated[InflowRouteCondition, UnionTag("inflow_route")]
    | Annotated[FollowedCondition, UnionTag("followed")]
    | Annotated[LastInteractionCondition, UnionTag("last_interaction")]
    | Annotated[BlockedCondition, UnionTag("blocked")]
    | Annotated[LinkedCondition, UnionTag("linked")]
    | Annotated[LanguageCondition, UnionTag("language")]
    | Annotated[EventCondition, UnionTag("event")]
    | Annotated[AllCondition, UnionTag("all")]
    | Annotated[AnyCondition, UnionTag("any")]
    | Annotated[NotCondition, UnionTag("not")],
    Discriminator(
        _condition_kind,
        custom_error_type="unknown_condition",
        custom_error_message="not a condition",  # reworded with the input in _reason_of
    ),
]


class Segment(BaseModel):
    """A segment document: a condition under ``match``, and optionally what it is for."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    match: Condition

    @model_validator(mode="before")
    @classmethod
    def _bounded(cls, data: Any) -> Any:
        # Before the nested validation, so a runaway document is refused cheaply and
        # with a path, not by pydantic's recursion guard.
        if isinstance(data, Mapping) and "match" in data:
            check_size(data["match"])
        return data


for _model in (AllCondition, AnyCondition, NotCondition, Segment):
    _model.model_rebuild()


def _children(node: object, path: str) -> list[tuple[object, str]]:
    """The sub-conditions of a raw or parsed combinator, with their paths."""
    if isinstance(node, AllCondition | AnyCondition):
        kind, items = node.KIND, list(node.all if isinstance(node, AllCondition) else node.any)
    elif isinstance(node, NotCondition):
        return [(node.not_, f"{path}.not")]
    elif isinstance(node, Mapping) and len(node) == 1:
        kind, inner = next(iter(node.items()))
        if kind == "not":
            return [(inner, f"{path}.not")]
        if kind not in ("all", "any") or not isinstance(inner, list):
            return []
        items = inner
    else:
        return []
    return [(child, f"{path}.{kind}[{index}]") for index, child in enumerate(items)]


def check_size(condition: object, path: str = ROOT_PATH) -> None:
    """Refuse conditions nested deeper than ``MAX_DEPTH`` or more than ``MAX_CONDITIONS``."""
    count = 0
    pending: list[tuple[object, str, int]] = [(condition, path, 1)]
    while pending:
        node, node_path, depth = pending.pop()
        count += 1
        if count > MAX_CONDITIONS:
            raise SegmentError(path, f"a segment has at most {MAX_CONDITIONS} conditions")
        if depth > MAX_DEPTH:
            raise SegmentError(
                node_path, f"conditions nest at most {MAX_DEPTH} levels deep (all/any/not)"
            )
        children = _children(node, node_path)
        pending.extend((child, child_path, depth + 1) for child, child_path in reversed(children))


def parse_segment(document: Segment | Mapping[str, Any]) -> Segment:
    """The ``Segment`` of a YAML/JSON document; ``SegmentError`` names the bad node."""
    if isinstance(document, Segment):
        return document
    try:
        return Segment.model_validate(document)
    except ValidationError as error:
        raise _segment_error(error) from error


def _segment_error(error: ValidationError) -> SegmentError:
    first = error.errors()[0]
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, SegmentError):
        return cause
    return SegmentError(_path_of(first["loc"]), _reason_of(first))


def _path_of(loc: tuple[int | str, ...]) -> str:
    path = ""
    for index, part in enumerate(loc):
        if isinstance(part, int):
            path += f"[{part}]"
            continue
        # A discriminated union puts the condition kind in the location, then the
        # model puts its one field (named like the kind): keep one of the two.
        if part in CONDITION_KINDS and index + 1 < len(loc) and loc[index + 1] == part:
            continue
        path += f".{part}" if path else part
    return path


def _reason_of(error: Any) -> str:
    if error["type"] == "unknown_condition":
        raw = error["input"]
        expected = ", ".join(CONDITION_KINDS)
        if isinstance(raw, Mapping) and len(raw) == 1:
            return f"unknown condition {next(iter(raw))!r}; use one of: {expected}"
        if isinstance(raw, Mapping):
            keys = ", ".join(map(str, raw)) or "none"
            return (
                f"a condition has exactly one key (found: {keys}); combine several "
                "with all: [...] or any: [...]"
            )
        return f"a condition is a mapping such as {{tag: VIP}}, got {raw!r}"
    cause = error.get("ctx", {}).get("error")
    if isinstance(cause, ValueError):
        return str(cause)
    return str(error["msg"])
