"""What the admin API does, beyond a repository call: resolving tag names, checking
field values against their definitions, keeping tag folders and names consistent."""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from linecrm.admin.erasure import FriendErasure
from linecrm.admin.errors import Conflict, InvalidInput, NotFound
from linecrm.admin.models import (
    BulkChangeRequest,
    BulkChangeResponse,
    BulkResult,
    FieldCreateRequest,
    FieldUpdateRequest,
    FolderCreateRequest,
    FriendChangeRequest,
    FriendExport,
    FriendListResponse,
    FriendResponse,
    RulesApplyResponse,
    RulesRequest,
    RuleTestRequest,
    RuleTestResponse,
    TagCreateRequest,
    TagUpdateRequest,
)
from linecrm.aws_errors import error_code
from linecrm.domain.actions import AddTags, RemoveTags, Reply, SetField
from linecrm.domain.business_hours import BusinessHours
from linecrm.domain.channel_config import ChannelConfig, InvalidStoredRules
from linecrm.domain.fields import (
    MAX_FIELDS_PER_CHANNEL,
    FieldCatalog,
    FieldDefinition,
    FieldValueError,
    UnknownField,
)
from linecrm.domain.friends import ChatMode, FieldValue, FriendChangeSet
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
from linecrm.domain.tags import (
    MAX_TAGS_PER_CHANNEL,
    Tag,
    TagCatalog,
    TagFolder,
    UnknownTag,
    new_folder_id,
    new_tag_id,
)
from linecrm.repositories.channel_config import ChannelConfigRepository
from linecrm.repositories.friends import FriendNotFound, FriendRepository, InvalidCursor

Model = TypeVar("Model", bound=BaseModel)

# DynamoDB numbers: 38 significant digits, magnitude 1E-130 .. 9.99E+125.
# Sizes that keep stored config within DynamoDB's item (400 KB) and transaction (4 MB)
# limits.
MAX_RULE_BYTES = 100 * 1024
MAX_RULE_SET_BYTES = 3 * 1024 * 1024
MAX_SETTING_BYTES = 64 * 1024
_MAX_NUMBER_DIGITS = 38
_NUMBER_RANGE = (1e-130, 1e125)


