"""The sender's limits in the template: the monthly-quota alarm and the send queue's
MaximumConcurrency, which the sender's per-environment pacing divides by."""

from __future__ import annotations

import pytest
from aws_cdk.assertions import Template

from linecrm import resources
from linecrm_infra import constants
from tests.infra.test_stack_template import _of_type

pytestmark = pytest.mark.infra


def test_monthly_quota_exhausted_has_an_alarm_that_emails(template: Template) -> None:
    alarms = [
        alarm["Properties"]
        for alarm in _of_type(template, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == resources.QUOTA_EXHAUSTED_METRIC
    ]
    (topic_id,) = _of_type(template, "AWS::SNS::Topic")
    assert len(alarms) == 1
    (alarm,) = alarms
    # Where Powertools Metrics publish (the functions' environment says the same).
    assert alarm["Namespace"] == constants.POWERTOOLS_ENVIRONMENT["POWERTOOLS_METRICS_NAMESPACE"]
    assert alarm["Dimensions"] == [
        {"Name": "service", "Value": constants.POWERTOOLS_ENVIRONMENT["POWERTOOLS_SERVICE_NAME"]}
    ]
    assert alarm["Statistic"] == "Sum"
    assert alarm["Threshold"] == 0
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["AlarmActions"] == [{"Ref": topic_id}]


def test_send_queue_concurrency_is_what_the_pacer_divides_by(template: Template) -> None:
    mappings = [
        mapping["Properties"]
        for mapping in _of_type(template, "AWS::Lambda::EventSourceMapping").values()
        if mapping["Properties"].get("BatchSize") == resources.SEND_QUEUE.batch_size
        and "SendQueue" in str(mapping["Properties"]["EventSourceArn"])
    ]
    assert [m["ScalingConfig"]["MaximumConcurrency"] for m in mappings] == [
        resources.SEND_QUEUE.max_concurrency
    ]
