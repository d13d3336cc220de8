"""The delivery ledger for operators: list, look at, and re-drive dead deliveries.

A re-drive sends with the delivery's retry key again, and LINE answers 409 if it had
accepted an earlier attempt — but LINE remembers a retry key for 24 hours only. Past
that (counted from the first attempt, less a margin for the time the re-driven message
waits on the queue), a re-drive could deliver a second copy, so it is refused unless
forced; a forced one is recorded on the row (``redrive_forced_at``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from linecrm.delivery.outbox import SendQueueOutbox
from linecrm.domain.deliveries import Delivery, DeliveryStatus, request_of
from linecrm.repositories.deliveries import DeliveryLedger


class DeliveryNotFound(LookupError):
    def __init__(self, delivery_id: str) -> None:
        super().__init__(f"no delivery {delivery_id}")
        self.delivery_id = delivery_id


# LINE deduplicates X-Line-Retry-Key for 24 h; the margin covers clock skew and the
# time a re-driven message can wait on the send queue (pacing, retries) before it goes.
LINE_RETRY_KEY_WINDOW = timedelta(hours=24)
REDRIVE_MARGIN = timedelta(hours=1)
REDRIVE_WINDOW = LINE_RETRY_KEY_WINDOW - REDRIVE_MARGIN


class NotRedrivable(RuntimeError):
    """Only dead deliveries are re-driven (a queued one is still on its way)."""


class RetryKeyExpired(NotRedrivable):
    """The first attempt is older than LINE's retry-key window: a re-drive may duplicate."""


@dataclass(frozen=True)
class RedriveRefusal:
    delivery_id: str
    reason: str


def first_attempt_at(delivery: Delivery) -> datetime:
    """When LINE may first have seen the retry key (the earliest time we can tell).

    Rows that died on their only attempt have no ``first_attempt_at``: that attempt
    ended at ``finished_at``. Without either, the queue time is the earliest possible.
    """
    return delivery.first_attempt_at or delivery.finished_at or delivery.queued_at


class LedgerAdmin:
    def __init__(
        self,
        ledger: DeliveryLedger,
        outbox: Callable[[], SendQueueOutbox],
        clock: Callable[[], datetime],
    ) -> None:
        self._ledger = ledger
        self._outbox = outbox
        self._clock = clock

    def get(self, channel_id: str, delivery_id: str) -> Delivery:
        delivery = self._ledger.get(delivery_id)
        if delivery is None or delivery.channel_id != channel_id:
            raise DeliveryNotFound(delivery_id)
        return delivery

    def list_page(
        self,
        channel_id: str,
        *,
        status: str | None,
        cause: str | None,
        limit: int,
        cursor: str | None,
    ) -> tuple[list[Delivery], str | None]:
        return self._ledger.list_page(
            channel_id, status=status, cause=cause, limit=limit, cursor=cursor
        )

    def redrive(self, channel_id: str, delivery_id: str, *, force: bool = False) -> Delivery:
        """Queue a dead delivery again, with the same retry key (LINE dedupes).

        RetryKeyExpired when its first attempt is older than LINE's retry-key window,
        unless ``force``: then it goes anyway, and the row records that it was forced.
        """
        current = self.get(channel_id, delivery_id)
        now = self._clock()
        first = first_attempt_at(current)
        expired = now - first > REDRIVE_WINDOW
        if expired and not force and current.status is DeliveryStatus.DEAD:
            raise RetryKeyExpired(
                f"delivery {delivery_id} was first attempted at {first.isoformat()}, more "
                f"than {_hours(REDRIVE_WINDOW)} h ago; LINE deduplicates its retry key for "
                f"{_hours(LINE_RETRY_KEY_WINDOW)} h only, so a re-drive could deliver a "
                "second copy if an earlier attempt got through. Check the friends' chats, "
                "then re-drive with force to send it anyway"
            )
        # The same key even when forced: LINE may still remember a later attempt's key.
        revived = self._ledger.redrive(
            delivery_id,
            now,
            first_attempt_at=first,
            previous_reason=current.reason,
            forced=expired,
        )
        if revived is None:
            raise NotRedrivable(
                f"delivery {delivery_id} is {current.status.value}; only dead ones are re-driven"
            )
        self._outbox().put_on_queue(request_of(revived))
        return revived

    def redrive_all_dead(
        self, channel_id: str, *, cause: str | None, limit: int, force: bool = False
    ) -> tuple[list[str], list[RedriveRefusal]]:
        """Re-drive up to ``limit`` dead deliveries of the channel: the ids re-driven,
        and those refused (past the retry-key window, without ``force``); both count
        towards ``limit``."""
        redriven: list[str] = []
        refused: list[RedriveRefusal] = []
        cursor: str | None = None
        while len(redriven) + len(refused) < limit:
            page, cursor = self._ledger.list_page(
                channel_id, status="dead", cause=cause, limit=min(100, limit), cursor=cursor
            )
            for delivery in page:
                if len(redriven) + len(refused) >= limit:
                    break
                try:
                    self.redrive(channel_id, delivery.delivery_id, force=force)
                except RetryKeyExpired as expired:
                    refused.append(RedriveRefusal(delivery.delivery_id, str(expired)))
                    continue
                except NotRedrivable:
                    continue
                redriven.append(delivery.delivery_id)
            if cursor is None:
                break
        return redriven, refused


def _hours(window: timedelta) -> int:
    return int(window.total_seconds() // 3600)
