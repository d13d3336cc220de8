"""Delayed deliveries: deferring one (quiet hours, a cap) and firing it when due.

A marketing message to one friend is decided again when it fires: the friend may
have reached a cap meanwhile, or it may be quiet hours; it is then deferred again or
skipped, with the reason in the ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from linecrm.delivery.caps import MarketingCapGate
from linecrm.delivery.outbox import SendQueueOutbox
from linecrm.domain.channel_config import ChannelConfig
from linecrm.domain.delivery_policy import Defer, SendNow
from linecrm.models.jobs import ScheduledJob, ScheduledSend
from linecrm.models.send import SendRequest
from linecrm.repositories.deliveries import DeliveryLedger
from linecrm.repositories.friends import FriendRepository


class JobScheduler(Protocol):
    def schedule(self, job: ScheduledJob, at: datetime) -> str: ...


class ScheduledSends:
    def __init__(
        self,
        ledger: DeliveryLedger,
        outbox: SendQueueOutbox,
        friends: FriendRepository,
        config: Callable[[str], ChannelConfig],
        scheduler: Callable[[], JobScheduler],
        clock: Callable[[], datetime],
    ) -> None:
        self._ledger = ledger
        self._outbox = outbox
        self._friends = friends
        self._config = config
        self._scheduler = scheduler
        self._clock = clock
        self._gate = MarketingCapGate(friends)

    def defer(self, request: SendRequest, until: datetime, reason: str) -> None:
        self._ledger.record_deferred(request, until, reason, self._clock())
        job_id = f"{request.delivery_id}@{until:%Y%m%dT%H%M%S}"
        self._scheduler().schedule(ScheduledSend(job_id=job_id, request=request), until)

    def fire(self, job: ScheduledSend) -> str:
        request = job.request
        if request.message_class == "marketing" and len(request.to) == 1:
            decided = self._decide_again(request)
            if decided is not None:
                return decided
        return "queued" if self._outbox.enqueue(request) else "already_finished"

    def _decide_again(self, request: SendRequest) -> str | None:
        """ "deferred"/"skipped", or None to send it now."""
        existing = self._ledger.get(request.delivery_id)
        if existing is not None and existing.status.is_terminal:
            return "already_finished"
        now = self._clock()
        friend = self._friends.get(request.channel_id, request.to[0])
        if friend is None:
            return None  # not a friend linecrm knows: nothing to count it against
        if friend.status != "active":
            self._ledger.record_queued(request, now)
            self._ledger.mark_skipped(request.delivery_id, "the friend blocked the account", now)
            return "skipped"
        policy = self._config(request.channel_id).delivery_policy
        decision = self._gate.admit(policy, friend, request.delivery_id, request.message_class, now)
        if isinstance(decision, SendNow):
            return None
        if isinstance(decision, Defer):
            self.defer(request, decision.until, decision.reason)
            return "deferred"
        self._ledger.record_queued(request, now)
        self._ledger.mark_skipped(request.delivery_id, decision.reason, now)
        return "skipped"
