"""The step-scenario engine: enrolment, bucket fires, branches and exits.

Triggers enrol (``on_signal``, ``start``, ``enroll``); each pending step is on the due
index under its bucket (scenario, version, step, due minute), and one EventBridge
Scheduler schedule per bucket fires ``fire``. A fire re-reads every enrolment in the
bucket (still active? same version, step and bucket?), tests exits and the step's
condition on the friend as they are now, admits marketing messages through the
delivery policy, and sends identical rendered content as multicasts of up to 500
through the ledger and the send queue (deterministic delivery ids). Then it moves
each enrolment on and schedules the next buckets. A bucket of more than
``PART_SIZE`` enrolments is split into parts of ``PART_SIZE`` in user-id order, each
fired the same way on the job queue, in parallel (one multicast per part for
identical content, so ⌈N/500⌉ calls). A fire adds to the step counters once per
step it touched, not once per friend. See docs/scenarios.md.

Pure apart from the injected ports (repositories, planner, outbox, clock).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from linecrm.delivery.caps import MarketingCapGate
from linecrm.delivery.holdouts import Holdouts
from linecrm.domain.actions import (
    CrmAction,
    StartScenario,
    StopScenario,
)
from linecrm.domain.automation import ActionRunner, EventContext
from linecrm.domain.broadcasts import chunked
from linecrm.domain.campaigns import step_campaign
from linecrm.domain.channel_config import ChannelConfig
from linecrm.domain.delivery_policy import Defer, SendNow
from linecrm.domain.friends import Friend
from linecrm.domain.personalization import render
from linecrm.domain.segments import compile_segment
from linecrm.domain.signals import (
    BehaviourEvent,
    Blocked,
    FieldSet,
    Followed,
    FriendSignal,
    IdLinked,
    MessageReceived,
    PostbackReceived,
    TagAdded,
    TagRemoved,
    Unlinked,
)
from linecrm.domain.stats import HOLDOUT_VARIANT
from linecrm.domain.tags import UnknownTag
from linecrm.models.jobs import BucketPart, FireScenarioStep
from linecrm.models.send import (
    MAX_MULTICAST_RECIPIENTS,
    REPLY_TOKEN_MARGIN_SECONDS,
    SendRequest,
)
from linecrm.repositories.deliveries import DeliveryLedger
from linecrm.repositories.dynamo import ConditionalUpdate
from linecrm.repositories.enrollments import Enrollment, EnrollmentRepository, Pending
from linecrm.repositories.friends import FriendRepository
from linecrm.repositories.scenario_fires import ScenarioFireRepository
from linecrm.repositories.scenarios import ScenarioHead, ScenarioRepository, ScenarioVersion
from linecrm.scenarios.model import (
    BlockedExit,
    Branch,
    EventExit,
    EventTrigger,
    FieldSetTrigger,
    FollowTrigger,
    IdLinkedTrigger,
    PostbackBranch,
    PostbackTrigger,
    ReEntry,
    ScenarioDefinition,
    Step,
    TagAddedTrigger,
    TagBranch,
    TagExit,
    Trigger,
    UnlinkedExit,
    parse_duration,
)

# A friend's preferred send hour (0-23) for day-N steps without a time: this field.
PREFERRED_HOUR_FIELD = "preferred_send_hour"
CATALOG_TTL = timedelta(seconds=30)
# A bucket's schedule fires this long after its minute: the due index is a GSI, read
# eventually consistently, and an enrolment written in the last instant of the minute
# before must be on it when the fire reads the bucket (GSIs catch up within a second).
DUE_INDEX_SETTLE = timedelta(seconds=5)
# A bucket is overdue for the sweeper this long after its minute.
SWEEP_GRACE = timedelta(minutes=3)
# Enrolments one invocation fires; a bigger bucket is split into parts of this many
# (one multicast each): 500 friends take a few seconds of DynamoDB writes.
PART_SIZE = MAX_MULTICAST_RECIPIENTS
_RE_ENTRY_FROM: dict[ReEntry, tuple[Any, ...]] = {
    "never": (),
    "after_completion": ("completed", "exited", "stopped"),
    "always": ("active", "completed", "exited", "stopped"),
}


class JobPlanner(Protocol):
    def schedule(self, job: Any, at: datetime) -> str: ...


class Outbox(Protocol):
    def enqueue(self, request: SendRequest) -> bool: ...
    def put_on_queue(self, request: SendRequest) -> None: ...


class StepQueue(Protocol):
    def send_steps(self, steps: Sequence[Any]) -> None: ...


Tally = Counter[tuple[str, str]]
"""(step id, counter name) -> how much a fire adds to it."""


def minute_of(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")


def bucket_minute(due: datetime, now: datetime) -> datetime:
    """The bucket of a step due at ``due``: the next whole minute at or after it, and
    always after ``now``'s minute, so a bucket that may have fired already is never
    joined (a step goes out at most 60 s after its due time)."""
    due = due.astimezone(UTC)
    start = due.replace(second=0, microsecond=0)
    if start < due:
        start += timedelta(minutes=1)
    earliest = now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    return max(start, earliest)


def parse_minute(minute: str) -> datetime:
    return datetime.strptime(minute, "%Y-%m-%dT%H:%M").replace(tzinfo=UTC)


def parse_time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass
class FireReport:
    outcome: str
    counts: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.outcome, **dict(sorted(self.counts.items()))}


@dataclass(frozen=True)
class _Entry:
    """The write that enrols one friend, and where it puts them."""

    update: ConditionalUpdate
    step: Step  # the first step
    minute: datetime  # its bucket
    refused: str  # the reason when the write's condition fails (re-entry)


@dataclass(frozen=True)
class _Move:
    """How one enrolment moves on after a fire's decision: the conditional write, the
    report's counter, and what to count and schedule once the write applied."""

    update: ConditionalUpdate
    counter: str
    counts: tuple[tuple[str, str], ...]  # (step id, counter) to add
    schedules: tuple[tuple[int, str, datetime], ...] = ()  # (version, step id, minute)
    actions: tuple[CrmAction, ...] = ()  # the sent step's actions, run once it moved