class AdminService:
    def __init__(
        self,
        friends: FriendRepository,
        config: ChannelConfigRepository,
        clock: Callable[[], datetime],
        *,
        erasure: FriendErasure | None = None,
    ) -> None:
        self._friends = friends
        self._config = config
        self._clock = clock
        # None: only the friend's own items are exported and deleted (unit tests).
        self._erasure = erasure

    # ------------------------------------------------------------------ friends
    def list_friends(
        self,
        channel_id: str,
        *,
        tag: str | None = None,
        status: Literal["active", "blocked"] | None = None,
        limit: int = 50,
        cursor: str | None = None,
    ) -> FriendListResponse:
        tags = self._config.load(channel_id).tags
        tag_id = _resolve_tags(tags, [tag], field="tag")[0] if tag is not None else None
        try:
            page = self._friends.list_page(
                channel_id, tag_id=tag_id, status=status, limit=limit, cursor=cursor
            )
        except Exception as error:
            # A cursor we did not hand out can pass our checks and still be refused by
            # DynamoDB (e.g. key sizes): that is the caller's cursor, not our fault.
            if cursor and error_code(error) == "ValidationException":
                raise InvalidCursor("cursor is not one this API returned") from error
            raise
        return FriendListResponse(
            friends=[FriendResponse.of(friend, tags) for friend in page.friends],
            next_cursor=page.next_cursor,
        )

    def get_friend(self, channel_id: str, user_id: str) -> FriendResponse:
        friend = self._friends.get(channel_id, user_id)
        if friend is None:
            raise FriendNotFound(channel_id, user_id)
        return FriendResponse.of(friend, self._config.load(channel_id).tags)

    def change_friend(
        self, channel_id: str, user_id: str, request: FriendChangeRequest
    ) -> FriendResponse:
        config = self._config.load(channel_id)
        change = _change_set(config, request)
        friend = self._friends.apply_change(channel_id, user_id, change, self._clock())
        return FriendResponse.of(friend, config.tags)

    def change_friends(self, channel_id: str, request: BulkChangeRequest) -> BulkChangeResponse:
        """The same change for many friends; unknown friends are reported, not fatal.

        The request is validated as a whole first, so a bad tag or value changes nobody.
        """
        change = _change_set(self._config.load(channel_id), request)
        at = self._clock()
        results: list[BulkResult] = []
        for user_id in request.user_ids:
            try:
                self._friends.apply_change(channel_id, user_id, change, at)
            except FriendNotFound:
                results.append(BulkResult(user_id=user_id, result="not_found"))
            else:
                results.append(BulkResult(user_id=user_id, result="updated"))
        updated = sum(1 for result in results if result.result == "updated")
        return BulkChangeResponse(
            updated=updated, not_found=len(results) - updated, results=results
        )

    def export_friend(self, channel_id: str, user_id: str) -> FriendExport:
        items = self._friends.export(channel_id, user_id)
        if not items:
            raise FriendNotFound(channel_id, user_id)
        if self._erasure is not None:
            items.extend(self._erasure.ledger_rows(channel_id, user_id))
        friend = self._friends.get(channel_id, user_id)
        tags = self._config.load(channel_id).tags
        return FriendExport(
            channel_id=channel_id,
            user_id=user_id,
            exported_at=self._clock(),
            friend=FriendResponse.of(friend, tags) if friend else None,
            items=[_plain(item) for item in items],
        )

    def delete_friend(self, channel_id: str, user_id: str) -> int:
        """Right to erasure: the friend's items, the ledger rows naming them (see
        ``admin/erasure.py``); the number of items deleted or redacted. The erasure
        record and the ledger go first, so a retry after a failure finishes the job."""
        if not self._friends.export(channel_id, user_id):
            raise FriendNotFound(channel_id, user_id)
        redacted = self._erasure.erase(channel_id, user_id) if self._erasure is not None else 0
        return redacted + self._friends.delete(channel_id, user_id)

    def take_chat(self, channel_id: str, user_id: str, staff: str) -> FriendResponse:
        mode = ChatMode(staff=staff, since=self._clock())
        friend = self._friends.set_chat_mode(channel_id, user_id, mode)
        return FriendResponse.of(friend, self._config.load(channel_id).tags)

    def release_chat(self, channel_id: str, user_id: str) -> FriendResponse:
        friend = self._friends.set_chat_mode(channel_id, user_id, None)
        return FriendResponse.of(friend, self._config.load(channel_id).tags)

    # ------------------------------------------------------------------ tags
    def tags(self, channel_id: str) -> TagCatalog:
        return self._config.load(channel_id).tags

    def create_tag(self, channel_id: str, request: TagCreateRequest) -> Tag:
        tags = self.tags(channel_id)
        if len(tags.tags) >= MAX_TAGS_PER_CHANNEL:
            raise Conflict(f"a channel has at most {MAX_TAGS_PER_CHANNEL} tags")
        tags.check_name_free(request.name)
        _check_folder(tags, request.folder_id)
        tag = _validated(Tag, tag_id=new_tag_id(), name=request.name, folder_id=request.folder_id)
        self._config.create_tag(channel_id, tag)
        return tag

    def update_tag(self, channel_id: str, tag_id: str, request: TagUpdateRequest) -> Tag:
        config = self._config.load(channel_id)
        tags = config.tags
        old = _existing_tag(tags, tag_id)
        changes = request.model_dump(include=request.model_fields_set)
        if changes.get("name") is None:
            changes.pop("name", None)  # null name: keep the name
        new = _validated(Tag, **{**old.model_dump(), **changes})
        if new.name != old.name:
            tags.check_name_free(new.name, except_tag_id=tag_id)
            _refuse_if_rules_name(config, old, "renamed")
        if new.folder_id != old.folder_id:
            _check_folder(tags, new.folder_id)
        if new != old:
            self._config.update_tag(channel_id, old, new)
        return new

    def delete_tag(self, channel_id: str, tag_id: str) -> None:
        config = self._config.load(channel_id)
        tag = _existing_tag(config.tags, tag_id)
        _refuse_if_rules_name(config, tag, "deleted")
        self._config.delete_tag(channel_id, tag)

    def create_folder(self, channel_id: str, request: FolderCreateRequest) -> TagFolder:
        tags = self.tags(channel_id)
        if any(folder.name == request.name for folder in tags.folders):
            raise Conflict(f"a tag folder named {request.name!r} already exists", field="name")
        folder = _validated(TagFolder, folder_id=new_folder_id(), name=request.name)
        self._config.put_folder(channel_id, folder)
        return folder

    def delete_folder(self, channel_id: str, folder_id: str) -> None:
        tags = self.tags(channel_id)
        if not tags.has_folder(folder_id):
            raise NotFound(f"no tag folder {folder_id}")
        inside = [tag.name for tag in tags.tags if tag.folder_id == folder_id]
        if inside:
            raise Conflict(
                f"tag folder {folder_id} still holds {len(inside)} tag(s): "
                f"{', '.join(inside[:10])}; move or delete them first"
            )
        self._config.delete_folder(channel_id, folder_id)

    # ------------------------------------------------------------------ fields
    def fields(self, channel_id: str) -> FieldCatalog:
        return self._config.load(channel_id).fields

    def create_field(self, channel_id: str, request: FieldCreateRequest) -> FieldDefinition:
        fields = self.fields(channel_id)
        if any(existing.key == request.key for existing in fields.definitions):
            raise Conflict(f"field {request.key} already exists; PUT it to change it", field="key")
        if len(fields.definitions) >= MAX_FIELDS_PER_CHANNEL:
            raise Conflict(f"a channel has at most {MAX_FIELDS_PER_CHANNEL} fields")
        definition = _validated(FieldDefinition, model_field="choices", **request.model_dump())
        self._config.put_field(channel_id, definition)
        return definition

    def put_field(self, channel_id: str, key: str, request: FieldUpdateRequest) -> FieldDefinition:
        """Create or redefine a field. Values friends already hold are kept as they are."""
        fields = self.fields(channel_id)
        exists = any(existing.key == key for existing in fields.definitions)
        if not exists and len(fields.definitions) >= MAX_FIELDS_PER_CHANNEL:
            raise Conflict(f"a channel has at most {MAX_FIELDS_PER_CHANNEL} fields")
        definition = _validated(
            FieldDefinition, model_field="choices", key=key, **request.model_dump()
        )
        self._config.put_field(channel_id, definition)
        return definition

    def delete_field(self, channel_id: str, key: str) -> None:
        try:
            self.fields(channel_id).get(key)
        except UnknownField as error:
            raise NotFound(f"no field {key}") from error
        self._config.delete_field(channel_id, key)

    # ------------------------------------------------------------------ rules
    def rules(self, channel_id: str) -> RuleSet:
        return _stored_rule_set(self._config.load(channel_id))

    def replace_rules(
        self, channel_id: str, request: RulesRequest, *, dry_run: bool
    ) -> RulesApplyResponse:
        """Validate the whole set against the channel (tags, fields, replies), then store
        it, unless ``dry_run``; either way, answer with what changes."""
        config = self._config.load(channel_id)
        hours = request.business_hours or _validated_hours(config)
        if request.business_hours is not None:
            _check_hours_size(request.business_hours)
        rule_set = _validated(
            RuleSet, model_field="rules", rules=request.rules, business_hours=hours
        )
        _check_rule_references(config, rule_set)
        new = {rule.rule_id: rule.model_dump(mode="json") for rule in rule_set.rules}
        _check_stored_sizes(new)
        old = {str(raw.get("rule_id")): _normalized_rule(raw) for raw in config.rules}
        if not dry_run:
            if request.business_hours is not None:
                self.set_business_hours(channel_id, request.business_hours)
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

    # ------------------------------------------------------------------ settings
    def business_hours(self, channel_id: str) -> BusinessHours:
        stored = self._config.load(channel_id).business_hours
        if stored is None:
            raise NotFound("no business hours are set for this channel (PUT them)")
        return BusinessHours.model_validate(stored)

    def set_business_hours(self, channel_id: str, hours: BusinessHours | None) -> None:
        """Store the hours (None removes them)."""
        if hours is not None:
            _check_hours_size(hours)
        value = None if hours is None else hours.model_dump(mode="json")
        self._config.set_setting(channel_id, "business_hours", value)


