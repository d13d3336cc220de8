"""Previewing a segment: how many friends it matches, a sample, and the warnings
(tiny segments, LINE's narrowcast minimum, blocked friends)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

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
    login_only = 0
    sample: list[str] = []
    for friend in segment.filter(friends, at):
        count += 1
        if friend.status == "blocked":
            blocked += 1
        elif friend.status == "login_only":
            login_only += 1
        if len(sample) < sample_size:
            sample.append(friend.user_id)
    warnings = audience_warnings(count, blocked=blocked, login_only=login_only)
    return SegmentPreview(count, tuple(sample), warnings)


def audience_warnings(
    count: int,
    *,
    blocked: int = 0,
    login_only: int = 0,
    subject: Literal["segment", "broadcast"] = "segment",
    segmented: bool = True,
) -> tuple[str, ...]:
    """The warnings about the size of an audience of ``count`` friends, ``blocked`` of
    them blocked: none at all, too few for LINE's statistics, too few for a narrowcast.

    The one source of these warnings, for a segment preview (``subject="segment"``: the
    friends that match) and a broadcast preview (``"broadcast"``: its recipients, blocked
    friends already left out). A broadcast to the whole channel (``segmented=False``)
    is warned only when it reaches no one.
    """
    warnings: list[str] = []
    counted = f"{count} friends match" if subject == "segment" else f"{count} recipients"
    if count == 0:
        warnings.append(
            "no friend matches this segment"
            if subject == "segment"
            else "no friend would receive this broadcast"
        )
    elif segmented and count < SMALL_SEGMENT_THRESHOLD:
        warnings.append(
            f"only {counted}: segments under {SMALL_SEGMENT_THRESHOLD} friends "
            "get no statistics from LINE (it withholds numbers for fewer than "
            f"{SMALL_SEGMENT_THRESHOLD} users), and tiny segments risk identifying individuals"
        )
    if segmented and 0 < count < NARROWCAST_MIN_AUDIENCE:
        warnings.append(
            f"{counted}, under {NARROWCAST_MIN_AUDIENCE}: fine for multicast (how linecrm "
            "sends to a segment), too few for a LINE narrowcast audience (LINE refuses "
            f"audiences of fewer than {NARROWCAST_MIN_AUDIENCE} recipients)"
        )
    if blocked:
        warnings.append(
            f"{blocked} of the {count} friends have blocked the account and will not receive "
            "messages (add `status: active` to leave them out)"
        )
    if login_only:
        warnings.append(
            f"{login_only} of the {count} friends only logged in through LIFF / LINE Login "
            "and never followed: they will not receive messages (add `status: active` to "
            "leave them out)"
        )
    return tuple(warnings)
