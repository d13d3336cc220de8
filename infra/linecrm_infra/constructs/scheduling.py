"""The EventBridge Scheduler group for one-time step schedules, and the role the
schedules run as (it may only invoke the scheduler function)."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from linecrm import resources

SCHEDULER_SERVICE_PRINCIPAL = "scheduler.amazonaws.com"
# What a function that plans steps may do to schedules, and nothing more.
SCHEDULE_MANAGEMENT_ACTIONS = (
    "scheduler:CreateSchedule",
    "scheduler:DeleteSchedule",
    "scheduler:GetSchedule",
)


class Scheduling(Construct):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self.group = scheduler.CfnScheduleGroup(
            self, "ScheduleGroup", name=resources.SCHEDULE_GROUP_NAME
        )
        self.schedule_arn_pattern = stack.format_arn(
            service="scheduler",
            resource="schedule",
            resource_name=f"{resources.SCHEDULE_GROUP_NAME}/*",
        )
        # How cdk-nag prints that pattern in a finding id (tokens as <Pseudo::Param>).
        self.schedule_arn_pattern_for_nag = (
            "arn:<AWS::Partition>:scheduler:<AWS::Region>:<AWS::AccountId>:"
            f"schedule/{resources.SCHEDULE_GROUP_NAME}/*"
        )
        self.target_role = iam.Role(
            self,
            "TargetRole",
            description="Assumed by EventBridge Scheduler to invoke the scheduler function",
            # Confused-deputy guard: only schedules of this account may assume it.
            assumed_by=iam.ServicePrincipal(
                SCHEDULER_SERVICE_PRINCIPAL,
                conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
            ),
        )

    def allow_schedules_to_invoke(self, target: lambda_.IFunction) -> None:
        self.target_role.add_to_policy(
            iam.PolicyStatement(actions=["lambda:InvokeFunction"], resources=[target.function_arn])
        )

    def allow_schedules_to_dead_letter(self, dead_letter_queue: sqs.IQueue) -> None:
        """Scheduler sends a fire it could not hand to Lambda there, as the target role
        (SendMessage only: SQS-managed encryption needs no KMS grant)."""
        self.target_role.add_to_policy(
            iam.PolicyStatement(
                actions=["sqs:SendMessage"], resources=[dead_letter_queue.queue_arn]
            )
        )

    def add_recurring(
        self,
        schedule: resources.RecurringSchedule,
        target: lambda_.IFunction,
        dead_letter_queue: sqs.IQueue,
    ) -> scheduler.CfnSchedule:
        """A rate() schedule (e.g. the scenario sweeper) with the same retry policy and
        dead-letter queue as the one-time schedules."""
        recurring = scheduler.CfnSchedule(
            self,
            schedule.name,
            name=schedule.name,
            group_name=resources.SCHEDULE_GROUP_NAME,
            schedule_expression=schedule.expression,
            flexible_time_window=scheduler.CfnSchedule.FlexibleTimeWindowProperty(mode="OFF"),
            target=scheduler.CfnSchedule.TargetProperty(
                arn=target.function_arn,
                role_arn=self.target_role.role_arn,
                input=schedule.input,
                retry_policy=scheduler.CfnSchedule.RetryPolicyProperty(
                    maximum_retry_attempts=resources.SCHEDULE_RETRY_POLICY.max_retry_attempts,
                    maximum_event_age_in_seconds=resources.SCHEDULE_RETRY_POLICY.max_event_age_seconds,
                ),
                dead_letter_config=scheduler.CfnSchedule.DeadLetterConfigProperty(
                    arn=dead_letter_queue.queue_arn
                ),
            ),
        )
        recurring.add_dependency(self.group)
        return recurring

    def grant_schedule_management(self, grantee: iam.IGrantable) -> None:
        """Create/get/delete schedules in our group, and hand them the target role."""
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=list(SCHEDULE_MANAGEMENT_ACTIONS), resources=[self.schedule_arn_pattern]
            )
        )
        grantee.grant_principal.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["iam:PassRole"],
                resources=[self.target_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": SCHEDULER_SERVICE_PRINCIPAL}},
            )
        )
