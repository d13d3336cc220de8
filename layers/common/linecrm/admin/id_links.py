"""ID linking in the admin API: the channel's shop login page (the ``account_link``
setting, needed by ``link_account``) and a friend's link (read, remove)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from aws_lambda_powertools.event_handler import Depends, Response
from pydantic import BaseModel, Field

from linecrm.admin.errors import NotFound
from linecrm.admin.params import ChannelId, Settings, UserId, new_router, no_content, responses
from linecrm.domain.id_links import AccountLinkSettings
from linecrm.id_links.service import AccountLinks

router = new_router()

ACCOUNT_LINK_SETTING = "account_link"


def account_links() -> AccountLinks:
    """Replaced by ``api.build_app`` (``dependency_overrides``) with the real service."""
    raise NotImplementedError("build_app(..., account_links=...) wires ID linking")


Links = Annotated[AccountLinks, Depends(account_links)]


class IdLinkResponse(BaseModel):
    user_id: str
    member_id: str = Field(description="the shop's member id")
    linked_at: datetime = Field(description="when linecrm stored the link")
    consented_at: datetime = Field(
        description="when the friend agreed in LINE's account-link dialog (the event's time)"
    )
    consent: str = Field(description="how the friend agreed: line_account_link")


@router.get(
    "/account-link",
    tags=["id linking"],
    responses=responses(200, "The channel's ID-linking setting", 404),
)
def get_account_link(channel_id: ChannelId, service: Settings) -> AccountLinkSettings:
    """The shop login page linecrm sends friends to, with the message and its button
    (404 until set: ``link_account`` then skips with a warning on the friend)."""
    stored = service.config(channel_id).account_link
    if stored is None:
        raise NotFound("no shop login URL is set for ID linking (PUT it)")
    return stored


@router.put(
    "/account-link",
    tags=["id linking"],
    responses=responses(200, "The setting, as stored"),
)
def put_account_link(
    channel_id: ChannelId, request: AccountLinkSettings, service: Settings
) -> AccountLinkSettings:
    """Set the shop login page (``?linkToken=…`` is added), message text and button label."""
    service.set_setting(channel_id, ACCOUNT_LINK_SETTING, request.model_dump())
    return request


@router.delete(
    "/account-link",
    tags=["id linking"],
    responses=responses(204, "Removed: link_account skips", body=False),
)
def delete_account_link(channel_id: ChannelId, service: Settings) -> Response[None]:
    """Remove the setting (``link_account`` then skips with a warning on the friend)."""
    service.set_setting(channel_id, ACCOUNT_LINK_SETTING, None)
    return no_content()


@router.get(
    "/friends/<user_id>/link",
    tags=["id linking"],
    responses=responses(200, "The friend's ID link", 404),
)
def get_friend_link(channel_id: ChannelId, user_id: UserId, links: Links) -> IdLinkResponse:
    """The shop member id the friend is linked to, since when, and their consent."""
    link = links.link_of_user(channel_id, user_id)
    if link is None:
        raise NotFound(f"friend {user_id} is not ID-linked")
    return IdLinkResponse(
        user_id=link.user_id,
        member_id=link.member_id,
        linked_at=link.linked_at,
        consented_at=link.consented_at,
        consent=link.consent,
    )


@router.delete(
    "/friends/<user_id>/link",
    tags=["id linking"],
    responses=responses(204, "Unlinked (Unlinked is signalled)", 404, body=False),
)
def delete_friend_link(channel_id: ChannelId, user_id: UserId, links: Links) -> Response[None]:
    """End the friend's ID link (scenarios with an ``unlinked`` exit end for them)."""
    if links.unlink_user(channel_id, user_id, by="admin") is None:
        raise NotFound(f"friend {user_id} is not ID-linked")
    return no_content()
