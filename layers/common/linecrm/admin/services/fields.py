"""Custom field definitions: unique keys, at most MAX_FIELDS_PER_CHANNEL of them."""

from __future__ import annotations

from linecrm.admin.errors import Conflict, NotFound
from linecrm.admin.models import FieldCreateRequest, FieldUpdateRequest
from linecrm.admin.services.validation import validated
from linecrm.domain.fields import (
    MAX_FIELDS_PER_CHANNEL,
    FieldCatalog,
    FieldDefinition,
    UnknownField,
)
from linecrm.repositories.channel_config import ChannelConfigRepository


class FieldsService:
    def __init__(self, config: ChannelConfigRepository) -> None:
        self._config = config

    def catalog(self, channel_id: str) -> FieldCatalog:
        return self._config.load(channel_id).fields

    def create_field(self, channel_id: str, request: FieldCreateRequest) -> FieldDefinition:
        fields = self.catalog(channel_id)
        if any(existing.key == request.key for existing in fields.definitions):
            raise Conflict(f"field {request.key} already exists; PUT it to change it", field="key")
        if len(fields.definitions) >= MAX_FIELDS_PER_CHANNEL:
            raise Conflict(f"a channel has at most {MAX_FIELDS_PER_CHANNEL} fields")
        definition = validated(FieldDefinition, model_field="choices", **request.model_dump())
        self._config.put_field(channel_id, definition)
        return definition

    def put_field(self, channel_id: str, key: str, request: FieldUpdateRequest) -> FieldDefinition:
        """Create or redefine a field. Values friends already hold are kept as they are."""
        fields = self.catalog(channel_id)
        exists = any(existing.key == key for existing in fields.definitions)
        if not exists and len(fields.definitions) >= MAX_FIELDS_PER_CHANNEL:
            raise Conflict(f"a channel has at most {MAX_FIELDS_PER_CHANNEL} fields")
        definition = validated(
            FieldDefinition, model_field="choices", key=key, **request.model_dump()
        )
        self._config.put_field(channel_id, definition)
        return definition

    def delete_field(self, channel_id: str, key: str) -> None:
        try:
            self.catalog(channel_id).get(key)
        except UnknownField as error:
            raise NotFound(f"no field {key}") from error
        self._config.delete_field(channel_id, key)
