"""Creating, previewing, cancelling and reporting broadcasts (the admin side)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import datetime, timedelta
from itertools import islice
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from linecrm.delivery.caps import sent_counts
from linecrm.domain.broadcasts import (
    Broadcast,
    BroadcastStep,
    PreviewStep,
    SendMethod,
    chunk_delivery_id,
    new_broadcast_id,
)
from linecrm.domain.channel_config import ChannelConfig
from linecrm.domain.delivery_policy import Defer, DeliveryPolicy, SendNow
from linecrm.domain.experiments import Experiment
from linecrm.domain.friends import Friend
from linecrm.domain.idempotency import CreateOnce, fingerprint
from linecrm.domain.personalization import (
    check_fields,
    is_personalised,
    limit_warnings,
    over_limit_reason,
    placeholders,
    render,
    shortest_rendering,
)
from linecrm.domain.segments import (
    CompiledSegment,
    as_document,
    audience_warnings,
    compile_segment,
)
from linecrm.domain.stats import HOLDOUT_VARIANT
from linecrm.jobs import StepBudget, StepOutcome
from linecrm.line.messages import validate_messages
from linecrm.models.jobs import StartBroadcast
from linecrm.models.send import MAX_MESSAGES_PER_REQUEST, MessageClass
from linecrm.repositories.broadcasts import BroadcastChanged, BroadcastNotFound, BroadcastRepository
from linecrm.repositories.deliveries import DeliveryLedger
from linecrm.repositories.friends import FriendRepository

MAX_SCHEDULE_AHEAD = timedelta(days=365)
CREATE = "POST /broadcasts"  # the operation an Idempotency-Key is bound to
# A send_at this little in the past (clock skew, a slow request) still means "now".
PAST_SEND_AT_TOLERANCE = timedelta(minutes=1)
SAMPLE_SIZE = 10
# A preview reads this many friends inside the admin request (well within its 30 s);
# a bigger channel's preview continues as a job (202 + a preview id to poll).
INLINE_PREVIEW_FRIENDS = 5_000
PREVIEW_PAGE_SIZE = 1_000
# A preview draws the A/B split as the send will, with this campaign key in the hash
# (the broadcast has no id yet): its per-variant counts are the expected ones.
PREVIEW_CAMPAIGN = "broadcast:preview"


class BroadcastRejected(ValueError):
    """The request cannot become a broadcast; ``field`` names the part at fault."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field_name
        self.reason = reason


class BroadcastNotCancellable(RuntimeError):
    pass


class BroadcastRequest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    messages: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_MESSAGES_PER_REQUEST)
    segment: dict[str, Any] | None = Field(
        default=None,
        description="a segment document (docs/segments.md), or a saved segment: "
        '{"segment": "seg_…"} (or its id alone), resolved when the broadcast is planned; '
        "omit for every friend",
    )

    _saved_id = field_validator("segment", mode="before")(as_document)
    message_class: MessageClass = "marketing"
    send_at: datetime | None = Field(default=None, description="omit to send now")
    method: Literal["auto", "multicast", "broadcast"] = Field(
        default="auto",
        description="auto: LINE's broadcast endpoint when every friend gets the same "
        "message and nothing is left out, else multicast to the chosen ids",
    )
    experiment: Experiment | None = Field(
        default=None,
        description="an A/B test: variants (name, percent, their own messages, else "
        "`messages`) and a holdout percent that gets nothing; they add up to 100. Each "
        "friend's variant is drawn from a hash of the broadcast and the friend",
    )


class BroadcastPreview(BaseModel):
    recipients: int
    friends_considered: int
    not_in_segment: int
    blocked: int
    capped: int
    deferred: int
    over_limit: int = Field(
        default=0, description="skipped: their personalised rendering breaks a LINE limit"
    )
    variants: dict[str, int] | None = Field(
        default=None,
        description="an A/B test: recipients per variant (expected: the send draws the "
        "split with the broadcast's own id)",
    )
    held_out: int = Field(default=0, description="an A/B test: friends of the holdout group")
    sample_user_ids: list[str]
    sample_messages: list[dict[str, Any]] | None
    method: SendMethod
    segment: str | None
    warnings: list[str]


class BroadcastReport(BaseModel):
    broadcast: Broadcast
    deliveries: dict[str, int] = Field(
        description="chunk deliveries by ledger status (queued, sent, skipped, dead)"
    )
    recipients_by_status: dict[str, int]


class JobQueue(Protocol):
    def send_step(self, step: BroadcastStep | PreviewStep) -> None: ...


class SettingsStore(Protocol):
    def set_setting(self, channel_id: str, name: str, value: Any) -> None: ...


