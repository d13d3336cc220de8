"""A handler's imports run without the garbage collector on Lambda (linecrm/cold_start.py).

The saving itself is measured by ``make bench`` (``benchmarks/layer_bytecode.py``);
these tests hold the behaviour: paused and frozen in a Lambda execution environment,
untouched anywhere else, the collector always back on, and every handler using it.
"""

from __future__ import annotations

import ast
import gc
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from linecrm import cold_start, resources
from linecrm.cold_start import imports_without_collector

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = sorted((ROOT / "functions").glob("*/handler.py"))


@pytest.fixture
def restored_collector() -> Iterator[None]:
    """Whatever a test does to the collector, the next test gets it as it was."""
    was_enabled = gc.isenabled()
    frozen_before = gc.get_freeze_count()
    yield
    if gc.get_freeze_count() > frozen_before:
        gc.unfreeze()  # do not pin this test process's objects for the rest of the run
    if was_enabled:
        gc.enable()
    else:
        gc.disable()


@pytest.fixture
def on_lambda(monkeypatch: pytest.MonkeyPatch, restored_collector: None) -> None:
    monkeypatch.setenv("AWS_EXECUTION_ENV", "AWS_Lambda_python3.13")


def test_on_lambda_the_collector_is_paused_then_the_imports_are_frozen(on_lambda: None) -> None:
    gc.enable()
    frozen_before = gc.get_freeze_count()
    with imports_without_collector():
        assert not gc.isenabled()
        made_inside = [[index] for index in range(1_000)]  # tracked objects, as imports make
    assert gc.isenabled()
    assert gc.get_freeze_count() >= frozen_before + len(made_inside)


def test_off_lambda_nothing_changes(
    monkeypatch: pytest.MonkeyPatch, restored_collector: None
) -> None:
    monkeypatch.delenv("AWS_EXECUTION_ENV", raising=False)
    gc.enable()
    frozen_before = gc.get_freeze_count()
    with imports_without_collector():
        assert gc.isenabled()
        [[index] for index in range(1_000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() == frozen_before


@pytest.mark.parametrize("value", ["", "AWS_ECS_FARGATE", "aws_lambda_python3.13"])
def test_only_lambdas_execution_environment_counts(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("AWS_EXECUTION_ENV", value)
    assert not cold_start.in_lambda_execution_environment()


def test_a_failed_import_still_turns_the_collector_back_on(on_lambda: None) -> None:
    gc.enable()
    with pytest.raises(ModuleNotFoundError), imports_without_collector():
        import linecrm_no_such_module  # type: ignore[import-not-found]  # noqa: F401
    assert gc.isenabled()


def test_a_collector_that_was_off_stays_off(on_lambda: None) -> None:
    gc.disable()
    with imports_without_collector():
        pass
    assert not gc.isenabled()


def _top_level_imports_outside_the_block(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    outside = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            outside.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module not in (
            "__future__",
            "linecrm.cold_start",
        ):
            outside.append(str(node.module))
    return outside


def _uses_the_block(path: Path) -> bool:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return any(
        isinstance(node, ast.With)
        and any(
            isinstance(item.context_expr, ast.Call)
            and isinstance(item.context_expr.func, ast.Name)
            and item.context_expr.func.id == "imports_without_collector"
            for item in node.items
        )
        for node in tree.body
    )


@pytest.mark.parametrize("path", HANDLERS, ids=lambda path: path.parent.name)
def test_every_handler_imports_inside_the_block(path: Path) -> None:
    assert _uses_the_block(path), f"{path.parent.name}: no `with imports_without_collector():`"
    assert _top_level_imports_outside_the_block(path) == [], (
        f"{path.parent.name}: imports outside `with imports_without_collector():`"
    )


CHILD = """
import gc, json, sys
sys.path.insert(0, sys.argv[1])
import handler
print(json.dumps({"enabled": gc.isenabled(), "frozen": gc.get_freeze_count()}))
"""


@pytest.mark.parametrize("path", HANDLERS, ids=lambda path: path.parent.name)
def test_each_handler_cold_starts_on_lambda_with_its_imports_frozen(path: Path) -> None:
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("LINECRM_")},
        **resources.PYTHON_ENVIRONMENT,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "POWERTOOLS_SERVICE_NAME": "linecrm",
        "AWS_DEFAULT_REGION": "ap-northeast-1",
        "PYTHONPATH": os.pathsep.join(str(ROOT / part) for part in ("layers/common", ".")),
    }
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(path.parent)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    state = json.loads(result.stdout.strip().splitlines()[-1])
    assert state["enabled"] is True
    assert state["frozen"] > 10_000  # the handler's modules, classes and tables
