"""The job queue (SQS): each message is "run the next step of job X"."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pydantic import BaseModel

if TYPE_CHECKING:
    from mypy_boto3_sqs.client import SQSClient

MAX_DELAY_SECONDS = 900  # SQS's limit on a message's delay
SEND_BATCH_LIMIT = 10  # SQS's SendMessageBatch limit


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

    def send_steps(self, steps: Sequence[BaseModel]) -> None:
        """Many steps at once (a split bucket's parts): SendMessageBatch, 10 at a time;
        entries SQS did not take are sent again (a duplicate step is harmless: every
        step is idempotent)."""
        for start in range(0, len(steps), SEND_BATCH_LIMIT):
            batch = {str(n): step for n, step in enumerate(steps[start : start + SEND_BATCH_LIMIT])}
            for _ in range(3):
                response = self._client.send_message_batch(
                    QueueUrl=self._queue_url,
                    Entries=[
                        {"Id": entry_id, "MessageBody": step.model_dump_json()}
                        for entry_id, step in batch.items()
                    ],
                )
                batch = {failed["Id"]: batch[failed["Id"]] for failed in response.get("Failed", [])}
                if not batch:
                    break
            if batch:
                raise RuntimeError(f"the job queue refused {len(batch)} steps")
