"""Fires EventBridge Scheduler schedules stored in moto (which never fires them).

One-time ``at(...)`` schedules fire once the clock reaches them. As on AWS, a function
target is invoked *asynchronously* (``AsyncInvoker``): Scheduler's part ends once Lambda
has accepted the event, and the function's own failures are Lambda's to retry (twice)
and to send to its on-failure destination. Scheduler's ``Target.RetryPolicy`` covers
handing the event over (a throttled Invoke, an SQS target that fails): retried with
short local delays until ``MaximumRetryAttempts`` or ``MaximumEventAgeInSeconds``
(scaled by ``time_scale``), then dead-lettered to ``Target.DeadLetterConfig`` with
Scheduler's error attributes. An unknown function is not retried.

``rate(N minutes|hours|days)`` schedules (the scenario sweeper) fire every period of
the clock, counted from when the runner first saw the schedule (its StartDate if
later); a clock jump of many periods fires once, not once per period missed (Scheduler
does not catch up either). ``cron()`` schedules are not run locally (a warning says so
once per schedule).
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import boto3

from linecrm import resources
from linecrm_local.async_invoke import DEFAULT_TIME_SCALE, AsyncInvoker, InvokeRefused
from linecrm_local.clock import Clock
from linecrm_local.lambda_runtime import LocalFunctions

if TYPE_CHECKING:
    from mypy_boto3_scheduler.client import EventBridgeSchedulerClient
    from mypy_boto3_sqs.client import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

logger = logging.getLogger(__name__)

_AT = re.compile(r"at\((\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\)")
_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")


class UnsupportedTarget(Exception):
    """The schedule's target is neither a local function nor an SQS queue."""


@dataclass(frozen=True)
class Firing:
    """One schedule fired: which, when (by the clock), and how handing it over ended.

    ``succeeded``: the target accepted the event (for a function: Lambda queued it,
    ``request_id``); whether the function then succeeds is the AsyncInvoker's outcome.
    """

    group: str
    name: str
    target_arn: str
    fired_at: datetime
    attempts: int
    succeeded: bool
    dead_lettered: bool
    request_id: str | None = None
    error: str | None = None


