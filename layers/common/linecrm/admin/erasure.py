"""Erasing a friend on request: every item that names them, and a record that they asked.

``DELETE …/friends/{id}`` removes the friend's partition (profile, tags, fields,
scenario state, behaviour events and their aggregates: docs/events.md), deletes the
delivery ledger rows addressed to the friend alone, takes the friend out of the
recipients of broadcast chunks, deletes the audit log entries about them (or their id
from a bulk change's), and keeps an erasure record (a hash, not the id: see
``repositories/erasures.py``) so imports do not re-create them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from linecrm.repositories.audit import AuditLog
from linecrm.repositories.deliveries import RecipientLedger
from linecrm.repositories.erasures import ErasureRepository


class FriendErasure:
    def __init__(
        self,
        ledger: RecipientLedger,
        erasures: ErasureRepository,
        clock: Callable[[], datetime],
        *,
        audit: AuditLog | None = None,
    ) -> None:
        self._ledger = ledger
        self._erasures = erasures
        self._clock = clock
        self._audit = audit

    def ledger_rows(self, channel_id: str, user_id: str) -> list[dict[str, Any]]:
        """The ledger rows naming the friend, for an export: a chunk's other recipients
        are left out (they are other people's data)."""
        return [
            {**row, "recipients": [user_id]}
            for row in self._ledger.rows_naming(channel_id, user_id)
        ]

    def audit_rows(self, channel_id: str, user_id: str) -> list[dict[str, Any]]:
        """The audit log entries about the friend (changes made to them), for an export."""
        return self._audit.items_about(channel_id, user_id) if self._audit is not None else []

    def erase(self, channel_id: str, user_id: str) -> int:
        """Record the erasure first (so an import running meanwhile skips the friend),
        then remove the friend from the ledger and the audit log; the number of ledger
        rows and audit entries changed."""
        self._erasures.record(channel_id, user_id, self._clock())
        changed = self._ledger.erase_recipient(channel_id, user_id)
        if self._audit is not None:
            changed += self._audit.erase_friend(channel_id, user_id)
        return changed
