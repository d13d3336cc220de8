"""Runs ``functions/<name>/handler.py`` in this process the way Lambda would.

Each loaded copy of a handler module is one "execution environment": an invocation
borrows an idle one or loads a new copy (a cold start). Like Lambda, two concurrent
invocations never share module globals (the sender's BatchProcessor, a handler's
container), while sequential ones reuse them (warm starts).

Each function runs with its own environment (``set_environment``), as on Lambda: its
settings are read from it (``linecrm.config.FUNCTION_ENVIRONMENT``), not from this
process's environment, and ``current_function`` names the function whose code runs.

Each invocation runs on a worker thread and is given the function's timeout: past it,
the caller stops waiting and the invocation fails with ``FunctionTimedOut``, as on
Lambda. That environment is never used again (Lambda resets it); the thread itself
cannot be killed and finishes in the background, its result discarded.

Given a clock, invocations run inside ``linecrm.wiring.runtime_clock``: the Containers
the handlers build tell time by the local stack's clock (the one the scheduler runner
fires by), with no hook in the handlers.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from typing import Any

from linecrm import resources
from linecrm.config import FUNCTION_ENVIRONMENT
from linecrm.resources import FunctionDefinition
from linecrm.wiring import runtime_clock
from linecrm_local import stalls
from linecrm_local.provision import local_function_arn

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_ROOT = REPO_ROOT / "functions"

Handler = Callable[[Any, Any], Any]

current_function: ContextVar[str | None] = ContextVar("linecrm_current_function", default=None)
"""The name of the local function whose handler runs (in this thread), else None."""


class UnknownFunction(LookupError):
    """No local function has that name or ARN."""


class FunctionLoadError(RuntimeError):
    """A function's handler.py is missing or does not define ``lambda_handler``."""


class FunctionTimedOut(RuntimeError):
    """The invocation ran past the function's timeout (Lambda: "Task timed out")."""


@dataclass
class LocalLambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    timeout_seconds: int
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    identity: Any = None
    client_context: Any = None
    started_at: float = field(default_factory=time.monotonic)

    @property
    def log_group_name(self) -> str:
        return f"/aws/lambda/{self.function_name}"

    @property
    def log_stream_name(self) -> str:
        return f"local/[{self.function_version}]{self.aws_request_id.replace('-', '')}"

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self.started_at
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


