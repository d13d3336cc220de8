"""Counting AWS API calls per service and operation, through botocore's event hooks.

Budgets like "at most 4 DynamoDB calls per text-message event" are asserted in tests
with this counter, and benchmarks print the same counts. It hooks every client that
boto3 creates while it is active (the default session's and new sessions').
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import botocore.session

_EVENT = "before-call"


class AwsCallCounter:
    """Calls by service and operation; with ``label`` (e.g. the local stack's
    ``current_function.get``), also by whose call it was."""

    def __init__(self, label: Callable[[], str | None] | None = None) -> None:
        self._calls: Counter[tuple[str | None, str, str]] = Counter()
        self._label = label
        self._lock = threading.Lock()

    def _record(self, model: Any) -> None:
        service = model.service_model.service_name
        label = self._label() if self._label is not None else None
        with self._lock:
            self._calls[(label, service, model.name)] += 1

    def count(self, service: str | None = None, operation: str | None = None) -> int:
        with self._lock:
            return sum(
                n
                for (_, svc, op), n in self._calls.items()
                if (service is None or svc == service) and (operation is None or op == operation)
            )

    def by_operation(self, service: str | None = None, *, labelled: bool = False) -> dict[str, int]:
        """Calls per ``service.Operation``; ``labelled``: only those made under a label."""
        totals: Counter[str] = Counter()
        with self._lock:
            for (label, svc, op), n in self._calls.items():
                if (service is None or svc == service) and (label is not None or not labelled):
                    totals[f"{svc}.{op}"] += n
        return dict(sorted(totals.items()))

    def by_label(self) -> dict[str, int]:
        """Calls per label (those made under none are left out)."""
        totals: Counter[str] = Counter()
        with self._lock:
            for (label, _, _), n in self._calls.items():
                if label is not None:
                    totals[label] += n
        return dict(sorted(totals.items()))

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()


_active: list[AwsCallCounter] = []
_install_lock = threading.Lock()


def _dispatch(**kwargs: Any) -> None:
    for counter in list(_active):
        counter._record(kwargs["model"])


_registrars: list[Callable[[botocore.session.Session], None]] = []


def on_every_session(register: Callable[[botocore.session.Session], None]) -> None:
    """Run ``register`` on the default botocore session and every one created from now
    on (once per ``register``): how the local stack's hooks see every client's calls."""
    with _install_lock:
        if register in _registrars:
            return
        if not _registrars:
            original_init = botocore.session.Session.__init__

            def init_with_hooks(self: botocore.session.Session, *args: Any, **kwargs: Any) -> None:
                original_init(self, *args, **kwargs)
                for registrar in list(_registrars):
                    registrar(self)

            botocore.session.Session.__init__ = init_with_hooks  # type: ignore[method-assign]
        _registrars.append(register)
        default = boto3.DEFAULT_SESSION
        if default is not None:
            register(default._session)


def _register(session: botocore.session.Session) -> None:
    session.register(_EVENT, _dispatch)


def _install() -> None:
    """Register our hook on every botocore session created from now on, and the default."""
    on_every_session(_register)


@contextmanager
def count_aws_calls(label: Callable[[], str | None] | None = None) -> Iterator[AwsCallCounter]:
    """Count AWS calls made by clients created from botocore sessions, while active
    (each also under ``label()``, if given)."""
    _install()
    counter = AwsCallCounter(label)
    _active.append(counter)
    try:
        yield counter
    finally:
        _active.remove(counter)


# Hook sessions from the moment this module is imported, so clients created before the
# first count (a warm container's) are counted too.
_install()
