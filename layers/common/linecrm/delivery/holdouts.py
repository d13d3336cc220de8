"""Recording an A/B holdout: the friends a campaign deliberately sent nothing.

Each held-out friend gets a ``TRACK#HOLDOUT`` marker (so a later purchase can be
credited to the holdout group: the exposed conversions of variant ``holdout``), and
the campaign's ``held_out`` counter on variant ``holdout`` grows by the group's size.
The markers are idempotent puts; the counter is an ADD, so the caller commits it once:
with the step that decided (a broadcast page's transaction, a scenario enrolment's
conditional move).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from linecrm.domain.stats import HELD_OUT, HOLDOUT_VARIANT
from linecrm.repositories.campaign_stats import CampaignStatsRepository
from linecrm.repositories.tracking_markers import Marker, TrackingMarkers


class Holdouts:
    def __init__(self, markers: TrackingMarkers, stats: CampaignStatsRepository) -> None:
        self._markers = markers
        self._stats = stats

    def mark(self, channel_id: str, campaign: str, user_ids: Sequence[str], at: datetime) -> None:
        """``TRACK#HOLDOUT`` for each friend (safe to repeat)."""
        if user_ids:
            marker = Marker(campaign=campaign, variant=HOLDOUT_VARIANT, at=at)
            self._markers.put_holdout_many(channel_id, user_ids, marker)

    def counter_update(
        self, channel_id: str, campaign: str, held_out: int, *, shard_by: str
    ) -> dict[str, Any] | None:
        """The UpdateItem adding ``held_out`` friends (for a transaction); None for 0."""
        return self._stats.campaign_update(
            channel_id, campaign, {HELD_OUT: held_out}, shard_by=shard_by, variant=HOLDOUT_VARIANT
        )

    def count(self, channel_id: str, campaign: str, held_out: int, *, shard_by: str) -> None:
        self._stats.add_to_campaign(
            channel_id, campaign, {HELD_OUT: held_out}, shard_by=shard_by, variant=HOLDOUT_VARIANT
        )
