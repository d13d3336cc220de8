"""Friend imports in the template: the uploads bucket, the job queue, the jobs function."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from linecrm import resources
from linecrm.resources import Env
from tests.infra.test_stack_template import (
    _as_list,
    _environment,
    _function_statements,
    _of_type,
    _queue_ids,
)

pytestmark = pytest.mark.infra


def _bucket(template: Template) -> tuple[str, dict[str, Any]]:
    """The uploads bucket (the admin console's bucket is tested in test_console_infra)."""
    buckets = _of_type(template, "AWS::S3::Bucket").items()
    ((bucket_id, bucket),) = [(i, b) for i, b in buckets if not i.startswith("ConsoleAssets")]
    return bucket_id, bucket


def test_uploads_bucket_is_private_encrypted_and_expires(template: Template) -> None:
    bucket_id, bucket = _bucket(template)
    properties = bucket["Properties"]
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    (encryption,) = properties["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    (rule,) = properties["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == resources.UPLOADS_BUCKET.expire_after_days
    assert rule["Status"] == "Enabled"
    assert bucket["DeletionPolicy"] == "Retain"
    (policy,) = [
        p
        for p in _of_type(template, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert deny["Effect"] == "Deny"
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_job_queue_dead_letters_after_its_receive_count(template: Template) -> None:
    queue_id, dlq_id = _queue_ids(template, resources.JOB_QUEUE)
    queue = _of_type(template, "AWS::SQS::Queue")[queue_id]["Properties"]
    assert queue["RedrivePolicy"]["maxReceiveCount"] == resources.JOB_QUEUE.max_receive_count
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
    alarms = [a["Properties"] for a in _of_type(template, "AWS::CloudWatch::Alarm").values()]
    assert any(
        {"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}
        in alarm.get("Dimensions", [])
        for alarm in alarms
    )


def _s3_statements(template: Template, definition: resources.FunctionDefinition) -> list[Any]:
    return [
        statement
        for statement in _function_statements(template, definition)
        if any(action.startswith("s3:") for action in _as_list(statement["Action"]))
    ]


def test_only_the_admin_and_jobs_functions_touch_uploads_under_their_prefix(
    template: Template,
) -> None:
    bucket_id, _ = _bucket(template)
    objects = {"Fn::Join": ["", [{"Fn::GetAtt": [bucket_id, "Arn"]}, "/imports/*"]]}
    for definition in resources.FUNCTIONS:
        statements = _s3_statements(template, definition)
        actions = sorted(a for s in statements for a in _as_list(s["Action"]))
        if definition is resources.ADMIN_FUNCTION:
            assert actions == ["s3:GetObject", "s3:ListBucket", "s3:PutObject"]
        elif definition is resources.JOBS_FUNCTION:
            assert actions == ["s3:GetObject", "s3:ListBucket"]
        else:
            assert statements == [], definition.name
            continue
        for statement in statements:
            if statement["Action"] == "s3:ListBucket":
                assert statement["Condition"] == {"StringLike": {"s3:prefix": ["imports/*"]}}
            else:
                assert statement["Resource"] == objects
        environment = _environment(template, definition)
        assert environment[Env.UPLOADS_BUCKET_NAME] == {"Ref": bucket_id}
        assert Env.JOB_QUEUE_URL in environment


def test_the_jobs_function_may_read_channel_secrets_and_queue_its_next_step(
    template: Template,
) -> None:
    queue_id, _ = _queue_ids(template, resources.JOB_QUEUE)
    statements = json.dumps(_function_statements(template, resources.JOBS_FUNCTION))
    assert "secretsmanager:GetSecretValue" in statements
    assert "sqs:SendMessage" in statements and queue_id in statements
