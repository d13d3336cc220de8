"""A/B variants and holdouts: how a campaign's friends are split, deterministically.

A broadcast or a scenario step may carry an ``Experiment``: variants (``A``, ``B``, …),
each with a split percentage and its own messages, and an optional holdout percentage
(a group that gets nothing, so the campaign's incremental effect can be measured).

Assignment is a pure function of (campaign, user id): SHA-256 of both, into
``BUCKETS`` (10,000) buckets; the buckets are cut in the order the variants are
listed, the holdout last. So a friend always lands in the same variant of a campaign,
whatever page, batch, retry or order they are planned in, and two campaigns split
their friends independently (the campaign key is part of the hash).
"""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from linecrm.domain.campaigns import VARIANT_PATTERN
from linecrm.domain.stats import HOLDOUT_VARIANT
from linecrm.models.send import MAX_MESSAGES_PER_REQUEST

BUCKETS = 10_000
MAX_VARIANTS = 10


class Variant(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(pattern=VARIANT_PATTERN, description="e.g. A, B")
    percent: int = Field(ge=1, le=100, description="share of the campaign's friends")
    messages: list[dict[str, Any]] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_MESSAGES_PER_REQUEST,
        description="this variant's messages; omit to send the campaign's own messages",
    )


class Experiment(BaseModel):
    """Variants and a holdout; the percentages (holdout included) add up to 100."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    variants: list[Variant] = Field(
        min_length=1,
        max_length=MAX_VARIANTS,
        description="the first is the control the others are compared with",
    )
    holdout_percent: int = Field(
        default=0, ge=0, le=99, description="friends who get nothing (the holdout group)"
    )

    @model_validator(mode="after")
    def _split_is_whole(self) -> Experiment:
        names = [variant.name for variant in self.variants]
        if HOLDOUT_VARIANT in names:
            raise ValueError(f"{HOLDOUT_VARIANT!r} names the holdout group, not a variant")
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must differ: {names}")
        total = sum(variant.percent for variant in self.variants) + self.holdout_percent
        if total != 100:
            parts = " + ".join(f"{v.name} {v.percent}" for v in self.variants)
            if self.holdout_percent:
                parts += f" + holdout {self.holdout_percent}"
            raise ValueError(f"the split must add up to 100 %: {parts} = {total}")
        return self

    @property
    def control(self) -> str:
        return self.variants[0].name

    def messages_of(
        self, variant: str, default: list[dict[str, Any]]
    ) -> list[dict[str, Any]] | None:
        """What ``variant`` sends (None for the holdout)."""
        if variant == HOLDOUT_VARIANT:
            return None
        for candidate in self.variants:
            if candidate.name == variant:
                return candidate.messages if candidate.messages is not None else default
        raise KeyError(variant)

    def all_messages(self, default: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        """Every distinct message list the campaign may send (for checks and limits)."""
        found = [v.messages if v.messages is not None else default for v in self.variants]
        unique: list[list[dict[str, Any]]] = []
        for messages in found:
            if messages not in unique:
                unique.append(messages)
        return unique

    def assign(self, campaign: str, user_id: str) -> str:
        """The friend's variant name, or ``holdout``."""
        bucket = bucket_of(campaign, user_id)
        edge = 0
        for variant in self.variants:
            edge += variant.percent * BUCKETS // 100
            if bucket < edge:
                return variant.name
        return HOLDOUT_VARIANT


def bucket_of(campaign: str, user_id: str) -> int:
    """0 … BUCKETS-1, uniform, stable for (campaign, user id)."""
    digest = hashlib.sha256(f"{campaign}\x1f{user_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % BUCKETS