class LocalFunctions:
    """The registry of local functions: resolve by name or ARN, invoke, count."""

    def __init__(
        self,
        root: Path = FUNCTIONS_ROOT,
        definitions: Iterable[FunctionDefinition] = resources.FUNCTIONS,
        region: str = resources.DEFAULT_REGION,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        """``clock``: what the handlers' containers read as now (aware UTC); None keeps
        their own (real time)."""
        self.root = Path(root)
        self.region = region
        self.clock = clock
        self._definitions = {d.name: d for d in definitions}
        self._idle: dict[str, list[Handler]] = {name: [] for name in self._definitions}
        self._environments: dict[str, dict[str, str]] = {}
        self._loaded: Counter[str] = Counter()
        self._invocations: Counter[str] = Counter()
        self._errors: Counter[str] = Counter()
        self._timeouts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._load_lock = threading.Lock()  # sys.path and sys.modules are process-wide
        # Powertools' HTTP resolvers keep the current event on the router class, which
        # every loaded copy of a handler shares in one process: functions behind HTTP
        # routes run one invocation at a time here (in Lambda each copy has a process).
        self._serial = {route.function.name: threading.Lock() for route in resources.ROUTES}

    # ------------------------------------------------------------ lookup
    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._definitions)

    def set_environment(self, name: str, environment: Mapping[str, str]) -> None:
        """The function's own variables (its settings), read by its next cold start."""
        self._environments[self.definition(name).name] = dict(environment)

    def environment(self, name: str) -> dict[str, str]:
        """The function's own variables (empty: it reads this process's environment)."""
        return dict(self._environments.get(self.definition(name).name, {}))

    def arn_of(self, name: str) -> str:
        return local_function_arn(self.region, self.definition(name))

    def definition(self, name_or_arn: str) -> FunctionDefinition:
        for definition in self._definitions.values():
            if name_or_arn in (definition.name, local_function_arn(self.region, definition)):
                return definition
        # Lambda also accepts a qualified ARN (":$LATEST", an alias) or the bare name.
        unqualified = name_or_arn.split(":function:", 1)[-1].split(":", 1)[0]
        for definition in self._definitions.values():
            if unqualified in (definition.name, f"{resources.APP_NAME}-{definition.name}"):
                return definition
        raise UnknownFunction(f"no local function named {name_or_arn!r}")

    # ------------------------------------------------------------ invocation
    def invoke(self, name_or_arn: str, event: Any) -> Any:
        """Run the function on ``event``; its exception is logged and re-raised.

        Past the function's timeout, ``FunctionTimedOut`` is raised and that execution
        environment is discarded.
        """
        definition = self.definition(name_or_arn)
        handler = self._borrow(definition)
        context = LocalLambdaContext(
            function_name=f"{resources.APP_NAME}-{definition.name}",
            memory_limit_in_mb=definition.memory_mb,
            invoked_function_arn=local_function_arn(self.region, definition),
            timeout_seconds=definition.timeout_seconds,
        )
        with self._lock:
            self._invocations[definition.name] += 1
        serial = self._serial.get(definition.name)
        asked_at = time.monotonic()
        if serial is not None:
            # Released by the worker when the handler returns: a timed-out invocation
            # still running in the background keeps the shared router to itself.
            serial.acquire()
        queued = time.monotonic() - asked_at
        outcome: dict[str, Any] = {}
        finished = threading.Event()

        def run() -> None:
            try:
                with self.runtime():
                    outcome["result"] = handler(event, context)
            except BaseException as error:
                outcome["error"] = error
            finally:
                if serial is not None:
                    serial.release()
                finished.set()

        context.started_at = time.monotonic()
        worker = threading.Thread(
            target=run, name=f"linecrm-fn-{definition.name}-{context.aws_request_id}", daemon=True
        )
        worker.start()
        half = definition.timeout_seconds / 2
        with stalls.watch(f"function {definition.name} (request {context.aws_request_id})", half):
            timed_out = not finished.wait(definition.timeout_seconds)
        ran = time.monotonic() - context.started_at
        if ran + queued > half:
            # What a failure on a busy machine needs to be read: where the time went.
            logger.warning(
                "function %s took %.1f s of its %d s timeout, after %.1f s waiting for "
                "the one-at-a-time HTTP router (request %s)",
                definition.name,
                ran,
                definition.timeout_seconds,
                queued,
                context.aws_request_id,
            )
        if timed_out:
            with self._lock:
                self._errors[definition.name] += 1
                self._timeouts[definition.name] += 1
            logger.error(
                "function %s timed out after %d s (request %s); its environment is discarded",
                definition.name,
                definition.timeout_seconds,
                context.aws_request_id,
            )
            raise FunctionTimedOut(f"Task timed out after {definition.timeout_seconds:.2f} seconds")
        with self._lock:
            self._idle[definition.name].append(handler)
        error = outcome.get("error")
        if error is not None:
            with self._lock:
                self._errors[definition.name] += 1
            logger.error(
                "function %s raised (request %s)",
                definition.name,
                context.aws_request_id,
                exc_info=error,
            )
            raise error
        return outcome.get("result")

    @contextlib.contextmanager
    def runtime(self) -> Iterator[None]:
        """What an invocation runs inside: the stack's clock for the Containers it builds."""
        if self.clock is None:
            yield
            return
        with runtime_clock(self.clock):
            yield

    def timeout_count(self, name: str) -> int:
        with self._lock:
            return self._timeouts[self.definition(name).name]

    def invocation_count(self, name: str | None = None) -> int:
        with self._lock:
            if name is None:
                return sum(self._invocations.values())
            return self._invocations[self.definition(name).name]

    def error_count(self, name: str | None = None) -> int:
        with self._lock:
            if name is None:
                return sum(self._errors.values())
            return self._errors[self.definition(name).name]

    def environments_loaded(self, name: str) -> int:
        """How many copies of the handler module were loaded (cold starts)."""
        with self._lock:
            return self._loaded[self.definition(name).name]

    def _borrow(self, definition: FunctionDefinition) -> Handler:
        with self._lock:
            idle = self._idle[definition.name]
            if idle:
                return idle.pop()
        return self._load(definition)

    # ------------------------------------------------------------ loading
    def _load(self, definition: FunctionDefinition) -> Handler:
        folder = self.root / definition.name
        path = folder / "handler.py"
        if not path.is_file():
            raise FunctionLoadError(f"function {definition.name!r} has no handler at {path}")
        with self._load_lock:
            with self._lock:
                self._loaded[definition.name] += 1
                copy = self._loaded[definition.name]
            module_name = f"linecrm_fn_{definition.name}"
            if copy > 1:
                module_name += f"_{copy}"
            module = self._exec_module(module_name, path, folder)
        handler = getattr(module, "lambda_handler", None)
        if not callable(handler):
            raise FunctionLoadError(f"{path} does not define lambda_handler(event, context)")
        logger.debug("loaded %s as %s", path, module_name)
        return self._in_environment(definition.name, handler)

    def _in_environment(self, name: str, handler: Handler) -> Handler:
        """``handler``, run with the function's own environment and name set (in
        whichever thread runs it)."""

        def run(event: Any, context: Any) -> Any:
            environment = FUNCTION_ENVIRONMENT.set(self._environments.get(name))
            function = current_function.set(name)
            try:
                return handler(event, context)
            finally:
                current_function.reset(function)
                FUNCTION_ENVIRONMENT.reset(environment)

        return run

    @staticmethod
    def _exec_module(module_name: str, path: Path, folder: Path) -> ModuleType:
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise FunctionLoadError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        # The function folder is the import root, as /var/task is on Lambda, so sibling
        # modules of handler.py import by their plain names. Those are dropped from
        # sys.modules afterwards: another function may have a sibling of the same name.
        before = set(sys.modules)
        sys.path.insert(0, str(folder))
        sys.modules[module_name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(module_name, None)
            raise
        finally:
            sys.path.remove(str(folder))
            for name in set(sys.modules) - before:
                loaded_from = getattr(sys.modules[name], "__file__", None) or ""
                if name != module_name and loaded_from.startswith(f"{folder}{os.sep}"):
                    del sys.modules[name]
        return module
