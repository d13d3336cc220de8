"""The local stack runs the real handlers on its clock: the Containers they build read it
from ``linecrm.wiring.runtime_clock``, which every local invocation runs inside (no hook
in the handlers, no module global replaced)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from linecrm import resources
from linecrm.config import FUNCTION_ENVIRONMENT, FunctionSettings
from linecrm.config.registry import FUNCTION_SETTINGS
from linecrm.resources import FunctionDefinition
from linecrm.wiring import Container, runtime_clock
from linecrm_local.clock import MovableClock
from linecrm_local.lambda_runtime import LocalFunctions

CLOCKED = FunctionDefinition("clocked", timeout_seconds=3, memory_mb=128, description="clock")
HANDLER = """
import functools

from linecrm.config import FunctionSettings
from linecrm.wiring import Container

container = functools.cache(functools.partial(Container, FunctionSettings))


def lambda_handler(event, context):
    deps = container()
    return {"now": deps.clock().isoformat(), "same_container": deps is container()}
"""
START = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)  # 22:00 in Tokyo


@pytest.fixture
def functions_root(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "clocked"
    folder.mkdir()
    (folder / "handler.py").write_text(HANDLER, encoding="utf-8")
    yield tmp_path
    for name in [n for n in sys.modules if n.startswith("linecrm_fn_clocked")]:
        del sys.modules[name]


def test_handlers_tell_time_by_the_given_clock(functions_root: Path) -> None:
    clock = MovableClock(START)
    functions = LocalFunctions(functions_root, (CLOCKED,), clock=clock.now)

    first = functions.invoke("clocked", {})
    seen = datetime.fromisoformat(first["now"])
    assert seen.tzinfo is not None and seen.utcoffset() == timedelta(0)
    assert START <= seen < START + timedelta(seconds=5)
    assert first["same_container"]  # still one Container per execution environment

    clock.advance(timedelta(hours=11))
    moved = datetime.fromisoformat(functions.invoke("clocked", {})["now"])
    assert START + timedelta(hours=11) <= moved < START + timedelta(hours=11, seconds=5)


def test_without_a_clock_handlers_keep_real_time(functions_root: Path) -> None:
    functions = LocalFunctions(functions_root, (CLOCKED,))
    seen = datetime.fromisoformat(functions.invoke("clocked", {})["now"])
    assert abs(seen - datetime.now(UTC)) < timedelta(seconds=5)


def test_an_unmoved_movable_clock_is_real_time(functions_root: Path) -> None:
    # What `make dev` runs: the stack's MovableClock, never moved.
    functions = LocalFunctions(functions_root, (CLOCKED,), clock=MovableClock().now)
    seen = datetime.fromisoformat(functions.invoke("clocked", {})["now"])
    assert abs(seen - datetime.now(UTC)) < timedelta(seconds=5)


def test_the_runtime_clock_is_the_default_of_containers_built_inside_it() -> None:
    clock = MovableClock(START)
    with runtime_clock(clock.now):
        inside = Container(FunctionSettings())
        explicit = Container(FunctionSettings(), clock=lambda: START - timedelta(days=1))
    outside = Container(FunctionSettings())

    assert START <= inside.clock() < START + timedelta(seconds=5)
    assert explicit.clock() == START - timedelta(days=1)  # an explicit clock wins
    assert abs(outside.clock() - datetime.now(UTC)) < timedelta(seconds=5)


@pytest.mark.parametrize("definition", resources.FUNCTIONS, ids=lambda d: d.name)
def test_every_real_handler_gets_the_clock(definition: FunctionDefinition) -> None:
    clock = MovableClock(START)
    functions = LocalFunctions(clock=clock.now)
    name = f"linecrm_fn_{definition.name}"
    loaded_before = set(sys.modules)
    try:
        functions._load(functions.definition(definition.name))
        module = sys.modules[name]
        model = FUNCTION_SETTINGS[definition.name]
        required = {f.alias: "x" for f in model.model_fields.values() if f.is_required()}
        token = FUNCTION_ENVIRONMENT.set(required)
        try:
            # The handler's own factory, not one the runtime swapped in; every local
            # invocation runs inside functions.runtime().
            with functions.runtime():
                container = module.container()
        finally:
            FUNCTION_ENVIRONMENT.reset(token)
        assert container is module.container()
        assert START <= container.clock() < START + timedelta(seconds=5)
    finally:
        for module_name in set(sys.modules) - loaded_before:
            if module_name.startswith(name):
                del sys.modules[module_name]
