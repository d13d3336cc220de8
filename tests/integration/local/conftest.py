"""Fixtures for the local stack's parts, tested one at a time with fixture functions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from linecrm.resources import FunctionDefinition
from linecrm_local.aws_local import LocalAws
from linecrm_local.lambda_runtime import LocalFunctions

FIXTURE_FUNCTIONS = Path(__file__).parent / "fixtures" / "functions"

ECHO = FunctionDefinition("echo", timeout_seconds=3, memory_mb=128, description="echo")
BOOM = FunctionDefinition("boom", timeout_seconds=3, memory_mb=128, description="raises")
BATCH = FunctionDefinition("batch", timeout_seconds=5, memory_mb=128, description="sqs")
JOB = FunctionDefinition("job", timeout_seconds=5, memory_mb=128, description="schedule")
MISSING = FunctionDefinition("missing", timeout_seconds=3, memory_mb=128, description="none")
SLOW = FunctionDefinition("slow", timeout_seconds=1, memory_mb=128, description="times out")
FIXTURE_DEFINITIONS = (ECHO, BOOM, BATCH, JOB, MISSING, SLOW)


class Journal:
    """What the fixture functions recorded (a JSONL file they append to)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def entries(self, function: str | None = None) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        entries = [json.loads(line) for line in lines if line.strip()]
        return [e for e in entries if function is None or e["function"] == function]


@pytest.fixture
def journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Journal:
    path = tmp_path / "journal.jsonl"
    monkeypatch.setenv("LINECRM_TEST_JOURNAL", str(path))
    return Journal(path)


@pytest.fixture
def functions() -> LocalFunctions:
    return LocalFunctions(FIXTURE_FUNCTIONS, FIXTURE_DEFINITIONS)


@pytest.fixture(scope="module")
def local_aws() -> Iterator[LocalAws]:
    aws = LocalAws()
    aws.start()
    yield aws
    aws.stop()


@pytest.fixture
def clean_aws(local_aws: LocalAws) -> LocalAws:
    """moto with nothing in it (its state is per process)."""
    local_aws.reset()
    return local_aws