@dataclass(frozen=True)
class _Decision:
    kind: str  # send | skip | exit | defer | stale
    reason: str = ""
    messages: list[dict[str, Any]] | None = None
    until: datetime | None = None
    variant: str | None = None  # the friend's A/B variant of the step

    @property
    def held_out(self) -> bool:
        return self.kind == "skip" and self.reason == HOLDOUT_REASON


class ClickedLookup(Protocol):
    def clicked(self, channel_id: str, campaign: str, user_ids: Iterable[str]) -> set[str]: ...


class ScenarioEngine:
    def __init__(
        self,
        scenarios: ScenarioRepository,
        enrollments: EnrollmentRepository,
        fires: ScenarioFireRepository,
        friends: FriendRepository,
        ledger: DeliveryLedger,
        config: Callable[[str], ChannelConfig],
        outbox: Callable[[], Outbox],
        planner: Callable[[], JobPlanner],
        actions: Callable[[], ActionRunner],
        clock: Callable[[], datetime],
        steps: Callable[[], StepQueue],
        track_links: Callable[[SendRequest], SendRequest] | None = None,
        clicks: ClickedLookup | None = None,
        holdouts: Holdouts | None = None,
    ) -> None:
        self._scenarios = scenarios
        self._enrollments = enrollments
        self._fires = fires
        self._friends = friends
        self._ledger = ledger
        self._config = config
        self._outbox = outbox
        self._planner = planner
        self._actions = actions
        self._clock = clock
        self._steps = steps
        # Tracked links (linecrm.tracking.links): same content in, same content out.
        self._track = track_links or (lambda request: request)
        self._clicks = clicks  # None: no click markers (nobody clicked)
        self._holdouts = holdouts
        self._gate = MarketingCapGate(friends)
        self._scheduled: set[str] = set()  # bucket jobs this environment created
        self._catalog: dict[
            str, tuple[datetime, bool, list[tuple[ScenarioHead, ScenarioDefinition]]]
        ] = {}

    # ================================================================ enrolment
    def start(self, channel_id: str, user_id: str, scenario_id: str, at: datetime) -> bool:
        """The ``start_scenario`` action (rules, postbacks): enrol now. A scenario that
        is not defined yet is recorded as before (no step pending), so a rule written
        before its scenario loses nothing that can be seen."""
        if self._scenarios.head(channel_id, scenario_id) is None:
            return self._enrollments.start(channel_id, user_id, scenario_id, at)
        # Timed from linecrm's clock, as signals are (``at`` is the event's timestamp).
        return self.enroll(channel_id, user_id, scenario_id, self._clock()).startswith("enrolled")

    def stop(self, channel_id: str, user_id: str, scenario_id: str, at: datetime) -> bool:
        """The ``stop_scenario`` action: end it, and its pending step is not sent."""
        enrollment = self._enrollments.get(channel_id, user_id, scenario_id)
        stopped = self._enrollments.stop(channel_id, user_id, scenario_id, at)
        if stopped and enrollment is not None and enrollment.step_id is not None:
            self._count(enrollment, enrollment.step_id, "exited:stop_scenario")
        return stopped

    def enroll(
        self,
        channel_id: str,
        user_id: str,
        scenario_id: str,
        at: datetime,
        *,
        reply_token: str | None = None,
        event_at: datetime | None = None,
        friend: Friend | None = None,
    ) -> str:
        """Enrol one friend at the first step of the scenario's current version; a note
        says what happened (``enrolled …``, or why not)."""
        current = self._scenarios.current(channel_id, scenario_id)
        if current is None or current.head.status != "active":
            return _not_enrollable(scenario_id, current)
        if friend is None:
            friend = self._friends.get(channel_id, user_id)
        entry = self._entry(current, channel_id, user_id, at, friend)
        if not self._enrollments.write(entry.update):
            return f"not enrolled in {scenario_id}: {entry.refused}"
        self._scenarios.count(
            channel_id, scenario_id, entry.step.id, {"enrolled": 1, "due": 1}, shard_by=user_id
        )
        version, first, minute = current.head.version, entry.step, entry.minute
        if reply_token is not None and first.timing.is_immediate and friend is not None:
            # The free first step: answer the follow (or message) with its reply token.
            pending = Pending(version, first.id, minute_of(minute))
            self._send_now(
                current.definition, version, first, friend, pending, event_at or at, reply_token
            )
            return f"enrolled in {scenario_id} v{version}; {first.id} replied"
        self._ensure_schedule(channel_id, scenario_id, version, first.id, minute)
        return f"enrolled in {scenario_id} v{version}; {first.id} due {minute_of(minute)}"

    def enroll_many(
        self,
        channel_id: str,
        scenario_id: str,
        friends: Sequence[Friend],
        *,
        at: datetime | None = None,
    ) -> Counter[str]:
        """Enrol friends by hand (a segment): how many were enrolled or not, and why.
        The scenario is read once; the enrolments are written 100 per call, and the
        counters once. ``at``: the instant they are enrolled as of (default now; a
        segment enrolment job gives its request's, the same for each of its pages)."""
        counts: Counter[str] = Counter()
        current = self._scenarios.current(channel_id, scenario_id)
        if current is None or current.head.status != "active":
            counts[_not_enrollable(scenario_id, current).split(": ", 1)[-1]] = len(friends)
            return counts
        at = at or self._clock()
        entries = [self._entry(current, channel_id, f.user_id, at, f) for f in friends]
        tally: Tally = Counter()
        applied = self._enrollments.write_many([entry.update for entry in entries])
        for entry, entered in zip(entries, applied, strict=True):
            if not entered:
                counts[entry.refused] += 1
                continue
            counts["enrolled"] += 1
            tally.update({(entry.step.id, "enrolled"): 1, (entry.step.id, "due"): 1})
            self._ensure_schedule(
                channel_id, scenario_id, current.head.version, entry.step.id, entry.minute
            )
        shard = friends[0].user_id if friends else ""
        self._add_counts(channel_id, scenario_id, tally, shard_by=shard)
        return counts

    def _entry(
        self,
        current: ScenarioVersion,
        channel_id: str,
        user_id: str,
        at: datetime,
        friend: Friend | None,
    ) -> _Entry:
        """The write that enrols one friend at the first step, due in its bucket."""
        definition = current.definition
        first = definition.steps[0]
        due = first.timing.due_at(
            enrolled_at=at,
            previous_at=at,
            zone=self._zone(channel_id),
            preferred_hour=preferred_hour(friend),
        )
        minute = bucket_minute(due, self._clock())
        update = self._enrollments.entering(
            channel_id,
            user_id,
            definition.id,
            version=current.head.version,
            step_id=first.id,
            due_minute=minute_of(minute),
            at=at,
            allowed_from=_RE_ENTRY_FROM[definition.re_entry],
        )
        return _Entry(update, first, minute, f"re-entry is {definition.re_entry}")

    # ================================================================ signals
    def on_signal(self, signal: FriendSignal) -> Sequence[str]:
        """Exits first (they end enrolments), then branches, then triggers."""
        if isinstance(signal, MessageReceived | TagRemoved):
            # Nothing in a scenario reacts to these (yet): keep the webhook's text
            # message path within its DynamoDB budget (no reads for them).
            return []
        notes: list[str] = []
        if not self._catalog_of(signal.channel_id)[0]:
            return []  # no scenario in this channel: no enrolment to read (webhook budget)
        enrollments = [
            e for e in self._enrollments.of_friend(signal.channel_id, signal.user_id) if e.is_active
        ]
        for enrollment in enrollments:
            definition = self._definition_of(enrollment)
            if definition is None:
                continue
            reason = self._exit_reason(definition, signal)
            if reason is not None:
                ending = self._enrollments.ending(
                    enrollment.channel_id,
                    enrollment.user_id,
                    enrollment.scenario_id,
                    status="exited",
                    reason=reason,
                    at=self._clock(),
                )
                if self._enrollments.write(ending):
                    self._count(
                        enrollment,
                        enrollment.step_id or enrollment.last_step_id,
                        f"exited:{reason}",
                    )
                    notes.append(f"scenario {enrollment.scenario_id} exited ({reason})")
                continue
            moved = self._branch(definition, enrollment, signal)
            if moved is not None:
                notes.append(moved)
        for head, definition in self._active_scenarios(signal.channel_id):
            if self._triggered(definition, signal):
                # Timed from when linecrm applies the signal (its clock), not from the
                # sender's timestamp: a redelivered event must not start in the past.
                note = self.enroll(
                    signal.channel_id,
                    signal.user_id,
                    head.scenario_id,
                    self._clock(),
                    reply_token=signal.reply_token,
                    event_at=signal.occurred_at,
                )
                notes.append(f"scenario {head.scenario_id}: {note}")
        return notes

    def _exit_reason(self, definition: ScenarioDefinition, signal: FriendSignal) -> str | None:
        if isinstance(signal, Blocked):
            return "blocked"  # a blocked friend can receive nothing: always an exit
        for condition in definition.exit_when:
            if isinstance(condition, EventExit) and isinstance(signal, BehaviourEvent):
                if condition.matches(signal.name, dict(signal.properties)):
                    return f"event:{signal.name}"
            elif isinstance(condition, TagExit) and isinstance(signal, TagAdded):
                if condition.tag in (signal.tag_id, signal.tag_name):
                    return f"tag:{signal.tag_name}"
            elif isinstance(condition, UnlinkedExit) and isinstance(signal, Unlinked):
                return "unlinked"
            elif isinstance(condition, BlockedExit) and isinstance(signal, Blocked):
                return "blocked"
        return None

    @staticmethod
    def _triggered(definition: ScenarioDefinition, signal: FriendSignal) -> bool:
        return any(_trigger_matches(trigger, signal) for trigger in definition.triggers)

    def _branch(
        self, definition: ScenarioDefinition, enrollment: Enrollment, signal: FriendSignal
    ) -> str | None:
        """A tap or tag answering the step last sent moves the friend to its target."""
        if enrollment.last_step_id is None or enrollment.version is None:
            return None
        step = definition.step(enrollment.last_step_id)
        if step is None:
            return None
        target_id = next(
            (branch.goto for branch in step.branches if _branch_matches(branch, signal)), None
        )
        target = definition.step(target_id) if target_id else None
        if target is None or target.id == enrollment.step_id:
            return None
        now = self._clock()
        friend = self._friends.get(enrollment.channel_id, enrollment.user_id)
        due = self._due_of(target, enrollment, friend, previous_at=now)
        minute = bucket_minute(due, now)
        if not self._enrollments.move_to(
            enrollment.channel_id,
            enrollment.user_id,
            enrollment.scenario_id,
            version=enrollment.version,
            from_step=enrollment.step_id,
            from_last=enrollment.last_step_id,
            step_id=target.id,
            due_minute=minute_of(minute),
            at=now,
        ):
            return None
        self._count(enrollment, target.id, "due")
        self._count(enrollment, step.id, f"branched:{target.id}")
        self._ensure_schedule(
            enrollment.channel_id, enrollment.scenario_id, enrollment.version, target.id, minute
        )
        return f"scenario {enrollment.scenario_id}: branch to {target.id} due {minute_of(minute)}"

    # ================================================================ the fire
    def fire(self, job: FireScenarioStep) -> FireReport:
        """Send one bucket's step. Safe to repeat at any point (see the module doc)."""
        state = self._fires.state(job)
        if state.done:
            return FireReport("already_done")
        head = self._scenarios.head(job.channel_id, job.scenario_id)
        definition = self._scenarios.version(job.channel_id, job.scenario_id, job.version)
        step = definition.step(job.step_id) if definition is not None else None
        now = self._clock()
        if head is None or definition is None or step is None:
            self._finish(job, now)
            return FireReport("no_such_step")
        if head.status == "paused" and not state.planned:
            # Nothing moves: the bucket stays in the sweeper's list, which fires it again
            # once the scenario is resumed (within its period plus the grace).
            return FireReport("paused")
        between = (job.part.first, job.part.last) if job.part is not None else None
        user_ids = sorted(
            set(
                self._enrollments.due_in(
                    job.channel_id,
                    job.scenario_id,
                    job.version,
                    job.step_id,
                    job.minute,
                    between=between,
                )
            )
        )
        if job.part is None and (state.parts or (not state.planned and len(user_ids) > PART_SIZE)):
            return self._split(job, user_ids, state.planned, now)
        config = self._config(job.channel_id)
        enrollments = self._enrollments.get_many(job.channel_id, job.scenario_id, user_ids)
        friends = self._friends.get_many(job.channel_id, user_ids)
        pending = Pending(job.version, job.step_id, job.minute)
        clickers = self._clickers(job.channel_id, definition, step, user_ids)
        decisions: dict[str, _Decision] = {}
        for user_id in user_ids:
            enrollment = enrollments.get(user_id)
            if enrollment is None or not _is_pending(enrollment, pending):
                decisions[user_id] = _Decision("stale")
            elif head.status == "archived":
                decisions[user_id] = _Decision("exit", "archived")
            else:
                decisions[user_id] = self._decide(
                    definition, step, friends.get(user_id), config, job, now, clickers
                )
        report = FireReport("fired")
        if not state.planned:
            chunks = self._plan_chunks(job, definition, decisions, now)
            if not self._fires.mark_planned(job, len(chunks), now):
                return FireReport("lost_race")
            state = self._fires.state(job)
        chunk_recipients = self._enqueue_chunks(job, state.chunks, now, already=state.enqueued)
        tally: Tally = Counter()
        moves: list[tuple[Enrollment, _Move]] = []
        for user_id in user_ids:
            decision = decisions[user_id]
            if user_id in chunk_recipients:
                decision = _Decision("send")
            elif decision.kind == "send" and decision.messages:
                # Not in the plan a previous fire made: it was not due then.
                decision = _Decision("skip", "not in the planned send")
            enrollment = enrollments.get(user_id)
            if enrollment is None or decision.kind == "stale":
                report.counts["stale"] += 1
                continue
            move = self._move_of(
                definition, step, enrollment, friends.get(user_id), decision, pending, now
            )
            moves.append((enrollment, move))
        applied = self._enrollments.write_many([move.update for _, move in moves])
        for (enrollment, move), moved in zip(moves, applied, strict=True):
            report.counts[self._settle(enrollment, move, moved, tally, now)] += 1
        # Held out of an A/B step: recorded for the moves that applied (once: a second
        # copy of the fire finds those enrolments moved on).
        self._record_holdout(
            job.channel_id,
            step_campaign(job.scenario_id, job.step_id),
            [
                enrollment.user_id
                for (enrollment, _), moved in zip(moves, applied, strict=True)
                if moved and decisions[enrollment.user_id].held_out
            ],
            now,
        )
        # One write per step touched (a crash before it loses this fire's counts: the
        # enrolments have moved on, so a retry finds them stale; see docs/scenarios.md).
        self._add_counts(job.channel_id, job.scenario_id, tally, shard_by=job.job_id)
        self._finish(job, now)
        return report

    def _split(
        self, job: FireScenarioStep, user_ids: list[str], planned: bool, now: datetime
    ) -> FireReport:
        """Fire a big bucket in parts on the job queue: each part is listed for the
        sweeper before it is queued, and the bucket is done once all are."""
        if not planned:
            parts = [
                BucketPart(index=index, first=chunk[0], last=chunk[-1])
                for index, chunk in enumerate(chunked(user_ids, PART_SIZE))
            ]
            if not self._fires.mark_planned(job, 0, now, parts=parts):
                return FireReport("lost_race")
        state = self._fires.state(job)
        jobs = [job.in_part(part) for part in state.parts]
        if not state.enqueued:
            self._fires.register_many(jobs)
            self._steps().send_steps(jobs)
            self._fires.mark(job, "enqueued", now)
        self._finish(job, now)
        return FireReport("split", Counter({"parts": len(jobs)}))

    def _decide(
        self,
        definition: ScenarioDefinition,
        step: Step,
        friend: Friend | None,
        config: ChannelConfig,
        job: FireScenarioStep,
        now: datetime,
        clickers: set[str] | None = None,
    ) -> _Decision:
        if friend is None:
            return _Decision("exit", "friend deleted")
        if friend.status != "active":
            return _Decision("exit", "blocked")
        for condition in definition.exit_when:
            if isinstance(condition, TagExit):
                try:
                    tag_id = config.tags.resolve(condition.tag).tag_id
                except UnknownTag:
                    continue
                if tag_id in friend.tags:
                    return _Decision("exit", f"tag:{condition.tag}")
        if step.condition is not None:
            segment = compile_segment(
                {"match": step.condition},
                config.tags,
                config.fields,
                time_zone=config.delivery_policy.time_zone,
            )
            if not segment.matches(friend, now):
                return _Decision("skip", "condition")
        if step.if_clicked is not None:
            if clickers is None:
                clickers = self._clickers(friend.channel_id, definition, step, [friend.user_id])
            if (friend.user_id in (clickers or set())) != step.if_clicked.clicked:
                return _Decision("skip", "condition")
        if not step.messages:
            return _Decision("send", messages=[])
        variant: str | None = None
        source = step.messages
        if step.experiment is not None:
            variant = step.experiment.assign(step_campaign(definition.id, step.id), friend.user_id)
            if variant == HOLDOUT_VARIANT:  # nothing sent; the scenario goes on
                return _Decision("skip", HOLDOUT_REASON, variant=variant)
            source = step.experiment.messages_of(variant, step.messages) or step.messages
        messages = render(source, friend)
        policy = config.delivery_policy
        key = _delivery_key(job.channel_id, job.scenario_id, job.version, step.id, job.minute)
        decision = self._gate.admit(policy, friend, key, definition.message_class, now)
        if isinstance(decision, Defer):
            return _Decision("defer", decision.reason, until=decision.until)
        if not isinstance(decision, SendNow):
            return _Decision("skip", decision.reason)
        return _Decision("send", messages=messages, variant=variant)

    def _clickers(
        self,
        channel_id: str,
        definition: ScenarioDefinition,
        step: Step,
        user_ids: Iterable[str],
    ) -> set[str] | None:
        """Who of ``user_ids`` clicked a link of the step ``step.if_clicked`` names (None
        when the step has no such condition)."""
        if step.if_clicked is None:
            return None
        if self._clicks is None:
            return set()
        campaign = step_campaign(definition.id, step.if_clicked.step)
        return self._clicks.clicked(channel_id, campaign, user_ids)

    def _plan_chunks(
        self,
        job: FireScenarioStep,
        definition: ScenarioDefinition,
        decisions: dict[str, _Decision],
        now: datetime,
    ) -> list[SendRequest]:
        """Identical content -> multicasts of ≤ 500, recorded in the ledger (queued)."""
        # Keyed by (variant, content): a variant's identical content is one multicast.
        groups: dict[tuple[str, str], tuple[list[dict[str, Any]], list[str]]] = {}
        for user_id, decision in decisions.items():
            if decision.kind == "send" and decision.messages:
                content = json.dumps(decision.messages, ensure_ascii=False, sort_keys=True)
                key = (decision.variant or "", content)
                groups.setdefault(key, (decision.messages, []))[1].append(user_id)
        requests: list[SendRequest] = []
        prefix = _chunk_prefix(job)
        for (variant, _), (messages, user_ids) in sorted(groups.items()):
            for start in range(0, len(user_ids), MAX_MULTICAST_RECIPIENTS):
                request = self._track(
                    SendRequest(
                        delivery_id=f"{prefix}:{len(requests)}",
                        channel_id=job.channel_id,
                        to=sorted(user_ids)[start : start + MAX_MULTICAST_RECIPIENTS],
                        messages=messages,
                        cause="step",
                        campaign=step_campaign(job.scenario_id, job.step_id),
                        variant=variant or None,
                        message_class=definition.message_class,
                    )
                )
                self._ledger.record_queued(request, now)
                requests.append(request)
        return requests

    def _enqueue_chunks(
        self, job: FireScenarioStep, chunks: int, now: datetime, *, already: bool
    ) -> set[str]:
        """Put the planned chunks on the send queue (unless a previous fire did); the
        recipients of every chunk."""
        from linecrm.domain.deliveries import request_of

        prefix = _chunk_prefix(job)
        recipients: set[str] = set()
        for index in range(chunks):
            delivery = self._ledger.get(f"{prefix}:{index}")
            if delivery is None:
                continue
            recipients.update(delivery.recipients)
            if not already and not delivery.status.is_terminal:
                self._outbox().put_on_queue(request_of(delivery))
        if not already:
            self._fires.mark(job, "enqueued", now)
        return recipients

    def _move_of(
        self,
        definition: ScenarioDefinition,
        step: Step,
        enrollment: Enrollment,
        friend: Friend | None,
        decision: _Decision,
        pending: Pending,
        now: datetime,
    ) -> _Move:
        """How one enrolment moves on after its step's decision (not yet written)."""
        channel_id, user_id, scenario_id = (
            enrollment.channel_id,
            enrollment.user_id,
            enrollment.scenario_id,
        )
        if decision.kind == "exit":
            counter = f"exited:{decision.reason}"
            update = self._enrollments.ending(
                channel_id, user_id, scenario_id, status="exited", reason=decision.reason, at=now
            )
            return _Move(update, counter, ((step.id, counter),))
        if decision.kind == "defer" and decision.until is not None:
            minute = bucket_minute(decision.until, now)
            update = self._enrollments.advancing(
                channel_id,
                user_id,
                scenario_id,
                pending,
                sent_step_id=None,
                at=now,
                next_step=(step.id, minute_of(minute)),
            )
            tally = ((step.id, f"deferred:{decision.reason}"),)
            return _Move(update, "deferred", tally, ((pending.version, step.id, minute),))
        counter = "sent" if decision.kind == "send" else f"skipped:{decision.reason}"
        # A sent step's actions run after its move applied (``_settle``): a second copy
        # of the fire, which finds the enrolment moved, runs them not again.
        actions = tuple(step.actions) if decision.kind == "send" and friend is not None else ()
        nxt, due = self._next_of(definition, step, enrollment, friend, now)
        next_minute = bucket_minute(due, now) if due is not None else None
        update = self._enrollments.advancing(
            channel_id,
            user_id,
            scenario_id,
            pending,
            sent_step_id=step.id,
            at=now,
            next_step=(nxt.id, minute_of(next_minute))
            if nxt is not None and next_minute is not None
            else None,
            wait_for_branch=nxt is None and bool(step.branches),
        )
        if nxt is not None and next_minute is not None:
            return _Move(
                update,
                counter,
                ((step.id, counter), (nxt.id, "due")),
                ((pending.version, nxt.id, next_minute),),
                actions,
            )
        ended = () if step.branches else ((step.id, "completed"),)
        return _Move(update, counter, ((step.id, counter), *ended), (), actions)

    def _settle(
        self, enrollment: Enrollment, move: _Move, moved: bool, tally: Tally, now: datetime
    ) -> str:
        """After the move's write: if it moved, run the sent step's actions, count it
        and schedule its next bucket; the report's counter."""
        if not moved:
            return "stale"
        if move.actions:
            self._run_actions(list(move.actions), enrollment, now)
        tally.update(move.counts)
        for version, step_id, minute in move.schedules:
            self._ensure_schedule(
                enrollment.channel_id, enrollment.scenario_id, version, step_id, minute
            )
        return move.counter

    def _next_of(
        self,
        definition: ScenarioDefinition,
        step: Step,
        enrollment: Enrollment,
        friend: Friend | None,
        now: datetime,
    ) -> tuple[Step | None, datetime | None]:
        if step.reminder is not None:
            return definition.step(step.reminder.goto), now + parse_duration(step.reminder.after)
        nxt = definition.next_step(step.id)
        if nxt is None:
            return None, None
        return nxt, self._due_of(nxt, enrollment, friend, previous_at=now)

    def _due_of(
        self, step: Step, enrollment: Enrollment, friend: Friend | None, *, previous_at: datetime
    ) -> datetime:
        enrolled_at = parse_time(enrollment.enrolled_at) or previous_at
        return step.timing.due_at(
            enrolled_at=enrolled_at,
            previous_at=previous_at,
            zone=self._zone(enrollment.channel_id),
            preferred_hour=preferred_hour(friend),
        )

    def _send_now(
        self,
        definition: ScenarioDefinition,
        version: int,
        step: Step,
        friend: Friend,
        pending: Pending,
        at: datetime,
        reply_token: str,
    ) -> None:
        """One friend's zero-delay first step, with the reply token (push after it expires)."""
        now = self._clock()
        config = self._config(friend.channel_id)
        job = FireScenarioStep(
            job_id="reply",
            channel_id=friend.channel_id,
            scenario_id=definition.id,
            version=version,
            step_id=step.id,
            minute=pending.due_minute,
        )
        decision = self._decide(definition, step, friend, config, job, now)
        enrollment = self._enrollments.get(friend.channel_id, friend.user_id, definition.id)
        if enrollment is None:
            return
        if decision.kind == "send" and decision.messages:
            key = _delivery_key(
                friend.channel_id, definition.id, version, step.id, pending.due_minute
            )
            self._outbox().enqueue(
                self._track(
                    SendRequest(
                        delivery_id=f"{key}:{friend.user_id}:{enrollment.entries}",
                        channel_id=friend.channel_id,
                        to=[friend.user_id],
                        messages=decision.messages,
                        cause="step",
                        campaign=step_campaign(definition.id, step.id),
                        variant=decision.variant,
                        message_class=definition.message_class,
                        reply_token=reply_token,
                        reply_by=at + timedelta(seconds=REPLY_TOKEN_MARGIN_SECONDS),
                    )
                )
            )
        tally: Tally = Counter()
        move = self._move_of(definition, step, enrollment, friend, decision, pending, now)
        moved = self._enrollments.write(move.update)
        self._settle(enrollment, move, moved, tally, now)
        self._add_counts(friend.channel_id, definition.id, tally, shard_by=friend.user_id)
        if moved and decision.held_out:
            campaign = step_campaign(definition.id, step.id)
            self._record_holdout(friend.channel_id, campaign, [friend.user_id], now)

    def _record_holdout(
        self, channel_id: str, campaign: str, user_ids: list[str], now: datetime
    ) -> None:
        if not user_ids:
            return
        if self._holdouts is None:
            raise RuntimeError("this ScenarioEngine was built without a holdout recorder")
        self._holdouts.mark(channel_id, campaign, user_ids, now)
        self._holdouts.count(channel_id, campaign, len(user_ids), shard_by=user_ids[-1])

    def _run_actions(self, actions: list[CrmAction], enrollment: Enrollment, now: datetime) -> None:
        config = self._config(enrollment.channel_id)
        context = EventContext(
            channel_id=enrollment.channel_id,
            user_id=enrollment.user_id,
            webhook_event_id=f"scenario:{enrollment.scenario_id}",
            occurred_at=now,
            reply_token=None,
        )
        # Starting or stopping the scenario that runs the action would fight the move
        # this fire is making: only other scenarios.
        others = [
            action
            for action in actions
            if not (
                isinstance(action, StartScenario | StopScenario)
                and action.scenario == enrollment.scenario_id
            )
        ]
        self._actions().run(context, others, config, messages_allowed=False, cause="step")

    # ================================================================ the sweeper
    def sweep(self) -> FireReport:
        """Fire every bucket overdue by more than ``SWEEP_GRACE`` that is not done."""
        before = minute_of(self._clock() - SWEEP_GRACE)
        report = FireReport("swept")
        parts: list[FireScenarioStep] = []
        for job in self._fires.overdue(before):
            if job.part is not None:
                parts.append(job)  # fired on the job queue, as when its bucket split
                continue
            outcome = self.fire(job)
            report.counts[f"bucket:{outcome.outcome}"] += 1
            report.counts.update(outcome.counts)
        if parts:
            self._steps().send_steps(parts)
            report.counts["bucket:part_queued"] += len(parts)
        return report

    # ================================================================ helpers
    def _finish(self, job: FireScenarioStep, now: datetime) -> None:
        self._fires.mark(job, "done", now)
        self._fires.unregister(job)

    def _ensure_schedule(
        self, channel_id: str, scenario_id: str, version: int, step_id: str, minute: datetime
    ) -> None:
        """One schedule per bucket (deterministic name: a second create is refused by
        Scheduler and ignored), created at most once per execution environment."""
        job = bucket_job(channel_id, scenario_id, version, step_id, minute_of(minute))
        if job.job_id in self._scheduled:
            return
        self._fires.register(job)
        self._planner().schedule(job, minute + DUE_INDEX_SETTLE)
        self._scheduled.add(job.job_id)

    def _add_counts(
        self, channel_id: str, scenario_id: str, tally: Tally, *, shard_by: str
    ) -> None:
        by_step: dict[str, Counter[str]] = {}
        for (step_id, counter), value in tally.items():
            by_step.setdefault(step_id, Counter())[counter] += value
        for step_id, counts in sorted(by_step.items()):
            self._scenarios.count(channel_id, scenario_id, step_id, counts, shard_by=shard_by)

    def _count(self, enrollment: Enrollment, step_id: str | None, counter: str) -> None:
        if step_id is not None:
            self._scenarios.count(
                enrollment.channel_id,
                enrollment.scenario_id,
                step_id,
                {counter: 1},
                shard_by=enrollment.user_id,
            )

    def _definition_of(self, enrollment: Enrollment) -> ScenarioDefinition | None:
        if enrollment.version is None:
            return None
        return self._scenarios.version(
            enrollment.channel_id, enrollment.scenario_id, enrollment.version
        )

    def _active_scenarios(self, channel_id: str) -> list[tuple[ScenarioHead, ScenarioDefinition]]:
        return self._catalog_of(channel_id)[1]

    def _catalog_of(
        self, channel_id: str
    ) -> tuple[bool, list[tuple[ScenarioHead, ScenarioDefinition]]]:
        """Whether the channel has scenarios at all, and its active ones with triggers;
        read at most every 30 s."""
        now = self._clock()
        cached = self._catalog.get(channel_id)
        if cached is not None and now - cached[0] < CATALOG_TTL:
            return cached[1], cached[2]
        heads = self._scenarios.heads(channel_id)
        active = []
        for head in heads:
            if head.status != "active":
                continue
            definition = self._scenarios.version(channel_id, head.scenario_id, head.version)
            if definition is not None and definition.triggers:
                active.append((head, definition))
        self._catalog[channel_id] = (now, bool(heads), active)
        return bool(heads), active

    def _zone(self, channel_id: str) -> Any:
        return self._config(channel_id).delivery_policy.zone