# ---------------------------------------------------------------------- helpers
def _validated(model: type[Model], *, model_field: str | None = None, **values: Any) -> Model:
    """A domain model from request values; its validation errors name the field
    (``model_field`` for a rule about the whole model, e.g. a field's choices)."""
    try:
        return model.model_validate(values)
    except ValidationError as error:
        first = error.errors(include_url=False, include_input=False)[0]
        field = ".".join(str(part) for part in first["loc"]) or model_field
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidInput(f"{field}: {message}" if field else message, field=field) from error


def _stored_rule_set(config: ChannelConfig) -> RuleSet:
    try:
        return config.rule_set
    except InvalidStoredRules as error:
        raise Conflict(f"{error}; PUT a valid rule set to replace them") from error


def _validated_hours(config: ChannelConfig) -> BusinessHours | None:
    stored = config.business_hours
    return None if stored is None else BusinessHours.model_validate(stored)


def _check_hours_size(hours: BusinessHours) -> None:
    if _json_size(hours.model_dump(mode="json")) > MAX_SETTING_BYTES:
        raise InvalidInput(
            f"business hours take at most {MAX_SETTING_BYTES // 1024} KB as JSON "
            "(too many closed dates?)",
            field="closed_dates",
        )


def _json_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False).encode("utf-8"))


def _check_stored_sizes(rules: dict[str, dict[str, Any]]) -> None:
    """Each rule is one DynamoDB item (≤ 400 KB) and a rule set is written in
    transactions (≤ 4 MB each): refuse what could not be stored, with the reason."""
    for index, (rule_id, rule) in enumerate(rules.items()):
        if _json_size(rule) > MAX_RULE_BYTES:
            raise InvalidInput(
                f"rule {rule_id} takes more than {MAX_RULE_BYTES // 1024} KB as JSON",
                field=f"rules.{index}",
            )
    if sum(_json_size(rule) for rule in rules.values()) > MAX_RULE_SET_BYTES:
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


