"""A channel's LIFF setup: its LIFF app id and which friend fields the member card shows.

Stored as the ``liff`` setting on the channel's SETTINGS item (JSON, like
``account_link``); set with ``PUT /admin/channels/{channel_id}/liff``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

LIFF_SETTING = "liff"
FIELD_KEY_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
# LINE's LIFF app ids: "<LINE Login channel id>-<8 characters>".
LIFF_ID_PATTERN = r"^[0-9]{1,20}-[A-Za-z0-9]{1,32}$"


class MemberCardFields(BaseModel):
    """Which custom fields (their keys) hold the rank and the points."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    rank: str | None = Field(
        default="rank", pattern=FIELD_KEY_PATTERN, description="the rank's field key"
    )
    points: str | None = Field(
        default="points", pattern=FIELD_KEY_PATTERN, description="the points' field key"
    )


class LiffSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    liff_id: str = Field(
        pattern=LIFF_ID_PATTERN,
        description="the LIFF app's id (LINE Developers console: LINE Login channel → LIFF)",
        examples=["2000000002-AbCdEfGh"],
    )
    member_card_fields: MemberCardFields = Field(default_factory=MemberCardFields)
    shop_target: str = Field(
        default="/",
        pattern=r"^/[^\s\\#]{0,199}$",
        description="where 「ショップにログイン」 lands: a path on the shop's auto-login "
        "allow-list (docs/auto-login.md)",
        examples=["/mypage"],
    )

    @field_validator("shop_target")
    @classmethod
    def _a_path_on_the_shop(cls, target: str) -> str:
        if target.startswith("//"):
            raise ValueError("a path on the shop, not //host")
        return target


def liff_settings(channel_settings: Mapping[str, Any]) -> LiffSettings | None:
    """The ``liff`` setting of a channel's SETTINGS item (None: LIFF not set up)."""
    raw = channel_settings.get(LIFF_SETTING)
    return LiffSettings.model_validate(json.loads(raw)) if raw else None
