"""Saved segments: named segment documents (docs/segments.md), checked against the
channel's tags and fields when saved, previewed with the evaluator broadcasts use.

They are items of the channel's config partition (``SEGMENT#<id>``), so every reader
of the config (a broadcast being planned, scenario enrolment, rich-menu rules) has them
with no extra call and resolves ``{"segment": "<segment_id>"}`` against them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from linecrm.admin.errors import Conflict, InvalidInput, NotFound
from linecrm.domain.channel_config import ChannelConfig
from linecrm.domain.friends import Friend
from linecrm.domain.segments import (
    MAX_SAVED_SEGMENTS,
    SMALL_SEGMENT_THRESHOLD,
    CompiledSegment,
    SavedSegment,
    SegmentError,
    audience_warnings,
    check_definition,
    compile_segment,
    new_segment_id,
)
from linecrm.repositories.channel_config import ChannelConfigRepository, SegmentMissing
from linecrm.repositories.friends import FriendRepository

SAMPLE_SIZE = 10
TOO_SMALL_WARNING = (
    f"under {SMALL_SEGMENT_THRESHOLD} friends: too small to measure (LINE withholds stats "
    f"under {SMALL_SEGMENT_THRESHOLD})"
)


@dataclass(frozen=True)
class SegmentPreviewResult:
    count: int  # friends that match (blocked ones included, as a broadcast counts them out)
    reachable: int  # of them, active friends: whom a broadcast to the segment targets
    sample: list[Friend]
    warning: str | None
    warnings: tuple[str, ...]
    describe: str


def compile_for(config: ChannelConfig, definition: Mapping[str, Any]) -> CompiledSegment:
    """``definition`` (a document or a ``{"segment": id}`` reference) compiled for the
    channel, as a broadcast compiles it."""
    return compile_segment(
        definition,
        config.tags,
        config.fields,
        time_zone=config.delivery_policy.time_zone,
        saved=config.segments,
    )


class SegmentsService:
    def __init__(
        self,
        config: ChannelConfigRepository,
        friends: FriendRepository,
        clock: Callable[[], datetime],
    ) -> None:
        self._config = config
        self._friends = friends
        self._clock = clock

    def list_segments(self, channel_id: str) -> list[SavedSegment]:
        """Every saved segment, by name (they come with the config: one Query)."""
        segments = self._config.load(channel_id).segments.values()
        return sorted(segments, key=lambda segment: (segment.name.casefold(), segment.segment_id))

    def get_segment(self, channel_id: str, segment_id: str) -> SavedSegment:
        segment = self._config.get_segment(channel_id, segment_id)
        if segment is None:
            raise NotFound(f"no saved segment {segment_id!r}")
        return segment

    def create_segment(
        self,
        channel_id: str,
        name: str,
        definition: dict[str, Any],
        description: str | None = None,
    ) -> SavedSegment:
        config = self._config.load(channel_id)
        if len(config.segments) >= MAX_SAVED_SEGMENTS:
            raise Conflict(f"a channel has at most {MAX_SAVED_SEGMENTS} saved segments")
        self._check(config, definition)
        _check_name_free(config.segments.values(), name)
        now = self._clock()
        segment = _saved(new_segment_id(), name, description, definition, now, now)
        self._config.put_segment(channel_id, segment, new=True)
        return segment

    def update_segment(
        self,
        channel_id: str,
        segment_id: str,
        name: str,
        definition: dict[str, Any],
        description: str | None = None,
    ) -> SavedSegment:
        """Replace name, description and definition; the id (what references name) stays."""
        config = self._config.load(channel_id)
        old = config.segments.get(segment_id)
        if old is None:
            raise NotFound(f"no saved segment {segment_id!r}")
        self._check(config, definition)
        _check_name_free(config.segments.values(), name, except_id=segment_id)
        segment = _saved(segment_id, name, description, definition, old.created_at, self._clock())
        try:
            self._config.put_segment(channel_id, segment, new=False)
        except SegmentMissing as error:  # deleted meanwhile
            raise NotFound(str(error)) from error
        return segment

    def delete_segment(self, channel_id: str, segment_id: str) -> None:
        """Delete it. What still refers to it fails when next compiled, with the reason
        (a broadcast when planned, an enrolment job, a rich-menu rule)."""
        try:
            self._config.delete_segment(channel_id, segment_id)
        except SegmentMissing as error:
            raise NotFound(str(error)) from error

    def preview(
        self,
        channel_id: str,
        *,
        definition: dict[str, Any] | None = None,
        segment_id: str | None = None,
    ) -> SegmentPreviewResult:
        """Count, sample and warnings of a definition or a saved segment, now.

        Reads the channel's whole friend list (one paged Query over the list index, the
        same read a broadcast's plan makes): fine for the admin, not for a hot path.
        """
        config = self._config.load(channel_id)
        if segment_id is not None:
            if segment_id not in config.segments:
                raise NotFound(f"no saved segment {segment_id!r}")
            definition = {"segment": segment_id}
        if definition is None:
            raise InvalidInput("give a definition or a segmentId", field="definition")
        compiled = self._compiled(config, definition, field="definition")
        at = self._clock()
        count = reachable = blocked = login_only = 0
        sample: list[Friend] = []
        for friend in compiled.filter(self._friends.walk(channel_id), at):
            count += 1
            if friend.status == "active":
                reachable += 1
            elif friend.status == "blocked":
                blocked += 1
            else:
                login_only += 1
            if len(sample) < SAMPLE_SIZE:
                sample.append(friend)
        return SegmentPreviewResult(
            count=count,
            reachable=reachable,
            sample=sample,
            warning=TOO_SMALL_WARNING if count < SMALL_SEGMENT_THRESHOLD else None,
            warnings=audience_warnings(count, blocked=blocked, login_only=login_only),
            describe=compiled.describe(),
        )

    # ------------------------------------------------------------------ helpers
    def _check(self, config: ChannelConfig, definition: dict[str, Any]) -> None:
        try:
            check_definition(definition)
        except SegmentError as error:
            raise InvalidInput(str(error), field=_field(error)) from error
        self._compiled(config, definition, field="definition")

    @staticmethod
    def _compiled(
        config: ChannelConfig, definition: dict[str, Any], *, field: str
    ) -> CompiledSegment:
        try:
            return compile_for(config, definition)
        except SegmentError as error:
            raise InvalidInput(str(error), field=_field(error, field)) from error


def _field(error: SegmentError, root: str = "definition") -> str:
    return f"{root}.{error.path}" if error.path else root


def _check_name_free(
    segments: Iterable[SavedSegment], name: str, *, except_id: str | None = None
) -> None:
    wanted = name.strip().casefold()
    for segment in segments:
        if segment.segment_id != except_id and segment.name.casefold() == wanted:
            raise Conflict(
                f"a saved segment named {segment.name!r} already exists ({segment.segment_id})",
                field="name",
            )


def _saved(
    segment_id: str,
    name: str,
    description: str | None,
    definition: dict[str, Any],
    created_at: datetime,
    updated_at: datetime,
) -> SavedSegment:
    from pydantic import ValidationError

    try:
        return SavedSegment(
            segment_id=segment_id,
            name=name,
            description=description,
            definition=definition,
            created_at=created_at,
            updated_at=updated_at,
        )
    except ValidationError as error:
        first = error.errors()[0]
        raise InvalidInput(first["msg"], field=".".join(map(str, first["loc"]))) from error
