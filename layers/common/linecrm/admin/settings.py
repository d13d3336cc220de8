"""Channel settings: business hours (rules can answer differently outside them)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from linecrm.admin.params import ChannelId, Settings, new_router, no_content, responses
from linecrm.domain.business_hours import BusinessHours

router = new_router()


@router.get(
    "/business-hours",
    tags=["settings"],
    responses=responses(200, "The channel's business hours", 404),
)
def get_business_hours(channel_id: ChannelId, service: Settings) -> BusinessHours:
    """The weekly opening hours, time zone and closed dates (404 until set)."""
    return service.business_hours(channel_id)


@router.put(
    "/business-hours", tags=["settings"], responses=responses(200, "The business hours, as stored")
)
def put_business_hours(
    channel_id: ChannelId, request: BusinessHours, service: Settings
) -> BusinessHours:
    """Replace the business hours."""
    service.set_business_hours(channel_id, request)
    return request


@router.delete(
    "/business-hours",
    tags=["settings"],
    responses=responses(204, "Removed: always open", body=False),
)
def delete_business_hours(channel_id: ChannelId, service: Settings) -> Response[None]:
    """Remove the business hours (rules then treat the shop as always open)."""
    service.set_business_hours(channel_id, None)
    return no_content()
