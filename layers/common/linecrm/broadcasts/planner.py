"""Planning a broadcast in resumable steps on the job queue.

A step walks the channel's friends in user-id order, a page at a time. For each page
it decides per friend (segment, blocked, quiet hours and caps), renders personalised
messages, groups identical content into chunks of ≤ 500 recipients, and commits the
chunk ledger rows together with the broadcast's cursor in one transaction; then it
puts the chunks on the send queue. A step that crashed is received again and resumes
at the cursor; chunks committed but maybe not queued are queued again from their
ledger rows (the sender's ledger check and retry key make a second copy harmless).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from linecrm.delivery.caps import MarketingCapGate, sent_counts
from linecrm.delivery.holdouts import Holdouts
from linecrm.domain.broadcasts import (
    Broadcast,
    BroadcastCounters,
    BroadcastCursor,
    BroadcastStep,
    chunk_delivery_id,
    chunked,
)
from linecrm.domain.campaigns import broadcast_campaign
from linecrm.domain.channel_config import ChannelConfig
from linecrm.domain.deliveries import request_of
from linecrm.domain.delivery_policy import Defer, SendNow
from linecrm.domain.friends import Friend
from linecrm.domain.personalization import is_personalised, over_limit_reason, render
from linecrm.domain.segments import CompiledSegment, SegmentError, compile_segment
from linecrm.domain.stats import HOLDOUT_VARIANT
from linecrm.jobs import StepBudget, StepOutcome
from linecrm.line.client import MessageQuota
from linecrm.models.send import MAX_MULTICAST_RECIPIENTS, SendRequest
from linecrm.repositories.broadcasts import BroadcastChanged, BroadcastRepository
from linecrm.repositories.deliveries import DeliveryLedger
from linecrm.repositories.friends import FriendRepository

# A page's chunks and the cursor commit in one transaction (≤ 100 items): same content
# for a whole page is one chunk; personalised pages are kept under 100 friends.
PAGE_SIZE = MAX_MULTICAST_RECIPIENTS
PERSONALISED_PAGE_SIZE = 99
# With an A/B holdout the transaction also carries the holdout counter.
PERSONALISED_PAGE_SIZE_WITH_HOLDOUT = 98
MAX_PAGES_PER_PLAN = 20  # friends read for one commit at most: 10,000


class ChunkQueue(Protocol):
    def put_on_queue(self, request: SendRequest) -> None: ...


class StepQueue(Protocol):
    def send_step(self, step: BroadcastStep) -> None: ...


class StartScheduler(Protocol):
    def __call__(self, broadcast: Broadcast, at: datetime) -> None: ...


class Deferrals(Protocol):
    def defer(self, request: SendRequest, until: datetime, reason: str) -> None: ...


class QuotaReader(Protocol):
    def __call__(self, channel_id: str) -> MessageQuota: ...


@dataclass
class PagePlan:
    requests: list[SendRequest]
    counters: BroadcastCounters
    # Chunks recorded as skipped, not sent: rendered messages LINE would refuse.
    skipped: list[tuple[SendRequest, str]]
    # Friends drawn into the A/B holdout: nothing sent, marked and counted.
    held_out: list[str]


class BroadcastPlanner:
    def __init__(
        self,
        broadcasts: BroadcastRepository,
        friends: FriendRepository,
        ledger: DeliveryLedger,
        config: Callable[[str], ChannelConfig],
        chunks: ChunkQueue,
        steps: StepQueue,
        schedule_start: StartScheduler,
        deferrals: Deferrals,
        quota: QuotaReader,
        clock: Callable[[], datetime],
        track_links: Callable[[SendRequest], SendRequest] | None = None,
        holdouts: Holdouts | None = None,
    ) -> None:
        self._broadcasts = broadcasts
        self._friends = friends
        self._ledger = ledger
        self._config = config
        self._chunks = chunks
        self._steps = steps
        self._schedule_start = schedule_start
        self._deferrals = deferrals
        self._quota = quota
        self._clock = clock
        # Tracked links (linecrm.tracking.links): same content in, same content out.
        self._track = track_links or (lambda request: request)
        self._holdouts = holdouts
        self._gate = MarketingCapGate(friends)

    def run_step(self, channel_id: str, broadcast_id: str, budget: StepBudget) -> StepOutcome:
        broadcast = self._broadcasts.get(channel_id, broadcast_id)
        if broadcast is None:
            return StepOutcome.MISSING
        if broadcast.is_finished:
            return StepOutcome.FINISHED
        config = self._config(channel_id)
        try:
            if broadcast.status == "scheduled":
                started = self._start(broadcast, config)
                if started.status != "sending":
                    return (
                        StepOutcome.DEFERRED
                        if started.status == "scheduled"
                        else StepOutcome.FAILED
                    )
                broadcast = started
            return self._send_pages(broadcast, config, budget)
        except BroadcastChanged:
            # Cancelled, or another step (a duplicate message) moved it: if it is still
            # being sent, make sure a step continues it.
            latest = self._broadcasts.get(channel_id, broadcast_id)
            if latest is not None and latest.status == "sending":
                self._steps.send_step(
                    BroadcastStep(channel_id=channel_id, broadcast_id=broadcast_id)
                )
            return StepOutcome.LOST_RACE
        except SegmentError as error:
            # Its segment no longer fits the channel: a saved segment it names was
            # deleted, or a tag of its segment. Nothing more can be planned: say why.
            self.fail(channel_id, broadcast_id, f"segment: {error}")
            return StepOutcome.FAILED

    def fail(self, channel_id: str, broadcast_id: str, reason: str) -> None:
        """Give up (the step kept failing): failed with the reason; queued chunks still go."""
        for _ in range(3):
            broadcast = self._broadcasts.get(channel_id, broadcast_id)
            if broadcast is None or broadcast.is_finished:
                return
            try:
                self._save(broadcast, status="failed", reason=reason, finished_at=self._clock())
            except BroadcastChanged:
                continue
            return

    # ------------------------------------------------------------------ start
    def _start(self, broadcast: Broadcast, config: ChannelConfig) -> Broadcast:
        """Quiet hours and the monthly quota decide whether it goes now."""
        now = self._clock()
        policy = config.delivery_policy
        if broadcast.message_class == "marketing" and policy.is_quiet(now):
            until = policy.next_allowed_time(now)
            self._schedule_start(broadcast, until)
            reason = f"deferred by quiet hours until {policy.local_time(until)}"
            return self._save(broadcast, reason=reason, send_at=until)
        quota = self._quota(broadcast.channel_id)
        if quota.remaining is not None:
            needed = self.count_recipients(broadcast, config, now)
            if needed > quota.remaining:
                reason = (
                    f"monthly quota: {quota.remaining} messages left, this broadcast needs "
                    f"{needed}; nothing was sent (raise the plan or wait for next month)"
                )
                return self._save(broadcast, status="failed", reason=reason, finished_at=now)
        return self._save(broadcast, status="sending", started_at=now, reason=None)

    def count_recipients(self, broadcast: Broadcast, config: ChannelConfig, at: datetime) -> int:
        """Friends the broadcast would reach now (caps read, nothing reserved)."""
        segment = self._segment(broadcast, config)
        policy = config.delivery_policy
        key = chunk_key(broadcast)
        count = 0
        for friend in self._friends.walk(broadcast.channel_id):
            if self._eligible(friend, segment, at) and variant_of(broadcast, friend) != (
                HOLDOUT_VARIANT
            ):
                decision = policy.decide(
                    broadcast.message_class, at, sent_counts(policy, friend, key, at)
                )
                count += isinstance(decision, SendNow)
        return count

    # ------------------------------------------------------------------ pages
    def _send_pages(
        self, broadcast: Broadcast, config: ChannelConfig, budget: StepBudget
    ) -> StepOutcome:
        self._requeue_committed_chunks(broadcast)
        if broadcast.method == "broadcast":
            return self._send_to_all(broadcast)
        segment = self._segment(broadcast, config)
        # A chunk is filled before it is committed, so N recipients of one content go
        # out in ceil(N / 500) multicasts however the segment's friends are spread.
        chunk_size = _chunk_size(broadcast)
        while budget.allows_more():
            budget.chunks += 1
            now = self._clock()
            plan, last_user_id, finished = self._plan_next(
                broadcast, config, segment, chunk_size, now
            )
            variant_pass = broadcast.cursor.variant_pass
            after_user_id = last_user_id or broadcast.cursor.after_user_id
            if finished and variant_pass + 1 < _passes(broadcast):
                # The next variant's walk starts at the first friend again.
                finished, variant_pass, after_user_id = False, variant_pass + 1, None
            cursor = BroadcastCursor(
                after_user_id=after_user_id,
                next_chunk=broadcast.cursor.next_chunk + len(plan.requests) + len(plan.skipped),
                # Every chunk before these is on the queue (queued right after its own
                # commit, or re-queued at the start of this step).
                enqueued_chunks=broadcast.cursor.next_chunk,
                variant_pass=variant_pass,
            )
            updated = broadcast.model_copy(
                update={"cursor": cursor, "counters": plan.counters, "updated_at": now}
            )
            puts = [self._ledger.queued_put(request, now) for request in plan.requests]
            puts += [
                self._ledger.skipped_put(request, reason, now) for request, reason in plan.skipped
            ]
            # Held-out friends: markers first (idempotent), their counter with the cursor
            # (so a step that runs again counts nobody twice).
            updates = self._record_holdout(broadcast, plan.held_out, now)
            self._broadcasts.transact(
                [*puts, self._broadcasts.put(updated, expected_version=broadcast.version)],
                updates,
            )
            broadcast = updated.model_copy(update={"version": broadcast.version + 1})
            for request in plan.requests:
                self._chunks.put_on_queue(request)
            if finished:
                return self._finish(broadcast)
        # Record that this step's chunks are all on the queue, so the next step does
        # not queue them again (harmless, but a second LINE call answered 409).
        cursor = broadcast.cursor.model_copy(
            update={"enqueued_chunks": broadcast.cursor.next_chunk}
        )
        self._save(broadcast, cursor=cursor)
        self._steps.send_step(
            BroadcastStep(channel_id=broadcast.channel_id, broadcast_id=broadcast.broadcast_id)
        )
        return StepOutcome.CONTINUE

    def _plan_next(
        self,
        broadcast: Broadcast,
        config: ChannelConfig,
        segment: CompiledSegment | None,
        chunk_size: int,
        now: datetime,
    ) -> tuple[PagePlan, str | None, bool]:
        """Friends after the cursor until ``chunk_size`` recipients (or the end): the
        chunks, the last friend decided, and whether every friend has been seen."""
        counters = broadcast.counters
        policy = config.delivery_policy
        key = chunk_key(broadcast)
        personalised = any(is_personalised(messages) for messages in broadcast.all_messages)
        # Keyed by (variant, content): a variant's identical content is one multicast.
        groups: dict[tuple[str | None, str], tuple[list[dict[str, Any]], list[str]]] = {}
        refused: dict[tuple[str | None, str], tuple[list[dict[str, Any]], list[str], str]] = {}
        held_out: list[str] = []
        first_pass = broadcast.cursor.variant_pass == 0
        this_pass = _pass_variant(broadcast)
        recipients = 0
        pages = 0
        after = broadcast.cursor.after_user_id
        last: str | None = None
        while True:
            friends, more = self._friends.page_after(broadcast.channel_id, after, PAGE_SIZE)
            for friend in friends:
                last = friend.user_id
                if friend.status != "active" or (
                    segment is not None and not segment.matches(friend, now)
                ):
                    if first_pass:  # counted once, in the first variant's walk
                        blocked = int(friend.status != "active")
                        counters = counters.plus(
                            friends_seen=1, blocked=blocked, not_in_segment=1 - blocked
                        )
                    continue
                variant = variant_of(broadcast, friend)
                if variant != this_pass:
                    if first_pass and variant == HOLDOUT_VARIANT:
                        # The holdout: nothing, decided before caps (no slot taken).
                        held_out.append(friend.user_id)
                        counters = counters.plus(friends_seen=1, held_out=1)
                    elif first_pass:
                        counters = counters.plus(friends_seen=1)
                    continue  # another variant's walk sends it
                counters = counters.plus(friends_seen=int(first_pass))
                source = broadcast.messages_of(variant)
                if source is None:  # not reached: the holdout is no walk's variant
                    continue
                messages = render(source, friend)
                content = (variant, json.dumps(messages, ensure_ascii=False, sort_keys=True))
                reason = over_limit_reason(messages) if personalised else None
                if reason is not None:
                    # Before the cap gate: a friend who gets nothing keeps their slot.
                    refused.setdefault(content, (messages, [], reason))[1].append(friend.user_id)
                    counters = counters.plus(over_limit=1)
                    recipients += 1  # a chunk row of its own: counts towards the commit
                    if recipients == chunk_size:
                        plan = self._chunks_of(broadcast, groups, refused, counters, held_out)
                        return plan, last, False
                    continue
                decision = self._gate.admit(policy, friend, key, broadcast.message_class, now)
                if isinstance(decision, Defer):
                    self._defer_one(broadcast, friend, decision, variant, source)
                    counters = counters.plus(deferred=1)
                    continue
                if not isinstance(decision, SendNow):
                    counters = counters.plus(capped=1)
                    continue
                groups.setdefault(content, (messages, []))[1].append(friend.user_id)
                recipients += 1
                if recipients == chunk_size:
                    # More friends may follow; the next plan starts after this one.
                    plan = self._chunks_of(broadcast, groups, refused, counters, held_out)
                    return plan, last, False
            if not more or not friends:
                return self._chunks_of(broadcast, groups, refused, counters, held_out), last, True
            pages += 1
            if pages >= MAX_PAGES_PER_PLAN:
                # A sparse segment in a big channel: commit a partial chunk rather than
                # read on past what one step can do before its time runs out.
                plan = self._chunks_of(broadcast, groups, refused, counters, held_out)
                return plan, last, False
            after = friends[-1].user_id

    def _chunks_of(
        self,
        broadcast: Broadcast,
        groups: dict[tuple[str | None, str], tuple[list[dict[str, Any]], list[str]]],
        refused: dict[tuple[str | None, str], tuple[list[dict[str, Any]], list[str], str]],
        counters: BroadcastCounters,
        held_out: list[str],
    ) -> PagePlan:
        """Chunks to send, then a skipped chunk per content (and ≤ 500 recipients)
        for friends whose rendering LINE would refuse: the ledger keeps who and why."""
        requests: list[SendRequest] = []
        skipped: list[tuple[SendRequest, str]] = []
        chunk = broadcast.cursor.next_chunk
        for (variant, _), (messages, user_ids) in groups.items():
            for chunk_recipients in chunked(user_ids):
                requests.append(
                    self._chunk_request(broadcast, chunk, chunk_recipients, messages, variant)
                )
                chunk += 1
                if variant is not None:
                    counters = counters.plus_variant(variant, len(chunk_recipients))
        for (variant, _), (messages, user_ids, reason) in refused.items():
            for chunk_recipients in chunked(user_ids):
                request = self._chunk_request(broadcast, chunk, chunk_recipients, messages, variant)
                skipped.append((request, reason))
                chunk += 1
        recipients = sum(len(request.to) for request in requests)
        counters = counters.plus(recipients=recipients, chunks=len(requests) + len(skipped))
        return PagePlan(requests, counters, skipped, held_out)

    def _record_holdout(
        self, broadcast: Broadcast, held_out: list[str], now: datetime
    ) -> list[dict[str, Any]]:
        if not held_out:
            return []
        if self._holdouts is None:
            raise RuntimeError("this BroadcastPlanner was built without a holdout recorder")
        campaign = broadcast_campaign(broadcast.broadcast_id)
        self._holdouts.mark(broadcast.channel_id, campaign, held_out, now)
        update = self._holdouts.counter_update(
            broadcast.channel_id, campaign, len(held_out), shard_by=held_out[-1]
        )
        return [update] if update is not None else []

    def _finish(self, broadcast: Broadcast) -> StepOutcome:
        """Every chunk is on the send queue: the broadcast is sent (to the sender).

        Only now, not with the last commit: a crash between that commit and the queue
        puts leaves the broadcast ``sending``, and the next step re-queues the chunks.
        """
        cursor = broadcast.cursor.model_copy(
            update={"enqueued_chunks": broadcast.cursor.next_chunk}
        )
        self._save(broadcast, status="sent", cursor=cursor, finished_at=self._clock())
        return StepOutcome.DONE

    def _send_to_all(self, broadcast: Broadcast) -> StepOutcome:
        """One request to LINE's broadcast endpoint: every friend, same message."""
        if broadcast.cursor.next_chunk > 0:  # committed before a crash; re-queued above
            return self._finish(broadcast)
        now = self._clock()
        request = self._track(
            SendRequest(
                delivery_id=chunk_delivery_id(broadcast.broadcast_id, 0),
                channel_id=broadcast.channel_id,
                to=[],
                to_all_friends=True,
                messages=broadcast.messages,
                cause="broadcast",
                campaign=broadcast_campaign(broadcast.broadcast_id),
                message_class=broadcast.message_class,
            )
        )
        updated = broadcast.model_copy(
            update={
                "cursor": BroadcastCursor(next_chunk=1),
                "counters": broadcast.counters.plus(chunks=1),
                "updated_at": now,
            }
        )
        self._broadcasts.transact(
            [
                self._ledger.queued_put(request, now),
                self._broadcasts.put(updated, expected_version=broadcast.version),
            ]
        )
        self._chunks.put_on_queue(request)
        return self._finish(updated.model_copy(update={"version": broadcast.version + 1}))

    def _chunk_request(
        self,
        broadcast: Broadcast,
        chunk: int,
        to: list[str],
        messages: list[dict[str, Any]],
        variant: str | None,
    ) -> SendRequest:
        return self._track(
            SendRequest(
                delivery_id=chunk_delivery_id(broadcast.broadcast_id, chunk),
                channel_id=broadcast.channel_id,
                to=to,
                messages=messages,
                cause="broadcast",
                campaign=broadcast_campaign(broadcast.broadcast_id),
                variant=variant,
                message_class=broadcast.message_class,
            )
        )

    def _defer_one(
        self,
        broadcast: Broadcast,
        friend: Friend,
        decision: Defer,
        variant: str | None,
        messages: list[dict[str, Any]],
    ) -> None:
        """A capped friend gets the message later, decided again when it comes due."""
        request = self._track(
            SendRequest(
                delivery_id=f"{chunk_key(broadcast)}:u:{friend.user_id}",
                channel_id=broadcast.channel_id,
                to=[friend.user_id],
                messages=render(messages, friend),
                cause="broadcast",
                campaign=broadcast_campaign(broadcast.broadcast_id),
                variant=variant,
                message_class=broadcast.message_class,
            )
        )
        self._deferrals.defer(request, decision.until, decision.reason)

    def _requeue_committed_chunks(self, broadcast: Broadcast) -> None:
        cursor = broadcast.cursor
        ids = [
            chunk_delivery_id(broadcast.broadcast_id, chunk)
            for chunk in range(cursor.enqueued_chunks, cursor.next_chunk)
        ]
        for delivery in self._ledger.get_many(ids).values():
            if delivery.status.is_terminal:
                continue
            self._chunks.put_on_queue(request_of(delivery))

    # ------------------------------------------------------------------ helpers
    def _segment(self, broadcast: Broadcast, config: ChannelConfig) -> CompiledSegment | None:
        if broadcast.segment is None:
            return None
        return compile_segment(
            broadcast.segment,
            config.tags,
            config.fields,
            time_zone=config.delivery_policy.time_zone,
            saved=config.segments,  # a reference is resolved when the broadcast is planned
        )

    @staticmethod
    def _eligible(friend: Friend, segment: CompiledSegment | None, at: datetime) -> bool:
        return friend.status == "active" and (segment is None or segment.matches(friend, at))

    def _save(self, broadcast: Broadcast, **changes: Any) -> Broadcast:
        updated = broadcast.model_copy(update={**changes, "updated_at": self._clock()})
        return self._broadcasts.save(updated, expected_version=broadcast.version)


