"""An SQS event source mapping for the local stack (moto's ignores partial failures).

Per queue: receive up to ``batch_size`` messages (waiting up to the batching window to
fill a batch), invoke the consumer with a real SQS Lambda event, then delete what
succeeded under ReportBatchItemFailures semantics. At most ``max_concurrency`` batches
are in flight per queue. Failed messages come back after the queue's visibility
timeout (moto keeps real time), and moto moves a message to the DLQ on the receive
after ``maxReceiveCount`` (its RedrivePolicy), as SQS does.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3

from linecrm.resources import DEFAULT_REGION, QueueDefinition
from linecrm_local.lambda_runtime import LocalFunctions

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PolledQueue:
    definition: QueueDefinition
    url: str
    arn: str


class BatchFailed(Exception):
    """The whole batch failed: nothing is deleted."""


def _attribute_to_lambda(attribute: dict[str, Any]) -> dict[str, Any]:
    """An SQS MessageAttributeValue in the shape Lambda's SQS event uses."""
    converted: dict[str, Any] = {
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": attribute["DataType"],
    }
    if "StringValue" in attribute:
        converted["stringValue"] = attribute["StringValue"]
    if "BinaryValue" in attribute:
        converted["binaryValue"] = base64.b64encode(attribute["BinaryValue"]).decode("ascii")
    return converted


def build_sqs_event(
    messages: list[dict[str, Any]], queue_arn: str, region: str = DEFAULT_REGION
) -> dict[str, Any]:
    records = []
    for message in messages:
        record: dict[str, Any] = {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes", {})),
            "messageAttributes": {
                name: _attribute_to_lambda(value)
                for name, value in message.get("MessageAttributes", {}).items()
            },
            "md5OfBody": message.get("MD5OfBody")
            or hashlib.md5(message["Body"].encode(), usedforsecurity=False).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": region,
        }
        if "MD5OfMessageAttributes" in message:
            record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
        records.append(record)
    return {"Records": records}


def failed_message_ids(result: Any, message_ids: set[str]) -> set[str]:
    """The ids a batch response reports as failed, per Lambda's partial-batch rules.

    None, ``{}`` or an empty/null ``batchItemFailures`` = all succeeded; a non-object
    response or a missing/unknown ``itemIdentifier`` = the whole batch failed.
    """
    if result is None:
        return set()
    if not isinstance(result, dict):
        raise BatchFailed(f"response is not an object: {type(result).__name__}")
    failures = result.get("batchItemFailures")
    if failures is None:
        return set()
    if not isinstance(failures, list):
        raise BatchFailed("batchItemFailures is not a list")
    failed = set()
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not isinstance(identifier, str) or identifier not in message_ids:
            raise BatchFailed(f"invalid batchItemFailures entry {failure!r}")
        failed.add(identifier)
    return failed


class _QueueWorker:
    """Receives from one queue and runs its batches on a bounded pool."""

    def __init__(self, poller: SqsPoller, queue: PolledQueue) -> None:
        self.poller = poller
        self.queue = queue
        limit = queue.definition.max_concurrency
        self.slots = threading.BoundedSemaphore(limit)
        self.pool = ThreadPoolExecutor(
            limit, thread_name_prefix=f"linecrm-{queue.definition.local_name}"
        )
        self.in_flight = 0
        self.peak_in_flight = 0
        self.lock = threading.Lock()
        self.thread: threading.Thread | None = None

    def loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if not self.slots.acquire(timeout=0.1):
                continue
            try:
                messages = self.poller.receive_batch(self.queue, stop)
            except Exception:
                self.slots.release()
                logger.exception("receive from %s failed", self.queue.definition.local_name)
                stop.wait(self.poller.poll_interval_seconds)
                continue
            if not messages:
                self.slots.release()
                stop.wait(self.poller.poll_interval_seconds)
                continue
            self._begin()
            self.pool.submit(self._run, messages)

    def _begin(self) -> None:
        with self.lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def _run(self, messages: list[dict[str, Any]]) -> None:
        try:
            self.poller.process_batch(self.queue, messages)
        except Exception:
            logger.exception("batch on %s could not be processed", self.queue.definition.local_name)
        finally:
            with self.lock:
                self.in_flight -= 1
            self.slots.release()

    def process_now(self, messages: list[dict[str, Any]]) -> None:
        """Run one batch on the calling thread (``poll_once``)."""
        self._begin()
        try:
            self.poller.process_batch(self.queue, messages)
        finally:
            with self.lock:
                self.in_flight -= 1


