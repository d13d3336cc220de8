"""The monthly message quota as last read from LINE, kept on the channel's settings.

The admin function never calls LINE (it holds no channel secrets), so it shows the
quota the jobs function read last: whenever a broadcast starts (the planner reads it
anyway), and on request — the dashboard queues a ``QuotaFetchStep`` when the snapshot
is older than ``MAX_AGE`` — from LINE's ``GET /v2/bot/message/quota`` and
``/v2/bot/message/quota/consumption`` through the LINE client.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from linecrm.line.client import MessageQuota

SETTING = "message_quota"
MAX_AGE = timedelta(minutes=10)


@dataclass(frozen=True)
class QuotaSnapshot:
    limit: int | None  # None: LINE's "none", no monthly limit
    used: int
    fetched_at: datetime

    @property
    def remaining(self) -> int | None:
        return None if self.limit is None else max(0, self.limit - self.used)

    def is_stale(self, now: datetime) -> bool:
        return now - self.fetched_at > MAX_AGE


class SettingWriter(Protocol):
    def set_setting(self, channel_id: str, name: str, value: Any) -> None: ...


def remember(
    settings: SettingWriter, channel_id: str, quota: MessageQuota, at: datetime
) -> MessageQuota:
    """Keep ``quota`` (read from LINE at ``at``) as the channel's snapshot; ``quota``."""
    settings.set_setting(
        channel_id,
        SETTING,
        {"limit": quota.limit, "used": quota.used, "fetched_at": at.isoformat()},
    )
    return quota


def snapshot_of(settings: Mapping[str, Any]) -> QuotaSnapshot | None:
    """The snapshot on a SETTINGS item (None: never read, or unreadable)."""
    raw = settings.get(SETTING)
    if raw is None:
        return None
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
        limit = value["limit"]
        return QuotaSnapshot(
            limit=int(limit) if limit is not None else None,
            used=int(value["used"]),
            fetched_at=datetime.fromisoformat(str(value["fetched_at"])),
        )
    except (ValueError, TypeError, KeyError):
        return None
