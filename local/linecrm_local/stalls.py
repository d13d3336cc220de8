"""What a stall on a busy machine needs to be read: where every thread is.

The local stack runs all its servers and functions in one process. When a request or
an invocation is still running ``after_seconds`` after it began, ``watch`` logs it
once (WARNING) with how late the watchdog itself woke (late: the machine or the
process was not running Python then, e.g. a paused VM or a thread holding the GIL)
and where every thread of the process is. Nothing else changes: the work goes on
and ends as it would have.

``LINECRM_STALL_LOG=<file>`` appends every report to that file too, for the tests that
pass (pytest prints a failing test's log only).

One daemon thread watches everything (a tick every ``TICK_SECONDS``), so a watch
costs a dict entry, not a thread.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass

logger = logging.getLogger(__name__)

TICK_SECONDS = 0.5
# A file every report is also appended to (e.g. during a whole ``make test``).
LOG_VARIABLE = "LINECRM_STALL_LOG"
# Modules a thread waits for work in: its stack is shown from its first other frame.
_WAITING_IN = ("threading.py", "selectors.py", "socketserver.py", "queue.py", "socket.py")


@dataclass
class _Watched:
    what: str
    started: float
    due: float


_watched: dict[int, _Watched] = {}
_lock = threading.Lock()
_ids = itertools.count()
_watchdog: threading.Thread | None = None


def thread_stacks(limit: int = 12) -> str:
    """Every other thread's name and innermost frames; a waiting thread in one line."""
    names = {thread.ident: thread.name for thread in threading.enumerate()}
    shown = []
    for ident, frame in sys._current_frames().items():
        if ident == threading.get_ident():
            continue  # the one asking
        stack = traceback.extract_stack(frame, limit=limit)
        name = names.get(ident, str(ident))
        if stack and stack[-1].filename.endswith(_WAITING_IN):
            own = [entry for entry in stack if not entry.filename.endswith(_WAITING_IN)]
            where = (own or stack)[-1]
            shown.append(f"- {name}: waits, in {where.name} ({where.filename}:{where.lineno})")
        else:
            shown.append(f"- {name}:\n" + "".join(traceback.format_list(stack)).rstrip())
    return "\n".join(shown)


def _watch_forever() -> None:
    expected = time.monotonic() + TICK_SECONDS
    while True:
        time.sleep(max(0.0, expected - time.monotonic()))
        now = time.monotonic()
        late_by = now - expected
        expected = now + TICK_SECONDS
        with _lock:
            due = [(key, watched) for key, watched in _watched.items() if watched.due <= now]
            for key, _ in due:
                del _watched[key]
        for _, watched in due:
            message = (
                f"{watched.what} still runs after {now - watched.started:.1f} s "
                f"(this watchdog woke {late_by:.1f} s late); threads:\n{thread_stacks()}"
            )
            logger.warning("%s", message)
            if log_path := os.environ.get(LOG_VARIABLE):
                # Also for a test that passes (pytest shows a failing test's log only).
                with open(log_path, "a", encoding="utf-8") as log:
                    log.write(f"{os.getpid()} {time.strftime('%H:%M:%S')} {message}\n\n")


def _start_watchdog() -> None:
    global _watchdog
    if _watchdog is None or not _watchdog.is_alive():
        _watchdog = threading.Thread(target=_watch_forever, name="linecrm-stalls", daemon=True)
        _watchdog.start()


@contextlib.contextmanager
def watch(what: str, after_seconds: float) -> Iterator[None]:
    """Run the block; still running ``after_seconds`` later, it is logged once."""
    key = next(_ids)
    started = time.monotonic()
    with _lock:
        _start_watchdog()
        _watched[key] = _Watched(what, started, started + after_seconds)
    try:
        yield
    finally:
        with _lock:
            _watched.pop(key, None)
