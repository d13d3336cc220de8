"""Alarms: a message in any dead-letter queue, errors of any function, sender throttles,
a channel's monthly LINE message quota used up, a scheduled fire that finally failed.

With the context ``alarmEmail`` they notify an SNS topic subscribed by that address.
"""

from __future__ import annotations

from collections.abc import Iterable

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from linecrm import resources

_PERIOD = Duration.minutes(1)


class Monitoring(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, alarm_email: str | None) -> None:
        super().__init__(scope, construct_id)
        self.topic: sns.Topic | None = None
        if alarm_email:
            self.topic = sns.Topic(self, "AlarmTopic", enforce_ssl=True)
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.alarms: list[cloudwatch.Alarm] = []

    def alarm_on_dead_letters(self, construct_id: str, dead_letter_queue: sqs.IQueue) -> None:
        """Any message in a DLQ is a delivery that needs a human."""
        self._add(
            construct_id,
            dead_letter_queue.metric_approximate_number_of_messages_visible(
                period=_PERIOD, statistic="Maximum"
            ),
            description="Messages were dead-lettered; inspect and redrive them",
        )

    def alarm_on_function_errors(self, functions: Iterable[tuple[str, lambda_.Function]]) -> None:
        for name, function in functions:
            self._add(
                f"{name}Errors",
                function.metric_errors(period=_PERIOD, statistic="Sum"),
                description=f"The {name} function failed (an unhandled error or timeout)",
            )

    def alarm_on_throttles(self, construct_id: str, function: lambda_.Function) -> None:
        self._add(
            construct_id,
            function.metric_throttles(period=_PERIOD, statistic="Sum"),
            description="The function was throttled: account concurrency is exhausted",
        )

    def alarm_on_monthly_quota(self, construct_id: str) -> None:
        """The sender found a channel's monthly quota used up (once per channel and
        month): marketing sends of that channel are skipped until the month ends."""
        self._add(
            construct_id,
            _linecrm_metric(resources.QUOTA_EXHAUSTED_METRIC),
            description="A channel's monthly LINE message quota is used up: marketing "
            "sends are skipped until next month (the log names the channel); raise the "
            "plan or wait",
        )

    def alarm_on_failed_fires(self, construct_id: str) -> None:
        """A scheduled fire failed for good: its delivery is dead in the ledger."""
        self._add(
            construct_id,
            _linecrm_metric(resources.SCHEDULED_FIRES_DEAD_METRIC),
            description="A scheduled fire failed after every retry: its delivery is dead in "
            "the ledger with the reason (linecrm deliveries list --status dead); fix the "
            "cause, then re-drive it (linecrm deliveries redrive)",
        )

    def _add(self, construct_id: str, metric: cloudwatch.Metric, *, description: str) -> None:
        alarm = metric.create_alarm(
            self,
            construct_id,
            alarm_description=description,
            threshold=0,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        if self.topic is not None:
            alarm.add_alarm_action(cloudwatch_actions.SnsAction(self.topic))
        self.alarms.append(alarm)


def _linecrm_metric(metric_name: str) -> cloudwatch.Metric:
    """A count our functions publish (Powertools metrics: the service dimension)."""
    return cloudwatch.Metric(
        namespace=resources.METRICS_NAMESPACE,
        metric_name=metric_name,
        dimensions_map={"service": resources.METRICS_NAMESPACE},
        period=_PERIOD,
        statistic="Sum",
    )
