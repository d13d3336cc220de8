"""Rich menus as config: apply a menu set (menus, images, default, assignment rules;
with a dry-run diff) and show it with the sync job's progress. Guide:
docs/rich-menus.md."""

from __future__ import annotations

import inspect
from http import HTTPStatus
from typing import Annotated

from aws_lambda_powertools.event_handler import Depends, Response
from aws_lambda_powertools.event_handler.openapi.params import Path, Query

from linecrm.admin.params import ChannelId, new_router, responses
from linecrm.richmenus.model import MENU_ID_PATTERN
from linecrm.richmenus.service import ApplyRequest, RichMenuService, RichMenuState

router = new_router()


def rich_menu_service() -> RichMenuService:
    """Replaced by ``api.build_app`` (``dependency_overrides``) with the real service."""
    raise NotImplementedError("build_app wires the rich menu service")


RichMenus = Annotated[RichMenuService, Depends(rich_menu_service)]


@router.put(
    "/richmenus",
    tags=["rich menus"],
    responses=responses(200, "What changed (or, with dry_run, would change)"),
)
def put_rich_menus(
    channel_id: ChannelId,
    request: ApplyRequest,
    rich_menus: RichMenus,
    dry_run: Annotated[bool, Query(description="validate and diff only; store nothing")] = False,
) -> RichMenuState:
    """Apply the channel's menu set. An unchanged set stores nothing and calls LINE not
    at all; otherwise a sync job (job queue) creates the new or changed menus on LINE,
    points their aliases, sets the default, relinks the friends the rules move (bulk
    calls, 500 friends each) and deletes the menus replaced. Poll `GET …/richmenus`
    for its progress. A 422 lists every problem with its field."""
    return rich_menus.apply(channel_id, request, dry_run=dry_run)


@router.get(
    "/richmenus",
    tags=["rich menus"],
    responses=responses(200, "The menu set, LINE's ids and the sync's progress", 404),
)
def get_rich_menus(channel_id: ChannelId, rich_menus: RichMenus) -> RichMenuState:
    """The applied menu set: each menu's LINE id once synced, the sync job's status
    (syncing, ready, failed with the reason), phase and counts."""
    return rich_menus.show(channel_id)


MenuIdPath = Annotated[str, Path(pattern=MENU_ID_PATTERN, description="the menu's id in the set")]

_IMAGE_RESPONSES = responses(200, "The menu's image (PNG or JPEG)", 404)
_IMAGE_RESPONSES[200] = {
    "description": "The menu's image, as LINE got it",
    "content": {
        kind: {"schema": {"type": "string", "format": "binary"}}
        for kind in ("image/png", "image/jpeg")
    },
}


def get_rich_menu_image(
    channel_id: ChannelId, menu_id: MenuIdPath, rich_menus: RichMenus
) -> Response[bytes]:
    """The image applied with a menu (uploaded, or drawn from its labels), at the menu's
    size: what the console draws the tap areas over. 404 for a menu not in the applied
    set, or an uploaded image the uploads bucket no longer keeps (a drawn one is drawn
    again)."""
    image = rich_menus.image(channel_id, menu_id)
    return Response(
        status_code=HTTPStatus.OK,
        content_type=image.content_type,
        body=image.data,  # bytes: API Gateway gets it base64-encoded (isBase64Encoded)
        headers={"Cache-Control": "private, no-cache"},
    )


# No return annotation for Powertools (as the routes' QR codes): with one it would
# JSON-encode the body; without, the bytes go to API Gateway base64-encoded.
get_rich_menu_image.__signature__ = inspect.signature(  # type: ignore[attr-defined]
    get_rich_menu_image
).replace(return_annotation=inspect.Signature.empty)
router.get("/richmenus/<menu_id>/image", tags=["rich menus"], responses=_IMAGE_RESPONSES)(
    get_rich_menu_image
)
