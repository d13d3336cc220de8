"""A scheduled fire that finally fails is never dropped: the scheduler function's
asynchronous invocations have an on-failure destination, schedules get the same queue
as their dead-letter queue, a consumer marks the delivery dead, and an alarm fires."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk.assertions import Template

from linecrm import resources
from linecrm.resources import Env

pytestmark = pytest.mark.infra


def _resources(template: Template, kind: str) -> dict[str, Any]:
    return dict(template.find_resources(kind))


def _failure_queue_id(template: Template) -> str:
    logical_id = resources.SCHEDULE_FAILURE_QUEUE.logical_id
    (queue_id,) = [
        i
        for i, q in _resources(template, "AWS::SQS::Queue").items()
        if "RedrivePolicy" in q["Properties"]
        and re.fullmatch(f"Delivery{logical_id}[0-9A-F]{{8}}", i)
    ]
    return queue_id


def _function_id(template: Template, definition: resources.FunctionDefinition) -> str:
    (function_id,) = [
        i
        for i, f in _resources(template, "AWS::Lambda::Function").items()
        if f["Properties"].get("Description") == definition.description
    ]
    return function_id


def test_the_scheduler_functions_async_invocations_end_in_the_failure_queue(
    template: Template,
) -> None:
    (config,) = _resources(template, "AWS::Lambda::EventInvokeConfig").values()
    properties = config["Properties"]
    (expected,) = resources.ASYNC_INVOCATIONS
    assert properties["FunctionName"] == {"Ref": _function_id(template, expected.function)}
    assert properties["MaximumRetryAttempts"] == expected.max_retry_attempts == 2
    assert properties["MaximumEventAgeInSeconds"] == expected.max_event_age_seconds
    on_failure = properties["DestinationConfig"]["OnFailure"]["Destination"]
    assert on_failure == {"Fn::GetAtt": [_failure_queue_id(template), "Arn"]}


def test_the_scheduler_function_may_send_to_its_destination(template: Template) -> None:
    role_id = _resources(template, "AWS::Lambda::Function")[
        _function_id(template, resources.SCHEDULER_FUNCTION)
    ]["Properties"]["Role"]["Fn::GetAtt"][0]
    statements = [
        statement
        for policy in _resources(template, "AWS::IAM::Policy").values()
        if {"Ref": role_id} in policy["Properties"]["Roles"]
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]
    failure_arn = {"Fn::GetAtt": [_failure_queue_id(template), "Arn"]}
    assert any(
        "sqs:SendMessage" in json.dumps(s["Action"])
        and failure_arn in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])
        for s in statements
    )


def test_schedule_managers_get_the_dead_letter_arn(template: Template) -> None:
    failure_arn = {"Fn::GetAtt": [_failure_queue_id(template), "Arn"]}
    functions = _resources(template, "AWS::Lambda::Function")
    for definition in resources.FUNCTIONS:
        variables = functions[_function_id(template, definition)]["Properties"]["Environment"][
            "Variables"
        ]
        if resources.function_access(definition).manages_schedules:
            assert variables[Env.SCHEDULE_DEAD_LETTER_ARN] == failure_arn, definition.name
        else:
            assert Env.SCHEDULE_DEAD_LETTER_ARN not in variables, definition.name


def test_the_failure_queue_is_consumed_by_the_schedule_failures_function(
    template: Template,
) -> None:
    mappings = [
        m["Properties"]
        for m in _resources(template, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [_failure_queue_id(template), "Arn"]}
    ]
    (mapping,) = mappings
    assert mapping["FunctionName"] == {
        "Ref": _function_id(template, resources.SCHEDULE_FAILURES_FUNCTION)
    }
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_a_dead_scheduled_fire_raises_an_alarm(template: Template) -> None:
    alarms = [
        a["Properties"]
        for a in _resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == resources.SCHEDULED_FIRES_DEAD_METRIC
    ]
    (alarm,) = alarms
    assert alarm["Namespace"] == resources.METRICS_NAMESPACE
    assert alarm["Threshold"] == 0
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert "re-drive" in alarm["AlarmDescription"]