def _refuse_if_rules_name(config: ChannelConfig, tag: Tag, change: str) -> None:
    """Rules name tags by name: renaming or deleting a tag they use would break them."""
    rule_ids = _rules_naming_tag(config, tag)
    if rule_ids:
        raise Conflict(
            f"tag {tag.name!r} is used by rule(s) {', '.join(rule_ids)}; change those rules "
            f"first, then the tag can be {change}"
        )


def _rules_naming_tag(config: ChannelConfig, tag: Tag) -> list[str]:
    """Ids of the stored rules whose tag actions name ``tag`` (by name or id)."""
    try:
        rules = config.rule_set.rules
    except InvalidStoredRules:
        return []
    return [
        rule.rule_id
        for rule in rules
        if any(
            isinstance(action, AddTags | RemoveTags) and ({tag.name, tag.tag_id} & set(action.tags))
            for action in rule.actions
        )
    ]


def _existing_tag(tags: TagCatalog, tag_id: str) -> Tag:
    tag = tags.get(tag_id)
    if tag is None:
        raise NotFound(f"no tag {tag_id}")
    return tag


def _check_folder(tags: TagCatalog, folder_id: str | None) -> None:
    if folder_id is not None and not tags.has_folder(folder_id):
        raise InvalidInput(f"unknown tag folder: {folder_id}", field="folder_id")


def _resolve_tags(tags: TagCatalog, references: list[str], *, field: str) -> list[str]:
    """Tag ids for ids or names; every unknown one is named in the error."""
    resolved: list[str] = []
    unknown: list[str] = []
    for reference in references:
        try:
            resolved.append(tags.resolve(reference).tag_id)
        except UnknownTag:
            unknown.append(reference)
    if unknown:
        raise InvalidInput(f"unknown tag(s): {', '.join(unknown)}", field=field)
    return resolved


def _change_set(config: ChannelConfig, request: FriendChangeRequest) -> FriendChangeSet:
    add = set(_resolve_tags(config.tags, request.add_tags, field="add_tags"))
    remove = set(_resolve_tags(config.tags, request.remove_tags, field="remove_tags"))
    if add & remove:
        names = sorted(config.tags.resolve(tag_id).name for tag_id in add & remove)
        raise InvalidInput(f"tag(s) both added and removed: {', '.join(names)}", field="add_tags")
    values = _field_values(config.fields, request.set_fields)
    for key in request.clear_fields:
        try:
            config.fields.get(key)
        except UnknownField as error:
            raise InvalidInput(str(error), field="clear_fields") from error
    both = sorted(set(values) & set(request.clear_fields))
    if both:
        raise InvalidInput(f"field(s) both set and cleared: {', '.join(both)}", field="set_fields")
    return FriendChangeSet(
        add_tag_ids=frozenset(add),
        remove_tag_ids=frozenset(remove),
        set_fields=values,
        clear_fields=frozenset(request.clear_fields),
    )


def _field_values(fields: FieldCatalog, raw: Mapping[str, object]) -> dict[str, FieldValue]:
    values: dict[str, FieldValue] = {}
    for key, raw_value in raw.items():
        field = f"set_fields.{key}"
        try:
            value = fields.coerce(key, raw_value)
        except (UnknownField, FieldValueError) as error:
            raise InvalidInput(str(error), field=field) from error
        if not _storable(value):
            raise InvalidInput(f"{key}: {raw_value!r} is out of the storable range", field=field)
        values[key] = value
    return values


def _storable(value: FieldValue) -> bool:
    """DynamoDB (and boto3's serializer) refuse numbers of more than 38 digits, as
    written, or beyond its exponent range."""
    if isinstance(value, str) or value == 0:
        return True
    if isinstance(value, int):
        return len(str(abs(value))) <= _MAX_NUMBER_DIGITS
    if not math.isfinite(value):
        return False
    digits = Decimal(repr(value)).as_tuple().digits
    return len(digits) <= _MAX_NUMBER_DIGITS and _NUMBER_RANGE[0] <= abs(value) < _NUMBER_RANGE[1]


def _plain(value: Any) -> Any:
    """A stored value as JSON can carry it (DynamoDB sets and binaries included)."""
    if isinstance(value, dict):
        return {key: _plain(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(inner) for inner in value]
    if isinstance(value, set | frozenset):
        return sorted(_plain(inner) for inner in value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if hasattr(value, "value") and isinstance(value.value, bytes):  # boto3 Binary
        return base64.b64encode(value.value).decode("ascii")
    return value
