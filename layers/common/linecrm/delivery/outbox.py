"""Producers hand deliveries to the sender through here: ledger row first, then SQS."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from linecrm.models.send import LineTask, SendRequest
from linecrm.repositories.deliveries import DeliveryLedger

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient


class SendQueueOutbox:
    """Records the delivery as queued, then puts it on the send queue.

    A replay of the same delivery (webhook redelivery after a crash, a schedule that
    fires twice) finds the ledger row; it is queued again only while it is not
    finished, and the sender's retry key makes a second copy on the queue harmless.
    """

    def __init__(
        self,
        ledger: DeliveryLedger,
        sqs: SQSClient,
        queue_url: str,
        clock: Callable[[], datetime],
    ) -> None:
        self._ledger = ledger
        self._sqs = sqs
        self._queue_url = queue_url
        self._clock = clock

    def enqueue(self, request: SendRequest) -> bool:
        """Queue the delivery; False when it had already finished and was not queued."""
        if not self._ledger.record_queued(request, self._clock()):
            existing = self._ledger.get(request.delivery_id)
            if existing is not None and existing.status.is_terminal:
                return False
        self.put_on_queue(request)
        return True

    def put_on_queue(self, request: SendRequest) -> None:
        """Queue a delivery whose ledger row was written already (e.g. in a transaction)."""
        self._put_on_queue(request.model_dump_json(), request.channel_id, request.cause)

    def enqueue_task(self, task: LineTask) -> None:
        """A LINE call that is not a message: no ledger row, repeating it is harmless."""
        self._put_on_queue(task.model_dump_json(), task.channel_id, task.kind)

    def _put_on_queue(self, body: str, channel_id: str, cause: str) -> None:
        self._sqs.send_message(
            QueueUrl=self._queue_url,
            MessageBody=body,
            MessageAttributes={
                "cause": {"DataType": "String", "StringValue": cause},
                "channel_id": {"DataType": "String", "StringValue": channel_id},
            },
        )