HOLDOUT_REASON = "held out (A/B holdout)"


def bucket_job(
    channel_id: str, scenario_id: str, version: int, step_id: str, minute: str
) -> FireScenarioStep:
    return FireScenarioStep(
        job_id=f"scstep:{channel_id}:{scenario_id}:{version}:{step_id}:{minute}",
        channel_id=channel_id,
        scenario_id=scenario_id,
        version=version,
        step_id=step_id,
        minute=minute,
    )


def _not_enrollable(scenario_id: str, current: ScenarioVersion | None) -> str:
    if current is None:
        return f"not enrolled: no scenario {scenario_id!r}"
    return f"not enrolled: scenario {scenario_id} is {current.head.status}"


def _delivery_key(
    channel_id: str, scenario_id: str, version: int, step_id: str, minute: str
) -> str:
    return f"sc:{channel_id}:{scenario_id}:{version}:{step_id}:{minute}"


def _chunk_prefix(job: FireScenarioStep) -> str:
    """The ledger ids of a fire's chunks: ``<prefix>:<n>``, per part for a split bucket."""
    key = _delivery_key(job.channel_id, job.scenario_id, job.version, job.step_id, job.minute)
    return key if job.part is None else f"{key}:p{job.part.index}"


def _trigger_matches(trigger: Trigger, signal: FriendSignal) -> bool:
    if isinstance(trigger, FollowTrigger) and isinstance(signal, Followed):
        if trigger.inflow_route is None:
            return not signal.route_attribution  # the follow itself, signalled before
        return trigger.inflow_route == signal.inflow_route
    if isinstance(trigger, TagAddedTrigger) and isinstance(signal, TagAdded):
        return trigger.tag in (signal.tag_id, signal.tag_name)
    if isinstance(trigger, FieldSetTrigger) and isinstance(signal, FieldSet):
        return (
            trigger.field == signal.field_key
            and signal.value is not None
            and (trigger.value is None or trigger.value == signal.value)
        )
    if isinstance(trigger, PostbackTrigger) and isinstance(signal, PostbackReceived):
        return trigger.data == signal.data
    if isinstance(trigger, EventTrigger) and isinstance(signal, BehaviourEvent):
        return trigger.matches(signal.name, dict(signal.properties))
    return isinstance(trigger, IdLinkedTrigger) and isinstance(signal, IdLinked)


def _branch_matches(branch: Branch, signal: FriendSignal) -> bool:
    if isinstance(branch, PostbackBranch) and isinstance(signal, PostbackReceived):
        return branch.postback == signal.data
    if isinstance(branch, TagBranch) and isinstance(signal, TagAdded):
        return branch.tag in (signal.tag_id, signal.tag_name)
    return False


def _is_pending(enrollment: Enrollment, pending: Pending) -> bool:
    return (
        enrollment.is_active
        and enrollment.version == pending.version
        and enrollment.step_id == pending.step_id
        and enrollment.due_minute == pending.due_minute
    )


def preferred_hour(friend: Friend | None) -> int | None:
    """The friend's ``preferred_send_hour`` field (0-23), if set."""
    if friend is None:
        return None
    value = friend.fields.get(PREFERRED_HOUR_FIELD)
    if isinstance(value, int | float) and 0 <= int(value) <= 23:
        return int(value)
    return None
