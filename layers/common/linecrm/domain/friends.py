"""A friend of a LINE Official Account, as linecrm knows them."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict


class FollowOutcome(StrEnum):
    FIRST_FOLLOW = "first_follow"
    REFOLLOW = "refollow"  # unblocked: was blocked before
    ALREADY_FOLLOWING = "already_following"


class Friend(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    channel_id: str
    user_id: str
    status: Literal["active", "blocked"]
    first_followed_at: datetime | None = None
    last_followed_at: datetime | None = None
    blocked_at: datetime | None = None
    last_interaction_at: datetime | None = None
    display_name: str | None = None
