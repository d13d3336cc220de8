"""Channel settings: business hours (rules can answer differently outside them), and the
purchase attribution window of the reports (docs/tracking.md)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from linecrm.admin.params import ChannelId, Settings, new_router, no_content, responses
from linecrm.domain.attribution import (
    ATTRIBUTION_SETTING,
    AttributionSettings,
    stored_attribution,
)
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


@router.get(
    "/attribution",
    tags=["settings"],
    responses=responses(200, "The channel's attribution settings (the defaults when unset)"),
)
def get_attribution(channel_id: ChannelId, service: Settings) -> AttributionSettings:
    """How many days after a click a purchase is attributed to the clicked delivery
    (default 7)."""
    return stored_attribution(service.config(channel_id).settings)


@router.put("/attribution", tags=["settings"], responses=responses(200, "The settings, as stored"))
def put_attribution(
    channel_id: ChannelId, request: AttributionSettings, service: Settings
) -> AttributionSettings:
    """Replace the attribution settings (purchases from now on; counted ones stay)."""
    service.set_setting(channel_id, ATTRIBUTION_SETTING, request.model_dump())
    return request


@router.delete(
    "/attribution",
    tags=["settings"],
    responses=responses(204, "Removed: the defaults apply", body=False),
)
def delete_attribution(channel_id: ChannelId, service: Settings) -> Response[None]:
    """Go back to the default window (7 days)."""
    service.set_setting(channel_id, ATTRIBUTION_SETTING, None)
    return no_content()
