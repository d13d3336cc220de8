"""Lambda's asynchronous invocation for the local stack (how Scheduler invokes a function).

``invoke`` is the ``InvocationType=Event`` call: it checks the function and payload,
queues the event and returns at once; it fails only when the function is unknown, the
payload is not JSON, or a test made it refuse (throttling). Queued events then run as
on Lambda: a failed invocation (an exception or a timeout) is retried
``max_retry_attempts`` times after Lambda's delays; an event older than
``max_event_age_seconds`` is not run again; either way the invocation record goes to
the function's on-failure destination (an SQS queue), or is dropped with an error log.

Retry delays are scaled: each is multiplied by ``time_scale`` (1/1000 by default:
Lambda's one- and two-minute retry delays take 60 and 120 ms), so tests stay fast. An
event's age is what it would be on Lambda: the real time it spent queued and running,
plus each retry delay at its full length. So the number of attempts is Lambda's, and a
busy machine (a few seconds queued behind other invocations, or a slow cold start)
does not age an event by hours, which scaling the age limit instead would.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import boto3

from linecrm import resources
from linecrm.resources import AsyncInvocation, FunctionDefinition
from linecrm_local.lambda_runtime import FunctionTimedOut, LocalFunctions, UnknownFunction

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

logger = logging.getLogger(__name__)

DEFAULT_TIME_SCALE = 0.001

Condition = Literal["RetriesExhausted", "EventAgeExceeded"]


class InvokeRefused(Exception):
    """The asynchronous Invoke call itself failed (what Scheduler's retry policy covers)."""

    def __init__(self, code: str, message: str, *, retryable: bool) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.retryable = retryable


@dataclass
class _Event:
    function: FunctionDefinition
    payload: Any
    request_id: str
    queued_at: float  # monotonic
    attempts: int = 0
    # The retry delays not spent here: Lambda's full delay minus its scaled wait.
    unscaled_delays: float = 0.0
    last_error: BaseException | None = None


@dataclass(frozen=True)
class AsyncOutcome:
    """How one asynchronous invocation ended."""

    function: str
    request_id: str
    attempts: int
    succeeded: bool
    condition: Condition | None = None
    sent_to_destination: bool = False


@dataclass
class _Refusals:
    count: int
    code: str = "TooManyRequestsException"
    message: str = "Rate Exceeded."


@dataclass
class AsyncInvoker:
    functions: LocalFunctions
    destinations: Mapping[str, str] = field(default_factory=dict)  # function -> queue URL
    configs: Mapping[str, AsyncInvocation] = field(default_factory=dict)  # overrides
    time_scale: float = DEFAULT_TIME_SCALE
    workers: int = 4
    sqs_client: SQSClient | None = None

    def __post_init__(self) -> None:
        self._sqs = self.sqs_client or boto3.client("sqs")
        self._pending: list[tuple[float, int, _Event]] = []
        self._sequence = itertools.count()
        self._running = 0
        self._condition = threading.Condition()
        self._stop = False
        self._thread: threading.Thread | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._refusals: dict[str, _Refusals] = {}
        self.outcomes: list[AsyncOutcome] = []

    # ------------------------------------------------------------ configuration
    def config(self, function: FunctionDefinition) -> AsyncInvocation:
        return self.configs.get(function.name) or resources.async_invocation(function)

    def refuse_next(
        self,
        name: str,
        count: int,
        *,
        code: str = "TooManyRequestsException",
        message: str = "Rate Exceeded.",
    ) -> None:
        """Fault for tests: the next ``count`` Invoke calls for ``name`` are throttled."""
        with self._condition:
            self._refusals[self.functions.definition(name).name] = _Refusals(count, code, message)

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        with self._condition:
            self._stop = False
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="linecrm-async")
        self._thread = threading.Thread(target=self._dispatch, name="linecrm-async", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._condition:
            self._stop = True
            self._condition.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until no event is queued, waiting for a retry or running."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._pending or self._running:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(
                        f"{len(self._pending)} asynchronous event(s) queued and "
                        f"{self._running} running after {timeout} s"
                    )
                self._condition.wait(min(remaining, 0.05))

    # ------------------------------------------------------------ the Invoke API
    def invoke(self, name_or_arn: str, payload: str | None) -> str:
        """Queue an event for the function; its request id. ``InvokeRefused`` if not."""
        try:
            function = self.functions.definition(name_or_arn)
        except UnknownFunction as unknown:
            raise InvokeRefused(
                "ResourceNotFoundException", str(unknown), retryable=False
            ) from None
        try:
            event = json.loads(payload) if payload else {}
        except ValueError as error:
            raise InvokeRefused(
                "InvalidRequestContentException",
                f"could not parse the payload: {error}",
                retryable=False,
            ) from None
        with self._condition:
            refusals = self._refusals.get(function.name)
            if refusals is not None and refusals.count > 0:
                refusals.count -= 1
                raise InvokeRefused(refusals.code, refusals.message, retryable=True)
            queued = _Event(function, event, str(uuid.uuid4()), time.monotonic())
            self._push(queued, at=queued.queued_at)
        return queued.request_id

    # ------------------------------------------------------------ running events
    def _push(self, event: _Event, *, at: float) -> None:
        heapq.heappush(self._pending, (at, next(self._sequence), event))
        self._condition.notify_all()

    def _dispatch(self) -> None:
        while True:
            with self._condition:
                while not self._stop and (
                    not self._pending or self._pending[0][0] > time.monotonic()
                ):
                    wait = self._pending[0][0] - time.monotonic() if self._pending else None
                    self._condition.wait(wait)
                if self._stop:
                    return
                _, _, event = heapq.heappop(self._pending)
                self._running += 1
            assert self._pool is not None
            self._pool.submit(self._attempt, event)

    def _attempt(self, event: _Event) -> None:
        try:
            self._run(event)
        except Exception:
            logger.exception("asynchronous event %s could not be handled", event.request_id)
        finally:
            with self._condition:
                self._running -= 1
                self._condition.notify_all()

    def _run(self, event: _Event) -> None:
        config = self.config(event.function)
        if self._age(event) > config.max_event_age_seconds:
            self._give_up(event, config, "EventAgeExceeded")
            return
        event.attempts += 1
        try:
            self.functions.invoke(event.function.name, event.payload)
        except Exception as error:
            event.last_error = error
            if event.attempts > config.max_retry_attempts:
                self._give_up(event, config, "RetriesExhausted")
                return
            delays = resources.LAMBDA_ASYNC_RETRY_DELAYS_SECONDS
            full_delay = delays[min(event.attempts, len(delays)) - 1]
            delay = full_delay * self.time_scale
            event.unscaled_delays += full_delay - delay
            with self._condition:
                self._push(event, at=time.monotonic() + delay)
            return
        self._record(AsyncOutcome(event.function.name, event.request_id, event.attempts, True))

    def _age(self, event: _Event) -> float:
        """The event's age on Lambda (seconds): real time here plus full retry delays."""
        return time.monotonic() - event.queued_at + event.unscaled_delays

    def _give_up(self, event: _Event, config: AsyncInvocation, condition: Condition) -> None:
        record = invocation_record(event, self.functions.arn_of(event.function.name), condition)
        url = self.destinations.get(event.function.name) if config.on_failure else None
        sent = False
        if url is None:
            logger.error(
                "asynchronous invocation %s of %s dropped (%s, %d attempt(s)): no on-failure "
                "destination is configured or provisioned",
                event.request_id,
                event.function.name,
                condition,
                event.attempts,
            )
        else:
            self._sqs.send_message(QueueUrl=url, MessageBody=json.dumps(record))
            sent = True
            logger.warning(
                "asynchronous invocation %s of %s failed (%s, %d attempt(s)): sent to %s",
                event.request_id,
                event.function.name,
                condition,
                event.attempts,
                url,
            )
        self._record(
            AsyncOutcome(
                event.function.name, event.request_id, event.attempts, False, condition, sent
            )
        )

    def _record(self, outcome: AsyncOutcome) -> None:
        with self._condition:
            self.outcomes.append(outcome)


def invocation_record(event: _Event, function_arn: str, condition: Condition) -> dict[str, Any]:
    """What Lambda sends to an on-failure destination."""
    record: dict[str, Any] = {
        "version": "1.0",
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "requestContext": {
            "requestId": event.request_id,
            "functionArn": f"{function_arn}:$LATEST",
            "condition": condition,
            "approximateInvokeCount": event.attempts,
        },
        "requestPayload": event.payload,
    }
    if event.last_error is not None:
        error = event.last_error
        timed_out = isinstance(error, FunctionTimedOut)
        record["responseContext"] = {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        }
        record["responsePayload"] = {
            "errorMessage": str(error),
            "errorType": "Sandbox.Timedout" if timed_out else type(error).__name__,
            "stackTrace": [],
        }
    return record
