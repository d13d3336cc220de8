"""Step scenario definitions (ステップ配信): what a scenario sends, when, and to whom.

A scenario is a list of steps. A friend enters by a trigger (or by hand), and each
step comes due by its timing; when it fires, its condition is tested on the friend's
state at that moment, its messages go out and its actions apply. A step may branch
(a postback or a tag moves the friend to another step) and may name a reminder for
friends who do none of that within a time. Exit conditions end an enrolment at once.

Pure: no AWS, no clock; times are computed from instants the caller passes.
"""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from linecrm.domain.actions import FIELD_KEY_PATTERN, CrmAction, Reply, ReplyWithRule
from linecrm.domain.experiments import Experiment
from linecrm.models.send import MAX_MESSAGES_PER_REQUEST, MessageClass

SCENARIO_SLUG = r"^[a-z0-9][a-z0-9_-]{0,63}$"
STEP_SLUG = r"^[a-z0-9][a-z0-9_-]{0,31}$"
MAX_STEPS = 50
MAX_DAYS = 365
END = "end"  # ``next: end`` finishes the scenario after a step

ScenarioId = Annotated[str, StringConstraints(pattern=SCENARIO_SLUG)]
StepId = Annotated[str, StringConstraints(pattern=STEP_SLUG)]
Clock = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]
_DURATION = re.compile(r"^(\d{1,6})\s*(m|min|h|d)$")
_UNIT_SECONDS = {"m": 60, "min": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """``"30m"``, ``"2h"``, ``"3d"`` as a timedelta (ValueError names the form)."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a duration; write e.g. 30m, 2h or 3d")
    amount, unit = int(match.group(1)), match.group(2)
    delta = timedelta(seconds=amount * _UNIT_SECONDS[unit])
    if delta > timedelta(days=MAX_DAYS):
        raise ValueError(f"{text!r} is longer than {MAX_DAYS} days")
    return delta


Duration = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=12)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


# ---------------------------------------------------------------- triggers
class FollowTrigger(_Model):
    type: Literal["follow"] = "follow"
    inflow_route: str | None = Field(default=None, min_length=1, max_length=64)


class TagAddedTrigger(_Model):
    type: Literal["tag_added"] = "tag_added"
    tag: str = Field(min_length=1, max_length=100)


class FieldSetTrigger(_Model):
    type: Literal["field_set"] = "field_set"
    field: str = Field(pattern=FIELD_KEY_PATTERN)
    value: str | int | float | None = None  # None: any value


class PostbackTrigger(_Model):
    type: Literal["postback"] = "postback"
    data: str = Field(min_length=1, max_length=300)


class IdLinkedTrigger(_Model):
    """The friend linked their LINE account to a shop member id (ID連携)."""

    type: Literal["id_linked"] = "id_linked"


PropertyOp = Literal["eq", "ne", "gt", "gte", "lt", "lte", "exists"]


class PropertyFilter(_Model):
    """One test on an event's property, e.g. ``value >= 3000``."""

    property: str = Field(min_length=1, max_length=64)
    op: PropertyOp = "eq"
    value: str | int | float | bool | None = None

    @model_validator(mode="after")
    def _value_given(self) -> PropertyFilter:
        if self.op != "exists" and self.value is None:
            raise ValueError(f"op {self.op} needs a value")
        return self

    def matches(self, properties: dict[str, Any]) -> bool:
        if self.property not in properties:
            return False
        actual = properties[self.property]
        if self.op == "exists":
            return True
        expected = self.value
        if self.op == "eq":
            return bool(actual == expected)
        if self.op == "ne":
            return bool(actual != expected)
        if isinstance(actual, bool) or not isinstance(actual, int | float):
            return False
        if isinstance(expected, bool) or not isinstance(expected, int | float):
            return False
        return {
            "gt": actual > expected,
            "gte": actual >= expected,
            "lt": actual < expected,
            "lte": actual <= expected,
        }[self.op]


class EventTrigger(_Model):
    """An event from the shop's systems (events API) by name, with property filters."""

    type: Literal["event"] = "event"
    name: str = Field(min_length=1, max_length=64)
    where: list[PropertyFilter] = Field(default_factory=list, max_length=10)

    def matches(self, name: str, properties: dict[str, Any]) -> bool:
        return name == self.name and all(test.matches(properties) for test in self.where)


Trigger = Annotated[
    FollowTrigger
    | TagAddedTrigger
    | FieldSetTrigger
    | PostbackTrigger
    | EventTrigger
    | IdLinkedTrigger,
    Field(discriminator="type"),
]


# ---------------------------------------------------------------- exits
class EventExit(_Model):
    type: Literal["event"] = "event"
    name: str = Field(min_length=1, max_length=64)
    where: list[PropertyFilter] = Field(default_factory=list, max_length=10)

    def matches(self, name: str, properties: dict[str, Any]) -> bool:
        return name == self.name and all(test.matches(properties) for test in self.where)


class TagExit(_Model):
    type: Literal["tag"] = "tag"
    tag: str = Field(min_length=1, max_length=100)


class BlockedExit(_Model):
    type: Literal["blocked"] = "blocked"


class UnlinkedExit(_Model):
    type: Literal["unlinked"] = "unlinked"


ExitCondition = Annotated[
    EventExit | TagExit | BlockedExit | UnlinkedExit, Field(discriminator="type")
]


# ---------------------------------------------------------------- steps
class Timing(_Model):
    """When a step is due. Exactly one of:

    - ``after``: a delay after the previous step was sent (or, for the first step,
      after enrolment; after a branch, after the tap), e.g. ``30m``, ``2h``, ``3d``;
    - ``after_enrollment``: a delay after the friend was enrolled;
    - ``day`` (+ optional ``at``): day N counted from the enrolment day (day 0) in the
      account's time zone, at ``HH:MM``; without ``at``, at the friend's preferred
      send hour if they have one, else at the enrolment's time of day.
    """

    after: Duration | None = None
    after_enrollment: Duration | None = None
    day: int | None = Field(default=None, ge=0, le=MAX_DAYS)
    at: Clock | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Timing:
        given = [
            name
            for name, value in (
                ("after", self.after),
                ("after_enrollment", self.after_enrollment),
                ("day", self.day),
            )
            if value is not None
        ]
        if len(given) != 1:
            raise ValueError("give exactly one of after, after_enrollment or day")
        if self.at is not None and self.day is None:
            raise ValueError("`at` goes with `day` (day N at HH:MM)")
        for value in (self.after, self.after_enrollment):
            if value is not None:
                parse_duration(value)
        return self

    @property
    def is_immediate(self) -> bool:
        return self.after is not None and parse_duration(self.after) == timedelta(0)

    def due_at(
        self,
        *,
        enrolled_at: datetime,
        previous_at: datetime,
        zone: ZoneInfo,
        preferred_hour: int | None = None,
    ) -> datetime:
        """The aware UTC instant the step is due."""
        if self.after is not None:
            return previous_at + parse_duration(self.after)
        if self.after_enrollment is not None:
            return enrolled_at + parse_duration(self.after_enrollment)
        assert self.day is not None
        local_start = enrolled_at.astimezone(zone)
        day = local_start.date() + timedelta(days=self.day)
        if self.at is not None:
            hour, minute = (int(part) for part in self.at.split(":"))
            clock = time(hour, minute)
        elif preferred_hour is not None:
            clock = time(preferred_hour, 0)
        else:
            clock = local_start.time().replace(second=0, microsecond=0)
        return datetime.combine(day, clock, tzinfo=zone).astimezone(enrolled_at.tzinfo)


class PostbackBranch(_Model):
    postback: str = Field(min_length=1, max_length=300)
    goto: StepId


class TagBranch(_Model):
    tag: str = Field(min_length=1, max_length=100)
    goto: StepId


Branch = PostbackBranch | TagBranch


class Reminder(_Model):
    """None of the step's branches within ``after``: go to step ``goto``."""

    after: Duration
    goto: StepId

    @model_validator(mode="after")
    def _duration(self) -> Reminder:
        parse_duration(self.after)
        return self


class ClickedCondition(_Model):
    """Whether the friend clicked a tracked link of an earlier step (docs/tracking.md):
    ``{step: sale}`` sends to friends who did, ``{step: sale, clicked: false}`` to
    friends who did not; the others skip this step (reason ``condition``)."""

    step: StepId
    clicked: bool = True


class Step(_Model):
    id: StepId
    timing: Timing
    # A segment condition (segments' ``match`` syntax) tested at send time; false
    # skips the step (the reason is counted) and the scenario goes on.
    condition: dict[str, Any] | None = None
    # "Clicked a link of step k" (the friend's first-click marker of k's campaign),
    # tested at send time like ``condition``.
    if_clicked: ClickedCondition | None = None
    messages: list[dict[str, Any]] = Field(
        default_factory=list, max_length=MAX_MESSAGES_PER_REQUEST
    )
    actions: list[CrmAction] = Field(default_factory=list, max_length=20)
    branches: list[Branch] = Field(default_factory=list, max_length=10)
    reminder: Reminder | None = None
    next: StepId | None = None  # default: the step after this one in the list; ``end``
    # A/B variants and a holdout (linecrm.domain.experiments): each friend's variant
    # is drawn from the step's campaign key and their user id; a variant without
    # messages sends the step's.
    experiment: Experiment | None = None

    @model_validator(mode="after")
    def _does_something(self) -> Step:
        if not self.messages and not self.actions:
            raise ValueError("a step sends messages or applies actions (or both)")
        for action in self.actions:
            if isinstance(action, Reply | ReplyWithRule):
                raise ValueError("replies are not step actions: put the messages in `messages`")
        if self.reminder is not None and not self.branches:
            raise ValueError("a reminder goes with branches: it is for friends who do none")
        if self.experiment is not None and not self.messages:
            raise ValueError("an experiment splits a step's messages: give the step messages")
        return self


ScenarioStatus = Literal["active", "paused", "archived"]
ReEntry = Literal["never", "after_completion", "always"]


class ScenarioDefinition(_Model):
    """What ``linecrm apply`` and ``PUT …/scenarios/{id}`` take (one scenario)."""

    id: ScenarioId
    name: str = Field(min_length=1, max_length=100)
    message_class: MessageClass = "marketing"
    triggers: list[Trigger] = Field(default_factory=list, max_length=20)
    re_entry: ReEntry = "never"
    exit_when: list[ExitCondition] = Field(default_factory=list, max_length=20)
    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)

    @model_validator(mode="after")
    def _step_references(self) -> ScenarioDefinition:
        ids = [step.id for step in self.steps]
        seen: set[str] = set()
        for index, step_id in enumerate(ids):
            if step_id in seen:
                raise ValueError(f"steps[{index}].id: {step_id!r} is used twice")
            if step_id == END:
                raise ValueError(f"steps[{index}].id: {END!r} is reserved (next: end)")
            seen.add(step_id)
        for index, step in enumerate(self.steps):
            targets = [("next", step.next)] if step.next not in (None, END) else []
            targets += [(f"branches[{i}].goto", b.goto) for i, b in enumerate(step.branches)]
            if step.reminder is not None:
                targets.append(("reminder.goto", step.reminder.goto))
            for where, target in targets:
                if target not in seen:
                    raise ValueError(f"steps[{index}].{where}: no step {target!r}")
            if step.if_clicked is not None and step.if_clicked.step not in ids[:index]:
                raise ValueError(
                    f"steps[{index}].if_clicked.step: {step.if_clicked.step!r} is no earlier "
                    "step (a friend can only have clicked what was sent before)"
                )
        return self

    # ------------------------------------------------------------ navigation
    def step(self, step_id: str) -> Step | None:
        return next((step for step in self.steps if step.id == step_id), None)

    def index_of(self, step_id: str) -> int:
        return [step.id for step in self.steps].index(step_id)

    def next_step(self, step_id: str) -> Step | None:
        """The step that follows ``step_id`` when nothing branches (None: the end)."""
        step = self.step(step_id)
        if step is None or step.next == END:
            return None
        if step.next is not None:
            return self.step(step.next)
        index = self.index_of(step_id)
        return self.steps[index + 1] if index + 1 < len(self.steps) else None
