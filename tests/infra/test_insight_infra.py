"""The insight fetch in the template: an hourly rate schedule (in our group, with the
retry policy and the failure queue) that invokes the scheduler function, which queues
one step per channel for the jobs function (which may read the channel secrets)."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Template

from linecrm import resources

pytestmark = pytest.mark.infra


def test_the_insight_fetch_runs_hourly_with_a_dead_letter_queue(template: Template) -> None:
    schedules = template.find_resources("AWS::Scheduler::Schedule")
    (fetch,) = [s for s in schedules.values() if s["Properties"]["Name"] == "insight-fetch"]
    properties = fetch["Properties"]
    assert properties["ScheduleExpression"] == "rate(1 hour)"
    assert properties["GroupName"] == resources.SCHEDULE_GROUP_NAME
    target = properties["Target"]
    assert json.loads(target["Input"]) == {"kind": "fetch_insight"}
    assert "scheduler" in json.dumps(target["Arn"]).lower()
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == (
        resources.SCHEDULE_RETRY_POLICY.max_retry_attempts
    )
    assert "DeadLetterConfig" in target


def test_the_fetch_is_wired_to_functions_with_the_access_it_needs() -> None:
    scheduler = resources.function_access(resources.SCHEDULER_FUNCTION)
    jobs = resources.function_access(resources.JOBS_FUNCTION)
    assert resources.JOB_QUEUE in scheduler.sends_to  # one step per channel
    assert jobs.reads_channel_secrets  # the jobs function calls LINE's insight API
    assert resources.Env.LINE_API_BASE_URL in jobs.environment_names
