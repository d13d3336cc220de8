"""Saved segments: a segment document stored under a name, used by reference.

Where a segment document is taken (broadcasts, scenario enrolment, rich-menu rules),
``{"segment": "<segment_id>"}`` names a saved one instead. The reference is kept as
written and resolved each time the segment is compiled (a broadcast: when it is
planned), so a saved segment edited before then is what is sent; one deleted meanwhile
fails with the reason (``SegmentError`` at ``segment``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from linecrm.domain.segments.document import Segment, SegmentError, parse_segment

SEGMENT_ID_PATTERN = r"^seg_[A-Za-z0-9_-]{1,60}$"
REFERENCE_KEY = "segment"
MAX_SAVED_SEGMENTS = 200  # per channel: every config load reads them (one Query)


def new_segment_id() -> str:
    return f"seg_{uuid.uuid4().hex[:12]}"


class SavedSegment(BaseModel):
    """A named segment definition of one channel."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    segment_id: str = Field(pattern=SEGMENT_ID_PATTERN)
    name: str = Field(min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=500)
    definition: dict[str, Any] = Field(
        description="the segment document ({match: …}, docs/segments.md)"
    )
    created_at: datetime
    updated_at: datetime

    @field_validator("name")
    @classmethod
    def _clean_name(cls, name: str) -> str:
        name = name.strip()
        if not name:
            raise ValueError("name is blank")
        return name


def as_document(value: object) -> object:
    """A saved segment's id given where a document goes (``"seg_…"``) as the reference
    ``{"segment": "seg_…"}``; anything else as it is (for a ``mode="before"`` validator)."""
    if isinstance(value, str) and value.startswith("seg_"):
        return {REFERENCE_KEY: value}
    return value


def reference_of(document: object) -> str | None:
    """The saved segment id ``document`` refers to (``{"segment": id}``), else None."""
    if (
        isinstance(document, Mapping)
        and set(document) == {REFERENCE_KEY}
        and isinstance(document[REFERENCE_KEY], str)
    ):
        return str(document[REFERENCE_KEY])
    return None


def resolve_reference(
    document: Segment | Mapping[str, Any], saved: Mapping[str, SavedSegment] | None
) -> Segment | Mapping[str, Any]:
    """The document itself, or the definition of the saved segment it refers to.

    ``SegmentError`` (path ``segment``) when the saved segment does not exist (deleted,
    or never saved) — the reason names it. A saved definition is never itself a
    reference (saving refuses one), so resolution is one step.
    """
    segment_id = reference_of(document)
    if segment_id is None:
        return document
    found = (saved or {}).get(segment_id)
    if found is None:
        raise SegmentError(
            REFERENCE_KEY,
            f"saved segment {segment_id!r} does not exist (deleted, or never saved): "
            "save it again or choose another segment",
        )
    return found.definition


def check_definition(definition: Mapping[str, Any]) -> Segment:
    """A definition fit to save: a segment document, not a reference to another."""
    if reference_of(definition) is not None:
        raise SegmentError(
            REFERENCE_KEY, "a saved segment holds a definition ({match: …}), not a reference"
        )
    return parse_segment(definition)
