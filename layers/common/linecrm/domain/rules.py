"""Auto-response rules: which rule answers a friend's message, postback or follow.

Selection (``RuleSet.evaluate``), for an event at instant ``at``:

- Nothing applies while automation is paused for the friend (chat mode).
- Only rules of the trigger's kind are considered: keyword rules for text, postback
  rules for postbacks, follow rules for follows. They are tried in priority order
  (lower number first, ties by ``rule_id``).
- A rule that is disabled, outside its ``active_from``/``active_until`` window
  (from inclusive, until exclusive) or outside its business-hours condition is skipped
  as if it did not exist. Without configured business hours the shop counts as always
  open: ``"open"`` rules always apply and ``"closed"`` rules never do.
- The first remaining rule whose match matches and whose cooldown for this friend has
  passed is selected. A matching rule still cooling down is passed over and later rules
  are tried, so a more general keyword rule can still answer.
- The default rule answers text only when no keyword rule matched at all. A keyword rule
  that matched but was cooling down counts as matched: the friend already got that
  answer recently, and a "sorry, we did not understand" default would be wrong, so
  nothing is sent. The default rule's own priority does not matter; it is always last.

``ReplyWithRule`` actions (``reply=rule:ID`` in postbacks, or ``reply_rule`` in a rule)
are resolved by ``RuleSet.resolve_replies`` to the ``reply`` messages of rule ID,
whether or not that rule is enabled, in its window or in business hours: a disabled rule
can hold replies used only by rich menus.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Literal, Protocol

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    model_validator,
)

from linecrm.domain.actions import RULE_ID_PATTERN, CrmAction, Reply, ReplyWithRule
from linecrm.domain.business_hours import BusinessHours
from linecrm.domain.postback import (
    MAX_POSTBACK_DATA_LENGTH as MAX_POSTBACK_DATA_LENGTH,  # re-exported for API models
)
from linecrm.domain.safe_regex import (
    MAX_REGEX_LENGTH,
    MAX_TOTAL_PROGRAM_SIZE,
    CheckedRegex,
    compile_safe_regex,
)
from linecrm.models.send import MAX_MESSAGES_PER_REQUEST

MAX_RULES = 200
MAX_PATTERNS_PER_RULE = 50
MAX_ACTIONS_PER_RULE = 10
MAX_COOLDOWN_SECONDS = 366 * 24 * 3600

KeywordPattern = Annotated[str, StringConstraints(min_length=1, max_length=MAX_REGEX_LENGTH)]
BusinessHoursCondition = Literal["any", "open", "closed"]


def normalize_text(text: str, *, case_sensitive: bool) -> str:
    """NFKC + strip (+ casefold): "ＶＩＰ", "ｖｉｐ " and "VIP" compare equal, as users expect."""
    normalized = unicodedata.normalize("NFKC", text).strip()
    return normalized if case_sensitive else normalized.casefold()


class TextTrigger(BaseModel):
    # defer_build: validators built on first use, not at import (cold starts).
    model_config = ConfigDict(frozen=True, defer_build=True)

    kind: Literal["text"] = "text"
    text: str


class PostbackTrigger(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    kind: Literal["postback"] = "postback"
    data: str


class FollowTrigger(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    kind: Literal["follow"] = "follow"


Trigger = TextTrigger | PostbackTrigger | FollowTrigger


class KeywordMode(StrEnum):
    EXACT = "exact"
    CONTAINS = "contains"
    REGEX = "regex"


class KeywordMatch(BaseModel):
    """Text messages: exact or contains compare NFKC-normalised text; regex searches it."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    kind: Literal["keyword"]
    mode: KeywordMode
    patterns: list[KeywordPattern] = Field(min_length=1, max_length=MAX_PATTERNS_PER_RULE)
    case_sensitive: bool = False

    _normalized: tuple[str, ...] = PrivateAttr(default=())
    _regexes: tuple[CheckedRegex, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _prepare_patterns(self) -> KeywordMatch:
        if self.mode is KeywordMode.REGEX:
            for pattern in self.patterns:
                if unicodedata.normalize("NFKC", pattern) != pattern:
                    # Messages are NFKC-normalised before matching, so this could never match.
                    raise ValueError(
                        f"regex {pattern!r} is matched against NFKC-normalised text; write it "
                        f"as {unicodedata.normalize('NFKC', pattern)!r}"
                    )
            self._regexes = tuple(
                compile_safe_regex(pattern, case_sensitive=self.case_sensitive)
                for pattern in self.patterns
            )
            return self
        normalized = [normalize_text(p, case_sensitive=self.case_sensitive) for p in self.patterns]
        for pattern, value in zip(self.patterns, normalized, strict=True):
            if not value:
                raise ValueError(f"keyword {pattern!r} is blank")
        self._normalized = tuple(normalized)
        return self

    @property
    def regex_program_size(self) -> int:
        """The regex cost bound of all patterns (0 unless mode is regex); see safe_regex."""
        return sum(regex.program_size for regex in self._regexes)

    def matching_pattern(self, text: str) -> str | None:
        """The first pattern that matches ``text``, or None."""
        if self.mode is KeywordMode.REGEX:
            subject = unicodedata.normalize("NFKC", text).strip()
            for regex in self._regexes:
                if regex.search(subject):
                    return regex.pattern
            return None
        subject = normalize_text(text, case_sensitive=self.case_sensitive)
        for pattern, value in zip(self.patterns, self._normalized, strict=True):
            if subject == value or (self.mode is KeywordMode.CONTAINS and value in subject):
                return pattern
        return None

    def match_reason(self, trigger: Trigger) -> str | None:
        if not isinstance(trigger, TextTrigger):
            return None
        pattern = self.matching_pattern(trigger.text)
        return None if pattern is None else f"text matched {self.mode.value} {pattern!r}"


PostbackData = Annotated[str, StringConstraints(min_length=1, max_length=MAX_POSTBACK_DATA_LENGTH)]


class PostbackMatch(BaseModel):
    """Postbacks whose data equals ``data_equals`` or starts with ``data_prefix``."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    kind: Literal["postback"]
    data_equals: PostbackData | None = None
    data_prefix: PostbackData | None = None

    @model_validator(mode="after")
    def _exactly_one_condition(self) -> PostbackMatch:
        if (self.data_equals is None) == (self.data_prefix is None):
            raise ValueError("a postback match needs exactly one of data_equals, data_prefix")
        return self

    def match_reason(self, trigger: Trigger) -> str | None:
        if not isinstance(trigger, PostbackTrigger):
            return None
        if self.data_equals is not None and trigger.data == self.data_equals:
            return f"postback data equals {self.data_equals!r}"
        if self.data_prefix is not None and trigger.data.startswith(self.data_prefix):
            return f"postback data starts with {self.data_prefix!r}"
        return None


class DefaultMatch(BaseModel):
    """Any text message that no keyword rule matched."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    kind: Literal["default"]

    def match_reason(self, trigger: Trigger) -> str | None:
        return "no keyword rule matched" if isinstance(trigger, TextTrigger) else None


class FollowMatch(BaseModel):
    """The follow event (a new friend, or one who unblocked): welcome rules."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    kind: Literal["follow"]

    def match_reason(self, trigger: Trigger) -> str | None:
        return "follow event" if isinstance(trigger, FollowTrigger) else None


MatchCondition = Annotated[
    KeywordMatch | PostbackMatch | DefaultMatch | FollowMatch, Field(discriminator="kind")
]
# The rule kind that answers each trigger kind (the default rule is handled apart).
_RULE_KIND_FOR = {"text": "keyword", "postback": "postback", "follow": "follow"}


class Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    rule_id: str = Field(pattern=RULE_ID_PATTERN)
    name: str = Field(min_length=1, max_length=100)
    priority: int = 100
    enabled: bool = True
    match: MatchCondition
    active_from: AwareDatetime | None = None
    active_until: AwareDatetime | None = None
    business_hours: BusinessHoursCondition = "any"
    cooldown_seconds: int = Field(default=0, ge=0, le=MAX_COOLDOWN_SECONDS)
    actions: list[CrmAction] = Field(min_length=1, max_length=MAX_ACTIONS_PER_RULE)
    # 1:1 chat: a message this rule answers still waits for staff ("needs reply").
    notify_staff: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        if self.active_from and self.active_until and self.active_from >= self.active_until:
            raise ValueError("active_from must be before active_until")
        if len(self.reply_messages) > MAX_MESSAGES_PER_REQUEST:
            raise ValueError(f"a rule replies with at most {MAX_MESSAGES_PER_REQUEST} messages")
        return self

    @property
    def kind(self) -> str:
        return self.match.kind

    @property
    def reply_messages(self) -> list[dict[str, Any]]:
        """The messages of the rule's own ``reply`` actions, in order."""
        return [m for action in self.actions if isinstance(action, Reply) for m in action.messages]

    def unavailable_reason(self, at: datetime, hours: BusinessHours | None) -> str | None:
        """Why the rule cannot apply at ``at`` at all, or None when it can."""
        if not self.enabled:
            return "disabled"
        if self.active_from is not None and at < self.active_from:
            return f"not active before {self.active_from.isoformat()}"
        if self.active_until is not None and at >= self.active_until:
            return f"ended at {self.active_until.isoformat()}"
        if self.business_hours == "any":
            return None
        is_open = hours.is_open(at) if hours is not None else True  # unconfigured: always open
        if self.business_hours == "open" and not is_open:
            return "applies only in business hours (closed now)"
        if self.business_hours == "closed" and is_open:
            unconfigured = "" if hours is not None else "; no business hours are configured"
            return f"applies only out of business hours (open now{unconfigured})"
        return None

    def cooling_down_until(self, last_fired_at: datetime | None, at: datetime) -> datetime | None:
        """When the cooldown after ``last_fired_at`` ends, if it has not ended by ``at``."""
        if last_fired_at is None or not self.cooldown_seconds:
            return None
        ends_at = last_fired_at + timedelta(seconds=self.cooldown_seconds)
        return ends_at if at < ends_at else None


class FriendRuleHistory(Protocol):
    """What selection needs to know about the friend (``Friend`` provides it)."""

    @property
    def rule_fired_at(self) -> Mapping[str, datetime]: ...

    @property
    def automation_paused(self) -> bool: ...


@dataclass(frozen=True)
class FriendRuleState:
    """A plain ``FriendRuleHistory``, for dry runs and tests."""

    rule_fired_at: Mapping[str, datetime] = field(default_factory=dict)
    automation_paused: bool = False


@dataclass(frozen=True)
class RuleMatch:
    rule: Rule
    reason: str

    @property
    def actions(self) -> list[CrmAction]:
        return self.rule.actions


@dataclass(frozen=True)
class RuleEvaluation:
    """The selected rule (if any), why, and a line per rule considered (for dry runs)."""

    match: RuleMatch | None
    reason: str
    trace: tuple[str, ...]
    cooling_down: tuple[str, ...] = ()  # ids of matching rules passed over, cooling down


@dataclass(frozen=True)
class ReplyResolution:
    actions: tuple[CrmAction, ...]
    missing_rule_ids: tuple[str, ...]  # no such rule, or it has no reply messages


class RuleSet(BaseModel):
    """A channel's auto-response rules and the business hours they refer to."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    rules: list[Rule] = Field(default_factory=list, max_length=MAX_RULES)
    business_hours: BusinessHours | None = None

    _by_id: dict[str, Rule] = PrivateAttr(default_factory=dict)
    _ordered: tuple[Rule, ...] = PrivateAttr(default=())

    @model_validator(mode="after")
    def _consistent(self) -> RuleSet:
        counts = Counter(rule.rule_id for rule in self.rules)
        duplicates = sorted(rule_id for rule_id, count in counts.items() if count > 1)
        if duplicates:
            raise ValueError(f"duplicate rule ids: {', '.join(duplicates)}")
        defaults = [rule.rule_id for rule in self.rules if rule.kind == "default"]
        if len(defaults) > 1:
            raise ValueError(f"at most one default rule, found {', '.join(defaults)}")
        regex_size = sum(
            rule.match.regex_program_size
            for rule in self.rules
            if isinstance(rule.match, KeywordMatch)
        )
        if regex_size > MAX_TOTAL_PROGRAM_SIZE:
            raise ValueError(
                f"the regex patterns of all rules together are too costly to match (they "
                f"compile to {regex_size} of at most {MAX_TOTAL_PROGRAM_SIZE} instructions): "
                "use exact or contains keywords, or smaller repeat counts"
            )
        self._by_id = {rule.rule_id: rule for rule in self.rules}
        self._ordered = tuple(sorted(self.rules, key=lambda rule: (rule.priority, rule.rule_id)))
        for rule in self.rules:
            self._check_reply_references(rule)
        return self

    def _check_reply_references(self, rule: Rule) -> None:
        resolution = self.resolve_replies(rule.actions)
        if resolution.missing_rule_ids:
            missing = ", ".join(resolution.missing_rule_ids)
            raise ValueError(
                f"rule {rule.rule_id}: reply_rule refers to {missing}, which is not a rule "
                "with reply messages"
            )
        count = sum(len(a.messages) for a in resolution.actions if isinstance(a, Reply))
        if count > MAX_MESSAGES_PER_REQUEST:
            raise ValueError(
                f"rule {rule.rule_id}: replies with {count} messages; at most "
                f"{MAX_MESSAGES_PER_REQUEST} fit in one reply"
            )

    @property
    def ordered_rules(self) -> tuple[Rule, ...]:
        return self._ordered

    @property
    def default_rule(self) -> Rule | None:
        return next((rule for rule in self.rules if rule.kind == "default"), None)

    def rule(self, rule_id: str) -> Rule | None:
        return self._by_id.get(rule_id)

    def select(self, trigger: Trigger, friend: FriendRuleHistory, at: datetime) -> RuleMatch | None:
        """The rule that answers ``trigger`` at ``at``, or None."""
        return self.evaluate(trigger, friend, at).match

    def explain(self, trigger: Trigger, friend: FriendRuleHistory, at: datetime) -> list[str]:
        """Why each rule did or did not answer, then the outcome (``rules apply --dry-run``)."""
        evaluation = self.evaluate(trigger, friend, at)
        outcome = (
            f"=> {evaluation.match.rule.rule_id}: {evaluation.reason}"
            if evaluation.match
            else f"=> no rule: {evaluation.reason}"
        )
        return [*evaluation.trace, outcome]

    def evaluate(self, trigger: Trigger, friend: FriendRuleHistory, at: datetime) -> RuleEvaluation:
        if at.tzinfo is None:
            raise ValueError("rules are evaluated at an aware datetime")
        if friend.automation_paused:
            reason = "automation is paused for this friend (chat mode)"
            return RuleEvaluation(None, reason, ())
        trace: list[str] = []
        cooling: list[str] = []
        wanted = _RULE_KIND_FOR[trigger.kind]
        for rule in (rule for rule in self._ordered if rule.kind == wanted):
            match = self._try(rule, trigger, friend, at, trace, cooling)
            if match is not None:
                return RuleEvaluation(match, match.reason, tuple(trace))
        if cooling:
            reason = (
                f"matching rules are cooling down for this friend ({', '.join(cooling)}); "
                "nothing is sent"
            )
            return RuleEvaluation(None, reason, tuple(trace), tuple(cooling))
        default = self.default_rule
        if isinstance(trigger, TextTrigger) and default is not None:
            match = self._try(default, trigger, friend, at, trace, cooling)
            if match is not None:
                return RuleEvaluation(match, match.reason, tuple(trace))
            reason = "no keyword rule matched, and the default rule does not apply"
            return RuleEvaluation(None, reason, tuple(trace))
        return RuleEvaluation(None, f"no {wanted} rule matched", tuple(trace))

    def _try(
        self,
        rule: Rule,
        trigger: Trigger,
        friend: FriendRuleHistory,
        at: datetime,
        trace: list[str],
        cooling: list[str],
    ) -> RuleMatch | None:
        label = f"{rule.rule_id} (priority {rule.priority}, {rule.kind})"
        unavailable = rule.unavailable_reason(at, self.business_hours)
        if unavailable is not None:
            trace.append(f"{label}: skipped, {unavailable}")
            return None
        reason = rule.match.match_reason(trigger)
        if reason is None:
            trace.append(f"{label}: no match")
            return None
        cooling_until = rule.cooling_down_until(friend.rule_fired_at.get(rule.rule_id), at)
        if cooling_until is not None:
            trace.append(f"{label}: {reason}, but cooling down until {cooling_until.isoformat()}")
            cooling.append(rule.rule_id)
            return None
        trace.append(f"{label}: {reason}")
        return RuleMatch(rule, reason)

    def reply_messages_of(self, rule_id: str) -> list[dict[str, Any]]:
        """The reply messages of rule ``rule_id`` ([] when there is no such rule)."""
        rule = self._by_id.get(rule_id)
        return rule.reply_messages if rule is not None else []

    def resolve_replies(self, actions: Iterable[CrmAction]) -> ReplyResolution:
        """``actions`` with each ``ReplyWithRule`` replaced by a ``Reply`` of its messages.

        One level only: a referenced rule's own ``reply_rule`` actions are not followed.
        References that resolve to no messages are dropped and listed as missing, so the
        caller can log them and still apply the other actions.
        """
        resolved: list[CrmAction] = []
        missing: list[str] = []
        for action in actions:
            if not isinstance(action, ReplyWithRule):
                resolved.append(action)
                continue
            messages = self.reply_messages_of(action.rule_id)
            if messages:
                resolved.append(Reply(messages=messages))
            else:
                missing.append(action.rule_id)
        return ReplyResolution(tuple(resolved), tuple(missing))
