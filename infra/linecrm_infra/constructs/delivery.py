"""SQS queues with their dead-letter queues, one per ``resources.QUEUES`` entry."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from linecrm import resources


@dataclass(frozen=True)
class QueuePair:
    definition: resources.QueueDefinition
    queue: sqs.Queue
    dead_letter_queue: sqs.Queue


class DeliveryQueues(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        self.pairs: dict[str, QueuePair] = {
            definition.logical_id: self._pair(definition) for definition in resources.QUEUES
        }

    def pair(self, definition: resources.QueueDefinition) -> QueuePair:
        return self.pairs[definition.logical_id]

    def _pair(self, definition: resources.QueueDefinition) -> QueuePair:
        dead_letter_queue = sqs.Queue(
            self,
            f"{definition.logical_id}Dlq",
            retention_period=Duration.days(definition.dlq_retention_days),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            # Dead letters are undelivered messages someone still has to look at.
            removal_policy=RemovalPolicy.RETAIN,
        )
        queue = sqs.Queue(
            self,
            definition.logical_id,
            visibility_timeout=Duration.seconds(definition.visibility_timeout_seconds),
            retention_period=Duration.days(definition.retention_days),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(
                queue=dead_letter_queue, max_receive_count=definition.max_receive_count
            ),
        )
        return QueuePair(definition, queue, dead_letter_queue)