class StartScheduling(Protocol):
    def schedule(self, job: StartBroadcast, at: datetime) -> str: ...
    def cancel(self, job_id: str) -> bool: ...


class _Tally(BaseModel):
    """A preview's counts so far (kept in the preview job between steps)."""

    recipients: int = 0
    considered: int = 0
    not_in_segment: int = 0
    blocked: int = 0
    capped: int = 0
    deferred: int = 0
    over_limit: int = 0
    over_limit_example: str | None = None  # the first such friend and why
    sample: list[str] = Field(default_factory=list)
    variants: dict[str, int] = Field(default_factory=dict)
    held_out: int = 0


class PreviewJob(BaseModel):
    """A preview of a big channel, counted in job steps (what ``PreviewStore`` keeps)."""

    preview_id: str
    channel_id: str
    status: Literal["running", "done", "failed"] = "running"
    request: BroadcastRequest
    at: datetime  # the instant the preview is for (send_at, or when it was asked)
    after_user_id: str | None = None
    tally: _Tally = Field(default_factory=_Tally)
    result: BroadcastPreview | None = None
    reason: str | None = None
    created_at: datetime
    updated_at: datetime

    def status_view(self) -> PreviewJobStatus:
        return PreviewJobStatus(
            preview_id=self.preview_id,
            status=self.status,
            friends_considered=self.tally.considered,
            result=self.result,
            reason=self.reason,
            created_at=self.created_at,
            updated_at=self.updated_at,
        )


class PreviewJobStatus(BaseModel):
    """A preview running as a job: progress, then the preview (``result``) when done."""

    preview_id: str
    status: Literal["running", "done", "failed"]
    friends_considered: int = Field(description="friends counted so far")
    result: BroadcastPreview | None = None
    reason: str | None = Field(default=None, description="why it failed")
    created_at: datetime
    updated_at: datetime


class PreviewJobs(Protocol):
    def put(self, job: PreviewJob) -> None: ...
    def get(self, channel_id: str, preview_id: str) -> PreviewJob | None: ...


class PreviewNotFound(LookupError):
    def __init__(self, channel_id: str, preview_id: str) -> None:
        super().__init__(f"no broadcast preview {preview_id} in channel {channel_id}")


