"""Everything configured for one channel: tags, fields, auto-response rules, settings."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from linecrm.domain.fields import FieldCatalog
from linecrm.domain.tags import TagCatalog

if TYPE_CHECKING:
    from linecrm.domain.conversations import ChatSettings
    from linecrm.domain.delivery_policy import DeliveryPolicy
    from linecrm.domain.id_links import AccountLinkSettings
    from linecrm.domain.rules import RuleSet
    from linecrm.domain.segments.saved import SavedSegment


@dataclass(frozen=True)
class ChannelConfig:
    channel_id: str
    tags: TagCatalog
    fields: FieldCatalog
    rules: list[dict[str, Any]]  # raw rule documents, parsed by linecrm.domain.rules
    settings: dict[str, Any] = field(default_factory=dict)
    # Saved segments by id (``{"segment": id}`` references resolve against these).
    segments: dict[str, SavedSegment] = field(default_factory=dict)

    @property
    def welcome_messages(self) -> list[dict[str, Any]]:
        raw = self.settings.get("welcome_messages")
        messages: list[dict[str, Any]] = json.loads(raw) if raw else []
        return messages

    @property
    def business_hours(self) -> dict[str, Any] | None:
        raw = self.settings.get("business_hours")
        hours: dict[str, Any] | None = json.loads(raw) if raw else None
        return hours

    @cached_property
    def account_link(self) -> AccountLinkSettings | None:
        """ID linking's shop login page and message (None: not set up)."""
        from linecrm.domain.id_links import AccountLinkSettings

        raw = self.settings.get("account_link")
        return AccountLinkSettings.model_validate(json.loads(raw)) if raw else None

    @cached_property
    def chat_settings(self) -> ChatSettings:
        """The 1:1 chat log's retention (none configured: 180 days)."""
        from linecrm.domain.conversations import CHAT_SETTING, ChatSettings

        raw = self.settings.get(CHAT_SETTING)
        return ChatSettings.model_validate(json.loads(raw)) if raw else ChatSettings()

    @cached_property
    def delivery_policy(self) -> DeliveryPolicy:
        """Caps, quiet hours and time zone for marketing messages (none configured: none)."""
        from linecrm.domain.delivery_policy import DeliveryPolicy

        raw = self.settings.get("delivery_policy")
        return DeliveryPolicy.model_validate(json.loads(raw)) if raw else DeliveryPolicy()

    @cached_property
    def rule_set(self) -> RuleSet:
        """The auto-response rules with the business hours they refer to.

        The admin API validates a rule set as a whole before storing it, so this only
        fails if stored data was edited by hand; ``InvalidStoredRules`` says so.
        """
        from pydantic import ValidationError

        from linecrm.domain.rules import RuleSet

        try:
            return RuleSet.model_validate(
                {"rules": self.rules, "business_hours": self.business_hours}
            )
        except ValidationError as error:
            raise InvalidStoredRules(self.channel_id, str(error)) from error


class InvalidStoredRules(ValueError):
    def __init__(self, channel_id: str, detail: str) -> None:
        super().__init__(
            f"stored auto-response rules of channel {channel_id} are invalid: {detail}"
        )
        self.channel_id = channel_id
