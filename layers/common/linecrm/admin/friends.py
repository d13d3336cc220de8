"""Friends: list and filter, show, tag and set fields (one or many), export, delete,
and chat mode (a staff member takes the conversation; automation pauses)."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from linecrm.admin.models import (
    BulkChangeRequest,
    BulkChangeResponse,
    ChatModeRequest,
    FriendChangeRequest,
    FriendExport,
    FriendListResponse,
    FriendResponse,
)
from linecrm.admin.params import ChannelId, Friends, UserId, new_router, no_content, responses
from linecrm.admin.staff import staff_display
from linecrm.domain.segments import SEGMENT_ID_PATTERN
from linecrm.repositories.friends import MAX_PAGE_SIZE

router = new_router()


@router.get("/friends", tags=["friends"], responses=responses(200, "A page of friends, by user id"))
def list_friends(
    channel_id: ChannelId,
    service: Friends,
    tag: Annotated[
        str | None, Query(max_length=100, description="only friends with this tag (id or name)")
    ] = None,
    status: Annotated[Literal["active", "blocked", "login_only"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=2048, description="next_cursor of the previous page")
    ] = None,
    field: Annotated[
        str | None,
        Query(
            max_length=300,
            pattern=r"^[a-z][a-z0-9_]{0,63}=",
            description="only friends whose custom field equals a value: key=value (rank=gold)",
        ),
    ] = None,
    route: Annotated[
        str | None,
        Query(max_length=64, description="only friends an inflow route brought first (its id)"),
    ] = None,
    linked: Annotated[
        bool | None, Query(description="only friends with (true) or without (false) an ID link")
    ] = None,
    segment: Annotated[
        str | None,
        Query(pattern=SEGMENT_ID_PATTERN, description="only friends in a saved segment (seg_…)"),
    ] = None,
) -> FriendListResponse:
    """List friends, filtered, a page at a time (user-id order; ``next_cursor`` continues).

    Costs: ``tag`` reads the tag's member list (about as many items as the page), and
    ``status`` filters inside the Query. ``field``, ``route``, ``linked`` and ``segment``
    are tested in Lambda over the friend list as it is read, a scan with a filter: a
    page reads friends until it is full, the whole channel for a rare match. Fine for
    the admin's list; not for a hot path. Combined filters all apply (and); they use the
    segment conditions (``field`` is ``op: eq``, ``route`` is ``inflow_route``, the
    friend's first route), so the list shows whom a segment would match."""
    return service.list_friends(
        channel_id,
        tag=tag,
        status=status,
        limit=limit,
        cursor=cursor,
        field=field,
        route=route,
        linked=linked,
        segment=segment,
    )


@router.post(
    "/friends/bulk",
    tags=["friends"],
    responses=responses(200, "What happened to each friend"),
)
def change_friends(
    channel_id: ChannelId, request: BulkChangeRequest, service: Friends
) -> BulkChangeResponse:
    """The same tag/field change for up to 500 friends; unknown friends are reported."""
    return service.change_friends(channel_id, request)


@router.get("/friends/<user_id>", tags=["friends"], responses=responses(200, "The friend", 404))
def get_friend(channel_id: ChannelId, user_id: UserId, service: Friends) -> FriendResponse:
    """One friend with tags (by name), fields and chat mode."""
    return service.get_friend(channel_id, user_id)


@router.patch(
    "/friends/<user_id>", tags=["friends"], responses=responses(200, "The changed friend", 404)
)
def change_friend(
    channel_id: ChannelId, user_id: UserId, request: FriendChangeRequest, service: Friends
) -> FriendResponse:
    """Add/remove tags (ids or names) and set/clear field values, in one write."""
    return service.change_friend(channel_id, user_id, request)


@router.get(
    "/friends/<user_id>/export",
    tags=["friends"],
    responses=responses(200, "Every item stored about the friend", 404),
)
def export_friend(channel_id: ChannelId, user_id: UserId, service: Friends) -> FriendExport:
    """Everything stored about one friend, as JSON."""
    return service.export_friend(channel_id, user_id)


@router.delete(
    "/friends/<user_id>",
    tags=["friends"],
    responses=responses(204, "Deleted, every item of the friend", 404, body=False),
)
def delete_friend(channel_id: ChannelId, user_id: UserId, service: Friends) -> Response[None]:
    """Delete everything stored about one friend (right to erasure)."""
    service.delete_friend(channel_id, user_id)
    return no_content()


@router.put(
    "/friends/<user_id>/chat-mode",
    tags=["chat"],
    responses=responses(200, "The friend, now in chat mode", 404),
)
def take_chat(
    channel_id: ChannelId, user_id: UserId, request: ChatModeRequest, service: Friends
) -> FriendResponse:
    """A staff member takes the conversation over: automation pauses for this friend.
    Signed in to the console, the staff member is shown as themselves (``staff`` is
    ignored); a machine caller names the staff member, or is shown as itself."""
    return service.take_chat(channel_id, user_id, staff_display(request.staff))


@router.delete(
    "/friends/<user_id>/chat-mode",
    tags=["chat"],
    responses=responses(200, "The friend, automation resumed", 404),
)
def release_chat(channel_id: ChannelId, user_id: UserId, service: Friends) -> FriendResponse:
    """Hand the conversation back to automation."""
    return service.release_chat(channel_id, user_id)
