"""Custom fields: typed per-friend attributes (text, number, date, choice)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from linecrm.admin.models import FieldCreateRequest, FieldListResponse, FieldUpdateRequest
from linecrm.admin.params import (
    ChannelId,
    FieldKey,
    Fields,
    created,
    new_router,
    no_content,
    responses,
)
from linecrm.domain.fields import FieldDefinition

router = new_router()


@router.get("/fields", tags=["fields"], responses=responses(200, "Field definitions, by key"))
def list_fields(channel_id: ChannelId, service: Fields) -> FieldListResponse:
    """Every custom field of the channel."""
    return FieldListResponse(fields=service.catalog(channel_id).definitions)


@router.post("/fields", tags=["fields"], responses=responses(201, "The new field", 409))
def create_field(
    channel_id: ChannelId, request: FieldCreateRequest, service: Fields
) -> Response[FieldDefinition]:
    """Define a field (409 when the key exists: PUT changes a field)."""
    return created(service.create_field(channel_id, request))


@router.put("/fields/<key>", tags=["fields"], responses=responses(200, "The field", 409))
def put_field(
    channel_id: ChannelId, key: FieldKey, request: FieldUpdateRequest, service: Fields
) -> FieldDefinition:
    """Create or redefine a field; values friends already hold are kept."""
    return service.put_field(channel_id, key, request)


@router.delete(
    "/fields/<key>", tags=["fields"], responses=responses(204, "Deleted", 404, body=False)
)
def delete_field(channel_id: ChannelId, key: FieldKey, service: Fields) -> Response[None]:
    """Delete a field definition."""
    service.delete_field(channel_id, key)
    return no_content()
