"""Request and response bodies of the admin API (they make its OpenAPI document)."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from linecrm.domain.actions import CrmAction
from linecrm.domain.business_hours import BusinessHours
from linecrm.domain.fields import FieldDefinition, FieldType
from linecrm.domain.friends import ChatMode, FieldValue, Friend
from linecrm.domain.rules import MAX_POSTBACK_DATA_LENGTH, MAX_RULES, Rule
from linecrm.domain.tags import ID_PATTERN, Tag, TagCatalog, TagFolder

MAX_BULK_USERS = 500
MAX_REFERENCES = 100  # tags or fields named in one change
USER_ID_PATTERN = r"^U[0-9a-f]{32}$"

# A tag id, or a tag's exact name.
TagReference = Annotated[str, StringConstraints(min_length=1, max_length=100)]
FieldKeyReference = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Choice = Annotated[str, StringConstraints(min_length=1, max_length=100)]
# What a client may send as a field value; the field's definition decides what fits.
RawFieldValue = str | bool | int | float


class _Request(BaseModel):
    # A misspelt key ("add_tag") is an error with its name, not silently ignored.
    model_config = ConfigDict(extra="forbid")


def _not_blank(value: str) -> str:
    cleaned = value.strip()
    if not cleaned:
        raise ValueError("must not be blank")
    return cleaned


# ---------------------------------------------------------------- errors
class FieldError(BaseModel):
    field: str
    type: str
    message: str


class ErrorResponse(BaseModel):
    """Every 4xx answer: what is wrong, and which request field (if one) is at fault."""

    message: str
    field: str | None = None
    errors: list[FieldError] = Field(default_factory=list)


# ---------------------------------------------------------------- friends
class FriendTag(BaseModel):
    tag_id: str
    name: str
    added_at: datetime


class FriendRichMenu(BaseModel):
    """The rich menu the friend sees, as linecrm knows it (docs/console-api.md)."""

    source: Literal["assigned", "default", "none"] = Field(
        description="assigned: an assignment rule linked the friend's own menu; default: "
        "none of their own, LINE's default shows; none: no own menu and no default"
    )
    menu_id: str | None = Field(default=None, description="our menu id (the rich menu set's)")
    name: str | None = None
    rich_menu_id: str | None = Field(default=None, description="LINE's rich menu id")


class FriendWarningItem(BaseModel):
    subject: str = Field(description='what it is about, e.g. "tag:VIP", "richmenu:menu-vip"')
    message: str
    at: datetime = Field(description="when it last happened")


class FriendResponse(BaseModel):
    channel_id: str
    user_id: str
    status: Literal["active", "blocked", "login_only"] = Field(
        description="login_only: logged in through LIFF / LINE Login, never followed"
    )
    display_name: str | None = None
    picture_url: str | None = None
    status_message: str | None = None
    language: str | None = None
    first_followed_at: datetime | None = None
    last_followed_at: datetime | None = None
    refollowed_at: datetime | None = None
    blocked_at: datetime | None = None
    last_interaction_at: datetime | None = None
    last_login_at: datetime | None = Field(
        default=None, description="the latest LIFF / LINE Login (POST /liff/login)"
    )
    tags: list[FriendTag] = Field(default_factory=list)
    fields: dict[str, FieldValue] = Field(default_factory=dict)
    inflow_route: str | None = Field(
        default=None, description="the inflow route that first brought the friend"
    )
    last_inflow_route: str | None = Field(
        default=None, description="the inflow route that brought the friend last"
    )
    member_id: str | None = Field(
        default=None, description="the shop's member id this friend is ID-linked to"
    )
    linked_at: datetime | None = None
    link_consented_at: datetime | None = Field(
        default=None, description="when the friend agreed to the ID link in LINE's dialog"
    )
    chat_mode: ChatMode | None = None
    rich_menu: FriendRichMenu | None = Field(
        default=None,
        description="the rich menu the friend sees (GET /friends/{user_id} only): the one the "
        "assignment rules linked, else the channel's default; a rule's or postback's "
        "direct switch is not recorded",
    )
    warnings: list[FriendWarningItem] = Field(
        default_factory=list,
        description="what automation could not do for this friend (an unknown tag, field, "
        "rule or rich menu named by a postback or rule), newest first",
    )

    @classmethod
    def of(cls, friend: Friend, tags: TagCatalog) -> FriendResponse:
        """The friend with tag names; ids of deleted tags are left out (as everywhere)."""
        known = [
            FriendTag(tag_id=tag_id, name=tag.name, added_at=added_at)
            for tag_id, added_at in friend.tags.items()
            if (tag := tags.get(tag_id)) is not None
        ]
        warnings = sorted(
            (
                FriendWarningItem(subject=subject, message=warning.message, at=warning.at)
                for subject, warning in friend.warnings.items()
            ),
            key=lambda item: (item.at, item.subject),
            reverse=True,
        )
        values = friend.model_dump(exclude={"tags", "rule_fired_at", "warnings"})
        return cls(**values, tags=sorted(known, key=lambda tag: tag.name), warnings=warnings)


class FriendListResponse(BaseModel):
    friends: list[FriendResponse]
    next_cursor: str | None = Field(
        default=None, description="pass as ?cursor= for the next page; null on the last page"
    )


class FriendChangeRequest(_Request):
    """Tags by id or name; field values are checked against the field definitions."""

    add_tags: list[TagReference] = Field(default_factory=list, max_length=MAX_REFERENCES)
    remove_tags: list[TagReference] = Field(default_factory=list, max_length=MAX_REFERENCES)
    set_fields: dict[str, RawFieldValue] = Field(default_factory=dict, max_length=MAX_REFERENCES)
    clear_fields: list[FieldKeyReference] = Field(default_factory=list, max_length=MAX_REFERENCES)

    @model_validator(mode="after")
    def _changes_something(self) -> FriendChangeRequest:
        if not (self.add_tags or self.remove_tags or self.set_fields or self.clear_fields):
            raise ValueError(
                "nothing to change: give add_tags, remove_tags, set_fields or clear_fields"
            )
        return self


class BulkChangeRequest(FriendChangeRequest):
    user_ids: list[str] = Field(min_length=1, max_length=MAX_BULK_USERS)

    @field_validator("user_ids")
    @classmethod
    def _unique_line_user_ids(cls, user_ids: list[str]) -> list[str]:
        malformed = [user_id for user_id in user_ids if not re.fullmatch(USER_ID_PATTERN, user_id)]
        if malformed:
            raise ValueError(f"not LINE user ids (U + 32 hex digits): {malformed[:5]}")
        if len(set(user_ids)) != len(user_ids):
            raise ValueError("user ids must be unique")
        return user_ids


class BulkResult(BaseModel):
    user_id: str
    result: Literal["updated", "not_found"]


class BulkChangeResponse(BaseModel):
    updated: int
    not_found: int
    results: list[BulkResult]


class FriendExport(BaseModel):
    """Everything linecrm stores about one friend (data portability requests)."""

    channel_id: str
    user_id: str
    exported_at: datetime
    friend: FriendResponse | None
    items: list[dict[str, Any]] = Field(description="every stored item of the friend, as is")


class ChatModeRequest(_Request):
    staff: str | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description=(
            "who takes the conversation; a staff member signed in to the console is "
            "always shown as themselves, a machine caller (IAM, the admin token) may name one"
        ),
    )

    @field_validator("staff")
    @classmethod
    def _staff(cls, value: str | None) -> str | None:
        return None if value is None else _not_blank(value)


# ---------------------------------------------------------------- tags
class TagUsage(Tag):
    friend_count: int = Field(
        default=0, description="friends holding the tag (kept as a counter on every change)"
    )


class TagListResponse(BaseModel):
    tags: list[TagUsage]
    folders: list[TagFolder]


class TagMergeRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    into: str = Field(min_length=1, max_length=100, description="the tag to keep (id or name)")


class TagMergeResponse(BaseModel):
    source: str = Field(description="the merged tag's id")
    into: str = Field(description="the kept tag's id")
    moved: int = Field(description="friends moved by this call")
    done: bool = Field(
        description="true: every friend moved and the merged tag deleted; false: call "
        "again (the same request) to move the next page"
    )


class FolderListResponse(BaseModel):
    folders: list[TagFolder]


class TagCreateRequest(_Request):
    name: str = Field(min_length=1, max_length=100)
    folder_id: str | None = Field(default=None, pattern=ID_PATTERN)

    _name = field_validator("name")(_not_blank)


class TagUpdateRequest(_Request):
    """Rename and/or move a tag; ``folder_id: null`` takes it out of its folder."""

    name: str | None = Field(default=None, min_length=1, max_length=100)
    folder_id: str | None = Field(default=None, pattern=ID_PATTERN)

    @field_validator("name")
    @classmethod
    def _name_not_blank(cls, name: str | None) -> str | None:
        return None if name is None else _not_blank(name)

    @model_validator(mode="after")
    def _changes_something(self) -> TagUpdateRequest:
        if not self.model_fields_set:
            raise ValueError("nothing to change: give name and/or folder_id")
        return self


class FolderCreateRequest(_Request):
    name: str = Field(min_length=1, max_length=100)

    _name = field_validator("name")(_not_blank)


# ---------------------------------------------------------------- fields
class FieldListResponse(BaseModel):
    fields: list[FieldDefinition]


class FieldUpdateRequest(_Request):
    """A field's definition (its key is in the path)."""

    label: str = Field(min_length=1, max_length=100)
    type: FieldType
    choices: list[Choice] = Field(default_factory=list, max_length=100)