class BroadcastService:
    def __init__(
        self,
        broadcasts: BroadcastRepository,
        ledger: DeliveryLedger,
        friends: FriendRepository,
        config: Callable[[str], ChannelConfig],
        settings: SettingsStore,
        jobs: Callable[[], JobQueue],
        schedules: Callable[[], StartScheduling],
        clock: Callable[[], datetime],
        create_once: CreateOnce | None = None,
        previews: PreviewJobs | None = None,
        inline_preview_friends: int = INLINE_PREVIEW_FRIENDS,
    ) -> None:
        self._broadcasts = broadcasts
        self._create_once = create_once
        self._ledger = ledger
        self._friends = friends
        self._config = config
        self._settings = settings
        self._jobs = jobs
        self._schedules = schedules
        self._clock = clock
        self._previews = previews
        self._inline_preview_friends = inline_preview_friends

    # ------------------------------------------------------------------ create
    def create(
        self, channel_id: str, request: BroadcastRequest, idempotency_key: str | None = None
    ) -> Broadcast:
        """Store it and queue its planning (or schedule it); once per idempotency key."""
        config = self._config(channel_id)
        method = self._check(request, config)
        new_id = new_broadcast_id(self._clock())
        if idempotency_key is None:
            return self._create(channel_id, request, method, new_id)
        if self._create_once is None:
            raise RuntimeError("this BroadcastService was built without an idempotency key store")
        return self._create_once.run(
            channel_id,
            idempotency_key,
            operation=CREATE,
            fingerprint=fingerprint(CREATE, request.model_dump(mode="json")),
            new_id=new_id,
            create=lambda broadcast_id: self._create(channel_id, request, method, broadcast_id),
            load=lambda broadcast_id: self._broadcasts.get(channel_id, broadcast_id),
        )

    def _create(
        self, channel_id: str, request: BroadcastRequest, method: SendMethod, broadcast_id: str
    ) -> Broadcast:
        now = self._clock()
        broadcast = self._broadcasts.get(channel_id, broadcast_id)
        if broadcast is None:
            broadcast = Broadcast(
                broadcast_id=broadcast_id,
                channel_id=channel_id,
                name=request.name,
                segment=request.segment,
                messages=request.messages,
                message_class=request.message_class,
                experiment=request.experiment,
                send_at=request.send_at,
                method=method,
                created_at=now,
                updated_at=now,
            )
            self._broadcasts.create(broadcast)
        elif broadcast.status != "scheduled":
            return broadcast  # an earlier attempt with this key got it going
        # Queued again by a retry after a crash: the planner ignores a second start step
        # and creating the same schedule twice is a no-op.
        if broadcast.send_at is not None and broadcast.send_at > now:
            self._schedules().schedule(start_job(broadcast), broadcast.send_at)
        else:
            self._jobs().send_step(step_of(broadcast))
        return broadcast

    def preview(
        self, channel_id: str, request: BroadcastRequest
    ) -> BroadcastPreview | PreviewJobStatus:
        """Who would get it now, what caps do, and the messages for a sample friend.

        Up to ``inline_preview_friends`` friends are counted here; a bigger channel's
        preview continues as a job from where this stopped (a ``PreviewJobStatus``).
        """
        config = self._config(channel_id)
        method = self._check(request, config)
        segment = _compile(request, config)
        at = request.send_at or self._clock()
        tally = _Tally()
        friends = self._friends.walk(channel_id)
        last: str | None = None
        for friend in islice(friends, self._inline_preview_friends):
            self._count(tally, friend, request, config, segment, at)
            last = friend.user_id
        more = tally.considered == self._inline_preview_friends and next(friends, None)
        if not more or self._previews is None:
            return self._preview_of(channel_id, request, config, method, segment, at, tally)
        now = self._clock()
        job = PreviewJob(
            preview_id=new_broadcast_id(now),
            channel_id=channel_id,
            request=request,
            at=at,
            after_user_id=last,
            tally=tally,
            created_at=now,
            updated_at=now,
        )
        self._previews.put(job)
        self._jobs().send_step(PreviewStep(channel_id=channel_id, preview_id=job.preview_id))
        return job.status_view()

    def preview_job(self, channel_id: str, preview_id: str) -> PreviewJobStatus:
        job = self._previews.get(channel_id, preview_id) if self._previews else None
        if job is None:
            raise PreviewNotFound(channel_id, preview_id)
        return job.status_view()

    def run_preview_step(self, channel_id: str, preview_id: str, budget: StepBudget) -> StepOutcome:
        """Count the next pages of a preview job (and queue its next step if needed)."""
        job = self._previews.get(channel_id, preview_id) if self._previews else None
        if job is None or self._previews is None:
            return StepOutcome.MISSING
        if job.status != "running":
            return StepOutcome.FINISHED
        config = self._config(channel_id)
        try:
            method = self._check(job.request, config)
            segment = _compile(job.request, config)
        except BroadcastRejected as error:  # a tag or field removed meanwhile
            self._previews.put(self._updated(job, status="failed", reason=error.reason))
            return StepOutcome.FAILED
        tally, after = job.tally.model_copy(deep=True), job.after_user_id
        while budget.allows_more():
            budget.chunks += 1
            friends, more = self._friends.page_after(channel_id, after, PREVIEW_PAGE_SIZE)
            for friend in friends:
                self._count(tally, friend, job.request, config, segment, job.at)
            after = friends[-1].user_id if friends else after
            if not more or not friends:
                result = self._preview_of(
                    channel_id, job.request, config, method, segment, job.at, tally
                )
                self._previews.put(
                    self._updated(
                        job, status="done", tally=tally, after_user_id=after, result=result
                    )
                )
                return StepOutcome.DONE
        self._previews.put(self._updated(job, tally=tally, after_user_id=after))
        self._jobs().send_step(PreviewStep(channel_id=channel_id, preview_id=preview_id))
        return StepOutcome.CONTINUE

    def fail_preview(self, channel_id: str, preview_id: str, reason: str) -> None:
        job = self._previews.get(channel_id, preview_id) if self._previews else None
        if job is not None and job.status == "running" and self._previews is not None:
            self._previews.put(self._updated(job, status="failed", reason=reason[:1000]))

    def _updated(self, job: PreviewJob, **changes: Any) -> PreviewJob:
        return job.model_copy(update={**changes, "updated_at": self._clock()})

    def _preview_of(
        self,
        channel_id: str,
        request: BroadcastRequest,
        config: ChannelConfig,
        method: SendMethod,
        segment: CompiledSegment | None,
        at: datetime,
        tally: _Tally,
    ) -> BroadcastPreview:
        sample_messages = None
        if tally.sample:
            friend = self._friends.get(channel_id, tally.sample[0])
            if friend is not None:
                sample_messages = render(request.messages, friend)
        warnings = _warnings(tally, config, request, at)
        return BroadcastPreview(
            recipients=tally.recipients,
            friends_considered=tally.considered,
            not_in_segment=tally.not_in_segment,
            blocked=tally.blocked,
            capped=tally.capped,
            deferred=tally.deferred,
            over_limit=tally.over_limit,
            variants=(
                {v.name: tally.variants.get(v.name, 0) for v in request.experiment.variants}
                if request.experiment is not None
                else None
            ),
            held_out=tally.held_out,
            sample_user_ids=tally.sample,
            sample_messages=sample_messages,
            method=method,
            segment=segment.describe() if segment else None,
            warnings=warnings,
        )

    # ------------------------------------------------------------------ cancel
    def cancel(self, channel_id: str, broadcast_id: str) -> Broadcast:
        """Stop it: no further chunks are planned and queued ones are skipped."""
        for _ in range(5):
            broadcast = self.get(channel_id, broadcast_id)
            if broadcast.status not in ("scheduled", "sending"):
                raise BroadcastNotCancellable(
                    f"broadcast {broadcast_id} is {broadcast.status}; only a scheduled or "
                    "sending broadcast can be cancelled"
                )
            cancelled = broadcast.model_copy(
                update={"status": "cancelled", "reason": "cancelled", "updated_at": self._clock()}
            )
            try:
                saved = self._broadcasts.save(cancelled, expected_version=broadcast.version)
            except BroadcastChanged:
                continue  # a planner step moved it meanwhile: look again
            if broadcast.status == "scheduled":
                self._schedules().cancel(start_job(broadcast).job_id)
            now = self._clock()
            for chunk in range(saved.cursor.next_chunk):
                self._ledger.mark_skipped(
                    chunk_delivery_id(broadcast_id, chunk), "broadcast cancelled", now
                )
            return saved
        raise BroadcastNotCancellable("the broadcast keeps changing; try again")

    # ------------------------------------------------------------------ reads
    def get(self, channel_id: str, broadcast_id: str) -> Broadcast:
        broadcast = self._broadcasts.get(channel_id, broadcast_id)
        if broadcast is None:
            raise BroadcastNotFound(channel_id, broadcast_id)
        return broadcast

    def report(self, channel_id: str, broadcast_id: str) -> BroadcastReport:
        broadcast = self.get(channel_id, broadcast_id)
        ids = [chunk_delivery_id(broadcast_id, n) for n in range(broadcast.cursor.next_chunk)]
        deliveries = self._ledger.get_many(ids).values()
        by_status = Counter(d.status.value for d in deliveries)
        recipients: Counter[str] = Counter()
        for delivery in deliveries:
            recipients[delivery.status.value] += len(delivery.recipients)
        return BroadcastReport(
            broadcast=broadcast,
            deliveries=dict(by_status),
            recipients_by_status=dict(recipients),
        )

    def recent(self, channel_id: str, limit: int = 20) -> list[Broadcast]:
        return self._broadcasts.recent(channel_id, limit)

    # ------------------------------------------------------------------ policy
    def delivery_policy(self, channel_id: str) -> DeliveryPolicy:
        return self._config(channel_id).delivery_policy

    def set_delivery_policy(self, channel_id: str, policy: DeliveryPolicy) -> DeliveryPolicy:
        self._settings.set_setting(channel_id, "delivery_policy", policy.model_dump(mode="json"))
        return policy

    # ------------------------------------------------------------------ helpers
    def _check(self, request: BroadcastRequest, config: ChannelConfig) -> SendMethod:
        personalised = False
        for where, messages in _message_lists(request):
            try:
                personalised = personalised or bool(placeholders(messages))
                check_fields(messages, config.fields.keys())
                # Lengths as the shortest rendering; each friend's is checked when planned.
                validate_messages(shortest_rendering(messages))
            except ValueError as error:
                raise BroadcastRejected(where, str(error)) from error
        _compile(request, config)
        now = self._clock()
        if request.send_at is not None:
            if request.send_at.tzinfo is None:
                raise BroadcastRejected("send_at", "give a time zone (e.g. +09:00 or Z)")
            policy = config.delivery_policy
            if request.send_at < now - PAST_SEND_AT_TOLERANCE:
                # A typo'd date must not become "send now": omitting send_at says that.
                raise BroadcastRejected(
                    "send_at",
                    f"{policy.local_time(request.send_at)} is in the past (now is "
                    f"{policy.local_time(now)}); omit send_at to send now",
                )
            if request.send_at > now + MAX_SCHEDULE_AHEAD:
                raise BroadcastRejected("send_at", "at most a year ahead")
        everyone_same = (
            request.segment is None
            and request.experiment is None
            and not personalised
            and (
                request.message_class == "transactional"
                or config.delivery_policy.marketing_caps is None
            )
        )
        if request.method == "broadcast" and not everyone_same:
            raise BroadcastRejected(
                "method",
                "LINE's broadcast endpoint sends one message to every friend: it cannot "
                "take a segment, personalised messages, A/B variants or frequency caps; "
                "use multicast",
            )
        if request.method == "multicast" or not everyone_same:
            return "multicast"
        return "broadcast"

    def _count(
        self,
        tally: _Tally,
        friend: Friend,
        request: BroadcastRequest,
        config: ChannelConfig,
        segment: CompiledSegment | None,
        at: datetime,
    ) -> None:
        policy = config.delivery_policy
        tally.considered += 1
        if friend.status != "active":
            tally.blocked += 1
        elif segment is not None and not segment.matches(friend, at):
            tally.not_in_segment += 1
        elif (variant := _preview_variant(request, friend)) == HOLDOUT_VARIANT:
            tally.held_out += 1
        elif (
            reason := over_limit_reason(render(messages, friend))
            if is_personalised(messages := _messages_of(request, variant))
            else None
        ) is not None:
            tally.over_limit += 1  # as the planner does: skipped before the caps
            if tally.over_limit_example is None:
                tally.over_limit_example = f"{friend.user_id}: {reason}"
        else:
            decision = policy.decide(
                request.message_class, at, sent_counts(policy, friend, "bc:preview", at)
            )
            if isinstance(decision, SendNow):
                tally.recipients += 1
                if len(tally.sample) < SAMPLE_SIZE:
                    tally.sample.append(friend.user_id)
            elif isinstance(decision, Defer) and "quiet" not in decision.reason:
                tally.deferred += 1
            elif isinstance(decision, Defer):
                tally.recipients += 1  # the whole broadcast waits for the morning
            else:
                tally.capped += 1
            if variant is not None and (
                isinstance(decision, SendNow)
                or (isinstance(decision, Defer) and "quiet" in decision.reason)
            ):
                tally.variants[variant] = tally.variants.get(variant, 0) + 1


