"""Rich menus as config: apply a menu set (menus, images, default, assignment rules;
with a dry-run diff) and show it with the sync job's progress. Guide:
docs/rich-menus.md."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Depends
from aws_lambda_powertools.event_handler.openapi.params import Query

from linecrm.admin.params import ChannelId, new_router, responses
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