class SqsPoller:
    def __init__(
        self,
        functions: LocalFunctions,
        queues: list[PolledQueue],
        *,
        poll_interval_seconds: float = 0.05,
        batching_window_seconds: float | None = None,
        region: str = DEFAULT_REGION,
        sqs_client: SQSClient | None = None,
        may_have_messages: Callable[[str], bool] | None = None,
    ) -> None:
        """``batching_window_seconds`` overrides every queue's MaximumBatchingWindow
        (None keeps each definition's; 0 invokes with whatever one receive returns).

        ``may_have_messages(queue_url)``: a cheap look (no request) that says False only
        when the queue surely has nothing to receive. The event source mapping long-polls
        (one request per 20 s on an idle queue); a short-polling loop here would send one
        request per interval per queue through the local endpoint's one-at-a-time lock,
        ahead of the handlers' own calls. None receives every interval."""
        self.functions = functions
        self.may_have_messages = may_have_messages
        self.region = region
        self.poll_interval_seconds = poll_interval_seconds
        self.batching_window_seconds = batching_window_seconds
        self._sqs = sqs_client or boto3.client("sqs")
        self._workers = {q.url: _QueueWorker(self, q) for q in queues}
        self._stop = threading.Event()
        self.batches = 0
        self.whole_batch_failures = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._stop.clear()
        for worker in self._workers.values():
            worker.thread = threading.Thread(
                target=worker.loop,
                args=(self._stop,),
                name=f"linecrm-poll-{worker.queue.definition.local_name}",
                daemon=True,
            )
            worker.thread.start()

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers.values():
            if worker.thread is not None:
                worker.thread.join(timeout=10)
                worker.thread = None
            worker.pool.shutdown(wait=True)

    @property
    def running(self) -> bool:
        return any(w.thread is not None for w in self._workers.values())

    # ------------------------------------------------------------ observation
    def in_flight(self, queue_url: str | None = None) -> int:
        workers = [self._workers[queue_url]] if queue_url else list(self._workers.values())
        return sum(w.in_flight for w in workers)

    def peak_in_flight(self, queue_url: str) -> int:
        return self._workers[queue_url].peak_in_flight

    def pending_messages(self, queue_url: str) -> int:
        """Visible plus in-flight (not visible) messages, by SQS's approximate counts."""
        attributes = self._sqs.get_queue_attributes(
            QueueUrl=queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes.get("ApproximateNumberOfMessages", 0)) + int(
            attributes.get("ApproximateNumberOfMessagesNotVisible", 0)
        )

    def drain(self, timeout: float = 30.0) -> None:
        """Wait until every queue is empty and no batch runs; TimeoutError otherwise.

        Without a running poller thread, it polls on the calling thread.
        """
        deadline = time.monotonic() + timeout
        while True:
            idle = self.in_flight() == 0 and all(
                self.pending_messages(url) == 0 for url in self._workers
            )
            if idle:
                return
            if time.monotonic() > deadline:
                counts = {
                    w.queue.definition.local_name: self.pending_messages(u)
                    for u, w in self._workers.items()
                }
                raise TimeoutError(f"queues not drained after {timeout} s: {counts}")
            if self.running or not self.poll_once():
                time.sleep(self.poll_interval_seconds)

    # ------------------------------------------------------------ work
    def poll_once(self) -> int:
        """Receive and process one batch per queue on this thread; messages handled."""
        handled = 0
        for worker in self._workers.values():
            messages = self.receive_batch(worker.queue, self._stop)
            if messages:
                worker.process_now(messages)
                handled += len(messages)
        return handled

    def receive_batch(self, queue: PolledQueue, stop: threading.Event) -> list[dict[str, Any]]:
        definition = queue.definition
        window = (
            definition.max_batching_window_seconds
            if self.batching_window_seconds is None
            else self.batching_window_seconds
        )
        messages: list[dict[str, Any]] = []
        if self.may_have_messages is not None and not self.may_have_messages(queue.url):
            return messages
        deadline = time.monotonic() + window
        while len(messages) < definition.batch_size:
            received = self._sqs.receive_message(
                QueueUrl=queue.url,
                MaxNumberOfMessages=min(10, definition.batch_size - len(messages)),
                WaitTimeSeconds=0,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            ).get("Messages", [])
            messages.extend(dict(m) for m in received)
            # Like the event source mapping: an empty queue is polled again later, and a
            # started batch waits for more messages until the window closes.
            if not messages or time.monotonic() >= deadline or stop.is_set():
                break
            if not received:
                time.sleep(min(self.poll_interval_seconds, max(0.0, deadline - time.monotonic())))
        return messages

    def process_batch(self, queue: PolledQueue, messages: list[dict[str, Any]]) -> None:
        event = build_sqs_event(messages, queue.arn, self.region)
        ids = {m["MessageId"] for m in messages}
        with self._lock:
            self.batches += 1
        try:
            result = self.functions.invoke(queue.definition.consumer.name, event)
            failed = failed_message_ids(result, ids)
        except Exception as error:
            with self._lock:
                self.whole_batch_failures += 1
            logger.warning(
                "batch of %d on %s failed as a whole (%s): messages return after the "
                "visibility timeout",
                len(messages),
                queue.definition.local_name,
                error,
            )
            return
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            self._sqs.delete_message_batch(
                QueueUrl=queue.url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)
                ],
            )
        if failed:
            logger.info(
                "%d of %d messages on %s failed and will be retried",
                len(failed),
                len(messages),
                queue.definition.local_name,
            )
