"""Channel settings: business hours, within the size one setting item may take."""

from __future__ import annotations

from linecrm.admin.errors import InvalidInput, NotFound
from linecrm.admin.services.validation import json_size
from linecrm.domain.business_hours import BusinessHours
from linecrm.domain.channel_config import ChannelConfig
from linecrm.repositories.channel_config import ChannelConfigRepository

# Keeps a stored setting well within DynamoDB's item limit (400 KB).
MAX_SETTING_BYTES = 64 * 1024


class SettingsService:
    def __init__(self, config: ChannelConfigRepository) -> None:
        self._config = config

    def config(self, channel_id: str) -> ChannelConfig:
        return self._config.load(channel_id)

    def set_setting(self, channel_id: str, name: str, value: object) -> None:
        """Store one JSON setting (None removes it)."""
        self._config.set_setting(channel_id, name, value)

    def business_hours(self, channel_id: str) -> BusinessHours:
        stored = self._config.load(channel_id).business_hours
        if stored is None:
            raise NotFound("no business hours are set for this channel (PUT them)")
        return BusinessHours.model_validate(stored)

    def set_business_hours(self, channel_id: str, hours: BusinessHours | None) -> None:
        """Store the hours (None removes them)."""
        if hours is not None:
            check_hours_size(hours)
        value = None if hours is None else hours.model_dump(mode="json")
        self._config.set_setting(channel_id, "business_hours", value)


def stored_hours(config: ChannelConfig) -> BusinessHours | None:
    stored = config.business_hours
    return None if stored is None else BusinessHours.model_validate(stored)


def check_hours_size(hours: BusinessHours) -> None:
    if json_size(hours.model_dump(mode="json")) > MAX_SETTING_BYTES:
        raise InvalidInput(
            f"business hours take at most {MAX_SETTING_BYTES // 1024} KB as JSON "
            "(too many closed dates?)",
            field="closed_dates",
        )