def variant_of(broadcast: Broadcast, friend: Friend) -> str | None:
    """The friend's A/B variant (or ``holdout``); None without an experiment."""
    if broadcast.experiment is None:
        return None
    return broadcast.experiment.assign(broadcast_campaign(broadcast.broadcast_id), friend.user_id)


def _passes(broadcast: Broadcast) -> int:
    """Walks of the friends a broadcast takes: one per A/B variant, else one."""
    return len(broadcast.experiment.variants) if broadcast.experiment is not None else 1


def _pass_variant(broadcast: Broadcast) -> str | None:
    """The variant the current walk sends (None without an experiment)."""
    if broadcast.experiment is None:
        return None
    return broadcast.experiment.variants[broadcast.cursor.variant_pass].name


def _chunk_size(broadcast: Broadcast) -> int:
    if not any(is_personalised(messages) for messages in broadcast.all_messages):
        return PAGE_SIZE
    experiment = broadcast.experiment
    if experiment is not None and experiment.holdout_percent:
        return PERSONALISED_PAGE_SIZE_WITH_HOLDOUT
    return PERSONALISED_PAGE_SIZE


def chunk_key(broadcast: Broadcast) -> str:
    """What a friend's frequency-cap slot for this broadcast is called."""
    return f"bc:{broadcast.broadcast_id}"
