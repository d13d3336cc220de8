"""Step scenarios in the template: the sweeper's rate schedule (in our group, with the
retry policy and the failure queue), and the webhook may create bucket schedules."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Template

from linecrm import resources

pytestmark = pytest.mark.infra


def test_the_scenario_sweeper_runs_on_a_rate_schedule_with_a_dead_letter_queue(
    template: Template,
) -> None:
    schedules = template.find_resources("AWS::Scheduler::Schedule")
    (sweeper,) = [s for s in schedules.values() if s["Properties"]["Name"] == "scenario-sweeper"]
    properties = sweeper["Properties"]
    assert properties["ScheduleExpression"] == "rate(5 minutes)"
    assert properties["GroupName"] == resources.SCHEDULE_GROUP_NAME
    target = properties["Target"]
    assert json.loads(target["Input"]) == {"kind": "sweep_scenarios"}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == (
        resources.SCHEDULE_RETRY_POLICY.max_retry_attempts
    )
    assert "DeadLetterConfig" in target


def test_the_webhook_may_create_schedules_in_our_group_only(template: Template) -> None:
    policies: dict[str, Any] = template.find_resources("AWS::IAM::Policy")
    webhook = [p for i, p in policies.items() if "webhook" in i.lower()]
    statements = [s for p in webhook for s in p["Properties"]["PolicyDocument"]["Statement"]]
    creates = [s for s in statements if "scheduler:CreateSchedule" in str(s["Action"])]
    assert creates and all("linecrm/*" in json.dumps(s["Resource"]) for s in creates)
