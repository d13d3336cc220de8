from __future__ import annotations

import os

import boto3
import pytest

from linecrm import resources
from linecrm_local.serving import PortInUseError
from linecrm_local.stack import LocalStack

pytestmark = pytest.mark.integration

WATCHED = ("AWS_ENDPOINT_URL", resources.Env.TABLE_NAME, resources.Env.LINE_API_BASE_URL)


def test_stop_restores_the_environment_and_is_idempotent() -> None:
    before = {name: os.environ.get(name) for name in WATCHED}
    stack = LocalStack().start()
    assert os.environ["AWS_ENDPOINT_URL"] == stack.moto_url
    # Function settings are the functions' own, not the process's.
    assert os.environ.get(resources.Env.TABLE_NAME) == before[resources.Env.TABLE_NAME]
    webhook = stack.functions.environment(resources.WEBHOOK_FUNCTION.name)
    assert webhook[resources.Env.TABLE_NAME] == resources.MAIN_TABLE.local_name
    stack.stop()
    stack.stop()

    assert {name: os.environ.get(name) for name in WATCHED} == before


def test_a_busy_port_fails_before_touching_the_running_stack() -> None:
    with LocalStack() as running:
        for ports in (
            {"gateway_port": running.gateway.port},
            {"emulator_port": running.gateway.port},
        ):
            with pytest.raises(PortInUseError):
                LocalStack(**ports).start()
        # moto's state (one per process) was not reset by the failed starts.
        tables = boto3.client("dynamodb").list_tables()["TableNames"]
        assert resources.MAIN_TABLE.local_name in tables
        assert os.environ["AWS_ENDPOINT_URL"] == running.moto_url
