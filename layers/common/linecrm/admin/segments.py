"""Saved segments in the admin API: list, save, show, change, delete, and preview
(count, a sample of friends, the small-audience warning). A broadcast, a scenario
enrolment or a rich-menu rule uses one by reference, ``{"segment": "<segment_id>"}``
where it takes a segment document. Guide: docs/segments.md#saved-segments."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path
from pydantic import BaseModel, ConfigDict, Field, model_validator

from linecrm.admin.params import (
    ChannelId,
    SavedSegments,
    created,
    new_router,
    no_content,
    responses,
)
from linecrm.admin.services.segments import SegmentPreviewResult
from linecrm.domain.segments import SEGMENT_ID_PATTERN, SavedSegment

router = new_router()

SegmentIdPath = Annotated[
    str, Path(pattern=SEGMENT_ID_PATTERN, description="saved segment id (seg_…)")
]
_DEFINITION = (
    "a segment document ({match: …} with all / any / not over the condition kinds, "
    "docs/segments.md)"
)


class SegmentRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="unique per channel")
    description: str | None = Field(default=None, max_length=500)
    definition: dict[str, Any] = Field(description=_DEFINITION)


class SegmentResponse(BaseModel):
    model_config = ConfigDict(frozen=True)

    segmentId: str = Field(description='what references name: {"segment": "<segmentId>"}')
    name: str
    description: str | None
    definition: dict[str, Any]
    createdAt: datetime
    updatedAt: datetime

    @classmethod
    def of(cls, segment: SavedSegment) -> SegmentResponse:
        return cls(
            segmentId=segment.segment_id,
            name=segment.name,
            description=segment.description,
            definition=segment.definition,
            createdAt=segment.created_at,
            updatedAt=segment.updated_at,
        )


class SegmentListResponse(BaseModel):
    items: list[SegmentResponse]


class PreviewRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    definition: dict[str, Any] | None = Field(default=None, description=_DEFINITION)
    segmentId: str | None = Field(
        default=None, pattern=SEGMENT_ID_PATTERN, description="a saved segment, instead"
    )

    @model_validator(mode="after")
    def _one_of(self) -> PreviewRequest:
        if (self.definition is None) == (self.segmentId is None):
            raise ValueError("give exactly one of definition, segmentId")
        return self


class SampleFriend(BaseModel):
    userId: str
    displayName: str | None


class PreviewResponse(BaseModel):
    count: int = Field(description="friends that match now (blocked ones included)")
    reachable: int = Field(
        description="of them, active friends: the recipients a broadcast to it targets "
        "(before frequency caps and quiet hours)"
    )
    sample: list[SampleFriend] = Field(description="up to 10 matching friends, by user id")
    warning: str | None = Field(
        description="set when count < 20: too small to measure (LINE withholds stats under 20)"
    )
    warnings: list[str] = Field(description="every audience warning (size, blocked friends)")
    describe: str = Field(description="the segment in one line, tag names and field keys")

    @classmethod
    def of(cls, result: SegmentPreviewResult) -> PreviewResponse:
        return cls(
            count=result.count,
            reachable=result.reachable,
            sample=[
                SampleFriend(userId=friend.user_id, displayName=friend.display_name)
                for friend in result.sample
            ],
            warning=result.warning,
            warnings=list(result.warnings),
            describe=result.describe,
        )


@router.get("/segments", tags=["segments"], responses=responses(200, "Saved segments, by name"))
def list_segments(channel_id: ChannelId, service: SavedSegments) -> SegmentListResponse:
    """Every saved segment of the channel, by name."""
    return SegmentListResponse(
        items=[SegmentResponse.of(segment) for segment in service.list_segments(channel_id)]
    )


@router.post("/segments", tags=["segments"], responses=responses(201, "The saved segment", 409))
def create_segment(
    channel_id: ChannelId, request: SegmentRequest, service: SavedSegments
) -> Response[SegmentResponse]:
    """Save a segment under a name (checked against the channel's tags and fields: 422
    names the bad node; 409 when the name is taken)."""
    segment = service.create_segment(
        channel_id, request.name, request.definition, request.description
    )
    return created(SegmentResponse.of(segment))


@router.post(
    "/segments/preview",
    tags=["segments"],
    responses=responses(200, "Count, sample and warnings", 404),
)
def preview_segment(
    channel_id: ChannelId, request: PreviewRequest, service: SavedSegments
) -> PreviewResponse:
    """Preview a definition or a saved segment: how many friends match now, up to 10 of
    them, and a warning under 20 (too small to measure: LINE withholds stats under 20).
    The same evaluator a broadcast uses, so ``reachable`` is its recipient count before
    caps; it reads the whole friend list (an admin read, not a hot path)."""
    return PreviewResponse.of(
        service.preview(channel_id, definition=request.definition, segment_id=request.segmentId)
    )


@router.get(
    "/segments/<segment_id>", tags=["segments"], responses=responses(200, "The segment", 404)
)
def get_segment(
    channel_id: ChannelId, segment_id: SegmentIdPath, service: SavedSegments
) -> SegmentResponse:
    """One saved segment."""
    return SegmentResponse.of(service.get_segment(channel_id, segment_id))


@router.put(
    "/segments/<segment_id>",
    tags=["segments"],
    responses=responses(200, "The changed segment", 404, 409),
)
def update_segment(
    channel_id: ChannelId,
    segment_id: SegmentIdPath,
    request: SegmentRequest,
    service: SavedSegments,
) -> SegmentResponse:
    """Replace a saved segment's name, description and definition; what refers to it
    uses the new definition from its next plan on."""
    segment = service.update_segment(
        channel_id, segment_id, request.name, request.definition, request.description
    )
    return SegmentResponse.of(segment)


@router.delete(
    "/segments/<segment_id>",
    tags=["segments"],
    responses=responses(204, "Deleted", 404, body=False),
)
def delete_segment(
    channel_id: ChannelId, segment_id: SegmentIdPath, service: SavedSegments
) -> Response[None]:
    """Delete a saved segment. A broadcast, enrolment or rich-menu rule still naming it
    fails when next planned, with the reason (and new ones naming it are refused, 422)."""
    service.delete_segment(channel_id, segment_id)
    return no_content()
