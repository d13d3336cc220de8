"""Cold import of the webhook handler from the bundled layer, with and without bytecode.

Builds the layer as ``make synth`` does (the runtime's Python compiles it), and a copy
without any ``.pyc``. Each figure is the median of fresh runs of the runtime's
interpreter (3.13) with only that layer and the handler's folder on ``sys.path`` and
``PYTHONDONTWRITEBYTECODE`` set (Lambda's ``/opt`` is read-only: nothing compiled at
a cold start is kept) and the environment the CDK stack gives every function
(``resources.PYTHON_ENVIRONMENT``), minus the bare interpreter start-up, in CPU time
(as ``benchmarks/cold_import.py``). Ratios are to ``import linebot.v3.messaging`` from
the compiled layer, in the same run. Goal: the webhook's cold import ≤ 0.15x that with
bytecode.

``AWS_EXECUTION_ENV`` is set as Lambda sets it, so the handler imports with the garbage
collector paused (``linecrm/cold_start.py``); one more figure is the same import with
the collector running (the variable unset), to show what pausing it saves.

The layer is built for this machine's architecture (the deployed one is arm64, whose
native extensions cannot load here); the Python code and its bytecode are the same.
boto3 is provided by the Lambda runtime and is not in the layer: if the runtime's
interpreter has none, the handler imports without it (clients are created lazily).
"""

from __future__ import annotations

import os
import platform
import shutil
import statistics
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from benchmarks.cold_import import LAMBDA_EXECUTION_ENV, child_cpu_seconds
from linecrm import resources

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT / "infra"))

from linecrm_infra.bundling import (  # noqa: E402
    LayerBuildSpec,
    RuntimePython,
    build_layer,
    find_runtime_python,
)

BASELINE = "import linebot.v3.messaging"
HANDLER = "import handler"
GOAL = 0.15  # webhook cold import with bytecode, vs the baseline


@dataclass(frozen=True)
class BytecodeFigures:
    python: RuntimePython
    baseline_seconds: float  # import linebot.v3.messaging, compiled layer
    with_bytecode_seconds: float  # the webhook handler, compiled layer
    source_only_seconds: float  # the webhook handler, layer without .pyc
    collector_running_seconds: float  # compiled layer, outside Lambda (no gc pause)

    @property
    def with_bytecode_ratio(self) -> float:
        return self.with_bytecode_seconds / self.baseline_seconds

    @property
    def source_only_ratio(self) -> float:
        return self.source_only_seconds / self.baseline_seconds

    @property
    def within_goal(self) -> bool:
        return self.with_bytecode_ratio <= GOAL


def _time_import(
    python: str, code: str, paths: list[Path], repeats: int, *, on_lambda: bool = True
) -> float:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONDONTWRITEBYTECODE": "1",
        "POWERTOOLS_SERVICE_NAME": "linecrm",
        "AWS_DEFAULT_REGION": "ap-northeast-1",
        # As the CDK stack sets it on every function (without it pydantic reads the
        # entry points of every distribution in the layer at the first model).
        **resources.PYTHON_ENVIRONMENT,
        **(LAMBDA_EXECUTION_ENV if on_lambda else {}),
    }
    setup = f"import sys; sys.path[:0] = {[str(path) for path in paths]!r}; "
    samples = [child_cpu_seconds([python, "-c", setup + code], env, "/") for _ in range(repeats)]
    return statistics.median(samples)


def measure(repeats: int = 7) -> BytecodeFigures | None:
    """None when this machine has no Python of the runtime's version."""
    python = find_runtime_python()
    if python is None:
        return None
    with tempfile.TemporaryDirectory(prefix="linecrm-layer-") as tmp:
        compiled = Path(tmp) / "compiled"
        machine = platform.machine()
        build_layer(
            LayerBuildSpec(platforms=(f"manylinux2014_{machine}", f"manylinux_2_28_{machine}")),
            compiled,
        )
        source = Path(tmp) / "source"
        shutil.copytree(compiled, source, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        webhook = REPO_ROOT / "functions" / "webhook"
        run = python.executable
        startup = _time_import(run, "pass", [], repeats)
        baseline = _time_import(run, BASELINE, [compiled / "python"], repeats) - startup
        with_bytecode = (
            _time_import(run, HANDLER, [webhook, compiled / "python"], repeats) - startup
        )
        source_only = _time_import(run, HANDLER, [webhook, source / "python"], repeats) - startup
        collector_running = (
            _time_import(run, HANDLER, [webhook, compiled / "python"], repeats, on_lambda=False)
            - startup
        )
    return BytecodeFigures(python, baseline, with_bytecode, source_only, collector_running)


def report() -> int:
    """Print the figures; 1 when over the goal (or the runtime's Python is missing)."""
    print("\n== webhook cold import from the bundled layer, vs `import linebot.v3.messaging`")
    figures = measure()
    if figures is None:
        print("  python3.13 not found: the layer is built without bytecode (nothing to compare)")
        return 1
    verdict = "" if figures.within_goal else "  OVER BUDGET"
    print(f"  interpreter {figures.python.executable} ({figures.python.version})")
    print(
        f"  without .pyc  {figures.source_only_ratio:5.2f}x"
        f"  [{figures.source_only_seconds * 1000:6.0f} ms]"
    )
    print(
        f"  with .pyc     {figures.with_bytecode_ratio:5.2f}x"
        f"  [{figures.with_bytecode_seconds * 1000:6.0f} ms]  (budget <= {GOAL:.2f}x){verdict}"
    )
    print(
        f"  pausing the garbage collector saves "
        f"{(figures.collector_running_seconds - figures.with_bytecode_seconds) * 1000:.0f} ms"
        f"  (with it running: {figures.collector_running_seconds / figures.baseline_seconds:.2f}x)"
    )
    print(
        f"  bytecode makes the cold import "
        f"{figures.source_only_seconds / figures.with_bytecode_seconds:.1f}x faster"
        f"  (baseline {figures.baseline_seconds * 1000:.0f} ms)"
    )
    return 0 if figures.within_goal else 1


if __name__ == "__main__":
    sys.exit(report())
