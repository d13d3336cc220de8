"""Which rich menu a friend gets: the first assignment rule whose segment they are in,
else LINE's default menu (no per-friend link at all).

The applied assignment (LINE rich menu ids, segment documents) is stored as the
channel setting ``rich_menu_assignment``, so the webhook gets it with the channel
config it already caches (no read of its own). It is compiled once per config load;
``relevant`` says whether a signal can change any rule's outcome, so a tag no rule
mentions costs nothing.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict

from linecrm.domain.channel_config import ChannelConfig
from linecrm.domain.friends import Friend
from linecrm.domain.segments import CompiledSegment, compile_segment, resolve_reference
from linecrm.domain.signals import FieldSet, Followed, FriendSignal, TagAdded, TagRemoved, Unlinked

ASSIGNMENT_SETTING = "rich_menu_assignment"


class AppliedRule(BaseModel):
    model_config = ConfigDict(frozen=True)

    menu: str  # our menu id
    rich_menu_id: str  # LINE's
    segment: dict[str, Any]


class AppliedAssignment(BaseModel):
    """What the sync job stored once the menus existed on LINE."""

    model_config = ConfigDict(frozen=True)

    version: int
    default_rich_menu_id: str | None = None
    rules: list[AppliedRule] = []


@dataclass(frozen=True)
class CompiledAssignment:
    applied: AppliedAssignment
    segments: tuple[CompiledSegment, ...]
    tag_ids: frozenset[str]
    field_keys: frozenset[str]

    def target(self, friend: Friend, at: datetime) -> str | None:
        """The LINE rich menu id to link to the friend; None: none of their own (the
        default shows). A blocked friend keeps what they had (LINE would refuse)."""
        for rule, segment in zip(self.applied.rules, self.segments, strict=True):
            if segment.matches(friend, at):
                return rule.rich_menu_id
        return None

    def relevant(self, signal: FriendSignal) -> bool:
        """Whether the signal can change a rule's outcome (else: nothing to read)."""
        if not self.applied.rules:
            return False
        if isinstance(signal, TagAdded | TagRemoved):
            return signal.tag_id in self.tag_ids
        if isinstance(signal, FieldSet):
            return signal.field_key in self.field_keys
        # A follow, or a change of the ID link: every signal about the link carries the
        # member id (``Unlinked``, and ``IdLinked`` from the ID-linking work).
        return isinstance(signal, Followed | Unlinked) or hasattr(signal, "member_id")


def compile_assignment(applied: AppliedAssignment, config: ChannelConfig) -> CompiledAssignment:
    """Raises SegmentError when a rule's segment no longer compiles (a tag deleted)."""
    zone = config.delivery_policy.time_zone
    segments = tuple(
        compile_segment(
            rule.segment, config.tags, config.fields, time_zone=zone, saved=config.segments
        )
        for rule in applied.rules
    )
    tag_ids = frozenset(tag for segment in segments for tag in segment.tag_ids)
    field_keys = frozenset(
        key
        for rule in applied.rules
        for key in _field_keys(_definition(rule.segment, config).get("match"))
    )
    return CompiledAssignment(applied, segments, tag_ids, field_keys)


def _definition(segment: Mapping[str, Any], config: ChannelConfig) -> Mapping[str, Any]:
    """The rule's segment document, a saved segment's when it names one."""
    resolved = resolve_reference(segment, config.segments)
    return resolved if isinstance(resolved, Mapping) else {}


def applied_assignment(config: ChannelConfig) -> AppliedAssignment | None:
    raw = config.settings.get(ASSIGNMENT_SETTING)
    return AppliedAssignment.model_validate(json.loads(raw)) if raw else None


def _field_keys(condition: Any) -> Iterator[str]:
    """Every custom field key a segment condition refers to, however nested."""
    if isinstance(condition, Mapping):
        field = condition.get("field")
        if isinstance(field, Mapping) and isinstance(field.get("key"), str):
            yield field["key"]
        for value in condition.values():
            yield from _field_keys(value)
    elif isinstance(condition, list):
        for item in condition:
            yield from _field_keys(item)
