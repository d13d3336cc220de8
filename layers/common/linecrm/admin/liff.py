"""The channel's LIFF setup in the admin API: the LIFF app id its pages initialise with
and the friend fields the member card shows (docs/liff.md)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import Response

from linecrm.admin.errors import NotFound
from linecrm.admin.params import ChannelId, Settings, new_router, no_content, responses
from linecrm.liff.settings import LIFF_SETTING, LiffSettings, liff_settings

router = new_router()


@router.get("/liff", tags=["liff"], responses=responses(200, "The channel's LIFF setup", 404))
def get_liff(channel_id: ChannelId, service: Settings) -> LiffSettings:
    """The LIFF app id and the member card's fields (404 until set: the pages answer 404)."""
    stored = liff_settings(service.config(channel_id).settings)
    if stored is None:
        raise NotFound("LIFF is not set up for this channel (PUT it)")
    return stored


@router.put("/liff", tags=["liff"], responses=responses(200, "The setup, as stored"))
def put_liff(channel_id: ChannelId, request: LiffSettings, service: Settings) -> LiffSettings:
    """Set the LIFF app id (its endpoint URL is ``<api>/liff/{channel_id}``) and which
    custom fields hold the member's rank and points."""
    service.set_setting(channel_id, LIFF_SETTING, request.model_dump())
    return request


@router.delete(
    "/liff", tags=["liff"], responses=responses(204, "Removed: the pages answer 404", body=False)
)
def delete_liff(channel_id: ChannelId, service: Settings) -> Response[None]:
    """Remove the LIFF setup (the channel's LIFF pages then answer 404)."""
    service.set_setting(channel_id, LIFF_SETTING, None)
    return no_content()
