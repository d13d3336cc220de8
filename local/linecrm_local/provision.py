"""Create linecrm's AWS resources from ``linecrm.resources`` on any endpoint (moto).

Used by the local stack (against moto's server) and by unit tests (``mock_aws``), so
local tables, queues, schedule group and secrets are exactly what the CDK stack
defines: both read the same definitions.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from secrets import token_urlsafe
from typing import Any

from linecrm import resources
from linecrm.repositories.channel_registry import ChannelRegistry
from linecrm.resources import Env
from linecrm.shop_login.keys import LoginKeySet

LOCAL_ACCOUNT_ID = "123456789012"


@dataclass(frozen=True)
class ChannelSecret:
    channel_id: str
    channel_secret: str
    channel_access_token: str
    # Events API sources of the channel: source id -> its (current) key.
    event_sources: Mapping[str, str] = field(default_factory=dict)
    # Its LINE Login channel and the account's basic id (inflow routes).
    login_channel_id: str | None = None
    login_channel_secret: str | None = None
    bot_basic_id: str | None = None


@dataclass
class ProvisionedResources:
    region: str
    table_names: dict[str, str] = field(default_factory=dict)  # logical id -> name
    queue_urls: dict[str, str] = field(default_factory=dict)
    queue_arns: dict[str, str] = field(default_factory=dict)
    dlq_urls: dict[str, str] = field(default_factory=dict)
    bucket_names: dict[str, str] = field(default_factory=dict)  # logical id -> name
    schedule_group_name: str = resources.SCHEDULE_GROUP_NAME
    scheduler_role_arn: str = ""
    scheduler_target_arn: str = ""

    def resource_values(self) -> dict[str, str]:
        """The local value of every variable that names a resource (``resources.Env``)."""
        values = {
            resources.TABLE_ENV[logical_id]: name for logical_id, name in self.table_names.items()
        }
        values.update(
            {resources.QUEUE_ENV[logical_id]: url for logical_id, url in self.queue_urls.items()}
        )
        values.update(
            {
                resources.BUCKET_ENV[logical_id]: name
                for logical_id, name in self.bucket_names.items()
            }
        )
        values.update(
            {
                Env.SCHEDULE_GROUP_NAME: self.schedule_group_name,
                Env.SCHEDULER_ROLE_ARN: self.scheduler_role_arn,
                Env.SCHEDULER_TARGET_ARN: self.scheduler_target_arn,
                Env.CHANNEL_SECRET_PREFIX: resources.CHANNEL_SECRET_PREFIX,
                Env.EVENT_SOURCES_SECRET_PREFIX: resources.EVENT_SOURCES_SECRET_PREFIX,
                Env.LOGIN_KEYS_SECRET_NAME: resources.LOGIN_KEYS_SECRET_NAME,
                Env.VISITOR_KEY_SECRET_NAME: resources.VISITOR_KEY_SECRET_NAME,
                Env.SCHEDULE_DEAD_LETTER_ARN: self.queue_arns[
                    resources.SCHEDULE_DEAD_LETTER_QUEUE.logical_id
                ],
            }
        )
        return values

    def function_environment(self, function: resources.FunctionDefinition) -> dict[str, str]:
        """The resource variables ``function`` has (``resources.FUNCTION_ACCESS``), as
        the CDK stack gives them: no others."""
        values = self.resource_values()
        names = resources.function_access(function).environment_names
        return {name: values[name] for name in names if name in values}


def local_function_arn(region: str, function: resources.FunctionDefinition) -> str:
    return (
        f"arn:aws:lambda:{region}:{LOCAL_ACCOUNT_ID}:function:{resources.APP_NAME}-{function.name}"
    )


def provision(
    session: Any,
    channels: list[ChannelSecret],
    *,
    visibility_timeout_override: int | None = None,
) -> ProvisionedResources:
    """Create every table, queue (+DLQ), bucket, the schedule group, its role, the
    channel secrets and the auto-login signing keys (one key, ready to sign)."""
    region = session.region_name or resources.DEFAULT_REGION
    created = ProvisionedResources(region=region)
    dynamodb = session.client("dynamodb", region_name=region)
    for table in resources.TABLES:
        created.table_names[table.logical_id] = _create_table(dynamodb, table)

    sqs = session.client("sqs", region_name=region)
    for queue in resources.QUEUES:
        dlq_url = sqs.create_queue(
            QueueName=queue.local_dlq_name,
            Attributes={"MessageRetentionPeriod": str(queue.dlq_retention_days * 86400)},
        )["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        visibility = visibility_timeout_override or queue.visibility_timeout_seconds
        url = sqs.create_queue(
            QueueName=queue.local_name,
            Attributes={
                "VisibilityTimeout": str(visibility),
                "MessageRetentionPeriod": str(queue.retention_days * 86400),
                "RedrivePolicy": json.dumps(
                    {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": queue.max_receive_count}
                ),
            },
        )["QueueUrl"]
        created.queue_urls[queue.logical_id] = url
        created.queue_arns[queue.logical_id] = sqs.get_queue_attributes(
            QueueUrl=url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        created.dlq_urls[queue.logical_id] = dlq_url

    s3 = session.client("s3", region_name=region)
    for bucket in resources.BUCKETS:
        created.bucket_names[bucket.logical_id] = _create_bucket(s3, bucket, region)

    scheduler = session.client("scheduler", region_name=region)
    scheduler.create_schedule_group(Name=resources.SCHEDULE_GROUP_NAME)
    iam = session.client("iam", region_name=region)
    role = iam.create_role(
        RoleName=f"{resources.APP_NAME}-scheduler-invoke",
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "scheduler.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )
    created.scheduler_role_arn = role["Role"]["Arn"]
    created.scheduler_target_arn = local_function_arn(region, resources.SCHEDULE_TARGET)
    # The recurring schedules the CDK stack creates (the scenario sweeper, the insight
    # fetch): the local scheduler runner fires them every period of its clock.
    for recurring in resources.RECURRING_SCHEDULES:
        scheduler.create_schedule(
            Name=recurring.name,
            GroupName=resources.SCHEDULE_GROUP_NAME,
            ScheduleExpression=recurring.expression,
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={
                "Arn": created.scheduler_target_arn,
                "RoleArn": created.scheduler_role_arn,
                "Input": recurring.input,
                "RetryPolicy": {
                    "MaximumRetryAttempts": resources.SCHEDULE_RETRY_POLICY.max_retry_attempts,
                    "MaximumEventAgeInSeconds": (
                        resources.SCHEDULE_RETRY_POLICY.max_event_age_seconds
                    ),
                },
                "DeadLetterConfig": {
                    "Arn": created.queue_arns[resources.SCHEDULE_DEAD_LETTER_QUEUE.logical_id]
                },
            },
        )

    # Each channel's registry item, as the webhook writes it on AWS (the admin API
    # answers 404 for channels without one).
    registry = ChannelRegistry(
        dynamodb, created.table_names[resources.MAIN_TABLE.logical_id], lambda: datetime.now(UTC)
    )
    for channel in channels:
        registry.register(channel.channel_id)

    secrets = session.client("secretsmanager", region_name=region)
    for channel in channels:
        secrets.create_secret(
            Name=f"{resources.CHANNEL_SECRET_PREFIX}{channel.channel_id}",
            SecretString=json.dumps(
                {
                    "channel_secret": channel.channel_secret,
                    "channel_access_token": channel.channel_access_token,
                    **{
                        name: value
                        for name, value in (
                            ("login_channel_id", channel.login_channel_id),
                            ("login_channel_secret", channel.login_channel_secret),
                            ("bot_basic_id", channel.bot_basic_id),
                        )
                        if value
                    },
                }
            ),
        )
        # The events API's sources of the channel (one secret per channel, as in CDK).
        secrets.create_secret(
            Name=f"{resources.EVENT_SOURCES_SECRET_PREFIX}{channel.channel_id}",
            SecretString=json.dumps(
                {
                    "sources": {
                        source: {"current": key}
                        for source, key in sorted(channel.event_sources.items())
                    }
                }
            ),
        )
    # The CDK stack creates it empty (the first rotation adds a key, docs/deploy.md);
    # locally it starts with one key, so logins work from the first request.
    secrets.create_secret(
        Name=resources.LOGIN_KEYS_SECRET_NAME,
        SecretString=LoginKeySet().rotated(datetime.now(UTC)).document(),
    )
    # The web tag's visitor id key: generated, as the CDK stack does.
    secrets.create_secret(
        Name=resources.VISITOR_KEY_SECRET_NAME,
        SecretString=json.dumps({"current": token_urlsafe(48)}),
    )
    return created


def _create_table(dynamodb: Any, table: resources.TableDefinition) -> str:
    keys = [table.partition_key] + ([table.sort_key] if table.sort_key else [])
    attributes = {key.name: key.type for key in keys}
    for index in table.global_indexes:
        for key in (index.partition_key, index.sort_key):
            if key is not None:
                attributes[key.name] = key.type
    request: dict[str, Any] = {
        "TableName": table.local_name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [
            {"AttributeName": name, "AttributeType": kind} for name, kind in attributes.items()
        ],
        "KeySchema": _key_schema(table.partition_key, table.sort_key),
    }
    if table.global_indexes:
        request["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index.name,
                "KeySchema": _key_schema(index.partition_key, index.sort_key),
                "Projection": _projection(index),
            }
            for index in table.global_indexes
        ]
    dynamodb.create_table(**request)
    if table.ttl_attribute:
        dynamodb.update_time_to_live(
            TableName=table.local_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": table.ttl_attribute},
        )
    return table.local_name


def _projection(index: resources.GlobalIndex) -> dict[str, Any]:
    projection: dict[str, Any] = {"ProjectionType": index.projection}
    if index.non_key_attributes:
        projection["NonKeyAttributes"] = list(index.non_key_attributes)
    return projection


def _create_bucket(s3: Any, bucket: resources.BucketDefinition, region: str) -> str:
    request: dict[str, Any] = {"Bucket": bucket.local_name}
    if region != "us-east-1":  # S3 refuses the default region as a location constraint
        request["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**request)
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket.local_name,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "expire",
                    "Status": "Enabled",
                    "Filter": {"Prefix": ""},
                    "Expiration": {"Days": bucket.expire_after_days},
                }
            ]
        },
    )
    return bucket.local_name


def _key_schema(
    partition: resources.KeyAttribute, sort: resources.KeyAttribute | None
) -> list[dict[str, str]]:
    schema = [{"AttributeName": partition.name, "KeyType": "HASH"}]
    if sort is not None:
        schema.append({"AttributeName": sort.name, "KeyType": "RANGE"})
    return schema
