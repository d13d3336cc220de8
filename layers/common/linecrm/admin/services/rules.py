"""Auto-response rules: replace the set as a whole (checked against the channel's tags,
fields and stored-size limits, with a diff), and test which rule would answer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from linecrm.admin.errors import Conflict, InvalidInput
from linecrm.admin.models import RulesApplyResponse, RulesRequest, RuleTestRequest, RuleTestResponse
from linecrm.admin.services.settings import SettingsService, check_hours_size, stored_hours
from linecrm.admin.services.validation import json_size, validated
from linecrm.domain.actions import AddTags, RemoveTags, Reply, SetField
from linecrm.domain.channel_config import ChannelConfig, InvalidStoredRules
from linecrm.domain.fields import FieldValueError, UnknownField
from linecrm.domain.personalization import PersonalizationError, check_fields, placeholders
from linecrm.domain.rules import (
    FriendRuleHistory,
    FriendRuleState,
    PostbackTrigger,
    Rule,
    RuleSet,
    TextTrigger,
    Trigger,
)
from linecrm.domain.tags import TagCatalog, UnknownTag
from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm.repositories.friends import FriendNotFound, FriendRepository

# Each rule is one DynamoDB item (≤ 400 KB); a rule set is written in transactions
# (≤ 4 MB each).
MAX_RULE_BYTES = 100 * 1024
MAX_RULE_SET_BYTES = 3 * 1024 * 1024


class RulesService:
    def __init__(
        self,
        friends: FriendRepository,
        config: ChannelConfigRepository,
        settings: SettingsService,
        clock: Callable[[], datetime],
    ) -> None:
        self._friends = friends
        self._config = config
        self._settings = settings  # a rules file may carry business hours
        self._clock = clock

    def rule_set(self, channel_id: str) -> RuleSet:
        return _stored_rule_set(self._config.load(channel_id))

    def replace_rules(
        self, channel_id: str, request: RulesRequest, *, dry_run: bool
    ) -> RulesApplyResponse:
        """Validate the whole set against the channel (tags, fields, replies), then store
        it, unless ``dry_run``; either way, answer with what changes."""
        config = self._config.load(channel_id)
        hours = request.business_hours or stored_hours(config)
        if request.business_hours is not None:
            check_hours_size(request.business_hours)
        rule_set = validated(
            RuleSet, model_field="rules", rules=request.rules, business_hours=hours
        )
        _check_rule_references(config, rule_set)
        new = {rule.rule_id: rule.model_dump(mode="json") for rule in rule_set.rules}
        _check_stored_sizes(new)
        old = {str(raw.get("rule_id")): _normalized_rule(raw) for raw in config.rules}
        if not dry_run:
            if request.business_hours is not None:
                self._settings.set_business_hours(channel_id, request.business_hours)
            self._config.replace_rules(channel_id, list(new.values()))
        return RulesApplyResponse(
            dry_run=dry_run,
            added=sorted(new.keys() - old.keys()),
            changed=sorted(key for key in new.keys() & old.keys() if new[key] != old[key]),
            removed=sorted(old.keys() - new.keys()),
            unchanged=sum(1 for key in new.keys() & old.keys() if new[key] == old[key]),
            rules=rule_set.rules,
            business_hours_replaced=request.business_hours is not None,
        )

    def test_rules(self, channel_id: str, request: RuleTestRequest) -> RuleTestResponse:
        """Which stored rule would answer, and why (nothing is sent or changed)."""
        config = self._config.load(channel_id)
        rule_set = _stored_rule_set(config)
        friend: FriendRuleHistory = FriendRuleState()
        if request.user_id is not None:
            found = self._friends.get(channel_id, request.user_id)
            if found is None:
                raise FriendNotFound(channel_id, request.user_id)
            friend = found
        trigger: Trigger = (
            TextTrigger(text=request.text)
            if request.text is not None
            else PostbackTrigger(data=request.postback_data or "")
        )
        evaluation = rule_set.evaluate(trigger, friend, request.at or self._clock())
        match = evaluation.match
        return RuleTestResponse(
            matched=match is not None,
            rule_id=match.rule.rule_id if match else None,
            rule_name=match.rule.name if match else None,
            reason=evaluation.reason,
            trace=list(evaluation.trace),
            actions=list(rule_set.resolve_replies(match.actions).actions) if match else [],
        )


def _stored_rule_set(config: ChannelConfig) -> RuleSet:
    try:
        return config.rule_set
    except InvalidStoredRules as error:
        raise Conflict(f"{error}; PUT a valid rule set to replace them") from error


def _check_stored_sizes(rules: dict[str, dict[str, Any]]) -> None:
    """Refuse what could not be stored (one item per rule, the set in transactions),
    with the reason."""
    for index, (rule_id, rule) in enumerate(rules.items()):
        if json_size(rule) > MAX_RULE_BYTES:
            raise InvalidInput(
                f"rule {rule_id} takes more than {MAX_RULE_BYTES // 1024} KB as JSON",
                field=f"rules.{index}",
            )
    if sum(json_size(rule) for rule in rules.values()) > MAX_RULE_SET_BYTES:
        raise InvalidInput(
            f"the rule set takes more than {MAX_RULE_SET_BYTES // 1024} KB as JSON",
            field="rules",
        )


def _normalized_rule(raw: dict[str, Any]) -> dict[str, Any]:
    """A stored rule as the API would store it now (so diffs ignore formatting)."""
    try:
        return Rule.model_validate(raw).model_dump(mode="json")
    except ValidationError:
        return raw


def _check_rule_references(config: ChannelConfig, rule_set: RuleSet) -> None:
    """Rules name tags and fields; every one must exist (and values must fit)."""
    problems: list[tuple[str, str]] = []  # (request field, what is wrong)
    for index, rule in enumerate(rule_set.rules):
        for position, action in enumerate(rule.actions):
            where = f"rules.{index}.actions.{position}"
            if isinstance(action, AddTags | RemoveTags):
                unknown = [name for name in action.tags if not _tag_exists(config.tags, name)]
                if unknown:
                    problems.append(
                        (f"{where}.tags", f"rule {rule.rule_id}: no tag {', '.join(unknown)}")
                    )
            elif isinstance(action, SetField):
                try:
                    definition = config.fields.get(action.field)
                    if action.value is not None:
                        definition.coerce(action.value)
                except (UnknownField, FieldValueError) as error:
                    problems.append((f"{where}.field", f"rule {rule.rule_id}: {error}"))
            elif isinstance(action, Reply):
                try:
                    placeholders(action.messages)
                    check_fields(action.messages, config.fields.keys())
                except PersonalizationError as error:
                    problems.append((f"{where}.messages", f"rule {rule.rule_id}: {error}"))
    if problems:
        raise InvalidInput(
            "rules refer to tags or fields that do not exist or do not fit: "
            + "; ".join(problem for _, problem in problems),
            field=problems[0][0],
        )


def _tag_exists(tags: TagCatalog, name: str) -> bool:
    try:
        tags.resolve(name)
    except UnknownTag:
        return False
    return True
