"""A cold start's imports without the cyclic garbage collector.

Importing a handler creates some hundred thousand objects (modules, classes, functions,
pydantic's and Powertools' tables) that all live as long as the execution environment.
CPython's collector runs every 700 allocations and, during an import, scans those
young objects again and again to find almost nothing to free: in the webhook's cold
import (``benchmarks/layer_bytecode.py``) that was 8 % of the instructions and about
15–22 % of the CPU time, and LINE's 2 s webhook limit includes the cold start.

``imports_without_collector()`` wraps a handler's imports. In a Lambda execution
environment (``AWS_EXECUTION_ENV`` is ``AWS_Lambda_…``, one process per environment)
it pauses the collector while they run, then moves every object they made into the
permanent generation (``gc.freeze()``) so no later collection scans them either, and
turns the collector back on. That is the pattern of ``gc.freeze``'s documentation:
the objects are never garbage, so nothing is lost by not collecting them.

Anywhere else it does nothing. The local stack runs every function in one process,
on many threads and over many simulated cold starts: freezing there would pin
whatever garbage the other functions and tests had at that moment.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager

LAMBDA_EXECUTION_ENV_PREFIX = "AWS_Lambda_"  # AWS_EXECUTION_ENV, e.g. AWS_Lambda_python3.13


def in_lambda_execution_environment() -> bool:
    return os.environ.get("AWS_EXECUTION_ENV", "").startswith(LAMBDA_EXECUTION_ENV_PREFIX)


@contextmanager
def imports_without_collector() -> Iterator[None]:
    """Run the body (a handler's imports) with the collector paused, on Lambda only."""
    if not in_lambda_execution_environment():
        yield
        return
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        # Also after a failed import: the runtime reports the init error, and the
        # environment must not be left without a collector.
        gc.freeze()
        if was_enabled:
            gc.enable()
