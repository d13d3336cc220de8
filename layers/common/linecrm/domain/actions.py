"""CRM actions: what an auto-response rule or a postback does to a friend.

Actions name tags by **tag name** (people write rules by name); the caller resolves
names to tag ids with the channel's tag catalog. Field values are only shaped here;
the field definitions check and convert them when the change is applied.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StrictStr,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
)

from linecrm.models.send import MAX_MESSAGES_PER_REQUEST

MAX_TAGS_PER_ACTION = 20
# The same slug as a rule's id, so ``reply_rule`` can point at any rule.
RULE_ID_PATTERN = r"^[a-z0-9_-]{1,64}$"
# The same key shape as a custom field definition's key.
FIELD_KEY_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
SCENARIO_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
# LINE's rich menu ids are "richmenu-" + 32 hex digits; alias ids are [A-Za-z0-9_-]{1,32}.
RICH_MENU_ID_PATTERN = r"^richmenu-[0-9a-f]{32}$"
RICH_MENU_REFERENCE_PATTERN = r"^(richmenu-[0-9a-f]{32}|[A-Za-z0-9_-]{1,32})$"

TagName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
FieldKey = Annotated[str, StringConstraints(pattern=FIELD_KEY_PATTERN)]
# Strict, so a YAML ``true`` is an error instead of silently becoming 1.
FieldValue = StrictStr | StrictInt | StrictFloat


class ActionError(ValueError):
    """An action document is malformed; the message names its index."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(f"actions[{index}]: {reason}")
        self.index = index
        self.reason = reason


class _Action(BaseModel):
    # defer_build: validators built on first use, not at import (cold starts).
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class AddTags(_Action):
    type: Literal["add_tags"] = "add_tags"
    tags: list[TagName] = Field(min_length=1, max_length=MAX_TAGS_PER_ACTION)


class RemoveTags(_Action):
    type: Literal["remove_tags"] = "remove_tags"
    tags: list[TagName] = Field(min_length=1, max_length=MAX_TAGS_PER_ACTION)


class SetField(_Action):
    """Set a custom field; ``value: None`` clears it."""

    type: Literal["set_field"] = "set_field"
    field: FieldKey
    value: FieldValue | None


class Reply(_Action):
    """Reply with LINE message objects (sent with the event's reply token)."""

    type: Literal["reply"] = "reply"
    messages: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_MESSAGES_PER_REQUEST)

    @field_validator("messages")
    @classmethod
    def _messages_have_a_type(cls, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for index, message in enumerate(messages):
            if not isinstance(message.get("type"), str):
                raise ValueError(f"messages[{index}] has no string 'type'")
        return messages


class ReplyWithRule(_Action):
    """Reply with the messages of another auto-response rule (resolved by the caller).

    Postbacks cannot carry message objects (300 characters), so they point at a rule;
    ``RuleSet.resolve_replies`` turns this into a ``Reply``.
    """

    type: Literal["reply_rule"] = "reply_rule"
    rule_id: str = Field(pattern=RULE_ID_PATTERN)


class StartScenario(_Action):
    type: Literal["start_scenario"] = "start_scenario"
    scenario: str = Field(pattern=SCENARIO_ID_PATTERN)


class StopScenario(_Action):
    type: Literal["stop_scenario"] = "stop_scenario"
    scenario: str = Field(pattern=SCENARIO_ID_PATTERN)


class SwitchRichMenu(_Action):
    """Link a rich menu to the friend, by rich menu id (``richmenu-…``) or alias id."""

    type: Literal["switch_rich_menu"] = "switch_rich_menu"
    rich_menu: str = Field(pattern=RICH_MENU_REFERENCE_PATTERN)

    @property
    def is_alias(self) -> bool:
        return not _RICH_MENU_ID.fullmatch(self.rich_menu)


class LinkAccount(_Action):
    """Start ID linking (ID連携): issue a LINE link token for the friend and send them a
    button to the shop's login page with it (the channel's ``account_link`` setting)."""

    type: Literal["link_account"] = "link_account"


class UnlinkAccount(_Action):
    """End the friend's ID link to the shop's member id (nothing if not linked)."""

    type: Literal["unlink_account"] = "unlink_account"


CrmAction = Annotated[
    AddTags
    | RemoveTags
    | SetField
    | Reply
    | ReplyWithRule
    | StartScenario
    | StopScenario
    | SwitchRichMenu
    | LinkAccount
    | UnlinkAccount,
    Field(discriminator="type"),
]

_ACTION = TypeAdapter[CrmAction](
    CrmAction,
    config=ConfigDict(defer_build=True),  # built on first use
)
_RICH_MENU_ID = re.compile(RICH_MENU_ID_PATTERN)


def parse_action(raw: Any) -> CrmAction:
    """One action document (a dict with a ``type``) as a typed action."""
    return _ACTION.validate_python(raw)


def parse_actions(raw: list[Any]) -> list[CrmAction]:
    """Action documents as typed actions; ``ActionError`` names the first bad one."""
    actions: list[CrmAction] = []
    for index, document in enumerate(raw):
        try:
            actions.append(parse_action(document))
        except ValidationError as error:
            raise ActionError(index, describe_validation_error(error)) from error
    return actions


def describe_validation_error(error: ValidationError) -> str:
    """Pydantic's errors in one line: ``where: what; …``, without URLs or input echoes."""
    parts = []
    for detail in error.errors(include_url=False, include_input=False):
        where = ".".join(str(part) for part in detail["loc"])
        parts.append(f"{where}: {detail['msg']}" if where else str(detail["msg"]))
    return "; ".join(parts)


@dataclasses.dataclass(frozen=True)
class FriendChange:
    """The net effect of some actions on a friend's tags and fields (by tag name)."""

    add_tags: frozenset[str] = frozenset()
    remove_tags: frozenset[str] = frozenset()
    set_fields: dict[str, FieldValue] = dataclasses.field(default_factory=dict)
    clear_fields: frozenset[str] = frozenset()

    @property
    def is_empty(self) -> bool:
        return not (self.add_tags or self.remove_tags or self.set_fields or self.clear_fields)


def friend_change_of(actions: Iterable[CrmAction]) -> FriendChange:
    """Fold the tag and field actions in order: the last word on a tag or field wins.

    Other actions (replies, scenarios, rich menus) are not changes to the friend record
    and are ignored here.
    """
    tags: dict[str, bool] = {}  # name -> added (True) or removed (False)
    fields: dict[str, FieldValue | None] = {}  # key -> value, None = clear
    for action in actions:
        if isinstance(action, AddTags | RemoveTags):
            for name in action.tags:
                tags[name] = isinstance(action, AddTags)
        elif isinstance(action, SetField):
            fields[action.field] = action.value
    return FriendChange(
        add_tags=frozenset(name for name, added in tags.items() if added),
        remove_tags=frozenset(name for name, added in tags.items() if not added),
        set_fields={key: value for key, value in fields.items() if value is not None},
        clear_fields=frozenset(key for key, value in fields.items() if value is None),
    )
