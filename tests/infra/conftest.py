"""Synthesizes the CDK app for the infra tests (asset bundling skipped: no pip, no Docker)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

INFRA_DIR = Path(__file__).resolve().parents[2] / "infra"
if str(INFRA_DIR) not in sys.path:
    sys.path.insert(0, str(INFRA_DIR))

from aws_cdk.assertions import Template  # noqa: E402

from linecrm_infra import constants  # noqa: E402
from linecrm_infra.stack import LinecrmStack, build_app  # noqa: E402

SKIP_BUNDLING = {"aws:cdk:bundling-stacks": []}


def build_stack(context: Mapping[str, Any] | None = None, *, nag: bool = False) -> LinecrmStack:
    app = build_app({**SKIP_BUNDLING, **(context or {})}, nag=nag)
    stack = app.node.find_child(constants.STACK_ID)
    assert isinstance(stack, LinecrmStack)
    return stack


@pytest.fixture(scope="module")
def stack() -> LinecrmStack:
    return build_stack({"channelIds": "1234567890,demo", "alarmEmail": "ops@example.com"})


@pytest.fixture(scope="module")
def template(stack: LinecrmStack) -> Template:
    return Template.from_stack(stack)
