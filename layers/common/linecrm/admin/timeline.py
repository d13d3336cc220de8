"""A friend's timeline in the admin API (the console's friend page): chat messages and
postbacks, events, deliveries with their status, tag and field changes, follows and
blocks, the ID link and scenario enrolments, newest first."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field

from linecrm.admin.params import ChannelId, FriendTimeline, UserId, new_router, responses
from linecrm.admin.services.timeline import MAX_LIMIT, TimelinePage

router = new_router()


class TimelineItem(BaseModel):
    at: datetime
    kind: str = Field(
        description="message | postback | event | delivery | tags | fields | follow | block"
        " | link | scenario"
    )
    text: str = Field(description="one line for people")
    details: dict[str, Any]


class TimelineResponse(BaseModel):
    items: list[TimelineItem]
    cursor: str | None = Field(
        description="pass as before= for older entries; null: the beginning (400 days)"
    )

    @classmethod
    def of(cls, page: TimelinePage) -> TimelineResponse:
        return cls(
            items=[
                TimelineItem(at=entry.at, kind=entry.kind, text=entry.text, details=entry.details)
                for entry in page.items
            ],
            cursor=page.cursor,
        )


@router.get(
    "/friends/<user_id>/timeline",
    tags=["friends"],
    responses=responses(200, "The friend's timeline, newest first", 404),
)
def friend_timeline(
    channel_id: ChannelId,
    user_id: UserId,
    service: FriendTimeline,
    before: Annotated[
        str | None, Query(max_length=1000, description="the cursor of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = 50,
) -> TimelineResponse:
    """A friend's timeline, newest first: behaviour events, deliveries to the friend
    with their status, tag and field changes (with who made them: admin, import,
    rule:<id>, route:<id>, scenario, merge), follows and blocks, the ID link,
    scenario enrolments and the chat log (messages in and out, postbacks).

    A page covers at most the 30 days before its cursor, so a page can be short (or
    empty) with a cursor still set: follow it until it is null. Deliveries are read
    from the channel's ledger of those days with a filter (an admin read, not a hot
    path)."""
    return TimelineResponse.of(service.page(channel_id, user_id, before=before, limit=limit))
