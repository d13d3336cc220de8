"""A friend's behaviour events (from the events API): the timeline, newest first."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Depends
from aws_lambda_powertools.event_handler.openapi.params import Query
from pydantic import BaseModel, Field

from linecrm.admin.params import ChannelId, UserId, new_router, responses
from linecrm.repositories.events import MAX_PAGE_SIZE, EventStore, StoredEvent

router = new_router()


def event_store() -> EventStore:
    """Replaced by ``api.build_app`` (``dependency_overrides``) with the real store."""
    raise NotImplementedError("build_app(..., event_store=...) wires the event store")


Events = Annotated[EventStore, Depends(event_store)]


class TimelineEvent(BaseModel):
    name: str
    occurred_at: datetime
    received_at: datetime
    idempotency_key: str
    source: str = Field(description="the events API source that sent it")
    value: float | None = None
    properties: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(cls, event: StoredEvent) -> TimelineEvent:
        return cls(
            name=event.name,
            occurred_at=event.occurred_at,
            received_at=event.received_at,
            idempotency_key=event.idempotency_key,
            source=event.source,
            value=event.value,
            # Through JSON once more: the stored properties are JSON text already.
            properties=json.loads(json.dumps(dict(event.properties))),
        )


class TimelineResponse(BaseModel):
    events: list[TimelineEvent]
    next_cursor: str | None = Field(
        default=None, description="pass as ?cursor= for the next page; null on the last page"
    )


@router.get(
    "/friends/<user_id>/events",
    tags=["friends"],
    responses=responses(200, "The friend's behaviour events, newest first", 404),
)
def friend_events(
    channel_id: ChannelId,
    user_id: UserId,
    store: Events,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    cursor: Annotated[
        str | None, Query(max_length=2048, description="next_cursor of the previous page")
    ] = None,
) -> TimelineResponse:
    """The friend's timeline of behaviour events (docs/events.md), newest first; kept
    for the events retention (400 days by default)."""
    page = store.timeline(channel_id, user_id, limit=limit, cursor=cursor)
    return TimelineResponse(
        events=[TimelineEvent.of(event) for event in page.events], next_cursor=page.next_cursor
    )
