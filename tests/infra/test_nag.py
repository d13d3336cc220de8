"""cdk-nag AwsSolutions checks: synthesis fails on any unacknowledged finding."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aws_cdk import aws_sqs as sqs

from tests.infra.conftest import build_stack, synth_with_nag

pytestmark = pytest.mark.infra


def test_stack_has_no_unacknowledged_findings() -> None:
    assembly = synth_with_nag({"channelIds": "1234567890,demo", "alarmEmail": "ops@example.com"})
    report = json.loads((Path(assembly.directory) / "validation-report.json").read_text())
    assert report["pluginReports"] == []


def test_a_finding_fails_synthesis(monkeypatch: pytest.MonkeyPatch) -> None:
    """Guards the test above: the checks really run on this app."""
    original = build_stack.__globals__["build_app"]

    def app_with_an_unencrypted_queue(*args: object, **kwargs: object) -> object:
        app = original(*args, **kwargs)
        sqs.Queue(app.node.find_child("LinecrmStack"), "NoSslQueue")
        return app

    monkeypatch.setitem(build_stack.__globals__, "build_app", app_with_an_unencrypted_queue)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        synth_with_nag()