def _message_lists(request: BroadcastRequest) -> list[tuple[str, list[dict[str, Any]]]]:
    """Every message list the request may send, with where it is (for a 4xx)."""
    found = [("messages", request.messages)]
    if request.experiment is not None:
        for index, variant in enumerate(request.experiment.variants):
            if variant.messages is not None:
                found.append((f"experiment.variants[{index}].messages", variant.messages))
    return found


def _preview_variant(request: BroadcastRequest, friend: Friend) -> str | None:
    if request.experiment is None:
        return None
    return request.experiment.assign(PREVIEW_CAMPAIGN, friend.user_id)


def _messages_of(request: BroadcastRequest, variant: str | None) -> list[dict[str, Any]]:
    if request.experiment is None or variant is None:
        return request.messages
    return request.experiment.messages_of(variant, request.messages) or request.messages


def _compile(request: BroadcastRequest, config: ChannelConfig) -> CompiledSegment | None:
    if request.segment is None:
        return None
    try:
        return compile_segment(
            request.segment,
            config.tags,
            config.fields,
            time_zone=config.delivery_policy.time_zone,
            saved=config.segments,
        )
    except ValueError as error:
        raise BroadcastRejected("segment", str(error)) from error


def _warnings(
    tally: _Tally, config: ChannelConfig, request: BroadcastRequest, at: datetime
) -> list[str]:
    warnings = list(
        audience_warnings(
            tally.recipients, subject="broadcast", segmented=request.segment is not None
        )
    )
    policy = config.delivery_policy
    if request.message_class == "marketing" and policy.is_quiet(at):
        resume = policy.local_time(policy.next_allowed_time(at))
        warnings.append(f"quiet hours at that time: it will go out at {resume}")
    if any(is_personalised(messages) for _, messages in _message_lists(request)):
        warnings.append(
            "personalised messages: friends with different rendered text get separate "
            "requests (one push each when every text differs)"
        )
        warnings.extend(limit_warnings(request.messages))
    if tally.over_limit:
        warnings.append(
            f"{tally.over_limit} friend(s) would be skipped: their rendered message is "
            f"over LINE's limit (e.g. {tally.over_limit_example})"
        )
    return warnings


def start_job(broadcast: Broadcast) -> StartBroadcast:
    return StartBroadcast(
        job_id=f"broadcast:{broadcast.channel_id}:{broadcast.broadcast_id}",
        channel_id=broadcast.channel_id,
        broadcast_id=broadcast.broadcast_id,
    )


def step_of(broadcast: Broadcast) -> BroadcastStep:
    return BroadcastStep(channel_id=broadcast.channel_id, broadcast_id=broadcast.broadcast_id)