def parse_at_expression(expression: str, timezone: str | None) -> datetime | None:
    """The UTC moment of an ``at(yyyy-mm-ddThh:mm:ss)`` expression; None if not at()."""
    found = _AT.fullmatch(expression.strip())
    if found is None:
        return None
    try:
        zone = ZoneInfo(timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        logger.warning("unknown ScheduleExpressionTimezone %r, using UTC", timezone)
        zone = ZoneInfo("UTC")
    local = datetime.fromisoformat(found.group(1)).replace(tzinfo=zone)
    return local.astimezone(UTC)


def parse_rate_expression(expression: str) -> timedelta | None:
    """The period of a ``rate(5 minutes)`` expression; None if not rate()."""
    found = _RATE.fullmatch(expression.strip())
    if found is None:
        return None
    value, unit = int(found.group(1)), found.group(2).rstrip("s")
    if value < 1 or (value == 1) != (found.group(2) == unit):
        return None  # Scheduler wants "1 minute" and "5 minutes"
    return timedelta(**{f"{unit}s": value})


def _as_utc(value: Any) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromtimestamp(float(value), UTC)


class SchedulerRunner:
    def __init__(
        self,
        functions: LocalFunctions,
        clock: Clock,
        *,
        invoker: AsyncInvoker,
        group_name: str = resources.SCHEDULE_GROUP_NAME,
        tick_seconds: float = 1.0,
        retry_delay_seconds: float = 0.05,
        time_scale: float = DEFAULT_TIME_SCALE,
        scheduler_client: EventBridgeSchedulerClient | None = None,
        sqs_client: SQSClient | None = None,
    ) -> None:
        """``invoker`` runs the function targets (started by its owner);
        ``time_scale`` scales each schedule's MaximumEventAgeInSeconds."""
        self.functions = functions
        self.invoker = invoker
        self.time_scale = time_scale
        self.clock = clock
        self.group_name = group_name
        self.tick_seconds = tick_seconds
        self.retry_delay_seconds = retry_delay_seconds
        # Clients are created here, once the local AWS endpoint is in the environment.
        self._scheduler = scheduler_client or boto3.client("scheduler")
        self._sqs = sqs_client or boto3.client("sqs")
        self.firings: list[Firing] = []
        self._fired_keys: set[tuple[str, str, str, str]] = set()
        self._next_rate_fire: dict[tuple[str, str], datetime] = {}  # rate() schedules
        # name -> (its LastModificationDate, GetSchedule's answer then): a tick reads
        # only new or changed schedules, not every one (a scenario keeps hundreds).
        self._known: dict[str, tuple[str, dict[str, Any]]] = {}
        self._warned: set[str] = set()
        self._run_lock = threading.Lock()  # run_due from a test and the thread never overlap
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="linecrm-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.wait(self.tick_seconds):
            try:
                self.run_due()
            except Exception:
                # moto unreachable during shutdown, a malformed schedule: keep ticking.
                logger.exception("scheduler runner tick failed")

    # ------------------------------------------------------------ firing
    def run_due(self) -> list[Firing]:
        """Fire every schedule that is due by the clock now; returns what fired."""
        with self._run_lock:
            fired = []
            summaries = self._list_schedules()
            listed = {summary["Name"] for summary in summaries}
            for name in set(self._known) - listed:
                del self._known[name]
            for summary in summaries:
                if summary.get("State") == "DISABLED":
                    continue
                modified = str(summary.get("LastModificationDate"))
                firing = self._fire_if_due(summary["Name"], modified)
                if firing is not None:
                    fired.append(firing)
            return fired

    def _list_schedules(self) -> list[dict[str, Any]]:
        summaries: list[dict[str, Any]] = []
        paginator = self._scheduler.get_paginator("list_schedules")
        for page in paginator.paginate(GroupName=self.group_name):
            summaries.extend(dict(s) for s in page["Schedules"])
        return summaries

    def _read_schedule(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(self._scheduler.get_schedule(GroupName=self.group_name, Name=name))
        except self._scheduler.exceptions.ResourceNotFoundException:
            return None  # deleted since it was listed

    def _fire_if_due(self, name: str, modified: str) -> Firing | None:
        known = self._known.get(name)
        cached = known is not None and known[0] == modified
        schedule = known[1] if known is not None and cached else self._read_schedule(name)
        if schedule is None:
            self._known.pop(name, None)
            return None
        self._known[name] = (modified, schedule)
        if schedule.get("State") == "DISABLED":
            return None
        expression = schedule["ScheduleExpression"]
        period = parse_rate_expression(expression)
        if period is not None:
            return self._fire_rate_if_due(name, schedule, period)
        due_at = parse_at_expression(expression, schedule.get("ScheduleExpressionTimezone"))
        if due_at is None:
            if name not in self._warned:
                self._warned.add(name)
                logger.warning(
                    "schedule %s/%s uses %r: cron() schedules are not supported "
                    "locally and will not fire",
                    self.group_name,
                    name,
                    expression,
                )
            return None
        now = self.clock.now()
        start, end = _as_utc(schedule.get("StartDate")), _as_utc(schedule.get("EndDate"))
        if now < due_at or (start is not None and now < start) or (end is not None and now > end):
            return None
        # An at() schedule fires once; an update (new expression) makes it fire again.
        key = (self.group_name, name, expression, str(schedule.get("LastModificationDate")))
        if key in self._fired_keys:
            return None
        if cached:
            # Due by what was read earlier: fire what the schedule says now.
            fresh = self._read_schedule(name)
            if fresh is None or str(fresh.get("LastModificationDate")) != modified:
                self._known.pop(name, None)
                return None  # deleted or changed since: the next tick reads it again
        self._fired_keys.add(key)

        firing = self._fire(name, schedule, now)
        if schedule.get("ActionAfterCompletion") == "DELETE":
            # The target may have deleted it itself already.
            with contextlib.suppress(self._scheduler.exceptions.ResourceNotFoundException):
                self._scheduler.delete_schedule(GroupName=self.group_name, Name=name)
        return firing

    def _fire_rate_if_due(
        self, name: str, schedule: dict[str, Any], period: timedelta
    ) -> Firing | None:
        now = self.clock.now()
        start, end = _as_utc(schedule.get("StartDate")), _as_utc(schedule.get("EndDate"))
        if (start is not None and now < start) or (end is not None and now > end):
            return None
        key = (self.group_name, name)
        due = self._next_rate_fire.get(key)
        if due is None or due - now > period:  # first seen, or the clock was set back
            self._next_rate_fire[key] = max(now, start or now) + period
            return None
        if now < due:
            return None
        missed = (now - due) // period  # whole periods skipped by a jump: fired once
        self._next_rate_fire[key] = due + (missed + 1) * period
        return self._fire(name, schedule, now)

    def _fire(self, name: str, schedule: dict[str, Any], now: datetime) -> Firing:
        target: dict[str, Any] = schedule["Target"]
        arn = target["Arn"]
        policy = target.get("RetryPolicy") or {}
        retries = int(policy.get("MaximumRetryAttempts", 185))
        max_age = float(policy.get("MaximumEventAgeInSeconds", 86400)) * self.time_scale
        started = time.monotonic()
        attempts = 0
        request_id: str | None = None
        error: Exception | None = None
        exhausted: str | None = None
        while True:
            attempts += 1
            try:
                request_id = self._deliver(arn, target.get("Input"))
                error = None
                break
            except UnsupportedTarget as unsupported:
                error = unsupported  # retrying cannot help
                break
            except InvokeRefused as refused:
                error = refused
                if not refused.retryable:
                    break
            except Exception as failure:
                error = failure
            if attempts > retries:
                exhausted = "MaximumRetryAttempts"
                break
            if time.monotonic() - started + self.retry_delay_seconds > max_age:
                exhausted = "MaximumEventAgeInSeconds"
                break
            time.sleep(self.retry_delay_seconds)
        dead_lettered = False
        if error is not None:
            dead_lettered = self._dead_letter(schedule, error, attempts, exhausted)
        firing = Firing(
            group=self.group_name,
            name=name,
            target_arn=arn,
            fired_at=now,
            attempts=attempts,
            succeeded=error is None,
            dead_lettered=dead_lettered,
            request_id=request_id,
            error=None if error is None else str(error),
        )
        self.firings.append(firing)
        logger.info(
            "schedule %s/%s fired at %s: %s after %d attempt(s)",
            self.group_name,
            name,
            now.isoformat(),
            "handed over" if error is None else f"failed ({error})",
            attempts,
        )
        return firing

    def _deliver(self, arn: str, payload: str | None) -> str | None:
        """Hand the event to the target; the asynchronous invocation's request id."""
        if arn.startswith("arn:aws:sqs:"):
            queue_name = arn.rsplit(":", 1)[-1]
            queue_url = self._sqs.get_queue_url(QueueName=queue_name)["QueueUrl"]
            self._sqs.send_message(QueueUrl=queue_url, MessageBody=payload or "{}")
            return None
        if not arn.startswith("arn:aws:lambda:"):
            raise UnsupportedTarget(f"target {arn} is not a function or queue")
        return self.invoker.invoke(arn, payload)

    def _dead_letter(
        self, schedule: dict[str, Any], error: Exception, attempts: int, exhausted: str | None
    ) -> bool:
        target = schedule["Target"]
        dlq_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
        if not dlq_arn:
            logger.error(
                "schedule %s failed after %d attempt(s) and has no dead-letter queue: %s",
                schedule["Name"],
                attempts,
                error,
            )
            return False

        def attribute(value: str) -> MessageAttributeValueTypeDef:
            return {"DataType": "String", "StringValue": value[:1000] or "-"}

        code = error.code if isinstance(error, InvokeRefused) else type(error).__name__
        message = error.message if isinstance(error, InvokeRefused) else str(error)
        attributes: dict[str, MessageAttributeValueTypeDef] = {
            "ERROR_CODE": attribute(code),
            "ERROR_MESSAGE": attribute(message),
            "RETRY_ATTEMPTS": {"DataType": "Number", "StringValue": str(attempts - 1)},
            "SCHEDULE_ARN": attribute(schedule["Arn"]),
            "TARGET_ARN": attribute(target["Arn"]),
        }
        if exhausted is not None:
            attributes["EXHAUSTED_RETRY_CONDITION"] = attribute(exhausted)
        try:
            dlq_url = self._sqs.get_queue_url(QueueName=dlq_arn.rsplit(":", 1)[-1])["QueueUrl"]
            self._sqs.send_message(
                QueueUrl=dlq_url,
                MessageBody=target.get("Input") or "{}",
                MessageAttributes=attributes,
            )
        except Exception:
            logger.exception("could not dead-letter schedule %s to %s", schedule["Name"], dlq_arn)
            return False
        return True
