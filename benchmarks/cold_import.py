"""Cold import time of each handler module vs ``import linebot.v3.messaging``.

In this interpreter's environment (the dev venv: its Python and the editable install's
finder). The Lambda layout, the bundled layer compiled by the runtime's Python, is
``benchmarks/layer_bytecode.py``: the webhook's 0.15x goal is measured there.

Each figure is the median of several fresh interpreters, minus the bare interpreter
start-up, so the ratio is import work only. Environment as in Lambda: tracing on,
``AWS_EXECUTION_ENV`` set (so the garbage collector is paused: ``linecrm/cold_start.py``).

Time is the child's CPU time (user + system), not the wall clock: an import is CPU
work, and on a machine shared with other jobs the wall clock measures their load too
(the same import read 0.18x to 0.29x in one afternoon here; its CPU time moves a few
percent).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from linecrm import resources

REPO_ROOT = Path(__file__).resolve().parents[1]
BASELINE = "import linebot.v3.messaging"
TARGETS = {"webhook": 0.25}  # budget ratios (ARCHITECTURE.md); others are reported only
# As Lambda sets it: handlers import with the collector paused (linecrm/cold_start.py).
LAMBDA_EXECUTION_ENV = {"AWS_EXECUTION_ENV": "AWS_Lambda_python3.13"}


@dataclass(frozen=True)
class ImportFigure:
    name: str
    seconds: float
    ratio: float
    budget: float | None

    @property
    def within_budget(self) -> bool:
        return self.budget is None or self.ratio <= self.budget


def child_cpu_seconds(args: list[str], env: dict[str, str], cwd: Path | str) -> float:
    """Run ``args`` to its end; the CPU time (user + system) it took."""
    child = subprocess.Popen(args, env=env, cwd=cwd)
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise subprocess.CalledProcessError(child.returncode, args)
    return usage.ru_utime + usage.ru_stime


def _time_interpreter(code: str, repeats: int) -> float:
    env = {
        **os.environ,
        "POWERTOOLS_SERVICE_NAME": "linecrm",
        "PYTHONDONTWRITEBYTECODE": "0",
        **resources.PYTHON_ENVIRONMENT,  # as the CDK stack sets it on every function
        **LAMBDA_EXECUTION_ENV,
    }
    env.pop("POWERTOOLS_TRACE_DISABLED", None)
    samples = [
        child_cpu_seconds([sys.executable, "-c", code], env, REPO_ROOT) for _ in range(repeats)
    ]
    return statistics.median(samples)


def _handler_import(name: str) -> str:
    folder = REPO_ROOT / "functions" / name
    return f"import sys; sys.path.insert(0, {str(folder)!r}); import handler"


def measure(repeats: int = 5) -> list[ImportFigure]:
    # Warm the bytecode caches once so every run measures imports, not compilation.
    _time_interpreter(BASELINE, 1)
    for function in resources.FUNCTIONS:
        _time_interpreter(_handler_import(function.name), 1)
    startup = _time_interpreter("pass", repeats)
    baseline = _time_interpreter(BASELINE, repeats) - startup
    figures = []
    for function in resources.FUNCTIONS:
        seconds = _time_interpreter(_handler_import(function.name), repeats) - startup
        figures.append(
            ImportFigure(function.name, seconds, seconds / baseline, TARGETS.get(function.name))
        )
    return figures
