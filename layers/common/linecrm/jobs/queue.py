"""The job queue (SQS): each message is "run the next step of job X"."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

MAX_DELAY_SECONDS = 900  # SQS's limit on a message's delay


class JobStepQueue:
    """Puts "run the next step of job X" on the job queue."""

    def __init__(self, client: SQSClient, queue_url: str) -> None:
        self._client = client
        self._queue_url = queue_url

    def send_step(self, step: BaseModel, delay_seconds: int = 0) -> None:
        """Any job's next step (an import's, a broadcast's, a preview's): the message is
        its JSON."""
        self._client.send_message(
            QueueUrl=self._queue_url,
            MessageBody=step.model_dump_json(),
            DelaySeconds=max(0, min(delay_seconds, MAX_DELAY_SECONDS)),
        )