class FieldCreateRequest(FieldUpdateRequest):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]{0,63}$")


# ---------------------------------------------------------------- rules
class RulesRequest(_Request):
    """The whole rule set (it replaces the stored one)."""

    rules: list[Rule] = Field(max_length=MAX_RULES)
    business_hours: BusinessHours | None = Field(
        default=None,
        description="when given, replaces the channel's business hours together with the "
        "rules (and the rules are checked against them); absent: the stored hours stay",
    )


class RulesResponse(BaseModel):
    rules: list[Rule]


class RulesApplyResponse(BaseModel):
    """What applying the rule set changes (or, with ``dry_run``, would change)."""

    dry_run: bool
    added: list[str] = Field(description="rule ids that are new")
    changed: list[str] = Field(description="rule ids whose definition differs")
    removed: list[str] = Field(description="rule ids that go away")
    unchanged: int
    rules: list[Rule]
    business_hours_replaced: bool = Field(
        default=False, description="the request's business_hours replace (would replace) the stored"
    )


class RuleTestRequest(_Request):
    """A message text or postback data, as a friend (optional) at a time (default now)."""

    text: str | None = Field(default=None, min_length=1, max_length=5000)
    postback_data: str | None = Field(
        default=None, min_length=1, max_length=MAX_POSTBACK_DATA_LENGTH
    )
    user_id: str | None = Field(default=None, pattern=USER_ID_PATTERN)
    at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _one_trigger(self) -> RuleTestRequest:
        if (self.text is None) == (self.postback_data is None):
            raise ValueError("give exactly one of text, postback_data")
        return self


class RuleTestResponse(BaseModel):
    matched: bool
    rule_id: str | None
    rule_name: str | None
    reason: str = Field(description="why this rule answers, or why none does")
    trace: list[str] = Field(description="one line per rule considered, in order")
    actions: list[CrmAction] = Field(description="what the rule would do (replies resolved)")
