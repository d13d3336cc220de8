"""cdk-nag AwsSolutions checks: synthesis fails on any unacknowledged finding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import aws_sqs as sqs

from linecrm_infra import constants
from linecrm_infra.stack import build_app
from tests.infra.conftest import SKIP_BUNDLING

pytestmark = pytest.mark.infra


def test_stack_has_no_unacknowledged_findings() -> None:
    app = build_app(
        {**SKIP_BUNDLING, "channelIds": "1234567890,demo", "alarmEmail": "ops@example.com"},
        nag=True,
    )
    assembly = app.synth()  # raises ValidationFailed on a finding
    report = json.loads((Path(assembly.directory) / "validation-report.json").read_text())
    assert report["pluginReports"] == []


def test_a_finding_fails_synthesis() -> None:
    """Guards the test above: the checks really run on this app."""
    app = build_app(SKIP_BUNDLING, nag=True)
    sqs.Queue(app.node.find_child(constants.STACK_ID), "QueueWithoutDlqOrSsl")
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
