"""Sending one queued delivery to LINE and recording how it ended."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from linecrm.channels import UnknownChannel
from linecrm.counting.sent import SentCounting
from linecrm.delivery.pacing import EndpointKind, Pacer
from linecrm.delivery.send_limits import (
    ChannelSendLimits,
    ChannelSendLimitsCache,
    next_quota_period,
)
from linecrm.domain.conversations import (
    ChatEntry,
    ChatSettings,
    is_staff_delivery,
    outgoing_text,
    source_of_cause,
)
from linecrm.domain.deliveries import retry_key_for
from linecrm.domain.insight import aggregation_unit_for
from linecrm.domain.message_limits import length_problems
from linecrm.line.client import LineMessagingClient, SendReceipt
from linecrm.line.errors import (
    LineApiError,
    LineAuthFailed,
    LineQuotaExceeded,
    LineRateLimited,
    LineRequestRejected,
)
from linecrm.models.send import SendRequest
from linecrm.repositories.conversations import ConversationRepository
from linecrm.repositories.deliveries import DeliveryLedger
from linecrm.resources import DEFAULTS

# Longer than one reply call can take (client timeout 10 s), so an attempt this old is over.
REPLY_SETTLE_TIME = timedelta(seconds=30)


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
    # This send found the channel's monthly quota used up, and was the first to say so.
    quota_exhausted_now: bool = False


class Sender:
    def __init__(
        self,
        ledger: DeliveryLedger,
        line_client: LineClientFactory,
        clock: Callable[[], datetime],
        *,
        limits: ChannelSendLimitsCache | None = None,
        pacer: Pacer | None = None,
        time_zone: str = DEFAULTS.account_time_zone,
        counting: SentCounting | None = None,
        conversations: ConversationRepository | None = None,
        chat_settings: Callable[[str], ChatSettings] | None = None,
    ) -> None:
        """``limits``: the channels' send rates and quota state (None: LINE's defaults,
        no quota memory); ``pacer``: spaces LINE calls (None: no pacing); ``counting``:
        the report counters of a sent delivery (None: none kept); ``conversations``:
        the 1:1 chat log the sent messages go into (None: not logged), with the
        channel's ``chat_settings`` (its retention)."""
        self._conversations = conversations
        self._chat_settings = chat_settings or (lambda _channel_id: ChatSettings())
        self._ledger = ledger
        self._line_client = line_client
        self._clock = clock
        self._limits = limits
        self._pacer = pacer
        self._time_zone = time_zone
        self._counting = counting

    def send(
        self,
        request: SendRequest,
        *,
        final_attempt: bool,
        pacing_budget_seconds: float | None = None,
    ) -> SendReport:
        """Send once and record the outcome; SendFailedRetryable or PacingDeferred leave
        the delivery queued. ``pacing_budget_seconds``: how long pacing may wait in
        all (the invocation's time left); on the final attempt it waits no longer and
        sends anyway rather than let SQS dead-letter a deliverable message."""
        existing = self._ledger.get(request.delivery_id)
        if existing is None:
            # Queued by a producer that had no ledger write (or the row was lost): record it.
            self._ledger.record_queued(request, self._clock())
        elif existing.status.is_terminal:
            return SendReport(SendOutcome.ALREADY_FINISHED, existing.status.value)

        too_long = length_problems(request.messages)
        if too_long:
            # LINE would refuse the whole request (400): skip it with the reason instead.
            reason = "over LINE's limit: " + "; ".join(too_long)
            self._ledger.mark_skipped(request.delivery_id, reason, self._clock())
            return SendReport(SendOutcome.SKIPPED, reason)

        try:
            client = self._line_client(request.channel_id)
        except UnknownChannel:
            return self._dead(request, f"no credentials for channel {request.channel_id}")

        limits = self._limits.get(request.channel_id) if self._limits else ChannelSendLimits()
        deadline = None
        if self._pacer is not None and pacing_budget_seconds is not None:
            deadline = self._pacer.now() + pacing_budget_seconds

        def pace(kind: EndpointKind) -> None:
            if self._pacer is not None:
                rate = limits.rates.for_kind(kind)
                self._pacer.acquire(
                    request.channel_id, kind, rate, deadline=deadline, late_ok=final_attempt
                )

        if existing is not None and existing.reply_attempted_at is not None:
            # Replied before: push now, unless that reply's outcome is still unknown.
            if existing.reply_error is None and not final_attempt:
                self._settle_earlier_reply(existing.reply_attempted_at)
        elif self._reply_is_possible(request):
            receipt = self._try_reply(request, client, pace)
            if receipt is not None:
                self._mark_sent(request, receipt.request_id, "reply")
                return SendReport(SendOutcome.SENT, "replied")

        if request.message_class == "marketing" and limits.quota_exhausted(self._clock()):
            # LINE said so earlier this month: no call (and no 429) per delivery.
            self._ledger.mark_skipped(
                request.delivery_id,
                f"monthly_quota_exceeded: used up until {limits.quota_exhausted_until}",
                self._clock(),
            )
            return SendReport(SendOutcome.SKIPPED, "monthly quota exceeded (known)")

        retry_key = retry_key_for(request.delivery_id)
        sent_via = _endpoint_for(request)
        kind = _PACED_ENDPOINTS.get(sent_via)  # broadcast (60 per hour) is not paced
        if kind is not None:
            pace(kind)
        # LINE's insight API reports a campaign's opens and clicks by this unit.
        unit = aggregation_unit_for(request.campaign) if request.campaign else None
        try:
            if request.to_all_friends:
                receipt = client.broadcast(request.messages, retry_key)
            elif len(request.to) == 1:
                receipt = client.push(
                    request.to[0], request.messages, retry_key, aggregation_unit=unit
                )
            else:
                receipt = client.multicast(
                    request.to, request.messages, retry_key, aggregation_unit=unit
                )
        except LineAuthFailed as error:
            # The token, not the message: retried later (the new token may be on its way).
            return self._retry_later(request, error, final_attempt, kind)
        except LineRequestRejected as error:
            return self._dead(request, f"rejected by LINE: {error}")
        except LineQuotaExceeded as error:
            first = self._remember_quota_exhausted(request.channel_id)
            self._ledger.mark_skipped(
                request.delivery_id, f"monthly_quota_exceeded: {error}", self._clock()
            )
            return SendReport(
                SendOutcome.SKIPPED, "monthly quota exceeded", quota_exhausted_now=first
            )
        except LineApiError as error:  # transient or rate limited
            return self._retry_later(request, error, final_attempt, kind)

        self._mark_sent(request, receipt.request_id, sent_via)
        detail = "accepted earlier (retry key)" if receipt.already_accepted else ""
        return SendReport(SendOutcome.SENT, detail)

    def _mark_sent(self, request: SendRequest, line_request_id: str | None, via: str) -> None:
        """The ledger's move to sent, with the report counters and (a message to one
        friend) its chat log entry in the same transaction."""
        at = self._clock()
        counted: list[dict[str, Any]] = []
        if self._counting is not None:
            self._counting.before_sent(request, at)
            counted = self._counting.updates(request, at)
        entry = self._chat_entry(request, at)
        logged: list[dict[str, Any]] = []
        if entry is not None and self._conversations is not None and len(request.to) == 1:
            logged = self._conversations.outgoing_writes(
                request.channel_id,
                request.to[0],
                entry,
                self._chat_settings(request.channel_id),
                # A reply answers the friend's message: the conversation's last message.
                touch_summary=request.cause == "auto_response",
            )
        moved = self._ledger.mark_sent(
            request.delivery_id, line_request_id, at, sent_via=via, counted=counted, logged=logged
        )
        if moved and entry is not None and self._conversations is not None and len(request.to) > 1:
            # A multicast chunk: the entry in each recipient's log, 25 per BatchWriteItem
            # (docs/chat.md), only by the attempt that moved the delivery to sent.
            self._conversations.record_entries(
                request.channel_id, request.to, entry, self._chat_settings(request.channel_id)
            )

    def _chat_entry(self, request: SendRequest, at: datetime) -> ChatEntry | None:
        """The chat log entry of a sent delivery; None for a staff reply (logged when it
        was queued) or a send to every friend (names no recipients)."""
        if self._conversations is None or request.to_all_friends:
            return None
        if is_staff_delivery(request.delivery_id):
            return None
        kind, text = outgoing_text(request.messages)
        return ChatEntry(
            entry_id=request.delivery_id,
            direction="out",
            kind=kind,
            text=text,
            at=at,
            source=source_of_cause(request.cause),
            delivery_id=request.delivery_id,
        )

    def _retry_later(
        self,
        request: SendRequest,
        error: LineApiError,
        final_attempt: bool,
        kind: EndpointKind | None,
    ) -> SendReport:
        """Dead on the final attempt; otherwise SendFailedRetryable (stays queued)."""
        if isinstance(error, LineRateLimited) and kind is not None and self._pacer:
            self._pacer.slow_down(request.channel_id, kind)
        reason = f"{type(error).__name__}: {error}"
        if final_attempt:
            return self._dead(request, f"gave up after retries: {reason}")
        self._ledger.record_attempt_failure(request.delivery_id, reason, self._clock())
        raise SendFailedRetryable(
            reason, rate_limited=isinstance(error, LineRateLimited)
        ) from error

    def _reply_is_possible(self, request: SendRequest) -> bool:
        return (
            request.reply_token is not None
            and len(request.to) == 1
            and (request.reply_by is None or self._clock() < request.reply_by)
        )

    def _try_reply(
        self,
        request: SendRequest,
        client: LineMessagingClient,
        pace: Callable[[EndpointKind], None],
    ) -> SendReceipt | None:
        """Reply (free of the monthly quota) once; None means: push instead.

        The edge we accept: if LINE delivered the reply but its answer was lost (a
        timeout), the fallback push duplicates it — LINE offers no retry key for replies.
        A 4xx (expired or used token) is the common failure and is safe to fall back on.
        """
        assert request.reply_token is not None
        pace(EndpointKind.REPLY)  # before the claim: a deferred record has not replied
        if not self._ledger.claim_reply(request.delivery_id, self._clock()):
            # Another consumer claimed it just now (a redelivery racing the first one).
            raise SendFailedRetryable("reply in flight elsewhere", rate_limited=False)
        try:
            return client.reply(request.reply_token, request.messages)
        except LineApiError as error:
            if isinstance(error, LineRateLimited) and self._pacer is not None:
                self._pacer.slow_down(request.channel_id, EndpointKind.REPLY)
            self._ledger.record_reply_failure(
                request.delivery_id, f"{type(error).__name__}: {error}"
            )
            return None

    def _remember_quota_exhausted(self, channel_id: str) -> bool:
        """Store until when the quota is gone; True if this call stored it first."""
        if self._limits is None:
            return False
        until = next_quota_period(self._clock(), self._time_zone)
        return self._limits.record_quota_exhausted(channel_id, until)

    def _settle_earlier_reply(self, attempted_at: datetime) -> None:
        """A reply was attempted before and its outcome was not recorded.

        While that attempt may still be running (a redelivery overtaking a slow first
        consumer), wait: the first one finishes the delivery. Once it is surely over
        (it crashed), fall through to a push — the one case that can duplicate.
        """
        if self._clock() - attempted_at < REPLY_SETTLE_TIME:
            raise SendFailedRetryable("earlier reply attempt not settled yet", rate_limited=False)

    def _dead(self, request: SendRequest, reason: str) -> SendReport:
        self._ledger.mark_dead(request.delivery_id, reason, self._clock())
        return SendReport(SendOutcome.DEAD, reason)


_PACED_ENDPOINTS = {"push": EndpointKind.PUSH, "multicast": EndpointKind.MULTICAST}


def _endpoint_for(request: SendRequest) -> str:
    if request.to_all_friends:
        return "broadcast"
    return "push" if len(request.to) == 1 else "multicast"
