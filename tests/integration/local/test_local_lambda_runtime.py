from __future__ import annotations

import threading
from typing import Any

import pytest

from linecrm import resources
from linecrm_local.lambda_runtime import (
    FunctionLoadError,
    LocalFunctions,
    LocalLambdaContext,
    UnknownFunction,
)

from .conftest import BATCH, FIXTURE_DEFINITIONS, FIXTURE_FUNCTIONS

pytestmark = pytest.mark.integration

ARN_PREFIX = f"arn:aws:lambda:{resources.DEFAULT_REGION}:123456789012:function:"


def test_invokes_a_handler_that_imports_its_sibling_module(functions: LocalFunctions) -> None:
    result = functions.invoke("echo", {"hello": "world"})

    assert result["headers"]["x-echo"] == "yes"  # built by echo/helpers.py
    assert '"hello": "world"' in result["body"]
    assert functions.invocation_count("echo") == 1
    assert functions.invocation_count() == 1


def test_context_describes_the_function(functions: LocalFunctions) -> None:
    import json

    body = json.loads(functions.invoke("echo", {})["body"])

    assert body["context"]["function_name"] == "linecrm-echo"
    assert body["context"]["arn"] == ARN_PREFIX + "linecrm-echo"
    assert 2000 < body["context"]["remaining_ms"] <= 3000  # echo's timeout is 3 s


def test_remaining_time_counts_down_from_the_timeout() -> None:
    context = LocalLambdaContext("linecrm-x", 128, ARN_PREFIX + "linecrm-x", timeout_seconds=1)
    context.started_at -= 0.4

    assert 500 <= context.get_remaining_time_in_millis() <= 600
    context.started_at -= 5
    assert context.get_remaining_time_in_millis() == 0
    assert context.log_group_name == "/aws/lambda/linecrm-x"


def test_resolves_functions_by_name_or_arn(functions: LocalFunctions) -> None:
    arn = functions.arn_of("echo")

    assert arn == ARN_PREFIX + "linecrm-echo"
    assert functions.definition(arn).name == "echo"
    assert functions.definition(arn + ":$LATEST").name == "echo"
    assert functions.definition("linecrm-echo").name == "echo"
    with pytest.raises(UnknownFunction):
        functions.definition("nope")
    with pytest.raises(UnknownFunction):
        functions.invoke(ARN_PREFIX + "linecrm-nope", {})


def test_the_default_registry_knows_every_function_in_resources() -> None:
    functions = LocalFunctions()

    assert set(functions.names) == {f.name for f in resources.FUNCTIONS}
    for definition in resources.FUNCTIONS:
        assert (functions.root / definition.name / "handler.py").is_file() or (
            definition.name == "liff_login"  # written later by the lead
        )


def test_an_exception_is_counted_and_reraised(functions: LocalFunctions) -> None:
    with pytest.raises(RuntimeError, match="boom"):
        functions.invoke("boom", {})

    assert functions.invocation_count("boom") == 1
    assert functions.error_count("boom") == 1


def test_a_missing_handler_is_a_clear_error(functions: LocalFunctions) -> None:
    with pytest.raises(FunctionLoadError, match="no handler"):
        functions.invoke("missing", {})


def test_warm_invocations_reuse_one_environment(functions: LocalFunctions) -> None:
    for _ in range(3):
        functions.invoke("echo", {})

    assert functions.environments_loaded("echo") == 1


def test_concurrent_invocations_get_separate_environments(tmp_path: Any) -> None:
    """Like Lambda, two batches at once never share module globals."""
    functions = LocalFunctions(FIXTURE_FUNCTIONS, FIXTURE_DEFINITIONS)
    barrier = threading.Barrier(2)
    seen: list[int] = []

    def invoke() -> None:
        barrier.wait()
        event = {"Records": [{"messageId": "m", "body": '{"sleep": 0.3}'}]}
        seen.append(len(functions.invoke(BATCH.name, event)["batchItemFailures"]))

    import os

    os.environ["LINECRM_TEST_JOURNAL"] = str(tmp_path / "j.jsonl")
    try:
        threads = [threading.Thread(target=invoke) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        del os.environ["LINECRM_TEST_JOURNAL"]

    assert seen == [0, 0]
    assert functions.environments_loaded("batch") == 2
