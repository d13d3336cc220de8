"""A friend of a LINE Official Account, as linecrm knows them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from linecrm.domain.events import EventStats

FieldValue = str | int | float
MARKETING_PERIOD_PREFIX = "mkt#"


class FollowOutcome(StrEnum):
    FIRST_FOLLOW = "first_follow"
    REFOLLOW = "refollow"  # unblocked: was blocked before
    ALREADY_FOLLOWING = "already_following"
    STALE = "stale"  # older than a follow/unfollow already applied: changes nothing


class ChatMode(BaseModel):
    """A staff member has taken the conversation over: automation pauses for this friend."""

    # defer_build: validators built on first use, not at import (cold starts).
    model_config = ConfigDict(frozen=True, defer_build=True)

    staff: str = Field(min_length=1, max_length=100)
    since: datetime


class FriendWarning(BaseModel):
    """Something automation meant to do for this friend and could not (an unknown tag,
    rule or rich menu in a postback or rule): kept on the friend, latest per subject."""

    model_config = ConfigDict(frozen=True, defer_build=True)

    message: str
    at: datetime


# At most this many warning subjects per friend; more are dropped (the first ones stay).
MAX_FRIEND_WARNINGS = 20


# "active": follows the account; "blocked": unfollowed (blocked) it; "login_only": a
# LINE user who logged in through LIFF / LINE Login but never followed (no message can
# reach them; a follow makes them "active", as a first follow).
FriendStatus = Literal["active", "blocked", "login_only"]


class Friend(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    channel_id: str
    user_id: str
    status: FriendStatus
    display_name: str | None = None
    picture_url: str | None = None
    status_message: str | None = None
    language: str | None = None
    profile_fetched_at: datetime | None = None
    first_followed_at: datetime | None = None
    last_followed_at: datetime | None = None
    refollowed_at: datetime | None = None
    blocked_at: datetime | None = None
    last_interaction_at: datetime | None = None
    # The latest LIFF / LINE Login (``POST /liff/login``).
    last_login_at: datetime | None = None
    # Tag id -> when it was added (a map, so one UpdateItem can add some and remove others).
    tags: dict[str, datetime] = Field(default_factory=dict)
    fields: dict[str, FieldValue] = Field(default_factory=dict)
    # Inflow routes (linecrm.inflow): the first route that brought the friend (never
    # overwritten), the latest one, and every route that brought them (the counters).
    inflow_route: str | None = None
    last_inflow_route: str | None = None
    last_inflow_at: datetime | None = None
    inflow_routes: frozenset[str] = frozenset()
    # ID linking (ID連携): the shop's member id, when the link was stored, and when the
    # friend agreed in LINE's account-link dialog (linecrm.repositories.id_links).
    member_id: str | None = None
    # The LINE rich menu id the assignment rules linked to this friend (None: LINE's
    # default shows); kept so an unchanged menu costs no LINE call (linecrm.richmenus).
    rich_menu_id: str | None = None
    linked_at: datetime | None = None
    link_consented_at: datetime | None = None
    chat_mode: ChatMode | None = None
    # Auto-response rule id -> when it last fired for this friend (cooldowns).
    rule_fired_at: dict[str, datetime] = Field(default_factory=dict)
    # Subject ("tag:VIP", "rule:thanks", "richmenu:menu-vip") -> the latest warning.
    warnings: dict[str, FriendWarning] = Field(default_factory=dict)
    # Frequency caps: period key ("d2026-11-23", "w2026-W48") -> the marketing
    # deliveries counted in it. Stored as one string-set attribute per period
    # (``mkt#<period>``), so a reservation is one conditional ADD.
    marketing_sent: dict[str, frozenset[str]] = Field(default_factory=dict)
    # Behaviour events (the events API): aggregates per event name, kept on write.
    event_stats: dict[str, EventStats] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _collect_marketing_periods(cls, data: Any) -> Any:
        if isinstance(data, dict) and "marketing_sent" not in data:
            periods = {
                key.removeprefix(MARKETING_PERIOD_PREFIX): frozenset(value)
                for key, value in data.items()
                if isinstance(key, str) and key.startswith(MARKETING_PERIOD_PREFIX)
            }
            if periods:
                data = {**data, "marketing_sent": periods}
        return data

    @property
    def tag_ids(self) -> frozenset[str]:
        return frozenset(self.tags)

    @property
    def automation_paused(self) -> bool:
        return self.chat_mode is not None


class FriendProfile(BaseModel):
    """What LINE's get-profile returns, in our names."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore", defer_build=True)

    display_name: str | None = Field(default=None, alias="displayName")
    picture_url: str | None = Field(default=None, alias="pictureUrl")
    status_message: str | None = Field(default=None, alias="statusMessage")
    language: str | None = None

    def attributes(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


@dataclass(frozen=True)
class FriendChangeSet:
    """Resolved tag ids and validated field values to apply to one friend at once."""

    add_tag_ids: frozenset[str] = frozenset()
    remove_tag_ids: frozenset[str] = frozenset()
    set_fields: Mapping[str, FieldValue] | None = None
    clear_fields: frozenset[str] = frozenset()
    fired_rule_id: str | None = None

    @property
    def is_empty(self) -> bool:
        return not (
            self.add_tag_ids
            or self.remove_tag_ids
            or self.set_fields
            or self.clear_fields
            or self.fired_rule_id
        )
