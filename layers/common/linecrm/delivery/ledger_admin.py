"""The delivery ledger for operators: list, look at, and re-drive dead deliveries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from linecrm.delivery.outbox import SendQueueOutbox
from linecrm.domain.deliveries import Delivery, request_of
from linecrm.repositories.deliveries import DeliveryLedger


class DeliveryNotFound(LookupError):
    def __init__(self, delivery_id: str) -> None:
        super().__init__(f"no delivery {delivery_id}")
        self.delivery_id = delivery_id


class NotRedrivable(RuntimeError):
    """Only dead deliveries are re-driven (a queued one is still on its way)."""


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

    def redrive(self, channel_id: str, delivery_id: str) -> Delivery:
        """Queue a dead delivery again, with the same retry key (LINE dedupes)."""
        current = self.get(channel_id, delivery_id)
        revived = self._ledger.redrive(delivery_id, self._clock())
        if revived is None:
            raise NotRedrivable(
                f"delivery {delivery_id} is {current.status.value}; only dead ones are re-driven"
            )
        self._outbox().put_on_queue(request_of(revived))
        return revived

    def redrive_all_dead(self, channel_id: str, *, cause: str | None, limit: int) -> list[str]:
        """Re-drive up to ``limit`` dead deliveries of the channel; their ids."""
        redriven: list[str] = []
        cursor: str | None = None
        while len(redriven) < limit:
            page, cursor = self._ledger.list_page(
                channel_id, status="dead", cause=cause, limit=min(100, limit), cursor=cursor
            )
            for delivery in page:
                if len(redriven) >= limit:
                    break
                try:
                    self.redrive(channel_id, delivery.delivery_id)
                except NotRedrivable:
                    continue
                redriven.append(delivery.delivery_id)
            if cursor is None:
                break
        return redriven
