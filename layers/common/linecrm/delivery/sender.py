"""Sending one queued delivery to LINE and recording how it ended."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from linecrm.channels import UnknownChannel
from linecrm.domain.deliveries import retry_key_for
from linecrm.line.client import LineMessagingClient
from linecrm.line.errors import (
    LineApiError,
    LineQuotaExceeded,
    LineRateLimited,
    LineRequestRejected,
)
from linecrm.models.send import SendRequest
from linecrm.repositories.deliveries import DeliveryLedger


class SendOutcome(StrEnum):
    SENT = "sent"
    ALREADY_FINISHED = "already_finished"  # a replay of a finished delivery: no LINE call
    SKIPPED = "skipped"
    DEAD = "dead"


class SendFailedRetryable(Exception):
    """The delivery stays queued; the caller retries it later (SQS visibility)."""

    def __init__(self, reason: str, *, rate_limited: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.rate_limited = rate_limited


class LineClientFactory(Protocol):
    def __call__(self, channel_id: str) -> LineMessagingClient: ...


@dataclass(frozen=True)
class SendReport:
    outcome: SendOutcome
    detail: str = ""


class Sender:
    def __init__(
        self,
        ledger: DeliveryLedger,
        line_client: LineClientFactory,
        clock: Callable[[], datetime],
    ) -> None:
        self._ledger = ledger
        self._line_client = line_client
        self._clock = clock

    def send(self, request: SendRequest, *, final_attempt: bool) -> SendReport:
        existing = self._ledger.get(request.delivery_id)
        if existing is None:
            # Queued by a producer that had no ledger write (or the row was lost): record it.
            self._ledger.record_queued(request, self._clock())
        elif existing.status.is_terminal:
            return SendReport(SendOutcome.ALREADY_FINISHED, existing.status.value)

        try:
            client = self._line_client(request.channel_id)
        except UnknownChannel:
            return self._dead(request, f"no credentials for channel {request.channel_id}")

        retry_key = retry_key_for(request.delivery_id)
        try:
            if len(request.to) == 1:
                receipt = client.push(request.to[0], request.messages, retry_key)
            else:
                receipt = client.multicast(request.to, request.messages, retry_key)
        except LineRequestRejected as error:
            return self._dead(request, f"rejected by LINE: {error}")
        except LineQuotaExceeded as error:
            self._ledger.mark_skipped(
                request.delivery_id, f"monthly_quota_exceeded: {error}", self._clock()
            )
            return SendReport(SendOutcome.SKIPPED, "monthly quota exceeded")
        except LineApiError as error:  # transient or rate limited
            reason = f"{type(error).__name__}: {error}"
            if final_attempt:
                return self._dead(request, f"gave up after retries: {reason}")
            self._ledger.record_attempt_failure(request.delivery_id, reason)
            raise SendFailedRetryable(
                reason, rate_limited=isinstance(error, LineRateLimited)
            ) from error

        self._ledger.mark_sent(request.delivery_id, receipt.request_id, self._clock())
        detail = "accepted earlier (retry key)" if receipt.already_accepted else ""
        return SendReport(SendOutcome.SENT, detail)

    def _dead(self, request: SendRequest, reason: str) -> SendReport:
        self._ledger.mark_dead(request.delivery_id, reason, self._clock())
        return SendReport(SendOutcome.DEAD, reason)
