"""Previewing a segment: how many friends it matches, a sample, and the warnings
(tiny segments, LINE's narrowcast minimum, blocked friends)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from linecrm.domain.friends import Friend
from linecrm.domain.segments.compiler import CompiledSegment

SMALL_SEGMENT_THRESHOLD = 20  # LINE withholds statistics for fewer than 20 users
NARROWCAST_MIN_AUDIENCE = 50  # LINE's narrowcast fails with an audience under 50 recipients


@dataclass(frozen=True)
class SegmentPreview:
    count: int
    sample_user_ids: tuple[str, ...]
    warnings: tuple[str, ...]


def preview(
    friends: Iterable[Friend], segment: CompiledSegment, at: datetime, sample_size: int = 10
) -> SegmentPreview:
    """Count the friends in ``segment`` at ``at``, with the first few user ids and warnings.

    The sample is the first ``sample_size`` matches in the order ``friends`` come in
    (user-id order from the friends index), so the same data gives the same preview.
    """
    count = 0
    blocked = 0
    sample: list[str] = []
    for friend in segment.filter(friends, at):
        count += 1
        if friend.status == "blocked":
            blocked += 1
        if len(sample) < sample_size:
            sample.append(friend.user_id)
    return SegmentPreview(count, tuple(sample), _warnings(count, blocked))


def _warnings(count: int, blocked: int) -> tuple[str, ...]:
    warnings: list[str] = []
    if count == 0:
        warnings.append("no friend matches this segment")
    elif count < SMALL_SEGMENT_THRESHOLD:
        warnings.append(
            f"only {count} friends match: segments under {SMALL_SEGMENT_THRESHOLD} friends "
            "get no statistics from LINE (it withholds numbers for fewer than "
            f"{SMALL_SEGMENT_THRESHOLD} users), and tiny segments risk identifying individuals"
        )
    if 0 < count < NARROWCAST_MIN_AUDIENCE:
        warnings.append(
            f"{count} friends is under {NARROWCAST_MIN_AUDIENCE}: LINE's narrowcast refuses "
            f"audiences of fewer than {NARROWCAST_MIN_AUDIENCE} recipients, so send this "
            "segment by multicast (linecrm's default), not as a LINE audience"
        )
    if blocked:
        warnings.append(
            f"{blocked} of the {count} friends have blocked the account and will not receive "
            "messages (add `status: active` to leave them out)"
        )
    return tuple(warnings)
